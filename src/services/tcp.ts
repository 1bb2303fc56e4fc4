/**
 * The demo host's TCP services: echo (RFC 862), discard (RFC 863), character generator
 * (RFC 864) and the live page (live.ts) served by Node's own `http` module over tapstack's TCP.
 */
import http from 'node:http';
import type { Stack } from '../stack.js';
import type { TcpServer, TcpSocket } from '../user/net.js';
import { liveRoutes } from './live.js';

/** Echo (RFC 862): everything received is sent back. */
export function tcpEcho(stack: Stack, port = 7): TcpServer {
  return stack.tcp.createServer((sock) => sock.pipe(sock)).listen(port);
}

/** Discard (RFC 863): everything received is thrown away. */
export function tcpDiscard(stack: Stack, port = 9): TcpServer {
  return stack.tcp.createServer((sock) => {
    sock.resume();
    sock.on('error', () => {});
  }).listen(port);
}

/** The 95 printable ASCII characters RFC 864 rotates through. */
const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');

/** Line `n` of the RFC 864 pattern: 72 characters starting at offset n mod 95, then CR LF. */
export function chargenLine(n: number): string {
  const start = n % 95;
  return (PRINTABLE + PRINTABLE).slice(start, start + 72) + '\r\n';
}

/**
 * Character generator (RFC 864): the rotating line pattern from the moment of connection
 * until the client closes; what the client sends is discarded. Writes follow the
 * stream's back-pressure, so a slow reader slows the source instead of filling memory.
 */
export function tcpChargen(stack: Stack, port = 19): TcpServer {
  // 95 lines make one full period; send the period as a block, starting where we left off.
  const period = Buffer.from(Array.from({ length: 95 }, (_, i) => chargenLine(i)).join(''));
  return stack.tcp.createServer((sock: TcpSocket) => {
    sock.resume();
    sock.on('error', () => {});
    let stopped = false;
    sock.on('close', () => (stopped = true));
    sock.on('end', () => {
      stopped = true;
      sock.end();
    });
    const fill = (): void => {
      while (!stopped && sock.write(period));
    };
    sock.on('drain', fill);
    fill();
  }).listen(port);
}

/**
 * HTTP on `port`: Node's http.Server, handed tapstack's sockets, serving the live page
 * (`/`, `/events`, `/metrics`, `/api/…`; see live.ts).
 */
export function httpService(stack: Stack, port = 80): { server: TcpServer; http: http.Server } {
  const live = liveRoutes(stack);
  const web = http.createServer(live.handle);
  // Event streams never end on their own; closing the server ends them.
  web.on('close', () => live.close());
  const server = stack.tcp.createServer((sock) => web.emit('connection', sock)).listen(port);
  return { server, http: web };
}
