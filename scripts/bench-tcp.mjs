// The TCP part of `npm run bench`: the same workloads against tapstack and against the Linux
// kernel, in one run, and a table of the ratio tapstack/kernel.
//
//   netns A                                                netns B
//   ───────────────────────────────────────────────────    ─────────────────────────────────
//   bench-client.mjs ─┬─► tap0 ═══► bench-services.mjs tapstack
//     (kernel TCP)    │   192.168.69.1/24     (tapstack's TCP, 192.168.69.2, holds the TAP)
//                     └─► veth-a ════════════════════════ veth-b ─► bench-services.mjs kernel
//                         10.69.0.1/24                    10.69.0.2/24    (the kernel's TCP)
//
// Both servers are a fresh Node process running tapstack's service code (echo 7, discard 9,
// chargen 19, HTTP 80); one on tapstack's TCP behind a TAP, the other on the kernel's TCP
// behind a veth. The client is the same program on the kernel's TCP either way, so only
// the server's TCP/IP stack differs (and the link: a TAP moves one frame per system call,
// the veth hands the kernel's TSO/GRO segments of up to 64 KiB across). Both namespaces are
// made here and deleted in `finally` and on SIGINT; every child is stopped by its PID.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const TAPSTACK = '192.168.69.2';
const KERNEL = '10.69.0.2';
const MIB = Number(process.env.BENCH_TCP_MIB ?? 512);
const ECHOES = Number(process.env.BENCH_ECHOES ?? 20_000);
const HTTP_KEEPALIVE = Number(process.env.BENCH_HTTP_KEEPALIVE ?? 5000);
const HTTP_CLOSE = Number(process.env.BENCH_HTTP_CLOSE ?? 2000);
const CONNECTS = Number(process.env.BENCH_CONNECTS ?? 2000);
const IDLE = Number(process.env.BENCH_IDLE ?? 10_000);
const CLIENT_SECONDS = Number(process.env.BENCH_CLIENT_SECONDS ?? 60);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);

function ip(...args) {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

/** Waits for the next line of `stream` that `accept` takes, for at most `ms`. */
function nextLine(stream, ms, accept = () => true) {
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

function slabKiB() {
  return Number(/^Slab:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? NaN);
}

/** The open-file limit a child gets (it inherits ours; raising the hard limit needs CAP_SYS_RESOURCE). */
function fileLimit() {
  return Number(spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim());
}

/** Runs the comparison and prints its table. `root` is the package directory. */
export async function benchTcpVsKernel({ root }) {
  const missing = process.getuid?.() !== 0 ? 'root' : !existsSync('/dev/net/tun') ? '/dev/net/tun' : spawnSync('ip', ['-V']).status !== 0 ? 'the ip command' : null;
  if (missing !== null) {
    console.log(`\ntapstack vs the Linux kernel over TCP: skipped: needs ${missing}`);
    return;
  }
  const nsA = `tapstack-bench-client-${process.pid}`;
  const nsB = `tapstack-bench-kernel-${process.pid}`;
  const children = new Set();

  const cleanup = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    children.clear();
    for (const ns of [nsA, nsB]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  };
  const onSigint = () => {
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSigint);

  /** Starts a Node program in a namespace. `ip netns exec` execs it, so the PID is the program's. */
  const start = (ns, args) => {
    const c = spawn('ip', ['netns', 'exec', ns, process.execPath, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.add(c);
    c.once('exit', () => children.delete(c));
    return c;
  };

  /** One client workload against `host`; its JSON result. */
  const client = async (host, ...args) => {
    const c = start(nsA, [`${root}scripts/bench-client.mjs`, host, ...args.map(String)]);
    const line = await nextLine(c.stdout, (CLIENT_SECONDS + 15) * 1000, (l) => l.startsWith('{')).finally(() => c.kill('SIGKILL'));
    const r = JSON.parse(line);
    if (r.error) throw new Error(`client ${args.join(' ')} against ${host}: ${r.error}`);
    return r;
  };

  /** A server process (bench-services.mjs); `ask(command)` resolves with its one-line JSON answer. */
  const server = async (ns, mode) => {
    const c = start(ns, ['--expose-gc', `${root}scripts/bench-services.mjs`, mode, ns]);
    await nextLine(c.stdout, 10_000, (l) => l === 'ready');
    const waiting = [];
    createInterface({ input: c.stdout }).on('line', (l) => waiting.shift()?.(l));
    const ask = (command) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${mode} server did not answer "${command}"`)), 10_000);
      waiting.push((l) => {
        clearTimeout(timer);
        resolve(JSON.parse(l));
      });
      c.stdin.write(`${command}\n`);
    });
    return { ask };
  };

  try {
    // ── the two namespaces, the veth between them and the TAP ──────────────
    ip('netns', 'add', nsA);
    ip('netns', 'add', nsB);
    // Made inside A with its peer placed in B: nothing ever appears in the root namespace.
    ip('-n', nsA, 'link', 'add', 'veth-a', 'type', 'veth', 'peer', 'name', 'veth-b', 'netns', nsB);
    ip('-n', nsA, 'addr', 'add', '10.69.0.1/24', 'dev', 'veth-a');
    ip('-n', nsB, 'addr', 'add', `${KERNEL}/24`, 'dev', 'veth-b');
    for (const [ns, dev] of [[nsA, 'veth-a'], [nsB, 'veth-b'], [nsA, 'lo'], [nsB, 'lo']]) ip('-n', ns, 'link', 'set', dev, 'up');
    // Room for the idle connections plus the TIME-WAITs of the connection-per-request rows.
    spawnSync('ip', ['netns', 'exec', nsA, 'sysctl', '-qw', 'net.ipv4.ip_local_port_range=10000 65000']);

    // tapstack opens tap0 inside A itself; the kernel's end of it is configured here.
    const servers = { [TAPSTACK]: await server(nsA, 'tapstack'), [KERNEL]: await server(nsB, 'kernel') };
    ip('-n', nsA, 'addr', 'add', '192.168.69.1/24', 'dev', 'tap0');
    ip('-n', nsA, 'link', 'set', 'tap0', 'up');
    /** The server process's RSS after two full GCs, and its open connections. */
    const serverMem = (host) => servers[host].ask('mem');

    // ── 10,000 idle connections first, while neither side holds TIME-WAITs from other rows
    const limit = fileLimit();
    const idleCount = Math.min(IDLE, limit - 256);
    const idle = async (host) => {
      const before = await serverMem(host);
      const slab0 = slabKiB();
      const c = start(nsA, [`${root}scripts/bench-client.mjs`, host, 'idle', String(idleCount)]);
      try {
        const opened = JSON.parse(await nextLine(c.stdout, (CLIENT_SECONDS + 15) * 1000, (l) => l.startsWith('{'))).opened;
        // The client sees a connection at the handshake; wait (bounded) until the server has accepted it.
        let after = await serverMem(host);
        for (let i = 0; i < 50 && after.connections - before.connections < opened; i++) {
          await new Promise((r) => setTimeout(r, 200));
          after = await serverMem(host);
        }
        const slab1 = slabKiB();
        c.stdin.end('close\n');
        await nextLine(c.stdout, 30_000, (l) => l.startsWith('{'));
        // Connections the server still holds after the client reset them all would skew later rows.
        let end = await serverMem(host);
        for (let i = 0; i < 50 && end.connections > before.connections; i++) {
          await new Promise((r) => setTimeout(r, 200));
          end = await serverMem(host);
        }
        return {
          opened,
          accepted: after.connections - before.connections,
          left: end.connections - before.connections,
          rssMiB: (after.rss - before.rss) / 2 ** 20,
          slabMiB: (slab1 - slab0) / 1024,
        };
      } finally {
        c.kill('SIGKILL');
      }
    };
    const idleT = await idle(TAPSTACK);
    const idleK = await idle(KERNEL);

    // Warm up (JIT, neighbour entries, listener paths) before anything is timed.
    for (const h of [TAPSTACK, KERNEL]) {
      await client(h, 'download', 32);
      await client(h, 'http', 300, 1);
    }

    // Each timed row runs REPEAT times, tapstack and kernel taking turns so that both see
    // the same background load; the table shows the median run.
    const profile = process.env.BENCH_PROFILE === '1';
    let top;
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
    const row = async (name, args, metrics) => {
      const runs = { [TAPSTACK]: [], [KERNEL]: [] };
      for (let i = 0; i < REPEAT; i++) {
        for (const h of [TAPSTACK, KERNEL]) {
          if (profile && top === undefined && h === TAPSTACK && args[0] === 'download') {
            await servers[h].ask('profile start');
            runs[h].push(await client(h, ...args));
            top = await servers[h].ask('profile stop');
            top.secs = runs[h][0].secs;
            top.clientS = runs[h][0].cpuS;
          } else {
            runs[h].push(await client(h, ...args));
          }
        }
      }
      return metrics.map(([suffix, f]) => [
        name + suffix,
        ...[TAPSTACK, KERNEL].map((h) => [median(runs[h].map(f)), runs[h].some((r) => r.capped) ? '*' : '']),
      ]);
    };
    const mbs = (r) => r.bytes / 1e6 / r.secs;
    const rate = (r) => r.ok / r.secs;
    const rows = [
      ...await row(`TCP download, ${MIB} MiB from chargen`, ['download', MIB], [[' (MB/s)', mbs]]),
      ...await row(`TCP upload, ${MIB} MiB to discard`, ['upload', MIB], [[' (MB/s)', mbs]]),
      ...await row('echo, 1-byte round trips, one connection', ['echo', ECHOES], [
        [' (transactions/s)', (r) => r.transactions / r.secs],
        [': latency p50 (µs)', (r) => r.p50],
        [': latency p99 (µs)', (r) => r.p99],
      ]),
      ...await row('HTTP GET, keep-alive, 8 connections', ['http', HTTP_KEEPALIVE, 1], [[' (requests/s)', rate]]),
      ...await row('HTTP GET, a new connection each, 8 at a time', ['http', HTTP_CLOSE, 0], [[' (requests/s)', rate]]),
      ...await row('connect + close to discard, 8 at a time', ['connect', CONNECTS], [[' (connections/s)', rate]]),
      [`${idleCount.toLocaleString('en')} idle connections: server process RSS Δ (MiB)`, [idleT.rssMiB, ''], [idleK.rssMiB, '']],
      [`${idleCount.toLocaleString('en')} idle connections: kernel Slab Δ (MiB)`, [idleT.slabMiB, ''], [idleK.slabMiB, '']],
      [`${idleCount.toLocaleString('en')} idle connections: server total ≈ (MiB)`, [idleT.rssMiB, ''], [idleK.rssMiB + idleK.slabMiB - idleT.slabMiB, '']],
    ];
    // ── the table ─────────────────────────────────────────────────────────
    const fmt = (v) => (Number.isFinite(v) ? (Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en') : v.toFixed(1)) : '–');
    const table = rows.map(([name, [t, ct], [k, ck]]) => [name, fmt(t) + ct, fmt(k) + ck, Number.isFinite(t / k) && k !== 0 ? (t / k).toFixed(2) : '–']);
    const head = ['workload', 'tapstack', 'kernel', 'tapstack/kernel'];
    const w = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
    const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
    console.log(`\ntapstack (TAP) vs the Linux kernel (veth), each under the same Node services, Node ${process.version}, median of ${REPEAT} runs`);
    console.log(line(head));
    console.log(w.map((n) => '─'.repeat(n)).join('  '));
    for (const r of table) console.log(line(r));
    console.log(
      [
        'Ratio > 1 means tapstack is higher: better for MB/s and per-second rows, worse for latency and memory.',
        '* = a run stopped at the time cap (BENCH_CLIENT_SECONDS) before its count.',
        'RSS Δ: growth of the server process after GC. tapstack: its whole TCP/IP stack plus the Node',
        "  sockets; kernel: only the Node sockets (the kernel's socket memory is in no process).",
        'Slab Δ: kernel memory of the whole machine, so other activity adds noise. tapstack column:',
        "  the client's sockets only; kernel column: client and server sockets.",
        "Server total ≈ RSS Δ plus the server's share of the slab (kernel Slab Δ − tapstack Slab Δ).",
        `Idle connections the server accepted: tapstack ${idleT.accepted}, kernel ${idleK.accepted}; ` +
          `still open after the client reset them (waited up to 10 s): tapstack ${idleT.left}, kernel ${idleK.left}.`,
      ].join('\n'),
    );
    if (top) {
      console.log(`\nthe tapstack server during the first download: ${top.secs.toFixed(1)} s, ` +
        `CPU ${top.userS.toFixed(1)} s user + ${top.systemS.toFixed(1)} s system (a write to the TAP also runs the kernel's receive ` +
        `of that frame), event loop busy ${(100 * top.busyShare).toFixed(0)}% of the time; the client used ${top.clientS.toFixed(1)} s of CPU.\n` +
        'Top self time in the tapstack server:');
      console.table(top.top);
    }
    const drops = Object.entries(await servers[TAPSTACK].ask('drops'));
    if (drops.length > 0) console.log(`tapstack drops during the run: ${drops.map(([r, n]) => `${r}=${n}`).join(' ')}`);
  } finally {
    cleanup();
    process.off('SIGINT', onSigint);
  }
}
