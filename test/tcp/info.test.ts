/**
 * tcp_info and the tcplife log, read after real transfers between two stacks on a virtual
 * clock: every count is checked against what the other end saw, against the SNMP counters,
 * or against the TCB it describes (congestion window, RTO), and every time against the
 * link's fixed delay.
 */
import { describe, expect, it } from 'vitest';
import { RttEstimator } from '../../src/transport/tcp/rtt.js';
import { createCongestionControl } from '../../src/transport/tcp/congestion/index.js';
import { LifeLog, TCP_INFINITE_SSTHRESH, TcpCaState, tcpInfo, type TcpInfo } from '../../src/transport/tcp/info.js';
import { Tcb } from '../../src/transport/tcp/tcb.js';
import type { Tcp } from '../../src/transport/tcp/tcp.js';
import type { Stack } from '../../src/stack.js';
import type { TcpSocket } from '../../src/user/net.js';
import { TCPI_OPT_SACK, TCPI_OPT_TIMESTAMPS, TCPI_OPT_WSCALE } from '../../src/core/ss.js';
import { pair, settle, type Pair } from './pair.js';

/** One-way delay of every frame: the virtual RTT is twice this. */
const DELAY_MS = 5;
const RTT_MS = 2 * DELAY_MS;
/** A fresh pair resolves the neighbour first: the first SYN waits one RTT for ARP. */
const ARP_MS = RTT_MS;
const PORT = 5001;

/** The stack's TCP (a private field): to compare tcp_info with the TCB it reads. */
const tcpOf = (s: Stack): Tcp => (s as unknown as { tcpLayer: Tcp }).tcpLayer;

/** Lets the socket layer react, then advances virtual time 1 ms at a time until `done()`. */
async function drive(p: Pair, done: () => boolean, maxMs = 10_000): Promise<void> {
  for (let i = 0; i < maxMs; i++) {
    await settle(p);
    if (done()) return;
    p.advance(1);
  }
  throw new Error(`not done after ${maxMs} virtual ms: A ${JSON.stringify(p.a.tcpConnections())} B ${JSON.stringify(p.b.tcpConnections())}`);
}

function data(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7) & 0xff;
  return b;
}

interface Transfer {
  p: Pair;
  client: TcpSocket;
  server: TcpSocket;
  /** The ends of the client's connection, `address:port`. */
  local: string;
  remote: string;
  /** Virtual time of the connect() call. */
  t0: number;
}

/** A connects to B and sends `size` bytes; B sends `reply` bytes back. Returns once everything is acknowledged. */
async function transfer(size: number, reply: number, faults: { loss?: number; seed?: number } = {}): Promise<Transfer> {
  const p = pair({ faults: { delayMs: DELAY_MS, seed: faults.seed ?? 3, ...(faults.loss !== undefined && { loss: faults.loss }) } });
  let server: TcpSocket | undefined;
  let received = 0;
  p.b.tcp.createServer((s) => {
    server = s;
    s.on('data', (d: Buffer) => {
      received += d.length;
      if (received === size && reply > 0) s.write(data(reply));
    });
  }).listen(PORT);
  await settle(p);
  const t0 = p.clock.now();
  const client = p.a.tcp.connect({ port: PORT, host: '192.168.69.2' });
  let got = 0;
  client.on('data', (d: Buffer) => (got += d.length));
  client.on('connect', () => client.write(data(size)));
  const idle = (s: Stack): boolean => s.sockets().every((r) => r.info === undefined || (r.info.unacked === 0 && r.info.notsent_bytes === 0));
  await drive(p, () => received === size && got === reply && idle(p.a) && idle(p.b));
  const local = `${client.localAddress}:${client.localPort}`;
  return { p, client, server: server!, local, remote: `192.168.69.2:${PORT}`, t0 };
}

function infoOf(t: Transfer, side: 'client' | 'server'): TcpInfo {
  const info = side === 'client' ? t.p.a.tcpInfo(t.local, t.remote) : t.p.b.tcpInfo(t.remote, t.local);
  expect(info).toBeDefined();
  return info!;
}

describe('tcp_info after a transfer', () => {
  it('counts bytes and segments as the other end and the SNMP counters saw them', async () => {
    const t = await transfer(100_000, 3_000);
    const c = infoOf(t, 'client');
    const s = infoOf(t, 'server');

    expect([c.bytes_acked, c.bytes_sent, s.bytes_received]).toEqual([100_000, 100_000, 100_000]);
    expect([s.bytes_acked, s.bytes_sent, c.bytes_received]).toEqual([3_000, 3_000, 3_000]);
    expect([c.bytes_retrans, c.total_retrans, c.retrans, c.lost]).toEqual([0, 0, 0, 0]);
    // Nothing was lost: each end received every segment the other sent, SYNs and pure ACKs included.
    expect(c.segs_out).toBe(s.segs_in);
    expect(s.segs_out).toBe(c.segs_in);
    expect(c.data_segs_out).toBe(s.data_segs_in);
    expect(s.data_segs_out).toBe(c.data_segs_in);
    expect(c.data_segs_out).toBeGreaterThanOrEqual(Math.ceil(100_000 / c.snd_mss));
    expect(s.data_segs_out).toBe(Math.ceil(3_000 / s.snd_mss));
    // The client's is A's only connection, so it accounts for all of A's TCP traffic.
    expect(c.segs_out).toBe(t.p.a.counters().Tcp.OutSegs);
    expect(c.segs_in).toBe(t.p.a.counters().Tcp.InSegs);
    expect([c.unacked, c.sacked, c.notsent_bytes, c.ca_state]).toEqual([0, 0, 0, TcpCaState.OPEN]);
  });

  it('reports the handshake options, MSS and windows both ends agree on', async () => {
    const t = await transfer(20_000, 0);
    const c = infoOf(t, 'client');
    const s = infoOf(t, 'server');
    const tcp = tcpOf(t.p.a);
    expect(c.state).toBe(1); // ESTABLISHED, numbered as Linux's
    expect(c.options).toBe(TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE);
    expect([c.snd_wscale, c.rcv_wscale]).toEqual([s.rcv_wscale, s.snd_wscale]);
    expect(c.rcv_wscale).toBe(tcp.rcvWscale);
    // MTU 1500: we advertise 1460, and send 1448 since timestamps take 12 of it.
    expect([c.advmss, c.snd_mss]).toEqual([1460, 1448]);
    expect(s.rcv_mss).toBe(c.snd_mss);
    // The client's send window is what the server last offered.
    expect(c.snd_wnd).toBe(s.rcv_wnd);
    expect(s.snd_wnd).toBe(c.rcv_wnd);
    expect(c.rcv_space).toBe(t.p.a.config.tcp.rmem);
    expect(c.ato).toBe(t.p.a.config.tcp.delackMs * 1000);
  });

  it('gives cwnd and ssthresh in segments as the congestion control has them, ssthresh infinite before a loss', async () => {
    const t = await transfer(100_000, 0);
    const c = infoOf(t, 'client');
    const tcb = tcpOf(t.p.a).lookup(0xc0a84501, t.client.localPort!, 0xc0a84502, PORT)!;
    expect(c.snd_cwnd).toBe(Math.floor(tcb.cc.cwnd / tcb.mss));
    expect(c.snd_cwnd).toBeGreaterThan(10); // grew from the initial window of 10 segments
    expect(c.snd_ssthresh).toBe(TCP_INFINITE_SSTHRESH);
    expect(c.rto).toBe(Math.round(tcb.rtt.rto * 1000));
  });

  it('measures the RTT within the virtual one (µs, like Linux), and a delivery rate it allows', async () => {
    const t = await transfer(100_000, 0);
    const c = infoOf(t, 'client');
    // Every sample is the link's RTT, plus at most one delayed-ACK timeout.
    expect(c.min_rtt).toBe(RTT_MS * 1000);
    expect(c.rtt).toBeGreaterThanOrEqual(RTT_MS * 1000);
    expect(c.rtt).toBeLessThanOrEqual(RTT_MS * 1000 + c.ato);
    expect(c.rttvar).toBeGreaterThan(0);
    expect(c.rto).toBeGreaterThanOrEqual(200_000); // Linux's TCP_RTO_MIN
    // No interval can deliver more than everything in one RTT.
    expect(c.delivery_rate).toBeGreaterThan(0);
    expect(c.delivery_rate).toBeLessThanOrEqual((100_000 * 1000) / RTT_MS);
  });

  it('ages last_data_sent, last_data_recv and last_ack_recv on the virtual clock', async () => {
    const t = await transfer(10_000, 0);
    const before = infoOf(t, 'client');
    t.p.advance(1_000);
    const after = infoOf(t, 'client');
    expect(after.last_data_sent - before.last_data_sent).toBe(1_000);
    expect(after.last_ack_recv - before.last_ack_recv).toBe(1_000);
    // The client never received data: its age is the connection's.
    expect(after.last_data_recv).toBe(t.p.clock.now() - t.t0);
    // The server's last data arrived one one-way delay after the client's left.
    const s = infoOf(t, 'server');
    expect(s.last_data_recv).toBe(after.last_data_sent - DELAY_MS);
  });

  it('counts retransmissions, SACK blocks and the ssthresh a loss set', async () => {
    const t = await transfer(300_000, 0, { loss: 0.02, seed: 9 });
    const c = infoOf(t, 'client');
    const tcb = tcpOf(t.p.a).lookup(0xc0a84501, t.client.localPort!, 0xc0a84502, PORT)!;
    expect(c.bytes_acked).toBe(300_000);
    expect(c.total_retrans).toBeGreaterThan(0);
    expect(c.total_retrans).toBe(t.p.a.counters().Tcp.RetransSegs);
    expect(c.bytes_sent - c.bytes_retrans).toBe(300_000);
    expect(c.x_sack_blocks_seen).toBeGreaterThan(0);
    expect(c.snd_ssthresh).not.toBe(TCP_INFINITE_SSTHRESH);
    expect(c.snd_ssthresh).toBe(Math.floor(tcb.cc.ssthresh / tcb.mss));
    expect(c.snd_cwnd).toBe(Math.floor(tcb.cc.cwnd / tcb.mss));
  });

  it('shows loss recovery as it happens: Recovery, sacked, lost and retransmitted segments', async () => {
    // Read the sender's tcp_info on every step of a lossy transfer; at some point it is in recovery.
    const p = pair({ faults: { delayMs: DELAY_MS, loss: 0.03, seed: 4 } });
    let received = 0;
    p.b.tcp.createServer((s) => s.on('data', (d: Buffer) => (received += d.length))).listen(PORT);
    await settle(p);
    const client = p.a.tcp.connect({ port: PORT, host: '192.168.69.2' });
    client.on('connect', () => client.write(data(300_000)));
    const seen: TcpInfo[] = [];
    await drive(p, () => {
      const info = p.a.sockets()[0]?.info;
      if (info !== undefined && info.ca_state === TcpCaState.RECOVERY) seen.push(info);
      return received === 300_000;
    });
    expect(seen.length).toBeGreaterThan(0);
    for (const i of seen) {
      // Linux's identity holds: what is in flight is never more than what is outstanding.
      expect(i.sacked + i.lost).toBeLessThanOrEqual(i.unacked);
      expect(i.retrans).toBeLessThanOrEqual(i.unacked);
    }
    expect(seen.some((i) => i.sacked > 0)).toBe(true);
    expect(seen.some((i) => i.lost > 0)).toBe(true);
    expect(seen.some((i) => i.retrans > 0)).toBe(true);
  });
});

describe('the tcplife log', () => {
  it('records each closed connection with its 4-tuple, bytes each way and its duration on the virtual clock', async () => {
    const t = await transfer(50_000, 7_000);
    const { p } = t;
    // B closes when A does; A closes first, so A ends in TIME-WAIT and B in LAST-ACK.
    t.server.on('end', () => t.server.end());
    t.client.end();
    await drive(p, () => p.a.tcpConnections()[0]?.state === 'TIME-WAIT');
    const aClosed = p.clock.now();
    await drive(p, () => p.b.tcpConnections().length === 0);
    const bClosed = p.clock.now();

    const port = t.client.localPort!;
    expect(p.a.tcpLife()).toEqual([{
      localAddress: '192.168.69.1', localPort: port, remoteAddress: '192.168.69.2', remotePort: PORT,
      startMs: t.t0, durationMs: aClosed - t.t0, txBytes: 50_000, rxBytes: 7_000, state: 'TIME-WAIT', error: null,
    }]);
    // B's connection began when A's SYN arrived: after ARP, one delay after it left.
    const synArrived = t.t0 + ARP_MS + DELAY_MS;
    expect(p.b.tcpLife()).toEqual([{
      localAddress: '192.168.69.2', localPort: PORT, remoteAddress: '192.168.69.1', remotePort: port,
      startMs: synArrived, durationMs: bClosed - synArrived, txBytes: 7_000, rxBytes: 50_000,
      state: 'LAST-ACK', error: null,
    }]);
    // TIME-WAIT ending later adds nothing: the connection was logged when it closed.
    p.advance(p.a.config.tcp.timeWaitMs);
    expect(p.a.tcpConnections()).toEqual([]);
    expect(p.a.tcpLife()).toHaveLength(1);
  });

  it('records refused and reset connections with their error', async () => {
    const p = pair({ faults: { delayMs: DELAY_MS, seed: 1 } });
    const refused = p.a.tcp.connect({ port: 9, host: '192.168.69.2' });
    refused.on('error', () => {});
    const t0 = p.clock.now();
    await drive(p, () => p.a.tcpConnections().length === 0);
    expect(p.a.tcpLife()).toMatchObject([{ state: 'SYN-SENT', error: 'ECONNREFUSED', txBytes: 0, rxBytes: 0, durationMs: ARP_MS + RTT_MS, startMs: t0 }]);

    // Destroying with an error aborts (RST), as Node's socket.destroy(err) would.
    p.b.tcp.createServer((s) => s.on('data', () => s.on('error', () => {}).destroy(new Error('abort')))).listen(PORT);
    await settle(p);
    const c = p.a.tcp.connect({ port: PORT, host: '192.168.69.2' });
    c.on('error', () => {});
    c.on('connect', () => c.write('hello'));
    await drive(p, () => p.a.tcpConnections().length === 0 && p.b.tcpConnections().length === 0);
    expect(p.a.tcpLife()[1]).toMatchObject({ state: 'ESTABLISHED', error: 'ECONNRESET', txBytes: 5, rxBytes: 0 });
    expect(p.b.tcpLife()).toMatchObject([{ state: 'ESTABLISHED', error: 'ECONNRESET', txBytes: 0, rxBytes: 5 }]);
  });

  it('keeps only the most recent records, oldest first', () => {
    const log = new LifeLog(3);
    for (let port = 1; port <= 5; port++) {
      const tcb = new Tcb(1, port, 2, 80, {
        rmem: 1000, wmem: 1000, keepaliveIdleMs: 1000, rtt: new RttEstimator(), cc: createCongestionControl('cubic', 1000),
      });
      tcb.createdAt = port * 10;
      log.record(tcb, null, port * 10 + port);
    }
    expect(log.list().map((r) => [r.localPort, r.durationMs])).toEqual([[3, 3], [4, 4], [5, 5]]);
    expect(new LifeLog(0).list()).toEqual([]);
  });

  it('tcpInfo reads a TCB that has not connected yet without dividing by zero', () => {
    const tcb = new Tcb(1, 1, 2, 80, {
      rmem: 1000, wmem: 1000, keepaliveIdleMs: 1000, rtt: new RttEstimator(), cc: createCongestionControl('newreno', 536),
    });
    const info = tcpInfo(tcb, 0);
    expect([info.rtt, info.min_rtt, info.delivery_rate, info.unacked]).toEqual([0, 0, 0, 0]);
    expect(info.snd_cwnd).toBe(10);
  });
});
