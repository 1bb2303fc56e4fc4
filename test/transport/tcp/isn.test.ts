import { describe, expect, it } from 'vitest';
import { ISN_TICKS_PER_MS, IsnGenerator } from '../../../src/transport/tcp/isn.js';
import { seqDiff } from '../../../src/transport/tcp/seq.js';

const SECRET = Uint8Array.from({ length: 16 }, (_, i) => i * 17 + 3);
const US = 0xc0a84502; // 192.168.69.2
const PEER = 0xc0a84501; // 192.168.69.1

describe('IsnGenerator (RFC 6528)', () => {
  it('is deterministic for the same secret, tuple and time', () => {
    const a = new IsnGenerator(SECRET);
    const b = new IsnGenerator(SECRET.slice());
    expect(a.isn(US, 80, PEER, 40000, 1234)).toBe(b.isn(US, 80, PEER, 40000, 1234));
  });

  it('returns a uint32', () => {
    const g = new IsnGenerator(SECRET);
    for (let p = 1; p < 200; p++) {
      const isn = g.isn(US, 80, PEER, p, p * 1e7);
      expect(Number.isInteger(isn)).toBe(true);
      expect(isn).toBeGreaterThanOrEqual(0);
      expect(isn).toBeLessThan(2 ** 32);
    }
  });

  it('differs with each element of the 4-tuple', () => {
    const g = new IsnGenerator(SECRET);
    const base = g.isn(US, 80, PEER, 40000, 0);
    const variants = [
      g.isn(US + 1, 80, PEER, 40000, 0),
      g.isn(US, 81, PEER, 40000, 0),
      g.isn(US, 80, PEER + 1, 40000, 0),
      g.isn(US, 80, PEER, 40001, 0),
      g.isn(PEER, 40000, US, 80, 0), // the reverse direction is another connection
    ];
    for (const v of variants) expect(v).not.toBe(base);
    expect(new Set(variants).size).toBe(variants.length);
  });

  it('differs with the secret', () => {
    const other = SECRET.slice();
    other[0]! ^= 1;
    expect(new IsnGenerator(other).isn(US, 80, PEER, 40000, 0)).not.toBe(new IsnGenerator(SECRET).isn(US, 80, PEER, 40000, 0));
  });

  it('spreads ports over the whole 32-bit space', () => {
    const g = new IsnGenerator(SECRET);
    const isns = Array.from({ length: 4096 }, (_, p) => g.isn(US, 80, PEER, 32768 + p, 0));
    expect(new Set(isns).size).toBe(isns.length);
    // Each of the top 16 buckets of 2^28 should be hit; a weak F would cluster.
    const buckets = new Set(isns.map((x) => x >>> 28));
    expect(buckets.size).toBe(16);
  });

  it('advances with time at 250 per ms (one per 4 µs)', () => {
    const g = new IsnGenerator(SECRET);
    const t0 = g.isn(US, 80, PEER, 40000, 10_000);
    expect(seqDiff(g.isn(US, 80, PEER, 40000, 10_001), t0)).toBe(ISN_TICKS_PER_MS);
    expect(seqDiff(g.isn(US, 80, PEER, 40000, 11_000), t0)).toBe(250_000);
    expect(seqDiff(g.isn(US, 80, PEER, 40000, 10_000.004), t0)).toBe(1); // 4 µs later
  });

  it('wraps mod 2^32 (after 2^32 ticks ≈ 4.77 hours it is back where it was)', () => {
    const g = new IsnGenerator(SECRET);
    const period = 2 ** 32 / ISN_TICKS_PER_MS; // 17 179 869.184 ms
    const t0 = 1_000;
    expect(g.isn(US, 80, PEER, 40000, t0 + period)).toBe(g.isn(US, 80, PEER, 40000, t0));
    // Just before the period ends it is one tick behind.
    expect(seqDiff(g.isn(US, 80, PEER, 40000, t0 + period - 0.004), g.isn(US, 80, PEER, 40000, t0))).toBe(-1);
    // Days of uptime still give an exact uint32.
    const late = g.isn(US, 80, PEER, 40000, 30 * 86_400_000);
    expect(late).toBeGreaterThanOrEqual(0);
    expect(late).toBeLessThan(2 ** 32);
  });

  it('gives a timestamp offset per address pair, the same for every port', () => {
    const g = new IsnGenerator(SECRET);
    const off = g.tsOffset(US, PEER);
    expect(g.tsOffset(US, PEER)).toBe(off);
    expect(g.tsOffset(US, PEER + 1)).not.toBe(off);
    expect(off).toBeGreaterThanOrEqual(0);
    expect(off).toBeLessThan(2 ** 32);
  });

  it('refuses a secret that is not 16 bytes', () => {
    expect(() => new IsnGenerator(new Uint8Array(8))).toThrow(RangeError);
  });
});
