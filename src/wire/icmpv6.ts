/**
 * ICMPv6 (RFC 4443) and the Neighbor Discovery messages it carries (RFC 4861 §4).
 *
 * ```text
 *  0               1               2                               4
 * +---------------+---------------+-------------------------------+
 * |     Type      |     Code      |           Checksum            |
 * +---------------+---------------+-------------------------------+
 * |            rest of header (`rest`, bytes 4..8)                |
 * +---------------------------------------------------------------+
 *   echo request / reply:     identifier (16) | sequence (16)
 *   packet too big:           MTU (32)
 *   parameter problem:        pointer (32), into the invoking packet
 *   other errors, RS, NS:     unused (32)
 *   neighbour advertisement:  R | S | O | reserved (29)
 *   router advertisement:     cur hop limit (8) | M | O | reserved (6) | router lifetime (16)
 * ```
 *
 * Unlike ICMPv4's, the checksum also covers the IPv6 pseudo-header (RFC 4443 §2.3), so
 * parse and emit take its sum. Types below 128 are errors, which quote as much of the
 * invoking packet as fits in 1280 bytes (RFC 4443 §2.4 (c)).
 *
 * The Neighbor Discovery bodies, after those 8 bytes:
 *
 * ```text
 * router solicitation (133)    options
 * router advertisement (134)   reachable time (32) | retrans timer (32) | options
 * neighbour solicitation (135) target address (128) | options
 * neighbour advertisement (136) target address (128) | options
 * redirect (137)               target address (128) | destination address (128) | options
 * ```
 *
 * and their options, each a multiple of 8 bytes (RFC 4861 §4.6):
 *
 * ```text
 * +---------------+---------------+------------------------------ - -
 * |     Type      | Length (×8 B) |  …
 * +---------------+---------------+------------------------------ - -
 *  1 source / 2 target link-layer address: the MAC (6 bytes on Ethernet, RFC 2464 §8)
 *  3 prefix information (32 bytes): prefix length | L A reserved | valid lifetime |
 *    preferred lifetime | reserved (32) | prefix (128)
 *  5 MTU: reserved (16) | MTU (32)
 *  14 nonce (RFC 3971 §5.3.2): 6 bytes on one 8-byte unit, as Linux sends it (RFC 7527)
 * ```
 */
import { DropReason } from '../core/drop.js';
import { IPV6_ANY, readIpv6, readMac, writeIpv6, writeMac, type Ipv6Addr, type Mac } from './addr.js';
import { setU16, setU32, u16, u32 } from './bytes.js';
import { checksum, pseudoHeaderV6 } from './checksum.js';
import { IPPROTO_ICMPV6 } from './ipv6.js';

/** Length of the ICMPv6 header: type, code, checksum and the 4 bytes of `rest`. */
export const ICMPV6_HLEN = 8;

/** Type: destination unreachable (RFC 4443 §3.1). */
export const ICMPV6_DEST_UNREACH = 1;
/** Type: packet too big (§3.2); `rest` is the MTU of the next hop. */
export const ICMPV6_PKT_TOOBIG = 2;
/** Type: time exceeded (§3.3). */
export const ICMPV6_TIME_EXCEED = 3;
/** Type: parameter problem (§3.4); `rest` points at the offending byte. */
export const ICMPV6_PARAMPROB = 4;
/** Type: echo request (§4.1). */
export const ICMPV6_ECHO_REQUEST = 128;
/** Type: echo reply (§4.2). */
export const ICMPV6_ECHO_REPLY = 129;
/** Type: multicast listener query (RFC 2710 §3, RFC 3810 §5.1). */
export const ICMPV6_MLD_QUERY = 130;
/** Type: MLDv1 multicast listener report (RFC 2710 §3). */
export const ICMPV6_MLD_REPORT = 131;
/** Type: MLDv1 multicast listener done (RFC 2710 §3). */
export const ICMPV6_MLD_DONE = 132;
/** Type: router solicitation (RFC 4861 §4.1). */
export const ICMPV6_ROUTER_SOLICIT = 133;
/** Type: router advertisement (RFC 4861 §4.2). */
export const ICMPV6_ROUTER_ADVERT = 134;
/** Type: neighbour solicitation (RFC 4861 §4.3). */
export const ICMPV6_NEIGHBOUR_SOLICIT = 135;
/** Type: neighbour advertisement (RFC 4861 §4.4). */
export const ICMPV6_NEIGHBOUR_ADVERT = 136;
/** Type: redirect (RFC 4861 §4.5). */
export const ICMPV6_REDIRECT = 137;
/** Type: MLDv2 multicast listener report (RFC 3810 §5.2). */
export const ICMPV6_MLD2_REPORT = 143;

/** Destination unreachable code: no route to destination. */
export const ICMPV6_NOROUTE = 0;
/** Destination unreachable code: communication administratively prohibited (Linux ICMPV6_ADM_PROHIBITED). */
export const ICMPV6_ADMIN = 1;
/** Destination unreachable code: beyond the scope of the source address (Linux ICMPV6_NOT_NEIGHBOUR). */
export const ICMPV6_BEYONDSCOPE = 2;
/** Destination unreachable code: address unreachable (e.g. neighbour discovery failed). */
export const ICMPV6_ADDR_UNREACH = 3;
/** Destination unreachable code: port unreachable. */
export const ICMPV6_PORT_UNREACH = 4;
/** Destination unreachable code: source address failed ingress/egress policy. */
export const ICMPV6_POLICY_FAIL = 5;
/** Destination unreachable code: reject route to destination. */
export const ICMPV6_REJECT_ROUTE = 6;

/** Time exceeded code: hop limit exceeded in transit. */
export const ICMPV6_EXC_HOPLIMIT = 0;
/** Time exceeded code: fragment reassembly time exceeded. */
export const ICMPV6_EXC_FRAGTIME = 1;

/** Parameter problem code: erroneous header field. */
export const ICMPV6_HDR_FIELD = 0;
/** Parameter problem code: unrecognized next header type. */
export const ICMPV6_UNK_NEXTHDR = 1;
/** Parameter problem code: unrecognized IPv6 option. */
export const ICMPV6_UNK_OPTION = 2;

/** True for an error message (types 0–127, RFC 4443 §2.1), which must never answer another error. */
export function isIcmpv6Error(type: number): boolean {
  return type < 128;
}

/** An ICMPv6 header as values; the body stays in the buffer. */
export interface Icmpv6Repr {
  type: number;
  code: number;
  /** The checksum as received; emitters compute their own and ignore this. */
  checksum: number;
  /**
   * Bytes 4..8 as one big-endian uint32: `id << 16 | seq` for echo, the MTU for packet too
   * big, the pointer for a parameter problem, the flags of a neighbour advertisement.
   */
  rest: number;
}

/** A blank ICMPv6 repr, to be reused as the `out` of {@link parseIcmpv6}. */
export function newIcmpv6Repr(): Icmpv6Repr {
  return { type: 0, code: 0, checksum: 0, rest: 0 };
}

/**
 * Parses the `len`-byte ICMPv6 message at `b[o]` (header and body) into `out` and verifies its
 * checksum over all `len` bytes, starting from `pseudo`, the pseudo-header sum for length
 * `len` (`pseudoHeaderV6(src, dst, IPPROTO_ICMPV6, len)`, or built from the received header
 * with `ipv6AddrSum`).
 *
 * @returns `PKT_TOO_SMALL` below 8 bytes, `ICMP_CSUM` on a checksum mismatch (`out` is filled
 *   either way once 8 bytes are there), else `undefined`.
 */
export function parseIcmpv6(
  b: Uint8Array, o: number, len: number, pseudo: number, out: Icmpv6Repr,
): DropReason | undefined {
  if (len < ICMPV6_HLEN) return DropReason.PKT_TOO_SMALL;
  out.type = b[o]!;
  out.code = b[o + 1]!;
  out.checksum = u16(b, o + 2);
  out.rest = u32(b, o + 4);
  if (checksum(b, o, len, pseudo) !== 0) return DropReason.ICMP_CSUM;
  return undefined;
}

/**
 * Writes the 8-byte header `r` describes at `b[o]` and the checksum over `len` bytes (the
 * header and the body the caller has already placed after it), starting from `pseudo`, the
 * pseudo-header sum for length `len`.
 *
 * @returns bytes written (8).
 */
export function emitIcmpv6(r: Icmpv6Repr, b: Uint8Array, o: number, len: number, pseudo: number): number {
  b[o] = r.type;
  b[o + 1] = r.code;
  setU16(b, o + 2, 0);
  setU32(b, o + 4, r.rest);
  setU16(b, o + 2, checksum(b, o, len, pseudo));
  return ICMPV6_HLEN;
}

// ---- Neighbor Discovery: messages --------------------------------------------------------

/** Neighbour advertisement flag (in `rest`): the sender is a router. */
export const ND_NA_ROUTER = 0x8000_0000;
/** Neighbour advertisement flag: sent in response to a solicitation. */
export const ND_NA_SOLICITED = 0x4000_0000;
/** Neighbour advertisement flag: override an existing cache entry. */
export const ND_NA_OVERRIDE = 0x2000_0000;
/** Router advertisement flag (byte 5): addresses are available via DHCPv6 ("managed"). */
export const ND_RA_MANAGED = 0x80;
/** Router advertisement flag: other configuration is available via DHCPv6. */
export const ND_RA_OTHER = 0x40;

/** Bytes before the options of a router solicitation. */
export const ND_RS_LEN = 8;
/** Bytes before the options of a router advertisement. */
export const ND_RA_LEN = 16;
/** Bytes before the options of a neighbour solicitation. */
export const ND_NS_LEN = 24;
/** Bytes before the options of a neighbour advertisement. */
export const ND_NA_LEN = 24;
/** Bytes before the options of a redirect. */
export const ND_REDIRECT_LEN = 40;

/** The length of the fixed part of Neighbor Discovery message `type`, where its options start; -1 if not one. */
export function ndpHeaderLen(type: number): number {
  switch (type) {
    case ICMPV6_ROUTER_SOLICIT: return ND_RS_LEN;
    case ICMPV6_ROUTER_ADVERT: return ND_RA_LEN;
    case ICMPV6_NEIGHBOUR_SOLICIT: return ND_NS_LEN;
    case ICMPV6_NEIGHBOUR_ADVERT: return ND_NA_LEN;
    case ICMPV6_REDIRECT: return ND_REDIRECT_LEN;
    default: return -1;
  }
}

/**
 * The fields of a Neighbor Discovery message, all kinds in one object so that one can be
 * reused for every message; only the fields of the parsed message's kind are meaningful.
 */
export interface NdpRepr {
  /** NS, NA, redirect: the target address. */
  target: Ipv6Addr;
  /** Redirect: the destination that is better reached through `target`. */
  destination: Ipv6Addr;
  /** NA: the R, S and O flags. */
  router: boolean;
  solicited: boolean;
  override: boolean;
  /** RA: the hop limit hosts should use (0: unspecified). */
  curHopLimit: number;
  /** RA: the M and O flags. */
  managed: boolean;
  otherConfig: boolean;
  /** RA: seconds this router may be a default router (0: it is not one). */
  routerLifetime: number;
  /** RA: milliseconds a neighbour stays reachable after a confirmation (0: unspecified). */
  reachableTime: number;
  /** RA: milliseconds between retransmitted solicitations (0: unspecified). */
  retransTimer: number;
}

/** A blank repr, to be reused as the `out` of {@link parseNdp}. */
export function newNdpRepr(): NdpRepr {
  return {
    target: IPV6_ANY, destination: IPV6_ANY, router: false, solicited: false, override: false,
    curHopLimit: 0, managed: false, otherConfig: false, routerLifetime: 0, reachableTime: 0, retransTimer: 0,
  };
}

/**
 * Parses the fixed part of the `len`-byte Neighbor Discovery message at `b[o]` (ICMPv6 header
 * included, checksum already verified by {@link parseIcmpv6}) into `out`. Its options start
 * at `o + ndpHeaderLen(type)`; read them with {@link parseNdpOptions}.
 *
 * The checks are those of Linux `ndisc_rcv` and the per-type receivers that need only the
 * message, in their order, after the stage's own (a hop limit other than 255 →
 * `IPV6_NDISC_HOP_LIMIT`; a fragment header → `IPV6_NDISC_FRAG`):
 *
 * 1. shorter than the 8-byte ICMPv6 header → `PKT_TOO_SMALL`;
 * 2. not a type 133–137 → `INVALID_PROTO`;
 * 3. code ≠ 0 → `IPV6_NDISC_BAD_CODE`;
 * 4. shorter than the type's fixed part → `PKT_TOO_SMALL`.
 *
 * The rest of RFC 4861's validity rules (a multicast target, a DAD solicitation with a source
 * link-layer address, …) need the IPv6 addresses and are the stage's.
 */
export function parseNdp(b: Uint8Array, o: number, len: number, out: NdpRepr): DropReason | undefined {
  if (len < ICMPV6_HLEN) return DropReason.PKT_TOO_SMALL;
  const type = b[o]!;
  const fixed = ndpHeaderLen(type);
  if (fixed < 0) return DropReason.INVALID_PROTO;
  if (b[o + 1] !== 0) return DropReason.IPV6_NDISC_BAD_CODE;
  if (len < fixed) return DropReason.PKT_TOO_SMALL;
  switch (type) {
    case ICMPV6_ROUTER_ADVERT: {
      const flags = b[o + 5]!;
      out.curHopLimit = b[o + 4]!;
      out.managed = (flags & ND_RA_MANAGED) !== 0;
      out.otherConfig = (flags & ND_RA_OTHER) !== 0;
      out.routerLifetime = u16(b, o + 6);
      out.reachableTime = u32(b, o + 8);
      out.retransTimer = u32(b, o + 12);
      break;
    }
    case ICMPV6_NEIGHBOUR_ADVERT: {
      const flags = u32(b, o + 4);
      out.router = (flags & ND_NA_ROUTER) !== 0;
      out.solicited = (flags & ND_NA_SOLICITED) !== 0;
      out.override = (flags & ND_NA_OVERRIDE) !== 0;
      out.target = readIpv6(b, o + 8);
      break;
    }
    case ICMPV6_NEIGHBOUR_SOLICIT:
      out.target = readIpv6(b, o + 8);
      break;
    case ICMPV6_REDIRECT:
      out.target = readIpv6(b, o + 8);
      out.destination = readIpv6(b, o + 24);
      break;
    default: // router solicitation: nothing but reserved bytes
      break;
  }
  return undefined;
}

/**
 * Writes the Neighbor Discovery message of `type` with the fields of `r` and the options of
 * `opts` (none if null) at `b[o]`, with its checksum for `src` → `dst`.
 *
 * @returns bytes written: the whole ICMPv6 message.
 */
export function emitNdp(
  type: number, r: NdpRepr, opts: NdpOptions | null, b: Uint8Array, o: number, src: Ipv6Addr, dst: Ipv6Addr,
): number {
  const fixed = ndpHeaderLen(type);
  if (fixed < 0) throw new Error(`not a Neighbor Discovery type: ${type}`);
  b[o] = type;
  b[o + 1] = 0;
  setU16(b, o + 2, 0);
  setU32(b, o + 4, 0);
  switch (type) {
    case ICMPV6_ROUTER_ADVERT:
      b[o + 4] = r.curHopLimit;
      b[o + 5] = (r.managed ? ND_RA_MANAGED : 0) | (r.otherConfig ? ND_RA_OTHER : 0);
      setU16(b, o + 6, r.routerLifetime);
      setU32(b, o + 8, r.reachableTime);
      setU32(b, o + 12, r.retransTimer);
      break;
    case ICMPV6_NEIGHBOUR_ADVERT:
      setU32(b, o + 4, (r.router ? ND_NA_ROUTER : 0) | (r.solicited ? ND_NA_SOLICITED : 0)
        | (r.override ? ND_NA_OVERRIDE : 0));
      writeIpv6(b, o + 8, r.target);
      break;
    case ICMPV6_NEIGHBOUR_SOLICIT:
      writeIpv6(b, o + 8, r.target);
      break;
    case ICMPV6_REDIRECT:
      writeIpv6(b, o + 8, r.target);
      writeIpv6(b, o + 24, r.destination);
      break;
    default:
      break;
  }
  const len = fixed + (opts === null ? 0 : emitNdpOptions(opts, b, o + fixed));
  return finish(b, o, len, src, dst);
}

/** Stores the checksum of the `len`-byte message at `b[o]`; returns `len`. */
function finish(b: Uint8Array, o: number, len: number, src: Ipv6Addr, dst: Ipv6Addr): number {
  setU16(b, o + 2, checksum(b, o, len, pseudoHeaderV6(src, dst, IPPROTO_ICMPV6, len)));
  return len;
}

/**
 * Writes a neighbour solicitation for `target` at `b[o]` (RFC 4861 §4.3, §7.2.2): with a
 * source link-layer address option carrying `srcMac`, except from the unspecified address
 * (duplicate address detection), where RFC 4861 §4.3 forbids it; and with a nonce option if
 * `nonce` (48 bits) is not -1, as Linux adds to its DAD probes (RFC 7527 §4.1).
 *
 * @returns bytes written: 24, 32 or 40.
 */
export function emitNeighbourSolicit(
  b: Uint8Array, o: number, src: Ipv6Addr, dst: Ipv6Addr, target: Ipv6Addr, srcMac: Mac, nonce = -1,
): number {
  b[o] = ICMPV6_NEIGHBOUR_SOLICIT;
  b[o + 1] = 0;
  setU16(b, o + 2, 0);
  setU32(b, o + 4, 0);
  writeIpv6(b, o + 8, target);
  let len = ND_NS_LEN;
  if (src !== IPV6_ANY) len += emitLinkAddrOption(b, o + len, ND_OPT_SOURCE_LL_ADDR, srcMac);
  if (nonce !== -1) len += emitNonceOption(b, o + len, nonce);
  return finish(b, o, len, src, dst);
}

/**
 * Writes a neighbour advertisement for `target` at `b[o]` (RFC 4861 §4.4, §7.2.4) with the
 * `ND_NA_*` bits of `flags` and a target link-layer address option carrying `targetMac`,
 * left out if it is -1 (as Linux does answering a unicast solicitation, which RFC 4861 §7.2.4
 * allows).
 *
 * @returns bytes written: 32, or 24 without the option.
 */
export function emitNeighbourAdvert(
  b: Uint8Array, o: number, src: Ipv6Addr, dst: Ipv6Addr, target: Ipv6Addr, flags: number, targetMac: Mac | -1,
): number {
  b[o] = ICMPV6_NEIGHBOUR_ADVERT;
  b[o + 1] = 0;
  setU16(b, o + 2, 0);
  setU32(b, o + 4, flags & (ND_NA_ROUTER | ND_NA_SOLICITED | ND_NA_OVERRIDE));
  writeIpv6(b, o + 8, target);
  let len = ND_NA_LEN;
  if (targetMac !== -1) len += emitLinkAddrOption(b, o + len, ND_OPT_TARGET_LL_ADDR, targetMac);
  return finish(b, o, len, src, dst);
}

/**
 * Writes a router solicitation at `b[o]` (RFC 4861 §4.1, §6.3.7) with a source link-layer
 * address option carrying `srcMac`, except from the unspecified address (RFC 4861 §4.1).
 *
 * @returns bytes written: 16, or 8 without the option.
 */
export function emitRouterSolicit(b: Uint8Array, o: number, src: Ipv6Addr, dst: Ipv6Addr, srcMac: Mac): number {
  b[o] = ICMPV6_ROUTER_SOLICIT;
  b[o + 1] = 0;
  setU16(b, o + 2, 0);
  setU32(b, o + 4, 0);
  let len = ND_RS_LEN;
  if (src !== IPV6_ANY) len += emitLinkAddrOption(b, o + len, ND_OPT_SOURCE_LL_ADDR, srcMac);
  return finish(b, o, len, src, dst);
}

// ---- Neighbor Discovery: options ---------------------------------------------------------

/** Option type: source link-layer address. */
export const ND_OPT_SOURCE_LL_ADDR = 1;
/** Option type: target link-layer address. */
export const ND_OPT_TARGET_LL_ADDR = 2;
/** Option type: prefix information. */
export const ND_OPT_PREFIX_INFO = 3;
/** Option type: redirected header. */
export const ND_OPT_REDIRECT_HDR = 4;
/** Option type: MTU. */
export const ND_OPT_MTU = 5;
/** Option type: nonce. */
export const ND_OPT_NONCE = 14;

/** Prefix information flag: the prefix is on-link (L). */
export const ND_PREFIX_ONLINK = 0x80;
/** Prefix information flag: the prefix may be used for stateless autoconfiguration (A). */
export const ND_PREFIX_AUTONOMOUS = 0x40;
/** Length of a prefix information option. */
export const ND_PREFIX_OPT_LEN = 32;
/** Prefix information options kept per message; later ones are not read. */
export const NDP_MAX_PREFIXES = 8;

/** One prefix information option (RFC 4861 §4.6.2). */
export interface NdpPrefixInfo {
  /** The prefix as sent: bits past `prefixLen` are not cleared (the receiver must ignore them). */
  prefix: Ipv6Addr;
  /** As sent, 0–255: the receiver judges it. */
  prefixLen: number;
  onLink: boolean;
  autonomous: boolean;
  /** Seconds; 0xffffffff is infinity. */
  validLifetime: number;
  /** Seconds; 0xffffffff is infinity. */
  preferredLifetime: number;
}

/** The options of one Neighbor Discovery message; -1 where absent. */
export interface NdpOptions {
  sourceLinkAddr: Mac | -1;
  targetLinkAddr: Mac | -1;
  mtu: number | -1;
  /** The 48-bit nonce (RFC 7527), or -1. */
  nonce: number | -1;
  /** How many of {@link prefixes} are valid: prefix options in message order, at most {@link NDP_MAX_PREFIXES}. */
  prefixCount: number;
  /** Preallocated and reused by every parse: copy what must outlive the next one. */
  prefixes: NdpPrefixInfo[];
}

/** Empty options with room for {@link NDP_MAX_PREFIXES} prefixes, to be reused as the `out` of {@link parseNdpOptions}. */
export function newNdpOptions(): NdpOptions {
  const prefixes: NdpPrefixInfo[] = [];
  for (let i = 0; i < NDP_MAX_PREFIXES; i++) {
    prefixes.push({ prefix: IPV6_ANY, prefixLen: 0, onLink: false, autonomous: false, validLifetime: 0, preferredLifetime: 0 });
  }
  return { sourceLinkAddr: -1, targetLinkAddr: -1, mtu: -1, nonce: -1, prefixCount: 0, prefixes };
}

/** Marks every option of `out` absent. */
export function clearNdpOptions(out: NdpOptions): void {
  out.sourceLinkAddr = -1;
  out.targetLinkAddr = -1;
  out.mtu = -1;
  out.nonce = -1;
  out.prefixCount = 0;
}

/**
 * Reads the `len` option bytes at `b[o]` into `out`, walking them as Linux
 * `ndisc_parse_options` does:
 *
 * - an option must have its two header bytes, a length that is not 0 (RFC 4861 §4.6: "nodes
 *   MUST silently discard an ND packet that contains an option with length zero") and fit:
 *   else the whole message is refused, `IPV6_NDISC_BAD_OPTIONS`;
 * - of the link-layer address, MTU and nonce options the first one counts, later ones are
 *   ignored; a link-layer address option must be 8 bytes long (an Ethernet address,
 *   RFC 2464 §8) or the message is refused, as Linux refuses it wherever it reads one;
 *   a nonce of another length is ignored;
 * - prefix options shorter than 32 bytes are skipped (Linux "prefix option too short");
 *   the first {@link NDP_MAX_PREFIXES} are kept;
 * - unknown options are skipped (RFC 4861 §4.6).
 *
 * On a drop, `out` holds the options read before the bad one.
 */
export function parseNdpOptions(b: Uint8Array, o: number, len: number, out: NdpOptions): DropReason | undefined {
  clearNdpOptions(out);
  let p = o;
  const end = o + len;
  while (p < end) {
    if (end - p < 2) return DropReason.IPV6_NDISC_BAD_OPTIONS;
    const type = b[p]!;
    const units = b[p + 1]!;
    const optLen = units * 8;
    if (optLen === 0 || optLen > end - p) return DropReason.IPV6_NDISC_BAD_OPTIONS;
    switch (type) {
      case ND_OPT_SOURCE_LL_ADDR:
        if (out.sourceLinkAddr === -1) {
          if (units !== 1) return DropReason.IPV6_NDISC_BAD_OPTIONS;
          out.sourceLinkAddr = readMac(b, p + 2);
        }
        break;
      case ND_OPT_TARGET_LL_ADDR:
        if (out.targetLinkAddr === -1) {
          if (units !== 1) return DropReason.IPV6_NDISC_BAD_OPTIONS;
          out.targetLinkAddr = readMac(b, p + 2);
        }
        break;
      case ND_OPT_MTU:
        if (out.mtu === -1) out.mtu = u32(b, p + 4);
        break;
      case ND_OPT_NONCE:
        if (out.nonce === -1 && units === 1) out.nonce = readMac(b, p + 2);
        break;
      case ND_OPT_PREFIX_INFO:
        if (optLen >= ND_PREFIX_OPT_LEN && out.prefixCount < out.prefixes.length) {
          const pi = out.prefixes[out.prefixCount++]!;
          const flags = b[p + 3]!;
          pi.prefixLen = b[p + 2]!;
          pi.onLink = (flags & ND_PREFIX_ONLINK) !== 0;
          pi.autonomous = (flags & ND_PREFIX_AUTONOMOUS) !== 0;
          pi.validLifetime = u32(b, p + 4);
          pi.preferredLifetime = u32(b, p + 8);
          pi.prefix = readIpv6(b, p + 16);
        }
        break;
      default:
        break;
    }
    p += optLen;
  }
  return undefined;
}

/** The bytes {@link emitNdpOptions} writes for `opts`. */
export function ndpOptionsLen(opts: NdpOptions): number {
  return (opts.sourceLinkAddr === -1 ? 0 : 8) + (opts.targetLinkAddr === -1 ? 0 : 8) + (opts.mtu === -1 ? 0 : 8)
    + (opts.nonce === -1 ? 0 : 8) + opts.prefixCount * ND_PREFIX_OPT_LEN;
}

/**
 * Writes the options of `opts` at `b[o]` in a fixed order: source and target link-layer
 * addresses, MTU, nonce, then the first `prefixCount` prefixes (reserved bytes zero).
 *
 * @returns bytes written, {@link ndpOptionsLen}.
 */
export function emitNdpOptions(opts: NdpOptions, b: Uint8Array, o: number): number {
  let p = o;
  if (opts.sourceLinkAddr !== -1) p += emitLinkAddrOption(b, p, ND_OPT_SOURCE_LL_ADDR, opts.sourceLinkAddr);
  if (opts.targetLinkAddr !== -1) p += emitLinkAddrOption(b, p, ND_OPT_TARGET_LL_ADDR, opts.targetLinkAddr);
  if (opts.mtu !== -1) {
    b[p] = ND_OPT_MTU;
    b[p + 1] = 1;
    setU16(b, p + 2, 0);
    setU32(b, p + 4, opts.mtu);
    p += 8;
  }
  if (opts.nonce !== -1) p += emitNonceOption(b, p, opts.nonce);
  for (let i = 0; i < opts.prefixCount; i++) {
    const pi = opts.prefixes[i]!;
    b[p] = ND_OPT_PREFIX_INFO;
    b[p + 1] = ND_PREFIX_OPT_LEN / 8;
    b[p + 2] = pi.prefixLen;
    b[p + 3] = (pi.onLink ? ND_PREFIX_ONLINK : 0) | (pi.autonomous ? ND_PREFIX_AUTONOMOUS : 0);
    setU32(b, p + 4, pi.validLifetime);
    setU32(b, p + 8, pi.preferredLifetime);
    setU32(b, p + 12, 0);
    writeIpv6(b, p + 16, pi.prefix);
    p += ND_PREFIX_OPT_LEN;
  }
  return p - o;
}

/** Writes an 8-byte source or target link-layer address option; returns 8. */
function emitLinkAddrOption(b: Uint8Array, o: number, type: number, mac: Mac): number {
  b[o] = type;
  b[o + 1] = 1;
  writeMac(b, o + 2, mac);
  return 8;
}

/** Writes an 8-byte nonce option with a 48-bit nonce; returns 8. */
function emitNonceOption(b: Uint8Array, o: number, nonce: number): number {
  b[o] = ND_OPT_NONCE;
  b[o + 1] = 1;
  writeMac(b, o + 2, nonce);
  return 8;
}
