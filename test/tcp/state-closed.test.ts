/**
 * RFC 9293 §3.10.7.1, SEGMENT ARRIVES in state CLOSED (no TCB, no listener): everything
 * but a RST is answered with a RST shaped so that the sender accepts it.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../src/wire/tcp.js';
import { bytes } from '../helpers/packets.js';
import { readPcap } from '../helpers/pcap-read.js';
import { TcpPeer, tcpHarness, counterDelta, decodeTcp } from './segments.js';

describe('CLOSED (RFC 9293 §3.10.7.1)', () => {
  it('answers a SYN with RST|ACK seq 0, ack SYN+1, window 0, no options', () => {
    const h = tcpHarness();
    const p = new TcpPeer(h, { port: 81 });
    const d = counterDelta(h);
    expect(p.send({ flags: TCP_SYN, seq: 12345, mss: 1460, sackPermitted: true, wscale: 7, ts: [1, 0] })).toBe('NO_SOCKET');
    const rst = p.expectOne();
    expect(rst.flags).toBe('R.');
    expect(rst.tcp.seq).toBe(0);
    expect(rst.tcp.ack).toBe(12346);
    expect(rst.tcp.window).toBe(0);
    expect(rst.tcp.headerLen).toBe(20);
    expect(rst.payload.length).toBe(0);
    expect(rst.tcp.srcPort).toBe(81);
    expect(rst.tcp.dstPort).toBe(p.peerPort);
    expect(d()).toEqual({ Tcp: { InSegs: 1, OutSegs: 1, OutRsts: 1 }, TcpExt: {}, drops: { NO_SOCKET: 1 } });
  });

  it('answers the captured Linux SYN with the RST Linux sent, byte for byte but IP ID and checksum', () => {
    const [syn, linuxRst] = readPcap(fileURLToPath(new URL('../fixtures/tcp4-closed-port-rst.pcap', import.meta.url))).map((r) => r.data);
    const h = tcpHarness();
    expect(h.input(syn!)).toBe('NO_SOCKET');
    const frames = h.tx();
    expect(frames).toHaveLength(1);
    const ours = frames[0]!;
    const theirs = linuxRst!;
    expect(ours.length).toBe(theirs.length);
    // Ethernet 0–13, IP ID at 18–19 and IP header checksum at 24–25 may differ (Linux uses ID 0 on a
    // DF RST; we may choose another): mask them, and every other byte, TCP checksum included, must match.
    const mask = (f: Uint8Array): number[] => [...f].map((b, i) => (i === 18 || i === 19 || i === 24 || i === 25 ? 0 : b));
    expect(mask(ours)).toEqual(mask(theirs));
    expect(decodeTcp(ours)!.flags).toBe('R.');
  });

  it('answers a SYN carrying data with ack = seq + 1 + data length (SEG.LEN counts SYN)', () => {
    const h = tcpHarness();
    const p = new TcpPeer(h, { port: 81 });
    p.send({ flags: TCP_SYN, seq: 100, data: bytes(10) });
    const rst = p.expectOne();
    expect([rst.flags, rst.tcp.seq, rst.tcp.ack]).toEqual(['R.', 0, 111]);
  });

  it('answers FIN without ACK with ack = seq + len + 1', () => {
    const h = tcpHarness();
    const p = new TcpPeer(h, { port: 81 });
    p.send({ flags: TCP_FIN, seq: 500, data: bytes(4) });
    const rst = p.expectOne();
    expect([rst.flags, rst.tcp.seq, rst.tcp.ack]).toEqual(['R.', 0, 505]);
  });

  it('answers an ACK with a RST of seq = SEG.ACK and no ACK flag', () => {
    const h = tcpHarness();
    const p = new TcpPeer(h, { port: 81 });
    const d = counterDelta(h);
    expect(p.send({ flags: TCP_ACK, seq: 777, ack: 0xdeadbeef, data: bytes(20) })).toBe('NO_SOCKET');
    const rst = p.expectOne();
    expect(rst.flags).toBe('R');
    expect(rst.tcp.seq).toBe(0xdeadbeef);
    expect(rst.tcp.ack).toBe(0);
    expect(rst.tcp.window).toBe(0);
    expect(d()).toEqual({ Tcp: { InSegs: 1, OutSegs: 1, OutRsts: 1 }, TcpExt: {}, drops: { NO_SOCKET: 1 } });
  });

  it('never answers a RST (with or without ACK)', () => {
    const h = tcpHarness();
    const p = new TcpPeer(h, { port: 81 });
    const d = counterDelta(h);
    expect(p.send({ flags: TCP_RST, seq: 1 })).toBe('NO_SOCKET');
    expect(p.send({ flags: TCP_RST | TCP_ACK, seq: 1, ack: 2 })).toBe('NO_SOCKET');
    p.expectNone();
    expect(d()).toEqual({ Tcp: { InSegs: 2 }, TcpExt: {}, drops: { NO_SOCKET: 2 } });
  });

  it('answers on a port whose listener was closed', () => {
    const h = tcpHarness();
    const server = h.stack.tcp.createServer().listen(81);
    server.close();
    const p = new TcpPeer(h, { port: 81 });
    expect(p.send({ flags: TCP_SYN, seq: 9 })).toBe('NO_SOCKET');
    expect(p.expectOne().flags).toBe('R.');
  });
});
