import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { setU16 } from '../../src/wire/bytes.js';
import { checksum, fold, pseudoHeaderV4, sum16 } from '../../src/wire/checksum.js';

/**
 * RFC 1071 the slow, obvious way: one 16-bit word at a time, carry folded back after every
 * addition, odd byte padded with zero. Written independently of the code under test.
 */
function referenceSum(bytes: number[], initial: number): number {
  let s = initial;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  for (let i = 0; i < bytes.length; i += 2) {
    const word = bytes[i]! * 256 + (i + 1 < bytes.length ? bytes[i + 1]! : 0);
    s += word;
    while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  }
  return s;
}

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

describe('sum16 / checksum', () => {
  it('matches the worked example of RFC 1071 §3', () => {
    const b = hex('0001 f203 f4f5 f6f7');
    expect(sum16(b, 0, 8)).toBe(0xddf2);
    expect(checksum(b, 0, 8)).toBe(0x220d);
  });

  it('pads an odd last byte with zero on the right', () => {
    expect(sum16(hex('01'), 0, 1)).toBe(0x0100);
    expect(sum16(hex('abcdef'), 0, 3)).toBe(0x9ace); // 0xabcd + 0xef00 = 0x19acd → 0x9ace
    expect(sum16(hex('0102030405'), 0, 5)).toBe(0x0102 + 0x0304 + 0x0500);
  });

  it('reads only the given range', () => {
    const b = hex('ffff 1234 5678 ffff');
    expect(sum16(b, 2, 4)).toBe(0x1234 + 0x5678);
    expect(sum16(b, 2, 3)).toBe(0x1234 + 0x5600);
  });

  it('is 0 for no bytes and returns `initial` folded', () => {
    expect(sum16(new Uint8Array(4), 0, 0)).toBe(0);
    expect(sum16(new Uint8Array(4), 0, 0, 0x12345)).toBe(0x2346);
    expect(checksum(new Uint8Array(0), 0, 0)).toBe(0xffff);
  });

  it('sums a 64 KiB buffer of ones to 0xffff', () => {
    const b = new Uint8Array(65_536).fill(0xff);
    expect(sum16(b, 0, b.length)).toBe(0xffff);
    expect(checksum(b, 0, b.length)).toBe(0);
  });

  it('verifies to 0 once the checksum is stored in the data', () => {
    const b = hex('4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7');
    const c = checksum(b, 0, 20);
    expect(c).toBe(0xb861); // the well-known example header
    setU16(b, 10, c);
    expect(checksum(b, 0, 20)).toBe(0);
  });

  it('equals a plain reference implementation (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 0xfffff }),
        (b, a, c, initial) => {
          const o = b.length === 0 ? 0 : a % (b.length + 1);
          const len = (b.length - o) === 0 ? 0 : c % (b.length - o + 1);
          const bytes = Array.from(b.subarray(o, o + len));
          const ref = referenceSum(bytes, initial);
          expect(sum16(b, o, len, initial)).toBe(ref);
          expect(checksum(b, o, len, initial)).toBe(~ref & 0xffff);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('equals the reference on views at any byte offset of a larger buffer, across both loops (property)', () => {
    // Long sums read 32-bit words of the view's ArrayBuffer: the view's own offset, the range's
    // offset and the bytes around it (which must not count) all vary.
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 8, maxLength: 2000 }), fc.nat(7), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 0xfffff }),
        (big, viewAt, a, c, initial) => {
          const b = big.subarray(viewAt);
          const o = a % (b.length + 1);
          const len = c % (b.length - o + 1);
          const ref = referenceSum(Array.from(b.subarray(o, o + len)), initial);
          expect(sum16(b, o, len, initial)).toBe(ref);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('keeps 0 for all-zero data and 0xffff for any other multiple, on the word path too', () => {
    const zeros = new Uint8Array(300);
    const ones = new Uint8Array(300).fill(0xff);
    for (let o = 0; o < 8; o++) {
      for (const len of [64, 65, 66, 67, 200, 291]) {
        expect(sum16(zeros, o, len)).toBe(0);
        expect(sum16(ones, o, len & ~1)).toBe(0xffff);
        expect(sum16(zeros, o, len, 0xffff)).toBe(0xffff);
      }
    }
  });

  it('reads a buffer that grew since the last sum', () => {
    // A resizable ArrayBuffer (ES2024; the project's lib is ES2023, Node 20 has them).
    type Resizable = ArrayBuffer & { resize(n: number): void };
    const ab = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => Resizable)(128, { maxByteLength: 4096 });
    const b = new Uint8Array(ab);
    b.fill(1);
    expect(sum16(b, 0, 128)).toBe(64 * 0x0101);
    ab.resize(4096);
    b.fill(1);
    expect(sum16(b, 0, 4096)).toBe(fold(2048 * 0x0101));
  });

  it('chains over pieces of even length (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 600 }), fc.nat(), (b, cut) => {
        const split = (cut % (b.length + 1)) & ~1;
        const chained = sum16(b, split, b.length - split, sum16(b, 0, split));
        expect(chained).toBe(sum16(b, 0, b.length));
      }),
    );
  });
});

describe('fold', () => {
  it('folds carries back in, for sums beyond 32 bits too (property)', () => {
    // Modulo 0xffff, with 0xffff standing for a non-zero multiple (one's-complement -0).
    const reference = (s: number): number => (s === 0 ? 0 : ((s - 1) % 0xffff) + 1);
    expect(fold(0)).toBe(0);
    expect(fold(0xffff)).toBe(0xffff);
    expect(fold(0x1_0000)).toBe(1);
    expect(fold(0xffff_ffff)).toBe(0xffff);
    fc.assert(fc.property(fc.maxSafeNat(), (s) => {
      expect(fold(s)).toBe(reference(s));
    }));
  });
});

describe('pseudoHeaderV4', () => {
  it('sums like the 12-byte pseudo-header it stands for (property)', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffff_ffff }), fc.nat({ max: 0xffff_ffff }), fc.nat({ max: 255 }),
        fc.nat({ max: 0xffff }), (src, dst, proto, len) => {
          const ph = new Uint8Array(12);
          const v = new DataView(ph.buffer);
          v.setUint32(0, src);
          v.setUint32(4, dst);
          ph[9] = proto;
          v.setUint16(10, len);
          expect(fold(pseudoHeaderV4(src, dst, proto, len))).toBe(sum16(ph, 0, 12));
        }),
    );
  });
});
