/**
 * Closing (RFC 9293 §3.6 and the FIN check of §3.10.7.4): the active close through
 * FIN-WAIT-1, FIN-WAIT-2 and TIME-WAIT (2·MSL), the passive close through CLOSE-WAIT and
 * LAST-ACK, the simultaneous close through CLOSING, half-close, FIN retransmission,
 * TIME-WAIT's rules (RFC 1337, §3.10.7.4's SYN note / RFC 6191), and the aborts Linux
 * makes when the application closes with data unread or data arrives for a closed socket.
 */
import { describe, expect, it } from 'vitest';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../src/wire/tcp.js';
import { bytes } from '../helpers/packets.js';
import { connState, counterDelta, dataSegs, established, settleH, type Estab } from './segments.js';

/** Our side has sent its FIN (sock.end()); returns after the peer saw it. */
async function ourFin(e: Estab): Promise<void> {
  e.sock.end();
  await settleH(e.h, 1);
  const fin = e.p.expectOne();
  expect(fin.flags).toBe('F.');
  expect(fin.tcp.seq).toBe(e.p.rcvNxt);
}

/** Active close up to TIME-WAIT: our FIN, its ACK, the peer's FIN, our ACK. */
async function toTimeWait(e: Estab): Promise<void> {
  await ourFin(e);
  e.p.rcvNxt++;
  expect(e.p.send({ flags: TCP_ACK })).toBe('CONSUMED');
  expect(e.p.send({ flags: TCP_FIN | TCP_ACK })).toBe('CONSUMED');
  e.p.sndNxt++;
  expect(e.p.expectOne().tcp.ack).toBe(e.p.sndNxt);
  expect(connState(e.h)).toBe('TIME-WAIT');
}

describe('active close (RFC 9293 §3.6 case 1)', () => {
  it('ESTABLISHED → FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT → CLOSED after 2·MSL (60 s)', async () => {
    const e = established();
    const { h, p } = e;
    const d = counterDelta(h);
    const closed: string[] = [];
    e.sock.on('close', () => closed.push('close'));
    await ourFin(e);
    expect(connState(h)).toBe('FIN-WAIT-1');
    p.rcvNxt++;
    expect(p.send({ flags: TCP_ACK })).toBe('CONSUMED');
    p.expectNone();
    expect(connState(h)).toBe('FIN-WAIT-2');
    expect(p.send({ flags: TCP_FIN | TCP_ACK })).toBe('CONSUMED');
    p.sndNxt++;
    const ack = p.expectOne();
    expect([ack.flags, ack.tcp.seq, ack.tcp.ack]).toEqual(['.', p.rcvNxt, p.sndNxt]);
    expect(connState(h)).toBe('TIME-WAIT');
    await settleH(h);
    expect(closed).toEqual(['close']);
    h.advance(h.stack.config.tcp.timeWaitMs - 1);
    expect(connState(h)).toBe('TIME-WAIT');
    h.advance(1);
    expect(h.stack.tcpConnections()).toEqual([]);
    p.expectNone();
    expect(d()).toMatchObject({ TcpExt: { TW: 1 }, Tcp: { CurrEstab: -1 } });
    expect(d().Tcp.EstabResets).toBeUndefined();
  });

  it('a FIN that also ACKs our FIN goes from FIN-WAIT-1 straight to TIME-WAIT', async () => {
    const e = established();
    await ourFin(e);
    e.p.rcvNxt++;
    e.p.send({ flags: TCP_FIN | TCP_ACK });
    e.p.sndNxt++;
    expect(e.p.expectOne().tcp.ack).toBe(e.p.sndNxt);
    expect(connState(e.h)).toBe('TIME-WAIT');
  });

  it('the FIN is retransmitted when lost, with back-off (RetransSegs, TCPTimeouts)', async () => {
    const e = established();
    const d = counterDelta(e.h);
    const t0 = e.h.clock.now();
    await ourFin(e);
    const r1 = e.p.nextTx(10_000)!;
    const r2 = e.p.nextTx(10_000)!;
    for (const r of [r1, r2]) {
      expect(r.segs.map((s) => [s.flags, s.tcp.seq])).toEqual([['F.', e.p.rcvNxt]]);
    }
    expect(r2.at - r1.at).toBe(2 * (r1.at - t0));
    expect(d()).toMatchObject({ Tcp: { RetransSegs: 2 }, TcpExt: { TCPTimeouts: 2 } });
    e.p.rcvNxt++;
    e.p.send({ flags: TCP_ACK });
    expect(connState(e.h)).toBe('FIN-WAIT-2');
  });
});

describe('passive close (RFC 9293 §3.6 case 2) and half-close', () => {
  it('the peer\'s FIN → ACK, CLOSE-WAIT; the socket ends its side → FIN, LAST-ACK; its ACK → CLOSED', async () => {
    const e = established();
    const { h, p } = e;
    const events: string[] = [];
    e.sock.on('end', () => events.push('end'));
    e.sock.on('close', () => events.push('close'));
    expect(p.send({ flags: TCP_FIN | TCP_ACK })).toBe('CONSUMED');
    p.sndNxt++;
    const ack = p.expectOne();
    expect([ack.flags, ack.tcp.ack]).toEqual(['.', p.sndNxt]);
    expect(connState(h)).toBe('CLOSE-WAIT');
    // Node's default (allowHalfOpen false): the socket ends its writable side after 'end'.
    await settleH(h);
    const fin = p.expectOne();
    expect([fin.flags, fin.tcp.seq, fin.tcp.ack]).toEqual(['F.', p.rcvNxt, p.sndNxt]);
    expect(connState(h)).toBe('LAST-ACK');
    const d = counterDelta(h);
    p.rcvNxt++;
    expect(p.send({ flags: TCP_ACK })).toBe('CONSUMED');
    p.expectNone();
    expect(h.stack.tcpConnections()).toEqual([]);
    await settleH(h);
    expect(events).toEqual(['end', 'close']);
    expect(d().Tcp).toEqual({ InSegs: 1 });
    expect(h.stack.counters().Tcp.CurrEstab).toBe(0); // it left ESTABLISHED/CLOSE-WAIT at our FIN
  });

  it('LAST-ACK: the FIN is retransmitted until ACKed', async () => {
    const e = established();
    e.p.send({ flags: TCP_FIN | TCP_ACK });
    e.p.sndNxt++;
    await settleH(e.h);
    e.p.take();
    const r = e.p.nextTx(10_000)!;
    expect(r.segs.map((s) => s.flags)).toEqual(['F.']);
    expect(connState(e.h)).toBe('LAST-ACK');
  });

  it('half-close (allowHalfOpen): after the peer\'s FIN our side keeps sending, then closes', async () => {
    const e = established({ server: { allowHalfOpen: true } });
    const { h, p, sock } = e;
    let ended = false;
    sock.on('end', () => (ended = true));
    p.send({ flags: TCP_FIN | TCP_ACK });
    p.sndNxt++;
    p.take();
    await settleH(h);
    expect(ended).toBe(true);
    expect(connState(h)).toBe('CLOSE-WAIT');
    p.expectNone(); // no FIN of ours yet
    sock.write(Buffer.from('still talking'));
    await settleH(h, 1);
    const data = dataSegs(p.take());
    expect(Buffer.from(data[0]!.payload).toString()).toBe('still talking');
    expect(data[0]!.tcp.ack).toBe(p.sndNxt);
    p.rcvNxt += 13;
    p.send({ flags: TCP_ACK });
    sock.end();
    await settleH(h, 1);
    expect(p.expectOne().flags).toBe('F.');
    expect(connState(h)).toBe('LAST-ACK');
  });
});

describe('simultaneous close (RFC 9293 §3.6 case 3)', () => {
  it('FIN-WAIT-1 + the peer\'s FIN (not ACKing ours) → CLOSING; the ACK of our FIN → TIME-WAIT', async () => {
    const e = established();
    const { h, p } = e;
    await ourFin(e);
    expect(p.send({ flags: TCP_FIN | TCP_ACK })).toBe('CONSUMED'); // ack = our FIN's seq: not ACKed
    p.sndNxt++;
    const ack = p.expectOne();
    expect(ack.tcp.ack).toBe(p.sndNxt);
    expect(connState(h)).toBe('CLOSING');
    p.rcvNxt++;
    expect(p.send({ flags: TCP_ACK })).toBe('CONSUMED');
    expect(connState(h)).toBe('TIME-WAIT');
  });
});

describe('TIME-WAIT', () => {
  it('a RST is ignored (RFC 1337 TIME-WAIT assassination)', async () => {
    const e = established();
    await toTimeWait(e);
    const d = counterDelta(e.h);
    expect(e.p.send({ flags: TCP_RST })).toBe('TCP_RESET');
    e.p.expectNone();
    expect(connState(e.h)).toBe('TIME-WAIT');
    expect(d().drops).toEqual({ TCP_RESET: 1 });
  });

  it('a retransmitted FIN is ACKed again and restarts the 2·MSL timer', async () => {
    const e = established();
    const { h, p } = e;
    await toTimeWait(e);
    h.advance(30_000);
    expect(p.send({ flags: TCP_FIN | TCP_ACK, seq: p.sndNxt - 1 })).toBe('CONSUMED');
    expect(p.expectOne().tcp.ack).toBe(p.sndNxt);
    h.advance(59_999);
    expect(connState(h)).toBe('TIME-WAIT'); // would have ended at 60 s without the restart
    h.advance(1);
    expect(h.stack.tcpConnections()).toEqual([]);
  });

  it('a pure ACK is taken silently (TCPACKSkippedTimeWait)', async () => {
    const e = established();
    await toTimeWait(e);
    const d = counterDelta(e.h);
    expect(e.p.send({ flags: TCP_ACK })).toBe('CONSUMED');
    e.p.expectNone();
    expect(d().TcpExt).toEqual({ TCPACKSkippedTimeWait: 1 });
  });

  it('a new SYN with a higher sequence number (and newer timestamp) reopens the port', async () => {
    const e = established();
    const { h, p } = e;
    await toTimeWait(e);
    h.advance(1000);
    const seq = (p.sndNxt + 100_000) >>> 0;
    expect(p.send({ flags: TCP_SYN, seq, mss: 1460, ts: [p.tsVal(), 0] })).toBe('CONSUMED');
    const sa = p.expectOne();
    expect([sa.flags, sa.tcp.ack]).toEqual(['S.', (seq + 1) >>> 0]);
    expect(connState(h)).toBe('SYN-RECEIVED');
  });

  it('an old SYN (not newer) does not reopen it: it is answered with an ACK', async () => {
    const e = established();
    const { h, p } = e;
    await toTimeWait(e);
    const d = counterDelta(h);
    expect(p.send({ flags: TCP_SYN, seq: p.iss, ts: [p.tsVal(), 0] })).not.toBe('CONSUMED');
    const r = p.expectOne();
    expect([r.flags, r.tcp.ack]).toEqual(['.', p.sndNxt]);
    expect(connState(h)).toBe('TIME-WAIT');
    expect(d().Tcp.PassiveOpens).toBeUndefined();
  });
});

describe('aborts (RFC 9293 §3.10.4 CLOSE with data pending, RFC 2525 §2.17)', () => {
  it('destroy() with unread data → RST, not FIN (TCPAbortOnClose); the connection is gone', async () => {
    const e = established({ collect: false });
    const { h, p, sock } = e;
    p.sendData(bytes(100));
    p.take();
    const d = counterDelta(h);
    sock.destroy();
    await settleH(h);
    const rst = p.expectOne();
    expect(rst.flags).toMatch(/^R/);
    expect(rst.tcp.seq).toBe(p.rcvNxt);
    expect(h.stack.tcpConnections()).toEqual([]);
    expect(d()).toMatchObject({ TcpExt: { TCPAbortOnClose: 1 }, Tcp: { OutRsts: 1 } });
  });

  // Linux's active resets (tcp_send_active_reset) carry ACK: flags RST|ACK, ack = rcv.nxt. Ours
  // (tcp.ts abort → sendReset(…, tcb.sndNxt, 0, false)) has no ACK flag. Both are accepted by
  // RFC 9293 §3.10.7.4 (a RST is checked on its sequence number); Linux adds the ACK.
  it('the abort RST carries ACK = rcv.nxt, as Linux tcp_send_active_reset', async () => {
    const e = established({ collect: false });
    e.p.sendData(bytes(100));
    e.p.take();
    e.sock.destroy();
    await settleH(e.h);
    const rst = e.p.expectOne();
    expect([rst.flags, rst.tcp.ack]).toEqual(['R.', e.p.sndNxt]);
  });

  it('data for a closed (orphaned) socket → RST (TCPAbortOnData, TCP_ABORT_ON_DATA)', async () => {
    const e = established();
    const { h, p, sock } = e;
    sock.destroy(); // nothing unread: a graceful FIN, then nobody reads
    await settleH(h);
    expect(p.expectOne().flags).toBe('F.');
    expect(connState(h)).toBe('FIN-WAIT-1');
    const d = counterDelta(h);
    expect(p.sendData(bytes(10))).toBe('TCP_ABORT_ON_DATA');
    expect(p.expectOne().flags).toMatch(/^R/);
    expect(h.stack.tcpConnections()).toEqual([]);
    expect(d()).toMatchObject({ TcpExt: { TCPAbortOnData: 1 }, Tcp: { OutRsts: 1 }, drops: { TCP_ABORT_ON_DATA: 1 } });
  });

  it('FIN-WAIT-2 of an orphan ends after tcp_fin_timeout', async () => {
    const e = established({ config: { tcp: { finTimeoutMs: 30_000 } } });
    const { h, p, sock } = e;
    sock.destroy();
    await settleH(h);
    p.expectOne();
    p.rcvNxt++;
    p.send({ flags: TCP_ACK });
    expect(connState(h)).toBe('FIN-WAIT-2');
    h.advance(29_999);
    expect(connState(h)).toBe('FIN-WAIT-2');
    h.advance(1);
    expect(h.stack.tcpConnections()).toEqual([]);
  });

  it('FIN-WAIT-2 of a socket still open for reading waits for the peer as long as it takes', async () => {
    const e = established({ config: { tcp: { finTimeoutMs: 30_000 } } });
    await ourFin(e);
    e.p.rcvNxt++;
    e.p.send({ flags: TCP_ACK });
    e.h.advance(600_000);
    expect(connState(e.h)).toBe('FIN-WAIT-2');
  });
});
