/**
 * Socket tables as iproute2's `ss -tuano` prints them (with `-i`, each TCP connection's
 * tcp_info on the line below), and the closed-connection log as bcc's `tcplife` prints it.
 * Rows come from the transports (`Tcp.sockets`, `Udp.sockets`); this file only formats,
 * following misc/ss.c's choices (state names, `*` for port 0, the timer and rate
 * formats, which tcp_info fields it shows and when), so the habits of reading `ss` carry over:
 *
 * ```
 * State     Recv-Q Send-Q Local Address:Port  Peer Address:Port
 * LISTEN    0      511          0.0.0.0:7          0.0.0.0:*
 * ESTAB     0      0       192.168.69.2:7     192.168.69.1:40312 timer:(on,201ms,0)
 * 	 ts sack cubic wscale:7,7 rto:201 rtt:0.5/0.25 ato:40 mss:1448 …
 * ```
 */
// Types only: the rows are built in transport/, and this file formats them.
import type { LifeRecord, TcpInfo } from '../transport/tcp/info.js';

// `tcpi_options` bits (Linux include/uapi/linux/tcp.h), shared by tcp_info and its formatting.
/** tcp_info option bit: timestamps (RFC 7323) agreed. */
export const TCPI_OPT_TIMESTAMPS = 1;
/** tcp_info option bit: SACK (RFC 2018) agreed. */
export const TCPI_OPT_SACK = 2;
/** tcp_info option bit: window scaling (RFC 7323) agreed. */
export const TCPI_OPT_WSCALE = 4;

/** A timer of a socket, as `ss -o` shows it: `timer:(name,expires,retrans)`. */
export interface SocketTimer {
  /** `on` (retransmission), `persist` (zero-window probe), `keepalive`, or `timewait`. */
  name: 'on' | 'persist' | 'keepalive' | 'timewait';
  /** Milliseconds until it fires. */
  expiresMs: number;
  /** Retransmissions (for `on`) or unanswered probes so far. */
  retrans: number;
}

/** One line of the socket table. */
export interface SocketRow {
  netid: 'tcp' | 'udp';
  /** The state as `ss` names it: `ESTAB`, `LISTEN`, `TIME-WAIT`, `UNCONN` (an unconnected UDP socket)… */
  state: string;
  /**
   * Connections: bytes received and not read, and bytes not yet acknowledged. Listeners: the
   * accept queue and the backlog. UDP: bytes charged to the receive queue, and 0.
   */
  recvQ: number;
  sendQ: number;
  localAddress: string;
  /** 0 prints as `*` (any port). */
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  timer?: SocketTimer;
  /** The congestion control algorithm (`cubic`, `reno`), for TCP connections. */
  congestion?: string;
  /** tcp_info, for TCP connections. */
  info?: TcpInfo;
}

/** What to show, after `ss`'s flags. */
export interface SsOptions {
  /** The timer column (`ss -o`). Default false. */
  timers?: boolean;
  /** tcp_info on the line below each TCP connection (`ss -i`). Default false. */
  info?: boolean;
  /** Rates in plain bits per second, as `ss -n` prints them (default); false: with k and M, as without `-n`. */
  numeric?: boolean;
  /** The Netid column (`tcp`, `udp`); by default shown when the rows mix protocols, as `ss` shows it for `-tu`. */
  netid?: boolean;
}

/** Formats `rows` as `ss -tan` does, with the extras `opts` asks for; one line per row (two with `info`). */
export function formatSockets(rows: readonly SocketRow[], opts: SsOptions = {}): string {
  const showNetid = opts.netid ?? new Set(rows.map((r) => r.netid)).size > 1;
  const port = (p: number): string => (p === 0 ? '*' : String(p));
  // As ss: `*` for a wildcard that takes both families (`::` without IPV6_V6ONLY), IPv6 in brackets.
  const host = (a: string): string => (a === '::' ? '*' : a.includes(':') ? `[${a}]` : a);
  const head = ['State', 'Recv-Q', 'Send-Q', 'Local Address', 'Port', 'Peer Address', 'Port'];
  const cells = rows.map((r) => [
    r.state, String(r.recvQ), String(r.sendQ), host(r.localAddress), port(r.localPort), host(r.remoteAddress), port(r.remotePort),
  ]);
  if (showNetid) {
    head.unshift('Netid');
    rows.forEach((r, i) => cells[i]!.unshift(r.netid));
  }
  const width = head.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c]!.length)));
  const n = showNetid ? 1 : 0;
  // Addresses are right-aligned against the colon and ports left-aligned after it, as in ss.
  const line = (row: readonly string[]): string => {
    const out: string[] = [];
    for (let c = 0; c < n + 3; c++) out.push(row[c]!.padEnd(width[c]!));
    out.push(`${row[n + 3]!.padStart(width[n + 3]!)}:${row[n + 4]!.padEnd(width[n + 4]!)}`);
    out.push(`${row[n + 5]!.padStart(width[n + 5]!)}:${row[n + 6]!.padEnd(width[n + 6]!)}`);
    return out.join(' ');
  };
  const lines = [line(head).trimEnd()];
  rows.forEach((r, i) => {
    let text = line(cells[i]!);
    if (opts.timers === true && r.timer !== undefined) {
      text += ` timer:(${r.timer.name},${formatMsTimer(r.timer.expiresMs)},${r.timer.retrans})`;
    }
    lines.push(text.trimEnd());
    if (opts.info === true && r.info !== undefined) lines.push(`\t${formatTcpInfo(r.info, r.congestion, opts.numeric ?? true)}`);
  });
  return `${lines.join('\n')}\n`;
}

/**
 * The fields of tcp_info in the order and units `ss -i` prints them (misc/ss.c
 * `tcp_stats_print`): times in ms, `send` the rate cwnd allows (cwnd·mss·8 / rtt), fields
 * at their default or zero left out. Each item has a leading space, as in ss.
 */
export function formatTcpInfo(i: TcpInfo, congestion?: string, numeric = true): string {
  const out: string[] = [];
  const bw = (bps: number): string => formatBandwidth(bps, numeric);
  if (i.options & TCPI_OPT_TIMESTAMPS) out.push('ts');
  if (i.options & TCPI_OPT_SACK) out.push('sack');
  if (congestion !== undefined) out.push(congestion);
  if (i.options & TCPI_OPT_WSCALE) out.push(`wscale:${i.snd_wscale},${i.rcv_wscale}`);
  // ss leaves out an RTO of exactly 3 s, the initial RTO of older kernels.
  if (i.rto !== 0 && i.rto !== 3_000_000) out.push(`rto:${g(i.rto / 1000)}`);
  if (i.backoff !== 0) out.push(`backoff:${i.backoff}`);
  if (i.rtt !== 0) out.push(`rtt:${g(i.rtt / 1000)}/${g(i.rttvar / 1000)}`);
  if (i.ato !== 0) out.push(`ato:${g(i.ato / 1000)}`);
  if (i.snd_mss !== 0) out.push(`mss:${i.snd_mss}`);
  if (i.rcv_mss !== 0) out.push(`rcvmss:${i.rcv_mss}`);
  if (i.advmss !== 0) out.push(`advmss:${i.advmss}`);
  if (i.snd_cwnd !== 0) out.push(`cwnd:${i.snd_cwnd}`);
  if (i.snd_ssthresh < 0xffff) out.push(`ssthresh:${i.snd_ssthresh}`);
  if (i.bytes_sent !== 0) out.push(`bytes_sent:${i.bytes_sent}`);
  if (i.bytes_retrans !== 0) out.push(`bytes_retrans:${i.bytes_retrans}`);
  if (i.bytes_acked !== 0) out.push(`bytes_acked:${i.bytes_acked}`);
  if (i.bytes_received !== 0) out.push(`bytes_received:${i.bytes_received}`);
  if (i.segs_out !== 0) out.push(`segs_out:${i.segs_out}`);
  if (i.segs_in !== 0) out.push(`segs_in:${i.segs_in}`);
  if (i.data_segs_out !== 0) out.push(`data_segs_out:${i.data_segs_out}`);
  if (i.data_segs_in !== 0) out.push(`data_segs_in:${i.data_segs_in}`);
  if (i.rtt !== 0) out.push(`send ${bw((i.snd_cwnd * i.snd_mss * 8_000_000) / i.rtt)}bps`);
  if (i.last_data_sent !== 0) out.push(`lastsnd:${i.last_data_sent}`);
  if (i.last_data_recv !== 0) out.push(`lastrcv:${i.last_data_recv}`);
  if (i.last_ack_recv !== 0) out.push(`lastack:${i.last_ack_recv}`);
  if (i.delivery_rate !== 0) out.push(`delivery_rate ${bw(i.delivery_rate * 8)}bps`);
  if (i.unacked !== 0) out.push(`unacked:${i.unacked}`);
  if (i.retrans !== 0 || i.total_retrans !== 0) out.push(`retrans:${i.retrans}/${i.total_retrans}`);
  if (i.lost !== 0) out.push(`lost:${i.lost}`);
  if (i.sacked !== 0) out.push(`sacked:${i.sacked}`);
  if (i.reordering !== 3) out.push(`reordering:${i.reordering}`);
  if (i.rcv_space !== 0) out.push(`rcv_space:${i.rcv_space}`);
  if (i.notsent_bytes !== 0) out.push(`notsent:${i.notsent_bytes}`);
  if (i.min_rtt !== 0) out.push(`minrtt:${g(i.min_rtt / 1000)}`);
  if (i.snd_wnd !== 0) out.push(`snd_wnd:${i.snd_wnd}`);
  if (i.rcv_wnd !== 0) out.push(`rcv_wnd:${i.rcv_wnd}`);
  return out.map((s) => ` ${s}`).join('');
}

/** C's `%g`: six significant digits, no trailing zeros. */
function g(x: number): string {
  return String(Number(x.toPrecision(6)));
}

/** A rate as ss's `sprint_bw`: plain with `-n`, else with one decimal and k or M. */
function formatBandwidth(bps: number, numeric: boolean): string {
  if (numeric) return bps.toFixed(0);
  if (bps > 1_000_000) return `${(bps / 1_000_000).toFixed(1)}M`;
  if (bps > 1_000) return `${(bps / 1_000).toFixed(1)}K`;
  return g(bps);
}

/**
 * A timer's remaining time as ss's `print_ms_timer`: `200ms`, `1.500ms` (1.5 s), `59sec`,
 * `2min5sec`; the parts shown shrink as the time grows (no ms past 9 s, no seconds past 9 min).
 */
export function formatMsTimer(ms: number): string {
  const t = Math.max(0, Math.floor(ms));
  const minutes = Math.floor(t / 60_000);
  let secs = Math.floor(t / 1000) % 60;
  let msecs = t % 1000;
  let s = '';
  if (minutes > 0) {
    msecs = 0;
    s += `${minutes}min`;
    if (minutes > 9) secs = 0;
  }
  if (secs > 0) {
    if (secs > 9) msecs = 0;
    s += `${secs}${msecs > 0 ? '.' : 'sec'}`;
  }
  if (msecs > 0) s += `${String(msecs).padStart(3, '0')}ms`;
  return s;
}

/**
 * The log of closed connections as bcc's `tcplife` prints it (without its PID and COMM
 * columns: here every socket is the stack's own): kilobytes each way and the lifetime in ms.
 */
export function formatTcpLife(records: readonly LifeRecord[]): string {
  const lines = [
    `${'LADDR'.padEnd(15)} ${'LPORT'.padEnd(5)} ${'RADDR'.padEnd(15)} ${'RPORT'.padEnd(5)} ${'TX_KB'.padStart(5)} ${'RX_KB'.padStart(5)} MS`,
  ];
  for (const r of records) {
    lines.push(
      `${r.localAddress.padEnd(15)} ${String(r.localPort).padEnd(5)} ${r.remoteAddress.padEnd(15)} ` +
      `${String(r.remotePort).padEnd(5)} ${String(Math.floor(r.txBytes / 1024)).padStart(5)} ` +
      `${String(Math.floor(r.rxBytes / 1024)).padStart(5)} ${r.durationMs.toFixed(2)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
