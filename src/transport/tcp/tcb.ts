/**
 * The Transmission Control Block (RFC 9293 §3.3.1): everything one connection knows.
 * Field names follow the RFC (snd.una → sndUna, rcv.nxt → rcvNxt) so the code reads
 * beside it. The TCB holds state only; input.ts, snd.ts and rcv.ts act on it.
 */
import type { CongestionControl } from './congestion/types.js';
import { ByteQueue } from './buffer.js';
import { OfoQueue } from './reassembly.js';
import { RttEstimator } from './rtt.js';
import { formatEndpoint, type IpAddr } from '../../wire/addr.js';
import type { Seq } from './seq.js';
import type { Listener } from './tcp.js';
import type { Timeline } from './timeline.js';

/** RFC 9293 §3.3.2 states, numbered as Linux's tcp_states.h so tools agree. */
export const TcpState = {
  ESTABLISHED: 1,
  SYN_SENT: 2,
  SYN_RECEIVED: 3,
  FIN_WAIT_1: 4,
  FIN_WAIT_2: 5,
  TIME_WAIT: 6,
  CLOSED: 7,
  CLOSE_WAIT: 8,
  LAST_ACK: 9,
  LISTEN: 10,
  CLOSING: 11,
} as const;
export type TcpState = (typeof TcpState)[keyof typeof TcpState];

const STATE_NAMES: Record<number, string> = {
  1: 'ESTABLISHED', 2: 'SYN-SENT', 3: 'SYN-RECEIVED', 4: 'FIN-WAIT-1', 5: 'FIN-WAIT-2',
  6: 'TIME-WAIT', 7: 'CLOSED', 8: 'CLOSE-WAIT', 9: 'LAST-ACK', 10: 'LISTEN', 11: 'CLOSING',
};

/** The RFC's spelling of a state, e.g. `SYN-RECEIVED`. */
export function stateName(s: TcpState): string {
  return STATE_NAMES[s] ?? String(s);
}

/** States in which the connection is synchronized (RFC 9293 §3.5.2 "synchronized"). */
export function isSynchronized(s: TcpState): boolean {
  return s !== TcpState.SYN_SENT && s !== TcpState.SYN_RECEIVED && s !== TcpState.LISTEN && s !== TcpState.CLOSED;
}

/** What the application is told, after the batch of segments that caused it (like a socket wake-up). */
export interface TcpUser {
  /** The handshake completed. */
  onEstablished(): void;
  /** In-order data, or the peer's FIN, is waiting to be read. */
  onReadable(): void;
  /** Send-buffer space was freed by an ACK. */
  onWritable(): void;
  /** The connection is gone: `error` is an errno code (ECONNRESET, ECONNREFUSED, ETIMEDOUT…) or null after a clean close. */
  onClosed(error: string | null): void;
}

/** Pending notifications for the application (bit set). */
export const Wake = { ESTABLISHED: 1, READABLE: 2, WRITABLE: 4, CLOSED: 8 } as const;

export class Tcb {
  state: TcpState = TcpState.CLOSED;

  // ── send sequence space (RFC 9293 §3.3.1) ───────────────────────────────
  iss: Seq = 0;
  sndUna: Seq = 0;
  sndNxt: Seq = 0;
  /** Highest sequence number sent + 1: snd.nxt goes back to snd.una after an RTO, this does not. */
  sndMax: Seq = 0;
  /** Send window in bytes (already scaled). */
  sndWnd = 0;
  sndWl1: Seq = 0;
  sndWl2: Seq = 0;
  /** Largest window the peer has offered (RFC 1122 §4.2.3.4, RFC 5961 §5.2). */
  maxSndWnd = 0;
  /** End of the last segment smaller than the MSS (Minshall's Nagle, as Linux). */
  sndSml: Seq = 0;

  // ── receive sequence space ──────────────────────────────────────────────
  irs: Seq = 0;
  rcvNxt: Seq = 0;
  /** rcv.nxt when we last sent an ACK (Linux rcv_wup): the left edge of the window the peer knows. */
  rcvWup: Seq = 0;
  /** The right edge of the window we last advertised; never moved left (RFC 9293 §3.8.6.2.2). */
  rcvAdvEdge: Seq = 0;
  /** Our last advertised window was zero. */
  zeroWindow = false;

  // ── options agreed in the handshake ──────────────────────────────────────
  /** Largest segment we send (peer's MSS, less option space). */
  mss = 536;
  /** MSS we advertise (MTU − 40). */
  advMss = 536;
  sndWscale = 0;
  rcvWscale = 0;
  sackOk = false;
  tsOk = false;
  /** TS.Recent (RFC 7323 §4.3) and when it was set. */
  tsRecent = 0;
  tsRecentStamp = 0;
  /** Per-connection offset added to our timestamp clock (Linux randomizes it). */
  tsOffset = 0;

  // ── buffers ──────────────────────────────────────────────────────────────
  /** Written by the application, not yet acknowledged; byte 0 has sequence number `sndBufSeq`. */
  readonly sndBuf = new ByteQueue();
  sndBufSeq: Seq = 0;
  sndBufLimit: number;
  /** The application has no more to send: a FIN follows the last byte. */
  finQueued = false;
  /** In order, not yet read by the application. */
  readonly rcvBuf = new ByteQueue();
  rcvBufLimit: number;
  readonly ofo = new OfoQueue();
  /** Traced packets' data in rcvBuf: [sequence number after it, trace id] pairs. */
  readonly traceMarks: number[] = [];
  /** The peer's FIN has been received (in order). */
  finReceived = false;

  // ── loss recovery and congestion ─────────────────────────────────────────
  readonly rtt: RttEstimator;
  cc: CongestionControl;
  dupAcks = 0;
  inRecovery = false;
  /** snd.max when recovery began: recovery ends when it is acknowledged (RFC 6582 "recover"). */
  recoveryPoint: Seq = 0;
  /** SACKed ranges above snd.una, flat [left, right) pairs in order (RFC 6675 scoreboard). */
  sacked: Seq[] = [];
  /** Retransmissions in this recovery have covered the holes below this point. */
  rtxHigh: Seq = 0;
  /** The head segment must be retransmitted now (fast retransmit, NewReno partial ACK). */
  rtxHeadNow = false;
  /** Karn's RTT timing without timestamps: the segment being timed and when it left. */
  rttSeq: Seq | undefined;
  rttStart = 0;
  /** Consecutive RTO expirations (or SYN / SYN-ACK retransmissions). */
  retransmits = 0;
  /** Zero-window or keepalive probes sent without an answer. */
  probes = 0;

  // ── ACK policy ───────────────────────────────────────────────────────────
  /** An ACK is owed: now (`ackNow`) or by the delayed-ACK timer. */
  ackNow = false;
  ackDelayed = false;
  /** Bytes received since we last sent an ACK. */
  unackedBytes = 0;
  /** Two full segments came in this batch: one ACK after the batch covers them all (Tcp.endOfBatch). */
  ackAtBatchEnd = false;
  /** When we last answered an out-of-window segment (Linux last_oow_ack_time). */
  lastOowAck = -Infinity;
  /** Segments still to be acknowledged at once (Linux quick-ACK mode, at the start of a connection). */
  quickAcks = 16;

  // ── timers: absolute times on the stack's clock, Infinity when off ──────
  rtoAt = Infinity;
  delackAt = Infinity;
  /** Zero-window probe (persist) timer. */
  persistAt = Infinity;
  keepaliveAt = Infinity;
  /** TIME-WAIT, FIN-WAIT-2 of a closed socket, or the end of a half-open request. */
  closeAt = Infinity;
  /** The time this TCB is filed under in the timer heap. */
  scheduledAt = Infinity;

  // ── the application side ────────────────────────────────────────────────
  user: TcpUser | null = null;
  /** The application closed its socket: nobody will read any more (an orphan, in Linux's words). */
  orphan = false;
  noDelay = false;
  keepAlive = false;
  keepaliveIdleMs: number;
  wake = 0;
  /** On the stack's list of TCBs to wake after this batch. */
  wakeQueued = false;
  /** Why the connection ended, once it has. */
  error: string | null = null;
  /** The listener a passive open came through, until accepted. */
  listener: Listener | null = null;
  lastActivity = 0;

  // ── statistics for tcp_info and the tcplife log (info.ts): plain counters ──
  /** When the TCB was created (the SYN sent or received), on the stack's clock. */
  createdAt = 0;
  /** Delayed-ACK timeout in ms (Linux icsk_ack.ato). */
  ato = 40;
  /** Largest segment the peer has sent us, starting from Linux's guess (icsk_ack.rcv_mss). */
  rcvMss = 536;
  /** Segments sent and received, retransmissions and pure ACKs included (tcpi_segs_out/in). */
  segsOut = 0;
  segsIn = 0;
  /** Segments that carried payload (tcpi_data_segs_out/in). */
  dataSegsOut = 0;
  dataSegsIn = 0;
  /** Payload bytes put on the wire, retransmissions included, and the retransmitted part. */
  bytesSent = 0;
  bytesRetrans = 0;
  /** Payload bytes the peer acknowledged, and payload bytes received in order (RFC 4898). */
  bytesAcked = 0;
  bytesReceived = 0;
  /** Segments retransmitted over the connection's life (tcpi_total_retrans). */
  totalRetrans = 0;
  /** SACK blocks that arrived in ACKs, D-SACKs included. */
  sackBlocksSeen = 0;
  /** When data last left, data last arrived, and an acceptable ACK last arrived. */
  lastDataSentAt = 0;
  lastDataRecvAt = 0;
  lastAckRecvAt = 0;
  /**
   * Delivery rate (bytes/s), measured over intervals of at least one RTT: the interval starts
   * at `rateStartAt` with `rateStartAcked` bytes acknowledged, and restarts when data leaves
   * with nothing in flight, so idle time is not counted (as Linux's tcp_rate_skb_sent).
   */
  deliveryRate = 0;
  rateStartAt = 0;
  rateStartAcked = 0;
  /** The next TCB in the table with the same remote end and ports but another local address (table.ts). */
  sameEnds: Tcb | null = null;
  /** The checksum's pseudo-header sum for our addresses, without the length: fixed for the connection. */
  pseudo = 0;
  /** Segments and ACKs for the time-sequence graph, while the stack records them (timeline.ts); null costs one check per segment. */
  timeline: Timeline | null = null;

  constructor(
    readonly localAddr: IpAddr,
    readonly localPort: number,
    readonly remoteAddr: IpAddr,
    readonly remotePort: number,
    opts: { rmem: number; wmem: number; keepaliveIdleMs: number; rtt: RttEstimator; cc: CongestionControl },
  ) {
    this.rcvBufLimit = opts.rmem;
    this.sndBufLimit = opts.wmem;
    this.keepaliveIdleMs = opts.keepaliveIdleMs;
    this.rtt = opts.rtt;
    this.cc = opts.cc;
  }

  /** Bytes sent and not yet acknowledged. */
  get flight(): number {
    return (this.sndMax - this.sndUna) >>> 0;
  }

  /** Sequence number of our FIN (meaningful once `finQueued`). */
  get finSeq(): Seq {
    return (this.sndBufSeq + this.sndBuf.length) >>> 0;
  }

  /** As a trace or capture names it: `tcp 192.168.69.2:80 < 192.168.69.1:41234`. */
  describe(): string {
    return `tcp ${formatEndpoint(this.localAddr, this.localPort)} < ${formatEndpoint(this.remoteAddr, this.remotePort)}`;
  }

  /** Earliest of the TCB's timers. */
  nextTimer(): number {
    return Math.min(this.rtoAt, this.delackAt, this.persistAt, this.keepaliveAt, this.closeAt);
  }
}
