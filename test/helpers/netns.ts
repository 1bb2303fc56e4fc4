/**
 * Network namespaces for end-to-end tests: every TAP device and every packet of a test
 * lives in a namespace the test made itself, so nothing touches the host's own network.
 *
 * ```ts
 * const skip = tapSkipReason();
 * describe.skipIf(skip)('over a real TAP', () => {
 *   let ns: Netns;
 *   beforeAll(() => { ns = Netns.create('echo'); });
 *   afterAll(() => ns?.delete());                        // also runs when a test failed
 *   it('pings', () => { expect(ns.exec(['ping', '-c', '1', '10.0.0.2']).code).toBe(0); });
 * });
 * ```
 *
 * Namespaces still alive when the process exits are deleted by an exit hook, and
 * `create()` first sweeps namespaces left by an earlier run that died (same prefix,
 * owner PID no longer running).
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

/** Where `ip netns add` keeps its namespaces. */
const NETNS_DIR = '/var/run/netns';

/**
 * Why TAP end-to-end tests cannot run here, or `null` when they can: they need Linux,
 * root (to create TAP devices and namespaces), the tun device and iproute2's `ip`.
 * `tunPath` is injectable so the check itself can be tested.
 */
export function tapSkipReason(tunPath = '/dev/net/tun'): string | null {
  if (process.platform !== 'linux') return `TAP tests need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'TAP tests need root to create namespaces and TAP devices (run as root)';
  if (!existsSync(tunPath)) return `TAP tests need ${tunPath}: load the tun module (modprobe tun)`;
  const ip = spawnSync('ip', ['-V'], { encoding: 'utf8' });
  if (ip.error !== undefined || ip.status !== 0) return 'TAP tests need iproute2 (`ip`) on the PATH';
  return null;
}

/** What a command run to completion printed, and how it ended. */
export interface ExecResult {
  /** Exit status; -1 when it was killed (timeout) or could not start. */
  code: number;
  stdout: string;
  stderr: string;
}

/** Every namespace created and not yet deleted, for the exit hook. */
const live = new Set<Netns>();
let counter = 0;
let hooked = false;

/** A network namespace owned by this test process. */
export class Netns {
  private readonly children = new Set<ChildProcess>();
  private deleted = false;

  private constructor(
    /** The name under /var/run/netns, e.g. `tap-12345-1`. */
    readonly name: string,
  ) {}

  /**
   * Creates a namespace named `${prefix}-${pid}-${n}` (unique per process and call) with
   * its loopback up. Throws when `ip netns add` fails.
   */
  static create(prefix: string): Netns {
    sweepStale(prefix);
    if (!hooked) {
      hooked = true;
      // 'exit' handlers may only do synchronous work, which is all delete() does.
      process.on('exit', () => {
        for (const ns of live) ns.delete();
      });
    }
    const name = `${prefix}-${process.pid}-${++counter}`;
    run(['ip', 'netns', 'add', name]);
    const ns = new Netns(name);
    live.add(ns);
    run(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
    return ns;
  }

  /** Runs `cmd` inside the namespace and waits for it (default limit 10 s, then SIGKILL). */
  exec(cmd: string[], opts: { timeoutMs?: number } = {}): ExecResult {
    const r = spawnSync('ip', ['netns', 'exec', this.name, ...cmd], {
      encoding: 'utf8',
      timeout: opts.timeoutMs ?? 10_000,
      killSignal: 'SIGKILL',
    });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
  }

  /**
   * Starts a long-running `cmd` inside the namespace (a capture, a server). `ip netns exec`
   * execs the command in place, so the child's PID is the command's own: kill it by that
   * PID. `delete()` kills the ones still running.
   */
  spawn(cmd: string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Kills the processes `spawn()` started, then deletes the namespace. Idempotent. */
  delete(): void {
    if (this.deleted) return;
    this.deleted = true;
    live.delete(this);
    for (const child of this.children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    this.children.clear();
    spawnSync('ip', ['netns', 'del', this.name], { timeout: 10_000 });
  }
}

/** Runs a command in the current namespace; throws with its stderr when it fails. */
function run(cmd: string[]): void {
  const [file, ...args] = cmd;
  const r = spawnSync(file ?? 'false', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${r.stderr || String(r.error)}`);
}

/**
 * Deletes namespaces `${prefix}-PID-N` whose PID is no longer running: leftovers of a
 * test process that was killed before its hooks ran.
 */
function sweepStale(prefix: string): void {
  let names: string[];
  try {
    names = readdirSync(NETNS_DIR);
  } catch {
    return; // no namespaces yet
  }
  const pattern = new RegExp(`^${prefix.replace(/[^A-Za-z0-9]/g, '\\$&')}-(\\d+)-\\d+$`);
  for (const n of names) {
    const pid = Number(pattern.exec(n)?.[1] ?? NaN);
    if (Number.isInteger(pid) && pid !== process.pid && !alive(pid)) {
      spawnSync('ip', ['netns', 'del', n], { timeout: 10_000 });
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: existence check only
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
