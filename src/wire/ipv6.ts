/**
 * The IPv6 header (RFC 8200 §3).
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Version| Traffic Class |              Flow Label               |  0
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         Payload Length        |  Next Header  |   Hop Limit   |  4
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                                                               |
 * +                       Source Address (128)                    +  8
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                                                               |
 * +                    Destination Address (128)                  + 24
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * A fixed 40 bytes and no checksum: upper layers cover the addresses with their pseudo-header
 * (`pseudoHeaderV6` in checksum.ts). Payload Length counts everything after these 40 bytes,
 * extension headers included. Next Header names the first extension header or the upper
 * layer, with IPv4's protocol numbers; the extension headers' numbers are the `NEXTHDR_*`
 * below, and ipv6-ext.ts walks them.
 */
import { DropReason } from '../core/drop.js';
import { readIpv6, writeIpv6, type Ipv6Addr } from './addr.js';
import { setU16, setU32, u16, u32 } from './bytes.js';

/** Length of the IPv6 header. */
export const IPV6_HLEN = 40;
/** The smallest MTU every IPv6 link has (RFC 8200 §5): ICMPv6 errors fit in it. */
export const IPV6_MIN_MTU = 1280;

/** Next header: hop-by-hop options (RFC 8200 §4.3); only ever right after the fixed header. */
export const NEXTHDR_HOP = 0;
/** Next header: TCP (as IPv4's protocol number). */
export const NEXTHDR_TCP = 6;
/** Next header: UDP. */
export const NEXTHDR_UDP = 17;
/** Next header: IPv6 encapsulated in IPv6 (RFC 2473). */
export const NEXTHDR_IPV6 = 41;
/** Next header: routing header (RFC 8200 §4.4). */
export const NEXTHDR_ROUTING = 43;
/** Next header: fragment header (RFC 8200 §4.5). */
export const NEXTHDR_FRAGMENT = 44;
/** Next header: Encapsulating Security Payload (RFC 4303); what follows is opaque. */
export const NEXTHDR_ESP = 50;
/** Next header: Authentication Header (RFC 4302); its length counts 4-byte units. */
export const NEXTHDR_AUTH = 51;
/** Next header: ICMPv6 (RFC 4443). */
export const NEXTHDR_ICMP = 58;
/** Next header: nothing follows (RFC 8200 §4.7). */
export const NEXTHDR_NONE = 59;
/** Next header: destination options (RFC 8200 §4.6). */
export const NEXTHDR_DEST = 60;
/** Protocol number of ICMPv6, for pseudo-headers. */
export const IPPROTO_ICMPV6 = 58;

const VERSION_SHIFT = 28;
const TCLASS_SHIFT = 20;
const FLOW_MASK = 0xf_ffff;

/** An IPv6 header as values. */
export interface Ipv6Repr {
  /** The 8-bit traffic class: DSCP (6 bits) and ECN (2 bits), like IPv4's TOS byte. */
  trafficClass: number;
  /** The 20-bit flow label (RFC 6437). */
  flowLabel: number;
  /** Bytes after the fixed header: extension headers and upper-layer data. */
  payloadLength: number;
  /** The first extension header or the upper-layer protocol. */
  nextHeader: number;
  hopLimit: number;
  src: Ipv6Addr;
  dst: Ipv6Addr;
}

/** A blank header, to be reused as the `out` of {@link parseIpv6}. */
export function newIpv6Repr(): Ipv6Repr {
  return {
    trafficClass: 0, flowLabel: 0, payloadLength: 0, nextHeader: NEXTHDR_NONE, hopLimit: 64, src: '::', dst: '::',
  };
}

/**
 * Parses the IPv6 header at `b[o]`, where `len` bytes are available (link-layer padding
 * included), into `out`. The checks are Linux `ip6_rcv_core`'s that need no more than the
 * header, with its reasons (it counts all but the truncated packet in Ip6 InHdrErrors):
 *
 * 1. shorter than 40 bytes → `IP_INHDR`;
 * 2. version ≠ 6 → `UNHANDLED_PROTO`;
 * 3. payload length 0 with a hop-by-hop header next → `IP_INHDR`: that announces a jumbogram
 *    (RFC 2675), which no link of ours can carry (Linux answers a jumbo option of at most
 *    65535 bytes with a parameter problem and the same reason);
 * 4. payload length longer than what is there → `PKT_TOO_SMALL` (Ip6 InTruncatedPkts).
 *
 * Bytes after `40 + payloadLength` are padding and not the packet's. The address checks that
 * follow in Linux (loopback or multicast source, multicast scope 0 or 1, …) depend on the
 * interface and are the stage's. On the last two drops, `out` already holds the fields.
 */
export function parseIpv6(b: Uint8Array, o: number, len: number, out: Ipv6Repr): DropReason | undefined {
  if (len < IPV6_HLEN) return DropReason.IP_INHDR;
  const first = u32(b, o);
  if (first >>> VERSION_SHIFT !== 6) return DropReason.UNHANDLED_PROTO;
  out.trafficClass = (first >>> TCLASS_SHIFT) & 0xff;
  out.flowLabel = first & FLOW_MASK;
  out.payloadLength = u16(b, o + 4);
  out.nextHeader = b[o + 6]!;
  out.hopLimit = b[o + 7]!;
  out.src = readIpv6(b, o + 8);
  out.dst = readIpv6(b, o + 24);
  if (out.payloadLength === 0 && out.nextHeader === NEXTHDR_HOP) return DropReason.IP_INHDR;
  if (out.payloadLength > len - IPV6_HLEN) return DropReason.PKT_TOO_SMALL;
  return undefined;
}

/**
 * Writes the header `r` describes at `b[o]`. The payload is the caller's: `r.payloadLength`
 * must already count it.
 *
 * @returns bytes written (40).
 */
export function emitIpv6(r: Ipv6Repr, b: Uint8Array, o: number): number {
  setU32(b, o, ((6 << VERSION_SHIFT) | ((r.trafficClass & 0xff) << TCLASS_SHIFT) | (r.flowLabel & FLOW_MASK)) >>> 0);
  setU16(b, o + 4, r.payloadLength);
  b[o + 6] = r.nextHeader;
  b[o + 7] = r.hopLimit;
  writeIpv6(b, o + 8, r.src);
  writeIpv6(b, o + 24, r.dst);
  return IPV6_HLEN;
}
