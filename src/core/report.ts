/**
 * The stack's counters printed the way Linux's tools print the kernel's, so that what you
 * know from a Linux host reads the same here:
 *
 * | function               | looks like                         | from                              |
 * |------------------------|------------------------------------|-----------------------------------|
 * | `formatProcNetSnmp`    | `cat /proc/net/snmp`               | net/ipv4/proc.c `snmp_seq_show`   |
 * | `formatProcNetNetstat` | `cat /proc/net/netstat`            | net/ipv4/proc.c `netstat_seq_show`|
 * | `formatProcNetSnmp6`   | `cat /proc/net/snmp6`              | net/ipv6/proc.c `snmp6_seq_show`  |
 * | `formatNetstatS`       | `netstat -s` (net-tools 2.10)      | net-tools statistics.c            |
 * | `Nstat`, `formatNstat` | `nstat`, `nstat -z`                | iproute2 misc/nstat.c             |
 * | `formatEthtoolS`       | `ethtool -S tap0`                  | ethtool `dump_stats`              |
 * | `formatEthtoolC`       | `ethtool -c tap0`                  | ethtool `dump_coalesce`           |
 *
 * All of them are pure: a snapshot in, text out. The /proc layouts are checked against a
 * real kernel's files, and the `netstat -s` and `nstat` text against the real tools run
 * over our /proc text (test/core/report.test.ts).
 *
 * Groups Linux does not have (our `Arp`, the neighbour-cache `Neigh`) stay out of these
 * formats; Linux shows them elsewhere, if at all.
 */

import type { LinkStats } from '../dev/device.js';
import { MIB_NAMES, type CountersSnapshot } from './counters.js';

/** One header line and one value line of a /proc file: `Ip: Forwarding …` / `Ip: 2 …`. */
interface ProcRow {
  group: string;
  names: readonly string[];
  values: readonly number[];
}

/** A fixed MIB group as a row, its names in Linux's order. */
function mibRow(group: string, names: readonly string[], values: Readonly<Record<string, number>>): ProcRow {
  return { group, names, values: names.map((n) => values[n] ?? 0) };
}

/** How many IcmpMsg entries Linux puts on one line pair (`PERLINE` in `icmpmsg_put`). */
const ICMPMSG_PER_LINE = 16;

/**
 * The `IcmpMsg:` rows. Linux keeps the per-type counts in one 512-slot array, input types
 * at 0–255 and output types at 256–511, and prints the non-zero slots in index order: so
 * every `InTypeN` comes before every `OutTypeN`, each run sorted by type number, sixteen
 * to a line pair. With no ICMP traffic at all there is no `IcmpMsg` row.
 */
function icmpMsgRows(icmpMsg: Readonly<Record<string, number>>): ProcRow[] {
  const slots: { slot: number; name: string; value: number }[] = [];
  for (const [name, value] of Object.entries(icmpMsg)) {
    const m = /^(In|Out)Type(\d+)$/.exec(name);
    if (m === null || value === 0) continue;
    slots.push({ slot: (m[1] === 'Out' ? 256 : 0) + Number(m[2]), name, value });
  }
  slots.sort((a, b) => a.slot - b.slot);
  const rows: ProcRow[] = [];
  for (let i = 0; i < slots.length; i += ICMPMSG_PER_LINE) {
    const line = slots.slice(i, i + ICMPMSG_PER_LINE);
    rows.push({ group: 'IcmpMsg', names: line.map((s) => s.name), values: line.map((s) => s.value) });
  }
  return rows;
}

/** The rows of /proc/net/snmp, in the kernel's order. */
function snmpRows(c: CountersSnapshot): ProcRow[] {
  return [
    mibRow('Ip', MIB_NAMES.Ip, c.Ip),
    mibRow('Icmp', MIB_NAMES.Icmp, c.Icmp),
    ...icmpMsgRows(c.IcmpMsg),
    mibRow('Tcp', MIB_NAMES.Tcp, c.Tcp),
    mibRow('Udp', MIB_NAMES.Udp, c.Udp),
    // UDP-Lite (RFC 3828) shares UDP's MIB; we do not speak it, so its line is all zeros.
    mibRow('UdpLite', MIB_NAMES.Udp, {}),
  ];
}

/** The rows of /proc/net/netstat that we have (Linux also prints `MPTcpExt`). */
function netstatRows(c: CountersSnapshot): ProcRow[] {
  return [mibRow('TcpExt', MIB_NAMES.TcpExt, c.TcpExt), mibRow('IpExt', MIB_NAMES.IpExt, c.IpExt)];
}

/**
 * /proc/net/snmp6's entries in the kernel's order: Ip6, Icmp6, the per-type Icmp6 counts
 * that are not 0 (every InType before every OutType), Udp6, UdpLite6.
 */
function snmp6Entries(c: CountersSnapshot): [string, number][] {
  const out: [string, number][] = [];
  for (const n of MIB_NAMES.Ip6) out.push([`Ip6${n}`, c.Ip6[n]]);
  for (const n of MIB_NAMES.Icmp6) out.push([`Icmp6${n}`, c.Icmp6[n]]);
  for (const row of icmpMsgRows(c.Icmp6Msg)) row.names.forEach((n, i) => out.push([`Icmp6${n}`, row.values[i]!]));
  for (const n of MIB_NAMES.Udp6) out.push([`Udp6${n}`, c.Udp6[n]]);
  for (const n of MIB_NAMES.Udp6) if (n !== 'IgnoredMulti') out.push([`UdpLite6${n}`, 0]);
  return out;
}

/** The counters as Linux's `/proc/net/snmp6`: one `Name<TAB>value` line each, the name padded to 32. */
export function formatProcNetSnmp6(c: CountersSnapshot): string {
  let out = '';
  for (const [name, value] of snmp6Entries(c)) out += `${name.padEnd(32)}\t${value}\n`;
  return out;
}

function procText(rows: readonly ProcRow[]): string {
  let out = '';
  for (const r of rows) out += `${r.group}: ${r.names.join(' ')}\n${r.group}: ${r.values.join(' ')}\n`;
  return out;
}

/**
 * The counters as Linux's `/proc/net/snmp`: for each group a line of names and a line of
 * values, in the kernel's group and field order (`Ip`, `Icmp`, `IcmpMsg` when any ICMP
 * was counted, `Tcp`, `Udp`, `UdpLite`). `Tcp`'s `MaxConn` prints as -1, like Linux's.
 */
export function formatProcNetSnmp(c: CountersSnapshot): string {
  return procText(snmpRows(c));
}

/** The counters as Linux's `/proc/net/netstat`: the `TcpExt` and `IpExt` groups. */
export function formatProcNetNetstat(c: CountersSnapshot): string {
  return procText(netstatRows(c));
}

// ── netstat -s ──────────────────────────────────────────────────────────────
//
// net-tools reads the two /proc files row by row and looks each name up in a phrase
// table per group. Printing follows a small state machine, reproduced here so that our
// text matches the real tool's for the same /proc text, quirks included:
//
//  - `always` phrases print even at 0, `nonzero` ones only when the count is not 0.
//  - ICMP per-type counts go under an "ICMP input/output histogram:" title (printed
//    when the histogram starts, even if all its counts are 0), eight spaces in.
//  - A name the table does not know prints as `Name: value`, only when not 0, at the
//    indent of whatever came before it. net-tools 2.10 binary-searches tables that are
//    not in strcmp order, so it also misses some names it has phrases for (Forwarding,
//    TCPTimeouts, TCPSackRecovery, …): those print as `Name: value` too, which is why
//    they are absent from the tables below.
//  - Groups it has no table for (IcmpMsg, UdpLite, IpExt) print every non-zero count
//    as `Name: value`, keeping the indent of the group before.

type Phrase =
  | { readonly when: 'always' | 'nonzero'; readonly text: string }
  | { readonly when: 'histogram'; readonly dir: 'in' | 'out'; readonly text: string }
  | { readonly when: 'never' };

const always = (text: string): Phrase => ({ when: 'always', text });
const nonzero = (text: string): Phrase => ({ when: 'nonzero', text });
const inHist = (text: string): Phrase => ({ when: 'histogram', dir: 'in', text });
const outHist = (text: string): Phrase => ({ when: 'histogram', dir: 'out', text });
const never: Phrase = { when: 'never' };

/** net-tools 2.10's phrases, `%` standing for the count; see the notes above for what is missing. */
const NETSTAT_PHRASES: Readonly<Record<string, Readonly<Record<string, Phrase>>>> = {
  Ip: {
    DefaultTTL: never, // configuration, not a count
    InReceives: always('% total packets received'),
    InHdrErrors: nonzero('% with invalid headers'),
    InAddrErrors: nonzero('% with invalid addresses'),
    ForwDatagrams: always('% forwarded'),
    InUnknownProtos: nonzero('% with unknown protocol'),
    InDiscards: always('% incoming packets discarded'),
    InDelivers: always('% incoming packets delivered'),
    OutRequests: always('% requests sent out'),
    OutDiscards: nonzero('% outgoing packets dropped'),
    OutNoRoutes: nonzero('% dropped because of missing route'),
    ReasmTimeout: nonzero('% fragments dropped after timeout'),
    ReasmReqds: nonzero('% reassemblies required'),
    ReasmOKs: nonzero('% packets reassembled ok'),
    ReasmFails: nonzero('% packet reassemblies failed'),
    FragOKs: nonzero('% outgoing packets fragmented ok'),
    FragFails: nonzero('% outgoing packets failed fragmentation'),
    FragCreates: nonzero('% fragments created'),
  },
  Icmp: {
    InMsgs: always('% ICMP messages received'),
    InErrors: always('% input ICMP message failed'),
    InDestUnreachs: inHist('destination unreachable: %'),
    InTimeExcds: inHist('timeout in transit: %'),
    InParmProbs: inHist('wrong parameters: %'),
    InSrcQuenchs: inHist('source quenches: %'),
    InRedirects: inHist('redirects: %'),
    InEchos: inHist('echo requests: %'),
    InEchoReps: inHist('echo replies: %'),
    InTimestamps: inHist('timestamp request: %'),
    InTimestampReps: inHist('timestamp reply: %'),
    InAddrMasks: inHist('address mask request: %'),
    InAddrMaskReps: inHist('address mask replies: %'),
    OutMsgs: always('% ICMP messages sent'),
    OutErrors: always('% ICMP messages failed'),
    OutDestUnreachs: outHist('destination unreachable: %'),
    OutTimeExcds: outHist('time exceeded: %'),
    OutParmProbs: outHist('wrong parameters: %'),
    OutSrcQuenchs: outHist('source quench: %'),
    OutRedirects: outHist('redirect: %'),
    OutEchos: outHist('echo requests: %'),
    OutEchoReps: outHist('echo replies: %'),
    OutTimestamps: outHist('timestamp requests: %'),
    OutTimestampReps: outHist('timestamp replies: %'),
    OutAddrMasks: outHist('address mask requests: %'),
    OutAddrMaskReps: outHist('address mask replies: %'),
  },
  Tcp: {
    RtoAlgorithm: never,
    RtoMin: never,
    RtoMax: never,
    MaxConn: never,
    ActiveOpens: always('% active connection openings'),
    PassiveOpens: always('% passive connection openings'),
    AttemptFails: always('% failed connection attempts'),
    EstabResets: always('% connection resets received'),
    CurrEstab: always('% connections established'),
    InSegs: always('% segments received'),
    OutSegs: always('% segments sent out'),
    RetransSegs: always('% segments retransmitted'),
    InErrs: always('% bad segments received'),
    OutRsts: always('% resets sent'),
  },
  Udp: {
    InDatagrams: always('% packets received'),
    NoPorts: always('% packets to unknown port received'),
    InErrors: always('% packet receive errors'),
    OutDatagrams: always('% packets sent'),
    RcvbufErrors: always('% receive buffer errors'),
    SndbufErrors: always('% send buffer errors'),
  },
  TcpExt: {
    SyncookiesSent: nonzero('% SYN cookies sent'),
    SyncookiesRecv: nonzero('% SYN cookies received'),
    SyncookiesFailed: nonzero('% invalid SYN cookies received'),
    EmbryonicRsts: nonzero('% resets received for embryonic SYN_RECV sockets'),
    PruneCalled: nonzero('% packets pruned from receive queue because of socket buffer overrun'),
    RcvPruned: nonzero('% packets pruned from receive queue'),
    OfoPruned: nonzero('% packets dropped from out-of-order queue because of socket buffer overrun'),
    OutOfWindowIcmps: nonzero('% ICMP packets dropped because they were out-of-window'),
    LockDroppedIcmps: nonzero('% ICMP packets dropped because socket was locked'),
    TW: nonzero('% TCP sockets finished time wait in fast timer'),
    TWRecycled: nonzero('% time wait sockets recycled by time stamp'),
    PAWSActive: nonzero('% active connections rejected because of time stamp'),
    PAWSEstab: nonzero('% packets rejected in established connections because of timestamp'),
    DelayedACKs: nonzero('% delayed acks sent'),
    DelayedACKLocked: nonzero('% delayed acks further delayed because of locked socket'),
    DelayedACKLost: nonzero('Quick ack mode was activated % times'),
    ListenOverflows: nonzero('% times the listen queue of a socket overflowed'),
    ListenDrops: nonzero('% SYNs to LISTEN sockets dropped'),
    TCPHPHits: always('% packet headers predicted'),
    TCPPureAcks: nonzero('% acknowledgments not containing data payload received'),
    TCPHPAcks: nonzero('% predicted acknowledgments'),
    TCPRenoRecovery: nonzero('% times recovered from packet loss due to fast retransmit'),
    TCPSACKReorder: nonzero('Detected reordering % times using SACK'),
    TCPRenoReorder: nonzero('Detected reordering % times using reno fast retransmit'),
    TCPTSReorder: nonzero('Detected reordering % times using time stamp'),
    TCPFullUndo: nonzero('% congestion windows fully recovered without slow start'),
    TCPPartialUndo: nonzero('% congestion windows partially recovered using Hoe heuristic'),
    TCPLossUndo: nonzero('% congestion windows recovered without slow start after partial ack'),
    TCPRenoFailures: nonzero('% timeouts after reno fast retransmit'),
    TCPLossFailures: nonzero('% timeouts in loss state'),
    TCPFastRetrans: nonzero('% fast retransmits'),
    TCPSlowStartRetrans: nonzero('% retransmits in slow start'),
    TCPRcvCollapsed: nonzero('% packets collapsed in receive queue due to low socket buffer'),
    TCPAbortOnData: nonzero('% connections reset due to unexpected data'),
    TCPAbortOnClose: nonzero('% connections reset due to early user close'),
    TCPAbortOnMemory: nonzero('% connections aborted due to memory pressure'),
    TCPAbortOnTimeout: nonzero('% connections aborted due to timeout'),
    TCPAbortOnLinger: nonzero('% connections aborted after user close in linger timeout'),
    TCPAbortFailed: nonzero('% times unable to send RST due to no memory'),
    TCPMemoryPressures: nonzero('TCP ran low on memory % times'),
  },
};

const HISTOGRAM_TITLE = { in: 'ICMP input histogram:', out: 'ICMP output histogram:' } as const;

/**
 * The counters as `netstat -s` (net-tools 2.10) prints them for the same /proc files:
 * a section per group (`Ip:`, `Icmp:`, `IcmpMsg:`, `Tcp:`, `Udp:`, `UdpLite:`,
 * `TcpExt:`, `IpExt:`) with net-tools' phrases, e.g. `    12 total packets received`.
 */
export function formatNetstatS(c: CountersSnapshot): string {
  let out = '';
  // net-tools' `state`: what the previous line was, which sets the indent of a name it
  // has no phrase for. It resets only at the start of a group it has a table for.
  let state: 'number' | 'in' | 'out' = 'number';
  const indent = (): string => (state === 'number' ? '    ' : '        ');
  for (const row of [...snmpRows(c), ...netstatRows(c)]) {
    out += `${row.group}:\n`;
    const table = NETSTAT_PHRASES[row.group];
    if (table !== undefined) state = 'number';
    row.names.forEach((name, i) => {
      const value = row.values[i] ?? 0;
      const phrase = table?.[name];
      if (phrase === undefined) {
        if (value !== 0) out += `${indent()}${name}: ${value}\n`;
        return;
      }
      switch (phrase.when) {
        case 'never':
          return;
        case 'histogram':
          if (state !== phrase.dir) out += `${indent()}${HISTOGRAM_TITLE[phrase.dir]}\n`;
          state = phrase.dir;
          if (value > 0) out += `        ${phrase.text.replace('%', String(value))}\n`;
          return;
        case 'always':
        case 'nonzero':
          state = 'number';
          if (phrase.when === 'always' || value !== 0) out += `    ${phrase.text.replace('%', String(value))}\n`;
          return;
      }
    });
  }
  return out;
}

// ── nstat ───────────────────────────────────────────────────────────────────

/**
 * Values nstat leaves out because they are settings or gauges, not event counts
 * (`useless_numbers` in iproute2's nstat.c).
 */
const NSTAT_SKIPPED: ReadonlySet<string> = new Set([
  'IpForwarding', 'IpDefaultTTL', 'TcpRtoAlgorithm', 'TcpRtoMin', 'TcpRtoMax', 'TcpMaxConn', 'TcpCurrEstab',
]);

/**
 * Every counter under its nstat name (group and field run together: `IpInReceives`,
 * `TcpExtTCPTimeouts`, `IcmpMsgOutType0`), in nstat's order: /proc/net/snmp's rows,
 * /proc/net/snmp6's, then /proc/net/netstat's.
 */
function nstatValues(c: CountersSnapshot): Map<string, number> {
  const values = new Map<string, number>();
  const add = (rows: ProcRow[]): void => {
    for (const row of rows) {
      row.names.forEach((name, i) => {
        const id = row.group + name;
        if (!NSTAT_SKIPPED.has(id)) values.set(id, row.values[i] ?? 0);
      });
    }
  };
  add(snmpRows(c));
  for (const [name, value] of snmp6Entries(c)) values.set(name, value);
  add(netstatRows(c));
  return values;
}

/** Options of {@link Nstat.delta}. */
export interface NstatOptions {
  /** Also list counters that did not change (`nstat -z`). */
  zeros?: boolean;
}

/**
 * `nstat`: what changed since the last look. It keeps the previous reading the way nstat
 * keeps its history file, so the first `delta()` returns every counter's value since the
 * start and each later one the increase since the call before.
 *
 * ```ts
 * const nstat = new Nstat();
 * nstat.delta(stack.counters());                       // everything so far
 * // … traffic …
 * process.stdout.write(formatNstat(nstat.delta(stack.counters())));
 * ```
 */
export class Nstat {
  private previous = new Map<string, number>();

  /**
   * Counter name → increase since the previous call (since the start on the first),
   * in nstat's order. Counters that did not change are left out unless `zeros` is set.
   * A counter that went backwards (a reset) reports 0, as nstat does on overflow.
   */
  delta(c: CountersSnapshot, { zeros = false }: NstatOptions = {}): Record<string, number> {
    const now = nstatValues(c);
    const out: Record<string, number> = {};
    for (const [id, value] of now) {
      const d = Math.max(0, value - (this.previous.get(id) ?? 0));
      if (d !== 0 || zeros) out[id] = d;
    }
    this.previous = now;
    return out;
  }
}

/**
 * A delta as nstat prints it: `#kernel`, then per counter its name padded to 32
 * columns, the value padded to 16, and the rate per second (`%6.1f`). We keep no
 * rate estimator (that is nstat's daemon mode), so the rate reads 0.0 like a plain
 * `nstat` run's.
 */
export function formatNstat(d: Readonly<Record<string, number>>): string {
  let out = '#kernel\n';
  for (const [id, value] of Object.entries(d)) out += `${id.padEnd(32)}${String(value).padEnd(16)}${'0.0'.padStart(6)}\n`;
  return out;
}

// ── ethtool -S ──────────────────────────────────────────────────────────────

/**
 * The link counters in print order: receive side, then transmit, like most NIC drivers'
 * `ethtool -S`. Typed as a record over `LinkStats` so that a field added there and not
 * here is a compile error rather than a silently missing line.
 */
const LINK_STATS_ORDER: { readonly [K in keyof LinkStats]: null } = {
  rx_packets: null, rx_bytes: null, rx_errors: null, rx_dropped: null, rx_length_errors: null,
  rx_over_errors: null, rx_crc_errors: null, rx_missed_errors: null, rx_nohandler: null,
  rx_otherhost_dropped: null, multicast: null,
  tx_packets: null, tx_bytes: null, tx_errors: null, tx_dropped: null,
  // Offload counters, after the standard ones as NIC drivers list theirs; only links with offloads keep them.
  rx_gso_frames: null, rx_csum_partial: null, rx_csum_unnecessary: null, tx_gso_frames: null, tx_csum_partial: null,
};

/**
 * Link counters as `ethtool -S <name>` prints a NIC's: `NIC statistics:`, then one
 * `     field: value` line per counter. Like ethtool's own output, the text does not
 * print the interface `name`: it is there to mirror the command line.
 */
export function formatEthtoolS(name: string, s: LinkStats): string {
  let out = 'NIC statistics:\n';
  for (const key of Object.keys(LINK_STATS_ORDER) as (keyof LinkStats)[]) {
    if (s[key] !== undefined) out += `     ${key}: ${s[key]}\n`;
  }
  return out;
}

/** How a link batches and how the driver learns of frames: `ethtool -c`'s frame counts, and the mode. */
export interface Coalesce {
  /** Frames read per wake-up (the TAP's batch) and written per flush at most. */
  rxFrames: number;
  txFrames: number;
  /** The driver polls the link on every turn of the loop, besides its wake-ups. */
  busyPoll: boolean;
}

/**
 * The link's coalescing as `ethtool -c` prints a NIC's: frames per batch each way; no
 * timer-based coalescing (0 µs: a batch is what one wake-up finds), no adaptive mode. The
 * last line is ours: interrupt-like wake-ups or busy polling (Linux's net.core.busy_poll).
 */
export function formatEthtoolC(name: string, c: Coalesce): string {
  return (
    `Coalesce parameters for ${name}:\n` +
    'Adaptive RX: off  TX: off\n' +
    'rx-usecs: 0\n' +
    `rx-frames: ${c.rxFrames}\n` +
    'tx-usecs: 0\n' +
    `tx-frames: ${c.txFrames}\n` +
    `\nbusy-poll: ${c.busyPoll ? 'on' : 'off'}\n`
  );
}
