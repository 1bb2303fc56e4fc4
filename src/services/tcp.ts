/**
 * The demo host's TCP services: echo (RFC 862), discard (RFC 863), character generator
 * (RFC 864) and a small web page served by Node's own `http` module over tapstack's TCP.
 */
import http from 'node:http';
import type { Stack } from '../stack.js';
import type { TcpServer, TcpSocket } from '../user/net.js';

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

/** The page the demo host serves. */
function page(stack: Stack): string {
  const c = stack.counters();
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>tapstack</title></head>
<body>
<h1>Hello from tapstack</h1>
<p>This page came to you over a TCP/IP stack written in TypeScript, running in a Node.js
process on a TAP device.</p>
<p>Segments in: ${c.Tcp.InSegs}, out: ${c.Tcp.OutSegs}, connections open: ${c.Tcp.CurrEstab}.</p>
</body></html>
`;
}

/** HTTP on `port`: Node's http.Server, handed tapstack's sockets. */
export function httpService(stack: Stack, port = 80): { server: TcpServer; http: http.Server } {
  const web = http.createServer((req, res) => {
    const body = page(stack);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  const server = stack.tcp.createServer((sock) => web.emit('connection', sock)).listen(port);
  return { server, http: web };
}
