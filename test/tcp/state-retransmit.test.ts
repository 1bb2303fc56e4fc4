/**
 * Retransmission (RFC 6298 RTO and back-off, RFC 5681 §3.2 fast retransmit, RFC 6582
 * NewReno, RFC 6675 SACK-based recovery), with the test as a peer that loses segments on
 * purpose. Times are virtual and asserted exactly.
 */
import { describe, expect, it } from 'vitest';
import type { TcpSocket } from '../../src/user/net.js';
import { TCP_ACK, TCP_SYN } from '../../src/wire/tcp.js';
import { bytes, type Harness } from '../helpers/packets.js';
import { TcpPeer, connState, counterDelta, dataSegs, established, settleH, tcpHarness, type TcpOut } from './segments.js';

const PORT = 80;

/**
 * A passive open where the peer's ACK comes `rttMs` after our SYN-ACK (one RTT sample), or,
 * with `lostSynAck`, only after the SYN-ACK's retransmission (no sample: Karn's rule).
 */
function open(o: { rttMs?: number; lostSynAck?: boolean; timestamps?: boolean; config?: Parameters<typeof tcpHarness>[0] } = {}): {
  h: Harness; p: TcpPeer; sock: TcpSocket; errors: NodeJS.ErrnoException[];
} {
  const h = tcpHarness(o.config);
  const accepted: TcpSocket[] = [];
  h.stack.tcp.createServer((s) => accepted.push(s)).listen(PORT);
  const p = new TcpPeer(h, { port: PORT });
  const ts = o.timestamps ?? true;
  p.send({ flags: TCP_SYN, mss: 1460, sackPermitted: true, wscale: 7, ...(ts && { ts: [p.tsVal(), 0] as const }) });
  p.learnSyn(p.expectOne());
  if (o.lostSynAck === true) expect(p.nextTx(5000)!.segs[0]!.flags).toBe('S.');
  else h.advance(o.rttMs ?? 1);
  p.sndNxt = (p.iss + 1) >>> 0;
  p.tsOk = ts;
  expect(p.send({ flags: TCP_ACK })).toBe('CONSUMED');
  const sock = accepted[0]!;
  const errors: NodeJS.ErrnoException[] = [];
  sock.on('error', (e: NodeJS.ErrnoException) => errors.push(e));
  return { h, p, sock, errors };
}

/** Retransmissions of the head until `n` were seen: their times (relative to `t0`) and segments. */
function timeouts(p: TcpPeer, t0: number, n: number): { at: number[]; segs: TcpOut[] } {
  const at: number[] = [];
  const segs: TcpOut[] = [];
  for (let i = 0; i < n; i++) {
    const r = p.nextTx(600_000)!;
    at.push(r.at - t0);
    segs.push(...r.segs);
  }
  return { at, segs };
}

describe('the retransmission timer (RFC 6298)', () => {
  it('uses the measured RTT, then doubles the RTO on each expiry (RFC 6298 §5.5); RetransSegs, TCPTimeouts', async () => {
    const R = 100;
    const { h, p, sock } = open({ rttMs: R });
    const d = counterDelta(h);
    sock.write(Buffer.from(bytes(500)));
    await settleH(h, 1);
    const t0 = h.clock.now();
    const first = dataSegs(p.take());
    expect(first.map((s) => s.payload.length)).toEqual([500]);
    const { at, segs } = timeouts(p, t0, 4);
    const rto = at[0]!;
    // From the sample: more than the RTT, at most SRTT + 4·RTTVAR = 3·R, and not the 1 s of no sample.
    expect(rto).toBeGreaterThan(R);
    expect(rto).toBeLessThanOrEqual(3 * R);
    expect(at).toEqual([rto, 3 * rto, 7 * rto, 15 * rto]);
    for (const s of segs) {
      expect([s.tcp.seq, s.payload.length]).toEqual([first[0]!.tcp.seq, 500]);
      expect(Buffer.from(s.payload)).toEqual(Buffer.from(first[0]!.payload));
    }
    expect(d()).toMatchObject({ Tcp: { RetransSegs: 4 }, TcpExt: { TCPTimeouts: 4 } });
  });

  // The handshake gives one sample, not two (a second, equal one would shrink RTTVAR):
  // Linux takes one too (tcp_synack_rtt_meas).
  it('one RTT sample from the handshake: RTO = SRTT + 4·RTTVAR = 3·R exactly (§2.2)', async () => {
    const R = 100;
    const { h, p, sock } = open({ rttMs: R });
    sock.write(Buffer.from(bytes(500)));
    await settleH(h, 1);
    const t0 = h.clock.now();
    p.take();
    expect(timeouts(p, t0, 1).at).toEqual([3 * R]);
  });

  it('the RTO never goes below tcp_rto_min (200 ms), however short the RTT', async () => {
    const { h, p, sock } = open({ rttMs: 1 });
    sock.write(Buffer.from(bytes(100)));
    await settleH(h, 1);
    const t0 = h.clock.now();
    p.take();
    expect(timeouts(p, t0, 2).at).toEqual([200, 600]);
  });

  it('after an RTO only one segment goes (cwnd = 1 MSS, RFC 5681 §3.1); its ACK lets more follow', async () => {
    const { h, p, sock } = open({ rttMs: 100 });
    sock.write(Buffer.from(bytes(10 * 1448)));
    await settleH(h, 1);
    const burst = dataSegs(p.take());
    expect(burst.length).toBeGreaterThan(2);
    const r = p.nextTx(10_000)!;
    expect(dataSegs(r.segs).map((s) => s.tcp.seq)).toEqual([burst[0]!.tcp.seq]);
    p.rcvNxt = (burst[0]!.tcp.seq + burst[0]!.payload.length) >>> 0;
    p.send({ flags: TCP_ACK });
    const next = dataSegs(p.take());
    expect(next.length).toBeGreaterThanOrEqual(1);
    expect(next[0]!.tcp.seq).toBe(p.rcvNxt);
  });

  it('with timestamps, the ACK of a retransmitted SYN-ACK still gives an RTT sample (RFC 7323 §4): RTO from it', async () => {
    const { h, p, sock } = open({ lostSynAck: true });
    sock.write(Buffer.from(bytes(100)));
    await settleH(h, 1);
    const t0 = h.clock.now();
    p.take();
    // The ACK came at once after the retransmission: a tiny RTT, so the floor, tcp_rto_min.
    expect(timeouts(p, t0, 1).at).toEqual([h.stack.config.tcp.minRtoMs]);
  });

  // RFC 6298 §5.7: when the SYN (here our SYN-ACK) was retransmitted and there is no RTT sample
  // (no timestamps: Karn's rule), the RTO for data MUST be re-initialized to 3 s; Linux does
  // (tcp_init_metrics: icsk_rto = TCP_TIMEOUT_FALLBACK).
  it('after a retransmitted SYN-ACK, without timestamps (no RTT sample), the first data RTO is 3 s (RFC 6298 §5.7)', async () => {
    const { h, p, sock } = open({ lostSynAck: true, timestamps: false });
    sock.write(Buffer.from(bytes(100)));
    await settleH(h, 1);
    const t0 = h.clock.now();
    p.take();
    expect(timeouts(p, t0, 1).at).toEqual([3000]);
  });

  it('gives up after tcp_retries2 timeouts: ETIMEDOUT, TCPAbortOnTimeout, no RST', async () => {
    const { h, p, sock, errors } = open({ rttMs: 100, config: { config: { tcp: { retries2: 3 } } } });
    const d = counterDelta(h);
    sock.write(Buffer.from(bytes(100)));
    await settleH(h, 1);
    const t0 = h.clock.now();
    p.take();
    const at = timeouts(p, t0, 3).at;
    const rto = at[0]!;
    expect(at).toEqual([rto, 3 * rto, 7 * rto]);
    h.advance(8 * rto - 1);
    expect(connState(h)).toBe('ESTABLISHED');
    h.advance(1); // the fourth expiry, RTO·2^3 after the third retransmission
    p.expectNone();
    expect(h.stack.tcpConnections()).toEqual([]);
    await settleH(h);
    expect(errors.map((e) => e.code)).toEqual(['ETIMEDOUT']);
    expect(d()).toMatchObject({ TcpExt: { TCPTimeouts: 3, TCPAbortOnTimeout: 1 }, Tcp: { RetransSegs: 3, EstabResets: 1 } });
    expect(d().Tcp.OutRsts).toBeUndefined();
  });
});

describe('fast retransmit and recovery', () => {
  it('three duplicate ACKs → the head is resent at once, before any RTO (RFC 5681 §3.2; NewReno without SACK)', async () => {
    const { h, p, sock } = established({ syn: { sackPermitted: undefined } });
    const d = counterDelta(h);
    sock.write(Buffer.from(bytes(10 * 1448)));
    await settleH(h, 1);
    const sent = dataSegs(p.take());
    expect(sent.length).toBeGreaterThanOrEqual(5);
    const head = sent[0]!;
    // Segment 0 is lost; each later one draws a duplicate ACK for it.
    for (let i = 1; i <= 2; i++) {
      expect(p.send({ flags: TCP_ACK })).toBe('CONSUMED');
      expect(dataSegs(p.take())).toEqual([]);
    }
    const t = h.clock.now();
    p.send({ flags: TCP_ACK });
    const rtx = dataSegs(p.take());
    expect(h.clock.now()).toBe(t);
    expect(rtx[0]!.tcp.seq).toBe(head.tcp.seq);
    expect(Buffer.from(rtx[0]!.payload)).toEqual(Buffer.from(head.payload));
    expect(d()).toMatchObject({ TcpExt: { TCPFastRetrans: 1, TCPRenoRecovery: 1 }, Tcp: { RetransSegs: 1 } });
    expect(d().TcpExt.TCPTimeouts).toBeUndefined();
    // NewReno partial ACK (RFC 6582 §3.2 step 5): ACK of the head only → the next segment is resent.
    p.rcvNxt = sent[1]!.tcp.seq;
    p.send({ flags: TCP_ACK });
    expect(dataSegs(p.take())[0]!.tcp.seq).toBe(sent[1]!.tcp.seq);
  });

  it('with SACK every hole is resent (RFC 6675), and new data follows once recovered', async () => {
    const { h, p, sock } = established();
    const d = counterDelta(h);
    sock.write(Buffer.from(bytes(30 * 1448)));
    await settleH(h, 1);
    const sent = dataSegs(p.take());
    expect(sent.length).toBeGreaterThanOrEqual(7);
    const s = (i: number): [number, number] => [sent[i]!.tcp.seq, (sent[i]!.tcp.seq + sent[i]!.payload.length) >>> 0];
    const highest = s(sent.length - 1)[1];
    // Segments 0 and 2 are lost; 1, 3, 4, 5, 6 arrive and are SACKed.
    const rtx: number[] = [];
    let end = highest;
    const sacks: [number, number][][] = [
      [s(1)],
      [[s(3)[0], s(3)[1]], s(1)],
      [[s(3)[0], s(4)[1]], s(1)],
      [[s(3)[0], s(5)[1]], s(1)],
      [[s(3)[0], s(6)[1]], s(1)],
    ];
    for (const blocks of sacks) {
      p.send({ flags: TCP_ACK, sack: blocks });
      for (const seg of dataSegs(p.take())) {
        rtx.push(seg.tcp.seq);
        if (seg.tcp.seq === end) end = (end + seg.payload.length) >>> 0; // new data, sent during recovery
      }
    }
    expect(rtx).toContain(s(0)[0]);
    expect(rtx).toContain(s(2)[0]);
    // Each hole once, and nothing that was SACKed.
    expect(rtx.filter((x) => x === s(0)[0] || x === s(2)[0])).toHaveLength(2);
    for (const i of [1, 3, 4, 5, 6]) expect(rtx).not.toContain(s(i)[0]);
    expect(d()).toMatchObject({ TcpExt: { TCPFastRetrans: 1, TCPSackRecovery: 1 } });
    expect(d().TcpExt.TCPTimeouts).toBeUndefined();
    // Everything sent so far arrives: recovery is over, and the rest of the data goes out.
    p.rcvNxt = end;
    p.send({ flags: TCP_ACK });
    const more = dataSegs(p.take());
    expect(more.length).toBeGreaterThan(0);
    expect(more[0]!.tcp.seq).toBe(end);
  });
});
