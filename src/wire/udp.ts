/**
 * The UDP header (RFC 768).
 *
 * ```text
 *  0               2               4               6               8
 * +---------------+---------------+---------------+---------------+
 * | source port   | dest. port    | length        | checksum      |
 * +---------------+---------------+---------------+---------------+
 * ```
 *
 * `length` counts header and payload. The checksum covers a pseudo-header of the IP layer
 * (addresses, protocol, length), the header and the payload. Over IPv4 a checksum of 0 means
 * "none was computed", so a computed 0 is sent as 0xffff, its one's-complement twin.
 * The `*WithPseudo` forms take the pseudo-header sum directly, so IPv6 can reuse them.
 */
import { DropReason } from '../core/drop.js';
import type { Ipv4Addr } from './addr.js';
import { setU16, u16 } from './bytes.js';
import { checksum, pseudoHeaderV4 } from './checksum.js';
import { IPPROTO_UDP } from './ipv4.js';

/** Length of the UDP header. */
export const UDP_HLEN = 8;

/** A UDP header as values; the payload stays in the buffer. */
export interface UdpRepr {
  srcPort: number;
  dstPort: number;
  /** Header plus payload, in bytes. */
  length: number;
  /** The checksum as received (0: none); {@link emitUdp} computes its own. */
  checksum: number;
}

/** A blank UDP repr, to be reused as the `out` of {@link parseUdp}. */
export function newUdpRepr(): UdpRepr {
  return { srcPort: 0, dstPort: 0, length: UDP_HLEN, checksum: 0 };
}

/**
 * Parses the UDP datagram at `b[o]` carried in an IPv4 packet from `src` to `dst`, where
 * `len` is the IP payload length, into `out`.
 *
 * @returns `PKT_TOO_SMALL` if `len` or the length field is below 8 or the length field
 *   exceeds `len`; `UDP_CSUM` if a non-zero checksum does not verify over the `length`
 *   bytes; else `undefined`. Bytes past `length` are not UDP's and are ignored.
 */
export function parseUdp(
  b: Uint8Array, o: number, len: number, src: Ipv4Addr, dst: Ipv4Addr, out: UdpRepr,
): DropReason | undefined {
  if (len < UDP_HLEN) return DropReason.PKT_TOO_SMALL;
  const length = u16(b, o + 4);
  // The pseudo-header covers the UDP length field, so it can only be built once that is read.
  return parseUdpWithPseudo(b, o, len, pseudoHeaderV4(src, dst, IPPROTO_UDP, length), false, out);
}

/**
 * {@link parseUdp} with the pseudo-header sum given (it must cover the datagram's own length
 * field value). `checksumRequired` refuses a zero checksum as `UDP_CSUM`, as IPv6 does
 * (RFC 8200 §8.1). `verify` false skips the checksum: the link vouched for it (a virtio-net
 * `DATA_VALID` or `NEEDS_CSUM` frame, whose field may hold only the pseudo-header sum).
 */
export function parseUdpWithPseudo(
  b: Uint8Array, o: number, len: number, pseudo: number, checksumRequired: boolean, out: UdpRepr, verify = true,
): DropReason | undefined {
  if (len < UDP_HLEN) return DropReason.PKT_TOO_SMALL;
  const length = u16(b, o + 4);
  if (length < UDP_HLEN || length > len) return DropReason.PKT_TOO_SMALL;
  out.srcPort = u16(b, o);
  out.dstPort = u16(b, o + 2);
  out.length = length;
  out.checksum = u16(b, o + 6);
  if (out.checksum === 0) return checksumRequired ? DropReason.UDP_CSUM : undefined;
  if (verify && checksum(b, o, length, pseudo) !== 0) return DropReason.UDP_CSUM;
  return undefined;
}

/**
 * Writes the header `r` describes at `b[o]` (ports and `r.length`) and the checksum over
 * `r.length` bytes with the IPv4 pseudo-header of `src` → `dst`; the payload must already
 * be in place after the header.
 *
 * @returns bytes written (8).
 */
export function emitUdp(r: UdpRepr, b: Uint8Array, o: number, src: Ipv4Addr, dst: Ipv4Addr): number {
  return emitUdpWithPseudo(r, b, o, pseudoHeaderV4(src, dst, IPPROTO_UDP, r.length));
}

/** {@link emitUdp} with the pseudo-header sum given (for IPv6). */
export function emitUdpWithPseudo(r: UdpRepr, b: Uint8Array, o: number, pseudo: number): number {
  setU16(b, o, r.srcPort);
  setU16(b, o + 2, r.dstPort);
  setU16(b, o + 4, r.length);
  setU16(b, o + 6, 0);
  // RFC 768: an all-zero computed checksum is transmitted as all ones.
  setU16(b, o + 6, checksum(b, o, r.length, pseudo) || 0xffff);
  return UDP_HLEN;
}
