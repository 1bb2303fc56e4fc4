/**
 * Neighbor Discovery for a host (RFC 4861) and the parts of stateless address
 * autoconfiguration it drives (RFC 4862): what ARP is to IPv4, on ICMPv6.
 *
 *   Neighbor Solicitation  in: answer for our addresses, learn the asker's MAC; detect a
 *                              duplicate of a tentative address. out: resolve and probe
 *                              for the neighbour cache, and duplicate address detection.
 *   Neighbor Advertisement in: the cache's state machine (eth/neighbor.ts, RFC 4861 §7.2.5);
 *                              a duplicate of a tentative address.
 *   Router Solicitation   out: after the link-local address is ours, until a router answers.
 *   Router Advertisement   in: default router, hop limit, MTU, on-link prefixes and
 *                              SLAAC addresses.
 *   Redirect               in: counted and ignored (we keep our next hops).
 *
 * Every message is checked as RFC 4861 §6.1 and §7.1 ask (hop limit 255, code 0, length,
 * options) before anything is learned from it.
 */
import type { StackConfig } from '../core/config.js';
import { CONSUMED, DropReason, Stage, type Verdict } from '../core/drop.js';
import { enter } from '../core/trace.js';
import type { NeighborTable } from '../eth/neighbor.js';
import {
  IPV6_ALL_NODES, IPV6_ALL_ROUTERS, IPV6_ANY, eui64Addr, isIpv6LinkLocal, isIpv6Multicast, isIpv6Unspecified,
  solicitedNodeAddr, type Ipv6Addr, type Mac,
} from '../wire/addr.js';
import {
  ICMPV6_NEIGHBOUR_ADVERT, ICMPV6_NEIGHBOUR_SOLICIT, ICMPV6_ROUTER_ADVERT, ICMPV6_ROUTER_SOLICIT, ND_NA_OVERRIDE,
  ND_NA_SOLICITED, emitNeighbourAdvert, emitNeighbourSolicit, emitRouterSolicit, ndpHeaderLen, newNdpOptions,
  newNdpRepr, parseNdp, parseNdpOptions,
} from '../wire/icmpv6.js';
import type { IpRx } from './ip.js';
import type { Icmpv6 } from './icmpv6.js';
import { TX_HEADROOM6, type Ipv6, type Ipv6Address } from './ipv6.js';
import { RouteType } from './route.js';

/** Room for the longest message we send: a solicitation with two 8-byte options. */
const ND_MAX_OUT = 40;

/** The hop limit every ND message is sent with, and must arrive with (RFC 4861 §6.1, §7.1). */
const ND_HOP_LIMIT = 255;

/** The frame cut to its message: the link sends the whole buffer, and ours has room for the longest message. */
function exact(frame: Uint8Array, len: number): Uint8Array {
  return frame.subarray(0, TX_HEADROOM6 + len);
}

/** 0xffffffff seconds is "infinity" in prefix and router lifetimes (RFC 4861 §4.6.2). */
function lifetimeMs(seconds: number): number {
  return seconds === 0xffff_ffff ? Infinity : seconds * 1000;
}

export class Ndisc {
  private readonly msg = newNdpRepr();
  private readonly opts = newNdpOptions();
  /** Router solicitations still to send, and when the next one is due. */
  private rsLeft = 0;
  private rsAt = Infinity;
  /** The nonce of our duplicate address detection probes (RFC 7527): our own probe, looped back, is not a duplicate. */
  private readonly nonce: number;

  constructor(
    private readonly cfg: StackConfig,
    private readonly ip: Ipv6,
    private readonly icmp: Icmpv6,
    private readonly neigh: NeighborTable,
    private readonly mac: Mac,
    random: () => number,
  ) {
    this.nonce = Math.floor(random() * 2 ** 48);
  }

  // ── ingress ──────────────────────────────────────────────────────────────

  /** A Neighbor Discovery message (its ICMPv6 checksum verified) in `rx`. */
  input(rx: IpRx, now: number): Verdict {
    enter(Stage.NDISC);
    const { pkt, off, len } = rx;
    // RFC 6980 §5: never from a fragmented packet, an atomic fragment included (Linux suppress_frag_ndisc).
    if (this.ip.rxFragmented) return DropReason.IPV6_NDISC_FRAG;
    if (pkt[rx.ipOff + 7] !== ND_HOP_LIMIT) return DropReason.IPV6_NDISC_HOP_LIMIT;
    const m = this.msg;
    const bad = parseNdp(pkt, off, len, m);
    if (bad !== undefined) return bad;
    const type = pkt[off]!;
    const fixed = ndpHeaderLen(type);
    const badOpt = parseNdpOptions(pkt, off + fixed, len - fixed, this.opts);
    if (badOpt !== undefined) return badOpt;
    switch (type) {
      case ICMPV6_NEIGHBOUR_SOLICIT:
        return this.solicitation(rx, now);
      case ICMPV6_NEIGHBOUR_ADVERT:
        return this.advertisement(rx, now);
      case ICMPV6_ROUTER_ADVERT:
        return this.routerAdvertisement(rx, now);
      default:
        // Router Solicitations are for routers; Redirects we do not follow.
        return CONSUMED;
    }
  }

  /** RFC 4861 §7.2.3, with RFC 4862 §5.4.3 for a tentative target. */
  private solicitation(rx: IpRx, now: number): Verdict {
    const src = rx.src as Ipv6Addr;
    const target = this.msg.target;
    const o = this.opts;
    if (isIpv6Multicast(target)) return DropReason.IPV6_NDISC_BAD_OPTIONS;
    const dad = isIpv6Unspecified(src);
    // From '::' (duplicate address detection) only to a solicited-node group, without a source address option.
    if (dad && (rx.dst !== solicitedNodeAddr(target) || o.sourceLinkAddr !== -1)) return DropReason.IPV6_NDISC_BAD_OPTIONS;

    const ours = this.ip.address(target);
    if (ours === undefined || ours.dadFailed) return DropReason.IPV6_NDISC_NS_OTHERHOST;
    if (ours.tentative) {
      // Someone else is checking the same address at the same time: neither may have it.
      // Anything else about a tentative address is not answered (RFC 4862 §5.4.3); Linux drops both.
      if (dad && o.nonce !== this.nonce) this.ip.dadFailed(target);
      return DropReason.NOT_SPECIFIED;
    }
    const group = rx.rtype === RouteType.MULTICAST;
    // RFC 4861 §7.1.1: sent to a group from a unicast address, it must say where to answer.
    // Linux creates no entry then, so it has nobody to answer.
    if (!dad && group && o.sourceLinkAddr === -1) return DropReason.NOT_SPECIFIED;
    if (!dad && o.sourceLinkAddr !== -1) this.neigh.update(src, o.sourceLinkAddr, false, true, now);
    // As Linux: a solicitation to a group gets our address option and the override flag;
    // a unicast one (a neighbour checking its cache entry) neither.
    const flags = (dad ? 0 : ND_NA_SOLICITED) | (group ? ND_NA_OVERRIDE : 0);
    this.advertise(target, dad ? IPV6_ALL_NODES : src, flags, group, now);
    return CONSUMED;
  }

  /** RFC 4861 §7.2.5, with RFC 4862 §5.4.4 for a tentative target. */
  private advertisement(rx: IpRx, now: number): Verdict {
    const m = this.msg;
    const o = this.opts;
    if (isIpv6Multicast(m.target)) return DropReason.IPV6_NDISC_BAD_OPTIONS;
    if (m.solicited && rx.rtype === RouteType.MULTICAST) return DropReason.IPV6_NDISC_BAD_OPTIONS;

    const ours = this.ip.address(m.target);
    if (ours !== undefined) {
      // Our address, advertised by someone else: a duplicate if we were still checking it.
      if (ours.tentative) this.ip.dadFailed(m.target);
      return CONSUMED;
    }
    const mac = o.targetLinkAddr !== -1 ? o.targetLinkAddr : undefined;
    this.neigh.advertised(m.target, mac, m.solicited, m.override, now);
    return CONSUMED;
  }

  /** RFC 4861 §6.3.4, and RFC 4862 §5.5.3 for the prefixes. */
  private routerAdvertisement(rx: IpRx, now: number): Verdict {
    const src = rx.src as Ipv6Addr;
    const m = this.msg;
    const o = this.opts;
    // Only a router on this link may advertise itself (RFC 4861 §6.1.2); Linux drops the rest unnamed.
    if (!isIpv6LinkLocal(src)) return DropReason.NOT_SPECIFIED;
    if (!this.cfg.ipv6.acceptRa) return CONSUMED;

    this.rsLeft = 0; // a router has spoken: stop soliciting
    this.rsAt = Infinity;
    if (m.curHopLimit !== 0) this.ip.hopLimit = m.curHopLimit;
    this.ip.learnRouter(src, m.routerLifetime * 1000, now);
    if (o.sourceLinkAddr !== -1) this.neigh.update(src, o.sourceLinkAddr, false, true, now);
    if (o.mtu !== -1 && o.mtu >= 1280 && o.mtu <= this.ip.linkMtuMax) this.ip.linkMtu = o.mtu;

    for (let i = 0; i < o.prefixCount; i++) {
      const p = o.prefixes[i]!;
      if (isIpv6LinkLocal(p.prefix)) continue;
      if (p.onLink) this.ip.learnPrefix(p.prefix, p.prefixLen, lifetimeMs(p.validLifetime), now);
      if (p.autonomous && this.cfg.ipv6.autoconf && p.prefixLen === 64 && p.preferredLifetime <= p.validLifetime) {
        this.autoconfigure(p.prefix, lifetimeMs(p.validLifetime), now);
      }
    }
    return CONSUMED;
  }

  /** A SLAAC address from a /64 prefix and our interface identifier (RFC 4862 §5.5.3). */
  private autoconfigure(prefix: Ipv6Addr, validMs: number, now: number): void {
    const addr = eui64Addr(prefix, this.mac);
    const have = this.ip.address(addr);
    if (have !== undefined) {
      if (have.origin !== 'slaac') return;
      // RFC 4862 §5.5.3 e): a lifetime is lengthened at once, but shortened below two hours
      // only by... nobody (without authentication): so a spoofed advertisement cannot kill it.
      const twoHours = 7_200_000;
      if (validMs > twoHours || now + validMs > have.validUntil) have.validUntil = now + validMs;
      else if (have.validUntil - now > twoHours) have.validUntil = now + twoHours;
      return;
    }
    if (validMs === 0) return;
    const a = this.ip.addAddress(addr, 64, 'slaac', now + validMs);
    this.ip.startDad(a, now);
  }

  // ── egress ───────────────────────────────────────────────────────────────

  /** A Neighbor Advertisement for our `target` to `dst` (RFC 4861 §7.2.4). */
  private advertise(target: Ipv6Addr, dst: Ipv6Addr, flags: number, withOption: boolean, now: number): void {
    const frame = new Uint8Array(TX_HEADROOM6 + ND_MAX_OUT);
    const len = emitNeighbourAdvert(frame, TX_HEADROOM6, target, dst, target, flags, withOption ? this.mac : -1);
    this.icmp.transmit(exact(frame, len), len, target, dst, ICMPV6_NEIGHBOUR_ADVERT, now, ND_HOP_LIMIT);
  }

  /**
   * Asks for `target`'s link-layer address (the neighbour cache's solicit): to its
   * solicited-node group, or straight to it when probing a known entry (RFC 4861 §7.2.2).
   */
  solicit(target: Ipv6Addr, mac: Mac | undefined, now: number): void {
    // Linux (ndisc_solicit) takes the source of the packet waiting on the entry, which is the
    // one we would choose; a probe has no packet waiting and goes from the link-local address.
    const src = this.ip.sourceFor(mac === undefined ? target : IPV6_ALL_NODES);
    const dst = mac === undefined ? solicitedNodeAddr(target) : target;
    const frame = new Uint8Array(TX_HEADROOM6 + ND_MAX_OUT);
    const len = emitNeighbourSolicit(frame, TX_HEADROOM6, src, dst, target, this.mac);
    this.icmp.transmit(exact(frame, len), len, src, dst, ICMPV6_NEIGHBOUR_SOLICIT, now, ND_HOP_LIMIT);
  }

  /** Duplicate address detection's probe: from `::`, no address option, our nonce (RFC 4862 §5.4.2, RFC 7527). */
  solicitDad(target: Ipv6Addr, now: number): void {
    const dst = solicitedNodeAddr(target);
    const frame = new Uint8Array(TX_HEADROOM6 + ND_MAX_OUT);
    const len = emitNeighbourSolicit(frame, TX_HEADROOM6, IPV6_ANY, dst, target, this.mac, this.nonce);
    this.icmp.transmit(exact(frame, len), len, IPV6_ANY, dst, ICMPV6_NEIGHBOUR_SOLICIT, now, ND_HOP_LIMIT);
  }

  /** An address passed DAD: once the link-local one is ours, look for routers (RFC 4861 §6.3.7). */
  addressReady(a: Ipv6Address, now: number): void {
    if (a.origin === 'link' && this.cfg.ipv6.acceptRa && this.cfg.ipv6.routerSolicitations > 0) {
      this.rsLeft = this.cfg.ipv6.routerSolicitations;
      this.rsAt = now;
    }
  }

  private routerSolicit(now: number): void {
    const src = this.ip.sourceFor(IPV6_ALL_ROUTERS);
    const frame = new Uint8Array(TX_HEADROOM6 + ND_MAX_OUT);
    const len = emitRouterSolicit(frame, TX_HEADROOM6, src, IPV6_ALL_ROUTERS, this.mac);
    this.icmp.transmit(exact(frame, len), len, src, IPV6_ALL_ROUTERS, ICMPV6_ROUTER_SOLICIT, now, ND_HOP_LIMIT);
  }

  // ── timers ──────────────────────────────────────────────────────────────

  poll(now: number): void {
    if (this.rsAt > now) return;
    this.routerSolicit(now);
    this.rsLeft--;
    this.rsAt = this.rsLeft > 0 ? now + this.cfg.ipv6.routerSolicitationIntervalMs : Infinity;
  }

  nextDeadline(): number {
    return this.rsAt;
  }
}
