#!/usr/bin/env node
/**
 * The `tapstack` command. `tapstack up` (what `npm start` runs) brings up a demo host
 * on a TAP device: the kernel gets 192.168.69.1/24 and fd00:69::1/64, tapstack answers at
 * 192.168.69.2 and fd00:69::2 (and at its link-local address).
 */
import { writeFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { RealClock } from '../core/clock.js';
import type { CountersSnapshot } from '../core/counters.js';
import { STAGE_DEPTH, type DropRow, type Stage } from '../core/drop.js';
import {
  formatEthtoolC, formatEthtoolS, formatNetstatS, formatNstat, formatProcNetNetstat, formatProcNetSnmp, formatProcNetSnmp6,
  type Coalesce,
} from '../core/report.js';
import { formatRead, formatWalk, type AppRead, type PacketWalk } from '../core/trace.js';
import { formatSockets, formatTcpLife, type SocketRow } from '../core/ss.js';
import type { LifeRecord } from '../transport/tcp/info.js';
import type { LinkStats } from '../dev/device.js';
import { PcapngWriter } from '../dev/pcapng.js';
import { controlPath, request, serveControl, type ControlRequest } from './control.js';
import { TapLink } from '../dev/tap.js';
import { capture, PcapWriter } from '../dev/pcap.js';
import type { Link } from '../dev/device.js';
import { run } from '../driver.js';
import { udpEcho } from '../services/echo.js';
import { fixedResponder } from '../services/fixed.js';
import { httpService, tcpChargen, tcpDiscard, tcpEcho } from '../services/tcp.js';
import { createStack } from '../stack.js';
import { formatIpv4, parseCidr, parseCidr6, parseIpv4, parseMac } from '../wire/addr.js';
import { CliError, configureHostSide, createNetns, deleteNetns, netnsExists } from './hostnet.js';

interface UpOptions {
  tap: string;
  ip: string;
  hostIp: string;
  gateway?: string;
  ip6: string;
  hostIp6: string;
  mac: string;
  mtu: number;
  netns?: string;
  pcap?: string;
  configure: boolean;
  batch: number;
  timelines: boolean;
  /** virtio-net offloads on the TAP: TSO super-frames and partial checksums both ways. */
  offload: boolean;
  busyPoll: boolean;
}

function cidrArg(value: string): string {
  if (parseCidr(value) === null) throw new InvalidArgumentError('expected an IPv4 address with a prefix, e.g. 192.168.69.2/24');
  return value;
}

function cidr6Arg(value: string): string {
  if (parseCidr6(value) === null) throw new InvalidArgumentError('expected an IPv6 address with a prefix, e.g. fd00:69::2/64');
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
    // Offloads (TSO, partial checksums) unless switched off — or capturing: the pcap wrapper
    // does not pass the per-frame offload flags on, and a capture of super-frames with partial
    // checksums would read as broken.
    const offload = o.offload && o.pcap === undefined;
    tap = TapLink.open({ name: o.tap, mtu: o.mtu, batch: o.batch, offload, ...(o.netns !== undefined && { netns: o.netns }) });
    if (tap.offloadRefused !== undefined) process.stderr.write(`tapstack: offloads off: ${tap.offloadRefused}\n`);
    link = tap;
    // IPv6 needs links of at least 1280 bytes (RFC 8200 §5); Linux turns it off below.
    const hostIp6 = o.mtu >= 1280 ? o.hostIp6 : undefined;
    if (o.configure) configureHostSide(tap.name, o.hostIp, hostIp6, o.mtu, o.netns);
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

  const stack = createStack({
    link, ipv4: o.ip, gateway, mac: o.mac, clock, ...(o.mtu >= 1280 && { ipv6: o.ip6 }),
  });
  // The demo host draws its connections' time-sequence graphs (bounded per connection).
  if (o.timelines) stack.recordTimelines(true);
  const socketPath = controlPath(tap.name, o.netns);
  const closeControl = serveControl(stack, socketPath, { rxFrames: o.batch, txFrames: o.batch, busyPoll: o.busyPoll });
  udpEcho(stack, 7);
  tcpEcho(stack, 7);
  tcpDiscard(stack, 9);
  tcpChargen(stack, 19);
  httpService(stack, 80);
  // A fixed 128-byte answer for load generators (wrk, ab): the stack's cost, not Node's http.
  fixedResponder(stack, 8080);
  const running = run(stack, clock, { busyPoll: o.busyPoll });

  const me = formatIpv4(stackCidr.addr);
  const me6 = parseCidr6(o.ip6)!.addr;
  const inNs = o.netns === undefined ? '' : `sudo ip netns exec ${o.netns} `;
  const v6 = o.mtu >= 1280;
  process.stdout.write(
    `tapstack is up: ${me}${v6 ? ` and ${me6}` : ''} (MAC ${o.mac}) on ${tap.name}` +
      `${o.netns === undefined ? '' : ` in netns ${o.netns}`}, ` +
      `the kernel's side is ${o.hostIp}${v6 ? ` and ${o.hostIp6}` : ''}\n` +
      `try:\n` +
      `  ${inNs}ping -c 3 ${me}\n` +
      `  ${inNs}ping -c 3 -s 4000 ${me}     # fragmented both ways\n` +
      `  echo hello | ${inNs}nc -u -w 1 ${me} 7   # UDP echo\n` +
      `  ${inNs}curl http://${me}/            # HTTP over tapstack's TCP\n` +
      `  ${inNs}nc ${me} 7                     # TCP echo; 9 discards, 19 is chargen\n` +
      `  ${inNs}ping -6 -c 3 ${me6}\n` +
      `  ${inNs}curl -6 'http://[${me6}]/'\n` +
      `watch it: tapstack stat|ss|drops|trace|capture${o.netns === undefined ? '' : ` --netns ${o.netns}`}` +
      `${o.tap === 'tap0' ? '' : ` --tap ${o.tap}`}   (control socket ${socketPath})\n` +
      `Ctrl-C stops it.\n`,
  );

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    running.stop();
    closeControl();
    pcap?.close();
    tap.close();
    cleanupNetns();
    process.stdout.write(`\n${formatProcNetSnmp(stack.counters())}`);
    const drops = stack.dropTable();
    if (drops.length > 0) process.stdout.write(`drops: ${drops.map((d) => `${d.stage}/${d.reason}=${d.count}`).join(' ')}\n`);
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
    .option('--ip6 <cidr>', "tapstack's IPv6 address and prefix", cidr6Arg, 'fd00:69::2/64')
    .option('--host-ip6 <cidr>', "the kernel's IPv6 address on the tap", cidr6Arg, 'fd00:69::1/64')
    .option('--mac <mac>', "tapstack's MAC address", macArg, '02:00:00:00:00:02')
    .option('--mtu <bytes>', 'link MTU', intArg(576, 65_521), 1500)
    .option('--netns <name>', 'run the tap inside this network namespace (created if missing, removed on exit)', netnsArg)
    .option('--pcap <file>', 'record every frame to a pcap file')
    .option('--batch <frames>', 'frames read per wake-up', intArg(1, 1024), 64)
    .option('--no-configure', "leave the kernel's side of the tap alone")
    .option('--no-timelines', "don't record TCP connections for time-sequence graphs")
    .option('--no-offload', 'no virtio-net offloads on the tap: every frame MTU-sized, every checksum computed here')
    .option('--busy-poll', 'also poll the tap on every turn of the event loop (a core spins; lower latency)', false)
    .action((o: UpOptions) => up(o));

  const where = (cmd: Command): Command =>
    cmd
      .option('--tap <name>', 'the tap of the instance to talk to', ifnameArg, 'tap0')
      .option('--netns <name>', 'the namespace the instance was started with', netnsArg)
      .option('--socket <path>', 'the control socket (default: from --tap and --netns)')
      .option('--json', 'print JSON');

  where(program.command('stat').description('counters, like /proc/net/snmp, netstat -s, nstat, ethtool -S'))
    .option('--format <format>', 'netstat-s | snmp | snmp6 | netstat | nstat | ethtool | coalesce', formatArg, 'netstat-s')
    .action((o: ClientOptions & { format: string }) => client(o, { cmd: 'stat', nstat: o.format === 'nstat' }, (v) => {
      const counters = v['counters'] as CountersSnapshot;
      const link = v['link'] as { name: string; stats: LinkStats; coalesce?: Coalesce };
      if (o.json) return print(JSON.stringify(v));
      switch (o.format) {
        case 'snmp': return print(formatProcNetSnmp(counters));
        case 'snmp6': return print(formatProcNetSnmp6(counters));
        case 'netstat': return print(formatProcNetNetstat(counters));
        case 'nstat': return print(formatNstat(v['delta'] as Record<string, number>));
        case 'ethtool': return print(formatEthtoolS(link.name, link.stats));
        case 'coalesce': return print(formatEthtoolC(link.name, link.coalesce ?? { rxFrames: 0, txFrames: 0, busyPoll: false }));
        default: return print(formatNetstatS(counters));
      }
    }));

  where(program.command('ss').description('sockets, like ss -tuan; -i adds TCP_INFO, -o timers, --life the tcplife log'))
    .option('-i, --info', 'TCP internals per connection (rtt, cwnd, ssthresh, windows, retransmits…)')
    .option('-o, --timers', 'timer information')
    .option('--life', 'closed connections, like tcplife')
    .action((o: ClientOptions & { info?: boolean; timers?: boolean; life?: boolean }) => client(o, { cmd: 'ss' }, (v) => {
      if (o.json) return print(JSON.stringify(o.life ? v['life'] : v['sockets']));
      if (o.life) return print(formatTcpLife(v['life'] as LifeRecord[]));
      print(formatSockets(v['sockets'] as SocketRow[], {
        info: o.info === true, timers: o.timers === true, numeric: true,
      }));
    }));

  where(program.command('drops').description('drops by stage and reason, like dropwatch'))
    .option('-w, --watch <seconds>', 'show what changed every few seconds, until Ctrl-C', intArg(1, 3600))
    .action(async (o: ClientOptions & { watch?: number }) => {
      const show = (rows: DropRow[], before?: Map<string, number>): void => {
        if (o.json) return print(JSON.stringify(rows));
        print(`${'Stage'.padEnd(8)}${'Reason'.padEnd(26)}${'Count'.padStart(10)}${before ? '     New' : ''}  Last packet\n`);
        for (const r of rows) {
          const key = `${r.stage}/${r.reason}`;
          const fresh = before === undefined ? '' : String(r.count - (before.get(key) ?? 0)).padStart(8);
          if (before !== undefined && fresh.trim() === '0') continue;
          print(`${r.stage.padEnd(8)}${r.reason.padEnd(26)}${String(r.count).padStart(10)}${fresh}  ${r.lastPacket ?? ''}\n`);
        }
      };
      let before: Map<string, number> | undefined;
      for (;;) {
        let rows: DropRow[] = [];
        await client(o, { cmd: 'drops' }, (v) => (rows = v['drops'] as DropRow[]));
        show(rows, before);
        if (o.watch === undefined) return;
        before = new Map(rows.map((r) => [`${r.stage}/${r.reason}`, r.count]));
        await new Promise((r) => setTimeout(r, o.watch! * 1000));
      }
    });

  where(program.command('graph').description("a TCP connection's time-sequence graph (tcptrace style) and cwnd/RTT, as SVG"))
    .argument('[local]', 'the connection\'s local address:port (see tapstack ss)')
    .argument('[remote]', 'its remote address:port, when several share the local end')
    .option('--record <on|off>', 'start or stop recording connections for graphs (off by default)', onOffArg)
    .option('-w, --write <file>', 'the time-sequence graph SVG', 'tsg.svg')
    .option('--cwnd <file>', 'also the cwnd and RTT SVG')
    .action((local: string | undefined, remote: string | undefined, o: ClientOptions & { record?: boolean; write: string; cwnd?: string }) => {
      if (o.record !== undefined) return client(o, { cmd: 'graph', record: o.record }, () => print(`recording ${o.record ? 'on' : 'off'}`));
      if (local === undefined) fail(new CliError('name a connection (local address:port, from tapstack ss), or use --record on'));
      return client(o, { cmd: 'graph', local, ...(remote !== undefined && { remote }) }, (v) => {
        writeFileSync(o.write, v['svg'] as string);
        if (o.cwnd !== undefined) writeFileSync(o.cwnd, v['cwndSvg'] as string);
        print(`wrote ${o.write}${o.cwnd === undefined ? '' : ` and ${o.cwnd}`}`);
      });
    });

  where(program.command('trace').description("each matching packet's walk through the stages, like pwru"))
    .argument('[filter...]', 'a pcap-filter subset: arp ip icmp udp tcp, [src|dst] host A, [src|dst] port N, and/or/not')
    .option('-c, --count <n>', 'stop after n packets', intArg(1, 1_000_000))
    .action((filter: string[], o: ClientOptions & { count?: number }) => client(o, {
      cmd: 'trace', filter: filter.join(' '), ...(o.count !== undefined && { count: o.count }),
    }, (v) => {
      if (o.json) return print(JSON.stringify(v));
      if (v['skipped'] !== undefined) return print(`(${String(v['skipped'])} packets not shown: this client fell behind)`);
      if (v['read'] !== undefined) return print(formatRead(v['read'] as AppRead));
      print(`${formatWalk(v['walk'] as PacketWalk)}\n`);
    }));

  where(program.command('capture').description('write pcapng whose frame comments say what became of each frame'))
    .argument('[filter...]', 'a pcap-filter subset, as for trace')
    .requiredOption('-w, --write <file>', 'the pcapng file to write')
    .option('-c, --count <n>', 'stop after n frames', intArg(1, 100_000_000))
    .option('--after <stage>', 'only received frames that got through this stage: eth, arp, ipv4, ipv6, frag, icmp, icmpv6, ndisc, udp, tcp', stageArg)
    .action((filter: string[], o: ClientOptions & { write: string; count?: number; after?: Stage }) => {
      const out = PcapngWriter.open(o.write, { interfaceName: o.tap, comment: 'tapstack capture with verdicts' });
      const done = (): void => out.close();
      process.on('SIGINT', () => {
        done();
        process.exit(0);
      });
      return client(o, {
        cmd: 'capture', filter: filter.join(' '), ...(o.count !== undefined && { count: o.count }), ...(o.after !== undefined && { after: o.after }),
      }, (v) => {
        if (v['skipped'] !== undefined) {
          process.stderr.write(`tapstack: ${String(v['skipped'])} frames not captured: this client fell behind\n`);
          return;
        }
        out.write(Buffer.from(v['frame'] as string, 'base64'), v['at'] as number, v['comment'] as string, v['dir'] as 'in' | 'out');
      }).finally(done);
    });

  try {
    program.parse(argv);
  } catch (e) {
    fail(e);
  }
}

interface ClientOptions {
  tap: string;
  netns?: string;
  socket?: string;
  json?: boolean;
}

function formatArg(value: string): string {
  if (!['netstat-s', 'snmp', 'snmp6', 'netstat', 'nstat', 'ethtool', 'coalesce'].includes(value)) {
    throw new InvalidArgumentError('expected netstat-s, snmp, snmp6, netstat, nstat, ethtool or coalesce');
  }
  return value;
}

function stageArg(value: string): Stage {
  if (!(value in STAGE_DEPTH)) throw new InvalidArgumentError(`expected one of ${Object.keys(STAGE_DEPTH).join(', ')}`);
  return value as Stage;
}

function onOffArg(value: string): boolean {
  if (value !== 'on' && value !== 'off') throw new InvalidArgumentError('expected on or off');
  return value === 'on';
}

function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Sends one request to a running instance; an error reply or no instance: one line, exit 2. */
function client(o: ClientOptions, req: ControlRequest, onLine: (v: Record<string, unknown>) => void): Promise<void> {
  return request(o.socket ?? controlPath(o.tap, o.netns), req, (v) => {
    if (typeof v['error'] === 'string') fail(new CliError(v['error']));
    onLine(v);
  }).catch((e: unknown) => fail(e instanceof Error ? new CliError(e.message) : e));
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
