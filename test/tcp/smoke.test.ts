import { describe, expect, it } from 'vitest';
import { pair, settle } from './pair.js';

describe('TCP between two stacks', () => {
  it('connects, echoes, and closes', async () => {
    const p = pair();
    const server = p.b.tcp.createServer((s) => s.pipe(s));
    server.listen(7);
    await settle(p);
    const c = p.a.tcp.connect({ port: 7, host: '192.168.69.2' });
    const got: Buffer[] = [];
    c.on('data', (d: Buffer) => got.push(d));
    const connected = new Promise((r) => c.once('connect', r));
    await settle(p);
    p.run(1000);
    await connected;
    c.write('hello over tapstack');
    await settle(p);
    p.run(1000);
    await settle(p);
    expect(Buffer.concat(got).toString()).toBe('hello over tapstack');
    c.end();
    await settle(p, 10);
    p.run(1000);
    await settle(p, 10);
    expect(p.a.tcpConnections().map((c) => c.state)).toEqual(['TIME-WAIT']);
    expect(p.b.tcpConnections()).toEqual([]);
  });
});

describe('TIME-WAIT is bounded', () => {
  it('past tcp_max_tw_buckets a closing connection skips TIME-WAIT (TCPTimeWaitOverflow)', async () => {
    const p = pair({ config: { tcp: { maxTwBuckets: 1 } } });
    p.b.tcp.createServer((s) => s.resume()).listen(9);
    await settle(p);
    for (let i = 0; i < 2; i++) {
      const c = p.a.tcp.connect({ port: 9, host: '192.168.69.2' });
      await settle(p);
      p.run(1000);
      c.end();
      await settle(p, 10);
      p.run(1000);
      await settle(p, 10);
    }
    expect(p.a.tcpConnections().map((c) => c.state)).toEqual(['TIME-WAIT']);
    expect(p.a.counters().TcpExt.TCPTimeWaitOverflow).toBe(1);
    p.advance(60_000);
    expect(p.a.tcpConnections()).toEqual([]);
  });
});
