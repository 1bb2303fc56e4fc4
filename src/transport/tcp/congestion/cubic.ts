/**
 * CUBIC congestion control (RFC 9438), Linux's default (net/ipv4/tcp_cubic.c).
 *
 * After a loss, CUBIC grows the window as a cubic function of the *time* since the window
 * was last reduced, not of the number of round trips, so that flows with different RTTs
 * converge to similar windows and a long fat pipe refills in seconds rather than hours:
 *
 *   W_cubic(t) = C·(t − K)³ + W_max          (RFC 9438 §4.2, eq. 1; windows in segments, t in s)
 *   K = ∛((W_max − cwnd_epoch) / C)          (eq. 2: the time to climb back to W_max)
 *
 * W_max is the window when the last loss hit. The curve is concave up to K (fast at first,
 * then flattening near W_max, where the last loss happened) and convex after it (probing
 * ever faster for new bandwidth). On each ACK in congestion avoidance the target is
 * W_cubic(t + RTT), the window one round trip ahead, held within [cwnd, 1.5·cwnd], and cwnd
 * moves (target − cwnd)/cwnd segments per acknowledged segment (§4.4, §4.5).
 *
 * Where the RTT is short, Reno would grow faster than the cubic curve, which is flat near
 * W_max. So CUBIC also tracks W_est, the window a Reno flow with CUBIC's β would have
 * (§4.3: +α_cubic segments per window of ACKs, α_cubic = 3(1 − β)/(1 + β) ≈ 0.53 until W_est
 * reaches the pre-loss window, then 1), and uses it whenever it is larger: the
 * "Reno-friendly region".
 *
 * On loss, ssthresh = β·FlightSize with β = 0.7 (§4.6), floored at 2 segments; with fast
 * convergence (§4.7), a loss below the previous W_max means another flow has arrived, and
 * W_max is lowered further, to cwnd·(1 + β)/2, to make room for it.
 *
 * Choices where the RFC leaves room, following Linux:
 * - Slow start is NewReno's (Linux `tcp_slow_start`). HyStart is not implemented: slow start
 *   ends at the first loss.
 * - The RTT in W_cubic(t + RTT) is the minimum RTT seen (Linux `delay_min`) rather than the
 *   smoothed RTT, so queueing delay does not speed growth.
 * - If the window is already at or above W_max when an epoch starts (no loss yet, or the
 *   window grew past it in slow start), the curve starts convex from the current window
 *   (K = 0, origin = cwnd), as Linux's `bictcp_update` does.
 * - After a timeout the next epoch also starts with K = 0 and W_max = cwnd (§4.8; Linux
 *   resets its state on entering Loss).
 * - Not done: Linux restarts the epoch after an idle period (CA_EVENT_TX_START); here the
 *   sender should call onAck only when cwnd-limited, which keeps idle time from counting.
 */
import { rescaleWindow, slowStart } from './newreno.js';
import {
  INITIAL_WINDOW_SEGMENTS, MIN_SSTHRESH_SEGMENTS, type CongestionControl,
} from './types.js';

/** C: the cubic's scaling constant, segments/s³ (RFC 9438 §5.1). */
export const CUBIC_C = 0.4;
/** β_cubic: the multiplicative decrease factor (RFC 9438 §4.6). */
export const CUBIC_BETA = 0.7;
/** α_cubic: Reno-friendly additive increase, segments per RTT (RFC 9438 §4.3). */
export const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

/** CUBIC congestion control (RFC 9438). */
export class Cubic implements CongestionControl {
  readonly name = 'cubic';
  cwnd: number;
  ssthresh = Infinity;
  /** Fast convergence (RFC 9438 §4.7; Linux `fast_convergence`, on by default). */
  fastConvergence = true;

  private mss: number;
  /** W_max: the window before the last reduction, in segments (0: no loss yet). */
  private _wMax = 0;
  /** K: seconds from the epoch start until W_cubic is back at W_max. */
  private _k = 0;
  /** The cubic's plateau: W_max, or the epoch's starting window when that is larger. */
  private origin = 0;
  /** When the current congestion-avoidance epoch began (ms), or -1 if none is running. */
  private epochStart = -1;
  /** W_est: the Reno-friendly estimate, in segments. */
  private wEst = 0;
  /** cwnd just before the last reduction, in segments (§4.3 switches α_cubic there). */
  private cwndPrior = 0;
  /** Least RTT seen, ms (Linux `delay_min`); 0 until a sample. */
  private minRtt = 0;
  /** Growth earned but not yet a whole segment, in bytes. */
  private credit = 0;
  /** The last reduction was a timeout: the next epoch starts with K = 0 (§4.8). */
  private afterTimeout = false;
  /** A timeout happened and no new data has been acked since (RFC 5681 §3.1). */
  private timedOut = false;

  constructor(mss: number) {
    this.mss = mss;
    this.cwnd = INITIAL_WINDOW_SEGMENTS * mss;
  }

  /** W_max in segments (0 before the first loss). */
  get wMax(): number {
    return this._wMax;
  }

  /** K in seconds for the running epoch. */
  get k(): number {
    return this._k;
  }

  /** W_cubic(t) for the running epoch, in segments; `t` in seconds since its start. */
  wCubic(t: number): number {
    const d = t - this._k;
    return CUBIC_C * d * d * d + this.origin;
  }

  onAck(acked: number, now: number, rtt: number | undefined): void {
    this.timedOut = false;
    if (rtt !== undefined && rtt > 0 && (this.minRtt === 0 || rtt < this.minRtt)) this.minRtt = rtt;
    let left = acked;
    if (this.cwnd < this.ssthresh) {
      left = slowStart(this, acked);
      if (left <= 0) return;
    }
    if (this.epochStart < 0) this.startEpoch(now);

    const cwndSeg = this.cwnd / this.mss;
    const t = (now - this.epochStart) / 1000;

    // Reno-friendly estimate (§4.3): +α_cubic per window of acknowledged segments.
    const alpha = this.wEst < this.cwndPrior ? CUBIC_ALPHA : 1;
    this.wEst += (alpha * (left / this.mss)) / cwndSeg;

    if (this.wCubic(t) < this.wEst) {
      // Reno-friendly region: Reno would be ahead, so be at least where Reno would be.
      const est = Math.floor(this.wEst) * this.mss;
      if (est > this.cwnd) this.cwnd = est;
      this.credit = 0;
      return;
    }

    // Concave or convex region (§4.4, §4.5): aim one RTT ahead, at most 1.5·cwnd.
    const target = Math.min(Math.max(this.wCubic(t + this.minRtt / 1000), cwndSeg), 1.5 * cwndSeg);
    this.credit += (left * (target - cwndSeg)) / cwndSeg;
    if (this.credit >= this.mss) {
      const segments = Math.floor(this.credit / this.mss);
      this.credit -= segments * this.mss;
      this.cwnd += segments * this.mss;
    }
  }

  onLoss(_now: number, flight: number): void {
    const cwndSeg = this.cwnd / this.mss;
    // Fast convergence (§4.7): a loss below the last W_max means a new flow is sharing the
    // path; release more bandwidth to it by remembering a lower W_max.
    this._wMax = this.fastConvergence && cwndSeg < this._wMax ? (cwndSeg * (1 + CUBIC_BETA)) / 2 : cwndSeg;
    this.cwndPrior = cwndSeg;
    // Rounded, not floored: 0.7 is inexact in binary, and 90 000 · 0.7 is 62 999.999….
    this.ssthresh = Math.max(Math.round(flight * CUBIC_BETA), MIN_SSTHRESH_SEGMENTS * this.mss);
    this.epochStart = -1;
    this.credit = 0;
  }

  onTimeout(now: number, flight: number): void {
    if (!this.timedOut) this.onLoss(now, flight);
    this.timedOut = true;
    this.afterTimeout = true;
    this.cwnd = this.mss;
    this.epochStart = -1;
    this.credit = 0;
  }

  onRecoveryEnd(_now: number): void {
    this.cwnd = this.ssthresh;
    this.epochStart = -1; // the epoch starts with the first ACK in congestion avoidance
    this.credit = 0;
  }

  setMss(mss: number): void {
    this.cwnd = rescaleWindow(this.cwnd, this.mss, mss, 1);
    this.ssthresh = rescaleWindow(this.ssthresh, this.mss, mss, MIN_SSTHRESH_SEGMENTS);
    this.credit = 0;
    this.mss = mss;
  }

  /** A congestion-avoidance epoch begins at `now` with the current window as cwnd_epoch. */
  private startEpoch(now: number): void {
    const cwndSeg = this.cwnd / this.mss;
    this.epochStart = now;
    if (this.afterTimeout) {
      this._wMax = cwndSeg;
      this.afterTimeout = false;
    }
    if (this._wMax <= cwndSeg) {
      this._k = 0;
      this.origin = cwndSeg;
    } else {
      this._k = Math.cbrt((this._wMax - cwndSeg) / CUBIC_C);
      this.origin = this._wMax;
    }
    this.wEst = cwndSeg;
    this.credit = 0;
  }
}
