/**
 * RFC 9293 §3.10.7.2, SEGMENT ARRIVES in state LISTEN; the SYN-ACK's options (RFC 9293 §3.7.1
 * MSS, RFC 7323 window scale and timestamps, RFC 2018 SACK-permitted); the SYN and accept
 * queues and SYN cookies (RFC 4987 §3.6) as Linux runs them.
 */
import { describe, expect, it } from 'vitest';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG } from '../../src/wire/tcp.js';
import { bytes, type Harness } from '../helpers/packets.js';
import type { TcpSocket } from '../../src/user/net.js';
import { TcpPeer, tcpHarness, counterDelta, connState, settleH } from './segments.js';

const PORT = 80;

function listening(config: Parameters<typeof tcpHarness>[0] = {}, backlog?: number): { h: Harness; accepted: TcpSocket[] } {
  const h = tcpHarness(config);
  const accepted: TcpSocket[] = [];
  h.stack.tcp.createServer((s) => accepted.push(s)).listen({ port: PORT, ...(backlog !== undefined && { backlog }) });
  return { h, accepted };
}

/** The window scale we should offer: the smallest shift that fits the receive buffer in 16 bits (RFC 7323 §2.3). */
function expectedWscale(h: Harness): number {
  let s = 0;
  while (h.stack.config.tcp.rmem >>> s > 0xffff) s++;
  return s;
}

describe('LISTEN (RFC 9293 §3.10.7.2)', () => {
  it('answers a SYN with SYN-ACK carrying MSS, SACK-permitted, timestamps (TSecr = peer TSval) and window scale', () => {
    const { h } = listening();
    const p = new TcpPeer(h, { port: PORT, iss: 4242 });
    const d = counterDelta(h);
    expect(p.send({ flags: TCP_SYN, mss: 1460, sackPermitted: true, ts: [123456, 0], wscale: 7 })).toBe('CONSUMED');
    const sa = p.expectOne();
    expect(sa.flags).toBe('S.');
    expect(sa.tcp.ack).toBe(4243);
    expect(sa.tcp.mss).toBe(1460); // MTU 1500 − 40
    expect(sa.tcp.sackPermitted).toBe(true);
    expect(sa.tcp.hasTimestamp).toBe(true);
    expect(sa.tcp.tsEcr).toBe(123456);
    expect(sa.tcp.wscale).toBe(expectedWscale(h));
    // A SYN's window is never scaled (RFC 7323 §2.2).
    expect(sa.tcp.window).toBe(Math.min(h.stack.config.tcp.rmem, 0xffff));
    // Linux's layout: mss, sackOK+TS, nop, wscale — 20 bytes of options.
    expect(sa.tcp.headerLen).toBe(40);
    expect(connState(h)).toBe('SYN-RECEIVED');
    expect(d()).toEqual({ Tcp: { InSegs: 1, OutSegs: 1 }, TcpExt: {}, drops: {} });
  });

  it('the MSS offered follows the link MTU', () => {
    const h = tcpHarness({ mtu: 1280 });
    h.stack.tcp.createServer().listen(PORT);
    const p = new TcpPeer(h, { port: PORT });
    p.send({ flags: TCP_SYN, mss: 1460 });
    expect(p.expectOne().tcp.mss).toBe(1240);
  });

  it.each([
    ['no window scale', { wscale: undefined }, (t: { wscale: number }) => expect(t.wscale).toBe(-1)],
    ['no SACK-permitted', { sackPermitted: undefined }, (t: { sackPermitted: boolean }) => expect(t.sackPermitted).toBe(false)],
    ['no timestamps', { ts: undefined }, (t: { hasTimestamp: boolean }) => expect(t.hasTimestamp).toBe(false)],
  ] as const)('echoes an option only if the SYN offered it: %s', (_name, omit, check) => {
    const { h } = listening();
    const p = new TcpPeer(h, { port: PORT });
    p.send({ flags: TCP_SYN, mss: 1460, sackPermitted: true, ts: [1, 0], wscale: 7, ...omit });
    const sa = p.expectOne();
    expect(sa.tcp.mss).toBe(1460);
    check(sa.tcp as never);
  });

  it('a bare SYN gets a bare SYN-ACK: MSS only', () => {
    const { h } = listening();
    const p = new TcpPeer(h, { port: PORT });
    p.send({ flags: TCP_SYN });
    const sa = p.expectOne();
    expect([sa.tcp.mss, sa.tcp.wscale, sa.tcp.sackPermitted, sa.tcp.hasTimestamp]).toEqual([1460, -1, false, false]);
    expect(sa.tcp.headerLen).toBe(24);
  });

  it('ignores a RST (RFC 9293 §3.10.7.2 first check)', () => {
    const { h } = listening();
    const p = new TcpPeer(h, { port: PORT });
    const d = counterDelta(h);
    expect(p.send({ flags: TCP_RST, seq: 5 })).toBe('TCP_RESET');
    expect(p.send({ flags: TCP_RST | TCP_ACK, seq: 5, ack: 6 })).toBe('TCP_RESET');
    p.expectNone();
    expect(d()).toEqual({ Tcp: { InSegs: 2 }, TcpExt: {}, drops: { TCP_RESET: 2 } });
    expect(h.stack.tcpConnections()).toEqual([]);
  });

  it('answers an ACK with RST seq = SEG.ACK (second check)', () => {
    const { h } = listening();
    const p = new TcpPeer(h, { port: PORT });
    const d = counterDelta(h);
    expect(p.send({ flags: TCP_ACK, seq: 5, ack: 0x1234_5678 })).not.toBe('CONSUMED');
    const rst = p.expectOne();
    expect([rst.flags, rst.tcp.seq]).toEqual(['R', 0x1234_5678]);
    expect(d().Tcp).toEqual({ InSegs: 1, OutSegs: 1, OutRsts: 1 });
    // No cookie was ever sent, so this is not a cookie failure.
    expect(d().TcpExt.SyncookiesFailed).toBeUndefined();
  });

  it('drops a segment with neither SYN, ACK nor RST (third check: "drop the segment")', () => {
    const { h } = listening();
    const p = new TcpPeer(h, { port: PORT });
    expect(p.send({ flags: 0, seq: 5, data: bytes(3) })).toBe('TCP_FLAGS');
    p.expectNone();
  });

  it('drops SYN+FIN and the FIN / NULL / Xmas scans without an answer, as Linux', () => {
    const { h } = listening();
    const p = new TcpPeer(h, { port: PORT });
    for (const flags of [TCP_SYN | TCP_FIN, TCP_FIN, 0, TCP_FIN | TCP_PSH | TCP_URG]) {
      expect(p.send({ flags, seq: 5 })).toBe('TCP_FLAGS');
    }
    p.expectNone();
    expect(connState(h)).toBeUndefined();
  });

  it('completes the handshake: ACK → ESTABLISHED and the server gets the connection', () => {
    const { h, accepted } = listening();
    const p = new TcpPeer(h, { port: PORT });
    const d = counterDelta(h);
    p.connect();
    expect(accepted).toHaveLength(1);
    expect(accepted[0]!.remotePort).toBe(p.peerPort);
    expect(connState(h)).toBe('ESTABLISHED');
    expect(d().Tcp).toMatchObject({ PassiveOpens: 1, CurrEstab: 1 });
  });
});

describe('LISTEN: the SYN queue, the accept queue and SYN cookies', () => {
  it('SYN queue full, no cookies: the SYN is dropped (TCPReqQFullDrop, ListenDrops)', () => {
    const { h } = listening({ config: { tcp: { syncookies: false } } }, 2);
    for (const port of [1001, 1002]) {
      new TcpPeer(h, { port: PORT, peerPort: port }).send({ flags: TCP_SYN });
    }
    h.tx();
    const d = counterDelta(h);
    const p = new TcpPeer(h, { port: PORT, peerPort: 1003 });
    expect(p.send({ flags: TCP_SYN })).toBe('X_TCP_LISTEN_OVERFLOW');
    p.expectNone();
    expect(d()).toEqual({ Tcp: { InSegs: 1 }, TcpExt: { TCPReqQFullDrop: 1, ListenDrops: 1 }, drops: { X_TCP_LISTEN_OVERFLOW: 1 } });
    expect(h.stack.tcpConnections()).toHaveLength(2);
  });

  it('accept queue full: a new SYN is dropped (ListenOverflows, ListenDrops)', () => {
    const { h } = listening({}, 1);
    // The handshake completes, but the application has not accepted yet: no wake-up between segments.
    const a = new TcpPeer(h, { port: PORT, peerPort: 1001 });
    expect(h.input(a.frame({ flags: TCP_SYN }))).toBe('CONSUMED');
    a.learnSyn(a.expectOne());
    a.sndNxt++;
    expect(h.input(a.frame({ flags: TCP_ACK }))).toBe('CONSUMED');
    const d = counterDelta(h);
    const b = new TcpPeer(h, { port: PORT, peerPort: 1002 });
    expect(h.input(b.frame({ flags: TCP_SYN }))).toBe('X_TCP_LISTEN_OVERFLOW');
    b.expectNone();
    expect(d()).toEqual({ Tcp: { InSegs: 1 }, TcpExt: { ListenOverflows: 1, ListenDrops: 1 }, drops: { X_TCP_LISTEN_OVERFLOW: 1 } });
  });

  it('accept queue full when the ACK arrives: the ACK is dropped, the request kept, and the SYN-ACK retransmission completes it', () => {
    const { h, accepted } = listening({}, 2);
    const peers = [1001, 1002, 1003].map((port) => new TcpPeer(h, { port: PORT, peerPort: port }));
    const [a, b, c] = peers as [TcpPeer, TcpPeer, TcpPeer];
    for (const p of [a, b]) {
      expect(h.input(p.frame({ flags: TCP_SYN }))).toBe('CONSUMED');
      p.learnSyn(p.expectOne());
      p.sndNxt++;
    }
    expect(h.input(a.frame({ flags: TCP_ACK }))).toBe('CONSUMED');
    expect(h.input(c.frame({ flags: TCP_SYN }))).toBe('CONSUMED');
    c.learnSyn(c.expectOne());
    c.sndNxt++;
    expect(h.input(b.frame({ flags: TCP_ACK }))).toBe('CONSUMED');
    const d = counterDelta(h);
    expect(h.input(c.frame({ flags: TCP_ACK }))).toBe('X_TCP_LISTEN_OVERFLOW');
    expect(d().TcpExt).toEqual({ ListenOverflows: 1, ListenDrops: 1 });
    h.rx(); // the application accepts what is queued
    expect(accepted).toHaveLength(2);
    expect(h.stack.tcpConnections().filter((x) => x.state === 'SYN-RECEIVED')).toHaveLength(1);
    // The SYN-ACK comes again after the initial RTO; the peer's ACK is taken this time.
    const re = c.nextTx(1500)!;
    expect(re.at).toBe(1000);
    expect(re.segs.map((s) => s.flags)).toEqual(['S.']);
    expect(c.send({ flags: TCP_ACK })).toBe('CONSUMED');
    expect(accepted).toHaveLength(3);
  });

  it('SYN queue full with cookies: SYN-ACK with a cookie, and its ACK makes an ESTABLISHED connection', async () => {
    const { h, accepted } = listening({}, 1);
    new TcpPeer(h, { port: PORT, peerPort: 1001 }).send({ flags: TCP_SYN }); // fills the SYN queue
    h.tx();
    const d = counterDelta(h);
    const p = new TcpPeer(h, { port: PORT, peerPort: 1002 });
    const sa = p.connect({ mss: 1300, wscale: 7, sackPermitted: true });
    expect(d()).toMatchObject({
      TcpExt: { TCPReqQFullDoCookies: 1, SyncookiesSent: 1, SyncookiesRecv: 1 },
      Tcp: { PassiveOpens: 1, CurrEstab: 1 },
    });
    // A cookie listener keeps nothing: the SYN-ACK still carries the options the SYN offered.
    expect([sa.tcp.mss, sa.tcp.sackPermitted, sa.tcp.hasTimestamp, sa.tcp.wscale]).toEqual([1460, true, true, expectedWscale(h)]);
    expect(accepted).toHaveLength(1);
    expect(h.stack.tcpConnections().find((c) => c.remote.endsWith(':1002'))!.state).toBe('ESTABLISHED');
    p.take();

    // What came back from the cookie and the timestamp: MSS 1300 (less 12 for timestamps),
    // the peer's window scale 7, our window scale, SACK.
    const sock = accepted[0]!;
    sock.write(Buffer.from(bytes(5000)));
    await settleH(h);
    const data = p.take().filter((s) => s.payload.length > 0);
    expect(data[0]!.payload.length).toBe(1300 - 12);
    expect(data[0]!.tcp.window).toBe(h.stack.config.tcp.rmem >>> expectedWscale(h));

    // SACK: out-of-order data is answered with SACK blocks.
    const ooo = p.send({ flags: TCP_ACK, seq: p.sndNxt + 100, data: bytes(50), ack: p.rcvNxt });
    expect(ooo).toBe('CONSUMED');
    const dup = p.take().at(-1)!;
    expect(dup.sack).toEqual([[(p.sndNxt + 100) >>> 0, (p.sndNxt + 150) >>> 0]]);
  });

  it('the peer window scale survives a cookie: a window field of 8 means 1024 bytes', async () => {
    const { h, accepted } = listening({}, 1);
    new TcpPeer(h, { port: PORT, peerPort: 1001 }).send({ flags: TCP_SYN });
    h.tx();
    const p = new TcpPeer(h, { port: PORT, peerPort: 1002 });
    p.connect({ wscale: 7 }, { window: 8 });
    p.take();
    accepted[0]!.write(Buffer.from(bytes(5000)));
    await settleH(h);
    const sent = p.take().reduce((n, s) => n + s.payload.length, 0);
    expect(sent).toBe(1024);
  });

  it('without timestamps a cookie cannot carry options: no window scale and no SACK on the connection', async () => {
    const { h, accepted } = listening({}, 1);
    new TcpPeer(h, { port: PORT, peerPort: 1001 }).send({ flags: TCP_SYN });
    h.tx();
    const p = new TcpPeer(h, { port: PORT, peerPort: 1002 });
    p.connect({ ts: undefined, wscale: 7, mss: 1460 }, { window: 8 });
    p.take();
    accepted[0]!.write(Buffer.from(bytes(100)));
    await settleH(h);
    const segs = p.take();
    expect(segs.reduce((n, s) => n + s.payload.length, 0)).toBe(8); // the window field is bytes, unscaled
    expect(segs[0]!.tcp.window).toBe(0xffff);
    p.send({ flags: TCP_ACK, seq: p.sndNxt + 100, data: bytes(50), ack: p.rcvNxt, window: 8 });
    expect(p.take().at(-1)!.sack).toEqual([]);
  });

  it('a forged cookie ACK fails: SyncookiesFailed, a RST, no connection', () => {
    const { h } = listening({}, 1);
    new TcpPeer(h, { port: PORT, peerPort: 1001 }).send({ flags: TCP_SYN });
    const p = new TcpPeer(h, { port: PORT, peerPort: 1002 });
    p.send({ flags: TCP_SYN }); // overflows: a cookie is sent, so cookie ACKs are being checked
    h.tx();
    const d = counterDelta(h);
    expect(p.send({ flags: TCP_ACK, seq: p.iss + 1, ack: 0x0bad_c0de })).toBe('X_TCP_SYNCOOKIE');
    const rst = p.expectOne();
    expect([rst.flags, rst.tcp.seq]).toEqual(['R', 0x0bad_c0de]);
    expect(d()).toEqual({
      Tcp: { InSegs: 1, OutSegs: 1, OutRsts: 1 }, TcpExt: { SyncookiesFailed: 1 }, drops: { X_TCP_SYNCOOKIE: 1 },
    });
    expect(h.stack.tcpConnections()).toHaveLength(1); // only the half-open one from port 1001
  });

  it('a cookie ACK with a different ISN (seq) fails too', () => {
    const { h } = listening({}, 1);
    new TcpPeer(h, { port: PORT, peerPort: 1001 }).send({ flags: TCP_SYN });
    h.tx();
    const p = new TcpPeer(h, { port: PORT, peerPort: 1002 });
    p.send({ flags: TCP_SYN });
    const sa = p.expectOne();
    expect(p.send({ flags: TCP_ACK, seq: p.iss + 2, ack: sa.tcp.seq + 1 })).toBe('X_TCP_SYNCOOKIE');
  });
});
