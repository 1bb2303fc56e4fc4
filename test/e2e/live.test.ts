/**
 * The live page over a real TAP: the stack and its HTTP service in this process, curl
 * and headless Chromium in a namespace of this test's own. Chromium runs inside the
 * namespace (it must reach 192.168.69.2), driven by playwright-core from a small script
 * (live-browser.mjs) that runs there too and reports in JSON lines; the test sends
 * pings while the page is open and expects the page to count them without a reload.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../src/core/clock.js';
import { TapLink } from '../../src/dev/tap.js';
import { run, type Running } from '../../src/driver.js';
import { httpService } from '../../src/services/tcp.js';
import { createStack, type Stack } from '../../src/stack.js';
import type { TcpServer } from '../../src/user/net.js';
import { Netns, tapSkipReason } from '../helpers/netns.js';
import { hasCommand, received, runIn } from './clients.js';

const skip = tapSkipReason();
if (skip !== null) console.warn(`skipping live page tests: ${skip}`);
const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium';
const noBrowser = existsSync(CHROMIUM) ? null : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`;
if (skip === null && noBrowser !== null) console.warn(`skipping the live page browser test: ${noBrowser}`);
if (skip === null && !hasCommand('curl')) console.warn('skipping the live page curl tests: no curl');

const ME = '192.168.69.2';
const KERNEL = '192.168.69.1';
const TAP = 'taplive0';
const SCREENSHOT = '/tmp/live.png';
const BROWSER_SCRIPT = fileURLToPath(new URL('./live-browser.mjs', import.meta.url));

function curl(url: string): string[] {
  return ['curl', '-sS', '--max-time', '10', '-w', '\n@@ %{http_code} %{content_type}\n', url];
}

/** Splits curl's output into the body and the `@@ status type` trailer. */
function response(out: string): { status: number; type: string; body: string } {
  const at = out.lastIndexOf('\n@@ ');
  const [status, type] = out.slice(at + 4).trim().split(' ');
  return { status: Number(status), type: type ?? '', body: out.slice(0, at) };
}

/** Prometheus text exposition: metric name and labels → value; throws on a line it cannot read. */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) {
      if (line.startsWith('# TYPE ')) expect(line).toMatch(/^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)$/);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (-?[0-9.e+]+|NaN|[+-]Inf)$/.exec(line);
    if (m === null) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    samples.set(m[1]!, Number(m[2]));
  }
  return samples;
}

describe.skipIf(skip)('the live page over a real TAP', () => {
  let ns: Netns;
  let link: TapLink;
  let stack: Stack;
  let running: Running;
  let web: TcpServer;
  let browser: ChildProcessWithoutNullStreams | undefined;

  beforeAll(() => {
    ns = Netns.create('tapstack-live');
    link = TapLink.open({ name: TAP, netns: ns.name });
    for (const args of [['addr', 'add', `${KERNEL}/24`, 'dev', TAP], ['link', 'set', 'dev', TAP, 'up']]) {
      const r = spawnSync('ip', ['-n', ns.name, ...args], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
    }
    const clock = new RealClock();
    stack = createStack({ link, ipv4: `${ME}/24`, gateway: KERNEL, mac: '02:00:00:00:00:02', clock });
    web = httpService(stack, 80).server;
    running = run(stack, clock);
  });

  afterAll(() => {
    if (browser !== undefined && browser.exitCode === null) browser.kill('SIGKILL');
    web?.close();
    running?.stop();
    link?.close();
    ns?.delete();
  });

  it.skipIf(!hasCommand('curl'))('serves the counters, drops and sockets as text to curl', async () => {
    // Traffic the page must then show: two pings and, below, the page request itself.
    const ping = await runIn(ns, ['ping', '-c', '2', '-i', '0.2', '-W', '2', ME]);
    expect(received(ping.stdout)).toBe(2);
    const r = response((await runIn(ns, curl(`http://${ME}/`))).stdout);
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/html/);
    const echos = Number(/data-counter="Icmp.InEchos"[^>]*>(\d+)</.exec(r.body)?.[1]);
    expect(echos).toBe(stack.counters().Icmp.InEchos);
    expect(echos).toBeGreaterThanOrEqual(2);
    // netstat -s text, the dropwatch header, and ss with the very connection curl is on.
    expect(r.body).toMatch(/<pre id="netstat">Ip:\n(\s+.*\n)*?\s+\d+ total packets received\n/);
    expect(r.body).toContain('Stage   Reason');
    expect(r.body).toMatch(new RegExp(`ESTAB .* ${ME.replaceAll('.', '\\.')}:80 +${KERNEL.replaceAll('.', '\\.')}:\\d+`));
    expect(r.body).toContain("new EventSource('/events')");
  });

  it.skipIf(!hasCommand('curl'))('streams snapshots on /events', async () => {
    // curl ends the stream after 2.5 s: the snapshot sent at once, then ones a second apart.
    const out = await runIn(ns, ['curl', '-sS', '-N', '--max-time', '2.5', `http://${ME}/events`]);
    const data = out.stdout.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as {
      at: string; counters: { Tcp: { InSegs: number } };
    });
    expect(data.length).toBeGreaterThanOrEqual(2);
    expect(out.stdout).toContain(': ping');
    // The stream's own ACKs are TCP segments in: the second snapshot has counted more.
    expect(data[1]!.counters.Tcp.InSegs).toBeGreaterThan(data[0]!.counters.Tcp.InSegs);
    // The client went away: give the stack a moment, then no stream is left open on port 80.
    for (let i = 0; i < 50 && stack.sockets().some((s) => s.localPort === 80 && s.state === 'ESTAB'); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(stack.sockets().filter((s) => s.localPort === 80 && s.state === 'ESTAB')).toEqual([]);
  });

  it.skipIf(!hasCommand('curl'))('exports Prometheus metrics with our names', async () => {
    await runIn(ns, ['ping', '-c', '1', '-W', '2', ME]);
    const r = response((await runIn(ns, curl(`http://${ME}/metrics`))).stdout);
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/plain/);
    const samples = parseExposition(r.body);
    const c = stack.counters();
    expect(samples.get('tapstack_netstat_Icmp_InEchos_total')).toBe(c.Icmp.InEchos);
    expect(samples.get('tapstack_netstat_Icmp_InEchos_total')).toBeGreaterThan(0);
    expect(samples.get('tapstack_icmp_msgs_total{direction="in",type="8"}')).toBe(c.Icmp.InEchos);
    expect(samples.get('tapstack_netstat_Tcp_CurrEstab')).toBeGreaterThanOrEqual(1); // this request's connection
    expect(samples.get('tapstack_link_rx_packets_total')).toBeGreaterThan(0);
    expect(samples.get('tapstack_sockets{netid="tcp",state="LISTEN"}')).toBe(1);
    expect(r.body).toContain('# TYPE tapstack_netstat_Tcp_InSegs_total counter');
    expect(r.body).toContain('# TYPE tapstack_netstat_Tcp_CurrEstab gauge');
  });

  it.skipIf(!hasCommand('curl'))('answers JSON on /api and 404 elsewhere', async () => {
    const stats = response((await runIn(ns, curl(`http://${ME}/api/stats`))).stdout);
    expect(stats.type).toBe('application/json');
    expect((JSON.parse(stats.body) as { counters: { Ip: { InReceives: number } } }).counters.Ip.InReceives).toBeGreaterThan(0);
    const sockets = JSON.parse(response((await runIn(ns, curl(`http://${ME}/api/sockets`))).stdout).body) as { state: string }[];
    expect(sockets.map((s) => s.state)).toContain('LISTEN');
    expect(Array.isArray(JSON.parse(response((await runIn(ns, curl(`http://${ME}/api/drops`))).stdout).body))).toBe(true);
    expect(response((await runIn(ns, curl(`http://${ME}/nope`))).stdout).status).toBe(404);
  });

  it.skipIf(!hasCommand('curl'))('draws the graphs of an open connection it recorded', async (ctx) => {
    // The timeline API may land separately; the page only links to graphs when it exists.
    const s = stack as unknown as { recordTimelines?: (on: boolean) => void };
    if (typeof s.recordTimelines !== 'function') return ctx.skip();
    s.recordTimelines(true);
    try {
      // A fixed client port names the connection in advance; curl reuses it for all three URLs.
      const base = `http://${ME}/tcp/${ME}:80/${KERNEL}:40080`;
      const out = (await runIn(ns, ['curl', '-sS', '--max-time', '10', '--local-port', '40080',
        '-w', '\n@@ %{http_code} %{num_connects} %{content_type}\n', `http://${ME}/`, `${base}.svg`, `${base}-cwnd.svg`])).stdout;
      const parts = out.split(/\n@@ (\d+) (\d+) ([^\n]*)\n/);
      // [page, 200, 1, html, seq svg, 200, 0, svg, cwnd svg, 200, 0, svg, '']
      expect(parts.filter((_, i) => i % 4 === 1)).toEqual(['200', '200', '200']);
      expect(parts[10]).toBe('0'); // one connection for all three
      expect(parts[7]).toBe('image/svg+xml');
      expect(parts[0]).toContain(`href="/tcp/${ME}:80/${KERNEL}:40080.svg"`);
      expect(parts[4]).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
      expect(parts[8]).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
      expect(parts[8]).not.toBe(parts[4]);
    } finally {
      s.recordTimelines(false);
    }
  });

  it.skipIf(noBrowser !== null)('updates live in headless Chromium as pings arrive', async () => {
    const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, BROWSER_SCRIPT, `http://${ME}/`, 'Icmp.InEchos', SCREENSHOT], {
      env: { ...process.env, CHROMIUM }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    browser = child;
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const next = async (): Promise<Record<string, unknown>> => {
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`browser script: no answer; stderr: ${stderr}`)), 45_000));
      const r = await Promise.race([lines.next(), timeout]);
      if (r.done === true) throw new Error(`browser script ended early: ${stderr}`);
      return JSON.parse(r.value) as Record<string, unknown>;
    };

    const { before } = (await next()) as { before: Record<string, number> };
    expect(before['Icmp.InEchos']).toBe(stack.counters().Icmp.InEchos);
    const ping = await runIn(ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', ME]);
    expect(received(ping.stdout)).toBe(3);
    child.stdin.end('3\n'); // how far the counter must move
    const { after, changed } = (await next()) as { after: Record<string, number>; changed: boolean };
    expect(changed).toBe(true);
    // The page moved by at least our three pings without a reload: server-sent events.
    expect(after['Icmp.InEchos']! - before['Icmp.InEchos']!).toBeGreaterThanOrEqual(3);
    expect(after['Tcp.InSegs']).toBeGreaterThan(before['Tcp.InSegs']!);
    await new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
    expect(existsSync(SCREENSHOT)).toBe(true);
  }, 90_000);
});
