/**
 * The control socket of a running `tapstack up`: a Unix socket that `tapstack stat`, `ss`,
 * `drops` and `trace` talk to. One JSON request per line from the client; the server
 * answers with one JSON line (stat, ss, drops) or a stream of them (trace, until the
 * client goes away or the count is reached). The socket is host IPC, not the stack's own
 * networking, so it uses Node's `net` on the host.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import type { Stage } from '../core/drop.js';
import { Nstat, type Coalesce } from '../core/report.js';
import type { Stack } from '../stack.js';

/** Bytes a slow trace or capture client may have waiting before events are skipped. */
const MAX_UNSENT = 4 << 20;

/** Where the socket of the instance on `tap` (in `netns`, if any) lives. */
export function controlPath(tap: string, netns?: string): string {
  const name = netns === undefined ? tap : `${netns}-${tap}`;
  const uid = process.getuid?.() ?? 0;
  const dir = uid === 0 ? '/run/tapstack' : `${process.env['XDG_RUNTIME_DIR'] ?? '/tmp'}/tapstack`;
  return `${dir}/${name}.sock`;
}

export interface ControlRequest {
  cmd: 'stat' | 'ss' | 'drops' | 'trace' | 'capture' | 'graph';
  filter?: string;
  count?: number;
  /** stat: also the nstat-style change since the previous such request. */
  nstat?: boolean;
  /** capture: only received frames that got through this stage. */
  after?: Stage;
  /** graph: switch recording on or off, or draw the connection local (and remote). */
  record?: boolean;
  local?: string;
  remote?: string;
}

/** Serves the control socket at `path` for `stack`. Returns the function that closes it. */
export function serveControl(stack: Stack, path: string, coalesce?: Coalesce): () => void {
  mkdirSync(dirname(path), { recursive: true });
  if (existsSync(path)) unlinkSync(path); // a socket left by an instance that died
  const stops = new Set<() => void>();
  const nstat = new Nstat();
  const server = net.createServer((conn) => {
    let buf = '';
    conn.setEncoding('utf8');
    conn.on('error', () => {});
    conn.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (buf.length > 65_536) conn.destroy();
        return;
      }
      const line = buf.slice(0, nl);
      buf = '';
      let req: ControlRequest;
      try {
        req = JSON.parse(line) as ControlRequest;
      } catch {
        conn.end(`${JSON.stringify({ error: 'the request is not JSON' })}\n`);
        return;
      }
      answer(stack, req, conn, stops, nstat, coalesce);
    });
  });
  server.listen(path);
  server.on('listening', () => {
    chmodSync(path, 0o660);
    // Like the tap it watches: under sudo, the invoking user may talk to it.
    const uid = Number(process.env['SUDO_UID']);
    const gid = Number(process.env['SUDO_GID']);
    if (Number.isInteger(uid) && Number.isInteger(gid)) chownSync(path, uid, gid);
  });
  server.unref();
  return () => {
    for (const stop of stops) stop();
    server.close();
    if (existsSync(path)) unlinkSync(path);
  };
}

function answer(
  stack: Stack, req: ControlRequest, conn: net.Socket, stops: Set<() => void>, nstat: Nstat, coalesce: Coalesce | undefined,
): void {
  switch (req.cmd) {
    case 'stat': {
      const counters = stack.counters();
      const delta = req.nstat === true ? nstat.delta(counters) : undefined;
      conn.end(`${JSON.stringify({ counters, delta, link: { name: stack.link.name, stats: stack.linkStats(), coalesce } })}\n`);
      return;
    }
    case 'ss':
      conn.end(`${JSON.stringify({ sockets: stack.sockets(), life: stack.tcpLife(), congestion: stack.config.tcp.congestion })}\n`);
      return;
    case 'drops':
      // From now on, each row remembers its last packet (a few hundred ns per drop).
      stack.describeDrops = true;
      conn.end(`${JSON.stringify({ drops: stack.dropTable() })}\n`);
      return;
    case 'graph':
      if (req.record !== undefined) {
        stack.recordTimelines(req.record);
        conn.end(`${JSON.stringify({ recording: req.record })}\n`);
      } else {
        const graph = req.local === undefined ? undefined : stack.tcpTimeline(req.local, req.remote);
        conn.end(`${JSON.stringify(graph ?? { error: 'no such connection, or it was not recorded: start with `tapstack graph --record on`' })}\n`);
      }
      return;
    case 'trace':
      stream(conn, stops, req.count, (emit) => stack.trace((w) => emit({ walk: w }), req.filter, (r) => emit({ read: r }, false)));
      return;
    case 'capture':
      // Frames travel as base64 with their verdict; the client writes the pcapng file.
      stream(conn, stops, req.count, (emit) => stack.capture((frame, dir, comment) => {
        emit({ frame: Buffer.from(frame).toString('base64'), at: Date.now(), dir, comment });
      }, req.filter, req.after));
      return;
    default:
      conn.end(`${JSON.stringify({ error: `unknown command ${JSON.stringify((req as { cmd: unknown }).cmd)}` })}\n`);
  }
}

/**
 * Streams what `start` emits to the client until `count` (counted) items went out or the
 * client left; `start` subscribes and returns the unsubscribe function (it may throw on a bad
 * filter, which the client gets as an error line).
 */
function stream(
  conn: net.Socket, stops: Set<() => void>, count: number | undefined,
  start: (emit: (v: unknown, counted?: boolean) => void) => () => void,
): void {
  let left = count ?? Infinity;
  let skipped = 0;
  let stop: () => void = () => {};
  const finish = (): void => {
    stop();
    stops.delete(stop);
  };
  try {
    stop = start((v, counted = true) => {
      if (left <= 0) return;
      // A client that does not keep up loses events rather than growing our memory; it is told how many.
      if (conn.writableLength > MAX_UNSENT) {
        skipped++;
        return;
      }
      if (skipped > 0) {
        conn.write(`${JSON.stringify({ skipped })}\n`);
        skipped = 0;
      }
      conn.write(`${JSON.stringify(v)}\n`);
      if (counted && --left <= 0) {
        finish();
        conn.end();
      }
    });
  } catch (e) {
    conn.end(`${JSON.stringify({ error: (e as Error).message })}\n`);
    return;
  }
  stops.add(stop);
  conn.on('close', finish);
}

/**
 * Sends `req` to the instance at `path` and calls `onLine` with each JSON line of the answer.
 * Rejects with a message that says what to do when nothing listens there.
 */
export function request(path: string, req: ControlRequest, onLine: (v: Record<string, unknown>) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const conn = net.createConnection(path);
    let buf = '';
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(`${JSON.stringify(req)}\n`));
    conn.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.length > 0) onLine(JSON.parse(line) as Record<string, unknown>);
      }
    });
    conn.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') {
        reject(new Error(`no tapstack is running at ${path}: start one with \`tapstack up\` (same --tap/--netns), or pass --socket`));
      } else if (e.code === 'EACCES') {
        reject(new Error(`${path}: permission denied: run as the user who started tapstack, or with sudo`));
      } else {
        reject(e);
      }
    });
    conn.on('close', () => resolve());
  });
}
