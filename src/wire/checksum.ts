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
