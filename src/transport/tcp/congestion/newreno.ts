/**
 * NewReno's window rules (RFC 5681 §3.1, RFC 6582), as Linux's "reno" applies them
 * (net/ipv4/tcp_cong.c), plus the slow start that CUBIC shares.
 *
 * - **Slow start** (cwnd < ssthresh): cwnd grows by the bytes each ACK acknowledges, so it
 *   doubles every round trip, but never past ssthresh; what is left of the ACK goes to
 *   congestion avoidance. This is Linux's `tcp_slow_start`. RFC 5681 would grow by at most
 *   one SMSS per ACK, and RFC 3465 by at most two; Linux counts every acknowledged segment,
 *   so a stretch ACK (or a delayed ACK covering two segments) does not slow the doubling.
 * - **Congestion avoidance**: cwnd grows by SMSS·acked/cwnd per ACK on average, one SMSS
 *   per window's worth of acknowledged bytes: appropriate byte counting (RFC 3465 §2.1,
 *   RFC 5681 §3.1), which Linux does in segments with `snd_cwnd_cnt` (`tcp_cong_avoid_ai`).
 *   cwnd grows a whole segment at a time.
 * - **On loss**: ssthresh = max(FlightSize / 2, 2·SMSS) (RFC 5681 eq. 4). Linux halves
 *   cwnd instead of the flight; the RFC's flight is the safer measure when the application
 *   left the window unfilled.
 */
import {
  INITIAL_WINDOW_SEGMENTS, MIN_SSTHRESH_SEGMENTS, type CongestionControl,
} from './types.js';

/**
 * Slow start on `acked` bytes (Linux `tcp_slow_start`): cwnd += acked, capped at ssthresh.
 * @returns the bytes left over for congestion avoidance (0 while still in slow start).
 */
export function slowStart(cc: CongestionControl, acked: number): number {
  const grown = Math.min(cc.cwnd + acked, cc.ssthresh);
  const left = acked - (grown - cc.cwnd);
  cc.cwnd = grown;
  return left;
}

/** A window of `bytes` measured in segments of `oldMss`, re-expressed in `newMss` (≥ `min` segments). */
export function rescaleWindow(bytes: number, oldMss: number, newMss: number, min: number): number {
  if (bytes === Infinity) return Infinity;
  return Math.max(min, Math.round(bytes / oldMss)) * newMss;
}

/** NewReno congestion control (RFC 5681, RFC 6582 window rules; Linux "reno"). */
export class NewReno implements CongestionControl {
  readonly name = 'newreno';
  cwnd: number;
  ssthresh = Infinity;
  private mss: number;
  /** Bytes acknowledged in congestion avoidance since cwnd last grew (RFC 3465 `bytes_acked`). */
  private bytesAcked = 0;
  /** A timeout happened and no new data has been acked since (RFC 5681 §3.1). */
  private timedOut = false;

  constructor(mss: number) {
    this.mss = mss;
    this.cwnd = INITIAL_WINDOW_SEGMENTS * mss;
  }

  onAck(acked: number, _now: number, _rtt: number | undefined): void {
    this.timedOut = false;
    let left = acked;
    if (this.cwnd < this.ssthresh) {
      left = slowStart(this, acked);
      if (left <= 0) return;
    }
    // One SMSS per cwnd of acknowledged bytes (Linux tcp_cong_avoid_ai, in bytes): integer
    // bookkeeping, so that no rounding loses a segment.
    this.bytesAcked += left;
    if (this.bytesAcked >= this.cwnd) {
      const segments = Math.floor(this.bytesAcked / this.cwnd);
      this.bytesAcked -= segments * this.cwnd;
      this.cwnd += segments * this.mss;
    }
  }

  onLoss(_now: number, flight: number): void {
    this.ssthresh = Math.max(Math.floor(flight / 2), MIN_SSTHRESH_SEGMENTS * this.mss);
    this.bytesAcked = 0;
  }

  onTimeout(now: number, flight: number): void {
    if (!this.timedOut) this.onLoss(now, flight);
    this.timedOut = true;
    this.cwnd = this.mss;
    this.bytesAcked = 0;
  }

  onRecoveryEnd(_now: number): void {
    this.cwnd = this.ssthresh;
    this.bytesAcked = 0;
  }

  setMss(mss: number): void {
    this.cwnd = rescaleWindow(this.cwnd, this.mss, mss, 1);
    this.ssthresh = rescaleWindow(this.ssthresh, this.mss, mss, MIN_SSTHRESH_SEGMENTS);
    this.bytesAcked = 0;
    this.mss = mss;
  }
}
