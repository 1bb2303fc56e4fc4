/**
 * RFC 9293 §3.10.7.4 in state SYN-RECEIVED (a passive open after our SYN-ACK): the SYN-ACK's
 * retransmission (RFC 6298 §5.5 back-off, Linux tcp_synack_retries), a duplicate SYN, the
 * ACK that completes the handshake (with data or FIN on it), and a RST that sends the
 * request back to LISTEN (§3.10.7.4 second check).
 */
import { describe, expect, it } from 'vitest';
import type { TcpSocket } from '../../src/user/net.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../src/wire/tcp.js';
import { bytes, type Harness } from '../helpers/packets.js';
import { TcpPeer, connState, counterDelta, settleH, tcpHarness, type TcpOut } from './segments.js';

const PORT = 80;

/** A listener on PORT, and a peer whose SYN has been answered: the request is in SYN-RECEIVED. */
function synReceived(): { h: Harness; p: TcpPeer; synAck: TcpOut; accepted: TcpSocket[] } {
  const h = tcpHarness();
  const accepted: TcpSocket[] = [];
  h.stack.tcp.createServer((s) => accepted.push(s)).listen(PORT);
  const p = new TcpPeer(h, { port: PORT });
  expect(p.send({ flags: TCP_SYN, mss: 1460, sackPermitted: true, wscale: 7, ts: [p.tsVal(), 0] })).toBe('CONSUMED');
  const synAck = p.expectOne();
  p.learnSyn(synAck);
  p.sndNxt = (p.iss + 1) >>> 0;
  p.tsOk = true;
  expect(connState(h)).toBe('SYN-RECEIVED');
  return { h, p, synAck, accepted };
}

describe('SYN-RECEIVED (RFC 9293 §3.10.7.4)', () => {
  it('retransmits the SYN-ACK after 1, 2, 4, 8, 16 s, then forgets the request after tcp_synack_retries', () => {
    const { h, p, synAck } = synReceived();
    const d = counterDelta(h);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = p.nextTx(100_000)!;
      expect(r.segs.map((s) => s.flags)).toEqual(['S.']);
      expect(r.segs[0]!.tcp.seq).toBe(synAck.tcp.seq);
      expect(r.segs[0]!.tcp.ack).toBe(synAck.tcp.ack);
      expect(r.segs[0]!.tcp.mss).toBe(1460);
      times.push(r.at);
    }
    expect(times).toEqual([1000, 3000, 7000, 15000, 31000]);
    // The last one waits 32 s; then the request is dropped without a RST (Linux reqsk timer).
    expect(p.nextTx(100_000)).toBeUndefined();
    expect(h.stack.tcpConnections()).toEqual([]);
    expect(d().Tcp).toMatchObject({ OutSegs: 5, RetransSegs: 5 });
    expect(d().Tcp.OutRsts).toBeUndefined();
  });

  // Linux counts every SYN-ACK retransmission in TCPSynRetrans (tcp_rtx_synack).
  it('counts SYN-ACK retransmissions in TCPSynRetrans, as Linux tcp_rtx_synack', () => {
    const { h, p } = synReceived();
    const d = counterDelta(h);
    p.nextTx(2000);
    expect(d().TcpExt.TCPSynRetrans).toBe(1);
  });

  // A plain ACK would not help a peer in SYN-SENT: Linux resends the SYN-ACK at once
  // (tcp_check_req: seq == rcv_isn && flags == SYN → inet_rtx_syn_ack).
  it('a duplicate SYN (the peer lost our SYN-ACK) gets the same SYN-ACK again', () => {
    const { h, p, synAck } = synReceived();
    const d = counterDelta(h);
    expect(p.send({ flags: TCP_SYN, seq: p.iss, mss: 1460, sackPermitted: true, wscale: 7, ts: [p.tsVal(), 0] })).toBe('CONSUMED');
    const again = p.expectOne();
    expect(again.flags).toBe('S.');
    expect([again.tcp.seq, again.tcp.ack]).toEqual([synAck.tcp.seq, synAck.tcp.ack]);
    expect([again.tcp.mss, again.tcp.sackPermitted, again.tcp.wscale]).toEqual([1460, true, synAck.tcp.wscale]);
    expect(d().Tcp).toEqual({ InSegs: 1, OutSegs: 1, RetransSegs: 1 });
    expect(connState(h)).toBe('SYN-RECEIVED');
  });

  it('the ACK of our SYN completes the handshake: ESTABLISHED, and the server gets the connection', () => {
    const { h, p, accepted } = synReceived();
    const d = counterDelta(h);
    expect(p.send({ flags: TCP_ACK })).toBe('CONSUMED');
    p.expectNone(); // a pure ACK is not answered
    expect(connState(h)).toBe('ESTABLISHED');
    expect(accepted).toHaveLength(1);
    // The server listens on :: (Node's default): an IPv4 peer shows in IPv4-mapped form, as in Node.
    expect(accepted[0]!.remoteAddress).toBe('::ffff:192.168.69.1');
    expect(accepted[0]!.remoteFamily).toBe('IPv6');
    expect(d().Tcp).toEqual({ InSegs: 1, PassiveOpens: 1, CurrEstab: 1 });
  });

  it('the handshake ACK is accepted after SYN-ACK retransmissions, and the timer stops', () => {
    const { h, p, accepted } = synReceived();
    p.nextTx(2000);
    p.nextTx(3000);
    expect(p.send({ flags: TCP_ACK })).toBe('CONSUMED');
    expect(accepted).toHaveLength(1);
    expect(p.nextTx(100_000)).toBeUndefined();
  });

  it('an ACK that does not acknowledge our SYN → RST seq = SEG.ACK; the request stays', () => {
    const { h, p, synAck } = synReceived();
    const d = counterDelta(h);
    const bad = (synAck.tcp.seq + 100) >>> 0;
    expect(p.send({ flags: TCP_ACK, ack: bad })).toBe('TCP_ACK_UNSENT_DATA');
    const rst = p.expectOne();
    expect([rst.flags, rst.tcp.seq]).toEqual(['R', bad]);
    expect(connState(h)).toBe('SYN-RECEIVED');
    expect(d().Tcp).toMatchObject({ OutRsts: 1 });
  });

  it('a RST at rcv.nxt sends the request back to LISTEN quietly (AttemptFails)', async () => {
    const { h, p, accepted } = synReceived();
    const d = counterDelta(h);
    expect(p.send({ flags: TCP_RST })).toBe('CONSUMED');
    p.expectNone();
    await settleH(h);
    expect(h.stack.tcpConnections()).toEqual([]);
    expect(accepted).toEqual([]);
    expect(d().Tcp).toEqual({ InSegs: 1, AttemptFails: 1 });
    // Still listening.
    const q = new TcpPeer(h, { port: PORT, peerPort: 40001 });
    q.send({ flags: TCP_SYN });
    expect(q.expectOne().flags).toBe('S.');
  });

  it('a RST in the window but not at rcv.nxt → challenge ACK (RFC 5961 §3.2); the request survives', () => {
    const { h, p } = synReceived();
    const d = counterDelta(h);
    expect(p.send({ flags: TCP_RST, seq: p.sndNxt + 10 })).toBe('TCP_RESET');
    const ack = p.expectOne();
    expect(ack.flags).toBe('.');
    expect(ack.tcp.ack).toBe(p.sndNxt);
    expect(d().TcpExt).toEqual({ TCPChallengeACK: 1 });
    expect(connState(h)).toBe('SYN-RECEIVED');
  });

  it('data on the handshake ACK is delivered to the accepted socket and ACKed', async () => {
    const { h, p, accepted } = synReceived();
    const got: Buffer[] = [];
    expect(p.sendData(bytes(100), { flags: TCP_ACK | TCP_PSH })).toBe('CONSUMED');
    expect(accepted).toHaveLength(1);
    accepted[0]!.on('data', (b: Buffer) => got.push(b));
    await settleH(h);
    expect(Buffer.concat(got)).toEqual(Buffer.from(bytes(100)));
    const acks = p.take();
    expect(acks.at(-1)!.tcp.ack).toBe(p.sndNxt);
  });

  it('a FIN on the handshake ACK: ESTABLISHED then CLOSE-WAIT, the socket sees its end', async () => {
    const { h, p, accepted } = synReceived();
    expect(p.send({ flags: TCP_ACK | TCP_FIN })).toBe('CONSUMED');
    p.sndNxt++;
    const ack = p.expectOne();
    expect(ack.tcp.ack).toBe(p.sndNxt);
    expect(connState(h)).toBe('CLOSE-WAIT');
    let ended = false;
    accepted[0]!.on('end', () => (ended = true)).resume();
    await settleH(h);
    expect(ended).toBe(true);
  });

  it('a SYN in the window with another ISN → challenge ACK (RFC 5961 §4.2), request kept', () => {
    const { h, p } = synReceived();
    const d = counterDelta(h);
    expect(p.send({ flags: TCP_SYN, seq: p.sndNxt + 5 })).toBe('TCP_INVALID_SYN');
    expect(p.expectOne().flags).toBe('.');
    expect(d().TcpExt).toEqual({ TCPSYNChallenge: 1, TCPChallengeACK: 1 });
    expect(connState(h)).toBe('SYN-RECEIVED');
  });
});
