/**
 * The contract between the TCP sender and a congestion control algorithm.
 *
 * The sender owns loss detection and recovery (dupacks/SACK, RFC 6582 and RFC 6675, and the
 * RTO); the algorithm owns only the two numbers that bound sending, `cwnd` and `ssthresh`,
 * and how they move on the events below. That is the split of Linux's
 * `struct tcp_congestion_ops` (`cong_avoid`, `ssthresh`, `undo_cwnd`…) and of gVisor's
 * `congestionControl` interface (snd.go), and it lets NewReno and CUBIC share one sender.
 *
 * Windows are in bytes. The sender may write `cwnd` itself during recovery (RFC 6582 §3.2:
 * cwnd = ssthresh + 3·SMSS on entering fast recovery, inflated per dupack); the algorithm
 * reads `cwnd` afresh on every event and keeps no copy of it.
 */
export interface CongestionControl {
  /** The algorithm's name, as given to `createCongestionControl` ('newreno' is Linux's 'reno'). */
  readonly name: string;
  /** Congestion window, in bytes: at most this much unacknowledged data in flight. */
  cwnd: number;
  /** Slow-start threshold, in bytes; `Infinity` until the first loss (RFC 5681 §3.1). */
  ssthresh: number;
  /**
   * `acked` new bytes were cumulatively acknowledged outside loss recovery, at `now` (ms);
   * `rtt` is the RTT sample this ACK gave (ms), if any. Call it only when the sender was
   * limited by cwnd in the last round (Linux `tcp_is_cwnd_limited`, RFC 7661): a window the
   * application never filled has not been tested, and should not grow.
   */
  onAck(acked: number, now: number, rtt: number | undefined): void;
  /**
   * Loss detected by dupacks or SACK, with `flight` bytes in flight: set `ssthresh` and
   * remember what the algorithm needs. The sender then sets `cwnd` for recovery
   * (RFC 6582 / RFC 6675), and calls {@link onRecoveryEnd} when recovery is over.
   */
  onLoss(now: number, flight: number): void;
  /**
   * The retransmission timer expired: `ssthresh` as for a loss, `cwnd` = 1 MSS (RFC 5681
   * §3.1, the loss window), then slow start again. A second timeout before any new data is
   * acknowledged keeps `ssthresh` (RFC 5681 §3.1: when a segment is retransmitted by the
   * timer again, "the value of ssthresh is held constant"; Linux does the same in
   * `tcp_enter_loss`), since `flight` then no longer measures the path.
   */
  onTimeout(now: number, flight: number): void;
  /** Fast recovery ended (a full ACK): `cwnd` = `ssthresh`, the "deflate" of RFC 6582 §3.2 step 3. */
  onRecoveryEnd(now: number): void;
  /**
   * The MSS changed (negotiation, path MTU discovery): windows keep their size in segments,
   * since that is what the algorithms reason in (Linux keeps `snd_cwnd` in packets).
   */
  setMss(mss: number): void;
}

/** The algorithms available. */
export type CongestionControlName = 'newreno' | 'cubic';

/**
 * Initial window, in segments: 10 (RFC 6928, Linux TCP_INIT_CWND). RFC 6928 caps it at
 * 14600 bytes for large MSSs; Linux does not, and neither do we.
 */
export const INITIAL_WINDOW_SEGMENTS = 10;

/** The least ssthresh (and so the least cwnd after recovery): 2 segments (RFC 5681 eq. 4). */
export const MIN_SSTHRESH_SEGMENTS = 2;
