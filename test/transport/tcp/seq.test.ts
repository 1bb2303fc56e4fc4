import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  seqAdd, seqDiff, seqGe, seqGt, seqInWindow, seqLe, seqLt, seqMax, seqMin,
} from '../../../src/transport/tcp/seq.js';

const MAX = 0xffff_ffff;
const u32 = fc.nat({ max: MAX });
/** A distance that the comparisons are defined for: |d| < 2^31. */
const dist = fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 });

describe('sequence comparisons (RFC 9293 §3.4)', () => {
  it('order plain numbers as usual', () => {
    expect(seqLt(1, 2)).toBe(true);
    expect(seqLt(2, 1)).toBe(false);
    expect(seqLt(5, 5)).toBe(false);
    expect(seqLe(5, 5)).toBe(true);
    expect(seqGt(2, 1)).toBe(true);
    expect(seqGe(5, 5)).toBe(true);
    expect(seqGe(4, 5)).toBe(false);
  });

  it('order across the 2^32 wrap: 0xffffffff comes before 0', () => {
    expect(seqLt(MAX, 0)).toBe(true);
    expect(seqGt(0, MAX)).toBe(true);
    expect(seqLt(0xffff_ff00, 0x100)).toBe(true);
    expect(seqLe(0xffff_ff00, 0x100)).toBe(true);
    expect(seqGe(0x100, 0xffff_ff00)).toBe(true);
    expect(seqGt(0xffff_ff00, 0x100)).toBe(false);
  });

  it('decide by the shorter way round the circle', () => {
    // 2^31 − 1 ahead is "after"; 2^31 + 1 ahead is really 2^31 − 1 behind.
    expect(seqLt(0, 0x7fff_ffff)).toBe(true);
    expect(seqLt(0, 0x8000_0001)).toBe(false);
    expect(seqGt(0, 0x8000_0001)).toBe(true);
  });

  it('agree with each other for every pair less than 2^31 apart (property)', () => {
    fc.assert(fc.property(u32, dist, (a, d) => {
      const b = (a + d) >>> 0;
      expect(seqLt(a, b)).toBe(d > 0);
      expect(seqLe(a, b)).toBe(d >= 0);
      expect(seqGt(a, b)).toBe(d < 0);
      expect(seqGe(a, b)).toBe(d <= 0);
      expect(seqLt(a, b)).toBe(seqGt(b, a));
      expect(seqDiff(b, a)).toBe(d);
    }));
  });
});

describe('sequence arithmetic', () => {
  it('seqAdd wraps to a uint32 both ways', () => {
    expect(seqAdd(MAX, 1)).toBe(0);
    expect(seqAdd(MAX, 2)).toBe(1);
    expect(seqAdd(0, -1)).toBe(MAX);
    expect(seqAdd(10, -20)).toBe(MAX - 9);
    expect(seqAdd(0x8000_0000, 0x8000_0000)).toBe(0);
  });

  it('seqDiff is the signed distance across the wrap', () => {
    expect(seqDiff(2, 0xffff_fffe)).toBe(4);
    expect(seqDiff(0xffff_fffe, 2)).toBe(-4);
    expect(seqDiff(1000, 1000)).toBe(0);
  });

  it('seqAdd and seqDiff undo each other (property)', () => {
    fc.assert(fc.property(u32, dist, (a, d) => {
      const b = seqAdd(a, d);
      expect(b).toBeGreaterThanOrEqual(0);
      expect(b).toBeLessThanOrEqual(MAX);
      expect(seqDiff(b, a)).toBe(d);
    }));
  });

  it('seqMax and seqMin pick by circle order, not numeric order', () => {
    expect(seqMax(MAX, 3)).toBe(3);
    expect(seqMin(MAX, 3)).toBe(MAX);
    expect(seqMax(3, 7)).toBe(7);
    expect(seqMin(3, 7)).toBe(3);
    expect(seqMax(9, 9)).toBe(9);
  });
});

describe('seqInWindow', () => {
  it('holds start..start+size−1', () => {
    expect(seqInWindow(100, 100, 10)).toBe(true);
    expect(seqInWindow(109, 100, 10)).toBe(true);
    expect(seqInWindow(110, 100, 10)).toBe(false);
    expect(seqInWindow(99, 100, 10)).toBe(false);
  });

  it('holds nothing when empty', () => {
    expect(seqInWindow(100, 100, 0)).toBe(false);
  });

  it('works for a window straddling 2^32', () => {
    const start = 0xffff_fff0;
    expect(seqInWindow(0xffff_fff0, start, 0x20)).toBe(true);
    expect(seqInWindow(MAX, start, 0x20)).toBe(true);
    expect(seqInWindow(0, start, 0x20)).toBe(true);
    expect(seqInWindow(0xf, start, 0x20)).toBe(true);
    expect(seqInWindow(0x10, start, 0x20)).toBe(false);
    expect(seqInWindow(0xffff_ffef, start, 0x20)).toBe(false);
  });

  it('agrees with the comparisons (property)', () => {
    fc.assert(fc.property(u32, u32, fc.nat({ max: 2 ** 30 }), (s, start, size) => {
      const end = seqAdd(start, size);
      expect(seqInWindow(s, start, size)).toBe(seqLe(start, s) && seqLt(s, end));
    }));
  });
});
