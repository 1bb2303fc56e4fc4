import { describe, expect, it } from 'vitest';
import { udpEcho } from '../../src/services/echo.js';
import { tcpEcho } from '../../src/services/tcp.js';
import { formatWalk, type PacketWalk } from '../../src/core/trace.js';
import { ETH_HLEN } from '../../src/wire/ethernet.js';
import { emitTcp } from '../../src/wire/tcp.js';
import { PEER, US, bytes, echoRequest, harness, ipv4Frame, udpFrame } from '../helpers/packets.js';

function syn(dstPort: number): Uint8Array {
  const seg = new Uint8Array(20);
  emitTcp({ srcPort: 40000, dstPort, seq: 1, ack: 0, flags: 0x02, window: 1000 }, {}, seg, 0, 0, PEER.ip, US.ip);
  return ipv4Frame(seg, { protocol: 6 });
}

describe('packet walk tracing', () => {
  it('follows an echo request through every stage and shows the reply it caused', () => {
    const h = harness();
    const walks: PacketWalk[] = [];
    h.stack.trace((w) => walks.push(w));
    h.input(ipv4Frame(echoRequest(7, 1, bytes(56))));
    expect(walks).toHaveLength(1);
    const w = walks[0]!;
    // The receive walk, then the reply's way out.
    expect(w.stages.map((s) => s.stage)).toEqual(['link', 'eth', 'ipv4', 'icmp', 'ip out', 'neigh', 'eth out']);
    expect(w.verdict).toBe('CONSUMED');
    expect(w.summary).toBe('ICMP 192.168.69.1 > 192.168.69.2 type 8 code 0 len 84');
    expect(w.sent).toEqual(['ICMP 192.168.69.2 > 192.168.69.1 type 0 code 0 len 84']);
    expect(formatWalk(w)).toContain('=> consumed');
  });

  it('shows where a packet was dropped and why', () => {
    const h = harness();
    const walks: PacketWalk[] = [];
    h.stack.trace((w) => walks.push(w));
    const bad = ipv4Frame(echoRequest(7, 1, bytes(8)));
    bad[ETH_HLEN + 10]! ^= 1;
    h.input(bad);
    expect(walks[0]!.stages.map((s) => s.stage)).toEqual(['link', 'eth', 'ipv4']);
    expect(formatWalk(walks[0]!)).toContain('=> dropped: IP_CSUM at ipv4');
  });

  it('reaches the socket queue for UDP and TCP data, and shows the SYN-ACK a SYN caused', () => {
    const h = harness();
    udpEcho(h.stack, 7);
    tcpEcho(h.stack, 7);
    const walks: PacketWalk[] = [];
    h.stack.trace((w) => walks.push(w));
    h.input(udpFrame(4000, 7, bytes(5)));
    h.input(syn(7));
    expect(walks[0]!.stages.map((s) => s.stage)).toEqual(['link', 'eth', 'ipv4', 'udp', 'socket']);
    expect(formatWalk(walks[0]!)).toContain('=> delivered to udp [::]:7');
    expect(walks[1]!.stages.map((s) => s.stage)).toEqual(['link', 'eth', 'ipv4', 'tcp', 'ip out', 'neigh', 'eth out']);
    expect(walks[1]!.sent).toEqual([expect.stringMatching(/^TCP 192\.168\.69\.2:7 > 192\.168\.69\.1:40000 \[S\.\]/)]);
  });

  it('traces only what the filter selects, and stops when asked', () => {
    const h = harness();
    const walks: PacketWalk[] = [];
    const stop = h.stack.trace((w) => walks.push(w), 'udp and dst port 9');
    h.input(ipv4Frame(echoRequest(7, 1, bytes(8))));
    h.input(udpFrame(4000, 8, bytes(5)));
    h.input(udpFrame(4000, 9, bytes(5)));
    expect(walks.map((w) => w.summary)).toEqual(['UDP 192.168.69.1:4000 > 192.168.69.2:9 len 5']);
    stop();
    h.input(udpFrame(4000, 9, bytes(5)));
    expect(walks).toHaveLength(1);
  });

  it('refuses a filter it cannot parse, saying why', () => {
    const h = harness();
    expect(() => h.stack.trace(() => {}, 'udp and port eighty')).toThrow(/"eighty" is not a port/);
    expect(() => h.stack.trace(() => {}, 'frobnicate')).toThrow(/unknown word "frobnicate"/);
  });
});

describe('capture with verdicts', () => {
  it('sees frames both ways, each received one with what became of it', () => {
    const h = harness();
    udpEcho(h.stack, 7);
    const seen: [string, string][] = [];
    const stop = h.stack.capture((_frame, dir, comment) => seen.push([dir, comment]), 'udp or icmp');
    h.rx(udpFrame(4000, 7, bytes(5)));
    h.input(udpFrame(4000, 9, bytes(5)));
    h.input(ipv4Frame(echoRequest(7, 1, bytes(8)), { dst: 0xc0a84503 }));
    stop();
    h.input(udpFrame(4000, 9, bytes(5)));
    expect(seen).toEqual([
      ['in', 'delivered (udp [::]:7)'],
      ['out', 'sent'], // the echo
      ['in', 'dropped: NO_SOCKET (udp)'],
      ['out', 'sent'], // the port unreachable
      ['in', 'dropped: IP_INADDRERRORS (ipv4)'],
    ]);
  });
});

describe('capture after a stage', () => {
  it('keeps only the received frames that got through it', () => {
    const h = harness();
    udpEcho(h.stack, 7);
    const seen: string[] = [];
    h.stack.capture((_f, dir, comment) => seen.push(`${dir} ${comment}`), '', 'udp');
    h.rx(udpFrame(4000, 7, bytes(5))); // delivered: through udp into the socket
    h.input(udpFrame(4000, 9, bytes(5))); // dropped at udp: not through it
    h.input(ipv4Frame(echoRequest(7, 1, bytes(8)))); // never reached udp
    expect(seen.filter((s) => s.startsWith('in'))).toEqual(['in delivered (udp [::]:7)']);
  });
});

describe('the last tracepoints: the answer going out, the application reading', () => {
  it('shows the transmit path of an answer and reports when the application reads the data', async () => {
    const h = harness();
    const sock = h.stack.udp.createSocket('udp4');
    sock.bind(5000);
    const walks: PacketWalk[] = [];
    const reads: { id: number; afterMs: number }[] = [];
    h.stack.trace((w) => walks.push(w), '', (r) => reads.push(r));
    h.input(ipv4Frame(echoRequest(7, 1, bytes(8))));
    expect(walks[0]!.stages.map((s) => s.stage)).toEqual(['link', 'eth', 'ipv4', 'icmp', 'ip out', 'neigh', 'eth out']);
    expect(walks[0]!.endStage).toBe('icmp');

    h.input(udpFrame(4000, 5000, bytes(5)));
    expect(reads).toEqual([]);
    h.clock.advance(7);
    expect(sock.recv()?.msg.length).toBe(5);
    expect(reads).toEqual([{ id: walks[1]!.id, afterMs: 7 }]);
  });

  it('reports the read of TCP data once the application has read its last byte', async () => {
    const { pair, settle } = await import('../tcp/pair.js');
    const p = pair();
    const got: Buffer[] = [];
    let server: import('../../src/user/net.js').TcpSocket | undefined;
    p.b.tcp.createServer((s) => {
      server = s;
      s.pause();
    }).listen(7);
    await settle(p);
    const c = p.a.tcp.connect({ port: 7, host: '192.168.69.2' });
    await settle(p);
    p.run(1000);
    await settle(p);
    const reads: number[] = [];
    const walks: PacketWalk[] = [];
    p.b.trace((w) => walks.push(w), 'tcp dst port 7', (r) => reads.push(r.id));
    c.write('hello');
    await settle(p);
    p.run(100);
    const data = walks.find((w) => w.socket !== undefined)!;
    expect(data.socket).toMatch(/^tcp 192\.168\.69\.2:7 < 192\.168\.69\.1:\d+$/);
    expect(reads).toEqual([]);
    server!.on('data', (d: Buffer) => got.push(d));
    server!.resume();
    await settle(p);
    expect(Buffer.concat(got).toString()).toBe('hello');
    expect(reads).toEqual([data.id]);
  });
});
