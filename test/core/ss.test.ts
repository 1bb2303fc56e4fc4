/**
 * The `ss` table and the `tcplife` log as text: the formats first (timer, tcp_info line,
 * tcplife columns, following iproute2's misc/ss.c and bcc's tcplife), then the table of
 * two live stacks — LISTEN, ESTAB, TIME-WAIT and UDP rows, queues and timers.
 */
import { describe, expect, it } from 'vitest';
import {
  TCPI_OPT_SACK, TCPI_OPT_TIMESTAMPS, TCPI_OPT_WSCALE, formatMsTimer, formatSockets, formatTcpInfo, formatTcpLife,
} from '../../src/core/ss.js';
import { TCP_INFINITE_SSTHRESH, type LifeRecord, type TcpInfo } from '../../src/transport/tcp/info.js';
import { pair, settle, type Pair } from '../tcp/pair.js';

/** Lets the socket layer react, then advances virtual time 1 ms at a time until `done()`. */
async function drive(p: Pair, done: () => boolean, maxMs = 10_000): Promise<void> {
  for (let i = 0; i < maxMs; i++) {
    await settle(p);
    if (done()) return;
    p.advance(1);
  }
  throw new Error(`not done after ${maxMs} virtual ms`);
}

/** A tcp_info with every field zero except those given (ssthresh "infinite", reordering 3: ss's defaults to hide). */
function info(fields: Partial<TcpInfo>): TcpInfo {
  const zero: TcpInfo = {
    state: 1, ca_state: 0, retransmits: 0, probes: 0, backoff: 0, options: 0, snd_wscale: 0, rcv_wscale: 0,
    rto: 0, ato: 0, snd_mss: 0, rcv_mss: 0, unacked: 0, sacked: 0, lost: 0, retrans: 0, last_data_sent: 0,
    last_data_recv: 0, last_ack_recv: 0, rtt: 0, rttvar: 0, snd_ssthresh: TCP_INFINITE_SSTHRESH, snd_cwnd: 0,
    advmss: 0, reordering: 3, rcv_space: 0, total_retrans: 0, bytes_acked: 0, bytes_received: 0, segs_out: 0,
    segs_in: 0, notsent_bytes: 0, min_rtt: 0, data_segs_in: 0, data_segs_out: 0, delivery_rate: 0, bytes_sent: 0,
    bytes_retrans: 0, snd_wnd: 0, rcv_wnd: 0, x_sack_blocks_seen: 0,
  };
  return { ...zero, ...fields };
}

describe('formats', () => {
  it('prints timer times as ss does: ms, then seconds, then minutes, dropping the small parts', () => {
    const cases: [number, string][] = [
      [200, '200ms'], [1_000, '1sec'], [1_500, '1.500ms'], [9_999, '9.999ms'], [10_500, '10sec'],
      [59_500, '59sec'], [60_000, '1min'], [125_000, '2min5sec'], [601_000, '10min'], [0, ''],
    ];
    expect(cases.map(([ms]) => formatMsTimer(ms))).toEqual(cases.map(([, text]) => text));
  });

  it('prints tcp_info in ss -i order and units, leaving out zeros and defaults', () => {
    const i = info({
      options: TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE, snd_wscale: 7, rcv_wscale: 3,
      rto: 204_000, rtt: 3_500, rttvar: 1_750, ato: 40_000, snd_mss: 1448, rcv_mss: 536, advmss: 1460,
      snd_cwnd: 10, snd_ssthresh: 7, bytes_sent: 3000, bytes_retrans: 1448, bytes_acked: 2999,
      bytes_received: 10, segs_out: 5, segs_in: 4, data_segs_out: 3, data_segs_in: 1, last_data_sent: 12,
      delivery_rate: 125_000, unacked: 1, retrans: 1, total_retrans: 2, lost: 1, rcv_space: 65536, min_rtt: 3_000,
      snd_wnd: 65535, rcv_wnd: 64000,
    });
    expect(formatTcpInfo(i, 'cubic')).toBe(
      ' ts sack cubic wscale:7,3 rto:204 rtt:3.5/1.75 ato:40 mss:1448 rcvmss:536 advmss:1460 cwnd:10 ssthresh:7' +
      ' bytes_sent:3000 bytes_retrans:1448 bytes_acked:2999 bytes_received:10 segs_out:5 segs_in:4' +
      ' data_segs_out:3 data_segs_in:1 send 33097143bps lastsnd:12 delivery_rate 1000000bps unacked:1' +
      ' retrans:1/2 lost:1 rcv_space:65536 minrtt:3 snd_wnd:65535 rcv_wnd:64000',
    );
    // Without -n the rates get units; a 3 s RTO (old kernels' initial one) is not shown.
    expect(formatTcpInfo(info({ rtt: 3_500, snd_cwnd: 10, snd_mss: 1448, rto: 3_000_000 }), 'reno', false))
      .toBe(' reno rtt:3.5/0 mss:1448 cwnd:10 send 33.1Mbps');
  });

  it('prints the tcplife log in its columns: kilobytes each way and milliseconds', () => {
    const r: LifeRecord = {
      localAddress: '192.168.69.1', localPort: 40000, remoteAddress: '192.168.69.2', remotePort: 80,
      startMs: 5, durationMs: 1234, txBytes: 5_000, rxBytes: 2_100_000, state: 'TIME-WAIT', error: null,
    };
    expect(formatTcpLife([r])).toBe(
      'LADDR           LPORT RADDR           RPORT TX_KB RX_KB MS\n' +
      '192.168.69.1    40000 192.168.69.2    80        4  2050 1234.00\n',
    );
  });
});

describe('the socket table of a live stack', () => {
  it('lists the listener (accept queue, backlog) and the connection, aligned on the colon', async () => {
    const p = pair();
    p.b.tcp.createServer(() => {}).listen(7);
    await settle(p);
    const c = p.a.tcp.connect({ port: 7, host: '192.168.69.2' });
    await drive(p, () => !c.connecting);
    const port = c.localPort!;
    const text = formatSockets(p.b.sockets());
    expect(text).toBe(
      'State  Recv-Q Send-Q Local Address:Port Peer Address:Port\n' +
      'LISTEN 0      511                *:7               *:*\n' +
      `ESTAB  0      0       192.168.69.2:7    192.168.69.1:${port}\n`,
    );
    const lines = text.trimEnd().split('\n');
    const colon = lines[0]!.indexOf(':');
    for (const l of lines) expect(l.indexOf(':')).toBe(colon);
  });

  it('shows unread data in Recv-Q and unacknowledged data in Send-Q, with the retransmission timer', async () => {
    const p = pair({ faults: { delayMs: 5, seed: 2 } });
    p.b.tcp.createServer((s) => s.pause()).listen(7);
    await settle(p);
    const c = p.a.tcp.connect({ port: 7, host: '192.168.69.2' });
    await drive(p, () => !c.connecting);
    c.write(Buffer.alloc(3000));
    await settle(p);
    p.advance(2);
    // In flight for 2 ms: all 3000 bytes wait for their ACK, and the RTO (1 s: no sample yet) runs.
    const [row] = p.a.sockets();
    expect(formatSockets([row!], { timers: true }).split('\n')[1]).toMatch(/^ESTAB 0 +3000 .* timer:\(on,998ms,0\)$/);
    await drive(p, () => p.a.sockets()[0]!.sendQ === 0);
    // B has them and nobody reads.
    expect(p.b.sockets().find((r) => r.state === 'ESTAB')!.recvQ).toBe(3000);
    expect(p.a.sockets()[0]!.timer).toBeUndefined();
  });

  it('shows the keepalive timer, then TIME-WAIT with its own after the close', async () => {
    const p = pair();
    p.b.tcp.createServer((s) => s.on('end', () => s.end()).resume()).listen(7);
    await settle(p);
    const c = p.a.tcp.connect({ port: 7, host: '192.168.69.2', keepAlive: true, keepAliveInitialDelay: 7_200_000 });
    c.resume();
    await drive(p, () => !c.connecting);
    p.advance(1_000);
    const timers = (): string => formatSockets(p.a.sockets(), { timers: true }).split('\n')[1]!;
    expect(timers()).toMatch(/^ESTAB .* timer:\(keepalive,119min,0\)$/);
    c.end();
    await drive(p, () => p.a.sockets()[0]?.state === 'TIME-WAIT');
    p.advance(500);
    expect(timers()).toMatch(/^TIME-WAIT 0 +0 +192\.168\.69\.1:\d+ 192\.168\.69\.2:7 +timer:\(timewait,59sec,0\)$/);
  });

  it('lists UDP sockets after TCP with a Netid column, Recv-Q counting what waits unread', async () => {
    const p = pair();
    p.b.tcp.createServer(() => {}).listen(7);
    const u = p.b.udp.createSocket('udp4');
    u.bind(7); // no 'message' listener: datagrams stay queued
    const sender = p.a.udp.createSocket('udp4');
    await settle(p);
    sender.send(Buffer.alloc(100), 7, '192.168.69.2');
    await drive(p, () => p.b.sockets().some((r) => r.netid === 'udp' && r.recvQ > 0));
    const queued = 100 + p.b.config.udp.perDatagramOverhead;
    expect(formatSockets(p.b.sockets())).toBe(
      'Netid State  Recv-Q Send-Q Local Address:Port Peer Address:Port\n' +
      'tcp   LISTEN 0      511                *:7               *:*\n' +
      `udp   UNCONN ${String(queued).padEnd(6)} 0            0.0.0.0:7         0.0.0.0:*\n`,
    );
  });

  it('prints each connection\'s tcp_info under it with -i', async () => {
    const p = pair({ faults: { delayMs: 5, seed: 2 } });
    p.b.tcp.createServer((s) => s.resume()).listen(7);
    await settle(p);
    const c = p.a.tcp.connect({ port: 7, host: '192.168.69.2' });
    c.on('connect', () => c.write(Buffer.alloc(20_000)));
    await drive(p, () => p.a.sockets()[0]?.info?.bytes_acked === 20_000);
    const lines = formatSockets(p.a.sockets(), { info: true }).split('\n');
    expect(lines[1]).toMatch(/^ESTAB /);
    const wscale = p.a.sockets()[0]!.info!.rcv_wscale;
    expect(lines[2]).toMatch(new RegExp(
      `^\\t ts sack cubic wscale:${wscale},${wscale} rto:\\d+ rtt:[\\d.]+/[\\d.]+ ato:40 mss:1448 .*` +
      ' bytes_sent:20000 bytes_acked:20000 segs_out:\\d+ segs_in:\\d+ data_segs_out:\\d+ send \\d+bps' +
      ' .*delivery_rate \\d+bps .*minrtt:10 ',
    ));
  });
});
