/**
 * Real clients (ping, nc, arping, tshark) run inside a test's namespace, asynchronously:
 * the stack under test runs in this process, so the event loop must keep turning while
 * a client waits for its answer.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
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
