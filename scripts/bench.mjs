#!/usr/bin/env node
// npm run bench: one table, tapstack with and without the TAP's offloads next to the Linux
// kernel and next to the TAP's own limits (issue 6 §4). Progress goes to stderr; the table,
// and the notes under it, to stdout (BENCH_MARKDOWN=1 prints it as Markdown too).
//
// 1. The receive walk in memory (always): frames through Stack.receive in batches of 64 on a
//    MemoryLink, ns per frame, and the garbage collections per million frames.
// 2. The TAP's own limits (bench-tap.mjs; root, /dev/net/tun and cc): frames per CPU-second,
//    kernel TCP relayed between two TAPs with and without offloads, a trivial ARP + echo
//    responder in C under flood ping.
// 3. The servers (bench-tcp.mjs; root and /dev/net/tun): bulk TCP, flood ping, 1-byte round
//    trips, HTTP with wrk and ab, connects, idle connections, against tapstack over a TAP with
//    offloads and without, and the kernel over a veth.
// Everything that touches a network runs in namespaces those scripts make and delete.
// BENCH_QUICK=1 shrinks every count (a minute or two instead of about ten).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
if (!existsSync(`${root}dist/services/fixed.js`)) spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
const { createStack, ManualClock, MemoryLink, seededRandom } = await import(`${root}dist/index.js`);
const { udpEcho } = await import(`${root}dist/services/echo.js`);
const { benchStacks } = await import('./bench-tcp.mjs');
const { benchTapLimits } = await import('./bench-tap.mjs');

const QUICK = process.env.BENCH_QUICK === '1';
const FRAMES = Number(process.env.BENCH_FRAMES ?? (QUICK ? 100_000 : 500_000));
const BATCH = 64;
const log = (s) => process.stderr.write(`bench: ${s}\n`);

// ── 1. the receive walk in memory ────────────────────────────────────────────
function hex(s) {
  return Uint8Array.from(s.match(/../g).map((b) => parseInt(b, 16)));
}
function sum16(b, o, n) {
  let s = 0;
  for (let i = 0; i < n; i += 2) s += (b[o + i] << 8) | (b[o + i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}
function setCsum(b, at, from, n, initial = 0) {
  b[at] = b[at + 1] = 0;
  let s = sum16(b, from, n) + initial;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  const c = ~s & 0xffff;
  b[at] = c >>> 8;
  b[at + 1] = c & 0xff;
}
// Peer 192.168.69.1 / 02:..:0a talks to us, 192.168.69.2 / 02:..:0b.
function ipFrame(proto, l4) {
  const f = new Uint8Array(34 + l4.length);
  f.set(hex('02000000000b02000000000a0800'), 0);
  f.set(hex('450000000000400040000000c0a84501c0a84502'), 14);
  f[16] = (20 + l4.length) >> 8;
  f[17] = (20 + l4.length) & 0xff;
  f[23] = proto;
  setCsum(f, 24, 14, 20);
  f.set(l4, 34);
  return f;
}
function echoFrame(size) {
  const m = new Uint8Array(8 + size);
  m[0] = 8;
  m[4] = 0x12;
  m[7] = 1;
  setCsum(m, 2, 0, m.length);
  return ipFrame(1, m);
}
function udpFrame(port, size) {
  const d = new Uint8Array(8 + size);
  d[0] = 0x9c; d[1] = 0x40; d[2] = port >> 8; d[3] = port & 0xff;
  d[4] = d.length >> 8; d[5] = d.length & 0xff;
  const f = ipFrame(17, d);
  const pseudo = sum16(f, 26, 8) + 17 + d.length;
  setCsum(f, 34 + 6, 34, d.length, pseudo);
  return f;
}

function host() {
  const clock = new ManualClock();
  const [link, peer] = MemoryLink.pair({ rxRing: 1 << 20 });
  const stack = createStack({ link, ipv4: '192.168.69.2/24', mac: '02:00:00:00:00:0b', clock, random: seededRandom(1) });
  // Learn the peer so replies need no ARP.
  const arp = hex('ffffffffffff02000000000a0806000108000604000102000000000ac0a84501000000000000c0a84502');
  stack.receive([arp], 0);
  peer.take();
  return { stack, peer, clock };
}

let gcs = 0;
new PerformanceObserver((list) => (gcs += list.getEntries().length)).observe({ entryTypes: ['gc'] });
const tick = () => new Promise((r) => setImmediate(r));

/** ns per frame through the walk, and garbage collections per million frames. */
async function measure(frame, setup) {
  const { stack, peer, clock } = host();
  setup?.(stack);
  const batch = Array.from({ length: BATCH }, () => frame);
  for (let i = 0; i < 2000; i++) { stack.receive(batch, clock.now()); peer.take(); }
  globalThis.gc?.();
  await tick();
  const gc0 = gcs;
  const t0 = process.hrtime.bigint();
  const rounds = Math.ceil(FRAMES / BATCH);
  for (let i = 0; i < rounds; i++) {
    stack.receive(batch, clock.now());
    if ((i & 15) === 0) peer.take();
  }
  peer.take();
  const ns = Number(process.hrtime.bigint() - t0) / (rounds * BATCH);
  await tick(); // GC entries arrive asynchronously
  return { ns, gcPerM: ((gcs - gc0) * 1e6) / (rounds * BATCH) };
}

log(`receive walk in memory, ${FRAMES.toLocaleString('en')} frames per case`);
const walk = {
  echo56: await measure(echoFrame(56)),
  echo1472: await measure(echoFrame(1472)),
  udp: await measure(udpFrame(7, 64), (s) => udpEcho(s, 7)),
  badsum: await measure((() => { const f = echoFrame(56); f[24] ^= 0xff; return f; })()),
  // What tracing costs: attached but matching nothing, and tracing every packet.
  traceNone: await measure(echoFrame(56), (s) => s.trace(() => {}, 'tcp port 1')),
  traceAll: await measure(echoFrame(56), (s) => s.trace(() => {})),
};

// ── 2. the TAP's own limits ──────────────────────────────────────────────────
log('TAP limits (bench-tap.mjs)');
const tap = {};
await benchTapLimits({ root, emit: (r) => (tap[r.key] = r) });

// ── 3. the servers ───────────────────────────────────────────────────────────
const net = await benchStacks({ root, log });

// ── the table ────────────────────────────────────────────────────────────────
const memRow = (name, v, lower = true) => ({ name, lower, values: { offload: null, plain: v, kernel: null }, memory: true });
const limitRow = (name, v) => ({ name, values: { offload: null, plain: null, kernel: null }, limit: v });
const rows = [];
for (const r of net.rows ?? []) {
  const limit = {
    relay: [tap['relay-offload']?.MB_per_s, tap['relay-plain']?.MB_per_s],
    ping1: [tap['c-1']?.echoes_per_s],
    ping8: [tap['c-8']?.echoes_per_s],
    cpu8: [tap['c-8']?.cpu_us_per_echo],
  }[r.key];
  rows.push({ ...r, ...(limit && { limit: limit[0], limitPlain: limit[1] ?? limit[0] }) });
}
rows.push(
  memRow('receive walk in memory: ICMP echo 56 B → reply (ns/frame)', walk.echo56.ns),
  memRow('receive walk in memory: ICMP echo 1472 B → reply (ns/frame)', walk.echo1472.ns),
  memRow('receive walk in memory: UDP 64 B → echo socket → reply (ns/frame)', walk.udp.ns),
  memRow('receive walk in memory: dropped, bad IP checksum (ns/frame)', walk.badsum.ns),
  memRow('receive walk in memory: echo, tracer on, filter matches none (ns/frame)', walk.traceNone.ns),
  memRow('receive walk in memory: echo, tracing every packet (ns/frame)', walk.traceAll.ns),
  memRow('receive walk in memory: GC runs per 1 M frames, ICMP echo 56 B', walk.echo56.gcPerM),
  memRow('receive walk in memory: GC runs per 1 M frames, UDP echo', walk.udp.gcPerM),
);
if (tap['tap-write']) rows.push(limitRow('TAP write, 1514-byte frames per CPU-second, one thread', tap['tap-write'].frames_per_cpu_s));
if (tap['tap-read']) rows.push(limitRow('TAP read, 1514-byte frames per CPU-second, one thread', tap['tap-read'].frames_per_cpu_s));

const num = (v) => typeof v === 'number' && Number.isFinite(v);
const fmt = (v) => (!num(v) ? '–' : Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en') : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));
const ratio = (a, b) => (num(a) && num(b) && b !== 0 ? (a / b).toFixed(2) : '–');
const head = ['workload', 'kernel (veth)', 'TAP limit', 'tapstack offloads', 'tapstack no offloads',
  'offloads/kernel', 'no offl./kernel', 'offloads/limit', 'no offl./limit'];
const cells = rows.map((r) => {
  const v = r.values ?? { offload: null, plain: null, kernel: null };
  const mark = (id) => (r.capped?.[id] ? '*' : '');
  if (r.skipped) return [r.name, '', '', `skipped (${r.skipped})`, '', '', '', '', ''];
  const limitCell = r.limitPlain !== undefined && r.limitPlain !== r.limit ? `${fmt(r.limit)} | ${fmt(r.limitPlain)}` : fmt(r.limit);
  return [
    r.name, fmt(v.kernel) + mark('kernel'), limitCell, fmt(v.offload) + mark('offload'), fmt(v.plain) + mark('plain'),
    ratio(v.offload, v.kernel), ratio(v.plain, v.kernel), ratio(v.offload, r.limit), ratio(v.plain, r.limitPlain ?? r.limit),
  ];
});

const machine = tap.machine ?? { cpus: cpus().length, node: process.version };
const title = `tapstack benchmark, ${new Date().toISOString().slice(0, 10)}, ${machine.cpus} CPUs` +
  `${machine.kernel ? `, Linux ${machine.kernel}` : ''}, Node ${process.version}` +
  `${net.rows ? `, median of ${process.env.BENCH_REPEAT ?? (QUICK ? 1 : 3)} runs` : ''}${QUICK ? ' (BENCH_QUICK)' : ''}`;
const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
const line = (c) => c.map((x, i) => (i === 0 ? x.padEnd(w[i]) : x.padStart(w[i]))).join('  ');
const notes = [
  'Ratios: higher is better on rates, lower on latency, CPU and memory rows. * = a run stopped at its time cap before its count.',
  'TAP limit: bulk rows, kernel TCP relayed between two TAPs by a C program (with offloads | without); ping rows, a trivial',
  '  C responder that answers ARP and echo only (its CPU: reading the request, writing the reply, incl. the kernel\'s delivery).',
  'HTTP: 128-byte body on both ports; :80 is Node\'s http module over the stack\'s TCP, :8080 the fixed responder.',
  'In-memory rows: the receive walk on a MemoryLink (no device, no offloads).',
];
if (net.skipped) notes.push(`tapstack vs the kernel: skipped: ${net.skipped}`);
if (tap.skipped) notes.push(`TAP limits: skipped: ${tap.skipped.skipped}`);
for (const k of ['node-1', 'node-8', 'node-offload-1', 'node-offload-8']) {
  const r = tap[k];
  if (r && !r.skipped) notes.push(`${r.case}: ${fmt(r.echoes_per_s)} echoes/s, ${fmt(r.cpu_us_per_echo)} µs CPU per echo.`);
}
const missingTools = [...new Set(rows.filter((r) => r.skipped).map((r) => r.skipped))];
for (const p of missingTools) notes.push(`HTTP rows with ${p === 'wrk' ? 'wrk' : 'ab'} skipped: install with apt-get install ${p}`);
notes.push(...(net.notes ?? []));

console.log(`\n${title}`);
console.log(line(head));
console.log(w.map((n) => '─'.repeat(n)).join('  '));
for (const c of cells) console.log(line(c));
console.log(notes.join('\n'));
if (net.profile) {
  const top = net.profile;
  console.log(`\ntapstack (offloads) during the first download: ${top.secs.toFixed(1)} s, CPU ${top.userS.toFixed(1)} s user + ` +
    `${top.systemS.toFixed(1)} s system, event loop busy ${(100 * top.busyShare).toFixed(0)}%; the client used ${top.clientS.toFixed(1)} s of CPU.`);
  console.table(top.top);
}
if (process.env.BENCH_MARKDOWN === '1') {
  console.log(`\n| ${head.join(' | ')} |\n|---|${head.slice(1).map(() => '---:').join('|')}|`);
  for (const c of cells) console.log(`| ${c.map((x) => x.replace(/\|/g, '\\|')).join(' | ')} |`);
}
