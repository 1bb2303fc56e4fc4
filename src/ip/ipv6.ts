/**
 * IPv6 for a host (RFC 8200; addressing RFC 4291; the address list as RFC 4861/4862 keep
 * it). Ingress follows Linux (ipv6_rcv → ip6_rcv_finish → ip6_input_finish): the fixed
 * header, the addresses, hop-by-hop options (only right after the header), the destination,
 * then the other extension headers one at a time — routing, fragment, destination options —
 * until an upper protocol takes the packet. Egress: source selection, next hop (link-local,
 * an on-link prefix or a default router), header, fragments if the path MTU asks, then
 * neighbour discovery.
 *
 * A host keeps a packet addressed to it whatever its hop limit: the hop limit is the
 * business of forwarding, which this stack does not do.
 */
import type { StackConfig } from '../core/config.js';
import type { Counters } from '../core/counters.js';
import { CONSUMED, DropReason, Stage, walk, type DropCounts, type Verdict } from '../core/drop.js';
import { enter } from '../core/trace.js';
import type { Link } from '../dev/device.js';
import { PacketType, type Ethernet } from '../eth/ethernet.js';
import type { NeighborTable } from '../eth/neighbor.js';
import {
  IPV6_ANY, ipv6Bytes, ipv6MulticastMac, ipv6MulticastScope, ipv6PrefixEqual, isIpv6LinkLocal, isIpv6Loopback,
  isIpv6Multicast, solicitedNodeAddr, type Ipv6Addr,
} from '../wire/addr.js';
import { setU16 } from '../wire/bytes.js';
import { ipv6AddrSum } from '../wire/checksum.js';
import { ETH_HLEN, ETH_P_IPV6 } from '../wire/ethernet.js';
import {
  ICMPV6_EXC_FRAGTIME, ICMPV6_HDR_FIELD, ICMPV6_PARAMPROB, ICMPV6_TIME_EXCEED,
  ICMPV6_UNK_NEXTHDR, ICMPV6_UNK_OPTION,
} from '../wire/icmpv6.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../wire/ipv4.js';
import {
  IPPROTO_ICMPV6, IPV6_HLEN, NEXTHDR_DEST, NEXTHDR_FRAGMENT, NEXTHDR_HOP, NEXTHDR_NONE, NEXTHDR_ROUTING, emitIpv6,
  IPV6_MIN_MTU, newIpv6Repr, parseIpv6,
} from '../wire/ipv6.js';
import {
  IPV6_FRAG_HLEN, TLV_DISCARD, TLV_ICMP, TLV_ICMP_HDR_FIELD, TLV_ICMP_UNLESS_MULTICAST, TLV_MALFORMED, TLV_OK,
  checkTlvOptions, emitIpv6Frag, extHeaderLen, newIpv6FragRepr, parseIpv6Frag, tlvAction, tlvPointer,
} from '../wire/ipv6-ext.js';
import { Reassembly, type FragFamily, type FragMemory } from './frag.js';
import type { Icmpv6ErrorSender, IpRx, TransportInput } from './ip.js';
import { RouteType } from './route.js';

/** Parameter Problem: the first fragment lacks the upper-layer header (RFC 7112 §5; Linux ICMPV6_HDR_INCOMP). */
const ICMPV6_HDR_INCOMP = 3;

/** Where the transport header starts in an outgoing IPv6 frame. */
export const TX_HEADROOM6 = ETH_HLEN + IPV6_HLEN;


/** How long a learned path MTU is trusted (RFC 8201 §4: at least 5 minutes; Linux ip6_rt_mtu_expires 10 min). */
const PMTU_EXPIRES_MS = 600_000;

/** The loopback backlog (Linux netdev_max_backlog). */
const LOOPBACK_BACKLOG = 1000;

/** An address on the interface, like a line of `ip -6 addr`. */
export interface Ipv6Address {
  readonly addr: Ipv6Addr;
  readonly prefixLen: number;
  /** Being checked for duplicates (RFC 4862 §5.4): packets to it are not ours yet. */
  tentative: boolean;
  /** Duplicate address detection found another owner: never used (Linux "dadfailed"). */
  dadFailed: boolean;
  /** Neighbor Solicitations still to send for DAD, and when the next one (or the verdict) is due. */
  dadProbes: number;
  dadAt: number;
  /** `static` (configured), `link` (the link-local one) or `slaac` (from a router's prefix). */
  readonly origin: 'static' | 'link' | 'slaac';
  /** When a SLAAC address stops being valid; Infinity otherwise. */
  validUntil: number;
}

/** An on-link prefix or a default router, with when it expires (RFC 4861 §6.3.4). */
interface Learned {
  readonly addr: Ipv6Addr;
  readonly prefixLen: number;
  expires: number;
}

export interface Ipv6Upper {
  icmp: TransportInput;
  udp: TransportInput;
  tcp: TransportInput;
  icmpError: Icmpv6ErrorSender;
  /** Duplicate address detection: send a Neighbor Solicitation for a tentative address. */
  solicitDad(target: Ipv6Addr, now: number): void;
  /** An address is ours for good: what follows it (router solicitation for the link-local one). */
  addressReady(a: Ipv6Address, now: number): void;
  /** A group was joined: MLD reports it. */
  joined(group: Ipv6Addr): void;
}

export interface Ipv6SendOptions {
  /** Neighbour discovery sends with 255 (RFC 4861 §6.1.2 etc.); default net.ipv6.conf.*.hop_limit. */
  hopLimit?: number;
}

const NO_OPTIONS: Ipv6SendOptions = {};

export class Ipv6 {
  readonly addresses: Ipv6Address[] = [];
  /** Groups the host listens to: all-nodes and the solicited-node group of each address (RFC 4291 §2.8). */
  readonly groups = new Set<Ipv6Addr>();
  readonly reassembly: Reassembly;
  /** On-link prefixes (configured ones never expire) and the default router list. */
  private readonly prefixes: Learned[] = [];
  private readonly routers: Learned[] = [];
  /** Path MTU per destination, learned from Packet Too Big (RFC 8201). */
  private readonly pmtu = new Map<Ipv6Addr, { mtu: number; expires: number }>();
  /** The link MTU for IPv6: the link's, or less if a router advertised less (RFC 4861 §6.3.4). */
  linkMtu: number;
  /** Hop limit for what we send; a router may set it (RFC 4861 §6.3.4). */
  hopLimit: number;
  readonly headroom = TX_HEADROOM6;
  private readonly rx = newIpv6Repr();
  private readonly tx = newIpv6Repr();
  private readonly frag = newIpv6FragRepr();
  private readonly up: IpRx = {
    src: IPV6_ANY, dst: IPV6_ANY, pkt: new Uint8Array(0), ipOff: 0, off: 0, len: 0, addrSum: 0,
    rtype: RouteType.LOCAL, pktType: PacketType.HOST, v4: null,
  };
  private nextId: number;
  private loopback: Uint8Array[] = [];
  /** The packet being received had a Fragment header (atomic, or reassembled): ndisc refuses it (RFC 6980). */
  rxFragmented = false;

  constructor(
    private readonly cfg: StackConfig,
    private readonly counters: Counters,
    private readonly drops: DropCounts,
    private readonly link: Link,
    private readonly eth: Ethernet,
    private readonly neigh: NeighborTable,
    private readonly upper: Ipv6Upper,
    private readonly random: () => number,
    fragMemory: FragMemory,
  ) {
    this.nextId = Math.floor(random() * 0x1_0000_0000);
    this.linkMtu = link.mtu;
    this.hopLimit = cfg.ipv6.hopLimit;
    const family: FragFamily = {
      mib: counters.Ip6,
      overlaps: null,
      timeoutMs: cfg.ipv6.fragTimeoutMs,
      uncountedHeaderLen: IPV6_HLEN + IPV6_FRAG_HLEN,
      rebuild: wholePacket,
      timedOut: (header, data, now) => this.reassemblyTimedOut(header, data, now),
    };
    this.reassembly = new Reassembly(cfg.frag, family, fragMemory, drops);
    this.join('ff02::1');
  }

  // ── the address list ─────────────────────────────────────────────────────

  /**
   * Adds an address (`ip -6 addr add A/N`) and the on-link route of its prefix. It is
   * tentative until `startDad` has checked it, unless DAD is off (dad_transmits 0).
   */
  addAddress(addr: Ipv6Addr, prefixLen: number, origin: Ipv6Address['origin'], validUntil = Infinity): Ipv6Address {
    const dad = this.cfg.ipv6.dadTransmits > 0;
    const a: Ipv6Address = {
      addr, prefixLen, origin, validUntil, tentative: dad, dadFailed: false, dadProbes: 0, dadAt: Infinity,
    };
    this.addresses.push(a);
    this.join(solicitedNodeAddr(addr));
    if (origin !== 'link' && !this.prefixes.some((p) => p.prefixLen === prefixLen && ipv6PrefixEqual(p.addr, addr, prefixLen))) {
      this.prefixes.push({ addr, prefixLen, expires: Infinity });
    }
    return a;
  }

  /**
   * Starts duplicate address detection for `a` (RFC 4862 §5.4.2): after a random delay up to
   * MAX_RTR_SOLICITATION_DELAY, DupAddrDetectTransmits solicitations one RetransTimer apart.
   */
  startDad(a: Ipv6Address, now: number): void {
    if (!a.tentative) {
      this.upper.addressReady(a, now);
      return;
    }
    a.dadProbes = this.cfg.ipv6.dadTransmits;
    a.dadAt = now + Math.floor(this.random() * this.cfg.ipv6.routerSolicitationDelayMs);
  }

  /** Another node owns `addr` (RFC 4862 §5.4.5): it stays tentative, and unused. */
  dadFailed(addr: Ipv6Addr): void {
    const a = this.addresses.find((x) => x.addr === addr);
    if (a === undefined || !a.tentative) return;
    a.dadFailed = true;
    a.dadAt = Infinity;
  }

  /** Our address entry for `addr`, tentative ones included. */
  address(addr: Ipv6Addr): Ipv6Address | undefined {
    for (const a of this.addresses) if (a.addr === addr) return a;
    return undefined;
  }

  join(group: Ipv6Addr): void {
    if (this.groups.has(group)) return;
    this.groups.add(group);
    this.eth.join(ipv6MulticastMac(group));
    this.upper.joined(group);
  }

  /** One of our addresses, usable (not tentative). */
  isLocal(addr: Ipv6Addr): boolean {
    const a = this.address(addr);
    return a !== undefined && !a.tentative;
  }

  /** What a destination address means to this host. */
  classify(dst: Ipv6Addr): RouteType {
    if (isIpv6Multicast(dst)) return RouteType.MULTICAST;
    return this.isLocal(dst) ? RouteType.LOCAL : RouteType.UNICAST;
  }

  /**
   * The source for packets to `dst` (RFC 6724 §5, its first rules): the same address if it
   * is ours; the link-local one for a link-local or link-scope multicast destination; else
   * the usable address sharing the longest prefix with `dst`.
   */
  sourceFor(dst: Ipv6Addr): Ipv6Addr {
    if (this.isLocal(dst)) return dst;
    const linkScope = isIpv6LinkLocal(dst) || (isIpv6Multicast(dst) && ipv6MulticastScope(dst) <= 2);
    let best: Ipv6Address | undefined;
    let bestLen = -1;
    for (const a of this.addresses) {
      if (a.tentative) continue;
      if (isIpv6LinkLocal(a.addr) !== linkScope) continue;
      const len = commonPrefixLen(a.addr, dst);
      if (len > bestLen) {
        best = a;
        bestLen = len;
      }
    }
    if (best !== undefined) return best.addr;
    for (const a of this.addresses) if (!a.tentative) return a.addr;
    return IPV6_ANY;
  }

  /** Adds an on-link prefix learned from a router (or refreshes its lifetime; 0 removes it). */
  learnPrefix(prefix: Ipv6Addr, prefixLen: number, lifetimeMs: number, now: number): void {
    const i = this.prefixes.findIndex((p) => p.prefixLen === prefixLen && ipv6PrefixEqual(p.addr, prefix, prefixLen));
    if (i >= 0) {
      const p = this.prefixes[i]!;
      if (p.expires === Infinity && lifetimeMs !== Infinity) return; // configured: ours to keep
      if (lifetimeMs === 0) this.prefixes.splice(i, 1);
      else p.expires = now + lifetimeMs;
      return;
    }
    if (lifetimeMs > 0) this.prefixes.push({ addr: prefix, prefixLen, expires: now + lifetimeMs });
  }

  /** Adds a default router (or refreshes it; lifetime 0 removes it; RFC 4861 §6.3.4). */
  learnRouter(router: Ipv6Addr, lifetimeMs: number, now: number): void {
    const i = this.routers.findIndex((r) => r.addr === router);
    if (lifetimeMs === 0) {
      if (i >= 0) this.routers.splice(i, 1);
    } else if (i >= 0) {
      this.routers[i]!.expires = now + lifetimeMs;
    } else {
      this.routers.push({ addr: router, prefixLen: 128, expires: now + lifetimeMs });
    }
  }

  /** `ip -6 route`-style lines. */
  describeRoutes(): string[] {
    const lines = this.prefixes.map((p) => `${p.addr}/${p.prefixLen} proto kernel`);
    lines.push('fe80::/64 proto kernel');
    for (const r of this.routers) lines.push(`default via ${r.addr} proto ra`);
    return lines;
  }

  /** The next hop toward `dst`: itself when on-link, a default router, or undefined. */
  nextHop(dst: Ipv6Addr, now: number): Ipv6Addr | undefined {
    if (isIpv6LinkLocal(dst)) return dst;
    for (const p of this.prefixes) {
      if (p.expires > now && ipv6PrefixEqual(p.addr, dst, p.prefixLen)) return dst;
    }
    for (const r of this.routers) if (r.expires > now) return r.addr;
    return undefined;
  }

  hasRoute(dst: Ipv6Addr): boolean {
    return isIpv6Multicast(dst) || this.isLocal(dst) || this.nextHop(dst, -Infinity) !== undefined;
  }

  /** The most a router may set linkMtu to: the link's own MTU. */
  get linkMtuMax(): number {
    return this.link.mtu;
  }

  /** The path MTU toward `dst` (never below 1280). */
  pathMtu(dst: Ipv6Addr): number {
    const p = this.pmtu.get(dst);
    return p === undefined ? this.linkMtu : Math.min(p.mtu, this.linkMtu);
  }

  /** A Packet Too Big about a packet we sent to `dst` (RFC 8201 §4). */
  learnPathMtu(dst: Ipv6Addr, mtu: number, now: number): void {
    const m = Math.max(IPV6_MIN_MTU, mtu);
    if (m >= this.pathMtu(dst)) return;
    if (this.pmtu.size >= this.cfg.icmp.maxPeers) this.pmtu.clear();
    this.pmtu.set(dst, { mtu: m, expires: now + PMTU_EXPIRES_MS });
  }

  // ── ingress ──────────────────────────────────────────────────────────────

  input(pkt: Uint8Array, off: number, len: number, pktType: PacketType, now: number): Verdict {
    enter(Stage.IPV6);
    const mib = this.counters.Ip6;
    mib.InReceives++;

    const ip = this.rx;
    const bad = parseIpv6(pkt, off, len, ip);
    if (bad !== undefined) {
      if (bad === DropReason.PKT_TOO_SMALL && len >= IPV6_HLEN) mib.InTruncatedPkts++;
      else mib.InHdrErrors++;
      return bad;
    }
    const total = IPV6_HLEN + ip.payloadLength;
    mib.InOctets += total;
    // RFC 4291 §2.7: a multicast source, or a multicast destination of scope 0, is dropped;
    // so is ::1 from the wire (Linux ip6_rcv_core).
    if (isIpv6Multicast(ip.src)) {
      mib.InHdrErrors++;
      return DropReason.IP_INVALID_SOURCE;
    }
    if ((isIpv6Multicast(ip.dst) && ipv6MulticastScope(ip.dst) === 0) || isIpv6Loopback(ip.dst) || isIpv6Loopback(ip.src)) {
      mib.InHdrErrors++;
      return DropReason.IP_INVALID_DEST;
    }
    if (pktType !== PacketType.LOOPBACK && this.isLocal(ip.src)) return DropReason.IP_LOCAL_SOURCE;

    this.rxFragmented = false;
    const up = this.up;
    up.src = ip.src;
    up.dst = ip.dst;
    up.pkt = pkt;
    up.ipOff = off;
    up.len = total; // until the upper layer is found: the whole packet, for quoting
    up.addrSum = ipv6AddrSum(pkt, off + 8) + ipv6AddrSum(pkt, off + 24);
    up.pktType = pktType;
    up.rtype = RouteType.LOCAL;

    // Destination: ours, or a group we joined; we do not forward.
    let rtype: RouteType;
    if (isIpv6Multicast(ip.dst)) {
      if (!this.groups.has(ip.dst)) return DropReason.IP_INADDRERRORS;
      mib.InMcastPkts++;
      mib.InMcastOctets += total;
      rtype = RouteType.MULTICAST;
    } else if (this.isLocal(ip.dst)) {
      rtype = RouteType.LOCAL;
    } else {
      mib.InAddrErrors++;
      return DropReason.IP_INADDRERRORS;
    }
    up.rtype = rtype;
    return this.walkHeaders(pkt, off, total, ip.nextHeader, off + 6, off + IPV6_HLEN, now);
  }

  /**
   * Walks the extension headers from `hdrOff` (the header whose type `nextHeader` is named
   * by the byte at `nhOff`) to the upper protocol (RFC 8200 §4.1: in the order they come,
   * hop-by-hop only first).
   */
  private walkHeaders(
    pkt: Uint8Array, ipOff: number, total: number, nextHeader: number, nhOff: number, hdrOff: number, now: number,
  ): Verdict {
    const mib = this.counters.Ip6;
    const end = ipOff + total;
    for (let seen = 0; ; seen++) {
      if (seen > this.cfg.ipv6.maxExtHeaders) {
        mib.InHdrErrors++;
        return DropReason.IP_INHDR;
      }
      switch (nextHeader) {
        case IPPROTO_TCP:
        case IPPROTO_UDP:
        case IPPROTO_ICMPV6:
          return this.deliver(nextHeader, pkt, hdrOff, end - hdrOff, now);
        case NEXTHDR_NONE:
          // Nothing follows (RFC 8200 §4.7); Linux hands it to a protocol that discards it.
          mib.InDelivers++;
          return DropReason.NOT_SPECIFIED;
        case NEXTHDR_HOP:
        case NEXTHDR_DEST:
        case NEXTHDR_ROUTING:
        case NEXTHDR_FRAGMENT:
          break;
        default:
          return this.unknownProtocol(nhOff, now);
      }

      const hlen = extHeaderLen(pkt, hdrOff, end - hdrOff, nextHeader);
      if (hlen < 0) {
        mib.InHdrErrors++;
        return DropReason.PKT_TOO_SMALL;
      }
      switch (nextHeader) {
        case NEXTHDR_HOP: {
          // Hop-by-hop options go right after the IPv6 header, nowhere else (RFC 8200 §4.3).
          if (hdrOff !== ipOff + IPV6_HLEN) return this.unknownProtocol(nhOff, now);
          const v = this.options(pkt, hdrOff, hlen, true, now);
          if (v !== undefined) return v;
          break;
        }
        case NEXTHDR_DEST: {
          const v = this.options(pkt, hdrOff, hlen, false, now);
          if (v !== undefined) return v;
          break;
        }
        case NEXTHDR_ROUTING: {
          // We implement no routing type (type 0 is deprecated, RFC 5095): with segments
          // left it is an error pointing at the type; without, the header is ignored (RFC 8200 §4.4).
          const segmentsLeft = pkt[hdrOff + 3]!;
          if (segmentsLeft !== 0) {
            mib.InHdrErrors++;
            this.upper.icmpError(ICMPV6_PARAMPROB, ICMPV6_HDR_FIELD, hdrOff + 2 - ipOff, this.up, now);
            return DropReason.IP_INHDR;
          }
          break;
        }
        case NEXTHDR_FRAGMENT:
          return this.fragment(pkt, ipOff, total, hdrOff, now);
      }
      nextHeader = pkt[hdrOff]!;
      nhOff = hdrOff;
      hdrOff += hlen;
    }
  }

  /**
   * Hop-by-hop or destination options (RFC 8200 §4.2): a malformed header is dropped; an
   * unrecognized option as its type's two high bits ask — skipped, dropped, or dropped with
   * a Parameter Problem (not about a multicast packet for `11`).
   */
  private options(pkt: Uint8Array, hdrOff: number, hlen: number, hopByHop: boolean, now: number): Verdict | undefined {
    const r = checkTlvOptions(pkt, hdrOff, hlen, hopByHop);
    const action = tlvAction(r);
    if (action === TLV_OK) return undefined;
    this.counters.Ip6.InHdrErrors++;
    const pointer = hdrOff + tlvPointer(r) - this.up.ipOff;
    switch (action) {
      case TLV_MALFORMED:
        return DropReason.IP_INHDR;
      case TLV_DISCARD:
        return DropReason.UNHANDLED_PROTO;
      case TLV_ICMP_HDR_FIELD:
        this.upper.icmpError(ICMPV6_PARAMPROB, ICMPV6_HDR_FIELD, pointer, this.up, now);
        return DropReason.IP_INHDR;
      case TLV_ICMP:
      case TLV_ICMP_UNLESS_MULTICAST:
        if (action === TLV_ICMP || this.up.rtype !== RouteType.MULTICAST) {
          this.upper.icmpError(ICMPV6_PARAMPROB, ICMPV6_UNK_OPTION, pointer, this.up, now);
        }
        return DropReason.UNHANDLED_PROTO;
    }
    return DropReason.IP_INHDR;
  }

  /** Ip6InUnknownProtos, and a Parameter Problem pointing at the Next Header field (RFC 8200 §4). */
  private unknownProtocol(nhOff: number, now: number): Verdict {
    this.counters.Ip6.InUnknownProtos++;
    this.upper.icmpError(ICMPV6_PARAMPROB, ICMPV6_UNK_NEXTHDR, nhOff - this.up.ipOff, this.up, now);
    return DropReason.IP_NOPROTO;
  }

  /** A Fragment header (RFC 8200 §4.5): its checks, then reassembly. */
  private fragment(pkt: Uint8Array, ipOff: number, total: number, hdrOff: number, now: number): Verdict {
    enter(Stage.FRAG);
    const mib = this.counters.Ip6;
    const f = this.frag;
    parseIpv6Frag(pkt, hdrOff, IPV6_FRAG_HLEN, f); // extHeaderLen has checked the 8 bytes are there
    this.rxFragmented = true;
    const dataStart = hdrOff + IPV6_FRAG_HLEN;
    const dataLen = ipOff + total - dataStart;

    if (f.offset === 0 && !f.moreFrags) {
      // An atomic fragment is a whole packet (RFC 6946): on without reassembly.
      mib.ReasmReqds++;
      mib.ReasmOKs++;
      return this.walkHeaders(pkt, ipOff, total, f.nextHeader, hdrOff, dataStart, now);
    }
    // Refused before reassembly, but asked for all the same (Linux counts ReasmReqds first).
    if (f.moreFrags && (dataLen & 7) !== 0) {
      mib.ReasmReqds++;
      mib.InHdrErrors++;
      this.upper.icmpError(ICMPV6_PARAMPROB, ICMPV6_HDR_FIELD, 4, this.up, now);
      return DropReason.IP_INHDR;
    }
    if (f.offset + dataLen > 65_535) {
      mib.ReasmReqds++;
      mib.InHdrErrors++;
      this.upper.icmpError(ICMPV6_PARAMPROB, ICMPV6_HDR_FIELD, hdrOff + 2 - ipOff, this.up, now);
      return DropReason.IP_INHDR;
    }
    // The first fragment must carry the whole header chain up to the upper-layer header (RFC 8200 §4.5, RFC 7112).
    if (f.offset === 0 && !headerChainFits(pkt, dataStart, dataLen, f.nextHeader)) {
      mib.ReasmReqds++;
      mib.InHdrErrors++;
      this.upper.icmpError(ICMPV6_PARAMPROB, ICMPV6_HDR_INCOMP, 0, this.up, now);
      return DropReason.IP_INHDR;
    }

    const key = `${this.rx.src}/${this.rx.dst}/${f.id}`;
    const whole = this.reassembly.add(key, pkt, ipOff, dataStart, f.offset, dataLen, f.moreFrags, now);
    if (typeof whole === 'string') return whole;
    // The rebuilt packet has no Fragment header: walk it again from the top.
    const ip = this.rx;
    parseIpv6(whole, 0, whole.length, ip);
    const up = this.up;
    up.pkt = whole;
    up.ipOff = 0;
    up.len = whole.length;
    return this.walkHeaders(whole, 0, whole.length, ip.nextHeader, 6, IPV6_HLEN, now);
  }

  /** ip6_input_finish's protocol switch. */
  private deliver(proto: number, pkt: Uint8Array, off: number, len: number, now: number): Verdict {
    this.counters.Ip6.InDelivers++;
    const up = this.up;
    up.off = off;
    up.len = len;
    switch (proto) {
      case IPPROTO_ICMPV6:
        return this.upper.icmp(up, now);
      case IPPROTO_UDP:
        return this.upper.udp(up, now);
      default:
        return this.upper.tcp(up, now);
    }
  }

  private reassemblyTimedOut(header: Uint8Array, data: Uint8Array, now: number): void {
    // Time Exceeded, code 1, quoting the first fragment (RFC 8200 §4.5).
    const pkt = new Uint8Array(header.length + data.length);
    pkt.set(header, 0);
    pkt.set(data, header.length);
    setU16(pkt, 4, pkt.length - IPV6_HLEN);
    const ip = newIpv6Repr();
    if (parseIpv6(pkt, 0, pkt.length, ip) !== undefined) return;
    const rx: IpRx = {
      src: ip.src, dst: ip.dst, pkt, ipOff: 0, off: 0, len: pkt.length, addrSum: 0,
      rtype: this.classify(ip.dst), pktType: PacketType.HOST, v4: null,
    };
    this.upper.icmpError(ICMPV6_TIME_EXCEED, ICMPV6_EXC_FRAGTIME, 0, rx, now);
  }

  // ── egress ───────────────────────────────────────────────────────────────

  /**
   * Sends the `payloadLen` bytes at `frame[TX_HEADROOM6…]` as one IPv6 packet (fragments if
   * it does not fit the path MTU: only the source fragments in IPv6). Returns a drop reason
   * (also counted) when it cannot be sent.
   */
  output(
    frame: Uint8Array, payloadLen: number, nextHeader: number, src: Ipv6Addr, dst: Ipv6Addr, now: number,
    opts: Ipv6SendOptions = NO_OPTIONS,
  ): DropReason | undefined {
    walk.tracer?.step('ip out');
    const mib = this.counters.Ip6;
    const multicast = isIpv6Multicast(dst);
    const local = !multicast && this.isLocal(dst);
    let nextHop: Ipv6Addr | undefined = dst;
    if (!multicast && !local) {
      nextHop = this.nextHop(dst, now);
      if (nextHop === undefined) {
        mib.OutNoRoutes++;
        this.drops.count(DropReason.IP_OUTNOROUTES, Stage.IPV6);
        return DropReason.IP_OUTNOROUTES;
      }
    }

    mib.OutRequests++;
    const total = IPV6_HLEN + payloadLen;
    mib.OutOctets += total;
    if (multicast) {
      mib.OutMcastPkts++;
      mib.OutMcastOctets += total;
    }
    const ip = this.tx;
    ip.trafficClass = 0;
    ip.flowLabel = 0;
    ip.hopLimit = opts.hopLimit ?? this.hopLimit;
    ip.src = src;
    ip.dst = dst;

    const mtu = local ? this.link.mtu : this.pathMtu(dst);
    if (total <= mtu) {
      ip.nextHeader = nextHeader;
      ip.payloadLength = payloadLen;
      emitIpv6(ip, frame, ETH_HLEN);
      this.transmit(frame, multicast, local, nextHop, now);
      return undefined;
    }
    if (payloadLen > 65_535) {
      mib.FragFails++;
      this.drops.count(DropReason.PKT_TOO_BIG, Stage.IPV6);
      return DropReason.PKT_TOO_BIG;
    }
    this.fragmentOut(frame, payloadLen, nextHeader, mtu, multicast, local, nextHop, now);
    return undefined;
  }

  /** Splits the packet in `frame` into fragments of at most `mtu` bytes, 8-byte aligned (RFC 8200 §4.5). */
  private fragmentOut(
    frame: Uint8Array, payloadLen: number, nextHeader: number, mtu: number, multicast: boolean, local: boolean,
    nextHop: Ipv6Addr, now: number,
  ): void {
    const ip = this.tx;
    const f = this.frag;
    f.nextHeader = nextHeader;
    f.id = this.nextId;
    this.nextId = (this.nextId + 1) >>> 0;
    ip.nextHeader = NEXTHDR_FRAGMENT;
    const room = (mtu - IPV6_HLEN - IPV6_FRAG_HLEN) & ~7;
    const hl = IPV6_HLEN + IPV6_FRAG_HLEN;
    for (let offset = 0; offset < payloadLen;) {
      const len = Math.min(room, payloadLen - offset);
      const piece = new Uint8Array(ETH_HLEN + hl + len);
      piece.set(frame.subarray(TX_HEADROOM6 + offset, TX_HEADROOM6 + offset + len), ETH_HLEN + hl);
      ip.payloadLength = IPV6_FRAG_HLEN + len;
      emitIpv6(ip, piece, ETH_HLEN);
      f.offset = offset;
      f.moreFrags = offset + len < payloadLen;
      emitIpv6Frag(f, piece, ETH_HLEN + IPV6_HLEN);
      this.counters.Ip6.FragCreates++;
      this.transmit(piece, multicast, local, nextHop, now);
      offset += len;
    }
    this.counters.Ip6.FragOKs++;
  }

  private transmit(frame: Uint8Array, multicast: boolean, local: boolean, nextHop: Ipv6Addr, now: number): void {
    this.counters.Ip6.OutTransmits++;
    if (local) {
      if (this.loopback.length >= LOOPBACK_BACKLOG) {
        this.drops.count(DropReason.CPU_BACKLOG, Stage.IPV6);
        return;
      }
      this.loopback.push(frame);
    } else if (multicast) {
      this.eth.output(frame, ipv6MulticastMac(this.tx.dst), ETH_P_IPV6);
    } else {
      this.neigh.output(frame, nextHop, now);
    }
  }

  // ── timers ──────────────────────────────────────────────────────────────

  /** Delivers what we sent to ourselves, runs DAD, expires learned routes, prefixes and reassembly. */
  poll(now: number): void {
    if (this.loopback.length > 0) {
      const frames = this.loopback;
      this.loopback = [];
      for (const f of frames) {
        const verdict = this.input(f, ETH_HLEN, f.length - ETH_HLEN, PacketType.LOOPBACK, now);
        if (verdict !== CONSUMED) this.drops.count(verdict);
      }
    }
    for (const a of this.addresses) {
      if (a.dadAt > now) continue;
      if (a.dadProbes > 0) {
        a.dadProbes--;
        a.dadAt = now + this.cfg.neigh.retransTimeMs;
        this.upper.solicitDad(a.addr, now);
      } else {
        a.tentative = false;
        a.dadAt = Infinity;
        this.upper.addressReady(a, now);
      }
    }
    expire(this.prefixes, now);
    expire(this.routers, now);
    for (let i = this.addresses.length - 1; i >= 0; i--) {
      if (this.addresses[i]!.validUntil <= now) this.addresses.splice(i, 1);
    }
    if (this.pmtu.size > 0) {
      for (const [dst, p] of this.pmtu) if (p.expires <= now) this.pmtu.delete(dst);
    }
    this.reassembly.poll(now);
  }

  nextDeadline(): number {
    if (this.loopback.length > 0) return 0;
    let t = this.reassembly.nextDeadline();
    for (const a of this.addresses) t = Math.min(t, a.dadAt, a.validUntil);
    for (const p of this.prefixes) t = Math.min(t, p.expires);
    for (const r of this.routers) t = Math.min(t, r.expires);
    return t;
  }
}

function expire(list: Learned[], now: number): void {
  for (let i = list.length - 1; i >= 0; i--) if (list[i]!.expires <= now) list.splice(i, 1);
}

/** How many leading bits two addresses share. */
function commonPrefixLen(a: Ipv6Addr, b: Ipv6Addr): number {
  const x = ipv6Bytes(a);
  const y = ipv6Bytes(b);
  for (let i = 0; i < 16; i++) {
    const diff = x[i]! ^ y[i]!;
    if (diff !== 0) return i * 8 + Math.clz32(diff) - 24;
  }
  return 128;
}

/**
 * Does the first fragment's data (`len` bytes at `off`, starting with header `nextHeader`)
 * hold every extension header and the upper-layer header (Linux ipv6frag_thdr_truncated)?
 */
function headerChainFits(pkt: Uint8Array, off: number, len: number, nextHeader: number): boolean {
  let at = off;
  const end = off + len;
  for (let i = 0; i < 16; i++) {
    switch (nextHeader) {
      case NEXTHDR_HOP:
      case NEXTHDR_ROUTING:
      case NEXTHDR_DEST: {
        const hlen = extHeaderLen(pkt, at, end - at, nextHeader);
        if (hlen < 0) return false;
        nextHeader = pkt[at]!;
        at += hlen;
        continue;
      }
      case IPPROTO_TCP:
        return end - at >= 20;
      case IPPROTO_UDP:
      case IPPROTO_ICMPV6:
        return end - at >= 8;
      default:
        return true;
    }
  }
  return false;
}

/**
 * The whole packet from the first fragment's headers (IPv6 header, the headers before the
 * Fragment header, and the Fragment header itself, last): the Fragment header is left
 * out, its Next Header moves into the header before it, and the payload length grows.
 */
function wholePacket(header: Uint8Array, dataLen: number): Uint8Array {
  const unfragmentable = header.length - IPV6_FRAG_HLEN;
  const out = new Uint8Array(unfragmentable + dataLen);
  out.set(header.subarray(0, unfragmentable), 0);
  // Find the Next Header byte that named the Fragment header.
  let nhOff = 6;
  let at = IPV6_HLEN;
  while (at < unfragmentable) {
    nhOff = at;
    at += (header[at + 1]! + 1) * 8;
  }
  out[nhOff] = header[unfragmentable]!;
  setU16(out, 4, out.length - IPV6_HLEN);
  return out;
}
