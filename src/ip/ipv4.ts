/**
 * IPv4 for a host (RFC 791, RFC 1122 §3.2.1). Ingress runs Linux's checks in Linux's
 * order (ip_rcv_core → ip_route_input → ip_local_deliver): header, source, destination,
 * options, reassembly, then the protocol switch. Egress: route, header, fragment,
 * resolve the next hop.
 *
 * A host keeps a packet addressed to it whatever its TTL (RFC 1122 §3.2.1.7): TTL is
 * the business of forwarding, which this stack does not do (Ip Forwarding = 2).
 */
import type { StackConfig } from '../core/config.js';
import type { Counters } from '../core/counters.js';
import { CONSUMED, DropReason, Stage, walk, type DropCounts, type Verdict } from '../core/drop.js';
import { enter } from '../core/trace.js';
import type { Link } from '../dev/device.js';
import { PacketType, type Ethernet } from '../eth/ethernet.js';
import type { NeighborTable } from '../eth/neighbor.js';
import { BROADCAST_MAC, ipv4MulticastMac, type Ipv4Addr } from '../wire/addr.js';
import { ETH_HLEN, ETH_P_IP } from '../wire/ethernet.js';
import { checksum } from '../wire/checksum.js';
import { ICMP_DEST_UNREACH, ICMP_PARAMETERPROB, ICMP_PROT_UNREACH, ICMP_TIME_EXCEEDED, ICMP_EXC_FRAGTIME } from '../wire/icmpv4.js';
import {
  IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPV4_HLEN, checkIpv4Options, emitIpv4, newIpv4Repr, parseIpv4, type Ipv4Repr,
} from '../wire/ipv4.js';
import { Reassembly, type FragFamily, type FragMemory } from './frag.js';
import type { IpRx, TransportInput } from './ip.js';
import { RouteType, type RouteTable } from './route.js';

/** Room at the front of every outgoing frame for the Ethernet and IPv4 headers. */
export const TX_HEADROOM = ETH_HLEN + IPV4_HLEN;

/**
 * An upper-layer input: the packet is `pkt`, its IP header at `ipOff`, parsed into `ip`;
 * the transport header starts at `ipOff + ip.headerLen`.
 */
export type Ipv4Input = (pkt: Uint8Array, ipOff: number, ip: Ipv4Repr, rtype: RouteType, pktType: PacketType, now: number) => Verdict;

/** Sends an ICMP error about the packet `pkt` (IP header at `ipOff`); the ICMP stage applies RFC 1122's rules. */
export type IcmpErrorSender = (
  type: number, code: number, rest: number, pkt: Uint8Array, ipOff: number, ip: Ipv4Repr,
  rtype: RouteType, pktType: PacketType, now: number,
) => void;

export interface Ipv4Upper {
  icmp: Ipv4Input;
  udp: TransportInput;
  tcp: TransportInput;
  icmpError: IcmpErrorSender;
}

export interface Ipv4SendOptions {
  /** Defaults to net.ipv4.ip_default_ttl. */
  ttl?: number;
  tos?: number;
  /**
   * Linux IP_PMTUDISC_WANT: set DF when the packet fits the MTU, fragment when it does
   * not. Without it (ICMP, IP_PMTUDISC_DONT) DF is never set.
   */
  dontFragment?: boolean;
  /**
   * IP options for the header (a multiple of 4 bytes, at most 40). The caller leaves room
   * for them: the payload then starts at `TX_HEADROOM + options.length`. Only the first
   * fragment carries them (the options we send, record route and timestamp, are not copied;
   * RFC 791 §3.1).
   */
  options?: Uint8Array;
}

const NO_OPTIONS = new Uint8Array(0);

/** A reassembled datagram's header: total length, no MF, no offset (DF kept), a fresh checksum. */
function wholeDatagram(header: Uint8Array, dataLen: number): Uint8Array {
  const hl = header.length;
  const total = hl + dataLen;
  const out = new Uint8Array(total);
  out.set(header, 0);
  out[2] = total >>> 8;
  out[3] = total & 0xff;
  out[6] = header[6]! & 0x40;
  out[7] = 0;
  out[10] = 0;
  out[11] = 0;
  const sum = checksum(out, 0, hl);
  out[10] = sum >>> 8;
  out[11] = sum & 0xff;
  return out;
}

/** The loopback backlog (Linux netdev_max_backlog). */
const LOOPBACK_BACKLOG = 1000;

export class Ipv4 {
  readonly reassembly: Reassembly;
  private readonly rx = newIpv4Repr();
  /** What UDP and TCP are handed: one object, refilled for every packet. */
  private readonly up: IpRx = {
    src: 0, dst: 0, pkt: new Uint8Array(0), ipOff: 0, off: 0, len: 0, addrSum: 0,
    rtype: RouteType.LOCAL, pktType: PacketType.HOST, v4: null,
  };
  private readonly tx = newIpv4Repr();
  private nextId: number;
  /** Packets we sent to one of our own addresses; `poll` delivers them. */
  private loopback: Uint8Array[] = [];

  constructor(
    private readonly cfg: StackConfig,
    private readonly counters: Counters,
    private readonly drops: DropCounts,
    private readonly link: Link,
    private readonly eth: Ethernet,
    private readonly neigh: NeighborTable,
    readonly routes: RouteTable,
    private readonly upper: Ipv4Upper,
    random: () => number,
    fragMemory: FragMemory,
  ) {
    this.nextId = Math.floor(random() * 0x10000);
    const family: FragFamily = {
      mib: counters.Ip,
      overlaps: counters.IpExt,
      timeoutMs: cfg.frag.timeoutMs,
      rebuild: wholeDatagram,
      timedOut: (header, data, now) => this.reassemblyTimedOut(header, data, now),
    };
    this.reassembly = new Reassembly(cfg.frag, family, fragMemory, drops);
  }

  /** The link's MTU: the largest datagram sent without fragmenting. */
  get mtu(): number {
    return this.link.mtu;
  }

  // ── ingress ──────────────────────────────────────────────────────────────

  input(pkt: Uint8Array, off: number, len: number, pktType: PacketType, now: number): Verdict {
    enter(Stage.IPV4);
    const mib = this.counters.Ip;
    const ext = this.counters.IpExt;
    mib.InReceives++;
    ext.InOctets += len;

    const ip = this.rx;
    const bad = parseIpv4(pkt, off, len, ip);
    if (bad !== undefined) {
      if (bad === DropReason.PKT_TOO_SMALL) {
        ext.InTruncatedPkts++;
      } else {
        if (bad === DropReason.IP_CSUM) ext.InCsumErrors++;
        mib.InHdrErrors++;
      }
      return bad;
    }
    // From here on the packet is `ip.totalLength` long: link-layer padding is ignored.

    // Source: a martian source is dropped (RFC 1122 §3.2.1.3, Linux martian_source).
    const stype = this.routes.classify(ip.src);
    if (stype === RouteType.MULTICAST || stype === RouteType.BROADCAST) return DropReason.IP_INVALID_SOURCE;
    if (ip.src === 0 && ip.dst !== 0xffffffff) return DropReason.IP_INVALID_SOURCE;
    if (stype === RouteType.LOCAL && pktType !== PacketType.LOOPBACK) return DropReason.IP_LOCAL_SOURCE;

    // Destination: ours, a broadcast, or a group we joined; we do not forward.
    if (ip.dst === 0) return DropReason.IP_INVALID_DEST;
    const rtype = this.routes.classify(ip.dst);
    if (rtype === RouteType.UNICAST || (rtype === RouteType.MULTICAST && !this.routes.groups.has(ip.dst))) {
      mib.InAddrErrors++;
      return DropReason.IP_INADDRERRORS;
    }
    if (rtype === RouteType.BROADCAST) ext.InBcastPkts++;
    else if (rtype === RouteType.MULTICAST) ext.InMcastPkts++;

    if (ip.headerLen > IPV4_HLEN) {
      const badAt = checkIpv4Options(pkt, off, ip.headerLen - IPV4_HLEN);
      if (badAt >= 0) {
        mib.InHdrErrors++;
        this.upper.icmpError(ICMP_PARAMETERPROB, 0, badAt << 24, pkt, off, ip, rtype, pktType, now);
        return DropReason.IP_INHDR;
      }
    }

    if (ip.moreFrags || ip.fragOffset !== 0) {
      enter(Stage.FRAG);
      const key = `${ip.src}/${ip.dst}/${ip.protocol}/${ip.id}`;
      const dataStart = off + ip.headerLen;
      const whole = this.reassembly.add(
        key, pkt, off, dataStart, ip.fragOffset, ip.totalLength - ip.headerLen, ip.moreFrags, now,
      );
      if (typeof whole === 'string') return whole;
      parseIpv4(whole, 0, whole.length, ip);
      return this.deliver(whole, 0, ip, rtype, pktType, now);
    }
    return this.deliver(pkt, off, ip, rtype, pktType, now);
  }

  /** ip_local_deliver: the protocol switch. */
  private deliver(pkt: Uint8Array, off: number, ip: Ipv4Repr, rtype: RouteType, pktType: PacketType, now: number): Verdict {
    switch (ip.protocol) {
      case IPPROTO_ICMP:
        this.counters.Ip.InDelivers++;
        return this.upper.icmp(pkt, off, ip, rtype, pktType, now);
      case IPPROTO_UDP:
        this.counters.Ip.InDelivers++;
        return this.upper.udp(this.handUp(pkt, off, ip, rtype, pktType), now);
      case IPPROTO_TCP:
        this.counters.Ip.InDelivers++;
        return this.upper.tcp(this.handUp(pkt, off, ip, rtype, pktType), now);
      default:
        this.counters.Ip.InUnknownProtos++;
        this.upper.icmpError(ICMP_DEST_UNREACH, ICMP_PROT_UNREACH, 0, pkt, off, ip, rtype, pktType, now);
        return DropReason.IP_NOPROTO;
    }
  }

  private handUp(pkt: Uint8Array, off: number, ip: Ipv4Repr, rtype: RouteType, pktType: PacketType): IpRx {
    const up = this.up;
    up.src = ip.src;
    up.dst = ip.dst;
    up.pkt = pkt;
    up.ipOff = off;
    up.off = off + ip.headerLen;
    up.len = ip.totalLength - ip.headerLen;
    up.addrSum = (ip.src >>> 16) + (ip.src & 0xffff) + (ip.dst >>> 16) + (ip.dst & 0xffff);
    up.rtype = rtype;
    up.pktType = pktType;
    up.v4 = ip;
    return up;
  }

  private reassemblyTimedOut(header: Uint8Array, data: Uint8Array, now: number): void {
    // Rebuild "IP header + the start of the data" to quote in Time Exceeded (code 1).
    const pkt = new Uint8Array(header.length + Math.min(data.length, 8));
    pkt.set(header, 0);
    pkt.set(data.subarray(0, pkt.length - header.length), header.length);
    const ip = newIpv4Repr();
    parseIpv4(pkt, 0, pkt.length, ip); // valid when it arrived; only the length differs now
    ip.totalLength = pkt.length;
    this.upper.icmpError(ICMP_TIME_EXCEEDED, ICMP_EXC_FRAGTIME, 0, pkt, 0, ip, this.routes.classify(ip.dst), PacketType.HOST, now);
  }

  // ── egress ───────────────────────────────────────────────────────────────

  /**
   * Sends the `payloadLen` bytes at `frame[TX_HEADROOM…]` as one IP datagram (in
   * fragments if it does not fit the MTU). Returns a drop reason (also counted) when it
   * cannot be sent.
   */
  output(
    frame: Uint8Array, payloadLen: number, protocol: number, src: Ipv4Addr, dst: Ipv4Addr,
    opts: Ipv4SendOptions, now: number,
  ): DropReason | undefined {
    walk.tracer?.step('ip out');
    const mib = this.counters.Ip;
    const ext = this.counters.IpExt;
    const rtype = this.routes.classify(dst);
    let nextHop = dst;
    if (rtype === RouteType.UNICAST) {
      const route = this.routes.lookup(dst);
      if (route === undefined) {
        mib.OutNoRoutes++;
        this.drops.count(DropReason.IP_OUTNOROUTES, Stage.IPV4);
        return DropReason.IP_OUTNOROUTES;
      }
      if (route.gateway !== 0) nextHop = route.gateway;
    }

    const options = opts.options ?? NO_OPTIONS;
    const total = IPV4_HLEN + options.length + payloadLen;
    mib.OutRequests++;
    ext.OutOctets += total;
    if (rtype === RouteType.BROADCAST) ext.OutBcastPkts++;
    else if (rtype === RouteType.MULTICAST) ext.OutMcastPkts++;

    const ip = this.tx;
    ip.tos = opts.tos ?? 0;
    ip.ttl = opts.ttl ?? this.cfg.ipv4.defaultTtl;
    ip.protocol = protocol;
    ip.src = src;
    ip.dst = dst;
    ip.options = options;
    ip.id = this.nextId;
    this.nextId = (this.nextId + 1) & 0xffff;

    const mtu = this.link.mtu;
    if (total <= mtu) {
      ip.totalLength = total;
      ip.dontFrag = opts.dontFragment === true;
      ip.moreFrags = false;
      ip.fragOffset = 0;
      emitIpv4(ip, frame, ETH_HLEN);
      this.transmit(frame, rtype, nextHop, now);
      return undefined;
    }
    if (total > 65_535) {
      mib.FragFails++;
      this.drops.count(DropReason.PKT_TOO_BIG, Stage.IPV4);
      return DropReason.PKT_TOO_BIG;
    }
    this.fragment(frame, payloadLen, rtype, nextHop, now);
    return undefined;
  }

  /** Splits the datagram in `frame` into MTU-sized fragments, 8-byte aligned (RFC 791 §3.2). */
  private fragment(frame: Uint8Array, payloadLen: number, rtype: RouteType, nextHop: Ipv4Addr, now: number): void {
    const ip = this.tx;
    const dataStart = TX_HEADROOM + ip.options.length;
    ip.dontFrag = false;
    for (let offset = 0; offset < payloadLen;) {
      const hl = IPV4_HLEN + ip.options.length;
      const len = Math.min((this.link.mtu - hl) & ~7, payloadLen - offset);
      const piece = new Uint8Array(ETH_HLEN + hl + len);
      piece.set(frame.subarray(dataStart + offset, dataStart + offset + len), ETH_HLEN + hl);
      ip.totalLength = hl + len;
      ip.fragOffset = offset;
      ip.moreFrags = offset + len < payloadLen;
      emitIpv4(ip, piece, ETH_HLEN);
      this.counters.Ip.FragCreates++;
      this.transmit(piece, rtype, nextHop, now);
      ip.options = NO_OPTIONS;
      offset += len;
    }
    this.counters.Ip.FragOKs++;
  }

  private transmit(frame: Uint8Array, rtype: RouteType, nextHop: Ipv4Addr, now: number): void {
    switch (rtype) {
      case RouteType.LOCAL:
        if (this.loopback.length >= LOOPBACK_BACKLOG) {
          this.drops.count(DropReason.CPU_BACKLOG, Stage.IPV4);
          return;
        }
        this.loopback.push(frame);
        return;
      case RouteType.BROADCAST:
        this.eth.output(frame, BROADCAST_MAC, ETH_P_IP);
        return;
      case RouteType.MULTICAST:
        this.eth.output(frame, ipv4MulticastMac(nextHop), ETH_P_IP);
        return;
      case RouteType.UNICAST:
        this.neigh.output(frame, nextHop, now);
        return;
    }
  }

  // ── timers ──────────────────────────────────────────────────────────────

  /** Delivers what we sent to ourselves, then expires reassembly. */
  poll(now: number): void {
    if (this.loopback.length > 0) {
      const frames = this.loopback;
      this.loopback = [];
      for (const f of frames) {
        const verdict = this.input(f, ETH_HLEN, f.length - ETH_HLEN, PacketType.LOOPBACK, now);
        if (verdict !== CONSUMED) this.drops.count(verdict);
      }
    }
    this.reassembly.poll(now);
  }

  nextDeadline(): number {
    return this.loopback.length > 0 ? 0 : this.reassembly.nextDeadline();
  }
}
