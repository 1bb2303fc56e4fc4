/**
 * ICMP for IPv4 (RFC 792): an 8-byte header whose last four bytes depend on the type,
 * followed by the message body (echo data, or the quoted IP header and first bytes that an
 * error is about). The checksum covers header and body.
 *
 * ```text
 *  0               1               2                               4
 * +---------------+---------------+-------------------------------+
 * |     Type      |     Code      |           Checksum            |
 * +---------------+---------------+-------------------------------+
 * |            rest of header (`rest`, bytes 4..8)                |
 * +---------------------------------------------------------------+
 *   echo / echo reply / timestamp:   identifier (16) | sequence (16)
 *   parameter problem:               pointer (8) | unused (24)
 *   destination unreachable, code 4: unused (16) | next-hop MTU (16)   (RFC 1191)
 *   other errors:                    unused (32)
 * ```
 */
import { DropReason } from '../core/drop.js';
import { setU16, setU32, u16, u32 } from './bytes.js';
import { checksum } from './checksum.js';

/** Length of the ICMP header. */
export const ICMP_HLEN = 8;

/** Type: echo reply. */
export const ICMP_ECHOREPLY = 0;
/** Type: destination unreachable. */
export const ICMP_DEST_UNREACH = 3;
/** Type: echo request. */
export const ICMP_ECHO = 8;
/** Type: time exceeded. */
export const ICMP_TIME_EXCEEDED = 11;
/** Type: parameter problem. */
export const ICMP_PARAMETERPROB = 12;
/** Type: timestamp request. */
export const ICMP_TIMESTAMP = 13;
/** Type: timestamp reply. */
export const ICMP_TIMESTAMPREPLY = 14;

/** Destination unreachable code: network unreachable. */
export const ICMP_NET_UNREACH = 0;
/** Destination unreachable code: host unreachable. */
export const ICMP_HOST_UNREACH = 1;
/** Destination unreachable code: protocol unreachable. */
export const ICMP_PROT_UNREACH = 2;
/** Destination unreachable code: port unreachable. */
export const ICMP_PORT_UNREACH = 3;
/** Destination unreachable code: fragmentation needed and DF set (`rest` holds the MTU). */
export const ICMP_FRAG_NEEDED = 4;

/** Time exceeded code: TTL exceeded in transit. */
export const ICMP_EXC_TTL = 0;
/** Time exceeded code: fragment reassembly time exceeded. */
export const ICMP_EXC_FRAGTIME = 1;

/** An ICMP header as values; the body stays in the buffer. */
export interface IcmpRepr {
  type: number;
  code: number;
  /** The checksum as received; {@link emitIcmpv4} computes its own and ignores this. */
  checksum: number;
  /**
   * Bytes 4..8 as one big-endian uint32: `id << 16 | seq` for echo, `pointer << 24` for a
   * parameter problem, the next-hop MTU for fragmentation needed.
   */
  rest: number;
}

/** A blank ICMP repr, to be reused as the `out` of {@link parseIcmpv4}. */
export function newIcmpRepr(): IcmpRepr {
  return { type: 0, code: 0, checksum: 0, rest: 0 };
}

/**
 * Parses the `len`-byte ICMP message at `b[o]` (header and body) into `out` and verifies its
 * checksum over all `len` bytes.
 *
 * @returns `PKT_TOO_SMALL` below 8 bytes, `ICMP_CSUM` on a checksum mismatch (`out` is filled
 *   either way once 8 bytes are there), else `undefined`.
 */
export function parseIcmpv4(b: Uint8Array, o: number, len: number, out: IcmpRepr): DropReason | undefined {
  if (len < ICMP_HLEN) return DropReason.PKT_TOO_SMALL;
  out.type = b[o]!;
  out.code = b[o + 1]!;
  out.checksum = u16(b, o + 2);
  out.rest = u32(b, o + 4);
  if (checksum(b, o, len) !== 0) return DropReason.ICMP_CSUM;
  return undefined;
}

/**
 * Writes the 8-byte header `r` describes at `b[o]` and the checksum over `len` bytes: the
 * header and the body the caller has already placed after it.
 *
 * @returns bytes written (8).
 */
export function emitIcmpv4(r: IcmpRepr, b: Uint8Array, o: number, len: number): number {
  b[o] = r.type;
  b[o + 1] = r.code;
  setU16(b, o + 2, 0);
  setU32(b, o + 4, r.rest);
  setU16(b, o + 2, checksum(b, o, len));
  return ICMP_HLEN;
}

/** The `rest` of an echo or timestamp message: identifier and sequence number. */
export function icmpEchoRest(id: number, seq: number): number {
  return (((id & 0xffff) << 16) | (seq & 0xffff)) >>> 0;
}
