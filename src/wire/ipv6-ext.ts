/**
 * IPv6 extension headers (RFC 8200 §4), walked one at a time: each names the next in its
 * first byte, as the fixed header names the first.
 *
 * ```text
 * hop-by-hop options (0), routing (43), destination options (60):
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Next Header  |  Hdr Ext Len  |  (options, or routing type   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+   and segments left, …)       |
 * |                 … (Hdr Ext Len + 1) × 8 bytes in all          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * routing header, bytes 2 and 3:  Routing Type | Segments Left
 *
 * fragment (44), always 8 bytes:
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                         Identification                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * authentication header (51): Payload Len counts 4-byte units, minus 2 (RFC 4302 §2.2).
 * ```
 *
 * The hop-by-hop and destination options headers carry type-length-value options
 * (RFC 8200 §4.2), padded to a multiple of 8 bytes with Pad1 (a single zero byte) and PadN
 * (type 1, a length, that many zero bytes):
 *
 * ```text
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+- - - - - - - - -
 * |  Option Type  |  Opt Data Len |  Option Data
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+- - - - - - - - -
 *  top two bits of the type: what a node that does not know the option must do
 *  00 skip it · 01 discard the packet · 10 discard, send a parameter problem (code 2)
 *  11 discard, and send the parameter problem only if the destination was not multicast
 * ```
 */
import { DropReason } from '../core/drop.js';
import { setU16, setU32, u16, u32 } from './bytes.js';
import {
  NEXTHDR_AUTH, NEXTHDR_DEST, NEXTHDR_FRAGMENT, NEXTHDR_HOP, NEXTHDR_ROUTING,
} from './ipv6.js';

/** Option type: one byte of padding. */
export const IPV6_TLV_PAD1 = 0;
/** Option type: 2 + n bytes of padding. */
export const IPV6_TLV_PADN = 1;
/** Option type: router alert (RFC 2711), hop-by-hop only; 2 bytes of data. */
export const IPV6_TLV_ROUTERALERT = 5;
/** Option type: jumbo payload (RFC 2675), hop-by-hop only; 4 bytes of data. */
export const IPV6_TLV_JUMBO = 0xc2;
/** Router alert value: the packet carries an MLD message (RFC 2711 §2.1). */
export const IPV6_RA_MLD = 0;
/**
 * Most non-padding options one options header may hold before the packet is refused: Linux's
 * default for both kinds (sysctl `max_hbh_opts_number`, `max_dst_opts_number`), against
 * packets that make a receiver walk long option lists.
 */
export const IPV6_MAX_OPTIONS = 8;

/** Length of the fragment header. */
export const IPV6_FRAG_HLEN = 8;
/** Offset of Routing Type in a routing header: the pointer of a parameter problem about it. */
export const RTHDR_TYPE_OFFSET = 2;
/** Offset of Segments Left in a routing header. */
export const RTHDR_SEGMENTS_LEFT_OFFSET = 3;

const FRAG_MF = 0x0001;
const FRAG_OFFSET_MASK = 0xfff8;

// ---- walking -------------------------------------------------------------------------------

/**
 * True for the extension headers {@link extHeaderLen} can step over: hop-by-hop, routing,
 * fragment, authentication and destination options. Not ESP (what follows it is encrypted)
 * nor No Next Header (nothing follows); both end a walk, as in Linux `ipv6_skip_exthdr`.
 */
export function isExtHeader(nextHeader: number): boolean {
  return nextHeader === NEXTHDR_HOP || nextHeader === NEXTHDR_ROUTING || nextHeader === NEXTHDR_FRAGMENT
    || nextHeader === NEXTHDR_AUTH || nextHeader === NEXTHDR_DEST;
}

/** The Next Header field of the extension header at `b[o]`: what comes after it. */
export function extNextHeader(b: Uint8Array, o: number): number {
  return b[o]!;
}

/**
 * The length in bytes of the extension header of kind `nextHeader` at `b[o]`, where `avail`
 * bytes of the packet remain, or -1 if `nextHeader` is not one {@link isExtHeader} names or
 * the header does not fit in `avail`. Every extension header is at least 8 bytes long.
 */
export function extHeaderLen(b: Uint8Array, o: number, avail: number, nextHeader: number): number {
  if (avail < 8) return -1;
  let len: number;
  switch (nextHeader) {
    case NEXTHDR_HOP:
    case NEXTHDR_ROUTING:
    case NEXTHDR_DEST:
      len = (b[o + 1]! + 1) * 8;
      break;
    case NEXTHDR_FRAGMENT:
      len = IPV6_FRAG_HLEN;
      break;
    case NEXTHDR_AUTH:
      len = (b[o + 1]! + 2) * 4;
      break;
    default:
      return -1;
  }
  return len <= avail ? len : -1;
}

// ---- options (hop-by-hop, destination) -----------------------------------------------------

/*
 * What {@link checkTlvOptions} found, as one number so that checking allocates nothing:
 * `pointer * 8 + action`, where the pointer is the offset of the offending option's type byte
 * (or field) from the start of the extension header. Read it with {@link tlvAction} and
 * {@link tlvPointer}; the ICMP pointer is that plus the header's offset from the IPv6 header.
 * Action 00 of RFC 8200 §4.2 ("skip over this option") never ends a walk, so it is no result.
 */

/** Every option is well formed and known or skippable: go on. */
export const TLV_OK = 0;
/** Badly framed (overrun, more than 7 bytes of padding, non-zero PadN, a wrong known option): drop silently, `IP_INHDR`. */
export const TLV_MALFORMED = 1;
/** Unknown option with action 01: drop silently, `UNHANDLED_PROTO`. */
export const TLV_DISCARD = 2;
/** Unknown option with action 10: drop, parameter problem code 2 (unrecognized option) at the pointer, `UNHANDLED_PROTO`. */
export const TLV_ICMP = 3;
/** Unknown option with action 11: as {@link TLV_ICMP}, but silently if the destination was multicast. */
export const TLV_ICMP_UNLESS_MULTICAST = 4;
/** A known option with a bad value (jumbo payload): drop, parameter problem code 0 (header field) at the pointer, `IP_INHDR`. */
export const TLV_ICMP_HDR_FIELD = 5;

/** The action (`TLV_*`) of a {@link checkTlvOptions} result. */
export function tlvAction(result: number): number {
  return result & 7;
}

/** The pointer of a {@link checkTlvOptions} result: offset from the start of the extension header. */
export function tlvPointer(result: number): number {
  return result >>> 3;
}

/**
 * Checks the options of the `len`-byte hop-by-hop (`hopByHop`) or destination options header
 * at `b[o]` (`len` from {@link extHeaderLen}) as Linux `ip6_parse_tlv` does, stopping at the
 * first problem:
 *
 * - Pad1 and PadN may total at most 7 bytes in a row, and PadN's bytes must be zero
 *   (RFC 4942 §2.1.9.5); an option must fit in the header; at most `maxOptions` others.
 * - Router alert (hop-by-hop) must have 2 bytes of data, or the header is malformed.
 * - Jumbo payload (hop-by-hop) is refused: with a bad length or alignment as malformed; else
 *   with a parameter problem at its value when that is at most 65535, or at the option when it
 *   is larger, since the payload length was then not 0 (`parseIpv6` of ipv6.ts refuses a 0).
 * - Any other option is unknown: its type's top two bits decide (see the file header).
 *
 * @returns {@link TLV_OK}, or an action and pointer (see {@link tlvAction}).
 */
export function checkTlvOptions(
  b: Uint8Array, o: number, len: number, hopByHop = false, maxOptions = IPV6_MAX_OPTIONS,
): number {
  let padLen = 0;
  let count = 0;
  let i = 2;
  while (i < len) {
    const type = b[o + i]!;
    if (type === IPV6_TLV_PAD1) {
      if (++padLen > 7) return tlvResult(TLV_MALFORMED, i);
      i++;
      continue;
    }
    if (i + 2 > len) return tlvResult(TLV_MALFORMED, i);
    const optLen = b[o + i + 1]! + 2;
    if (i + optLen > len) return tlvResult(TLV_MALFORMED, i);
    if (type === IPV6_TLV_PADN) {
      padLen += optLen;
      if (padLen > 7) return tlvResult(TLV_MALFORMED, i);
      for (let k = 2; k < optLen; k++) if (b[o + i + k] !== 0) return tlvResult(TLV_MALFORMED, i);
    } else {
      if (++count > maxOptions) return tlvResult(TLV_MALFORMED, i);
      let verdict: number;
      if (hopByHop && type === IPV6_TLV_ROUTERALERT) verdict = optLen === 4 ? TLV_OK : tlvResult(TLV_MALFORMED, i);
      else if (hopByHop && type === IPV6_TLV_JUMBO) verdict = jumboVerdict(b, o, i, optLen);
      else verdict = unknownOption(type, i);
      if (verdict !== TLV_OK) return verdict;
      padLen = 0;
    }
    i += optLen;
  }
  return TLV_OK;
}

function tlvResult(action: number, pointer: number): number {
  return pointer * 8 + action;
}

/** Linux `ipv6_hop_jumbo`: every jumbo option is refused here, for the first reason that applies. */
function jumboVerdict(b: Uint8Array, o: number, i: number, optLen: number): number {
  // The 4-byte value must be 4n-aligned: the option starts at 4n + 2 (the header itself
  // starts 8n bytes into the packet, so alignment within it is alignment in the packet).
  if (optLen !== 6 || (i & 3) !== 2) return tlvResult(TLV_MALFORMED, i);
  if (u32(b, o + i + 2) <= 0xffff) return tlvResult(TLV_ICMP_HDR_FIELD, i + 2);
  return tlvResult(TLV_ICMP_HDR_FIELD, i);
}

/** RFC 8200 §4.2: the top two bits of an unknown option's type say what to do. */
function unknownOption(type: number, i: number): number {
  switch (type >>> 6) {
    case 0: return TLV_OK;
    case 1: return tlvResult(TLV_DISCARD, i);
    case 2: return tlvResult(TLV_ICMP, i);
    default: return tlvResult(TLV_ICMP_UNLESS_MULTICAST, i);
  }
}

/**
 * The offset (from the start of the `len`-byte options header at `b[o]`) of the first option
 * of type `type`, or -1 if there is none or the options are badly framed. For reading an
 * option's value once {@link checkTlvOptions} has passed the header: the router alert
 * value is `u16(b, o + offset + 2)`.
 */
export function findTlvOption(b: Uint8Array, o: number, len: number, type: number): number {
  let i = 2;
  while (i < len) {
    const t = b[o + i]!;
    if (t === type) return i;
    if (t === IPV6_TLV_PAD1) {
      i++;
      continue;
    }
    if (i + 2 > len) return -1;
    i += b[o + i + 1]! + 2;
  }
  return -1;
}

/**
 * Writes at `b[o]` the 8-byte hop-by-hop header an MLD message travels with (RFC 3810 §5,
 * RFC 2711): a router alert with `value`, then a 2-byte PadN — byte for byte what Linux sends.
 *
 * @returns bytes written (8).
 */
export function emitRouterAlertHopByHop(b: Uint8Array, o: number, nextHeader: number, value = IPV6_RA_MLD): number {
  b[o] = nextHeader;
  b[o + 1] = 0;
  b[o + 2] = IPV6_TLV_ROUTERALERT;
  b[o + 3] = 2;
  setU16(b, o + 4, value);
  b[o + 6] = IPV6_TLV_PADN;
  b[o + 7] = 0;
  return 8;
}

// ---- routing -------------------------------------------------------------------------------

/** The Routing Type of the routing header at `b[o]`. */
export function routingType(b: Uint8Array, o: number): number {
  return b[o + RTHDR_TYPE_OFFSET]!;
}

/** The Segments Left of the routing header at `b[o]`: hops still to visit (0: we are the last). */
export function routingSegmentsLeft(b: Uint8Array, o: number): number {
  return b[o + RTHDR_SEGMENTS_LEFT_OFFSET]!;
}

// ---- fragment ------------------------------------------------------------------------------

/** A fragment header as values. */
export interface Ipv6FragRepr {
  /** The header of the fragmentable part (the same in every fragment of a packet). */
  nextHeader: number;
  /** Where this fragment's data goes in the fragmentable part, in bytes (a multiple of 8). */
  offset: number;
  /** More fragments follow. */
  moreFrags: boolean;
  /** Identification, uint32: with the addresses, names the packet. */
  id: number;
}

/** A blank fragment header, to be reused as the `out` of {@link parseIpv6Frag}. */
export function newIpv6FragRepr(): Ipv6FragRepr {
  return { nextHeader: 0, offset: 0, moreFrags: false, id: 0 };
}

/**
 * Parses the fragment header at `b[o]`, where `len` bytes remain, into `out`. The reserved
 * fields are ignored (RFC 8200 §4.5).
 *
 * @returns `IP_INHDR` if fewer than 8 bytes remain (Linux counts it in Ip6 InHdrErrors and
 *   sends a parameter problem pointing at the header), else `undefined`.
 */
export function parseIpv6Frag(b: Uint8Array, o: number, len: number, out: Ipv6FragRepr): DropReason | undefined {
  if (len < IPV6_FRAG_HLEN) return DropReason.IP_INHDR;
  const field = u16(b, o + 2);
  out.nextHeader = b[o]!;
  out.offset = field & FRAG_OFFSET_MASK;
  out.moreFrags = (field & FRAG_MF) !== 0;
  out.id = u32(b, o + 4);
  return undefined;
}

/**
 * Writes the fragment header `r` describes at `b[o]`, reserved fields zero.
 *
 * @returns bytes written (8).
 */
export function emitIpv6Frag(r: Ipv6FragRepr, b: Uint8Array, o: number): number {
  b[o] = r.nextHeader;
  b[o + 1] = 0;
  setU16(b, o + 2, (r.offset & FRAG_OFFSET_MASK) | (r.moreFrags ? FRAG_MF : 0));
  setU32(b, o + 4, r.id);
  return IPV6_FRAG_HLEN;
}
