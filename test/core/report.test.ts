import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Counters, MIB_NAMES, type CountersSnapshot } from '../../src/core/counters.js';
import {
  Nstat, formatEthtoolC, formatEthtoolS, formatNetstatS, formatNstat, formatProcNetNetstat, formatProcNetSnmp, formatProcNetSnmp6,
} from '../../src/core/report.js';
import { newLinkStats } from '../../src/dev/device.js';
import { Netns } from '../helpers/netns.js';

/** A fresh stack's counters (DefaultTTL 64, like Linux's default), changed by `edit`. */
function snapshot(edit: (c: Counters) => void = () => {}): CountersSnapshot {
  const c = new Counters(64);
  edit(c);
  return c.snapshot();
}

/** A /proc-style text as group → [names, values] pairs, one entry per line pair. */
function parseProc(text: string): { group: string; names: string[]; values: string[] }[] {
  const lines = text.trimEnd().split('\n');
  const rows: { group: string; names: string[]; values: string[] }[] = [];
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const [group, ...names] = lines[i]!.split(/:? /);
    const [group2, ...values] = lines[i + 1]!.split(/:? /);
    expect(group2).toBe(group);
    rows.push({ group: group!, names, values });
  }
  return rows;
}

/** Non-zero fields of one group, as name → value. */
function nonZero(text: string, group: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of parseProc(text).filter((r) => r.group === group)) {
    r.names.forEach((n, i) => {
      if (r.values[i] !== '0') out[n] = Number(r.values[i]);
    });
  }
  return out;
}

const ipLine = (vals: string): string =>
  'Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos InDiscards ' +
  'InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails ' +
  `FragCreates OutTransmits\nIp: ${vals}\n`;
const ICMP_NAMES =
  'InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds InParmProbs InSrcQuenchs InRedirects InEchos ' +
  'InEchoReps InTimestamps InTimestampReps InAddrMasks InAddrMaskReps OutMsgs OutErrors OutRateLimitGlobal ' +
  'OutRateLimitHost OutDestUnreachs OutTimeExcds OutParmProbs OutSrcQuenchs OutRedirects OutEchos OutEchoReps ' +
  'OutTimestamps OutTimestampReps OutAddrMasks OutAddrMaskReps';
const TCP_NAMES =
  'RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs ' +
  'OutSegs RetransSegs InErrs OutRsts InCsumErrors';
const UDP_NAMES = 'InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors';

describe('formatProcNetSnmp', () => {
  it('prints every group as a names line and a values line, in Linux order', () => {
    const c = snapshot((m) => {
      m.Ip.InReceives = 12;
      m.Ip.InDelivers = 11;
      m.Icmp.InMsgs = 2;
      m.Icmp.InEchos = 2;
      m.IcmpMsg.in[8] = 2;
      m.IcmpMsg.out[0] = 2;
      m.Tcp.InSegs = 7;
      m.Udp.NoPorts = 1;
      m.Arp.InRequests = 5; // ours, not Linux's: must not show
    });
    expect(formatProcNetSnmp(c)).toBe(
      ipLine('2 64 12 0 0 0 0 0 11 0 0 0 0 0 0 0 0 0 0 0') +
        `Icmp: ${ICMP_NAMES}\nIcmp: 2 0 0 0 0 0 0 0 2 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n` +
        'IcmpMsg: InType8 OutType0\nIcmpMsg: 2 2\n' +
        `Tcp: ${TCP_NAMES}\nTcp: 1 200 120000 -1 0 0 0 0 0 7 0 0 0 0 0\n` +
        `Udp: ${UDP_NAMES}\nUdp: 0 1 0 0 0 0 0 0 0\n` +
        `UdpLite: ${UDP_NAMES}\nUdpLite: 0 0 0 0 0 0 0 0 0\n`,
    );
  });

  it('leaves IcmpMsg out when no ICMP was counted', () => {
    expect(parseProc(formatProcNetSnmp(snapshot())).map((r) => r.group)).toEqual(['Ip', 'Icmp', 'Tcp', 'Udp', 'UdpLite']);
  });

  it('orders IcmpMsg like the kernel: all In types, then all Out types, by number, 16 to a line', () => {
    const c = snapshot((m) => {
      for (let t = 0; t < 17; t++) m.IcmpMsg.in[t * 13] = t + 1; // 0, 13, …, 208
      m.IcmpMsg.out[3] = 100;
      m.IcmpMsg.out[0] = 200;
    });
    const rows = parseProc(formatProcNetSnmp(c)).filter((r) => r.group === 'IcmpMsg');
    const inNames = Array.from({ length: 17 }, (_, t) => `InType${t * 13}`);
    expect(rows.map((r) => r.names)).toEqual([inNames.slice(0, 16), [inNames[16], 'OutType0', 'OutType3']]);
    expect(rows.map((r) => r.values)).toEqual([
      Array.from({ length: 16 }, (_, t) => String(t + 1)),
      ['17', '200', '100'],
    ]);
  });
});

describe('formatProcNetNetstat', () => {
  it('prints TcpExt then IpExt, each value under its own name', () => {
    const c = snapshot((m) => {
      m.TcpExt.TCPTimeouts = 3;
      m.TcpExt.DelayedACKs = 7;
      m.TcpExt.TCPAOGood = 0;
      m.IpExt.InOctets = 426;
      m.IpExt.ReasmOverlaps = 1;
    });
    const text = formatProcNetNetstat(c);
    expect(parseProc(text).map((r) => r.group)).toEqual(['TcpExt', 'IpExt']);
    expect(nonZero(text, 'TcpExt')).toEqual({ TCPTimeouts: 3, DelayedACKs: 7 });
    expect(text.endsWith(
      'IpExt: InNoRoutes InTruncatedPkts InMcastPkts OutMcastPkts InBcastPkts OutBcastPkts InOctets OutOctets ' +
        'InMcastOctets OutMcastOctets InBcastOctets OutBcastOctets InCsumErrors InNoECTPkts InECT1Pkts InECT0Pkts ' +
        'InCEPkts ReasmOverlaps\nIpExt: 0 0 0 0 0 0 426 0 0 0 0 0 0 0 0 0 0 1\n',
    )).toBe(true);
  });
});

/** Why the comparisons with the real kernel and tools cannot run here, or null. */
function rootSkipReason(): string | null {
  if (process.platform !== 'linux') return `needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root to create a network namespace (run as root)';
  const ip = spawnSync('ip', ['-V'], { encoding: 'utf8' });
  if (ip.error !== undefined || ip.status !== 0) return 'needs iproute2 (`ip`) on the PATH';
  return null;
}
const rootSkip = rootSkipReason();
if (rootSkip !== null) console.warn(`report.test.ts: skipping the comparison with the kernel's /proc files: ${rootSkip}`);

describe.skipIf(rootSkip !== null)("against a real kernel's /proc/net/snmp and /proc/net/netstat", () => {
  let ns: Netns;
  let linuxSnmp: string;
  let linuxNetstat: string;

  beforeAll(() => {
    ns = Netns.create('report');
    // A little ICMP inside the namespace (loopback only) so that Linux prints IcmpMsg:
    // echo request/reply (8, 0) and a port unreachable (3) for a datagram to a closed port.
    expect(ns.exec(['ping', '-c', '2', '-i', '0.2', '-W', '1', '127.0.0.1']).code).toBe(0);
    ns.exec(['sh', '-c', 'echo x | nc -u -w 1 127.0.0.1 9']);
    linuxSnmp = ns.exec(['cat', '/proc/net/snmp']).stdout;
    linuxNetstat = ns.exec(['cat', '/proc/net/netstat']).stdout;
  });
  afterAll(() => ns?.delete());

  // For each group we print, our names restricted to the ones this kernel has must be
  // exactly the kernel's list: nothing of Linux's missing, and the same order. Names the
  // kernel lacks (OutTransmits before Linux 6.3, TCP-AO before 6.7) may stay in ours.
  it.each([
    ['/proc/net/snmp', () => linuxSnmp, () => formatProcNetSnmp(snapshot())],
    ['/proc/net/netstat', () => linuxNetstat, () => formatProcNetNetstat(snapshot())],
  ])('%s: every group has Linux fields in Linux order', (_file, linux, ours) => {
    const linuxRows = parseProc(linux()).filter((r) => r.group !== 'IcmpMsg');
    const ourRows = parseProc(ours());
    // Our groups are Linux's, in Linux's order, minus the ones we do not have (MPTcpExt).
    expect(ourRows.map((r) => r.group)).toEqual(
      linuxRows.map((r) => r.group).filter((g) => ourRows.some((o) => o.group === g)),
    );
    for (const linuxRow of linuxRows) {
      const ourRow = ourRows.find((r) => r.group === linuxRow.group);
      if (ourRow === undefined) continue;
      expect(ourRow.names.filter((n) => linuxRow.names.includes(n)), `${linuxRow.group} fields`).toEqual(linuxRow.names);
    }
  });

  it('a fresh stack prints the constants a fresh namespace prints (Forwarding 2, TTL 64, MaxConn -1, …)', () => {
    const ours = parseProc(formatProcNetSnmp(snapshot()));
    for (const group of ['Ip', 'Tcp']) {
      const linux = parseProc(linuxSnmp).find((r) => r.group === group)!;
      const ourRow = ours.find((r) => r.group === group)!;
      const constants = group === 'Ip' ? ['Forwarding', 'DefaultTTL'] : ['RtoAlgorithm', 'RtoMin', 'RtoMax', 'MaxConn'];
      for (const name of constants) {
        expect(ourRow.values[ourRow.names.indexOf(name)], `${group} ${name}`).toBe(linux.values[linux.names.indexOf(name)]);
      }
    }
  });

  it('prints IcmpMsg for the same per-type counts exactly as the kernel did', () => {
    const linuxIcmpMsg = linuxSnmp.split('\n').filter((l) => l.startsWith('IcmpMsg:'));
    expect(linuxIcmpMsg.length).toBeGreaterThan(0);
    const counts = nonZero(linuxSnmp, 'IcmpMsg');
    const c = snapshot((m) => {
      for (const [name, value] of Object.entries(counts)) {
        const [, dir, type] = /^(In|Out)Type(\d+)$/.exec(name)!;
        (dir === 'In' ? m.IcmpMsg.in : m.IcmpMsg.out)[Number(type)] = value;
      }
    });
    expect(formatProcNetSnmp(c).split('\n').filter((l) => l.startsWith('IcmpMsg:'))).toEqual(linuxIcmpMsg);
  });
});

describe('formatNetstatS', () => {
  it('prints net-tools phrases, histogram titles and unnamed counters as netstat -s does', () => {
    const c = snapshot((m) => {
      m.Ip.InReceives = 12;
      m.Ip.InHdrErrors = 1;
      m.Ip.InDelivers = 11;
      m.Ip.OutRequests = 9;
      m.Ip.OutTransmits = 9;
      m.Icmp.InMsgs = 2;
      m.Icmp.InCsumErrors = 1;
      m.Icmp.InEchos = 2;
      m.Icmp.OutMsgs = 2;
      m.Icmp.OutEchoReps = 2;
      m.IcmpMsg.in[8] = 2;
      m.IcmpMsg.out[0] = 2;
      m.Tcp.CurrEstab = 1;
      m.Tcp.InSegs = 7;
      m.Udp.InDatagrams = 3;
      m.TcpExt.DelayedACKLost = 4;
      m.TcpExt.TCPTimeouts = 5;
      m.IpExt.InOctets = 426;
    });
    expect(formatNetstatS(c)).toBe(
      [
        'Ip:',
        '    Forwarding: 2', // net-tools 2.10 does not find its own phrase for Forwarding
        '    12 total packets received',
        '    1 with invalid headers',
        '    0 forwarded',
        '    0 incoming packets discarded',
        '    11 incoming packets delivered',
        '    9 requests sent out',
        '    OutTransmits: 9',
        'Icmp:',
        '    2 ICMP messages received',
        '    0 input ICMP message failed',
        '    InCsumErrors: 1',
        '    ICMP input histogram:',
        '        echo requests: 2',
        '    2 ICMP messages sent',
        '    0 ICMP messages failed',
        '    ICMP output histogram:',
        '        echo replies: 2',
        'IcmpMsg:',
        '        InType8: 2',
        '        OutType0: 2',
        'Tcp:',
        '    0 active connection openings',
        '    0 passive connection openings',
        '    0 failed connection attempts',
        '    0 connection resets received',
        '    1 connections established',
        '    7 segments received',
        '    0 segments sent out',
        '    0 segments retransmitted',
        '    0 bad segments received',
        '    0 resets sent',
        'Udp:',
        '    3 packets received',
        '    0 packets to unknown port received',
        '    0 packet receive errors',
        '    0 packets sent',
        '    0 receive buffer errors',
        '    0 send buffer errors',
        'UdpLite:',
        'TcpExt:',
        '    Quick ack mode was activated 4 times',
        '    0 packet headers predicted',
        '    TCPTimeouts: 5',
        'IpExt:',
        '    InOctets: 426',
        '',
      ].join('\n'),
    );
  });
});

/**
 * Runs `netstat -s` with our /proc text in place of the kernel's: a private mount
 * namespace gets a directory holding `net/snmp` and `net/netstat` bound over /proc, so
 * the real tool parses exactly what we print. Nothing outside that namespace changes.
 */
function realNetstatS(c: CountersSnapshot, dir: string): string {
  mkdirSync(join(dir, 'net'), { recursive: true });
  writeFileSync(join(dir, 'net', 'snmp'), formatProcNetSnmp(c));
  writeFileSync(join(dir, 'net', 'netstat'), formatProcNetNetstat(c));
  const r = spawnSync(
    'unshare',
    ['--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount --bind "$1" /proc && exec netstat -s', 'sh', dir],
    { encoding: 'utf8', timeout: 10_000, killSignal: 'SIGKILL' },
  );
  if (r.status !== 0) throw new Error(`netstat -s failed: ${r.stderr || String(r.error)}`);
  return r.stdout;
}

function netstatSkipReason(): string | null {
  if (rootSkip !== null) return rootSkip;
  for (const tool of ['netstat', 'unshare']) {
    const r = spawnSync('sh', ['-c', `command -v ${tool}`]);
    if (r.status !== 0) return `needs ${tool} (Debian: ${tool === 'netstat' ? 'net-tools' : 'util-linux'})`;
  }
  return null;
}
const netstatSkip = netstatSkipReason();
if (netstatSkip !== null) console.warn(`report.test.ts: skipping the comparison with the real netstat -s: ${netstatSkip}`);

/** Settings rather than counts: a stack keeps Linux's fixed values for them. */
const CONSTANTS: ReadonlySet<string> = new Set(['Forwarding', 'DefaultTTL', 'RtoAlgorithm', 'RtoMin', 'RtoMax', 'MaxConn']);

/** Snapshots whose counters are mostly 0 with some set, the shape of real ones. */
const sparseSnapshot = fc
  .array(fc.tuple(fc.constantFrom('Ip', 'Icmp', 'Tcp', 'TcpExt', 'Udp', 'IpExt', 'IcmpIn', 'IcmpOut'), fc.nat(200), fc.nat(1e6)), {
    maxLength: 40,
  })
  .map((sets) =>
    snapshot((m) => {
      for (const [group, pick, value] of sets) {
        if (group === 'IcmpIn' || group === 'IcmpOut') {
          (group === 'IcmpIn' ? m.IcmpMsg.in : m.IcmpMsg.out)[pick % 256] = value;
          continue;
        }
        const names = MIB_NAMES[group];
        const name = names[pick % names.length]!;
        const mib = m[group] as Record<string, number>;
        if (!CONSTANTS.has(name)) mib[name] = value;
      }
    }),
  );

describe.skipIf(netstatSkip !== null)('formatNetstatS against the real netstat -s over our /proc text', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tapstack-netstat-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('matches for a fresh stack and for one with every counter set (and 20 ICMP types, two IcmpMsg lines)', () => {
    expect(formatNetstatS(snapshot())).toBe(realNetstatS(snapshot(), dir));
    let n = 0;
    const full = snapshot((m) => {
      for (const group of ['Ip', 'Icmp', 'Tcp', 'TcpExt', 'Udp', 'IpExt'] as const) {
        const mib = m[group] as Record<string, number>;
        for (const name of MIB_NAMES[group]) if (!CONSTANTS.has(name)) mib[name] = ++n;
      }
      for (let t = 0; t < 20; t++) m.IcmpMsg.in[t] = ++n;
    });
    expect(formatNetstatS(full)).toBe(realNetstatS(full, dir));
  });

  it('matches for random sparse snapshots', () => {
    fc.assert(fc.property(sparseSnapshot, (c) => formatNetstatS(c) === realNetstatS(c, dir)), { numRuns: 25 });
  });
});

describe('Nstat', () => {
  it('returns values since the start first, then increases since the last call, without zeros', () => {
    const nstat = new Nstat();
    const counters = new Counters(64);
    counters.Ip.InReceives = 6;
    counters.IcmpMsg.out[0] = 2;
    counters.TcpExt.TCPTimeouts = 1;
    counters.Tcp.CurrEstab = 3; // a gauge: nstat leaves it out
    expect(nstat.delta(counters.snapshot())).toEqual({ IpInReceives: 6, IcmpMsgOutType0: 2, TcpExtTCPTimeouts: 1 });

    counters.Ip.InReceives = 10;
    counters.Udp.NoPorts = 1;
    expect(nstat.delta(counters.snapshot())).toEqual({ IpInReceives: 4, UdpNoPorts: 1 });
    expect(nstat.delta(counters.snapshot())).toEqual({});
  });

  it('lists every counter with zeros: true, and leaves out the settings nstat leaves out', () => {
    const d = new Nstat().delta(snapshot(), { zeros: true });
    const names = Object.keys(d);
    expect(names[0]).toBe('IpInReceives');
    expect(names).toContain('UdpLiteInDatagrams');
    expect(names.at(-1)).toBe('IpExtReasmOverlaps');
    for (const skipped of ['IpForwarding', 'IpDefaultTTL', 'TcpRtoMin', 'TcpMaxConn', 'TcpCurrEstab']) {
      expect(names).not.toContain(skipped);
    }
    expect(Object.values(d).every((v) => v === 0)).toBe(true);
    // /proc/net/snmp's groups first, then /proc/net/snmp6's, then /proc/net/netstat's, as nstat reads them.
    const order = ['Ip', 'Icmp', 'Tcp', 'UdpLite', 'Ip6', 'Udp6', 'TcpExt', 'IpExt'].map((g) => names.findIndex((n) => n.startsWith(g)));
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it('reports 0 for a counter that went backwards, as nstat does', () => {
    const nstat = new Nstat();
    nstat.delta(snapshot((m) => (m.Udp.InDatagrams = 5)));
    expect(nstat.delta(snapshot((m) => (m.Udp.InDatagrams = 2)), { zeros: true })['UdpInDatagrams']).toBe(0);
  });

  it('formats like nstat: #kernel, then name, value and rate columns', () => {
    expect(formatNstat({ IpInReceives: 6, TcpExtTCPFastOpenListenOverflow: 1234567890123456 })).toBe(
      '#kernel\n' +
        'IpInReceives                    6                  0.0\n' +
        'TcpExtTCPFastOpenListenOverflow 1234567890123456   0.0\n',
    );
    expect(formatNstat({})).toBe('#kernel\n');
  });
});

function nstatSkipReason(): string | null {
  if (process.platform !== 'linux') return `needs Linux (this is ${process.platform})`;
  const r = spawnSync('sh', ['-c', 'command -v nstat']);
  return r.status === 0 ? null : 'needs nstat (Debian: iproute2)';
}
const nstatSkip = nstatSkipReason();
if (nstatSkip !== null) console.warn(`report.test.ts: skipping the comparison with the real nstat: ${nstatSkip}`);

describe.skipIf(nstatSkip !== null)('Nstat against the real nstat over our /proc text', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tapstack-nstat-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** One `nstat` run reading our files (nstat's PROC_NET_* variables), with its own history file. */
  function realNstat(c: CountersSnapshot, args: string[]): string {
    writeFileSync(join(dir, 'snmp'), formatProcNetSnmp(c));
    writeFileSync(join(dir, 'netstat'), formatProcNetNetstat(c));
    writeFileSync(join(dir, 'snmp6'), formatProcNetSnmp6(c));
    const r = spawnSync('nstat', args, {
      encoding: 'utf8',
      timeout: 10_000,
      killSignal: 'SIGKILL',
      env: {
        ...process.env,
        PROC_NET_SNMP: join(dir, 'snmp'),
        PROC_NET_NETSTAT: join(dir, 'netstat'),
        PROC_NET_SNMP6: join(dir, 'snmp6'),
        NSTAT_HISTORY: join(dir, 'history'),
      },
    });
    if (r.status !== 0) throw new Error(`nstat failed: ${r.stderr || String(r.error)}`);
    return r.stdout;
  }

  it('prints what nstat prints on a first run, a later run, and a run with -z', () => {
    const counters = new Counters(64);
    const ours = new Nstat();
    counters.Ip.InReceives = 6;
    counters.Icmp.InMsgs = 5;
    for (let t = 0; t < 18; t++) counters.IcmpMsg.in[t] = t + 1;
    counters.IcmpMsg.out[0] = 2;
    counters.TcpExt.TCPTimeouts = 1;
    counters.IpExt.InOctets = 426;
    counters.Ip6.InReceives = 3;
    counters.Icmp6Msg.in[135] = 2;
    counters.Udp6.NoPorts = 1;
    expect(formatNstat(ours.delta(counters.snapshot()))).toBe(realNstat(counters.snapshot(), []));

    counters.Ip.InReceives = 10;
    counters.Udp.NoPorts = 1;
    counters.TcpExt.TCPAOGood = 2;
    expect(formatNstat(ours.delta(counters.snapshot()))).toBe(realNstat(counters.snapshot(), []));

    counters.Tcp.InSegs = 3;
    expect(formatNstat(ours.delta(counters.snapshot(), { zeros: true }))).toBe(realNstat(counters.snapshot(), ['-z']));
  });
});

describe('formatEthtoolS', () => {
  it('prints NIC statistics: and one indented line per counter, receive side first', () => {
    const s = newLinkStats();
    s.rx_packets = 12;
    s.rx_bytes = 1500;
    s.rx_crc_errors = 1;
    s.tx_packets = 3;
    expect(formatEthtoolS('tap0', s)).toBe(
      [
        'NIC statistics:',
        '     rx_packets: 12',
        '     rx_bytes: 1500',
        '     rx_errors: 0',
        '     rx_dropped: 0',
        '     rx_length_errors: 0',
        '     rx_over_errors: 0',
        '     rx_crc_errors: 1',
        '     rx_missed_errors: 0',
        '     rx_nohandler: 0',
        '     rx_otherhost_dropped: 0',
        '     multicast: 0',
        '     tx_packets: 3',
        '     tx_bytes: 0',
        '     tx_errors: 0',
        '     tx_dropped: 0',
        '',
      ].join('\n'),
    );
  });
});

describe('formatEthtoolC', () => {
  it('prints the batch sizes as ethtool -c prints frame coalescing, then the driver mode', () => {
    expect(formatEthtoolC('tap0', { rxFrames: 64, txFrames: 32, busyPoll: true })).toBe(
      'Coalesce parameters for tap0:\nAdaptive RX: off  TX: off\nrx-usecs: 0\nrx-frames: 64\ntx-usecs: 0\ntx-frames: 32\n\nbusy-poll: on\n',
    );
  });
});
