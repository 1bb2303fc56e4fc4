/**
 * Sequence-number arithmetic (RFC 9293 §3.4).
 *
 * TCP sequence numbers live on a circle of 2^32: after 0xffffffff comes 0. "a is before b"
 * therefore cannot be `a < b`; it means "going forward from a, b is less than half the circle
 * away". The test is the sign of the 32-bit difference, `((a - b) | 0) < 0`, as in gVisor's
 * `seqnum.Value.LessThan` (`int32(v-w) < 0`) and Linux's `before()` (`(__s32)(seq1-seq2) < 0`).
 * It only means something for numbers less than 2^31 apart, which the window rules guarantee:
 * no window, scaled or not, exceeds 2^30 (RFC 7323 §2.3).
 *
 * Every value here is a uint32 held in a `number`: always an integer in [0, 2^32), produced
 * with `>>> 0`, so that values compare with `===` and print as the wire shows them.
 */

/** A TCP sequence number: a uint32 in a `number` (documentation only; no brand, no cost). */
export type Seq = number;

/** True if `a` comes strictly before `b` on the sequence circle. */
export function seqLt(a: Seq, b: Seq): boolean {
  return ((a - b) | 0) < 0;
}

/** True if `a` comes before `b` or is `b`. */
export function seqLe(a: Seq, b: Seq): boolean {
  return ((a - b) | 0) <= 0;
}

/** True if `a` comes strictly after `b`. */
export function seqGt(a: Seq, b: Seq): boolean {
  return ((a - b) | 0) > 0;
}

/** True if `a` comes after `b` or is `b`. */
export function seqGe(a: Seq, b: Seq): boolean {
  return ((a - b) | 0) >= 0;
}

/** `a + n` on the circle; `n` may be negative (`seqAdd(0, -1)` is 0xffffffff). */
export function seqAdd(a: Seq, n: number): Seq {
  return (a + n) >>> 0;
}

/**
 * The signed distance from `b` forward to `a` (a − b) as an int32: positive when `a` is after
 * `b`. `seqDiff(2, 0xfffffffe)` is 4. This is how many bytes lie between two sequence numbers,
 * e.g. `seqDiff(sndNxt, sndUna)` is the data in flight.
 */
export function seqDiff(a: Seq, b: Seq): number {
  return (a - b) | 0;
}

/**
 * True if `start ≤ s < start + size` on the circle: `s` falls in the window of `size` numbers
 * that begins at `start`. An empty window holds nothing. Computed as one unsigned distance,
 * `(s − start) mod 2^32 < size`, so that it stays right when the window straddles 2^32
 * (gVisor `seqnum.Value.InWindow`).
 */
export function seqInWindow(s: Seq, start: Seq, size: number): boolean {
  return ((s - start) >>> 0) < size;
}

/** The later of `a` and `b` on the circle. */
export function seqMax(a: Seq, b: Seq): Seq {
  return seqLt(a, b) ? b : a;
}

/** The earlier of `a` and `b` on the circle. */
export function seqMin(a: Seq, b: Seq): Seq {
  return seqLt(a, b) ? a : b;
}
