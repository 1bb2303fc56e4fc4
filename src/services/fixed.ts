/**
 * A minimal HTTP/1.1 responder for load generators (`wrk`, `ab`): every request gets the
 * same `200 OK` with a fixed 128-byte body. `tapstack up` serves it on port 8080 and
 * `npm run bench` measures it, so the requests-per-second rows show what tapstack's TCP can
 * carry when the application costs next to nothing (Node's `http` on port 80 is the other
 * end of that scale).
 *
 * It parses just enough of RFC 9112 to be a correct server for what such tools send:
 *
 *   request-line   = method SP request-target SP HTTP-version CRLF        (§3)
 *   field-line     = field-name ":" OWS field-value OWS CRLF              (§5)
 *   message-body   = Content-Length bytes, skipped                        (§6.2)
 *
 * - Persistence (§9.3): HTTP/1.1 keeps the connection unless the request says
 *   `Connection: close`; HTTP/1.0 (what `ab` speaks) closes unless it says `keep-alive`.
 * - Pipelining (§9.3.2): every complete request in a chunk is answered, in order, with one
 *   write for all of them.
 * - An HTTP/1.1 request without `Host` (§3.2), a malformed request line or field line, a
 *   head over 8 KiB or an invalid `Content-Length` get `400 Bad Request` and the connection
 *   closes: after a framing error the next request cannot be found (§9.3). A
 *   `Transfer-Encoding` gets `501` and a close: there is no chunked decoder here (§6.1).
 * - `HEAD` gets the same head without the body (RFC 9110 §9.3.2).
 *
 * It is written on the `node:net`-shaped socket (data events and `write`), so the bench
 * runs the very same code over the kernel's `net.Server` to compare stacks.
 */
import type { TcpServer, TcpSocket } from '../user/net.js';

/** Length of the fixed body. */
export const FIXED_BODY_BYTES = 128;
/** Largest request head (request line and fields) accepted. */
export const FIXED_MAX_HEAD = 8192;

/** The two methods of a stack the responder uses (a tapstack Stack, or a stand-in over node:net). */
export interface FixedHost {
  readonly tcp: { createServer(listener: (socket: TcpSocket) => void): TcpServer };
}

const BODY = Buffer.from(`${'tapstack fixed responder '.repeat(6).slice(0, FIXED_BODY_BYTES - 1)}\n`, 'latin1');

function head(status: string, length: number, connection: string | null): string {
  return `HTTP/1.1 ${status}\r\nServer: tapstack\r\nContent-Type: text/plain\r\nContent-Length: ${length}\r\n` +
    `${connection === null ? '' : `Connection: ${connection}\r\n`}\r\n`;
}

/** Precomputed answers, by [HEAD?][connection header: none, keep-alive, close]. */
const OK: Buffer[][] = [false, true].map((isHead) => [null, 'keep-alive', 'close'].map((c) => {
  const h = Buffer.from(head('200 OK', FIXED_BODY_BYTES, c), 'latin1');
  return isHead ? h : Buffer.concat([h, BODY]);
}));
const BAD_REQUEST = Buffer.from(head('400 Bad Request', 12, 'close') + 'bad request\n', 'latin1');
const NOT_IMPLEMENTED = Buffer.from(head('501 Not Implemented', 16, 'close') + 'not implemented\n', 'latin1');
const CONN_NONE = 0;
const CONN_KEEP = 1;
const CONN_CLOSE = 2;

const CR = 13;
const LF = 10;
const SP = 32;
const HT = 9;

/** `b[start, end)` equals the lower-case ASCII `name`, ignoring case. */
function nameIs(b: Uint8Array, start: number, end: number, name: string): boolean {
  if (end - start !== name.length) return false;
  for (let i = 0; i < name.length; i++) {
    // ASCII letters only differ from their lower case in bit 0x20; the names have no other bytes that it would fold.
    if ((b[start + i]! | 0x20) !== name.charCodeAt(i)) return false;
  }
  return true;
}

/** `b[start, end)` contains `token` (lower case) as a whole comma-separated element, ignoring case. */
function hasToken(b: Uint8Array, start: number, end: number, token: string): boolean {
  let i = start;
  while (i < end) {
    while (i < end && (b[i] === SP || b[i] === HT || b[i] === 44)) i++;
    let j = i;
    while (j < end && b[j] !== 44) j++;
    let k = j;
    while (k > i && (b[k - 1] === SP || b[k - 1] === HT)) k--;
    if (nameIs(b, i, k, token)) return true;
    i = j + 1;
  }
  return false;
}

/** Index of the CR of the first CR LF CR LF at or after `from`, or -1. */
function headEnd(b: Uint8Array, from: number, end: number): number {
  for (let i = from; i + 3 < end; i++) {
    if (b[i + 3] !== LF) continue; // the common miss: one compare per byte
    if (b[i] === CR && b[i + 1] === LF && b[i + 2] === CR) return i;
  }
  return -1;
}

/** A request head, parsed: what the answer depends on. */
interface Request {
  isHead: boolean;
  keepAlive: boolean;
  /** The connection header the answer needs (CONN_…). */
  connection: number;
  bodyLength: number;
}

/**
 * Parses the head `b[start, end)` (without the blank line). Returns the request, or the answer
 * that ends the connection (400 or 501).
 */
function parseHead(b: Uint8Array, start: number, end: number, out: Request): Buffer | null {
  // Request line: method (a token of upper-case letters, enough for every registered method).
  let i = start;
  while (i < end && b[i]! >= 65 && b[i]! <= 90) i++;
  const methodEnd = i;
  if (methodEnd === start || methodEnd - start > 16 || b[i] !== SP) return BAD_REQUEST;
  i++;
  const target = i;
  while (i < end && b[i]! > SP && b[i] !== 127) i++;
  if (i === target || b[i] !== SP) return BAD_REQUEST;
  i++;
  // "HTTP/1.x" CR LF
  if (i + 10 > end || b[i] !== 72 || b[i + 1] !== 84 || b[i + 2] !== 84 || b[i + 3] !== 80 || b[i + 4] !== 47 ||
      b[i + 5] !== 49 || b[i + 6] !== 46 || (b[i + 7] !== 48 && b[i + 7] !== 49) || b[i + 8] !== CR) {
    return BAD_REQUEST;
  }
  const http11 = b[i + 7] === 49;
  i += 8;
  out.isHead = methodEnd - start === 4 && b[start] === 72 && b[start + 1] === 69 && b[start + 2] === 65 && b[start + 3] === 68;
  out.bodyLength = 0;
  let close = false;
  let keep = false;
  let host = false;
  let lengthSeen = false;
  // Field lines, each "name: value" CR LF; `i` is at the CR that ends the previous line.
  while (i < end) {
    if (b[i] !== CR || b[i + 1] !== LF) return BAD_REQUEST;
    i += 2;
    if (i === end) break;
    const name = i;
    while (i < end && b[i] !== 58 && b[i]! > SP) i++;
    // No whitespace before the colon (§5.1), and no obsolete line folding (§5.2).
    if (i === name || b[i] !== 58) return BAD_REQUEST;
    const nameEnd = i;
    i++;
    let value = i;
    while (i < end && b[i] !== CR) i++;
    let valueEnd = i;
    while (value < valueEnd && (b[value] === SP || b[value] === HT)) value++;
    while (valueEnd > value && (b[valueEnd - 1] === SP || b[valueEnd - 1] === HT)) valueEnd--;
    for (let k = value; k < valueEnd; k++) if (b[k] === LF) return BAD_REQUEST;
    if (nameIs(b, name, nameEnd, 'host')) {
      if (host) return BAD_REQUEST; // §3.2: more than one Host
      host = true;
    } else if (nameIs(b, name, nameEnd, 'connection')) {
      if (hasToken(b, value, valueEnd, 'close')) close = true;
      if (hasToken(b, value, valueEnd, 'keep-alive')) keep = true;
    } else if (nameIs(b, name, nameEnd, 'content-length')) {
      let n = 0;
      if (value === valueEnd || valueEnd - value > 15) return BAD_REQUEST;
      for (let k = value; k < valueEnd; k++) {
        const d = b[k]! - 48;
        if (d < 0 || d > 9) return BAD_REQUEST;
        n = n * 10 + d;
      }
      // §6.3: differing lengths make the framing unknowable.
      if (lengthSeen && n !== out.bodyLength) return BAD_REQUEST;
      lengthSeen = true;
      out.bodyLength = n;
    } else if (nameIs(b, name, nameEnd, 'transfer-encoding')) {
      return NOT_IMPLEMENTED;
    }
  }
  if (http11 && !host) return BAD_REQUEST;
  out.keepAlive = http11 ? !close : keep && !close;
  // HTTP/1.1 persists by default; 1.0 needs to be told that we keep it open; a close is said either way.
  out.connection = !out.keepAlive ? CONN_CLOSE : http11 ? CONN_NONE : CONN_KEEP;
  return null;
}

/** One connection: what is left of a partial request head, and body bytes still to skip. */
class Conn {
  private pending: Buffer | null = null;
  private skip = 0;
  private done = false;
  private readonly req: Request = { isHead: false, keepAlive: true, connection: CONN_NONE, bodyLength: 0 };
  private readonly answers: Buffer[] = [];

  constructor(private readonly sock: TcpSocket) {}

  onData(chunk: Buffer): void {
    if (this.done) return;
    let b = chunk;
    let i = 0;
    if (this.skip > 0) {
      const n = Math.min(this.skip, b.length);
      this.skip -= n;
      i = n;
    }
    if (this.pending !== null) {
      b = Buffer.concat([this.pending, b.subarray(i)]);
      i = 0;
      this.pending = null;
    }
    const end = b.length;
    let last: Buffer | null = null;
    while (i < end) {
      // §2.2: empty lines before a request line are ignored.
      while (i + 1 < end && b[i] === CR && b[i + 1] === LF) i += 2;
      if (i >= end) break;
      const h = headEnd(b, i, end);
      if (h < 0) {
        if (end - i > FIXED_MAX_HEAD) last = BAD_REQUEST;
        // The socket may reuse its chunk's memory: keep a copy of the partial head.
        else this.pending = Buffer.from(b.subarray(i));
        break;
      }
      if (h - i > FIXED_MAX_HEAD) {
        last = BAD_REQUEST;
        break;
      }
      const fail = parseHead(b, i, h + 2, this.req);
      if (fail !== null) {
        last = fail;
        break;
      }
      const r = this.req;
      const answer = OK[r.isHead ? 1 : 0]![r.connection]!;
      i = h + 4;
      const body = Math.min(r.bodyLength, end - i);
      i += body;
      if (!r.keepAlive) {
        last = answer;
        break;
      }
      this.skip = r.bodyLength - body;
      this.answers.push(answer);
    }
    const answers = this.answers;
    if (last !== null) {
      // The last answer closes the connection; what follows it is not read.
      answers.push(last);
      this.done = true;
      this.pending = null;
    }
    if (answers.length === 0) return;
    const out = answers.length === 1 ? answers[0]! : Buffer.concat(answers);
    answers.length = 0;
    if (this.done) this.sock.end(out);
    else this.sock.write(out);
  }
}

/** Serves the fixed responder on `port` (8080 by default). */
export function fixedResponder(stack: FixedHost, port = 8080): TcpServer {
  return stack.tcp.createServer((sock) => {
    sock.setNoDelay(true);
    const c = new Conn(sock);
    sock.on('data', (d: Buffer) => c.onData(d));
    sock.on('error', () => {});
  }).listen(port);
}
