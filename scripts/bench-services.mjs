#!/usr/bin/env node
// The servers of `npm run bench`'s TCP comparison: tapstack's own service code
// (dist/services/tcp.js: echo 7, discard 9, chargen 19, HTTP 80) on one of two TCP/IP stacks.
//
//   node bench-services.mjs tapstack <netns>   tapstack on a TAP "tap0" opened in <netns>,
//                                              192.168.69.2/24 (the caller gives the kernel's
//                                              side of the TAP its address)
//   node bench-services.mjs kernel             Linux's TCP through node:net, on whatever
//                                              addresses the namespace we run in has
//
// The services only call `stack.tcp.createServer(handler).listen(port)` and
// `stack.counters()`, so for the kernel a two-method stand-in for the stack is enough: the
// application layer is byte for byte the same in both processes, only the TCP/IP stack
// underneath differs. Both are a fresh Node process, so their memory compares too.
//
// bench-tcp.mjs talks to us over stdin/stdout, one line each way:
//   → ready                                          all four services listen
//   ← mem            → {"rss","heapUsed","connections"}   after two full GCs
//   ← profile start  → {}                             start sampling our CPU
//   ← profile stop   → {"top":[…],"busyShare","userS","systemS"}
//   ← drops          → {reason: count}                tapstack's drop counters ({} for kernel)
//   stdin closed: exit
import inspector from 'node:inspector';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { httpService, tcpChargen, tcpDiscard, tcpEcho } = await import(`${root}dist/services/tcp.js`);
const [mode, netns] = process.argv.slice(2);

/** The kernel's TCP dressed as the two methods of a tapstack Stack that the services use. */
function kernelStack() {
  // The page shows three TCP counters. tapstack snapshots its MIB per request (a few µs);
  // here they are read from /proc/net/snmp at most once a second, which costs the kernel
  // side less than a file read per request would.
  let tcpMib = { InSegs: 0, OutSegs: 0, CurrEstab: 0 };
  let readAt = -Infinity;
  return {
    tcp: { createServer: (handler) => net.createServer(handler) },
    counters() {
      if (performance.now() - readAt > 1000) {
        readAt = performance.now();
        const [names, values] = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Tcp:')).map((l) => l.split(/\s+/));
        tcpMib = Object.fromEntries((names ?? []).map((n, i) => [n, Number(values?.[i])]));
      }
      return { Tcp: tcpMib };
    },
  };
}

async function tapstack() {
  const { createStack, RealClock, TapLink, run } = await import(`${root}dist/index.js`);
  const link = TapLink.open({ name: 'tap0', netns });
  const clock = new RealClock();
  const stack = createStack({ link, ipv4: '192.168.69.2/24', mac: '02:00:00:00:00:02', clock });
  run(stack, clock);
  return stack;
}

let stack;
if (mode === 'tapstack' && netns) stack = await tapstack();
else if (mode === 'kernel') stack = kernelStack();
else {
  process.stderr.write('usage: bench-services.mjs tapstack <netns> | kernel\n');
  process.exit(2);
}

const servers = [tcpEcho(stack, 7), tcpDiscard(stack, 9), tcpChargen(stack, 19), httpService(stack, 80).server];
await Promise.all(servers.map((s) => (s.listening ? null : new Promise((resolve) => s.once('listening', resolve)))));
process.stdout.write('ready\n');

async function connections() {
  const counts = await Promise.all(servers.map((s) => (s instanceof net.Server
    ? new Promise((resolve) => s.getConnections((_e, n) => resolve(n ?? 0)))
    : s.connections)));
  return counts.reduce((a, b) => a + b, 0);
}

// ── sampling our own CPU, on request ─────────────────────────────────────────
let session;
let cpu0;
const post = (m, p) => new Promise((res, rej) => session.post(m, p, (e, r) => (e ? rej(e) : res(r))));
async function profileStart() {
  session = new inspector.Session();
  session.connect();
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 100 });
  await post('Profiler.start');
  cpu0 = process.cpuUsage();
  return {};
}
/** The five functions with the most self time: where the samples landed, callees not counted. */
async function profileStop() {
  const cpu = process.cpuUsage(cpu0);
  const { profile } = await post('Profiler.stop');
  session.disconnect();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let busy = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const f = byId.get(id).callFrame;
    const dt = profile.timeDeltas[i] ?? 0;
    if (f.functionName === '(idle)') {
      idle += dt;
      return;
    }
    // Functions V8 inlined count as their caller; an empty url is the addon or V8 itself.
    const where = f.url === '' ? '(native)' : `${f.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
    const key = `${f.functionName || '(anonymous)'} ${where}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    busy += dt;
  });
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 5)
    .map(([fn, us]) => ({ function: fn, 'self % of busy': ((100 * us) / busy).toFixed(1) }));
  return { top, busyShare: busy / (busy + idle), userS: cpu.user / 1e6, systemS: cpu.system / 1e6 };
}

const commands = {
  async mem() {
    globalThis.gc?.();
    globalThis.gc?.();
    const m = process.memoryUsage();
    return { rss: m.rss, heapUsed: m.heapUsed, connections: await connections() };
  },
  'profile start': profileStart,
  'profile stop': profileStop,
  drops: () => (mode === 'tapstack' ? stack.drops() : {}),
};

const lines = createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  const cmd = commands[line.trim()];
  const reply = cmd ? await cmd() : { error: `unknown command ${line.trim()}` };
  process.stdout.write(`${JSON.stringify(reply)}\n`);
});
// The parent going away (or closing our stdin) ends us: no orphan servers.
lines.on('close', () => process.exit(0));
