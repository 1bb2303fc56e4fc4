/**
 * RFC 9293 §3.10.7.4 in state ESTABLISHED, the test playing the peer: receiving (ACK policy
 * of RFC 1122 §4.2.3.2 / RFC 5681 §4.2 with Linux's quick-ACK, out-of-order data and SACK of
 * RFC 2018), the sequence and ACK checks with RFC 5961's challenge ACKs and RFC 7323's PAWS,
 * window scaling and flow control both ways (zero windows, persist probes of §3.8.6.1),
 * Nagle (RFC 896 / RFC 1122 §4.2.3.4) and keepalive (RFC 1122 §4.2.3.6).
 */
import { describe, expect, it } from 'vitest';
import { TCP_ACK, TCP_PSH, TCP_RST, TCP_SYN } from '../../src/wire/tcp.js';
import { bytes } from '../helpers/packets.js';
import { TcpPeer, connState, counterDelta, dataSegs, established, settleH, type TcpOut } from './segments.js';

describe('ESTABLISHED: receiving and acknowledging (RFC 9293 §3.10.7.4 seventh check)', () => {
  it('in-order data is delivered and, at the start of a connection, ACKed at once (quick-ACK)', async () => {
    const { h, p, got } = established();
    const d = counterDelta(h);
    expect(p.sendData(bytes(100, 1))).toBe('CONSUMED');
    const ack = p.expectOne();
    expect([ack.flags, ack.tcp.ack, ack.tcp.seq]).toEqual(['.', p.sndNxt, p.rcvNxt]);
    expect(ack.tcp.tsEcr).toBe(p.tsVal());
    await settleH(h);
    expect(Buffer.concat(got)).toEqual(Buffer.from(bytes(100, 1)));
    expect(d().Tcp).toEqual({ InSegs: 1, OutSegs: 1 });
  });

  it('after the quick-ACKs, a small segment is ACKed by the delayed-ACK timer, 40 ms later', async () => {
    const { h, p } = established();
    // Quick-ACK mode lasts a bounded number of segments (Linux: up to 16).
    let quick = 0;
    for (let i = 0; i < 32; i++) {
      p.sendData(bytes(10, i));
      if (p.take().length === 0) break;
      quick++;
    }
    expect(quick).toBeGreaterThan(0);
    expect(quick).toBeLessThanOrEqual(16);
    const d = counterDelta(h);
    const sentAt = h.clock.now();
    const r = p.nextTx(1000)!;
    expect(r.at - sentAt).toBe(h.stack.config.tcp.delackMs);
    expect(r.segs.map((s) => [s.flags, s.tcp.ack])).toEqual([['.', p.sndNxt]]);
    expect(d().TcpExt).toEqual({ DelayedACKs: 1 });
  });

  /** Leaves quick-ACK mode: small segments until one is not ACKed at once, then its delayed ACK. */
  function leaveQuickAck(p: TcpPeer): void {
    for (let i = 0; i < 32; i++) {
      p.sendData(bytes(10, i));
      if (p.take().length === 0) break;
    }
    p.nextTx(1000);
  }

  it('without timestamps, every second full-sized (1460-byte) segment is ACKed at once (RFC 5681 §4.2)', () => {
    const { p } = established({ syn: { ts: undefined } });
    leaveQuickAck(p);
    p.sendData(bytes(1460, 1));
    p.expectNone();
    p.sendData(bytes(1460, 2));
    expect(p.expectOne().tcp.ack).toBe(p.sndNxt);
  });

  // With timestamps a full-sized segment carries 1460 − 12 = 1448 bytes; two of them still
  // make "every second full-sized segment" (RFC 5681 §4.2; Linux compares with rcv_mss).
  it('with timestamps, every second full-sized (1448-byte) segment is ACKed at once', () => {
    const { p } = established();
    leaveQuickAck(p);
    p.sendData(bytes(1448, 1));
    p.expectNone();
    p.sendData(bytes(1448, 2));
    expect(p.expectOne().tcp.ack).toBe(p.sndNxt);
  });

  it('ten full-sized segments in one batch of received frames get one ACK for all of them, after the batch (as GRO does)', () => {
    const { h, p } = established();
    leaveQuickAck(p);
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 10; i++) {
      frames.push(p.frame({ flags: TCP_ACK | 0x08, data: bytes(1448, i) }));
      p.sndNxt = (p.sndNxt + 1448) >>> 0;
    }
    h.rx(...frames);
    const acks = p.take();
    expect(acks).toHaveLength(1);
    expect(acks[0]!.tcp.ack).toBe(p.sndNxt);
  });

  it('an out-of-order segment in a batch is still answered at once with its own duplicate ACK', () => {
    const { h, p } = established();
    leaveQuickAck(p);
    const inOrder = p.frame({ flags: TCP_ACK | 0x08, data: bytes(1448, 1) });
    const beyond = p.frame({ flags: TCP_ACK | 0x08, data: bytes(1448, 3), seq: (p.sndNxt + 2 * 1448) >>> 0 });
    h.rx(inOrder, beyond);
    const acks = p.take();
    expect(acks).toHaveLength(1);
    const end = (p.sndNxt + 1448) >>> 0;
    expect(acks[0]!.tcp.ack).toBe(end);
    expect(acks[0]!.sack).toEqual([[(end + 1448) >>> 0, (end + 2 * 1448) >>> 0]]);
  });

  it('out-of-order data → an immediate duplicate ACK with a SACK block; the gap filled, all is delivered in order', async () => {
    const { h, p, got } = established();
    const base = p.sndNxt;
    const a = bytes(500, 1);
    const b = bytes(500, 2);
    const c = bytes(500, 3);
    const d = counterDelta(h);
    expect(p.send({ flags: TCP_ACK, seq: base + 500, data: b })).toBe('CONSUMED');
    const dup1 = p.expectOne();
    expect(dup1.tcp.ack).toBe(base);
    expect(dup1.sack).toEqual([[base + 500, base + 1000]]);
    expect(p.send({ flags: TCP_ACK, seq: base + 1500, data: bytes(500, 4) })).toBe('CONSUMED');
    const dup2 = p.expectOne();
    expect(dup2.tcp.ack).toBe(base);
    // The block holding the newest segment first (RFC 2018 §4).
    expect(dup2.sack).toEqual([[base + 1500, base + 2000], [base + 500, base + 1000]]);
    expect(d().TcpExt).toMatchObject({ TCPOFOQueue: 2 });
    // Fill the first hole: data up to the second hole is delivered, ACKed at once (a gap was filled).
    expect(p.send({ flags: TCP_ACK, seq: base, data: a })).toBe('CONSUMED');
    const ack = p.expectOne();
    expect(ack.tcp.ack).toBe(base + 1000);
    expect(ack.sack).toEqual([[base + 1500, base + 2000]]);
    expect(p.send({ flags: TCP_ACK, seq: base + 1000, data: c })).toBe('CONSUMED');
    const ack2 = p.expectOne();
    expect(ack2.tcp.ack).toBe(base + 2000);
    expect(ack2.sack).toEqual([]);
    await settleH(h);
    expect(Buffer.concat(got)).toEqual(Buffer.concat([a, b, c, bytes(500, 4)]));
  });

  // RFC 2018 §4: "the SACK option SHOULD be filled out by repeating the most recently reported
  // SACK blocks"; Linux keeps them most recent first (tcp_sack_new_ofo_skb).
  it('with three holes, the SACK blocks go most recent first (RFC 2018 §4)', () => {
    const { p } = established();
    const base = p.sndNxt;
    for (const off of [1000, 5000, 3000]) p.send({ flags: TCP_ACK, seq: base + off, data: bytes(100) });
    const last = p.take().at(-1)!;
    expect(last.sack).toEqual([[base + 3000, base + 3100], [base + 5000, base + 5100], [base + 1000, base + 1100]]);
  });

  it('a segment beyond the window → duplicate ACK, TCP_INVALID_SEQUENCE', () => {
    const { h, p } = established();
    const d = counterDelta(h);
    const far = p.sndNxt + 10_000_000;
    expect(p.send({ flags: TCP_ACK, seq: far, data: bytes(100) })).toBe('TCP_INVALID_SEQUENCE');
    expect(p.expectOne().tcp.ack).toBe(p.sndNxt);
    expect(d().drops).toEqual({ TCP_INVALID_SEQUENCE: 1 });
  });

  it('a segment entirely before rcv.nxt (already ACKed) → duplicate ACK, TCP_OLD_SEQUENCE, DelayedACKLost', async () => {
    const { h, p, got } = established();
    const seq = p.sndNxt;
    p.sendData(bytes(100));
    p.sendData(bytes(100));
    p.take();
    const d = counterDelta(h);
    // It ends before rcv.wup, the rcv.nxt our last ACK announced (Linux tcp_sequence).
    expect(p.send({ flags: TCP_ACK, seq, data: bytes(100) })).toBe('TCP_OLD_SEQUENCE');
    expect(p.expectOne().tcp.ack).toBe(p.sndNxt);
    expect(d().TcpExt).toEqual({ DelayedACKLost: 1 });
    await settleH(h);
    expect(Buffer.concat(got).length).toBe(200);
  });

  // Linux's sequence check (tcp_sequence) rejects as TCP_OLD_SEQUENCE only what ends before
  // rcv_wup, the rcv.nxt we last ACKed; data received but not ACKed yet (a delayed ACK pending)
  // and sent again passes it and is dropped in tcp_data_queue as TCP_OLD_DATA.
  it('a retransmission of data not yet ACKed → TCP_OLD_DATA (Linux tcp_data_queue)', () => {
    const { p } = established();
    leaveQuickAck(p);
    const seq = p.sndNxt;
    p.sendData(bytes(100));
    p.expectNone(); // the ACK is delayed
    expect(p.send({ flags: TCP_ACK, seq, data: bytes(100) })).toBe('TCP_OLD_DATA');
  });

  it('a segment overlapping old and new data: only the new part is taken', async () => {
    const { h, p, got } = established();
    const all = bytes(300, 9);
    p.sendData(all.subarray(0, 200));
    p.take();
    p.sndNxt -= 100; // resend the last 100 bytes with 100 new ones
    expect(p.sendData(all.subarray(100, 300))).toBe('CONSUMED');
    expect(p.take().at(-1)!.tcp.ack).toBe(p.sndNxt);
    await settleH(h);
    expect(Buffer.concat(got)).toEqual(Buffer.from(all));
  });
});

describe('ESTABLISHED: RST, SYN and ACK checks (RFC 5961)', () => {
  it('a RST in the window but not at rcv.nxt → challenge ACK (§3.2); the connection survives', async () => {
    const { h, p, errors } = established();
    const d = counterDelta(h);
    expect(p.send({ flags: TCP_RST, seq: p.sndNxt + 1000 })).toBe('TCP_RESET');
    const ch = p.expectOne();
    expect([ch.flags, ch.tcp.seq, ch.tcp.ack]).toEqual(['.', p.rcvNxt, p.sndNxt]);
    expect(d().TcpExt).toEqual({ TCPChallengeACK: 1 });
    await settleH(h);
    expect(errors).toEqual([]);
    expect(connState(h)).toBe('ESTABLISHED');
  });

  it('a RST outside the window is dropped silently', () => {
    const { h, p } = established();
    expect(p.send({ flags: TCP_RST, seq: p.sndNxt + 100_000_000 })).toBe('TCP_INVALID_SEQUENCE');
    p.expectNone();
    expect(connState(h)).toBe('ESTABLISHED');
  });

  it('a RST exactly at rcv.nxt resets: ECONNRESET, EstabResets', async () => {
    const { h, p, errors } = established();
    const d = counterDelta(h);
    expect(p.send({ flags: TCP_RST })).toBe('CONSUMED');
    p.expectNone();
    await settleH(h);
    expect(errors.map((e) => e.code)).toEqual(['ECONNRESET']);
    expect(h.stack.tcpConnections()).toEqual([]);
    expect(d().Tcp).toEqual({ InSegs: 1, EstabResets: 1, CurrEstab: -1 });
  });

  it('challenge ACKs are rate limited (tcp_challenge_ack_limit per second, §7)', () => {
    const { h, p } = established({ config: { tcp: { challengeAckLimit: 3 } } });
    const d = counterDelta(h);
    for (let i = 0; i < 10; i++) p.send({ flags: TCP_RST, seq: p.sndNxt + 1000 + i });
    expect(p.take()).toHaveLength(3);
    expect(d().TcpExt).toEqual({ TCPChallengeACK: 3 });
  });

  it('a SYN → challenge ACK (§4), TCPSYNChallenge, TCP_INVALID_SYN; no reset', async () => {
    const { h, p, errors } = established();
    const d = counterDelta(h);
    expect(p.send({ flags: TCP_SYN, seq: p.sndNxt + 5, mss: 1460 })).toBe('TCP_INVALID_SYN');
    const ch = p.expectOne();
    expect([ch.flags, ch.tcp.ack]).toEqual(['.', p.sndNxt]);
    expect(d().TcpExt).toEqual({ TCPSYNChallenge: 1, TCPChallengeACK: 1 });
    await settleH(h);
    expect(errors).toEqual([]);
    expect(connState(h)).toBe('ESTABLISHED');
  });

  it('an ACK of data never sent → an ACK, and the segment is dropped (TCP_ACK_UNSENT_DATA)', async () => {
    const { h, p, got } = established();
    expect(p.send({ flags: TCP_ACK | TCP_PSH, ack: p.rcvNxt + 1000, data: bytes(10) })).toBe('TCP_ACK_UNSENT_DATA');
    expect(p.expectOne().tcp.ack).toBe(p.sndNxt); // the data was not taken
    await settleH(h);
    expect(got).toEqual([]);
  });

  it('PAWS (RFC 7323 §5): an old TSval → dropped, PAWSEstab, TCP_RFC7323_PAWS, duplicate ACK', async () => {
    const { h, p, got } = established();
    p.sendData(bytes(10));
    p.take();
    h.advance(100);
    const d = counterDelta(h);
    const old = p.tsVal() - 1000;
    expect(p.send({ flags: TCP_ACK, data: bytes(10), ts: [old, p.tsRecent] })).toBe('TCP_RFC7323_PAWS');
    expect(p.expectOne().tcp.ack).toBe(p.sndNxt);
    expect(d()).toMatchObject({ TcpExt: { PAWSEstab: 1 }, drops: { TCP_RFC7323_PAWS: 1 } });
    await settleH(h);
    expect(Buffer.concat(got).length).toBe(10);
  });
});

/**
 * The peer sends 1000-byte segments until our ACK shows a zero window; the part of the last
 * segment beyond the window is trimmed, so the peer goes on from what was ACKed. Returns the
 * bytes taken and the last ACK.
 */
function fillWindow(p: TcpPeer): { taken: number; ack: TcpOut } {
  const base = p.sndNxt;
  for (let i = 0; i < 40; i++) {
    p.sendData(bytes(1000, i));
    const ack = p.take().at(-1) ?? p.nextTx(1000)!.segs.at(-1)!;
    p.sndNxt = ack.tcp.ack;
    if (ack.tcp.window === 0) return { taken: (ack.tcp.ack - base) >>> 0, ack };
  }
  throw new Error('the window never closed');
}

describe('ESTABLISHED: windows (RFC 7323 §2 scaling, RFC 9293 §3.8.6 flow control)', () => {
  it('our window is advertised scaled by the shift we offered; the peer\'s is scaled by its shift', async () => {
    const { h, p, sock, synAck } = established({ ack: { window: 8 } });
    const shift = synAck.tcp.wscale;
    expect(shift).toBeGreaterThan(0);
    p.sendData(bytes(10), { window: 8 });
    const ack = p.expectOne();
    expect(ack.tcp.window).toBe((h.stack.config.tcp.rmem - 10) >>> shift);
    // The peer's window field 8 with its shift 7: 1024 bytes, not 8.
    sock.write(Buffer.from(bytes(5000)));
    await settleH(h);
    const sent = dataSegs(p.take());
    expect(sent.reduce((n, s) => n + s.payload.length, 0)).toBe(1024);
  });

  it('the application not reading closes the window: 0 advertised (TCPToZeroWindowAdv), more data is dropped and re-ACKed', () => {
    const { h, p } = established({ config: { tcp: { rmem: 16384 } }, collect: false });
    const d = counterDelta(h);
    const { taken } = fillWindow(p);
    // Everything up to the buffer's size was taken (less at most a sliver: no silly windows).
    expect(taken).toBeLessThanOrEqual(16384);
    expect(taken).toBeGreaterThan(16384 - 1460);
    expect(d().TcpExt).toMatchObject({ TCPToZeroWindowAdv: 1 });
    const rcvNxt = p.sndNxt;
    // Data into the closed window: dropped, and the ACK repeats the zero window.
    expect(p.send({ flags: TCP_ACK, data: bytes(100) })).not.toBe('CONSUMED');
    const ack = p.expectOne();
    expect([ack.tcp.ack, ack.tcp.window]).toEqual([rcvNxt, 0]);
  });

  // Linux lets a segment at rcv.nxt through its sequence check when the window is zero and
  // drops it in tcp_data_queue as TCP_ZEROWINDOW, counting TCPZeroWindowDrop.
  it('data into a zero window is dropped as TCP_ZEROWINDOW, TCPZeroWindowDrop (Linux)', () => {
    const { h, p } = established({ config: { tcp: { rmem: 16384 } }, collect: false });
    fillWindow(p);
    const d = counterDelta(h);
    expect(p.send({ flags: TCP_ACK, data: bytes(100) })).toBe('TCP_ZEROWINDOW');
    expect(d().TcpExt).toMatchObject({ TCPZeroWindowDrop: 1 });
  });

  it('reading reopens the window with a window update (TCPFromZeroWindowAdv), and the data flows again', async () => {
    const { h, p, sock } = established({ config: { tcp: { rmem: 16384 } }, collect: false });
    const total = fillWindow(p).taken;
    const d = counterDelta(h);
    const chunks: Buffer[] = [];
    sock.on('data', (b: Buffer) => chunks.push(b));
    await settleH(h);
    expect(Buffer.concat(chunks).length).toBe(total);
    const upd = p.take();
    expect(upd.length).toBeGreaterThanOrEqual(1);
    const last = upd.at(-1)!;
    expect([last.flags, last.tcp.ack]).toEqual(['.', p.sndNxt]);
    expect(last.tcp.window).toBeGreaterThanOrEqual(1460);
    expect(d().TcpExt).toMatchObject({ TCPFromZeroWindowAdv: 1 });
    expect(p.sendData(bytes(1000))).toBe('CONSUMED');
  });

  it('the peer\'s zero window: we stop sending and probe with back-off, and resume when it opens', async () => {
    const { h, p, sock } = established({ ack: { window: 0 } });
    const d = counterDelta(h);
    const t0 = h.clock.now();
    sock.write(Buffer.from(bytes(3000, 5)));
    await settleH(h, 1);
    p.expectNone();
    const probes: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = p.nextTx(60_000)!;
      expect(r.segs).toHaveLength(1);
      const probe = r.segs[0]!;
      // Linux's probe: an ACK one byte below snd.una, no data (tcp_xmit_probe_skb).
      expect([probe.flags, probe.payload.length, probe.tcp.seq]).toEqual(['.', 0, (p.rcvNxt - 1) >>> 0]);
      probes.push(r.at - t0);
    }
    // Each interval doubles.
    const gaps = probes.map((t, i) => t - (i === 0 ? 0 : probes[i - 1]!));
    expect(gaps.slice(1)).toEqual([gaps[0]! * 2, gaps[0]! * 4, gaps[0]! * 8]);
    expect(d().TcpExt).toMatchObject({ TCPWinProbe: 4 });
    // The window opens: the data goes at once.
    expect(p.send({ flags: TCP_ACK, window: 100 })).toBe('CONSUMED'); // 100 << 7 = 12800 bytes
    const data = dataSegs(p.take());
    expect(data.reduce((n, s) => n + s.payload.length, 0)).toBe(3000);
    expect(data[0]!.tcp.seq).toBe(p.rcvNxt);
  });
});

describe('ESTABLISHED: Nagle and keepalive', () => {
  it('writes made while corked (as Node http writes headers and body) leave as one segment, not two that Nagle would split', async () => {
    const { h, p, sock } = established();
    sock.cork();
    sock.write(Buffer.from('HTTP/1.1 200 OK\r\n\r\n'));
    sock.write(Buffer.from('body'));
    process.nextTick(() => sock.uncork());
    await settleH(h, 1);
    const data = dataSegs(p.take());
    expect(data.map((s) => Buffer.from(s.payload).toString())).toEqual(['HTTP/1.1 200 OK\r\n\r\nbody']);
  });
  it('Nagle: small writes wait while a small segment is unacknowledged, then go as one', async () => {
    const { h, p, sock } = established();
    sock.write(Buffer.from(bytes(100, 1)));
    await settleH(h, 1);
    expect(dataSegs(p.take()).map((s) => s.payload.length)).toEqual([100]);
    sock.write(Buffer.from(bytes(100, 2)));
    sock.write(Buffer.from(bytes(100, 3)));
    await settleH(h, 2);
    expect(dataSegs(p.take())).toEqual([]);
    p.rcvNxt += 100;
    p.send({ flags: TCP_ACK });
    const seg = dataSegs(p.take());
    expect(seg.map((s) => s.payload.length)).toEqual([200]);
    expect(Buffer.from(seg[0]!.payload)).toEqual(Buffer.concat([bytes(100, 2), bytes(100, 3)]));
  });

  it('setNoDelay(true): every write goes at once', async () => {
    const { h, p, sock } = established();
    sock.setNoDelay(true);
    for (const i of [1, 2, 3]) sock.write(Buffer.from(bytes(100, i)));
    await settleH(h, 2);
    expect(dataSegs(p.take()).map((s) => s.payload.length)).toEqual([100, 100, 100]);
  });

  it('keepalive: probes after the idle time, every interval, then RST and ETIMEDOUT after tcp_keepalive_probes', async () => {
    const { h, p, sock, errors } = established({ config: { tcp: { keepaliveIntvlMs: 1000, keepaliveProbes: 3 } } });
    const t0 = h.clock.now();
    sock.setKeepAlive(true, 5000);
    const d = counterDelta(h);
    const seen: [number, string, number][] = [];
    for (let i = 0; i < 4; i++) {
      const r = p.nextTx(10_000)!;
      for (const s of r.segs) seen.push([r.at - t0, s.flags, s.tcp.seq]);
    }
    const una = p.rcvNxt;
    expect(seen).toEqual([
      [5000, '.', (una - 1) >>> 0], [6000, '.', (una - 1) >>> 0], [7000, '.', (una - 1) >>> 0], [8000, 'R.', una],
    ]);
    await settleH(h);
    expect(errors.map((e) => e.code)).toEqual(['ETIMEDOUT']);
    expect(d()).toMatchObject({ TcpExt: { TCPKeepAlive: 3, TCPAbortOnTimeout: 1 }, Tcp: { OutRsts: 1, EstabResets: 1 } });
  });

  it('keepalive: an answer to a probe keeps the connection; the next probe waits a full idle time', async () => {
    const { h, p, sock, errors } = established({ config: { tcp: { keepaliveIntvlMs: 1000, keepaliveProbes: 3 } } });
    sock.setKeepAlive(true, 5000);
    const first = p.nextTx(10_000)!;
    expect(first.segs[0]!.flags).toBe('.');
    p.send({ flags: TCP_ACK }); // the peer answers the probe
    const next = p.nextTx(10_000)!;
    expect(next.at - first.at).toBe(5000);
    await settleH(h);
    expect(errors).toEqual([]);
    expect(connState(h)).toBe('ESTABLISHED');
  });
});
