#!/usr/bin/env node
/**
 * The `tapstack` command. `tapstack up` (what `npm start` runs) brings up a demo host
 * on a TAP device: the kernel gets 192.168.69.1/24, tapstack answers at 192.168.69.2.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { RealClock } from '../core/clock.js';
import { formatSnmp } from '../core/counters.js';
import { TapLink } from '../dev/tap.js';
import { capture, PcapWriter } from '../dev/pcap.js';
import type { Link } from '../dev/device.js';
import { run } from '../driver.js';
import { udpEcho } from '../services/echo.js';
import { httpService, tcpChargen, tcpDiscard, tcpEcho } from '../services/tcp.js';
import { createStack } from '../stack.js';
import { formatIpv4, parseCidr, parseIpv4, parseMac } from '../wire/addr.js';
import { CliError, configureHostSide, createNetns, deleteNetns, netnsExists } from './hostnet.js';

interface UpOptions {
  tap: string;
  ip: string;
  hostIp: string;
  gateway?: string;
  mac: string;
  mtu: number;
  netns?: string;
  pcap?: string;
  configure: boolean;
  batch: number;
}

function cidrArg(value: string): string {
  if (parseCidr(value) === null) throw new InvalidArgumentError('expected an IPv4 address with a prefix, e.g. 192.168.69.2/24');
  return value;
}

function ipv4Arg(value: string): string {
  if (parseIpv4(value) === null) throw new InvalidArgumentError('expected an IPv4 address, e.g. 192.168.69.1');
  return value;
}

function macArg(value: string): string {
  if (parseMac(value) === null) throw new InvalidArgumentError('expected a MAC address, e.g. 02:00:00:00:00:02');
  return value;
}

function intArg(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

/** An interface name: at most IFNAMSIZ − 1 = 15 bytes. */
function ifnameArg(value: string): string {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(value)) throw new InvalidArgumentError('expected 1–15 letters, digits, ".", "-" or "_"');
  return value;
}

/** A namespace name: a file name under /var/run/netns. */
function netnsArg(value: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(value) || value.startsWith('.')) {
    throw new InvalidArgumentError('expected a name of letters, digits, ".", "-" or "_"');
  }
  return value;
}

function up(o: UpOptions): void {
  const stackCidr = parseCidr(o.ip)!;
  const hostCidr = parseCidr(o.hostIp)!;
  const gateway = o.gateway ?? formatIpv4(hostCidr.addr);

  let createdNetns = false;
  if (o.netns !== undefined && !netnsExists(o.netns)) {
    createNetns(o.netns);
    createdNetns = true;
  }
  const cleanupNetns = (): void => {
    if (createdNetns) deleteNetns(o.netns!);
  };

  let link: Link;
  let tap: TapLink;
  try {
    tap = TapLink.open({ name: o.tap, mtu: o.mtu, batch: o.batch, ...(o.netns !== undefined && { netns: o.netns }) });
    link = tap;
    if (o.configure) configureHostSide(tap.name, o.hostIp, o.mtu, o.netns);
  } catch (e) {
    cleanupNetns();
    throw e;
  }

  const clock = new RealClock();
  let pcap: PcapWriter | undefined;
  if (o.pcap !== undefined) {
    pcap = PcapWriter.open(o.pcap);
    link = capture(link, pcap, clock);
  }

  const stack = createStack({ link, ipv4: o.ip, gateway, mac: o.mac, clock });
  udpEcho(stack, 7);
  tcpEcho(stack, 7);
  tcpDiscard(stack, 9);
  tcpChargen(stack, 19);
  httpService(stack, 80);
  const running = run(stack, clock);

  const me = formatIpv4(stackCidr.addr);
  const inNs = o.netns === undefined ? '' : `sudo ip netns exec ${o.netns} `;
  process.stdout.write(
    `tapstack is up: ${me} (MAC ${o.mac}) on ${tap.name}${o.netns === undefined ? '' : ` in netns ${o.netns}`}, ` +
      `the kernel's side is ${o.hostIp}\n` +
      `try:\n` +
      `  ${inNs}ping -c 3 ${me}\n` +
      `  ${inNs}ping -c 3 -s 4000 ${me}     # fragmented both ways\n` +
      `  echo hello | ${inNs}nc -u -w 1 ${me} 7   # UDP echo\n` +
      `  ${inNs}curl http://${me}/            # HTTP over tapstack's TCP\n` +
      `  ${inNs}nc ${me} 7                     # TCP echo; 9 discards, 19 is chargen\n` +
      `Ctrl-C stops it.\n`,
  );

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    running.stop();
    pcap?.close();
    tap.close();
    cleanupNetns();
    process.stdout.write(`\n${formatSnmp(stack.counters())}`);
    const drops = Object.entries(stack.drops());
    if (drops.length > 0) process.stdout.write(`drops: ${drops.map(([r, n]) => `${r}=${n}`).join(' ')}\n`);
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

export function main(argv: string[]): void {
  const program = new Command('tapstack')
    .description('a userspace TCP/IP stack on a Linux TAP device')
    .exitOverride()
    .configureOutput({ outputError: () => {} });

  program
    .command('up', { isDefault: true })
    .description('bring up the demo host on a TAP device')
    .option('--tap <name>', 'TAP device to create or attach', ifnameArg, 'tap0')
    .option('--ip <cidr>', "tapstack's address and prefix", cidrArg, '192.168.69.2/24')
    .option('--host-ip <cidr>', "the kernel's address on the tap", cidrArg, '192.168.69.1/24')
    .option('--gateway <ip>', 'default gateway (default: the host address)', ipv4Arg)
    .option('--mac <mac>', "tapstack's MAC address", macArg, '02:00:00:00:00:02')
    .option('--mtu <bytes>', 'link MTU', intArg(576, 65_521), 1500)
    .option('--netns <name>', 'run the tap inside this network namespace (created if missing, removed on exit)', netnsArg)
    .option('--pcap <file>', 'record every frame to a pcap file')
    .option('--batch <frames>', 'frames read per wake-up', intArg(1, 1024), 64)
    .option('--no-configure', "leave the kernel's side of the tap alone")
    .action((o: UpOptions) => up(o));

  try {
    program.parse(argv);
  } catch (e) {
    fail(e);
  }
}

/** One line, exit code 2, no stack trace: for anything the user can fix. */
function fail(e: unknown): never {
  if (e instanceof CommanderError) {
    if (e.exitCode === 0) process.exit(0); // --help, --version
    process.stderr.write(`tapstack: ${e.message.replace(/^error: /, '')}\n`);
    process.exit(2);
  }
  const err = e as Error & { code?: string };
  if (e instanceof CliError || typeof err.code === 'string') {
    process.stderr.write(`tapstack: ${err.message}\n`);
    process.exit(2);
  }
  throw e;
}

main(process.argv);
