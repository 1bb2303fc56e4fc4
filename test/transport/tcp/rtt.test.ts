import { describe, expect, it } from 'vitest';
import { RttEstimator, SYN_FALLBACK_RTO_MS } from '../../../src/transport/tcp/rtt.js';

describe('RttEstimator (RFC 6298)', () => {
  it('starts at the initial RTO with no estimate', () => {
    const e = new RttEstimator();
    expect(e.srtt).toBe(0);
    expect(e.rttvar).toBe(0);
    expect(e.rto).toBe(1000);
    expect(e.currentRto()).toBe(1000);
    expect(e.backoffs).toBe(0);
    expect(e.hasSample).toBe(false);
  });

  it('takes the first sample whole: SRTT = R, RTTVAR = R/2 (§2.2)', () => {
    const e = new RttEstimator();
    e.sample(100);
    expect(e.srtt).toBe(100);
    expect(e.rttvar).toBe(50);
    expect(e.rto).toBe(100 + 4 * 50); // 300
  });

  it('smooths later samples with α = 1/8, β = 1/4, RTTVAR from the old SRTT (§2.3)', () => {
    const e = new RttEstimator();
    e.sample(100); // SRTT 100, RTTVAR 50
    e.sample(200);
    // RTTVAR = 3/4·50 + 1/4·|100 − 200| = 37.5 + 25 = 62.5
    // SRTT   = 7/8·100 + 1/8·200 = 87.5 + 25 = 112.5
    expect(e.rttvar).toBe(62.5);
    expect(e.srtt).toBe(112.5);
    expect(e.rto).toBe(112.5 + 4 * 62.5); // 362.5
    e.sample(80);
    // RTTVAR = 3/4·62.5 + 1/4·|112.5 − 80| = 46.875 + 8.125 = 55
    // SRTT   = 7/8·112.5 + 1/8·80 = 98.4375 + 10 = 108.4375
    expect(e.rttvar).toBe(55);
    expect(e.srtt).toBe(108.4375);
    expect(e.rto).toBe(108.4375 + 220);
  });

  it('converges on a steady RTT, with the RTO held up by the minimum', () => {
    const e = new RttEstimator();
    for (let i = 0; i < 200; i++) e.sample(20);
    expect(e.srtt).toBeCloseTo(20, 6);
    expect(e.rttvar).toBeLessThan(1e-6);
    // SRTT + max(G, 4·RTTVAR) ≈ 21 ms, clamped up to the 200 ms minimum.
    expect(e.rto).toBe(200);
  });

  it('uses the clock granularity G = 1 ms when the variance vanishes', () => {
    const e = new RttEstimator({ minRto: 0 });
    for (let i = 0; i < 200; i++) e.sample(500);
    expect(e.rto).toBeCloseTo(501, 6);
  });

  it('clamps the RTO to the maximum', () => {
    const e = new RttEstimator({ maxRto: 60_000 });
    e.sample(50_000); // 50 s + 4·25 s = 150 s
    expect(e.rto).toBe(60_000);
  });

  it('honours custom bounds', () => {
    const e = new RttEstimator({ initialRto: 3000, minRto: 1000, maxRto: 10_000 });
    expect(e.rto).toBe(3000);
    e.sample(10); // 10 + 20 = 30 → 1000
    expect(e.rto).toBe(1000);
  });

  it('doubles the RTO on each back-off, up to the maximum (§5.5)', () => {
    const e = new RttEstimator();
    e.sample(100); // RTO 300
    const seen: number[] = [];
    for (let i = 0; i < 12; i++) {
      e.backoff();
      seen.push(e.rto);
    }
    expect(seen).toEqual([600, 1200, 2400, 4800, 9600, 19_200, 38_400, 76_800, 120_000, 120_000, 120_000, 120_000]);
    expect(e.backoffs).toBe(12);
    expect(e.currentRto()).toBe(120_000);
  });

  it('backs off from the initial RTO before any sample (SYN retransmissions: 1, 2, 4, 8 s…)', () => {
    const e = new RttEstimator();
    e.backoff();
    e.backoff();
    e.backoff();
    expect(e.rto).toBe(8000);
    expect(e.backoffs).toBe(3);
  });

  it('resetBackoff recomputes the RTO from the estimate (§5.7)', () => {
    const e = new RttEstimator();
    e.sample(100);
    e.sample(200); // RTO 362.5
    e.backoff();
    e.backoff();
    expect(e.rto).toBe(1450);
    e.resetBackoff();
    expect(e.backoffs).toBe(0);
    expect(e.rto).toBe(362.5);
  });

  it('resetBackoff without a sample returns to the initial RTO', () => {
    const e = new RttEstimator({ initialRto: 1000 });
    e.backoff();
    e.resetBackoff();
    expect(e.rto).toBe(1000);
  });

  it('a new sample ends the back-off', () => {
    const e = new RttEstimator();
    e.sample(100);
    e.backoff();
    e.backoff();
    e.sample(100); // RTTVAR = 3/4·50 = 37.5, SRTT 100
    expect(e.backoffs).toBe(0);
    expect(e.rto).toBe(100 + 150);
  });

  it('treats a zero RTT as one clock tick', () => {
    const e = new RttEstimator();
    e.sample(0);
    expect(e.srtt).toBe(1);
    expect(e.hasSample).toBe(true);
  });

  it('falls back to 3 s after a retransmitted SYN without a sample (§5.7)', () => {
    const e = new RttEstimator();
    e.backoff(); // the SYN was retransmitted
    e.synFallback();
    expect(e.rto).toBe(SYN_FALLBACK_RTO_MS);
    expect(e.backoffs).toBe(0);
    const measured = new RttEstimator();
    measured.sample(100);
    measured.synFallback(); // a sample exists: no fallback
    expect(measured.rto).toBe(300);
  });
});
