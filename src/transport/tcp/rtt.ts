/**
 * The retransmission timeout (RFC 6298), with Linux's bounds.
 *
 * From round-trip samples R the estimator keeps a smoothed RTT and its mean deviation
 * (RFC 6298 §2):
 *
 *   first sample:  SRTT = R,  RTTVAR = R/2
 *   then:          RTTVAR = (1 − β)·RTTVAR + β·|SRTT − R|,  SRTT = (1 − α)·SRTT + α·R
 *                  (α = 1/8, β = 1/4; RTTVAR is updated first, from the old SRTT)
 *   RTO = SRTT + max(G, 4·RTTVAR), clamped to [minRto, maxRto]
 *
 * with clock granularity G = 1 ms (our clock is in milliseconds). Before any sample the RTO
 * is `initialRto`, 1 s (RFC 6298 §2.1, Linux TCP_TIMEOUT_INIT).
 *
 * The bounds are Linux's rather than the RFC's: the RFC asks for at least 1 s (§2.4) and
 * allows a maximum of 60 s or more; Linux uses TCP_RTO_MIN = 200 ms and TCP_RTO_MAX = 120 s,
 * and so does everything the stack talks to in practice. (Linux applies its minimum to the
 * variance term, RTO ≈ SRTT + max(200 ms, 4·RTTVAR); we clamp the whole RTO as the RFC
 * describes, which differs only while SRTT is small.)
 *
 * **Karn's algorithm is the caller's job** (RFC 6298 §3): a segment that was retransmitted
 * gives no sample, because its ACK may answer either transmission. Only when the timestamp
 * option (RFC 7323 §4) tells which transmission is acked may such a segment be sampled.
 * Likewise the caller keeps the backed-off RTO for the next segment until an ACK of new data
 * arrives (§5.5 and Karn), then calls `resetBackoff()` or takes a sample.
 */

/** Knobs of {@link RttEstimator}, in milliseconds. */
export interface RttOptions {
  /** RTO before the first sample (RFC 6298 §2.1: 1 s; Linux TCP_TIMEOUT_INIT). */
  initialRto?: number;
  /** Lower bound of the RTO (Linux TCP_RTO_MIN, 200 ms; RFC 6298 §2.4 says 1 s). */
  minRto?: number;
  /** Upper bound of the RTO, with back-off (Linux TCP_RTO_MAX, 120 s). */
  maxRto?: number;
}

/** Clock granularity G of RFC 6298 §2, in ms. */
const GRANULARITY_MS = 1;

/**
 * RTO after a SYN (or SYN-ACK) was retransmitted and no RTT was measured (RFC 6298 §5.7;
 * Linux TCP_TIMEOUT_FALLBACK).
 */
export const SYN_FALLBACK_RTO_MS = 3_000;

/** SRTT, RTTVAR and the RTO of one connection (RFC 6298). All values in milliseconds. */
export class RttEstimator {
  private readonly initialRto: number;
  private readonly minRto: number;
  private readonly maxRto: number;
  private _srtt = 0;
  private _rttvar = 0;
  private _rto: number;
  private _backoffs = 0;
  private _minRtt = Infinity;
  /** The RTO while there is no sample: initialRto, or 3 s after a retransmitted handshake (§5.7). */
  private noSampleRto: number;

  constructor(opts: RttOptions = {}) {
    this.initialRto = opts.initialRto ?? 1_000;
    this.minRto = opts.minRto ?? 200;
    this.maxRto = opts.maxRto ?? 120_000;
    this.noSampleRto = this.initialRto;
    this._rto = this.initialRto;
  }

  /** Smoothed RTT; 0 until the first sample. */
  get srtt(): number {
    return this._srtt;
  }

  /** RTT variation (mean deviation); 0 until the first sample. */
  get rttvar(): number {
    return this._rttvar;
  }

  /** The smallest sample taken (Linux keeps a windowed minimum; this is the connection's); Infinity before any. */
  get minRtt(): number {
    return this._minRtt;
  }

  /** The retransmission timeout to arm now, back-off included. */
  get rto(): number {
    return this._rto;
  }

  /**
   * How many times the timer has backed off since the last new ACK (Linux `icsk_backoff`):
   * the retransmission count the give-up limits (`tcp_retries2`) are measured against.
   */
  get backoffs(): number {
    return this._backoffs;
  }

  /** True once a sample has been taken. */
  get hasSample(): boolean {
    return this._srtt > 0;
  }

  /**
   * Takes one RTT measurement `rttMs` (> 0; the caller has applied Karn's rule). A valid
   * sample means new data was acked, so any back-off ends: the RTO is recomputed from the
   * estimate, as Linux does on the ACK that gave the sample.
   */
  sample(rttMs: number): void {
    // A zero RTT (same virtual tick) would make SRTT read as "no sample"; a tick is the floor.
    const r = Math.max(rttMs, GRANULARITY_MS);
    if (r < this._minRtt) this._minRtt = r;
    if (this._srtt === 0) {
      this._srtt = r;
      this._rttvar = r / 2;
    } else {
      this._rttvar = 0.75 * this._rttvar + 0.25 * Math.abs(this._srtt - r);
      this._srtt = 0.875 * this._srtt + 0.125 * r;
    }
    this._backoffs = 0;
    this._rto = this.baseRto();
  }

  /**
   * The timer expired: double the RTO, up to `maxRto` (RFC 6298 §5.5, "back off the timer").
   * Counts the back-off even once the cap is reached, so that `backoffs` keeps counting
   * retransmissions.
   */
  backoff(): void {
    this._backoffs++;
    this._rto = Math.min(this._rto * 2, this.maxRto);
  }

  /**
   * An ACK of new data ended the back-off without a sample (e.g. it acked a retransmitted
   * segment): the RTO is computed again from SRTT and RTTVAR, or is `initialRto` if there is
   * no sample yet.
   */
  resetBackoff(): void {
    this._backoffs = 0;
    this._rto = this.baseRto();
  }

  /**
   * RFC 6298 §5.7: when the SYN or SYN-ACK had to be retransmitted and no RTT sample was
   * taken, the RTO for data is at least 3 s (Linux TCP_TIMEOUT_FALLBACK). Call when the
   * connection becomes established.
   */
  synFallback(): void {
    if (this.hasSample) return;
    this.noSampleRto = Math.min(SYN_FALLBACK_RTO_MS, this.maxRto);
    this._backoffs = 0;
    this._rto = this.baseRto();
  }

  /** The RTO to arm now (the same as `rto`). */
  currentRto(): number {
    return this._rto;
  }

  /** RTO from the estimate, without back-off, clamped to [minRto, maxRto]. */
  private baseRto(): number {
    if (this._srtt === 0) return this.noSampleRto;
    const rto = this._srtt + Math.max(GRANULARITY_MS, 4 * this._rttvar);
    return Math.min(Math.max(rto, this.minRto), this.maxRto);
  }
}
