/**
 * ICMPv6 (RFC 4443): echo, the error messages we send and the ones we receive, and the
 * hand-off of neighbour discovery's messages to ndisc.ts.
 *
 * Errors follow RFC 4443 §2.4: never about an ICMPv6 error or a redirect, nor about a
 * packet sent to a multicast address (link-layer or IPv6) or from one that names no single
 * node — except Packet Too Big and the Parameter Problem an option's type bits ask for —
 * and rate limited as Linux does: a global token bucket and one per destination whose
 * interval shrinks with the route's prefix length (icmpv6_xrlim_allow). Informational
 * replies are not limited (net.ipv6.icmp.ratemask). An error quotes as much of the
 * packet as fits in the minimum MTU (1280).
 */
import type { StackConfig } from '../core/config.js';
import type { Counters, Icmp6Mib } from '../core/counters.js';
import { CONSUMED, DropReason, Stage, type DropCounts, type Verdict } from '../core/drop.js';
import { KeyedTokenBuckets, TokenBucket } from '../core/ratelimit.js';
import { enter } from '../core/trace.js';
import { PacketType } from '../eth/ethernet.js';
import { isIpv6Multicast, isIpv6Unspecified, readIpv6, type Ipv6Addr } from '../wire/addr.js';
import { u16, u32 } from '../wire/bytes.js';
import { pseudoHeaderV6 } from '../wire/checksum.js';
import {
  ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, ICMPV6_HLEN, ICMPV6_MLD_QUERY, ICMPV6_NEIGHBOUR_ADVERT, ICMPV6_NEIGHBOUR_SOLICIT,
  ICMPV6_PARAMPROB, ICMPV6_PKT_TOOBIG, ICMPV6_REDIRECT, ICMPV6_ROUTER_ADVERT, ICMPV6_ROUTER_SOLICIT, ICMPV6_UNK_OPTION,
  emitIcmpv6, newIcmpv6Repr, parseIcmpv6,
} from '../wire/icmpv6.js';
import {
  IPPROTO_ICMPV6, IPV6_HLEN, IPV6_MIN_MTU, NEXTHDR_DEST, NEXTHDR_FRAGMENT, NEXTHDR_HOP, NEXTHDR_ROUTING,
} from '../wire/ipv6.js';
import { extHeaderLen } from '../wire/ipv6-ext.js';
import type { IpRx } from './ip.js';
import { TX_HEADROOM6, type Ipv6 } from './ipv6.js';
import type { Mld } from './mld.js';
import type { Ndisc } from './ndisc.js';
import { RouteType } from './route.js';

/** The named Icmp6 counters of each type, in and out (Linux icmp6type2name). */
const NAMES: Record<number, [keyof Icmp6Mib, keyof Icmp6Mib]> = {
  1: ['InDestUnreachs', 'OutDestUnreachs'],
  2: ['InPktTooBigs', 'OutPktTooBigs'],
  3: ['InTimeExcds', 'OutTimeExcds'],
  4: ['InParmProblems', 'OutParmProblems'],
  128: ['InEchos', 'OutEchos'],
  129: ['InEchoReplies', 'OutEchoReplies'],
  130: ['InGroupMembQueries', 'OutGroupMembQueries'],
  131: ['InGroupMembResponses', 'OutGroupMembResponses'],
  132: ['InGroupMembReductions', 'OutGroupMembReductions'],
  133: ['InRouterSolicits', 'OutRouterSolicits'],
  134: ['InRouterAdvertisements', 'OutRouterAdvertisements'],
  135: ['InNeighborSolicits', 'OutNeighborSolicits'],
  136: ['InNeighborAdvertisements', 'OutNeighborAdvertisements'],
  137: ['InRedirects', 'OutRedirects'],
  143: ['InMLDv2Reports', 'OutMLDv2Reports'],
};


export class Icmpv6 {
  private readonly rx = newIcmpv6Repr();
  private readonly tx = newIcmpv6Repr();
  private readonly globalLimit: TokenBucket;
  private readonly hostLimit: KeyedTokenBuckets<Ipv6Addr>;
  /** Set once the stack is wired: NDP's messages go there, and MLD's queries. */
  ndisc: Ndisc | null = null;
  mld: Mld | null = null;

  constructor(
    private readonly cfg: StackConfig,
    private readonly counters: Counters,
    private readonly drops: DropCounts,
    private readonly ip: Ipv6,
  ) {
    const icmp = cfg.icmp;
    this.globalLimit = new TokenBucket(icmp.msgsPerSec, icmp.msgsBurst);
    // Our destinations are on-link /64s: Linux halves the 1 s interval for every 32 bits of
    // prefix short of /128, so a /64 gets one error per 250 ms, with a burst of 6.
    this.hostLimit = new KeyedTokenBuckets(1000 / (cfg.ipv6.icmpRatelimitMs / 4), icmp.ratelimitBurst, icmp.maxPeers);
  }

  // ── ingress ──────────────────────────────────────────────────────────────

  input(rx: IpRx, now: number): Verdict {
    enter(Stage.ICMPV6);
    const mib = this.counters.Icmp6;
    mib.InMsgs++;
    const icmp = this.rx;
    const bad = parseIcmpv6(rx.pkt, rx.off, rx.len, rx.addrSum + IPPROTO_ICMPV6 + rx.len, icmp);
    if (bad !== undefined) {
      if (bad === DropReason.ICMP_CSUM) mib.InCsumErrors++;
      mib.InErrors++;
      return bad;
    }
    this.countIn(icmp.type);

    switch (icmp.type) {
      case ICMPV6_ECHO_REQUEST:
        this.echoReply(rx, now);
        return CONSUMED;
      case ICMPV6_ECHO_REPLY:
        // No ping sockets: nobody asked for this reply.
        return DropReason.NO_SOCKET;
      case ICMPV6_PKT_TOOBIG:
        // The MTU, then the start of the packet we sent: learn the path MTU toward its destination.
        if (rx.len >= ICMPV6_HLEN + IPV6_HLEN) {
          const quoted = rx.off + ICMPV6_HLEN;
          this.ip.learnPathMtu(readIpv6(rx.pkt, quoted + 24), icmp.rest, now); // the quoted header's destination
        }
        return CONSUMED;
      case ICMPV6_MLD_QUERY:
        return this.mld!.query(rx, now);
      case ICMPV6_ROUTER_SOLICIT:
      case ICMPV6_ROUTER_ADVERT:
      case ICMPV6_NEIGHBOUR_SOLICIT:
      case ICMPV6_NEIGHBOUR_ADVERT:
      case ICMPV6_REDIRECT:
        return this.ndisc!.input(rx, now);
      default:
        // Errors about our packets, MLD and the rest: counted, nothing more to do.
        return CONSUMED;
    }
  }

  private echoReply(rx: IpRx, now: number): void {
    const src = rx.rtype === RouteType.LOCAL ? (rx.dst as Ipv6Addr) : this.ip.sourceFor(rx.src as Ipv6Addr);
    const len = rx.len;
    const frame = new Uint8Array(TX_HEADROOM6 + len);
    frame.set(rx.pkt.subarray(rx.off, rx.off + len), TX_HEADROOM6);
    this.header(ICMPV6_ECHO_REPLY, 0, this.rx.rest);
    this.send(frame, len, src, rx.src as Ipv6Addr, now);
  }

  /** Checksums and sends the ICMPv6 message in `frame` (its header from `header()`). */
  private send(frame: Uint8Array, len: number, src: Ipv6Addr, dst: Ipv6Addr, now: number): void {
    const icmp = this.tx;
    emitIcmpv6(icmp, frame, TX_HEADROOM6, len, pseudoHeaderV6(src, dst, IPPROTO_ICMPV6, len));
    this.transmit(frame, len, src, dst, icmp.type, now);
  }

  /** Sends the finished `type` message at `frame[TX_HEADROOM6…]` and counts it (Icmp6OutErrors if IP refused it). */
  transmit(
    frame: Uint8Array, len: number, src: Ipv6Addr, dst: Ipv6Addr, type: number, now: number, hopLimit?: number,
    nextHeader = IPPROTO_ICMPV6,
  ): void {
    const failed = this.ip.output(frame, len, nextHeader, src, dst, now, hopLimit === undefined ? undefined : { hopLimit });
    if (failed !== undefined) this.counters.Icmp6.OutErrors++;
    else this.countOut(type);
  }

  private header(type: number, code: number, rest: number): void {
    const icmp = this.tx;
    icmp.type = type;
    icmp.code = code;
    icmp.rest = rest;
  }

  // ── egress: errors ──────────────────────────────────────────────────────

  /**
   * Sends an ICMPv6 error about the packet `rx` describes (`rx.pkt[rx.ipOff…]`), unless
   * RFC 4443 §2.4 forbids it or the rate limit says no. `rest` is the pointer, MTU or 0.
   */
  error(type: number, code: number, rest: number, rx: IpRx, now: number): void {
    const src = rx.src as Ipv6Addr;
    const dst = rx.dst as Ipv6Addr;
    // (e.2, e.3): not about a multicast packet, except Packet Too Big and an unrecognized option that asks for it.
    const exempt = type === ICMPV6_PKT_TOOBIG || (type === ICMPV6_PARAMPROB && code === ICMPV6_UNK_OPTION);
    const groupAddressed = rx.rtype === RouteType.MULTICAST || (rx.pktType !== PacketType.HOST && rx.pktType !== PacketType.LOOPBACK);
    if (groupAddressed && !exempt) return;
    // (e.4): only to a source that names a single node.
    if (isIpv6Unspecified(src) || isIpv6Multicast(src)) return;
    // Once a transport has the packet, rx.len is the transport's length: the packet's own
    // is in its header (reassembled packets have theirs rewritten).
    const pktLen = Math.min(IPV6_HLEN + u16(rx.pkt, rx.ipOff + 4), rx.pkt.length - rx.ipOff);
    // (e.1): never about an ICMPv6 error or a redirect.
    if (isErrorOrRedirect(rx.pkt, rx.ipOff, pktLen)) return;

    const mib = this.counters.Icmp6;
    if (type !== ICMPV6_PKT_TOOBIG) {
      // Linux counts a refusal by the global bucket in Icmp OutRateLimitGlobal (icmpv6_global_allow:
      // Icmp6 has no such row), one by the destination's in Icmp6 OutRateLimitHost.
      const global = this.globalLimit.take(now);
      if (!global || !this.hostLimit.take(src, now)) {
        if (global) mib.OutRateLimitHost++;
        else this.counters.Icmp.OutRateLimitGlobal++;
        this.drops.count(DropReason.X_ICMP_RATELIMIT, Stage.ICMPV6);
        return;
      }
    }

    const quote = Math.min(pktLen, IPV6_MIN_MTU - IPV6_HLEN - ICMPV6_HLEN);
    const len = ICMPV6_HLEN + quote;
    const frame = new Uint8Array(TX_HEADROOM6 + len);
    frame.set(rx.pkt.subarray(rx.ipOff, rx.ipOff + quote), TX_HEADROOM6 + ICMPV6_HLEN);
    this.header(type, code, rest);
    const from = rx.rtype === RouteType.LOCAL ? dst : this.ip.sourceFor(src);
    this.send(frame, len, from, src, now);
  }

  private countIn(type: number): void {
    this.counters.Icmp6Msg.in[type]!++;
    const name = NAMES[type];
    if (name !== undefined) this.counters.Icmp6[name[0]]++;
  }

  private countOut(type: number): void {
    const mib = this.counters.Icmp6;
    mib.OutMsgs++;
    this.counters.Icmp6Msg.out[type]!++;
    const name = NAMES[type];
    if (name !== undefined) mib[name[1]]++;
  }
}

/**
 * Is the packet at `pkt[ipOff…]` (`len` bytes) an ICMPv6 error or a redirect? Walks its
 * extension headers to the upper layer as Linux's is_ineligible does; a packet whose chain
 * cannot be followed counts as ineligible, to be safe.
 */
function isErrorOrRedirect(pkt: Uint8Array, ipOff: number, len: number): boolean {
  let nh = pkt[ipOff + 6]!;
  let at = ipOff + IPV6_HLEN;
  const end = ipOff + len;
  for (let i = 0; i < 16; i++) {
    if (nh === IPPROTO_ICMPV6) {
      if (at + 1 > end) return true;
      const type = pkt[at]!;
      return type < 128 || type === ICMPV6_REDIRECT;
    }
    if (nh === NEXTHDR_FRAGMENT) {
      // A later fragment holds no ICMPv6 header to look at: not ours to judge (Linux: eligible).
      if (at + 8 > end) return true;
      if ((u32(pkt, at) & 0xfff8) !== 0) return false;
      nh = pkt[at]!;
      at += 8;
      continue;
    }
    if (nh !== NEXTHDR_HOP && nh !== NEXTHDR_ROUTING && nh !== NEXTHDR_DEST) return false;
    const hlen = extHeaderLen(pkt, at, end - at, nh);
    if (hlen < 0) return true;
    nh = pkt[at]!;
    at += hlen;
  }
  return true;
}
