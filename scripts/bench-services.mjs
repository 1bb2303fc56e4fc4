#!/usr/bin/env node
// The servers of `npm run bench`: tapstack's own service code on one of two TCP/IP stacks.
//
//   node bench-services.mjs tapstack <netns> <tap> <cidr> offload|plain
//                                   tapstack on TAP <tap>, opened in <netns>, answering at
//                                   <cidr> (MAC 02:00:00:00:00:02), with or without the
//                                   TAP's virtio-net offloads (TapLink `offload`); the caller
//                                   gives the kernel's side of the TAP its address
//   node bench-services.mjs kernel  Linux's TCP and UDP through node:net and node:dgram, on
//                                   whatever addresses the namespace we run in has
//
// Services: TCP echo 7, discard 9, chargen 19 (dist/services/tcp.js), UDP echo 7
// (dist/services/echo.js), the fixed responder 8080 (dist/services/fixed.js), and on 80
// Node's own http.Server handed our sockets, answering every request with the same
// 128-byte body as the fixed responder: the two HTTP ports differ only in the HTTP code.
// (`tapstack up` serves the live page on 80, which renders the stack's whole state per
// request: a measure of the page, not of the stack.)
//
// The services only call `stack.tcp.createServer(handler).listen(port)` and
// `stack.udp.createSocket(type)`, so for the kernel a stand-in with those two is enough: the
// application layer is byte for byte the same in both processes, only the TCP/IP stack
// underneath differs. Each is a fresh Node process, so their memory compares too.
//
// bench-tcp.mjs talks to us over stdin/stdout, one line each way:
//   → {"ready":true,"offload":…}                   all services listen (offload: negotiated)
//   ← mem            → {"rss","heapUsed","connections"}   after two full GCs
//   ← cpu            → {"user_s","sys_s","echoes"}  our CPU so far; ICMP echo replies sent
//   ← link           → the link's counters ({} for kernel)
//   ← profile start  → {}                           start sampling our CPU
//   ← profile stop   → {"top":[…],"busyShare","userS","systemS"}
//   ← drops          → {reason: count}              tapstack's drop counters ({} for kernel)
//   stdin closed: exit
import dgram from 'node:dgram';
import http from 'node:http';
import inspector from 'node:inspector';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { tcpChargen, tcpDiscard, tcpEcho } = await import(`${root}dist/services/tcp.js`);
const { udpEcho } = await import(`${root}dist/services/echo.js`);
const { fixedResponder, FIXED_BODY_BYTES } = await import(`${root}dist/services/fixed.js`);
const [mode, netns, tapName, cidr, offloadArg] = process.argv.slice(2);

/** The kernel's TCP and UDP dressed as the two members of a tapstack Stack that the services use. */
function kernelStack() {
  return {
    tcp: { createServer: (handler) => net.createServer(handler) },
    udp: { createSocket: (type) => dgram.createSocket(type) },
  };
}

let link;
async function tapstack() {
  const { createStack, RealClock, TapLink, run } = await import(`${root}dist/index.js`);
  link = TapLink.open({ name: tapName, netns, offload: offloadArg === 'offload' });
  const clock = new RealClock();
  const stack = createStack({ link, ipv4: cidr, mac: '02:00:00:00:00:02', clock });
  run(stack, clock);
  return stack;
}

let stack;
if (mode === 'tapstack' && netns && tapName && cidr && (offloadArg === 'offload' || offloadArg === 'plain')) stack = await tapstack();
else if (mode === 'kernel') stack = kernelStack();
else {
  process.stderr.write('usage: bench-services.mjs tapstack <netns> <tap> <cidr> offload|plain | kernel\n');
  process.exit(2);
}

// Node's http, with the fixed responder's body: what Node's HTTP code costs over each TCP.
const body = Buffer.alloc(FIXED_BODY_BYTES, 0x61);
const web = http.createServer((_req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.setHeader('content-length', body.length);
  res.end(body);
});
const servers = [
  tcpEcho(stack, 7), tcpDiscard(stack, 9), tcpChargen(stack, 19), fixedResponder(stack, 8080),
  // Node's http.Server turns Nagle off on the sockets it accepts itself (its noDelay option,
  // default true); one handed a socket by 'connection' does not, so do it here, for both stacks.
  stack.tcp.createServer((sock) => {
    sock.setNoDelay(true);
    web.emit('connection', sock);
  }).listen(80),
];
const udp = udpEcho(stack, 7);
await Promise.all([
  ...servers.map((s) => (s.listening ? null : new Promise((resolve) => s.once('listening', resolve)))),
  mode === 'kernel' ? new Promise((resolve) => udp.once('listening', resolve)) : null,
]);
process.stdout.write(`${JSON.stringify({ ready: true, offload: link?.offload ?? false })}\n`);

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
  cpu() {
    const { user, system } = process.cpuUsage();
    return { user_s: user / 1e6, sys_s: system / 1e6, echoes: mode === 'tapstack' ? stack.counters().Icmp.OutEchoReps : null };
  },
  link: () => (mode === 'tapstack' ? stack.linkStats() : {}),
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
