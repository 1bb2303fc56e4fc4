import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { siphash24, siphash2u32, siphash3u32, siphash4u32, sipKey } from '../../src/core/siphash.js';

/**
 * The 64 reference vectors of SipHash-2-4 (the reference implementation's vectors.h, the
 * paper's Appendix A for n = 15): key 00 01 … 0f, message 00 01 … (n−1) for n = 0 … 63,
 * results as 64-bit numbers. They were also checked against OpenSSL's SIPHASH MAC
 * (`openssl mac -macopt hexkey:0001…0f -macopt size:8 SIPHASH`), which prints the same
 * values as little-endian bytes.
 */
const VECTORS = [
  '726fdb47dd0e0e31', '74f839c593dc67fd', '0d6c8009d9a94f5a', '85676696d7fb7e2d',
  'cf2794e0277187b7', '18765564cd99a68d', 'cbc9466e58fee3ce', 'ab0200f58b01d137',
  '93f5f5799a932462', '9e0082df0ba9e4b0', '7a5dbbc594ddb9f3', 'f4b32f46226bada7',
  '751e8fbc860ee5fb', '14ea5627c0843d90', 'f723ca908e7af2ee', 'a129ca6149be45e5',
  '3f2acc7f57c29bdb', '699ae9f52cbe4794', '4bc1b3f0968dd39c', 'bb6dc91da77961bd',
  'bed65cf21aa2ee98', 'd0f2cbb02e3b67c7', '93536795e3a33e88', 'a80c038ccd5ccec8',
  'b8ad50c6f649af94', 'bce192de8a85b8ea', '17d835b85bbb15f3', '2f2e6163076bcfad',
  'de4daaaca71dc9a5', 'a6a2506687956571', 'ad87a3535c49ef28', '32d892fad841c342',
  '7127512f72f27cce', 'a7f32346f95978e3', '12e0b01abb051238', '15e034d40fa197ae',
  '314dffbe0815a3b4', '027990f029623981', 'cadcd4e59ef40c4d', '9abfd8766a33735c',
  '0e3ea96b5304a7d0', 'ad0c42d6fc585992', '187306c89bc215a9', 'd4a60abcf3792b95',
  'f935451de4f21df2', 'a9538f0419755787', 'db9acddff56ca510', 'd06c98cd5c0975eb',
  'e612a3cb9ecba951', 'c766e62cfcadaf96', 'ee64435a9752fe72', 'a192d576b245165a',
  '0a8787bf8ecb74b2', '81b3e73d20b49b6f', '7fa8220ba3b2ecea', '245731c13ca42499',
  'b78dbfaf3a8d83bd', 'ea1ad565322a1a0b', '60e61c23a3795013', '6606d7e446282b93',
  '6ca4ecb15c5f91e1', '9f626da15c9625f3', 'e51b38608ef25f57', '958a324ceb064572',
];

const iota = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i);
const KEY = sipKey(iota(16));

function hex64(out: Uint32Array): string {
  return out[1]!.toString(16).padStart(8, '0') + out[0]!.toString(16).padStart(8, '0');
}

/** Four uint32 words as SipHash reads them: little-endian bytes. */
function leBytes(...words: number[]): Uint8Array {
  const b = new Uint8Array(words.length * 4);
  const dv = new DataView(b.buffer);
  words.forEach((w, i) => dv.setUint32(i * 4, w, true));
  return b;
}

describe('SipHash-2-4', () => {
  it('gives the paper\'s Appendix A result for a 15-byte message', () => {
    expect(hex64(siphash24(KEY, iota(15)))).toBe('a129ca6149be45e5');
  });

  it.each(VECTORS.map((v, n) => [n, v] as const))('matches reference vector %i', (n, expected) => {
    expect(hex64(siphash24(KEY, iota(64), 0, n))).toBe(expected);
  });

  it('hashes a message at an offset like the same bytes at 0', () => {
    const buf = new Uint8Array(40);
    buf.set(iota(15), 7);
    expect(hex64(siphash24(KEY, buf, 7, 15))).toBe('a129ca6149be45e5');
  });

  it('writes into the given output and returns it', () => {
    const out = new Uint32Array(2);
    expect(siphash24(KEY, iota(0), 0, 0, out)).toBe(out);
    expect(hex64(out)).toBe(VECTORS[0]);
  });

  it('word forms equal the byte form over little-endian words (property)', () => {
    const u32 = fc.nat({ max: 0xffff_ffff });
    fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), u32, u32, u32, u32, (k, a, b, c, d) => {
      const key = sipKey(k);
      expect(siphash2u32(key, a, b)).toBe(siphash24(key, leBytes(a, b))[0]);
      expect(siphash3u32(key, a, b, c)).toBe(siphash24(key, leBytes(a, b, c))[0]);
      expect(siphash4u32(key, a, b, c, d)).toBe(siphash24(key, leBytes(a, b, c, d))[0]);
    }));
  });

  it('depends on every key byte', () => {
    const base = siphash3u32(KEY, 1, 2, 3);
    for (let i = 0; i < 16; i++) {
      const k = iota(16);
      k[i]! ^= 0x80;
      expect(siphash3u32(sipKey(k), 1, 2, 3)).not.toBe(base);
    }
  });

  it('refuses a key that is not 16 bytes', () => {
    expect(() => sipKey(new Uint8Array(15))).toThrow(RangeError);
    expect(() => sipKey(new Uint8Array(32))).toThrow(RangeError);
  });
});
