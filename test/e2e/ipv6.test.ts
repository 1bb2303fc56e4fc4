/**
 * tapstack over IPv6 with the Linux kernel as its neighbour: a TAP device in a namespace
 * of this test's own, fd00:69::1/64 on the kernel's side (nodad, as `tapstack up` sets
 * it), the stack at fd00:69::2/64 and fe80::ff:fe00:2 (from MAC 02:00:00:00:00:02) with
 * its services (echo 7 over UDP and TCP, discard 9, chargen 19, HTTP 80) in this process,
 * and real clients in the namespace: ping -6, ip -6 neigh, curl -6, nc -6, nmap -6.
 *
 * Our addresses are tentative until duplicate address detection ends (RFC 4862 §5.4:
 * one Neighbor Solicitation, then RetransTimer of silence), so beforeAll waits for them.
 *
 * The chargen download moves TAPSTACK_E2E_BYTES (default here 100 MiB). tshark records
 * everything before it; TAPSTACK_E2E_PCAP=/path/file.pcap keeps a copy of that capture.
 * The last block runs `tapstack up` itself (from dist/) and checks it comes up on IPv6.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../src/core/clock.js';
import { TapLink } from '../../src/dev/tap.js';
import { run, type Running } from '../../src/driver.js';
import { udpEcho } from '../../src/services/echo.js';
import { httpService, tcpChargen, tcpDiscard, tcpEcho } from '../../src/services/tcp.js';
import { createStack, type Stack } from '../../src/stack.js';
import type { TcpServer } from '../../src/user/net.js';
import { formatMac } from '../../src/wire/addr.js';
import { bulkLimitMs, chargenSha256, COUNT_AND_HASH, mibps, parseBytes } from '../helpers/bulk.js';
import { Netns, tapSkipReason } from '../helpers/netns.js';
import { expertInfos, fields, NOTE_SEVERITY, WARNING_SEVERITY } from '../helpers/tshark.js';
import { hasCommand, received, runIn, startCapture, type Capture } from './clients.js';

const skip = tapSkipReason();
if (skip !== null) console.warn(`skipping IPv6 end-to-end tests: ${skip}`);

const TAP = 'tap6';
const ME4 = '192.168.69.2';
const KERNEL4 = '192.168.69.1';
const ME = 'fd00:69::2';
const KERNEL = 'fd00:69::1';
const MAC = '02:00:00:00:00:02';
/** Our link-local address: fe80:: and the modified EUI-64 of MAC (RFC 4291 appendix A). */
const LINK_LOCAL = 'fe80::ff:fe00:2';
const URL_ = `http://[${ME}]/`;

/** Bytes the chargen download moves: TAPSTACK_E2E_BYTES when set, else 100 MiB. */
const BULK = parseBytes(process.env['TAPSTACK_E2E_BYTES'] ?? '100M');
const BULK_LIMIT_MS = bulkLimitMs(BULK);

/** Our services' TCP ports; a RST from any other port answers a probe of a closed one. */
const OPEN_PORTS = [7, 9, 19, 80];

/** Bytes of an ICMPv6 echo's data in each fragment at MTU 1500: 1500 − 40 (IPv6) − 8 (Fragment header), a multiple of 8. */
const FRAG_PAYLOAD = 1448;

/** Fragments of one echo of `size` data bytes at MTU 1500 (both Linux and tapstack fill each to FRAG_PAYLOAD). */
function fragmentsOf(size: number): number {
  const icmp = 8 + size;
  return icmp + 40 <= 1500 ? 0 : Math.ceil(icmp / FRAG_PAYLOAD);
}

/** The kernel's IPv6 counters in `ns` (/proc/net/snmp6: `Name  value` lines). */
async function snmp6(ns: Netns): Promise<Record<string, number>> {
  const r = await runIn(ns, ['cat', '/proc/net/snmp6']);
  return Object.fromEntries(r.stdout.split('\n').filter((l) => l !== '').map((l) => {
    const [name = '', value = '0'] = l.trim().split(/\s+/);
    return [name, Number(value)];
  }));
}

/** Python sending one datagram from a connected UDP socket to argv[1] port argv[2], printing what came back. */
const UDP_PROBE = `
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect((sys.argv[1], int(sys.argv[2])))
s.send(b'a')
try:
    print('answered' if s.recv(100) else 'empty')
except ConnectionRefusedError:
    print('refused')
except socket.timeout:
    print('timeout')
`;

/** curl fetching `urls`, printing after each body a line `@@ <status> <new connections>`. */
function curl(urls: string[]): string[] {
  return ['curl', '-6', '-sS', '--max-time', '10', '-w', '\n@@ %{http_code} %{num_connects}\n', ...urls];
}

/** The `@@ status connects` trailers curl printed, in order. */
function trailers(out: string): { status: number; connects: number }[] {
  return [...out.matchAll(/^@@ (\d+) (\d+)$/gm)].map((m) => ({ status: Number(m[1]), connects: Number(m[2]) }));
}

/** Where two byte strings part: null when equal, else their lengths and first differing offset. */
function difference(got: Buffer, want: Buffer): string | null {
  if (got.equals(want)) return null;
  let i = 0;
  while (i < got.length && i < want.length && got[i] === want[i]) i++;
  return `got ${got.length} bytes, want ${want.length}; first difference at offset ${i}`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 50 ms for at most `ms`; returns whether it came true. */
async function waitFor(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}

/**
 * Pings `target` once a second until a reply comes, at most `tries` times: the first
 * proof that an address is usable, from the kernel's side, whatever DAD is doing.
 */
async function pingUntilAnswered(ns: Netns, target: string[], tries = 6): Promise<string> {
  let last = '';
  for (let i = 0; i < tries; i++) {
    const r = await runIn(ns, ['ping', '-6', '-c', '1', '-W', '1', ...target]);
    if (received(r.stdout) === 1) return '';
    last = r.stdout + r.stderr;
  }
  return last;
}

/**
 * Whether a Warning or worse on a frame of ours is right: Wireshark rates every RST a
 * Warning, and ours are expected where they answer nmap's probes of closed ports, or as
 * a bare RST (no ACK) answering a segment for a connection already gone, as Linux does.
 */
function tolerated(message: string, srcPort: number, info: string): boolean {
  return message === 'Connection reset (RST)' && (!OPEN_PORTS.includes(srcPort) || /\[RST\] /.test(info));
}

describe.skipIf(skip !== null)('tapstack over IPv6 on a TAP device, with the Linux kernel as neighbour', () => {
  let ns: Netns;
  let link: TapLink;
  let stack: Stack;
  let running: Running;
  let dir: string;
  let capture: Capture | undefined;
  let kernelMac: string;
  const servers: TcpServer[] = [];
  const pcap = (): string => join(dir, 'ipv6.pcap');
  let httpConnections = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tapstack-ipv6-'));
    ns = Netns.create('tapstack-ip6');
    link = TapLink.open({ name: TAP, netns: ns.name });
    for (const args of [
      ['addr', 'add', `${KERNEL4}/24`, 'dev', TAP],
      ['-6', 'addr', 'add', `${KERNEL}/64`, 'dev', TAP, 'nodad'],
      ['link', 'set', 'dev', TAP, 'up'],
    ]) {
      const r = spawnSync('ip', ['-n', ns.name, ...args], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
    }
    kernelMac = ns.exec(['cat', `/sys/class/net/${TAP}/address`]).stdout.trim();
    // Recording starts before the stack does, so its DAD probes are in the capture too.
    if (hasCommand('tshark')) capture = await startCapture(ns, TAP, pcap());
    const clock = new RealClock();
    stack = createStack({ link, ipv4: `${ME4}/24`, gateway: KERNEL4, ipv6: `${ME}/64`, mac: MAC, clock });
    udpEcho(stack, 7);
    servers.push(tcpEcho(stack, 7), tcpDiscard(stack, 9), tcpChargen(stack, 19));
    const web = httpService(stack, 80).server;
    web.on('connection', () => httpConnections++);
    servers.push(web);
    running = run(stack, clock);

    // DAD: ours (one NS, then a second of silence), and the kernel's for its own link-local address.
    const usable = await waitFor(() => stack.ipv6Addresses().every((a) => !a.tentative), 5_000);
    if (!usable) throw new Error(`our addresses stayed tentative: ${JSON.stringify(stack.ipv6Addresses())}`);
    const kernelReady = await waitFor(async () => (await runIn(ns, ['ip', '-6', 'addr', 'show', 'dev', TAP, 'tentative'])).stdout.trim() === '', 5_000);
    if (!kernelReady) throw new Error('the kernel\'s link-local address stayed tentative');
    const failed = await pingUntilAnswered(ns, [ME]);
    if (failed !== '') throw new Error(`${ME} never answered ping -6: ${failed}`);
  }, 30_000);

  afterAll(async () => {
    await capture?.stop();
    for (const s of servers) s.close();
    running?.stop();
    link?.close();
    ns?.delete();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // ── addresses and neighbours ─────────────────────────────────────────────

  it('holds its static and link-local addresses, both past duplicate address detection', () => {
    const addrs = stack.ipv6Addresses().map((a) => ({ addr: a.addr, prefixLen: a.prefixLen, origin: a.origin, tentative: a.tentative, dadFailed: a.dadFailed }));
    expect(addrs).toEqual(expect.arrayContaining([
      { addr: LINK_LOCAL, prefixLen: 64, origin: 'link', tentative: false, dadFailed: false },
      { addr: ME, prefixLen: 64, origin: 'static', tentative: false, dadFailed: false },
    ]));
    // One DAD probe per address (RFC 4862 §5.1 DupAddrDetectTransmits = 1), each a Neighbor Solicitation.
    expect(stack.counters().Icmp6.OutNeighborSolicits).toBeGreaterThanOrEqual(2);
  });

  it.each([56, 1452, 1500, 4000, 20000])(`answers ping -6 -s %i to ${ME}, fragmented both ways beyond the MTU`, async (size) => {
    const ours = stack.counters().Ip6;
    const kernel = await snmp6(ns);
    const r = await runIn(ns, ['ping', '-6', '-c', '3', '-i', '0.2', '-W', '2', '-s', String(size), ME]);
    expect(r.stdout, r.stderr).toContain('3 packets transmitted');
    expect(received(r.stdout)).toBe(3);
    expect(r.stdout).toContain(`${8 + size} bytes from ${ME}`);

    const frags = fragmentsOf(size);
    const after = stack.counters().Ip6;
    const kernelAfter = await snmp6(ns);
    // Three requests reassembled here, three replies cut into as many fragments as Linux cut the requests.
    expect(after.ReasmOKs - ours.ReasmOKs).toBe(frags > 0 ? 3 : 0);
    expect(after.FragCreates - ours.FragCreates).toBe(3 * frags);
    expect(after.FragOKs - ours.FragOKs).toBe(frags > 0 ? 3 : 0);
    expect((kernelAfter['Ip6ReasmOKs'] ?? 0) - (kernel['Ip6ReasmOKs'] ?? 0)).toBe(frags > 0 ? 3 : 0);
    expect((kernelAfter['Ip6FragCreates'] ?? 0) - (kernel['Ip6FragCreates'] ?? 0)).toBe(3 * frags);
    expect(after.ReasmFails - ours.ReasmFails).toBe(0);
  });

  it.each([56, 1452, 1500, 4000, 20000])(`answers ping -6 -s %i to its link-local address ${LINK_LOCAL}`, async (size) => {
    const r = await runIn(ns, ['ping', '-6', '-c', '3', '-i', '0.2', '-W', '2', '-s', String(size), '-I', TAP, LINK_LOCAL]);
    expect(r.stdout, r.stderr).toContain('3 packets transmitted');
    expect(received(r.stdout)).toBe(3);
    expect(r.stdout).toMatch(new RegExp(`${8 + size} bytes from ${LINK_LOCAL}(%${TAP})?:`));
  });

  it('is in the kernel\'s neighbour table under both addresses, by its MAC, as a host and not a router', async () => {
    const r = await runIn(ns, ['ip', '-6', 'neigh', 'show', 'dev', TAP]);
    for (const addr of [ME, LINK_LOCAL]) {
      const line = r.stdout.split('\n').map((l) => l.trim()).find((l) => l.startsWith(`${addr} `));
      expect(line, r.stdout).toBeDefined();
      expect(line).toMatch(new RegExp(`^${addr} lladdr ${MAC} (REACHABLE|STALE|DELAY|PROBE)$`));
      expect(line).not.toContain('router'); // our Neighbor Advertisements say R=0 (RFC 4861 §4.4)
    }
  });

  it('has the kernel in its own neighbour table by the kernel\'s MAC', () => {
    const mine = stack.neighbors().filter((n) => typeof n.addr === 'string')
      .map((n) => ({ addr: n.addr, mac: formatMac(n.mac), state: n.state }));
    const kernel = mine.find((n) => n.addr === KERNEL);
    expect(kernel, JSON.stringify(mine)).toBeDefined();
    expect(kernel!.mac).toBe(kernelMac);
    expect(['REACHABLE', 'STALE', 'DELAY', 'PROBE']).toContain(kernel!.state);
  });

  // ── HTTP over IPv6 ───────────────────────────────────────────────────────

  it.skipIf(!hasCommand('curl'))('serves its page to curl -6', async () => {
    const r = await runIn(ns, curl([URL_]));
    expect(r.code, r.stderr).toBe(0);
    expect(trailers(r.stdout)).toEqual([{ status: 200, connects: 1 }]);
    expect(r.stdout).toContain('<title>tapstack</title>');
  });

  it.skipIf(!hasCommand('curl'))('serves 20 sequential curls, one connection each', async () => {
    const before = httpConnections;
    for (let i = 0; i < 20; i++) {
      const r = await runIn(ns, curl([URL_]));
      expect(r.code, `curl #${i}: ${r.stderr}`).toBe(0);
      expect(trailers(r.stdout)).toEqual([{ status: 200, connects: 1 }]);
      expect(r.stdout).toContain('<title>tapstack</title>');
    }
    expect(httpConnections - before).toBe(20);
  });

  it.skipIf(!hasCommand('curl'))('serves 20 curls at once', async () => {
    const before = httpConnections;
    const out = join(dir, 'parallel');
    mkdirSync(out, { recursive: true });
    // One shell forks the curls: spawning each from here would block the stack's event loop.
    const all = await runIn(ns, ['sh', '-c',
      'out=$1; shift; i=0; while [ $i -lt 20 ]; do i=$((i+1)); (curl "$@" > "$out/$i.out" 2> "$out/$i.err"; echo $? > "$out/$i.rc") & done; wait',
      'sh', out, ...curl([URL_]).slice(1)], { timeoutMs: 30_000 });
    expect(all.code, all.stderr).toBe(0);
    for (let i = 1; i <= 20; i++) {
      const err = readFileSync(join(out, `${i}.err`), 'utf8');
      expect(Number(readFileSync(join(out, `${i}.rc`), 'utf8')), `curl #${i}: ${err}`).toBe(0);
      const body = readFileSync(join(out, `${i}.out`), 'utf8');
      expect(trailers(body)).toEqual([{ status: 200, connects: 1 }]);
      expect(body).toContain('<title>tapstack</title>');
    }
    expect(httpConnections - before).toBe(20);
  });

  // ── UDP and TCP echo with nc -6 ──────────────────────────────────────────

  it('echoes UDP to nc -6 -u, at the global and the link-local address', async () => {
    for (const to of [ME, `${LINK_LOCAL}%${TAP}`]) {
      const r = await runIn(ns, ['nc', '-6', '-u', '-w', '1', to, '7'], { input: `hello over IPv6 to ${to}\n` });
      expect(r.stdout, r.stderr).toBe(`hello over IPv6 to ${to}\n`);
    }
    expect(stack.counters().Udp6.InDatagrams).toBeGreaterThanOrEqual(2);
    expect(stack.counters().Udp6.OutDatagrams).toBeGreaterThanOrEqual(2);
  });

  it('echoes a UDP datagram larger than the MTU (fragmented both ways)', async () => {
    const before = stack.counters().Ip6;
    const big = 'x'.repeat(3999) + '\n';
    const r = await runIn(ns, ['nc', '-6', '-u', '-w', '1', ME, '7'], { input: big });
    expect(r.stdout, r.stderr).toBe(big);
    const after = stack.counters().Ip6;
    expect(after.ReasmOKs - before.ReasmOKs).toBe(1);
    expect(after.FragCreates - before.FragCreates).toBe(Math.ceil((8 + big.length) / FRAG_PAYLOAD));
  });

  it.skipIf(!hasCommand('python3'))('answers a closed UDP port with ICMPv6 port unreachable, which reaches the sender\'s socket', async () => {
    const kernel = await snmp6(ns);
    const ours = stack.counters();
    // A connected UDP socket learns of the error as ECONNREFUSED on its next call (Linux
    // delivers it only when the quoted packet names the socket: the whole IPv6 header and
    // the UDP ports must be in the quote).
    const r = await runIn(ns, ['python3', '-c', UDP_PROBE, ME, '9']);
    expect(r.stdout.trim(), r.stderr).toBe('refused');
    const kernelAfter = await snmp6(ns);
    const after = stack.counters();
    expect(after.Udp6.NoPorts - ours.Udp6.NoPorts).toBe(1);
    expect(after.Icmp6.OutDestUnreachs - ours.Icmp6.OutDestUnreachs).toBe(1);
    expect((kernelAfter['Icmp6InDestUnreachs'] ?? 0) - (kernel['Icmp6InDestUnreachs'] ?? 0)).toBe(1);
    expect(kernelAfter['Icmp6InErrors']).toBe(kernel['Icmp6InErrors']);
    expect(kernelAfter['Icmp6InCsumErrors']).toBe(kernel['Icmp6InCsumErrors']);
  });

  it('echoes 1 MB over TCP back to nc -6 byte for byte', async () => {
    const data = randomBytes(1_000_000);
    const input = join(dir, 'echo.in');
    const output = join(dir, 'echo.out');
    writeFileSync(input, data);
    const r = await runIn(ns, ['sh', '-c', 'nc -6 -N "$1" 7 < "$2" > "$3"', 'sh', ME, input, output], { timeoutMs: 20_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(difference(readFileSync(output), data)).toBeNull();
  });

  // ── nmap's SYN scan over IPv6 ───────────────────────────────────────────

  it.skipIf(!hasCommand('nmap'))('shows nmap -6 -sS ports 7, 9, 19, 80 open and 81, 82 closed', async () => {
    const r = await runIn(ns, ['nmap', '-6', '-n', '-Pn', '-sS', '--reason', '-p', '7,9,19,80,81,82', '-oX', '-', ME], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    const listed = [...r.stdout.matchAll(/<port protocol="tcp" portid="(\d+)"><state state="([a-z|]+)" reason="([a-z-]+)"/g)]
      .map((m) => ({ port: Number(m[1]), state: m[2]!, reason: m[3]! }));
    const closed = [...r.stdout.matchAll(/<extraports state="closed" count="(\d+)">/g)].reduce((n, m) => n + Number(m[1]), 0);
    expect(listed.filter((p) => p.state === 'open')).toEqual(OPEN_PORTS.map((port) => ({ port, state: 'open', reason: 'syn-ack' })));
    expect(listed.filter((p) => p.state === 'closed').length + closed).toBe(2);
    for (const p of listed.filter((p) => p.state === 'closed')) expect(p.reason).toBe('reset');
    expect(r.stdout).not.toContain('filtered');
  });

  // ── what tshark thinks of the frames we sent ────────────────────────────

  it.skipIf(!hasCommand('tshark'))('sent nothing tshark finds malformed, badly checksummed or out of sequence', async () => {
    await capture!.stop();
    capture = undefined;
    const keep = process.env['TAPSTACK_E2E_PCAP'];
    if (keep !== undefined) copyFileSync(pcap(), keep);

    const ours = `eth.src == ${MAC} && ipv6`;
    const flagged = expertInfos(pcap(), `${ours} && (_ws.malformed || _ws.expert)`, [7, 9, 19]);
    const bad = flagged
      .map((f) => ({ ...f, worrying: f.infos.filter((i) => i.severity >= WARNING_SEVERITY && !tolerated(i.message, f.srcPort, f.info)) }))
      .filter((f) => f.worrying.length > 0 || f.infos.length === 0) // no info at all: malformed
      .map((f) => `#${f.frame}: ${f.worrying.map((i) => i.message).join('; ') || 'malformed'} — ${f.info}`);
    expect(bad).toEqual([]);
    // Notes are not judged, only logged: retransmissions, duplicate ACKs, window full…
    const notes = new Map<string, number>();
    for (const i of flagged.flatMap((f) => f.infos).filter((i) => i.severity === NOTE_SEVERITY)) notes.set(i.message, (notes.get(i.message) ?? 0) + 1);
    console.log(`tshark notes on our IPv6 frames: ${JSON.stringify(Object.fromEntries(notes))}`);

    // The capture saw this file's traffic, and every kind of it.
    const sent = fields(pcap(), ours, ['ipv6.src', 'icmpv6.type', 'icmpv6.code', 'ipv6.fraghdr.offset', 'tcp.srcport']);
    const count = (pred: (f: Record<string, string>) => boolean): number => sent.filter(pred).length;
    expect(sent.length).toBeGreaterThan(100);
    expect(count((f) => f['icmpv6.type'] === '135' && f['ipv6.src'] === '::')).toBeGreaterThanOrEqual(2); // DAD probes
    expect(count((f) => f['icmpv6.type'] === '136')).toBeGreaterThan(0); // our advertisements
    expect(count((f) => f['ipv6.fraghdr.offset'] !== '')).toBeGreaterThan(0);
    expect(count((f) => f['icmpv6.type'] === '129')).toBeGreaterThanOrEqual(30);
    expect(count((f) => f['icmpv6.type'] === '1' && f['icmpv6.code'] === '4')).toBe(1); // the port unreachable
    expect(count((f) => f['tcp.srcport'] !== '')).toBeGreaterThan(100);
  });

  // ── bulk: a chargen download, not captured ───────────────────────────────

  it.skipIf(!hasCommand('python3'))(`streams ${BULK} bytes of chargen to nc -6, the exact RFC 864 pattern`, async () => {
    const expected = chargenSha256(BULK); // before the transfer: hashing shares this thread with the stack
    const t0 = performance.now();
    const r = await runIn(ns, ['sh', '-c', 'nc -6 -d "$1" 19 | python3 -c "$2" "$3"', 'sh', ME, COUNT_AND_HASH, String(BULK)], { timeoutMs: BULK_LIMIT_MS });
    const ms = performance.now() - t0;
    console.log(`chargen download over IPv6: ${BULK} bytes in ${(ms / 1000).toFixed(1)} s = ${mibps(BULK, ms)}`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`${BULK} ${expected}`);
  }, BULK_LIMIT_MS + 30_000);

  it('counted the IPv6 traffic as Linux would', () => {
    const c = stack.counters();
    expect(c.Icmp6.InEchos).toBeGreaterThanOrEqual(30);
    expect(c.Icmp6.OutEchoReplies).toBe(c.Icmp6.InEchos);
    expect(c.Icmp6.InErrors).toBe(0);
    expect(c.Icmp6.InCsumErrors).toBe(0);
    expect(c.Ip6.InHdrErrors).toBe(0);
    expect(c.Ip6.ReasmFails).toBe(0);
    expect(c.Ip6.InDelivers).toBeGreaterThan(0);
    expect(c.Ip6.OutRequests).toBeGreaterThan(0);
  });
});

// ── the `tapstack` command brings IPv6 up by itself ─────────────────────────

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = `${root}dist/cli/main.js`;

describe.skipIf(skip !== null)('tapstack up on IPv6', () => {
  const name = `tapstack-cli6-${process.pid}`;
  let child: ChildProcess | undefined;

  beforeAll(() => {
    // The command runs from the build, as `npm start` does.
    if (!existsSync(cli)) {
      const r = spawnSync('npm', ['run', 'build'], { cwd: root, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`npm run build failed: ${r.stderr}`);
    }
  });

  afterAll(() => {
    if (child !== undefined && child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    spawnSync('ip', ['netns', 'del', name]);
  });

  it('gives the kernel fd00:69::1, answers ping -6 and curl -6, and removes its namespace on Ctrl-C', async () => {
    child = spawn(process.execPath, [cli, 'up', '--netns', name], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    expect(await waitFor(() => out.includes('Ctrl-C'), 10_000), err).toBe(true);
    expect(out).toContain(`ping -6 -c 3 ${ME}`);

    const inNs = (cmd: string[]) => spawnSync('ip', ['netns', 'exec', name, ...cmd], { encoding: 'utf8', timeout: 15_000 });
    const addr = inNs(['ip', '-6', '-o', 'addr', 'show', 'dev', 'tap0']);
    expect(addr.stdout).toMatch(/inet6 fd00:69::1\/64 scope global/);
    expect(addr.stdout).not.toMatch(/fd00:69::1\/64 .*tentative/); // nodad: usable at once

    // Our addresses become usable once DAD is over: retry, bounded, until the first answer.
    let answered = false;
    for (let i = 0; i < 6 && !answered; i++) answered = received(inNs(['ping', '-6', '-c', '1', '-W', '1', ME]).stdout) === 1;
    expect(answered).toBe(true);
    expect(received(inNs(['ping', '-6', '-c', '3', '-i', '0.2', '-W', '2', '-s', '4000', ME]).stdout)).toBe(3);
    let linkLocal = false;
    for (let i = 0; i < 6 && !linkLocal; i++) linkLocal = received(inNs(['ping', '-6', '-c', '1', '-W', '1', '-I', 'tap0', LINK_LOCAL]).stdout) === 1;
    expect(linkLocal).toBe(true);
    if (hasCommand('curl')) {
      const page = inNs(['curl', '-6', '-sS', '--max-time', '10', URL_]);
      expect(page.status, page.stderr).toBe(0);
      expect(page.stdout).toContain('<title>tapstack</title>');
    }

    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(existsSync(`/var/run/netns/${name}`)).toBe(false);
  }, 60_000);
});
