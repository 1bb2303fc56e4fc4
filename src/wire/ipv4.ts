/**
 * The IPv4 header (RFC 791 §3.1).
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Version|  IHL  |      TOS      |          Total Length         |  0
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         Identification        |0|D|M|    Fragment Offset      |  4
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |      TTL      |   Protocol    |        Header Checksum        |  8
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                        Source Address                         | 12
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                     Destination Address                       | 16
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Options (IHL*4 - 20 bytes)                 | 20
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * IHL counts 32-bit words; the fragment offset counts 8-byte units on the wire and bytes in
 * {@link Ipv4Repr}.
 */
import { DropReason } from '../core/drop.js';
import { readIpv4, writeIpv4, type Ipv4Addr } from './addr.js';
import { setU16, u16 } from './bytes.js';
import { checksum } from './checksum.js';

/** Length of an IPv4 header without options. */
export const IPV4_HLEN = 20;
/** Longest options part: IHL is 4 bits, so at most 60 header bytes. */
export const IPV4_MAX_OPTIONS_LEN = 40;
/** Protocol number of ICMP. */
export const IPPROTO_ICMP = 1;
/** Protocol number of TCP. */
export const IPPROTO_TCP = 6;
/** Protocol number of UDP. */
export const IPPROTO_UDP = 17;

/** Option type: end of option list (RFC 791). */
export const IPOPT_END = 0;
/** Option type: no operation, used as padding between options. */
export const IPOPT_NOOP = 1;

const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const FRAG_OFFSET_MASK = 0x1fff;

/** Shared by every header without options, so parsing one allocates nothing. */
const NO_OPTIONS = new Uint8Array(0);

/** An IPv4 header as values. */
export interface Ipv4Repr {
  /** The whole second byte: DSCP (6 bits) and ECN (2 bits). */
  tos: number;
  /** Header plus payload, in bytes. */
  totalLength: number;
  id: number;
  dontFrag: boolean;
  moreFrags: boolean;
  /** Offset of this fragment's data in the datagram, in bytes (a multiple of 8). */
  fragOffset: number;
  ttl: number;
  protocol: number;
  /** The checksum as received; {@link emitIpv4} computes its own and ignores this. */
  checksum: number;
  src: Ipv4Addr;
  dst: Ipv4Addr;
  /** IHL × 4 as parsed: 20 plus the options' length. */
  headerLen: number;
  /**
   * The options bytes (a view into the parsed packet; empty if none). On emit, their length
   * must be at most 40; it is padded with zeros (End of Option List) to a multiple of 4.
   */
  options: Uint8Array;
}

/** A blank header with no options, to be reused as the `out` of {@link parseIpv4}. */
export function newIpv4Repr(): Ipv4Repr {
  return {
    tos: 0, totalLength: IPV4_HLEN, id: 0, dontFrag: false, moreFrags: false, fragOffset: 0,
    ttl: 64, protocol: 0, checksum: 0, src: 0, dst: 0, headerLen: IPV4_HLEN, options: NO_OPTIONS,
  };
}

/**
 * Parses the IPv4 header at `b[o]`, where `len` bytes are available (link-layer padding
 * included), into `out`. The checks are Linux `ip_rcv_core`'s, in its order, so the same bad
 * packet gets the same reason and counter:
 *
 * 1. shorter than 20 bytes, version ≠ 4 or IHL < 5 → `IP_INHDR`;
 * 2. IHL × 4 longer than what is there → `IP_INHDR`;
 * 3. header checksum wrong → `IP_CSUM`;
 * 4. total length longer than what is there → `PKT_TOO_SMALL` (Linux: InTruncatedPkts);
 * 5. total length shorter than the header → `IP_INHDR`.
 *
 * Options are not interpreted here: see {@link checkIpv4Options}. On an `IP_CSUM` or later
 * drop, `out` already holds the header's fields. A header with options allocates one view
 * for `out.options`; one without allocates nothing.
 */
export function parseIpv4(b: Uint8Array, o: number, len: number, out: Ipv4Repr): DropReason | undefined {
  if (len < IPV4_HLEN) return DropReason.IP_INHDR;
  const verIhl = b[o]!;
  const headerLen = (verIhl & 0x0f) * 4;
  if (verIhl >>> 4 !== 4 || headerLen < IPV4_HLEN) return DropReason.IP_INHDR;
  if (headerLen > len) return DropReason.IP_INHDR;

  const fragField = u16(b, o + 6);
  out.tos = b[o + 1]!;
  out.totalLength = u16(b, o + 2);
  out.id = u16(b, o + 4);
  out.dontFrag = (fragField & FLAG_DF) !== 0;
  out.moreFrags = (fragField & FLAG_MF) !== 0;
  out.fragOffset = (fragField & FRAG_OFFSET_MASK) * 8;
  out.ttl = b[o + 8]!;
  out.protocol = b[o + 9]!;
  out.checksum = u16(b, o + 10);
  out.src = readIpv4(b, o + 12);
  out.dst = readIpv4(b, o + 16);
  out.headerLen = headerLen;
  out.options = headerLen === IPV4_HLEN ? NO_OPTIONS : b.subarray(o + IPV4_HLEN, o + headerLen);

  if (checksum(b, o, headerLen) !== 0) return DropReason.IP_CSUM;
  if (out.totalLength > len) return DropReason.PKT_TOO_SMALL;
  if (out.totalLength < headerLen) return DropReason.IP_INHDR;
  return undefined;
}

/**
 * Checks that the `optLen` option bytes after the fixed header at `b[o]` are well formed:
 * End of Option List (which ends the walk), No Operation, or type-length-value options whose
 * length is at least 2 and fits (Linux `ip_options_compile`'s framing checks; the contents of
 * individual options are not judged).
 *
 * @returns -1 if well formed, else the offset of the bad option's first byte from the start
 *   of the IP header — the pointer of an ICMP parameter problem (RFC 792).
 */
export function checkIpv4Options(b: Uint8Array, o: number, optLen: number): number {
  const end = IPV4_HLEN + optLen;
  let i = IPV4_HLEN;
  while (i < end) {
    const type = b[o + i]!;
    if (type === IPOPT_END) return -1;
    if (type === IPOPT_NOOP) {
      i++;
      continue;
    }
    // A TLV option needs its length byte, a length of at least 2, and room for that length.
    if (i + 1 >= end) return i;
    const l = b[o + i + 1]!;
    if (l < 2 || l > end - i) return i;
    i += l;
  }
  return -1;
}

/**
 * Writes the header `r` describes at `b[o]`: the fixed part, `r.options` padded to a multiple
 * of 4, and a freshly computed header checksum (`r.checksum` and `r.headerLen` are ignored).
 * The payload is the caller's: `r.totalLength` must already count it.
 *
 * @returns bytes written: the header length.
 */
export function emitIpv4(r: Ipv4Repr, b: Uint8Array, o: number): number {
  const optLen = r.options.length;
  const headerLen = IPV4_HLEN + ((optLen + 3) & ~3);
  b[o] = 0x40 | (headerLen >>> 2);
  b[o + 1] = r.tos;
  setU16(b, o + 2, r.totalLength);
  setU16(b, o + 4, r.id);
  setU16(b, o + 6,
    (r.dontFrag ? FLAG_DF : 0) | (r.moreFrags ? FLAG_MF : 0) | ((r.fragOffset >>> 3) & FRAG_OFFSET_MASK));
  b[o + 8] = r.ttl;
  b[o + 9] = r.protocol;
  setU16(b, o + 10, 0);
  writeIpv4(b, o + 12, r.src);
  writeIpv4(b, o + 16, r.dst);
  if (optLen > 0) {
    b.set(r.options, o + IPV4_HLEN);
    b.fill(IPOPT_END, o + IPV4_HLEN + optLen, o + headerLen);
  }
  setU16(b, o + 10, checksum(b, o, headerLen));
  return headerLen;
}

/** True if the header checksum of the `headerLen`-byte IPv4 header at `b[o]` verifies. */
export function ipv4ChecksumOk(b: Uint8Array, o: number, headerLen: number): boolean {
  return checksum(b, o, headerLen) === 0;
}
