/**
 * RFC 9293 §3.10.7.3, SEGMENT ARRIVES in state SYN-SENT, and the active open around it
 * (§3.10.1 OPEN): our SYN and its options, the SYN retransmission back-off (RFC 6298 §5.5,
 * Linux tcp_syn_retries), refusal, and the simultaneous open of §3.5 Figure 8.
 */
import { describe, expect, it } from 'vitest';
import type { TcpSocket } from '../../src/user/net.js';
import { TCP_ACK, TCP_RST, TCP_SYN } from '../../src/wire/tcp.js';
import { bytes, type Harness } from '../helpers/packets.js';
import { TcpPeer, tcpHarness, counterDelta, connState, decodeTcp, settleH, type TcpOut } from './segments.js';

const SERVER_PORT = 80;

interface Active {
  h: Harness;
  sock: TcpSocket;
  syn: TcpOut;
  p: TcpPeer;
  events: string[];
  errors: NodeJS.ErrnoException[];
}

/** Our stack connects to the peer's port 80; the peer has seen our SYN. */
function activeOpen(config: Parameters<typeof tcpHarness>[0] = {}): Active {
  const h = tcpHarness(config);
  const events: string[] = [];
  const errors: NodeJS.ErrnoException[] = [];
  const sock = h.stack.tcp.connect({ port: SERVER_PORT, host: '192.168.69.1' });
  sock.on('connect', () => events.push('connect'));
  sock.on('error', (e: NodeJS.ErrnoException) => errors.push(e));
  sock.on('close', () => events.push('close'));
  const frames = h.tx();
  expect(frames).toHaveLength(1);
  // The peer learns our ephemeral port from the SYN.
  const syn = decodeTcp(frames[0]!)!;
  const p = new TcpPeer(h, { port: syn.tcp.srcPort, peerPort: SERVER_PORT, iss: 7_000_000 });
  p.learnSyn(syn);
  return { h, sock, syn, p, events, errors };
}

describe('SYN-SENT (RFC 9293 §3.10.7.3)', () => {
  it('connect() sends a SYN with MSS, SACK-permitted, timestamps (TSecr 0) and window scale', () => {
    const h = tcpHarness();
    const d = counterDelta(h);
    h.stack.tcp.connect({ port: SERVER_PORT, host: '192.168.69.1' }).on('error', () => {});
    const [f] = h.tx();
    const syn = decodeTcp(f!)!;
    expect(syn.flags).toBe('S');
    expect(syn.tcp.dstPort).toBe(SERVER_PORT);
    const [lo, hi] = h.stack.config.tcp.localPortRange;
    expect(syn.tcp.srcPort).toBeGreaterThanOrEqual(lo);
    expect(syn.tcp.srcPort).toBeLessThanOrEqual(hi);
    expect(syn.tcp.ack).toBe(0);
    expect(syn.tcp.mss).toBe(1460);
    expect(syn.tcp.sackPermitted).toBe(true);
    expect(syn.tcp.hasTimestamp).toBe(true);
    expect(syn.tcp.tsEcr).toBe(0);
    let shift = 0;
    while (h.stack.config.tcp.rmem >>> shift > 0xffff) shift++;
    expect(syn.tcp.wscale).toBe(shift);
    expect(syn.tcp.window).toBe(0xffff);
    expect(connState(h)).toBe('SYN-SENT');
    expect(d()).toEqual({ Tcp: { ActiveOpens: 1, OutSegs: 1 }, TcpExt: {}, drops: {} });
  });

  it('SYN-ACK → ACK and a connect event; ESTABLISHED', async () => {
    const { h, p, syn, events } = activeOpen();
    const d = counterDelta(h);
    expect(p.send({ flags: TCP_SYN | TCP_ACK, ack: syn.tcp.seq + 1, mss: 1460, sackPermitted: true, wscale: 7, ts: [p.tsVal(), syn.tcp.tsVal] })).toBe('CONSUMED');
    const ack = p.expectOne();
    expect(ack.flags).toBe('.');
    expect(ack.tcp.seq).toBe((syn.tcp.seq + 1) >>> 0);
    expect(ack.tcp.ack).toBe((p.iss + 1) >>> 0);
    expect(ack.tcp.tsEcr).toBe(p.tsVal());
    await settleH(h);
    expect(events).toEqual(['connect']);
    expect(connState(h)).toBe('ESTABLISHED');
    expect(d().Tcp).toEqual({ InSegs: 1, OutSegs: 1, CurrEstab: 1 });
  });

  it('RST|ACK acknowledging our SYN → ECONNREFUSED, AttemptFails', async () => {
    const { h, p, syn, events, errors } = activeOpen();
    const d = counterDelta(h);
    expect(p.send({ flags: TCP_RST | TCP_ACK, seq: 0, ack: syn.tcp.seq + 1 })).toBe('CONSUMED');
    p.expectNone();
    await settleH(h);
    expect(errors.map((e) => [e.code, e.syscall])).toEqual([['ECONNREFUSED', 'connect']]);
    expect(events).toEqual(['close']);
    expect(h.stack.tcpConnections()).toEqual([]);
    expect(d().Tcp).toEqual({ InSegs: 1, AttemptFails: 1 });
  });

  it('a RST without ACK is ignored ("if the ACK bit is off, drop the segment")', async () => {
    const { h, p, errors } = activeOpen();
    expect(p.send({ flags: TCP_RST, seq: 0 })).toBe('TCP_RESET');
    p.expectNone();
    await settleH(h);
    expect(errors).toEqual([]);
    expect(connState(h)).toBe('SYN-SENT');
  });

  it.each([
    ['SEG.ACK = ISS', 0],
    ['SEG.ACK > SND.NXT', 2],
  ])('an unacceptable ACK (%s) → RST seq = SEG.ACK; RST|ACK with it is ignored', (_n, off) => {
    const { h, p, syn } = activeOpen();
    const bad = (syn.tcp.seq + off) >>> 0;
    const d = counterDelta(h);
    expect(p.send({ flags: TCP_SYN | TCP_ACK, ack: bad, mss: 1460 })).toBe('TCP_ACK_UNSENT_DATA');
    const rst = p.expectOne();
    expect([rst.flags, rst.tcp.seq]).toEqual(['R', bad]);
    // A RST whose ACK is unacceptable is dropped, unanswered, and does not refuse the connection.
    expect(p.send({ flags: TCP_RST | TCP_ACK, seq: 0, ack: bad })).toBe('TCP_ACK_UNSENT_DATA');
    p.expectNone();
    expect(connState(h)).toBe('SYN-SENT');
    expect(d().Tcp).toEqual({ InSegs: 2, OutSegs: 1, OutRsts: 1 });
  });

  it('an ACK without SYN (acceptable ACK) is dropped, the SYN still pending', () => {
    const { h, p, syn } = activeOpen();
    expect(p.send({ flags: TCP_ACK, ack: syn.tcp.seq + 1 })).toBe('TCP_FLAGS');
    p.expectNone();
    expect(connState(h)).toBe('SYN-SENT');
  });

  it('retransmits the SYN after 1, 2, 4, 8, 16, 32 s, then ETIMEDOUT after tcp_syn_retries (127 s)', async () => {
    const { h, p, syn, errors } = activeOpen();
    const d = counterDelta(h);
    const times: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = p.nextTx(200_000)!;
      expect(r.segs.map((s) => s.flags)).toEqual(['S']);
      expect(r.segs[0]!.tcp.seq).toBe(syn.tcp.seq);
      expect(r.segs[0]!.tcp.mss).toBe(1460); // the options come again
      times.push(r.at);
    }
    expect(times).toEqual([1000, 3000, 7000, 15000, 31000, 63000]);
    expect(p.nextTx(200_000)).toBeUndefined();
    await settleH(h);
    expect(errors.map((e) => e.code)).toEqual(['ETIMEDOUT']);
    expect(h.stack.tcpConnections()).toEqual([]);
    expect(d()).toMatchObject({ Tcp: { OutSegs: 6, RetransSegs: 6, AttemptFails: 1 }, TcpExt: { TCPSynRetrans: 6 } });
  });

  it('gives up at 127 s exactly (the last back-off is 64 s)', async () => {
    const { h, errors } = activeOpen();
    h.advance(126_999);
    await settleH(h, 1);
    expect(connState(h)).toBe('SYN-SENT');
    h.advance(1);
    await settleH(h);
    expect(errors.map((e) => e.code)).toEqual(['ETIMEDOUT']);
  });

  // RFC 9293 §3.10.7.3: text on the SYN-ACK continues at the sixth step, within the window
  // our SYN offered.
  it('data on the SYN-ACK is delivered after the connect event', async () => {
    const { h, p, syn, sock } = activeOpen();
    const got: Buffer[] = [];
    sock.on('data', (b: Buffer) => got.push(b));
    p.send({ flags: TCP_SYN | TCP_ACK, ack: syn.tcp.seq + 1, mss: 1460, data: bytes(10) });
    const ack = p.expectOne();
    expect(ack.tcp.ack).toBe((p.iss + 11) >>> 0);
    await settleH(h);
    expect(Buffer.concat(got)).toEqual(Buffer.from(bytes(10)));
  });
});

describe('simultaneous open (RFC 9293 §3.5, Figure 8)', () => {
  it('a SYN without ACK → SYN-ACK (our ISS, ACK peer ISN + 1), SYN-RECEIVED; the peer ACK → ESTABLISHED', async () => {
    const { h, p, syn, events } = activeOpen();
    expect(p.send({ flags: TCP_SYN, mss: 1460, sackPermitted: true, wscale: 7, ts: [p.tsVal(), 0] })).toBe('CONSUMED');
    const sa = p.expectOne();
    expect(sa.flags).toBe('S.');
    expect(sa.tcp.seq).toBe(syn.tcp.seq);
    expect(sa.tcp.ack).toBe((p.iss + 1) >>> 0);
    expect(sa.tcp.mss).toBe(1460);
    expect(connState(h)).toBe('SYN-RECEIVED');
    p.sndNxt = (p.iss + 1) >>> 0;
    p.tsOk = true;
    expect(p.send({ flags: TCP_ACK })).toBe('CONSUMED');
    await settleH(h);
    expect(connState(h)).toBe('ESTABLISHED');
    expect(events).toEqual(['connect']);
  });

  // In Figure 8 line 6 the peer's SYN-ACK <SEQ=300><ACK=101> moves SYN-RECEIVED to ESTABLISHED
  // (Linux tcp_validate_incoming accepts it too).
  it('the peer\'s SYN-ACK completes a simultaneous open at once (Figure 8 line 6)', async () => {
    const { h, p, syn, events } = activeOpen();
    p.send({ flags: TCP_SYN, mss: 1460 });
    p.take();
    expect(p.send({ flags: TCP_SYN | TCP_ACK, ack: syn.tcp.seq + 1, mss: 1460 })).toBe('CONSUMED');
    await settleH(h);
    expect(connState(h)).toBe('ESTABLISHED');
    expect(events).toEqual(['connect']);
  });
});
