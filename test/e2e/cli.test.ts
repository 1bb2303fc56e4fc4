/**
 * The `tapstack` command as a user runs it: `tapstack up --netns NAME` in a namespace
 * it creates and removes, real ping against it, and one-line errors for bad input.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, tapSkipReason } from '../helpers/netns.js';
import { received } from './clients.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = `${root}dist/cli/main.js`;

beforeAll(() => {
  // The command runs from the build, as `npm start` does.
  if (!existsSync(cli)) {
    const r = spawnSync('npm', ['run', 'build'], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`npm run build failed: ${r.stderr}`);
  }
});

function tapstack(args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 20_000 });
}

describe('bad input gets one line and exit code 2', () => {
  it.each([
    [['up', '--ip', 'nonsense'], /--ip .*expected an IPv4 address with a prefix/],
    [['up', '--mtu', '10'], /--mtu .*expected an integer from 576/],
    [['up', '--mac', 'zz'], /--mac .*expected a MAC address/],
    [['up', '--frobnicate'], /unknown option '--frobnicate'/],
    [['sideways'], /unknown command 'sideways'|too many arguments/],
  ])('tapstack %j', (args, message) => {
    const r = tapstack(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^tapstack: /);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('prints help and exits 0', () => {
    const r = tapstack(['up', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('--netns <name>');
  });
});

const skip = tapSkipReason();
const canDropPrivileges = spawnSync('setpriv', ['--version']).status === 0;
const hasTshark = spawnSync('tshark', ['--version']).status === 0;

describe.skipIf(skip !== null)('tapstack up in a namespace of its own', () => {
  const name = `tapstack-cli-${process.pid}`;
  let child: ChildProcess | undefined;

  afterAll(() => {
    if (child?.exitCode === null) child.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', name]);
  });

  it('comes up, answers ping, and on Ctrl-C removes what it created', async () => {
    child = spawn(process.execPath, [cli, 'up', '--netns', name], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));

    for (let i = 0; i < 100 && !out.includes('Ctrl-C'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(out, err).toContain('tapstack is up: 192.168.69.2');
    expect(out).toContain(`sudo ip netns exec ${name} ping -c 3 192.168.69.2`);

    const ping = spawnSync('ip', ['netns', 'exec', name, 'ping', '-c', '3', '-i', '0.2', '-W', '2', '192.168.69.2'], { encoding: 'utf8', timeout: 15_000 });
    expect(received(ping.stdout)).toBe(3);
    const big = spawnSync('ip', ['netns', 'exec', name, 'ping', '-c', '2', '-i', '0.2', '-W', '2', '-s', '4000', '192.168.69.2'], { encoding: 'utf8', timeout: 15_000 });
    expect(received(big.stdout)).toBe(2);

    // The running instance answers its control socket.
    const ctl = (args: string[]) => spawnSync(process.execPath, [cli, ...args, '--netns', name], { encoding: 'utf8', timeout: 20_000 });
    const stat = ctl(['stat']);
    expect(stat.status, stat.stderr).toBe(0);
    expect(stat.stdout).toMatch(/Icmp:\n\s+\d+ ICMP messages received/);
    expect(ctl(['stat', '--format', 'snmp']).stdout).toMatch(/^Ip: Forwarding DefaultTTL/);
    expect(ctl(['stat', '--format', 'nstat']).stdout).toMatch(/^#kernel\nIpInReceives\s+\d+/);
    expect(ctl(['stat', '--format', 'ethtool']).stdout).toMatch(/NIC statistics:\n\s+rx_packets: \d+/);
    expect(ctl(['stat', '--format', 'coalesce']).stdout).toMatch(/^Coalesce parameters for tap0:\n[\s\S]*rx-frames: 64\n[\s\S]*busy-poll: off\n$/);
    expect(JSON.parse(ctl(['stat', '--json']).stdout).counters.Icmp.InEchos).toBeGreaterThanOrEqual(5);
    expect(ctl(['ss']).stdout).toMatch(/^Netid\s+State\s+Recv-Q\s+Send-Q[^\n]*\ntcp\s+LISTEN/);
    expect(ctl(['drops']).stdout).toMatch(/^Stage\s+Reason\s+Count/);

    // trace and capture stream while traffic flows.
    const traced = spawn(process.execPath, [cli, 'trace', '--netns', name, '-c', '1', 'icmp'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const dir = mkdtempSync(join(tmpdir(), 'tapstack-cli-'));
    const file = join(dir, 'c.pcapng');
    const captured = spawn(process.execPath, [cli, 'capture', '--netns', name, '-w', file, '-c', '2', 'icmp'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let traceOut = '';
    traced.stdout.on('data', (d: Buffer) => (traceOut += d.toString()));
    const traceDone = new Promise((r) => traced.once('exit', r));
    const captureDone = new Promise((r) => captured.once('exit', r));
    // Time for both clients to attach before the traffic (generous: a loaded CI machine is slow to spawn node).
    await new Promise((r) => setTimeout(r, 2_500));
    spawnSync('ip', ['netns', 'exec', name, 'ping', '-c', '2', '-i', '0.2', '-W', '2', '192.168.69.2'], { timeout: 15_000 });
    await traceDone;
    await captureDone;
    expect(traceOut).toMatch(/^#1 ICMP 192\.168\.69\.1 > 192\.168\.69\.2 type 8/);
    expect(traceOut).toContain('=> consumed');
    if (hasTshark) {
      const comments = spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.comment'], { encoding: 'utf8' });
      expect(comments.stdout.trim().split('\n')).toEqual(['delivered (icmp)', 'sent']);
    }
    // A real curl, traced: its request walks every stage into the HTTP server's socket.
    const curlTrace = spawn(process.execPath, [cli, 'trace', '--netns', name, '-c', '3', 'tcp', 'dst', 'port', '80'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let curlOut = '';
    curlTrace.stdout.on('data', (d: Buffer) => (curlOut += d.toString()));
    const curlTraced = new Promise((r) => curlTrace.once('exit', r));
    await new Promise((r) => setTimeout(r, 2_500));
    spawnSync('ip', ['netns', 'exec', name, 'curl', '-s', '-o', '/dev/null', 'http://192.168.69.2/'], { timeout: 15_000 });
    await curlTraced;
    const request = curlOut.split(/\n(?=#)/).find((b) => b.includes('[P.]'));
    expect(request, curlOut).toBeDefined();
    expect([...request!.matchAll(/^ {2}(\w+(?: out)?) +[\d.]+ µs$/gm)].map((m) => m[1]).slice(0, 5)).toEqual(['link', 'eth', 'ipv4', 'tcp', 'socket']);
    expect(request).toMatch(/=> delivered to tcp 192\.168\.69\.2:80 < 192\.168\.69\.1:\d+/);

    // A time-sequence graph of a live connection: chargen to nc.
    expect(ctl(['graph', '--record', 'on']).stdout).toContain('recording on');
    const nc = spawn('ip', ['netns', 'exec', name, 'nc', '-d', '192.168.69.2', '19'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 700));
    const rows = JSON.parse(ctl(['ss', '--json']).stdout) as
      { state: string; localAddress: string; localPort: number; remoteAddress: string; remotePort: number }[];
    const conn = rows.find((r) => r.localPort === 19 && r.state === 'ESTAB');
    expect(conn).toBeDefined();
    const svg = join(dir, 'tsg.svg');
    const graphed = ctl(['graph', `${conn!.localAddress}:19`, `${conn!.remoteAddress}:${conn!.remotePort}`, '-w', svg]);
    expect(graphed.status, graphed.stderr).toBe(0);
    expect(readFileSync(svg, 'utf8')).toMatch(/^<svg[^>]*>[\s\S]*class="seg"[\s\S]*<\/svg>\s*$/);
    nc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });

    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toMatch(/Icmp: .*InEchos/);
    expect(existsSync(`/var/run/netns/${name}`)).toBe(false);
  }, 120_000);

  it.skipIf(!canDropPrivileges)('without the privilege to open the tap: one line that says what to do', () => {
    const ns = Netns.create('tapstack-cli-priv');
    try {
      const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, cli, 'up', '--netns', ns.name, '--no-configure'], { encoding: 'utf8', timeout: 20_000 });
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^tapstack: .*(root|CAP_)/);
    } finally {
      ns.delete();
    }
  });
});
