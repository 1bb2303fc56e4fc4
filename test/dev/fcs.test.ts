import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { appendFcs, checkFcs, fcs, FCS_LEN } from '../../src/dev/fcs.js';
import { frame } from './frames.js';

describe('fcs', () => {
  it('is CRC-32 (IEEE) as an unsigned number', () => {
    // The standard check value of CRC-32 over the ASCII digits 1..9.
    expect(fcs(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    const f = frame(7, 200);
    expect(fcs(f)).toBe(crc32(f)); // zlib's independent implementation
    expect(fcs(f)).toBeGreaterThanOrEqual(0);
  });

  it('appendFcs adds the CRC least-significant byte first, as on the wire', () => {
    const f = frame(1, 60);
    const w = appendFcs(f);
    expect(w.length).toBe(f.length + FCS_LEN);
    expect(w.subarray(0, f.length)).toEqual(f);
    const v = fcs(f);
    expect([...w.subarray(f.length)]).toEqual([v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24]);
    // The CRC-32 residue: a frame followed by its little-endian FCS always checks to this.
    expect(crc32(w)).toBe(0x2144df1c);
    expect(f.length).toBe(60); // the input is not changed
  });

  it('checkFcs accepts an intact frame and rejects any single flipped bit', () => {
    const w = appendFcs(frame(3, 64));
    expect(checkFcs(w)).toBe(true);
    for (let bit = 0; bit < w.length * 8; bit++) {
      w[bit >>> 3]! ^= 1 << (bit & 7);
      expect(checkFcs(w)).toBe(false);
      w[bit >>> 3]! ^= 1 << (bit & 7);
    }
    expect(checkFcs(w)).toBe(true);
  });

  it('checkFcs works on a view into a larger buffer and rejects runts', () => {
    const w = appendFcs(frame(4, 80));
    const big = new Uint8Array(w.length + 20);
    big.set(w, 10);
    expect(checkFcs(big.subarray(10, 10 + w.length))).toBe(true);
    expect(checkFcs(big.subarray(10, 10 + w.length - 1))).toBe(false);
    expect(checkFcs(new Uint8Array(3))).toBe(false);
    // Four bytes are the FCS of the empty frame when they say so.
    expect(checkFcs(appendFcs(new Uint8Array(0)))).toBe(true);
  });
});
