import { describe, expect, it } from 'vitest';
import {
  CUBIC_ALPHA, CUBIC_BETA, CUBIC_C, Cubic, INITIAL_WINDOW_SEGMENTS, NewReno, createCongestionControl,
  type CongestionControl,
} from '../../../src/transport/tcp/congestion/index.js';

const MSS = 1000;

/**
 * One round trip of a cwnd-limited sender: a full window goes out and comes back as one
 * ACK per `perAck` bytes, spread evenly over the RTT starting at `now`.
 * Returns the time at the end of the round.
 */
function round(cc: CongestionControl, now: number, rtt: number, perAck = MSS): number {
  const window = cc.cwnd;
  const acks = Math.ceil(window / perAck);
  for (let i = 1; i <= acks; i++) {
    const bytes = Math.min(perAck, window - (i - 1) * perAck); // the last ACK covers the rest
    cc.onAck(bytes, now + (rtt * i) / acks, rtt);
  }
  return now + rtt;
}

/** A controller in congestion avoidance at `segments`, as after a loss at that window. */
function inAvoidance(cc: CongestionControl, segments: number): void {
  cc.cwnd = segments * MSS;
  cc.onLoss(0, segments * MSS);
  cc.onRecoveryEnd(0);
}

describe.each([
  ['newreno', (mss: number) => new NewReno(mss)],
  ['cubic', (mss: number) => new Cubic(mss)],
] as const)('%s: shared rules', (name, make) => {
  it('is made by the factory under its name', () => {
    const cc = createCongestionControl(name, MSS);
    expect(cc.name).toBe(name);
    expect(cc).toBeInstanceOf(make(MSS).constructor);
  });

  it('starts with IW10 (RFC 6928) and an infinite ssthresh', () => {
    const cc = make(1460);
    expect(cc.cwnd).toBe(INITIAL_WINDOW_SEGMENTS * 1460);
    expect(cc.ssthresh).toBe(Infinity);
  });

  it('doubles cwnd every round trip in slow start', () => {
    const cc = make(MSS);
    let now = 0;
    const seen = [cc.cwnd / MSS];
    for (let r = 0; r < 5; r++) {
      now = round(cc, now, 50);
      seen.push(cc.cwnd / MSS);
    }
    expect(seen).toEqual([10, 20, 40, 80, 160, 320]);
  });

  it('doubles too when every ACK covers two segments (Linux counts acked bytes, not ACKs)', () => {
    const cc = make(MSS);
    let now = 0;
    for (let r = 0; r < 3; r++) now = round(cc, now, 50, 2 * MSS);
    expect(cc.cwnd).toBe(80 * MSS);
  });

  it('stops slow start at ssthresh and carries the rest of the ACK into avoidance', () => {
    const cc = make(MSS);
    cc.ssthresh = 12 * MSS;
    cc.onAck(5 * MSS, 0, 10); // 10 + 5 segments, capped at 12
    expect(cc.cwnd).toBe(12 * MSS);
    // Now in avoidance: a full window acked grows it by about one segment, not twelve.
    round(cc, 10, 10);
    expect(cc.cwnd).toBeGreaterThanOrEqual(12 * MSS);
    expect(cc.cwnd).toBeLessThanOrEqual(14 * MSS);
  });

  it('on timeout: cwnd = 1 MSS (the loss window) and slow start up to the new ssthresh', () => {
    const cc = make(MSS);
    cc.cwnd = 40 * MSS;
    cc.onTimeout(0, 40 * MSS);
    expect(cc.cwnd).toBe(MSS);
    const ssthresh = cc.ssthresh;
    expect(ssthresh).toBeLessThan(40 * MSS);
    let now = 0;
    const seen: number[] = [];
    for (let r = 0; r < 6; r++) {
      now = round(cc, now, 50);
      seen.push(cc.cwnd / MSS);
    }
    expect(seen.slice(0, 4)).toEqual([2, 4, 8, 16]);
    expect(seen[4]).toBe(Math.min(32, ssthresh / MSS));
  });

  it('holds ssthresh on a second timeout before any new ACK (RFC 5681 §3.1)', () => {
    const cc = make(MSS);
    cc.cwnd = 40 * MSS;
    cc.onTimeout(0, 40 * MSS);
    const first = cc.ssthresh;
    cc.onTimeout(1000, MSS); // the retransmission timed out too: flight is one segment now
    expect(cc.ssthresh).toBe(first);
    expect(cc.cwnd).toBe(MSS);
    // Once new data is acked, a later timeout measures the flight again.
    cc.onAck(MSS, 2000, 50);
    cc.onTimeout(3000, 4 * MSS);
    expect(cc.ssthresh).toBeLessThan(first);
  });

  it('never lets ssthresh, and so cwnd after recovery, fall below 2 MSS', () => {
    const cc = make(MSS);
    cc.cwnd = 2 * MSS;
    cc.onLoss(0, MSS);
    expect(cc.ssthresh).toBe(2 * MSS);
    cc.onRecoveryEnd(0);
    expect(cc.cwnd).toBe(2 * MSS);
  });

  it('deflates cwnd to ssthresh when recovery ends (RFC 6582 §3.2 step 3)', () => {
    const cc = make(MSS);
    cc.cwnd = 30 * MSS;
    cc.onLoss(0, 30 * MSS);
    cc.cwnd = cc.ssthresh + 3 * MSS; // the sender inflates during recovery
    cc.cwnd += 5 * MSS;
    cc.onRecoveryEnd(100);
    expect(cc.cwnd).toBe(cc.ssthresh);
  });

  it('keeps the windows in segments when the MSS changes', () => {
    const cc = make(1460);
    cc.setMss(1000);
    expect(cc.cwnd).toBe(10 * 1000);
    expect(cc.ssthresh).toBe(Infinity);
    cc.cwnd = 30 * 1000;
    cc.onLoss(0, 30 * 1000);
    const segs = cc.ssthresh / 1000;
    cc.setMss(500);
    expect(cc.cwnd).toBe(30 * 500);
    expect(cc.ssthresh).toBe(Math.round(segs) * 500);
  });
});

describe('NewReno', () => {
  it('sets ssthresh = max(FlightSize/2, 2·SMSS) on loss (RFC 5681 eq. 4)', () => {
    const cc = new NewReno(MSS);
    cc.cwnd = 50 * MSS;
    cc.onLoss(0, 40 * MSS); // flight, not cwnd, is what counts
    expect(cc.ssthresh).toBe(20 * MSS);
    cc.onRecoveryEnd(0);
    expect(cc.cwnd).toBe(20 * MSS);
  });

  it('halves the flight on timeout', () => {
    const cc = new NewReno(MSS);
    cc.cwnd = 64 * MSS;
    cc.onTimeout(0, 64 * MSS);
    expect(cc.ssthresh).toBe(32 * MSS);
  });

  it('grows by one MSS per round trip in congestion avoidance', () => {
    const cc = new NewReno(MSS);
    inAvoidance(cc, 40); // ssthresh = cwnd = 20 segments
    expect(cc.cwnd).toBe(20 * MSS);
    let now = 0;
    const seen: number[] = [];
    for (let r = 0; r < 10; r++) {
      now = round(cc, now, 100);
      seen.push(cc.cwnd / MSS);
    }
    expect(seen).toEqual([21, 22, 23, 24, 25, 26, 27, 28, 29, 30]);
  });

  it('counts bytes, not ACKs, in avoidance: one ACK per two segments grows at the same rate', () => {
    const cc = new NewReno(MSS);
    inAvoidance(cc, 40);
    let now = 0;
    for (let r = 0; r < 10; r++) now = round(cc, now, 100, 2 * MSS);
    expect(cc.cwnd).toBe(30 * MSS);
  });

  it('gives MSS·acked/cwnd per ACK, paid in whole segments', () => {
    const cc = new NewReno(MSS);
    inAvoidance(cc, 20); // cwnd 10 segments
    for (let i = 0; i < 9; i++) cc.onAck(MSS, i, 10);
    expect(cc.cwnd).toBe(10 * MSS); // 9/10 of a segment earned
    cc.onAck(MSS, 10, 10);
    expect(cc.cwnd).toBe(11 * MSS);
  });
});

describe('CUBIC', () => {
  /** Runs `seconds` of cwnd-limited round trips at `rtt` ms, sampling (t s since epoch, cwnd segments). */
  function run(cc: Cubic, seconds: number, rtt: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    let now = 0;
    while (now < seconds * 1000) {
      now = round(cc, now, rtt);
      out.push([now / 1000, cc.cwnd / MSS]);
    }
    return out;
  }

  it('sets ssthresh = 0.7·FlightSize and W_max = cwnd on loss', () => {
    const cc = new Cubic(MSS);
    cc.cwnd = 100 * MSS;
    cc.onLoss(0, 100 * MSS);
    expect(cc.ssthresh).toBe(70 * MSS);
    expect(cc.wMax).toBe(100);
    cc.onRecoveryEnd(0);
    expect(cc.cwnd).toBe(70 * MSS);
  });

  it('lowers W_max further on a loss below the last one (fast convergence, §4.7)', () => {
    const cc = new Cubic(MSS);
    cc.cwnd = 100 * MSS;
    cc.onLoss(0, 100 * MSS);
    cc.cwnd = 90 * MSS;
    cc.onLoss(1000, 90 * MSS);
    expect(cc.wMax).toBeCloseTo((90 * (1 + CUBIC_BETA)) / 2, 9); // 76.5
    expect(cc.ssthresh).toBe(63 * MSS);
  });

  it('keeps W_max = cwnd on a lower loss when fast convergence is off', () => {
    const cc = new Cubic(MSS);
    cc.fastConvergence = false;
    cc.cwnd = 100 * MSS;
    cc.onLoss(0, 100 * MSS);
    cc.cwnd = 90 * MSS;
    cc.onLoss(1000, 90 * MSS);
    expect(cc.wMax).toBe(90);
  });

  it('computes K = ∛((W_max − cwnd_epoch)/C) at the start of the epoch', () => {
    const cc = new Cubic(MSS);
    inAvoidance(cc, 100);
    cc.onAck(MSS, 0, 100); // first ACK in avoidance starts the epoch
    expect(cc.k).toBeCloseTo(Math.cbrt((100 - 70) / CUBIC_C), 9); // ∛75 ≈ 4.217 s
    expect(cc.wCubic(cc.k)).toBeCloseTo(100, 9);
    expect(cc.wCubic(0)).toBeCloseTo(70, 9);
  });

  it('follows W(t) = C(t − K)³ + W_max over simulated time (RTT 100 ms)', () => {
    // A window large enough that the Reno estimate never catches up with the cubic.
    const cc = new Cubic(MSS);
    inAvoidance(cc, 1000); // cwnd 700, K = ∛(300/0.4) ≈ 9.09 s
    const k = Math.cbrt(300 / CUBIC_C);
    const samples = run(cc, 14, 100);
    for (const [t, w] of samples) {
      const expected = CUBIC_C * (t - k) ** 3 + 1000;
      // Aiming one RTT ahead, cwnd keeps up with the curve to within 2 whole segments (aiming
      // at W(t) instead would leave it a round trip behind: ~9 segments early in the epoch).
      expect(Math.abs(w - expected)).toBeLessThanOrEqual(2);
    }
    // And it travelled the whole curve: up from 700, along the plateau, and beyond W_max.
    expect(samples[0]![1]).toBeLessThan(720);
    expect(samples.at(-1)![1]).toBeGreaterThan(1040);
  });

  it('hands over to the Reno estimate once Reno would be ahead (RTT 100 ms, small W_max)', () => {
    const cc = new Cubic(MSS);
    inAvoidance(cc, 100); // K ≈ 4.2 s; Reno at α ≈ 0.53/RTT reaches 100 after ≈ 5.7 s, then +1/RTT
    const k = Math.cbrt(30 / CUBIC_C);
    const samples = run(cc, 8, 100);
    const toPrior = Math.ceil(30 / CUBIC_ALPHA);
    for (const [t, w] of samples) {
      const rounds = Math.round(t * 10);
      const reno = 70 + CUBIC_ALPHA * Math.min(rounds, toPrior) + Math.max(0, rounds - toPrior);
      const expected = Math.max(CUBIC_C * (t - k) ** 3 + 100, reno);
      expect(Math.abs(w - expected)).toBeLessThanOrEqual(Math.max(2, 0.03 * expected));
    }
  });

  it('grows concave before K and convex after it', () => {
    const cc = new Cubic(MSS);
    inAvoidance(cc, 200); // W_max 200, cwnd 140, K = ∛150 ≈ 5.3 s
    const samples = run(cc, 11, 100);
    const at = (t: number): number => samples.find(([s]) => s >= t - 1e-9)![1];
    const growth = (from: number): number => at(from + 1) - at(from);
    // Concave: each second adds less than the one before, while approaching W_max.
    expect(growth(0)).toBeGreaterThan(growth(2));
    expect(growth(2)).toBeGreaterThan(growth(4));
    // The plateau: near K the window barely moves and sits at W_max.
    expect(growth(4.8)).toBeLessThanOrEqual(2);
    expect(at(5.3)).toBeGreaterThanOrEqual(197);
    expect(at(5.3)).toBeLessThanOrEqual(203);
    // Convex: each second after K adds more than the one before.
    expect(growth(8)).toBeGreaterThan(growth(6));
    expect(growth(9)).toBeGreaterThan(growth(8));
  });

  it('is Reno-friendly when the RTT is small: follows W_est, not the flat cubic', () => {
    const cc = new Cubic(MSS);
    inAvoidance(cc, 100); // W_max 100, cwnd 70, K ≈ 4.2 s
    const rtt = 5;
    const samples = run(cc, 0.5, rtt); // 100 round trips
    const [t, w] = samples.at(-1)!;
    // A Reno flow with β = 0.7 adds α ≈ 0.53 segments per RTT until it reaches the
    // pre-loss window (100), then 1 per RTT.
    const rounds = Math.round((t * 1000) / rtt);
    const toPrior = Math.ceil(30 / CUBIC_ALPHA); // ≈ 57 rounds
    const reno = 70 + CUBIC_ALPHA * Math.min(rounds, toPrior) + Math.max(0, rounds - toPrior);
    expect(Math.abs(w - reno)).toBeLessThanOrEqual(3);
    // The cubic curve alone would still be far below.
    expect(w).toBeGreaterThan(cc.wCubic(t + rtt / 1000) + 20);
  });

  it('is not Reno-limited at a long RTT: the cubic curve is ahead', () => {
    const cc = new Cubic(MSS);
    inAvoidance(cc, 100);
    const samples = run(cc, 2, 200);
    const [t, w] = samples.at(-1)!;
    const rounds = Math.round((t * 1000) / 200);
    expect(w).toBeGreaterThan(70 + CUBIC_ALPHA * rounds + 5); // well above Reno's 75
  });

  it('starts convex from the current window when there was no loss (K = 0)', () => {
    const cc = new Cubic(MSS);
    cc.ssthresh = 10 * MSS; // e.g. a cached ssthresh: avoidance from the first ACK, no W_max
    cc.onAck(MSS, 0, 100);
    expect(cc.k).toBe(0);
    expect(cc.wCubic(0)).toBeCloseTo(10, 9);
    expect(cc.wCubic(2)).toBeCloseTo(10 + CUBIC_C * 8, 9);
  });

  it('after a timeout, the next epoch starts at the current window with K = 0 (§4.8)', () => {
    const cc = new Cubic(MSS);
    cc.cwnd = 100 * MSS;
    cc.onTimeout(0, 100 * MSS);
    expect(cc.ssthresh).toBe(70 * MSS);
    let now = 0;
    while (cc.cwnd < cc.ssthresh) now = round(cc, now, 100);
    cc.onAck(MSS, now + 1, 100);
    expect(cc.k).toBe(0);
    expect(cc.wMax).toBeCloseTo(cc.wCubic(0), 9);
  });

  it('grows at most 1.5× per round trip even far below the curve', () => {
    const cc = new Cubic(MSS);
    inAvoidance(cc, 1000); // W_max 1000, cwnd 700
    cc.cwnd = 20 * MSS; // e.g. the sender shrank it: far below W_cubic
    cc.ssthresh = 20 * MSS; // and not in slow start
    const before = cc.cwnd;
    round(cc, 0, 100);
    expect(cc.cwnd).toBeLessThanOrEqual(1.5 * before + MSS);
    expect(cc.cwnd).toBeGreaterThan(before);
  });
});
