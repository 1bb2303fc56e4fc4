/**
 * The fixed responder (src/services/fixed.ts) on B, spoken to from A over tapstack's TCP
 * on a MemoryLink pair and a virtual clock: by Node's own HTTP client, and by hand with
 * the byte sequences load generators send (keep-alive, pipelining, HTTP/1.0 as `ab`
 * speaks it) and with requests it must refuse.
 */
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { FIXED_BODY_BYTES, FIXED_MAX_HEAD, fixedResponder } from '../../src/services/fixed.js';
import type { TcpSocket } from '../../src/user/net.js';
import { pair, settle, type Pair } from '../tcp/pair.js';

const PORT = 8080;
const HOST = '192.168.69.2';

/** Lets the socket layer react, then advances virtual time 1 ms at a time until `done()`. */
async function drive(p: Pair, done: () => boolean, maxMs = 2000): Promise<void> {
  for (let i = 0; i < maxMs; i++) {
    await settle(p);
    if (done()) return;
    p.advance(1);
  }
  throw new Error(`not done after ${maxMs} virtual ms`);
}

interface Response {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** Splits `text` into the responses it holds (bodies framed by Content-Length); the rest is left over. */
function responses(text: string, bodiless = new Set<number>()): { list: Response[]; rest: string } {
  const list: Response[] = [];
  let at = 0;
  for (;;) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const [statusLine, ...fields] = text.slice(at, end).split('\r\n');
    const headers = new Map(fields.map((f) => [f.slice(0, f.indexOf(':')).toLowerCase(), f.slice(f.indexOf(':') + 1).trim()]));
    const length = bodiless.has(list.length) ? 0 : Number(headers.get('content-length') ?? 0);
    if (text.length < end + 4 + length) break;
    list.push({ status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine!)?.[1]), headers, body: text.slice(end + 4, end + 4 + length) });
    at = end + 4 + length;
  }
  return { list, rest: text.slice(at) };
}

interface Client {
  p: Pair;
  sock: TcpSocket;
  /** Everything received so far, as latin1 text. */
  got(): string;
  /** The server finished its side (our 'end'). */
  ended(): boolean;
  /** Writes `data` and waits until `n` responses have arrived in all (HEAD answers by index in `bodiless`). */
  ask(data: string, n: number, bodiless?: Set<number>): Promise<Response[]>;
}

async function client(): Promise<Client> {
  const p = pair();
  fixedResponder(p.b, PORT);
  await settle(p);
  const sock = p.a.tcp.connect({ port: PORT, host: HOST });
  let text = '';
  let ended = false;
  sock.on('data', (d: Buffer) => (text += d.toString('latin1')));
  sock.on('end', () => (ended = true));
  sock.on('error', () => {});
  await drive(p, () => sock.readyState === 'open' && !sock.connecting);
  return {
    p,
    sock,
    got: () => text,
    ended: () => ended,
    async ask(data, n, bodiless) {
      sock.write(data);
      await drive(p, () => responses(text, bodiless).list.length >= n || ended);
      return responses(text, bodiless).list;
    },
  };
}

const GET = `GET / HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\nUser-Agent: test\r\nAccept: */*\r\n\r\n`;

describe('fixed responder', () => {
  it("answers Node's own HTTP client with 200 and the 128-byte body", async () => {
    const p = pair();
    fixedResponder(p.b, PORT);
    await settle(p);
    let res: http.IncomingMessage | undefined;
    let body = '';
    let complete = false;
    const req = http.get({ host: HOST, port: PORT, path: '/bench', createConnection: () => p.a.tcp.connect({ port: PORT, host: HOST }) as never }, (r) => {
      res = r;
      r.setEncoding('latin1');
      r.on('data', (d: string) => (body += d));
      r.on('end', () => (complete = true));
    });
    req.on('error', (e) => {
      throw e;
    });
    await drive(p, () => complete);
    expect(res!.statusCode).toBe(200);
    expect(res!.headers['content-length']).toBe(String(FIXED_BODY_BYTES));
    expect(res!.headers['content-type']).toBe('text/plain');
    expect(body).toHaveLength(FIXED_BODY_BYTES);
    expect(body.endsWith('\n')).toBe(true);
  });

  it('keeps an HTTP/1.1 connection open across requests', async () => {
    const c = await client();
    for (let i = 1; i <= 3; i++) {
      const list = await c.ask(GET, i);
      expect(list).toHaveLength(i);
      expect(list[i - 1]!.status).toBe(200);
      expect(list[i - 1]!.body).toHaveLength(FIXED_BODY_BYTES);
      // HTTP/1.1 persists by default: the answer says nothing of the connection.
      expect(list[i - 1]!.headers.has('connection')).toBe(false);
    }
    c.p.advance(1000);
    await settle(c.p);
    expect(c.ended()).toBe(false);
    // One connection carried all three.
    expect(c.p.b.tcpConnections().filter((t) => t.local.endsWith(`:${PORT}`) && t.state === 'ESTABLISHED')).toHaveLength(1);
  });

  it('answers pipelined requests in order, in one write, and skips request bodies', async () => {
    const c = await client();
    const post = `POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world`;
    const head = 'HEAD / HTTP/1.1\r\nhost: h\r\n\r\n';
    const list = await c.ask(GET + post + head + GET, 4, new Set([2]));
    expect(list.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(list.map((r) => r.body.length)).toEqual([FIXED_BODY_BYTES, FIXED_BODY_BYTES, 0, FIXED_BODY_BYTES]);
    // The HEAD answer announces the length it would have had.
    expect(list[2]!.headers.get('content-length')).toBe(String(FIXED_BODY_BYTES));
    expect(responses(c.got(), new Set([2])).rest).toBe('');
    expect(c.ended()).toBe(false);
  });

  it('takes requests split anywhere across segments, bodies included', async () => {
    const c = await client();
    const stream = `\r\n${GET}POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nabcde${GET}`;
    // Cut at every few bytes, each piece its own segment (noDelay), with time to answer in between.
    c.sock.setNoDelay(true);
    for (let i = 0; i < stream.length; i += 7) {
      c.sock.write(stream.slice(i, i + 7));
      await settle(c.p);
      c.p.advance(1);
    }
    await drive(c.p, () => responses(c.got()).list.length >= 3);
    const { list, rest } = responses(c.got());
    expect(list.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(rest).toBe('');
  });

  it('speaks HTTP/1.0 as ab does: closes unless asked to keep alive', async () => {
    const keep = await client();
    const kept = await keep.ask('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: h\r\n\r\n', 1);
    expect(kept[0]!.status).toBe(200);
    expect(kept[0]!.headers.get('connection')).toBe('keep-alive');
    await keep.ask('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n', 2);
    expect(keep.ended()).toBe(false);

    const once = await client();
    const closed = await once.ask('GET / HTTP/1.0\r\nUser-Agent: ApacheBench/2.3\r\n\r\n', 1);
    expect(closed[0]!.status).toBe(200);
    expect(closed[0]!.body).toHaveLength(FIXED_BODY_BYTES);
    expect(closed[0]!.headers.get('connection')).toBe('close');
    await drive(once.p, () => once.ended());
  });

  it('closes after answering "Connection: close", and ignores what follows', async () => {
    const c = await client();
    const list = await c.ask(`GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n${GET}`, 1);
    await drive(c.p, () => c.ended());
    expect(list.map((r) => r.status)).toEqual([200]);
    expect(list[0]!.headers.get('connection')).toBe('close');
    expect(responses(c.got()).list).toHaveLength(1);
  });

  const bad: [string, string][] = [
    ['a garbage request line', 'GARBAGE\r\n\r\n'],
    ['an HTTP/1.1 request without Host', 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n'],
    ['two Host fields', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'],
    ['an unknown HTTP version', 'GET / HTTP/2.0\r\nHost: h\r\n\r\n'],
    ['whitespace before the colon', 'GET / HTTP/1.1\r\nHost : h\r\n\r\n'],
    ['a folded field line', 'GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n'],
    ['a bad Content-Length', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n'],
    ['two different Content-Lengths', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'],
    ['a head over the limit', `GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ${'a'.repeat(FIXED_MAX_HEAD)}\r\n\r\n`],
    ['a head over the limit with no end yet', `GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ${'a'.repeat(FIXED_MAX_HEAD + 100)}`],
  ];
  for (const [what, request] of bad) {
    it(`answers ${what} with 400 and closes`, async () => {
      const c = await client();
      // A good request first: the bad one must not undo its answer.
      const list = await c.ask(GET + request, 2);
      await drive(c.p, () => c.ended());
      expect(list.map((r) => r.status)).toEqual([200, 400]);
      expect(list[1]!.headers.get('connection')).toBe('close');
      expect(responses(c.got()).rest).toBe('');
    });
  }

  it('refuses a chunked body with 501 and closes: it cannot find where the body ends', async () => {
    const c = await client();
    const list = await c.ask('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', 1);
    await drive(c.p, () => c.ended());
    expect(list[0]!.status).toBe(501);
  });
});
