#!/usr/bin/env node
// The TAP's own limits on this machine (issue 6, §4a): what a TAP costs with no TCP/IP stack
// behind it, the floor every tapstack number is judged against. Prints one JSON object per
// measurement on stdout (`node scripts/bench-tap.mjs`), or hands them to `emit` when
// imported (`benchTapLimits({ root, emit })`).
//
//   TAP write / TAP read       native/tools/tap-limits.c, one thread, 1514-byte frames:
//                              frames per CPU-second (the kernel's share of each syscall included)
//   relay, offload / plain     kernel TCP in namespace A ─► TAP ═ C relay ═ TAP ─► kernel TCP in B:
//                              MB/s with the virtio-net header and TSO (64 KiB super-frames), and without
//   responder (C / Node)       answers ARP and ICMP echo only; `ping -f` from the namespace, one flow
//                              and 8 in parallel: echoes/s and the responder's CPU µs per echo
//                              (reading the request and writing the reply, which runs the kernel's
//                              delivery of the reply to ping). The Node one runs over TapLink.
//
// The C program is built here with `cc -O2` into a temporary directory, and removed after.
// Two namespaces are made for the run and deleted in `finally` and on SIGINT; every child is
// bounded by a count and a time limit, and stopped by its PID.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

const FRAMES = Number(process.env.BENCH_TAP_FRAMES ?? 1_000_000);
const RELAY_MIB = Number(process.env.BENCH_TAP_RELAY_MIB ?? 2048);
const PINGS = Number(process.env.BENCH_TAP_PINGS ?? 20_000);
const SECONDS = Number(process.env.BENCH_TAP_SECONDS ?? 15);
/** Where the built TapLink is (the Node responder runs over it); default the package's dist/. */
const DIST = process.env.BENCH_TAP_DIST;
const RESPONDER_IP = '10.201.0.2';
const RESPONDER_MAC = [2, 0, 0, 0, 0, 2];

export function ip(...args) {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

/** Why this cannot run here, or null. */
function missing() {
  if (process.platform !== 'linux') return 'Linux';
  if (process.getuid?.() !== 0) return 'root';
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun';
  if (spawnSync('ip', ['-V']).status !== 0) return 'the ip command';
  if (spawnSync('cc', ['--version']).status !== 0) return 'a C compiler (cc)';
  if (spawnSync('ping', ['-V']).status !== 0) return 'ping';
  return null;
}

/** Resolves with the next line of `stream` that `accept` takes, within `ms`. */
export function nextLine(stream, ms, accept = () => true) {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: stream });
    const timer = setTimeout(() => {
      lines.close();
      reject(new Error(`no answer within ${ms} ms`));
    }, ms);
    lines.on('line', (l) => {
      if (!accept(l)) return;
      clearTimeout(timer);
      lines.close();
      resolve(l);
    });
  });
}

const isJson = (l) => l.startsWith('{');

/** Runs every measurement; `emit(row)` gets each result. */
export async function benchTapLimits({ root = fileURLToPath(new URL('..', import.meta.url)), emit = (r) => console.log(JSON.stringify(r)) } = {}) {
  const why = missing();
  if (why !== null) {
    emit({ key: 'skipped', case: 'TAP limits', skipped: `needs ${why}` });
    return;
  }
  const nsA = `tapstack-limits-${process.pid}-a`;
  const nsB = `tapstack-limits-${process.pid}-b`;
  const dir = mkdtempSync(`${tmpdir()}/tap-limits-`);
  const tool = `${dir}/tap-limits`;
  const children = new Set();

  const cleanup = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    children.clear();
    for (const ns of [nsA, nsB]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 10_000 });
    rmSync(dir, { recursive: true, force: true });
  };
  const onSigint = () => {
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSigint);

  /** Starts `cmd` in `ns`; `ip netns exec` execs it, so the child's PID is the program's. */
  const start = (ns, cmd, limitMs = (SECONDS + 15) * 1000) => {
    const c = spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.add(c);
    const timer = setTimeout(() => c.kill('SIGKILL'), limitMs);
    c.once('exit', () => {
      clearTimeout(timer);
      children.delete(c);
    });
    return c;
  };
  /** Runs `cmd` in `ns` to its end; its last JSON line. */
  const runJson = async (ns, cmd) => {
    const c = start(ns, cmd);
    let last;
    createInterface({ input: c.stdout }).on('line', (l) => {
      if (isJson(l)) last = JSON.parse(l);
    });
    await new Promise((r) => c.once('close', r));
    if (last === undefined) throw new Error(`${cmd.join(' ')}: no result (exit ${c.exitCode ?? c.signalCode})`);
    return last;
  };
  const exited = (c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('close', r)));
  /** A persistent TAP in `ns`, up, with the kernel's end at `addr`. */
  const tap = (ns, name, addr) => {
    ip('-n', ns, 'tuntap', 'add', 'dev', name, 'mode', 'tap');
    ip('-n', ns, 'addr', 'add', addr, 'dev', name);
    ip('-n', ns, 'link', 'set', name, 'up');
  };

  try {
    const cc = spawnSync('cc', ['-O2', '-Wall', '-o', tool, `${root}native/tools/tap-limits.c`], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`cc native/tools/tap-limits.c: ${cc.stderr}`);
    for (const ns of [nsA, nsB]) {
      ip('netns', 'add', ns);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    emit({ key: 'machine', case: 'machine', cpus: cpus().length, cpu: cpus()[0]?.model, kernel: release(), node: process.version, date: new Date().toISOString() });

    // ── frames per CPU-second, each way ─────────────────────────────────────
    tap(nsA, 'tl0', '10.200.1.1/24');
    // The UDP flood of the read case goes to a neighbour that needs no ARP.
    ip('-n', nsA, 'neigh', 'replace', '10.200.1.2', 'lladdr', '02:00:00:00:00:02', 'dev', 'tl0', 'nud', 'permanent');
    for (const mode of ['write', 'read']) {
      const r = await runJson(nsA, [tool, mode, 'tl0', String(FRAMES), String(SECONDS), ...(mode === 'read' ? ['10.200.1.2'] : [])]);
      const cpu = r.user_s + r.sys_s;
      emit({
        key: `tap-${mode}`,
        case: `TAP ${mode}, 1514-byte frames, one thread`,
        frames: r.frames,
        frames_per_cpu_s: Math.round(r.frames_per_cpu_s),
        cpu_us_per_frame: +r.cpu_us_per_frame.toFixed(3),
        MB_per_cpu_s: +(r.bytes / 1e6 / cpu).toFixed(1),
        user_s: r.user_s,
        sys_s: r.sys_s,
        ...(mode === 'write' ? { note: 'frames to another MAC: the kernel drops them in ip_rcv' } : { note: 'a forked child floods UDP through the TAP' }),
      });
    }

    // ── kernel TCP through a C relay, with and without offloads ─────────────
    for (const mode of ['offload', 'plain']) {
      // Fresh devices each time: offload features must not carry over to the plain run.
      const [ta, tb] = mode === 'offload' ? ['tro0', 'tro1'] : ['trp0', 'trp1'];
      tap(nsA, ta, '10.200.0.1/24');
      tap(nsB, tb, '10.200.0.2/24');
      const relay = start(nsA, [tool, 'relay', nsA, ta, nsB, tb, String(SECONDS + 5), mode]);
      await nextLine(relay.stdout, 10_000, (l) => l === 'ready');
      const relayDone = nextLine(relay.stdout, (SECONDS + 15) * 1000, isJson);
      const sink = start(nsB, [tool, 'sink', '10.200.0.2', '5201', String(SECONDS + 2)]);
      await nextLine(sink.stdout, 10_000, (l) => l === 'listening');
      const sinkDone = nextLine(sink.stdout, (SECONDS + 15) * 1000, isJson);
      const sent = await runJson(nsA, [tool, 'send', '10.200.0.2', '5201', String(RELAY_MIB), String(SECONDS)]);
      const got = JSON.parse(await sinkDone);
      relay.kill('SIGTERM');
      const r = JSON.parse(await relayDone);
      await exited(relay);
      ip('-n', nsA, 'link', 'del', ta);
      ip('-n', nsB, 'link', 'del', tb);
      const cpu = r.user_s + r.sys_s;
      emit({
        key: `relay-${mode}`,
        case: `relay between two TAPs, kernel TCP, ${mode === 'offload' ? 'virtio-net header + TSO' : 'plain frames'}`,
        MB_per_s: +(got.bytes / 1e6 / got.secs).toFixed(1),
        MiB: +(got.bytes / 2 ** 20).toFixed(0),
        complete: got.complete && got.bytes === sent.bytes,
        relay_cpu_s: +cpu.toFixed(3),
        relay_MB_per_cpu_s: +(r.ab_bytes / 1e6 / cpu).toFixed(1),
        data_frames: r.ab_frames,
        avg_data_frame_bytes: Math.round(r.ab_bytes / r.ab_frames),
        gso_frames: r.ab_gso_frames,
        ack_frames: r.ba_frames,
      });
    }

    // ── ARP + ICMP echo responders under flood ping ──────────────────────────
    tap(nsA, 'tp0', '10.201.0.1/24');
    const ping = async (flows) => {
      const t0 = process.hrtime.bigint();
      const outs = await Promise.all(Array.from({ length: flows }, async () => {
        const c = start(nsA, ['ping', '-f', '-q', '-c', String(PINGS), '-w', String(SECONDS), RESPONDER_IP]);
        let s = '';
        c.stdout.on('data', (d) => (s += d));
        await exited(c);
        return s;
      }));
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      const received = outs.reduce((n, s) => n + Number(/(\d+) received/.exec(s)?.[1] ?? 0), 0);
      return { secs, received, sent: flows * PINGS };
    };
    const responders = [
      ['c', 'trivial C responder', [tool, 'respond', 'tp0', RESPONDER_IP, String(4 * SECONDS)]],
      ['node', 'trivial Node responder over TapLink', [process.execPath, fileURLToPath(import.meta.url), '--responder', 'tp0', RESPONDER_IP, String(4 * SECONDS), 'plain']],
      ['node-offload', 'trivial Node responder over TapLink with offloads', [process.execPath, fileURLToPath(import.meta.url), '--responder', 'tp0', RESPONDER_IP, String(4 * SECONDS), 'offload']],
    ];
    for (const [key, name, cmd] of responders) {
      if (cmd[0] === process.execPath && !existsSync(`${DIST ?? `${root}dist`}/dev/tap.js`)) {
        emit({ key, case: name, skipped: 'dist/ is not built (npm run build)' });
        continue;
      }
      const p = start(nsA, cmd, (4 * SECONDS + 15) * 1000);
      const lines = [];
      const waiting = [];
      createInterface({ input: p.stdout }).on('line', (l) => (waiting.length > 0 ? waiting.shift()(l) : lines.push(l)));
      const line = (ms) => new Promise((resolve, reject) => {
        if (lines.length > 0) return resolve(lines.shift());
        const timer = setTimeout(() => reject(new Error(`${name}: no answer within ${ms} ms`)), ms);
        waiting.push((l) => {
          clearTimeout(timer);
          resolve(l);
        });
      });
      const report = async () => {
        p.kill('SIGUSR1');
        return JSON.parse(await line(5000));
      };
      try {
        const ready = await line(10_000);
        if (!ready.startsWith('ready')) throw new Error(`${name} did not start`);
        const offload = ready.includes('offload');
        // One echo first: ARP resolved, code paths warm.
        spawnSync('ip', ['netns', 'exec', nsA, 'ping', '-c', '3', '-i', '0.01', '-W', '1', RESPONDER_IP], { timeout: 10_000 });
        for (const flows of [1, 8]) {
          const before = await report();
          const r = await ping(flows);
          const after = await report();
          const cpu = after.user_s + after.sys_s - before.user_s - before.sys_s;
          const echoes = after.echoes - before.echoes;
          emit({
            key: `${key}-${flows}`,
            case: `${name}, flood ping, ${flows} flow${flows > 1 ? 's' : ''}`,
            echoes_per_s: Math.round(r.received / r.secs),
            received: r.received,
            sent: r.sent,
            secs: +r.secs.toFixed(3),
            cpu_us_per_echo: +(cpu * 1e6 / echoes).toFixed(2),
            responder_cpu_share: +(cpu / r.secs).toFixed(2),
            ...(cmd[0] === process.execPath ? { offload } : {}),
          });
        }
      } finally {
        p.kill('SIGTERM');
        await exited(p);
      }
    }
  } finally {
    cleanup();
    process.off('SIGINT', onSigint);
  }
}

/**
 * `--responder TAP IP SECONDS plain|offload`: the trivial responder in Node, over TapLink (one
 * native call per batch each way), for the floor a JavaScript stack starts from. Answers ARP for
 * IP and ICMP echo requests to it, in place in the receive slots; SIGUSR1 prints its counts and
 * CPU; it stops after SECONDS or on SIGTERM.
 */
async function responder(name, ipText, seconds, mode) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const { TapLink } = await import(`${DIST ?? `${root}dist`}/dev/tap.js`);
  const me = ipText.split('.').map(Number);
  const link = TapLink.open({ name, offload: mode === 'offload' });
  let echoes = 0;
  let arps = 0;
  let frames = 0;
  const t0 = process.hrtime.bigint();
  const report = () => {
    const { user, system } = process.cpuUsage();
    console.log(JSON.stringify({
      mode: 'respond', frames, echoes, arps, wall_s: Number(process.hrtime.bigint() - t0) / 1e9, user_s: user / 1e6, sys_s: system / 1e6,
    }));
  };
  const isMe = (f, o) => f[o] === me[0] && f[o + 1] === me[1] && f[o + 2] === me[2] && f[o + 3] === me[3];
  link.setReceiver((batch) => {
    for (const f of batch) {
      frames++;
      const type = (f[12] << 8) | f[13];
      if (type === 0x0806 && f.length >= 42 && f[21] === 1 && isMe(f, 38)) {
        f.copyWithin(0, 22, 28);
        f.set(RESPONDER_MAC, 6);
        f[21] = 2;
        f.copyWithin(32, 22, 32);
        f.set(RESPONDER_MAC, 22);
        f.set(me, 28);
        link.send(f.subarray(0, 42));
        arps++;
      } else if (type === 0x0800 && f.length >= 42 && f[23] === 1 && isMe(f, 30)) {
        const icmp = 14 + (f[14] & 0x0f) * 4;
        if (f[icmp] !== 8) continue;
        f.copyWithin(0, 6, 12);
        f.set(RESPONDER_MAC, 6);
        for (let i = 0; i < 4; i++) {
          const s = f[26 + i];
          f[26 + i] = f[30 + i];
          f[30 + i] = s;
        }
        f[icmp] = 0;
        // RFC 1624: type 8 → 0 adds 0x0800 to the checksum's one's-complement sum.
        let c = ((f[icmp + 2] << 8) | f[icmp + 3]) + 0x0800;
        c = (c & 0xffff) + (c >>> 16);
        f[icmp + 2] = c >>> 8;
        f[icmp + 3] = c & 0xff;
        link.send(f);
        echoes++;
      }
    }
    link.flush();
  });
  const stop = () => {
    report();
    link.close();
    process.exit(0);
  };
  process.on('SIGUSR1', report);
  process.on('SIGTERM', stop);
  setTimeout(stop, seconds * 1000);
  // Says whether offloads were negotiated (an old build of TapLink ignores the option).
  console.log(link.offload === true ? 'ready offload' : 'ready');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === '--responder') {
    const [name, ipText, seconds, mode] = process.argv.slice(3);
    await responder(name, ipText, Number(seconds), mode);
  } else {
    await benchTapLimits();
  }
}
