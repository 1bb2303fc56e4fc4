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
    console.log(p.a.tcpConnections(), p.b.tcpConnections(), p.a.drops(), p.b.drops());
  });
});
