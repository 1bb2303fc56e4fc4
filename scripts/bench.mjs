#!/usr/bin/env node
// npm run bench: how fast the receive walk is, and what it costs in memory.
//
// 1. In memory (always): frames through Stack.receive in batches of 64 on a MemoryLink,
//    for ICMP echo (answered), UDP echo (delivered, read, answered) and frames dropped at
//    each early stage. Reports ns per frame, frames per second and heap growth.
// 2. On a real TAP (root and /dev/net/tun only): a flood ping in a namespace of its own,
//    bounded by count and time, against the stack running in this process.
// 3. Over TCP (root and /dev/net/tun only): the same workloads against tapstack and against
//    the Linux kernel, side by side, with the ratio tapstack/kernel (scripts/bench-tcp.mjs).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
if (!existsSync(`${root}dist/index.js`)) spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
const { createStack, ManualClock, MemoryLink, seededRandom, TapLink, RealClock, run } = await import(`${root}dist/index.js`);
const { udpEcho } = await import(`${root}dist/services/echo.js`);
const { benchTcpVsKernel } = await import('./bench-tcp.mjs');

const FRAMES = Number(process.env.BENCH_FRAMES ?? 500_000);
const BATCH = 64;

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

function measure(name, frame, setup) {
  const { stack, peer, clock } = host();
  setup?.(stack);
  const batch = Array.from({ length: BATCH }, () => frame);
  for (let i = 0; i < 2000; i++) { stack.receive(batch, clock.now()); peer.take(); }
  globalThis.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = process.hrtime.bigint();
  const rounds = Math.ceil(FRAMES / BATCH);
  for (let i = 0; i < rounds; i++) {
    stack.receive(batch, clock.now());
    if ((i & 15) === 0) peer.take();
  }
  peer.take();
  const ns = Number(process.hrtime.bigint() - t0) / (rounds * BATCH);
  globalThis.gc?.();
  const heap = (process.memoryUsage().heapUsed - heap0) / 1024;
  return { case: name, 'ns/frame': ns.toFixed(0), 'frames/s': Math.round(1e9 / ns).toLocaleString('en'), 'heap Δ KiB': heap.toFixed(0) };
}

const rows = [
  measure('ICMP echo 56 B → reply', echoFrame(56)),
  measure('ICMP echo 1472 B → reply', echoFrame(1472)),
  measure('UDP 64 B → echo socket → reply', udpFrame(7, 64), (s) => udpEcho(s, 7)),
  measure('UDP 64 B → closed port (rate-limited ICMP)', udpFrame(9, 64)),
  measure('dropped: other host MAC', (() => { const f = echoFrame(56); f[5] = 0x99; return f; })()),
  measure('dropped: bad IP checksum', (() => { const f = echoFrame(56); f[24] ^= 0xff; return f; })()),
  // What tracing costs: attached but matching nothing, and tracing every packet.
  measure('ICMP echo 56 B, tracer on, filter matches none', echoFrame(56), (s) => s.trace(() => {}, 'tcp port 1')),
  measure('ICMP echo 56 B, tracing every packet', echoFrame(56), (s) => s.trace(() => {})),
];
console.log(`\nreceive walk, in memory, ${FRAMES.toLocaleString('en')} frames per case, batches of ${BATCH} (Node ${process.version})`);
console.table(rows);

// ── a real flood ping over a TAP, in a namespace of our own ─────────────────
const canTap = process.getuid?.() === 0 && existsSync('/dev/net/tun') && spawnSync('ping', ['-V']).status === 0;
if (!canTap) {
  console.log('flood ping over a TAP: skipped (needs root, /dev/net/tun and ping)');
} else {
  const ns = `tapstack-bench-${process.pid}`;
  spawnSync('ip', ['netns', 'add', ns]);
  let link;
  try {
    link = TapLink.open({ name: 'tap0', netns: ns });
    for (const a of [['addr', 'add', '192.168.69.1/24', 'dev', 'tap0'], ['link', 'set', 'tap0', 'up']]) spawnSync('ip', ['-n', ns, ...a]);
    const clock = new RealClock();
    const stack = createStack({ link, ipv4: '192.168.69.2/24', mac: '02:00:00:00:00:02', clock });
    const running = run(stack, clock);
    const count = Number(process.env.BENCH_PINGS ?? 20_000);
    const cpu0 = process.cpuUsage();
    const t0 = Date.now();
    const out = await new Promise((resolve) => {
      // -f floods (as fast as replies come), -c and -w bound it in count and time.
      const p = spawn('ip', ['netns', 'exec', ns, 'ping', '-f', '-q', '-c', String(count), '-w', '20', '192.168.69.2']);
      let s = '';
      p.stdout.on('data', (d) => (s += d));
      p.on('close', () => resolve(s));
    });
    const secs = (Date.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const got = Number(/(\d+) received/.exec(out)?.[1] ?? 0);
    running.stop();
    console.log(`\nflood ping over a TAP: ${got}/${count} replies in ${secs.toFixed(2)} s = ${Math.round(got / secs).toLocaleString('en')} echoes/s, ` +
      `stack CPU ${(((cpu.user + cpu.system) / Math.max(got, 1))).toFixed(1)} µs per echo (request in + reply out)`);
  } finally {
    link?.close();
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

// ── tapstack's TCP against the kernel's, same workloads, same run ────────────
await benchTcpVsKernel({ root });
