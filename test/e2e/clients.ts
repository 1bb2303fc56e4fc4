/**
 * Real clients (ping, nc, arping, tshark) run inside a test's namespace, asynchronously:
 * the stack under test runs in this process, so the event loop must keep turning while
 * a client waits for its answer.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Netns } from '../helpers/netns.js';

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd` in `ns`, feeding `input` on stdin; SIGKILLs it after `timeoutMs`. */
export function runIn(ns: Netns, cmd: string[], opts: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns.name, ...cmd], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 15_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    // A client that exits before reading all its input (nc done early) closes the pipe: not an error here.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** `ping` summary: how many replies came back. */
export function received(pingOutput: string): number {
  const m = /(\d+) received/.exec(pingOutput);
  return m ? Number(m[1]) : 0;
}

/** Is `name` an executable on the PATH? */
export function hasCommand(name: string): boolean {
  return (process.env['PATH'] ?? '').split(':').some((dir) => existsSync(`${dir}/${name}`));
}

export interface Capture {
  /** Stops tshark and waits until the file is complete. */
  stop(): Promise<void>;
}

/** Starts `tshark -i iface -w file` in `ns`, resolving once it is capturing. */
export function startCapture(ns: Netns, iface: string, file: string): Promise<Capture> {
  return new Promise((resolve, reject) => {
    const child = ns.spawn(['tshark', '-q', '-i', iface, '-w', file]);
    let err = '';
    const timer = setTimeout(() => reject(new Error(`tshark did not start: ${err}`)), 15_000);
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('Capturing on')) {
        clearTimeout(timer);
        resolve({
          stop: () => new Promise<void>((done) => {
            child.once('exit', () => done());
            child.kill('SIGINT');
          }),
        });
      }
    });
  });
}

/** A long-running program (a server, a client fed over time) started in a namespace. */
export interface Started {
  /** Its PID: `ip netns exec` execs the command in place, so this is the command's own. */
  readonly pid: number;
  /** Feeds its stdin; `end()` closes it. */
  readonly stdin: Writable;
  /** Everything it has written to stdout so far. */
  stdout(): Buffer;
  /** Everything it has written to stderr so far. */
  stderr(): string;
  /** Its exit code once it has exited (-1 when a signal ended it). */
  readonly exited: Promise<number>;
  /** SIGKILLs it by PID unless it has already exited; resolves once it is gone. */
  stop(): Promise<number>;
}

/** Starts `cmd` in `ns` with stdin, stdout and stderr piped to this process. */
export function startIn(ns: Netns, cmd: string[]): Started {
  const child = spawn('ip', ['netns', 'exec', ns.name, ...cmd], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin.on('error', () => {}); // EPIPE when it exits before reading everything
  const exited = new Promise<number>((resolve) => {
    child.once('close', (code) => resolve(code ?? -1));
    child.once('error', () => resolve(-1));
  });
  return {
    pid: child.pid ?? -1,
    stdin: child.stdin,
    stdout: () => Buffer.concat(out),
    stderr: () => err,
    exited,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      return exited;
    },
  };
}

/**
 * Waits until something in `ns` listens on TCP `port` (as `ss` sees it), polling every
 * 50 ms for at most `timeoutMs`. Returns whether it did.
 */
export async function waitForListener(ns: Netns, port: number, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await runIn(ns, ['ss', '-Hltn', `sport = :${port}`]);
    if (r.stdout.trim() !== '') return true;
    await new Promise((done) => setTimeout(done, 50));
  }
  return false;
}
