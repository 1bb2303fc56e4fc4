/**
 * The Internet checksum (RFC 1071): the 16-bit one's-complement of the one's-complement sum
 * of the data taken as big-endian 16-bit words, an odd last byte padded with a zero byte.
 *
 * One's-complement addition is associative and commutative, and end-around carries can be
 * deferred (RFC 1071 §2): so words are added into an ordinary integer and the carries are
 * folded back once at the end. A running sum can be chained from piece to piece — pseudo-header,
 * header, payload — as long as every piece but the last has an even length.
 *
 * Verifying is summing the packet *with* its checksum field in place: a correct packet sums
 * to 0xffff, so `checksum(...) === 0`.
 */
import { ipv6Bytes, type Ipv4Addr, type Ipv6Addr } from './addr.js';

/**
 * Adds the 16-bit words of `b[o .. o+len)` to `initial` and returns the sum folded to 16 bits
 * (a value in 0..0xffff, ready to pass on as the next `initial`). An odd final byte counts as
 * its word's high byte. Only the last piece of a chained sum may have an odd length.
 */
export function sum16(b: Uint8Array, o: number, len: number, initial = 0): number {
  if (len >= WIDE_MIN) return sumWide(b, o, len, initial);
  let s = initial;
  let i = o;
  // Two words per turn; a double holds the unfolded sum exactly far beyond any packet size.
  const end4 = o + (len & ~3);
  for (; i < end4; i += 4) {
    s += ((b[i]! << 8) | b[i + 1]!) + ((b[i + 2]! << 8) | b[i + 3]!);
  }
  if (len & 2) {
    s += (b[i]! << 8) | b[i + 1]!;
    i += 2;
  }
  if (len & 1) s += b[i]! << 8;
  return fold(s);
}

/**
 * From this length on, {@link sum16} reads 32-bit words. The byte loop was the largest
 * cost of a bulk transfer without offloads, where every segment is verified and every
 * segment sent is summed.
 */
const WIDE_MIN = 64;

/** The host stores the low byte of a word first (every platform Node runs on but s390x). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A 32-bit view of the last buffer summed: the rx slots share one, so it is made once. */
let wordsOf: ArrayBufferLike | null = null;
let words: Int32Array<ArrayBufferLike> = new Int32Array(0);

/**
 * {@link sum16} over aligned 32-bit words of the underlying buffer (RFC 1071 §2(B), byte-order
 * independence; §4.1 sums 32 bits at a time too). Taken modulo 0xffff, a word read in host
 * order weighs each byte 1 or 256 by the parity of its address, where the checksum weighs it by
 * its parity relative to `o`: when those disagree (`o` at an even address on a little-endian
 * host), the folded sum is byte-swapped, which is a multiplication by 256 modulo 0xffff. The
 * bytes before the first aligned word and after the last are added as {@link sum16} would.
 * The result equals the byte loop's exactly: 0 only when every byte and `initial` are zero.
 */
function sumWide(b: Uint8Array, o: number, len: number, initial: number): number {
  const abs = b.byteOffset + o;
  const lead = -abs & 3;
  const count = (len - lead) >>> 2;
  const first = (abs + lead) >>> 2;
  const buf = b.buffer;
  if (buf !== wordsOf || first + count > words.length) {
    words = new Int32Array(buf, 0, buf.byteLength >>> 2);
    wordsOf = buf;
  }
  const w = words;
  // Low and high halves apart, so that every addition stays a small integer.
  let lo = 0;
  let hi = 0;
  let j = first;
  const end = first + count;
  for (const end2 = first + (count & ~1); j < end2; j += 2) {
    const x = w[j]!;
    const y = w[j + 1]!;
    lo += (x & 0xffff) + (y & 0xffff);
    hi += (x >>> 16) + (y >>> 16);
  }
  if (j < end) {
    const x = w[j]!;
    lo += x & 0xffff;
    hi += x >>> 16;
  }
  let f = fold(lo + hi);
  if (((abs & 1) === 0) === LITTLE_ENDIAN) f = ((f & 0xff) << 8) | (f >>> 8);
  let s = initial + f;
  // Bytes outside the words, weighed by their place relative to `o`.
  for (let k = 0; k < lead; k++) s += (k & 1) === 0 ? b[o + k]! << 8 : b[o + k]!;
  for (let k = lead + 4 * count; k < len; k++) s += (k & 1) === 0 ? b[o + k]! << 8 : b[o + k]!;
  return fold(s);
}

/**
 * Folds the carries of an unfolded sum (any non-negative integer below 2^53) back into the
 * low 16 bits: the 16-bit one's-complement sum, 0..0xffff.
 */
export function fold(sum: number): number {
  let s = sum;
  // Above 32 bits the bitwise operators would truncate: fold with arithmetic first (each
  // turn takes 16 bits off; packet-sized sums never enter this loop).
  while (s > 0xffff_ffff) s = (s % 0x1_0000) + Math.floor(s / 0x1_0000);
  s = (s & 0xffff) + (s >>> 16); // ≤ 0x1fffe
  return (s & 0xffff) + (s >>> 16); // ≤ 0xffff
}

/**
 * The Internet checksum of `b[o .. o+len)` with `initial` (e.g. a pseudo-header sum) added:
 * the value to store in a checksum field that was zero while summing, or 0 when verifying
 * a correct packet with its checksum in place.
 */
export function checksum(b: Uint8Array, o: number, len: number, initial = 0): number {
  return ~sum16(b, o, len, initial) & 0xffff;
}

/**
 * The unfolded sum of the IPv4 pseudo-header that UDP and TCP checksums cover (RFC 768,
 * RFC 9293 §3.1): source, destination, zero + protocol, and the transport length.
 * Pass it as `initial` to {@link sum16} or {@link checksum}.
 */
export function pseudoHeaderV4(src: Ipv4Addr, dst: Ipv4Addr, proto: number, len: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + len;
}

/**
 * The unfolded sum of the eight 16-bit words of the IPv6 address at `b[o]`: one half of a
 * pseudo-header, taken straight from a received header without reading the address as text.
 */
export function ipv6AddrSum(b: Uint8Array, o: number): number {
  let s = 0;
  for (let i = o; i < o + 16; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  return s;
}

/**
 * The unfolded sum of the IPv6 pseudo-header that upper-layer checksums cover (RFC 8200 §8.1):
 * source, destination, the 32-bit upper-layer packet length, three zero bytes and the next
 * header value of the upper layer (not of an extension header before it). Pass it as
 * `initial` to {@link sum16} or {@link checksum}. Unlike IPv4's, it is mandatory for UDP too.
 */
export function pseudoHeaderV6(src: Ipv6Addr, dst: Ipv6Addr, proto: number, len: number): number {
  return ipv6AddrSum(ipv6Bytes(src), 0) + ipv6AddrSum(ipv6Bytes(dst), 0) + (len >>> 16) + (len & 0xffff) + proto;
}
