/**
 * tapstack as a real host: a TAP device in a namespace of this test's own, the stack in
 * this process, and the Linux kernel's own tools as its peers in the namespace.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../src/core/clock.js';
import { TapLink } from '../../src/dev/tap.js';
import { run, type Running } from '../../src/driver.js';
import { udpEcho } from '../../src/services/echo.js';
import { createStack, type Stack } from '../../src/stack.js';
import { Netns, tapSkipReason } from '../helpers/netns.js';
import { hasCommand, received, runIn, startCapture, type Capture } from './clients.js';

const skip = tapSkipReason();
if (skip !== null) console.warn(`skipping TAP end-to-end tests: ${skip}`);

const ME = '192.168.69.2';
const MAC = '02:00:00:00:00:02';

describe.skipIf(skip !== null)('tapstack on a TAP device, with real clients', () => {
  let ns: Netns;
  let link: TapLink;
  let stack: Stack;
  let running: Running;
  let dir: string;
  let capture: Capture | undefined;
  const pcap = (): string => join(dir, 'host.pcap');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tapstack-e2e-'));
    ns = Netns.create('tapstack-e2e');
    link = TapLink.open({ name: 'tap0', netns: ns.name });
    for (const args of [
      ['addr', 'add', '192.168.69.1/24', 'dev', 'tap0'],
      ['link', 'set', 'dev', 'tap0', 'up'],
    ]) {
      const r = spawnSync('ip', ['-n', ns.name, ...args], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
    }
    if (hasCommand('tshark')) capture = await startCapture(ns, 'tap0', pcap());
    const clock = new RealClock();
    stack = createStack({ link, ipv4: `${ME}/24`, gateway: '192.168.69.1', mac: MAC, clock });
    udpEcho(stack, 7);
    running = run(stack, clock);
  });

  afterAll(async () => {
    await capture?.stop();
    running?.stop();
    link?.close();
    ns?.delete();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each([0, 56, 1472, 4000, 20000])('answers ping -s %i', async (size) => {
    const r = await runIn(ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', '-s', String(size), ME]);
    expect(r.stdout).toContain('3 packets transmitted');
    expect(received(r.stdout)).toBe(3);
  });

  it('returns the record route option to ping -R, recording itself both ways as Linux does', async () => {
    const r = await runIn(ns, ['ping', '-c', '1', '-W', '2', '-R', ME]);
    expect(received(r.stdout)).toBe(1);
    expect(r.stdout.replace(/\s+/g, ' ')).toContain(`RR: 192.168.69.1 ${ME} ${ME} 192.168.69.1`);
  });

  it('is known to the kernel by the MAC it answers ARP with', async () => {
    const r = await runIn(ns, ['ip', 'neigh', 'show', ME, 'dev', 'tap0']);
    expect(r.stdout.toLowerCase()).toContain(`lladdr ${MAC}`);
  });

  it.skipIf(!hasCommand('arping'))('answers arping', async () => {
    const r = await runIn(ns, ['arping', '-c', '2', '-w', '3', '-I', 'tap0', ME]);
    expect(r.stdout.toLowerCase()).toContain(MAC);
  });

  it('echoes UDP to nc -u', async () => {
    const r = await runIn(ns, ['nc', '-u', '-w', '1', ME, '7'], { input: 'hello, tapstack\n' });
    expect(r.stdout).toBe('hello, tapstack\n');
  });

  it('echoes a UDP datagram larger than the MTU (fragmented both ways)', async () => {
    const big = 'x'.repeat(3999) + '\n';
    const r = await runIn(ns, ['nc', '-u', '-w', '1', ME, '7'], { input: big });
    expect(r.stdout).toBe(big);
  });

  it('answers a closed UDP port with port unreachable, which the kernel counts', async () => {
    const unreachs = async (): Promise<number> => {
      const snmp = (await runIn(ns, ['cat', '/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Icmp:'));
      const names = snmp[0]!.split(/\s+/);
      const values = snmp[1]!.split(/\s+/);
      return Number(values[names.indexOf('InDestUnreachs')]);
    };
    const before = await unreachs();
    await runIn(ns, ['nc', '-u', '-w', '1', ME, '9'], { input: 'a\n' });
    expect(await unreachs()).toBe(before + 1);
    expect(stack.counters().Udp.NoPorts).toBeGreaterThan(0);
  });

  it('counted every frame it saw', () => {
    const s = stack.linkStats();
    const c = stack.counters();
    expect(s.rx_packets).toBeGreaterThan(0);
    expect(c.Ip.ReasmOKs).toBeGreaterThan(0);
    expect(c.Ip.FragCreates).toBeGreaterThan(0);
    expect(c.Icmp.OutEchoReps).toBeGreaterThanOrEqual(15);
  });

  it.skipIf(!hasCommand('tshark'))('sent nothing tshark finds malformed or badly checksummed', async () => {
    await capture!.stop();
    capture = undefined;
    const r = spawnSync('tshark', [
      '-r', pcap(), '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE',
      '-Y', `eth.src == ${MAC} && (_ws.malformed || _ws.expert.severity >= "Warning")`,
      '-T', 'fields', '-e', 'frame.number', '-e', '_ws.col.Info',
    ], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('');
    const ours = spawnSync('tshark', ['-r', pcap(), '-Y', `eth.src == ${MAC}`, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' });
    expect(ours.stdout.trim().split('\n').length).toBeGreaterThan(20);
  });
});
