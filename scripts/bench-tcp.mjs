// The network part of `npm run bench`: the same workloads against tapstack with the TAP's
// offloads, tapstack without them, and the Linux kernel, in one run. Returns rows for
// bench.mjs's table (which adds the TAP's own limits from bench-tap.mjs).
//
//   netns A (clients)                                         netns B
//   ──────────────────────────────────────────────────────    ──────────────────────────────
//   bench-client.mjs ─┬─► tso0 ═══► bench-services.mjs tapstack, 192.168.69.2, TapLink offload
//   ping -f, wrk, ab  │   192.168.69.1/24
//   (kernel TCP/UDP)  ├─► tpl0 ═══► bench-services.mjs tapstack, 192.168.70.2, plain TapLink
//                     │   192.168.70.1/24
//                     └─► veth-a ═════════════════════════ veth-b ─► bench-services.mjs kernel
//                         10.69.0.1/24                     10.69.0.2/24   (the kernel's TCP)
//
// The three servers are fresh Node processes running tapstack's service code (TCP echo 7,
// discard 9, chargen 19, UDP echo 7, Node's http on 80, the fixed responder on 8080); the
// clients are the same programs on the kernel's TCP for all three, so only the server's stack
// (and the link: a TAP, or a veth that hands the kernel's 64 KiB TSO/GRO segments across)
// differs. Every timed row runs BENCH_REPEAT times with the three servers taking turns, so
// that all see the same background load; a row's value is the median run. Every client is
// bounded in count and in time, and stopped by its PID; both namespaces are made here and
// deleted in `finally` and on SIGINT.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { ip, nextLine } from './bench-tap.mjs';

const QUICK = process.env.BENCH_QUICK === '1';
/** A knob: its environment variable, else the full run's value, or the quick run's (BENCH_QUICK=1). */
const knob = (name, full, quick) => Number(process.env[name] ?? (QUICK ? quick : full));
const MIB = knob('BENCH_TCP_MIB', 512, 64);
const ECHOES = knob('BENCH_ECHOES', 20_000, 5000);
const CONNECTS = knob('BENCH_CONNECTS', 2000, 500);
const IDLE = knob('BENCH_IDLE', 10_000, 2000);
const PINGS = knob('BENCH_PINGS', 20_000, 5000);
const HTTP_SECONDS = knob('BENCH_HTTP_SECONDS', 3, 1);
const AB_REQUESTS = knob('BENCH_AB_REQUESTS', 20_000, 5000);
const HTTP_CONNECTIONS = knob('BENCH_HTTP_CONNECTIONS', 8, 8);
const CLIENT_SECONDS = knob('BENCH_CLIENT_SECONDS', 60, 30);
const REPEAT = knob('BENCH_REPEAT', 3, 1);
const PING_SECONDS = 15;

/** The servers, in the order they take turns. */
const STACKS = [
  { id: 'offload', host: '192.168.69.2', tap: 'tso0', peer: '192.168.69.1/24' },
  { id: 'plain', host: '192.168.70.2', tap: 'tpl0', peer: '192.168.70.1/24' },
  { id: 'kernel', host: '10.69.0.2' },
];

function slabKiB() {
  return Number(/^Slab:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? NaN);
}

/** The open-file limit a child gets (it inherits ours; raising the hard limit needs CAP_SYS_RESOURCE). */
function fileLimit() {
  return Number(spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim());
}

const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  return v.length === 0 ? null : v[Math.floor((v.length - 1) / 2)];
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs the comparison. Returns `{ skipped }` without root, or `{ rows, notes, profile }`: each
 * row `{ name, key, lower, values: {offload, plain, kernel}, capped: {…}, skipped? }`, values
 * null where not measured; `lower` when less is better.
 */
export async function benchStacks({ root, log = () => {} }) {
  const missing = process.getuid?.() !== 0 ? 'root' : !existsSync('/dev/net/tun') ? '/dev/net/tun'
    : spawnSync('ip', ['-V']).status !== 0 ? 'the ip command' : spawnSync('ping', ['-V']).status !== 0 ? 'ping' : null;
  if (missing !== null) return { skipped: `needs ${missing}` };
  const nsA = `tapstack-bench-client-${process.pid}`;
  const nsB = `tapstack-bench-kernel-${process.pid}`;
  const children = new Set();

  const cleanup = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    children.clear();
    for (const ns of [nsA, nsB]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 10_000 });
  };
  const onSigint = () => {
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSigint);

  /** Starts `cmd` in `ns`; `ip netns exec` execs it, so the PID is the program's. Killed after `limitMs`. */
  const start = (ns, cmd, limitMs) => {
    const c = spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.add(c);
    const timer = limitMs === undefined ? undefined : setTimeout(() => c.kill('SIGKILL'), limitMs);
    c.once('exit', () => {
      clearTimeout(timer);
      children.delete(c);
    });
    return c;
  };
  /** Runs `cmd` in the client namespace to its end (or `limitMs`); its stdout. */
  const output = (cmd, limitMs) => new Promise((resolve) => {
    const c = start(nsA, cmd, limitMs);
    c.stdin.end();
    let s = '';
    c.stdout.on('data', (d) => (s += d));
    c.once('close', () => resolve(s));
  });

  /** One bench-client.mjs workload; its JSON result. */
  const client = async (host, ...args) => {
    const c = start(nsA, [process.execPath, `${root}scripts/bench-client.mjs`, host, ...args.map(String)], (CLIENT_SECONDS + 20) * 1000);
    const line = await nextLine(c.stdout, (CLIENT_SECONDS + 15) * 1000, (l) => l.startsWith('{')).finally(() => c.kill('SIGKILL'));
    const r = JSON.parse(line);
    if (r.error) throw new Error(`client ${args.join(' ')} against ${host}: ${r.error}`);
    return r;
  };

  /** A server process (bench-services.mjs); `ask(command)` resolves with its one-line JSON answer. */
  const server = async (ns, args) => {
    const c = start(ns, [process.execPath, '--expose-gc', `${root}scripts/bench-services.mjs`, ...args]);
    const ready = JSON.parse(await nextLine(c.stdout, 15_000, (l) => l.startsWith('{')));
    const waiting = [];
    createInterface({ input: c.stdout }).on('line', (l) => waiting.shift()?.(l));
    const ask = (command) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server ${args[0]} did not answer "${command}"`)), 10_000);
      waiting.push((l) => {
        clearTimeout(timer);
        resolve(JSON.parse(l));
      });
      c.stdin.write(`${command}\n`);
    });
    return { ask, ready };
  };

  try {
    // ── the namespaces, the veth between them, the servers and their TAPs ───
    ip('netns', 'add', nsA);
    ip('netns', 'add', nsB);
    // Made inside A with its peer placed in B: nothing ever appears in the root namespace.
    ip('-n', nsA, 'link', 'add', 'veth-a', 'type', 'veth', 'peer', 'name', 'veth-b', 'netns', nsB);
    ip('-n', nsA, 'addr', 'add', '10.69.0.1/24', 'dev', 'veth-a');
    ip('-n', nsB, 'addr', 'add', '10.69.0.2/24', 'dev', 'veth-b');
    for (const [ns, dev] of [[nsA, 'veth-a'], [nsB, 'veth-b'], [nsA, 'lo'], [nsB, 'lo']]) ip('-n', ns, 'link', 'set', dev, 'up');
    // Room for the idle connections plus the TIME-WAITs of the connection-per-request rows.
    spawnSync('ip', ['netns', 'exec', nsA, 'sysctl', '-qw', 'net.ipv4.ip_local_port_range=10000 65000']);

    for (const st of STACKS) {
      if (st.id === 'kernel') {
        st.server = await server(nsB, ['kernel']);
        continue;
      }
      // tapstack opens its TAP inside A itself; the kernel's end of it is configured here.
      st.server = await server(nsA, ['tapstack', nsA, st.tap, `${st.host}/24`, st.id]);
      ip('-n', nsA, 'addr', 'add', st.peer, 'dev', st.tap);
      ip('-n', nsA, 'link', 'set', st.tap, 'up');
    }
    const byId = Object.fromEntries(STACKS.map((s) => [s.id, s]));
    const notes = [];
    const offloadOn = byId.offload.server.ready.offload;
    if (!offloadOn) notes.push('tapstack "with offloads": the TAP refused the virtio-net offloads, so that column ran without them.');

    // ── idle connections first, while no server holds TIME-WAITs from other rows ──
    const idleCount = Math.min(IDLE, fileLimit() - 256);
    const idle = async (st) => {
      const mem = () => st.server.ask('mem');
      const before = await mem();
      const slab0 = slabKiB();
      const c = start(nsA, [process.execPath, `${root}scripts/bench-client.mjs`, st.host, 'idle', String(idleCount)], (CLIENT_SECONDS + 40) * 1000);
      try {
        const opened = JSON.parse(await nextLine(c.stdout, (CLIENT_SECONDS + 15) * 1000, (l) => l.startsWith('{'))).opened;
        // The client sees a connection at the handshake; wait (bounded) until the server has accepted it.
        let after = await mem();
        for (let i = 0; i < 50 && after.connections - before.connections < opened; i++) {
          await sleep(200);
          after = await mem();
        }
        const slab1 = slabKiB();
        c.stdin.end('close\n');
        await nextLine(c.stdout, 30_000, (l) => l.startsWith('{'));
        // Connections the server still holds after the client reset them all would skew later rows.
        let end = await mem();
        for (let i = 0; i < 50 && end.connections > before.connections; i++) {
          await sleep(200);
          end = await mem();
        }
        return {
          opened,
          accepted: after.connections - before.connections,
          left: end.connections - before.connections,
          rssMiB: after.rss / 2 ** 20,
          rssDeltaMiB: (after.rss - before.rss) / 2 ** 20,
          slabMiB: (slab1 - slab0) / 1024,
        };
      } finally {
        c.kill('SIGKILL');
      }
    };
    log(`idle connections: ${idleCount.toLocaleString('en')} to each server`);
    const idleR = {};
    for (const st of STACKS) idleR[st.id] = await idle(st);

    // ── warm-up (JIT, neighbour entries, listener paths) before anything is timed ──
    const haveWrk = have('wrk');
    const haveAb = have('ab');
    log('warm-up');
    for (const st of STACKS) {
      await client(st.host, 'download', 32);
      await client(st.host, 'echo', 2000);
      await client(st.host, 'udp', 2000);
      if (haveWrk) for (const port of [80, 8080]) await output(['wrk', '-t1', '-c8', '-d1s', `http://${st.host}:${port}/`], 15_000);
    }

    // ── the timed rows ──────────────────────────────────────────────────────
    const rows = [];
    const profile = process.env.BENCH_PROFILE === '1';
    let top;
    /**
     * Runs `job(stack)` REPEAT times per server, servers taking turns, and adds one row per
     * metric: [name, (result) => value, lower?, key?] (key: which TAP limit the row compares with).
     */
    const row = async (what, job, metrics, key) => {
      log(what);
      const runs = Object.fromEntries(STACKS.map((s) => [s.id, []]));
      for (let i = 0; i < REPEAT; i++) {
        for (const st of STACKS) runs[st.id].push(await job(st, i));
      }
      for (const [name, f, lower = false, metricKey = key] of metrics) {
        rows.push({
          name,
          key: metricKey,
          lower,
          values: Object.fromEntries(STACKS.map((s) => [s.id, median(runs[s.id].map(f))])),
          capped: Object.fromEntries(STACKS.map((s) => [s.id, runs[s.id].some((r) => r.capped)])),
        });
      }
    };
    const mbs = (r) => r.bytes / 1e6 / r.secs;
    const tps = (r) => r.transactions / r.secs;
    const gso0 = await byId.offload.server.ask('link');

    await row('TCP upload', (st) => client(st.host, 'upload', MIB), [[`TCP upload, ${MIB} MiB to discard (MB/s)`, mbs]], 'relay');
    await row('TCP download', async (st) => {
      if (!profile || top !== undefined || st.id !== 'offload') return client(st.host, 'download', MIB);
      await st.server.ask('profile start');
      const r = await client(st.host, 'download', MIB);
      top = { ...(await st.server.ask('profile stop')), secs: r.secs, clientS: r.cpuS };
      return r;
    }, [[`TCP download, ${MIB} MiB from chargen (MB/s)`, mbs]], 'relay');
    const gso1 = await byId.offload.server.ask('link');
    if (offloadOn) {
      const tx = (gso1.tx_gso_frames ?? 0) - (gso0.tx_gso_frames ?? 0);
      const rx = (gso1.rx_gso_frames ?? 0) - (gso0.rx_gso_frames ?? 0);
      notes.push(`With offloads, the bulk rows moved ${rx.toLocaleString('en')} received GSO super-frames and ` +
        `${tx.toLocaleString('en')} TSO super-frames sent` +
        (tx === 0 ? ': tapstack\'s TCP did not send super-frames (TSO not in use), only the receive side used the offloads.' : '.'));
    }

    const ping = async (st, flows) => {
      const before = st.id === 'kernel' ? null : await st.server.ask('cpu');
      const t0 = process.hrtime.bigint();
      const outs = await Promise.all(Array.from({ length: flows }, () =>
        output(['ping', '-f', '-q', '-c', String(PINGS), '-w', String(PING_SECONDS), st.host], (PING_SECONDS + 10) * 1000)));
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      const received = outs.reduce((n, s) => n + Number(/(\d+) received/.exec(s)?.[1] ?? 0), 0);
      const after = before === null ? null : await st.server.ask('cpu');
      const cpuUs = after === null ? null
        : ((after.user_s + after.sys_s - before.user_s - before.sys_s) * 1e6) / Math.max(1, after.echoes - before.echoes);
      return { rate: received / secs, cpuUs, capped: received < flows * PINGS };
    };
    await row('flood ping, 1 flow', (st) => ping(st, 1), [['flood ping, 1 flow (echoes/s)', (r) => r.rate]], 'ping1');
    await row('flood ping, 8 flows', (st) => ping(st, 8), [
      ['flood ping, 8 parallel flows (echoes/s)', (r) => r.rate],
      // The server's CPU over the same runs: reading each request and writing its reply.
      ['CPU per echo (request in + reply out), 8 flows (µs)', (r) => r.cpuUs, true, 'cpu8'],
    ], 'ping8');

    await row('TCP round trips', (st) => client(st.host, 'echo', ECHOES), [
      ['TCP 1-byte round trips, one connection (/s)', tps],
      ['TCP round trip p50 (µs)', (r) => r.p50, true],
      ['TCP round trip p99 (µs)', (r) => r.p99, true],
    ]);
    await row('UDP round trips', (st) => client(st.host, 'udp', ECHOES), [
      ['UDP 1-byte round trips (/s)', tps],
      ['UDP round trip p50 (µs)', (r) => r.p50, true],
    ]);
    await row('connect + close', (st) => client(st.host, 'connect', CONNECTS), [
      [`connect + close to discard, ${CONNECTS.toLocaleString('en')}, 8 at a time (/s)`, (r) => r.ok / r.secs],
    ]);

    // ── HTTP: wrk and ab, Node's http on 80 and the fixed responder on 8080 ──
    const wrk = async (st, port, close) => {
      const out = await output(['wrk', '-t1', `-c${HTTP_CONNECTIONS}`, `-d${HTTP_SECONDS}s`, '--timeout', '2s',
        ...(close ? ['-H', 'Connection: close'] : []), `http://${st.host}:${port}/`], (HTTP_SECONDS + 15) * 1000);
      const rate = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
      const errors = [...(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out) ?? [])].slice(1).map(Number);
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      return { rate, errors: errors.reduce((a, b) => a + b, 0) + non2xx };
    };
    const ab = async (st, port, keepAlive) => {
      // -t before -n: -t alone would mean 50,000 requests; both bound the run.
      const count = keepAlive ? AB_REQUESTS : Math.ceil(AB_REQUESTS / 2);
      const out = await output(['ab', '-q', '-r', '-s', '5', '-t', String(HTTP_SECONDS * 3), '-n', String(count),
        `-c${HTTP_CONNECTIONS}`, ...(keepAlive ? ['-k'] : []), `http://${st.host}:${port}/`], (HTTP_SECONDS * 3 + 15) * 1000);
      const rate = Number(/Requests per second:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
      const complete = Number(/Complete requests:\s+(\d+)/.exec(out)?.[1] ?? 0);
      const failed = /\(Connect: (\d+), Receive: (\d+), Length: (\d+), Exceptions: (\d+)\)/.exec(out);
      const non2xx = Number(/Non-2xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
      const errors = (failed ? Number(failed[1]) + Number(failed[2]) + Number(failed[3]) + Number(failed[4]) : 0) + non2xx;
      return { rate, errors, capped: complete < count };
    };
    // Each HTTP run connects from an address of its own. A server that closes first keeps
    // every connection in TIME-WAIT for 60 s; a later run that happens on a port pair still
    // held there (55,000 ports go fast at thousands of connections a second) waits out SYN
    // retransmissions, and the kernel's and tapstack's TIME-WAIT rules would be measured
    // instead of their speed.
    const sources = new Map();
    const freshSource = (st) => {
      const n = (sources.get(st.id) ?? 0) + 1;
      sources.set(st.id, n);
      const [dev, net] = st.id === 'kernel' ? ['veth-a', '10.69.0'] : [st.tap, st.host.slice(0, st.host.lastIndexOf('.'))];
      const src = `${net}.${100 + (n % 150)}`;
      spawnSync('ip', ['-n', nsA, 'addr', 'add', `${src}/32`, 'dev', dev], { stdio: 'ignore', timeout: 10_000 });
      ip('-n', nsA, 'route', 'replace', `${net}.0/24`, 'dev', dev, 'src', src);
    };
    const httpErrors = [];
    for (const [port, what] of [[80, "Node's http :80"], [8080, 'fixed responder :8080']]) {
      for (const [tool, keepAlive, label] of [['wrk', true, 'keep-alive'], ['ab', true, 'keep-alive'], ['wrk', false, 'new connection each'], ['ab', false, 'new connection each']]) {
        const name = `HTTP ${label}, ${what}, ${tool} -c${HTTP_CONNECTIONS} (req/s)`;
        if (!(tool === 'wrk' ? haveWrk : haveAb)) {
          rows.push({ name, values: null, skipped: tool === 'wrk' ? 'wrk' : 'apache2-utils' });
          continue;
        }
        await row(name, async (st) => {
          freshSource(st);
          const r = tool === 'wrk' ? await wrk(st, port, !keepAlive) : await ab(st, port, keepAlive);
          if (r.errors > 0) httpErrors.push(`${st.id} ${tool} ${label} :${port}: ${r.errors}`);
          return r;
        }, [[name, (r) => r.rate]]);
      }
    }
    if (httpErrors.length > 0) notes.push(`HTTP errors (failed or non-2xx requests, summed over runs): ${httpErrors.join('; ')}.`);

    // ── memory ──────────────────────────────────────────────────────────────
    const n = idleCount.toLocaleString('en');
    const idleRow = (name, f, lower = true) => rows.push({
      name, lower, values: Object.fromEntries(STACKS.map((s) => [s.id, f(idleR[s.id], s.id)])), capped: {},
    });
    idleRow(`${n} idle connections: server RSS (MiB)`, (r) => r.rssMiB);
    idleRow(`${n} idle connections: server RSS growth (MiB)`, (r) => r.rssDeltaMiB);
    // The kernel keeps its sockets in slab memory no process is charged for. The tapstack
    // columns' Slab Δ is the client's sockets alone; the kernel's, client and server.
    idleRow(`${n} idle connections: growth incl. kernel socket memory ≈ (MiB)`,
      (r, id) => (id === 'kernel' ? r.rssDeltaMiB + r.slabMiB - idleR.plain.slabMiB : r.rssDeltaMiB));
    notes.push(`Idle connections the servers accepted: ${STACKS.map((s) => `${s.id} ${idleR[s.id].accepted}`).join(', ')}; ` +
      `still open after the client reset them (waited up to 10 s): ${STACKS.map((s) => `${s.id} ${idleR[s.id].left}`).join(', ')}.`);

    for (const st of STACKS.filter((s) => s.id !== 'kernel')) {
      const drops = Object.entries(await st.server.ask('drops'));
      if (drops.length > 0) notes.push(`tapstack (${st.id}) drops during the run: ${drops.map(([r, c]) => `${r}=${c}`).join(' ')}`);
    }
    return { rows, notes, profile: top, idle: idleR };
  } finally {
    cleanup();
    process.off('SIGINT', onSigint);
  }
}
