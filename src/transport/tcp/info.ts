/**
 * A TCP connection seen from outside: `tcpInfo` reads a TCB into the shape of Linux's
 * `struct tcp_info` (what `getsockopt(TCP_INFO)` returns and `ss -i` prints), the row
 * builders make `ss` rows of connections and listeners, and `LifeLog` keeps the
 * `tcplife` record of each closed connection.
 *
 * Nothing here runs per packet: the counters it reads are plain fields of the TCB that
 * output.ts (sent), input.ts (received), snd.ts (acknowledged) and rcv.ts (in order)
 * bump as segments pass.
 */
import { TCPI_OPT_SACK, TCPI_OPT_TIMESTAMPS, TCPI_OPT_WSCALE, type SocketRow, type SocketTimer } from '../../core/ss.js';
import { formatIp, isIpv4 } from '../../wire/addr.js';
import { receiveWindow } from './rcv.js';
import { seqAdd, seqDiff, seqGt, seqLt } from './seq.js';
import { pipe } from './snd.js';
import { TcpState, stateName, type Tcb } from './tcb.js';
import type { Listener } from './tcp.js';

/** `tcpi_ca_state` values (Linux `enum tcp_ca_state`). */
export const TcpCaState = { OPEN: 0, DISORDER: 1, CWR: 2, RECOVERY: 3, LOSS: 4 } as const;

/** What `tcpi_snd_ssthresh` says before the first loss (Linux TCP_INFINITE_SSTHRESH). */
export const TCP_INFINITE_SSTHRESH = 0x7fff_ffff;

/**
 * One connection's state and statistics, field for field after Linux's `struct tcp_info`
 * without the `tcpi_` prefix, in Linux's units: times in µs (`rto`, `ato`, `rtt`, `rttvar`,
 * `min_rtt`) except the `last_*` ages in ms; windows in segments (`snd_cwnd`,
 * `snd_ssthresh`) except `snd_wnd`/`rcv_wnd` in bytes; rates in bytes per second.
 * Fields Linux lacks start with `x_`, as our drop reasons do.
 */
export interface TcpInfo {
  /** The state, numbered as Linux's (`TcpState`: 1 ESTABLISHED … 11 CLOSING). */
  state: number;
  /** Loss-recovery state (`TcpCaState`): Open, Disorder (dupacks or SACKs seen), Recovery, Loss (after an RTO). */
  ca_state: number;
  /** Consecutive retransmission timeouts (or SYN retransmissions) without progress. */
  retransmits: number;
  /** Zero-window or keepalive probes sent without an answer. */
  probes: number;
  /** How many times the RTO has doubled since the last new ACK. */
  backoff: number;
  /** Options agreed in the handshake (`TCPI_OPT_*` bits). */
  options: number;
  /** Window scale shifts: the peer's (applied to its windows) and ours. */
  snd_wscale: number;
  rcv_wscale: number;
  /** Retransmission timeout, back-off included, µs. */
  rto: number;
  /** Delayed-ACK timeout, µs. */
  ato: number;
  /** Largest segment we send, and the largest the peer has sent us (bytes of payload). */
  snd_mss: number;
  rcv_mss: number;
  /** Segments sent and not acknowledged (Linux packets_out). */
  unacked: number;
  /** Of those, SACKed (without SACK: one per duplicate ACK, as Linux counts for Reno). */
  sacked: number;
  /** Of those, deemed lost (RFC 6675 IsLost in recovery; everything after an RTO). */
  lost: number;
  /** Of those, retransmitted and not yet acknowledged. */
  retrans: number;
  /** Milliseconds since data was last sent, data last arrived, and an ACK last arrived. */
  last_data_sent: number;
  last_data_recv: number;
  last_ack_recv: number;
  /** Smoothed RTT and its mean deviation (RFC 6298), µs; 0 before the first sample. */
  rtt: number;
  rttvar: number;
  /** Slow-start threshold in segments, `TCP_INFINITE_SSTHRESH` before the first loss. */
  snd_ssthresh: number;
  /** Congestion window in segments: whole segments the window in bytes holds. */
  snd_cwnd: number;
  /** The MSS we advertised. */
  advmss: number;
  /** Duplicate ACKs that signal a loss (fixed: tcp_reordering's default, 3). */
  reordering: number;
  /** Receive space: without buffer autotuning, the whole receive buffer. */
  rcv_space: number;
  /** Segments retransmitted over the connection's life. */
  total_retrans: number;
  /** Payload bytes acknowledged by the peer (RFC 4898 ThruOctetsAcked; Linux adds one for the SYN). */
  bytes_acked: number;
  /** Payload bytes received in order (RFC 4898 ThruOctetsReceived; Linux adds one for the FIN). */
  bytes_received: number;
  /** Segments sent and received, pure ACKs and retransmissions included. */
  segs_out: number;
  segs_in: number;
  /** Bytes the application wrote that have not been sent yet. */
  notsent_bytes: number;
  /** Smallest RTT sample of the connection, µs; 0 before the first. */
  min_rtt: number;
  /** Segments carrying payload, received and sent (retransmissions included). */
  data_segs_in: number;
  data_segs_out: number;
  /** Bytes acknowledged per second over the last RTT or more (0 until measured). */
  delivery_rate: number;
  /** Payload bytes put on the wire, retransmissions included, and the retransmitted part. */
  bytes_sent: number;
  bytes_retrans: number;
  /** The peer's window, and the window we last offered, in bytes. */
  snd_wnd: number;
  rcv_wnd: number;
  /** SACK blocks that arrived in the peer's ACKs. */
  x_sack_blocks_seen: number;
}

/** Reads `tcb` as Linux's `struct tcp_info`, at time `now` (ms on the stack's clock). */
export function tcpInfo(tcb: Tcb, now: number): TcpInfo {
  const mss = tcb.mss;
  const segs = (bytes: number): number => Math.ceil(bytes / mss);
  const cc = tcb.cc;
  const rtt = tcb.rtt;
  const caState = caStateOf(tcb);
  const unacked = segs(tcb.flight);
  const sacked = tcb.sackOk ? segs(sackedBytes(tcb)) : tcb.dupAcks;
  let retrans = 0;
  let lost = 0;
  if (caState === TcpCaState.LOSS) {
    // An RTO deems everything outstanding lost (Linux tcp_enter_loss); what was resent since is `retrans`.
    retrans = segs(Math.max(0, seqDiff(tcb.sndNxt, tcb.sndUna)));
    lost = Math.max(0, unacked - sacked);
  } else if (caState === TcpCaState.RECOVERY) {
    retrans = segs(Math.max(0, seqDiff(tcb.rtxHigh, tcb.sndUna) - sackedBytesBelow(tcb, tcb.rtxHigh)));
    // Linux's identity: in flight = unacked − (sacked + lost) + retrans, the flight being RFC 6675's pipe.
    lost = Math.max(0, unacked - sacked + retrans - segs(pipe(tcb)));
  }
  const bufEnd = seqAdd(tcb.sndBufSeq, tcb.sndBuf.length);
  return {
    state: tcb.state,
    ca_state: caState,
    retransmits: tcb.retransmits,
    probes: tcb.probes,
    backoff: rtt.backoffs,
    options: (tcb.tsOk ? TCPI_OPT_TIMESTAMPS : 0) | (tcb.sackOk ? TCPI_OPT_SACK : 0) |
      // We keep no flag of its own: a non-zero shift either way means it was agreed.
      (tcb.sndWscale > 0 || tcb.rcvWscale > 0 ? TCPI_OPT_WSCALE : 0),
    snd_wscale: tcb.sndWscale,
    rcv_wscale: tcb.rcvWscale,
    rto: us(rtt.rto),
    ato: us(tcb.ato),
    snd_mss: mss,
    rcv_mss: tcb.rcvMss,
    unacked,
    sacked,
    lost,
    retrans,
    // Whole milliseconds, as Linux's u32 fields.
    last_data_sent: Math.floor(now - tcb.lastDataSentAt),
    last_data_recv: Math.floor(now - tcb.lastDataRecvAt),
    last_ack_recv: Math.floor(now - tcb.lastAckRecvAt),
    rtt: us(rtt.srtt),
    rttvar: us(rtt.rttvar),
    snd_ssthresh: cc.ssthresh === Infinity ? TCP_INFINITE_SSTHRESH : Math.floor(cc.ssthresh / mss),
    snd_cwnd: Math.floor(cc.cwnd / mss),
    advmss: tcb.advMss,
    reordering: 3,
    rcv_space: tcb.rcvBufLimit,
    total_retrans: tcb.totalRetrans,
    bytes_acked: tcb.bytesAcked,
    bytes_received: tcb.bytesReceived,
    segs_out: tcb.segsOut,
    segs_in: tcb.segsIn,
    notsent_bytes: Math.max(0, seqDiff(bufEnd, tcb.sndMax)),
    min_rtt: rtt.minRtt === Infinity ? 0 : us(rtt.minRtt),
    data_segs_in: tcb.dataSegsIn,
    data_segs_out: tcb.dataSegsOut,
    delivery_rate: Math.round(tcb.deliveryRate),
    bytes_sent: tcb.bytesSent,
    bytes_retrans: tcb.bytesRetrans,
    snd_wnd: tcb.sndWnd,
    rcv_wnd: receiveWindow(tcb),
    x_sack_blocks_seen: tcb.sackBlocksSeen,
  };
}

function us(ms: number): number {
  return Math.round(ms * 1000);
}

function caStateOf(tcb: Tcb): number {
  if (tcb.inRecovery) return TcpCaState.RECOVERY;
  // After an RTO snd.nxt went back to snd.una: until it is past snd.max again, Loss.
  if (tcb.retransmits > 0 || seqLt(tcb.sndNxt, tcb.sndMax)) return TcpCaState.LOSS;
  if (tcb.dupAcks > 0 || tcb.sacked.length > 0) return TcpCaState.DISORDER;
  return TcpCaState.OPEN;
}

function sackedBytes(tcb: Tcb): number {
  let n = 0;
  for (let i = 0; i < tcb.sacked.length; i += 2) n += seqDiff(tcb.sacked[i + 1]!, tcb.sacked[i]!);
  return n;
}

/** SACKed bytes below `limit`. */
function sackedBytesBelow(tcb: Tcb, limit: number): number {
  let n = 0;
  for (let i = 0; i < tcb.sacked.length; i += 2) {
    const l = tcb.sacked[i]!;
    if (!seqLt(l, limit)) break;
    const r = tcb.sacked[i + 1]!;
    n += seqDiff(seqGt(r, limit) ? limit : r, l);
  }
  return n;
}

// ── ss rows ─────────────────────────────────────────────────────────────────

/** `ss`'s names for the states (iproute2 misc/ss.c `sstate_name`). */
const SS_STATE: Record<number, string> = {
  [TcpState.ESTABLISHED]: 'ESTAB',
  [TcpState.SYN_SENT]: 'SYN-SENT',
  [TcpState.SYN_RECEIVED]: 'SYN-RECV',
  [TcpState.FIN_WAIT_1]: 'FIN-WAIT-1',
  [TcpState.FIN_WAIT_2]: 'FIN-WAIT-2',
  [TcpState.TIME_WAIT]: 'TIME-WAIT',
  [TcpState.CLOSED]: 'UNCONN',
  [TcpState.CLOSE_WAIT]: 'CLOSE-WAIT',
  [TcpState.LAST_ACK]: 'LAST-ACK',
  [TcpState.LISTEN]: 'LISTEN',
  [TcpState.CLOSING]: 'CLOSING',
};

/**
 * A connection as `ss` lists it: Recv-Q is what the application has not read, Send-Q what
 * the peer has not acknowledged (sent or not), as Linux reports them for a connected socket.
 */
export function connectionRow(tcb: Tcb, now: number): SocketRow {
  const row: SocketRow = {
    netid: 'tcp',
    state: SS_STATE[tcb.state] ?? stateName(tcb.state),
    recvQ: tcb.rcvBuf.length,
    sendQ: tcb.sndBuf.length,
    localAddress: formatIp(tcb.localAddr),
    localPort: tcb.localPort,
    remoteAddress: formatIp(tcb.remoteAddr),
    remotePort: tcb.remotePort,
    congestion: tcb.cc.name === 'newreno' ? 'reno' : tcb.cc.name,
    info: tcpInfo(tcb, now),
  };
  const timer = timerOf(tcb, now);
  if (timer !== undefined) row.timer = timer;
  return row;
}

/** A listener as `ss` lists it: Recv-Q is the accept queue, Send-Q the backlog it may reach. */
export function listenerRow(l: Listener): SocketRow {
  return {
    netid: 'tcp',
    state: 'LISTEN',
    recvQ: l.acceptQueue.length,
    sendQ: l.backlog,
    localAddress: formatIp(l.localAddr),
    localPort: l.localPort,
    remoteAddress: isIpv4(l.localAddr) ? '0.0.0.0' : '::',
    remotePort: 0,
  };
}

/**
 * The timer `ss -o` shows, chosen as Linux's inet_diag does: the retransmission timer
 * (`on`) first, then the zero-window probe (`persist`), then `keepalive`; a TIME-WAIT (or
 * an orphaned FIN-WAIT-2, which Linux also hands to a timewait socket) shows `timewait`.
 * The delayed-ACK timer is never shown.
 */
function timerOf(tcb: Tcb, now: number): SocketTimer | undefined {
  const left = (at: number): number => Math.max(0, Math.round(at - now));
  if (tcb.closeAt !== Infinity) return { name: 'timewait', expiresMs: left(tcb.closeAt), retrans: 0 };
  if (tcb.rtoAt !== Infinity) return { name: 'on', expiresMs: left(tcb.rtoAt), retrans: tcb.retransmits };
  if (tcb.persistAt !== Infinity) return { name: 'persist', expiresMs: left(tcb.persistAt), retrans: tcb.probes };
  if (tcb.keepaliveAt !== Infinity) return { name: 'keepalive', expiresMs: left(tcb.keepaliveAt), retrans: tcb.probes };
  return undefined;
}

// ── the tcplife log ─────────────────────────────────────────────────────────

/**
 * One connection's life, recorded when it closes (as bcc's `tcplife`, which reads the same
 * numbers from the kernel at the move to CLOSE). An active close is recorded when it
 * enters TIME-WAIT, where Linux's socket closes and a timewait mini-socket takes over.
 */
export interface LifeRecord {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** When the connection began (its SYN sent or received), ms on the stack's clock. */
  startMs: number;
  /** From the SYN to the close, in ms. */
  durationMs: number;
  /** Payload bytes the peer acknowledged (`bytes_acked`), and payload bytes received (`bytes_received`). */
  txBytes: number;
  rxBytes: number;
  /** The state it closed from, as the RFC spells it: `TIME-WAIT` after an active close, `LAST-ACK` after a passive one. */
  state: string;
  /** The errno code it ended with (ECONNRESET, ECONNREFUSED, ETIMEDOUT…), or null after a clean close. */
  error: string | null;
}

/** How many closed connections the tcplife log keeps. */
export const TCP_LIFE_RECORDS = 1000;

/** The tcplife log: a ring of the last `capacity` closed connections. */
export class LifeLog {
  private readonly records: LifeRecord[] = [];
  /** The slot the next record goes to once the ring is full (the oldest record). */
  private next = 0;

  constructor(readonly capacity: number) {}

  /** Records `tcb`'s life as it closes at `now`, from the state it is in. */
  record(tcb: Tcb, error: string | null, now: number): void {
    if (this.capacity <= 0) return;
    const rec: LifeRecord = {
      localAddress: formatIp(tcb.localAddr),
      localPort: tcb.localPort,
      remoteAddress: formatIp(tcb.remoteAddr),
      remotePort: tcb.remotePort,
      startMs: tcb.createdAt,
      durationMs: now - tcb.createdAt,
      txBytes: tcb.bytesAcked,
      rxBytes: tcb.bytesReceived,
      state: stateName(tcb.state),
      error,
    };
    if (this.records.length < this.capacity) {
      this.records.push(rec);
    } else {
      this.records[this.next] = rec;
      this.next = (this.next + 1) % this.capacity;
    }
  }

  /** The records, oldest first. */
  list(): LifeRecord[] {
    return [...this.records.slice(this.next), ...this.records.slice(0, this.next)];
  }
}
