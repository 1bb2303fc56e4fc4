/**
 * The seam between the network layer and the transports, for both families: what IPv4
 * and IPv6 hand to UDP and TCP when a packet arrives ({@link IpRx}), and what the
 * transports ask of the network layer when they send ({@link Ip}). UDP and TCP are written
 * once against this file; only here does the family of an address decide anything
 * (`typeof addr === 'number'` is IPv4, a string is IPv6; see wire/addr.ts).
 */
import type { DropReason, Verdict } from '../core/drop.js';
import type { PacketType } from '../eth/ethernet.js';
import { IPV6_ANY, isIpv4, type IpAddr } from '../wire/addr.js';
import { pseudoHeaderV4, pseudoHeaderV6 } from '../wire/checksum.js';
import { ICMP_DEST_UNREACH, ICMP_PORT_UNREACH } from '../wire/icmpv4.js';
import { ICMPV6_DEST_UNREACH, ICMPV6_PORT_UNREACH } from '../wire/icmpv6.js';
import type { Ipv4Repr } from '../wire/ipv4.js';
import { TX_HEADROOM, type IcmpErrorSender, type Ipv4 } from './ipv4.js';
import type { Ipv6 } from './ipv6.js';
import type { RouteType } from './route.js';

/**
 * A received packet as the network layer hands it up: one object per family, reused for
 * every packet, valid only during the call.
 */
export interface IpRx {
  src: IpAddr;
  dst: IpAddr;
  pkt: Uint8Array;
  /** The IP header, quoted by ICMP errors. */
  ipOff: number;
  /** The transport header and the transport length (header and payload). */
  off: number;
  len: number;
  /** The unfolded sum of the two addresses: add protocol and length for the pseudo-header. */
  addrSum: number;
  /** LOCAL for a unicast address of ours, else BROADCAST or MULTICAST. */
  rtype: RouteType;
  pktType: PacketType;
  /** The IPv4 header (for ICMPv4 errors), or null for IPv6. */
  v4: Ipv4Repr | null;
}

/** An upper-layer input of either family. */
export type TransportInput = (rx: IpRx, now: number) => Verdict;

/** Sends an ICMPv6 error about a received packet (the ICMPv6 stage applies RFC 4443's rules). */
export type Icmpv6ErrorSender = (type: number, code: number, rest: number, rx: IpRx, now: number) => void;

export interface IpSendOptions {
  /** IPv4 DF when the packet fits (Linux IP_PMTUDISC_WANT); IPv6 routers never fragment anyway. */
  dontFragment?: boolean;
}

/** The network layer as UDP and TCP see it: one call per question, whatever the family. */
export class Ip {
  constructor(
    readonly v4: Ipv4,
    readonly v6: Ipv6,
    private readonly icmpv4Error: IcmpErrorSender,
    private readonly icmpv6Error: Icmpv6ErrorSender,
  ) {}

  /** Where the transport header starts in an outgoing frame to `dst`. */
  headroom(dst: IpAddr): number {
    return isIpv4(dst) ? TX_HEADROOM : this.v6.headroom;
  }

  /** Sends the `payloadLen` bytes at `frame[headroom(dst)…]`; a drop reason when it cannot. */
  output(
    frame: Uint8Array, payloadLen: number, protocol: number, src: IpAddr, dst: IpAddr, opts: IpSendOptions, now: number,
  ): DropReason | undefined {
    if (isIpv4(dst)) return this.v4.output(frame, payloadLen, protocol, src as number, dst, opts, now);
    return this.v6.output(frame, payloadLen, protocol, src as string, dst, now);
  }

  /** The transport checksum's pseudo-header sum (RFC 768, RFC 9293 §3.1, RFC 8200 §8.1). */
  pseudo(src: IpAddr, dst: IpAddr, protocol: number, len: number): number {
    return isIpv4(src) ? pseudoHeaderV4(src, dst as number, protocol, len) : pseudoHeaderV6(src, dst as string, protocol, len);
  }

  /** Destination unreachable, port unreachable — ICMP's or ICMPv6's. */
  portUnreachable(rx: IpRx, now: number): void {
    if (rx.v4 !== null) {
      this.icmpv4Error(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, rx.pkt, rx.ipOff, rx.v4, rx.rtype, rx.pktType, now);
    } else {
      this.icmpv6Error(ICMPV6_DEST_UNREACH, ICMPV6_PORT_UNREACH, 0, rx, now);
    }
  }

  isLocal(a: IpAddr): boolean {
    return isIpv4(a) ? this.v4.routes.isLocal(a) : this.v6.isLocal(a);
  }

  /** What `dst` means to this host: LOCAL, BROADCAST, MULTICAST or UNICAST. */
  classify(dst: IpAddr): RouteType {
    return isIpv4(dst) ? this.v4.routes.classify(dst) : this.v6.classify(dst);
  }

  /** The source address for packets to `dst`. */
  sourceFor(dst: IpAddr): IpAddr {
    return isIpv4(dst) ? this.v4.routes.sourceFor(dst) : this.v6.sourceFor(dst);
  }

  /** Whether a route to `dst` exists. */
  hasRoute(dst: IpAddr): boolean {
    return isIpv4(dst) ? this.v4.routes.lookup(dst) !== undefined : this.v6.hasRoute(dst);
  }

  /** The largest transport segment to `dst` without fragmenting (MTU less the IP header, PMTU for IPv6). */
  maxPayload(dst: IpAddr): number {
    return isIpv4(dst) ? this.v4.mtu - 20 : this.v6.pathMtu(dst) - 40;
  }
}

// ── binding rules both transports share ─────────────────────────────────────

/** `0.0.0.0` (IPv4 only) or `::` (both families). */
export function isWildcard(a: IpAddr): boolean {
  return a === 0 || a === IPV6_ANY;
}

/**
 * Whether binding `b` to a port collides with a socket bound to `a` on it (no
 * SO_REUSEADDR): a wildcard collides with every address of the families it takes.
 */
export function bindConflict(a: IpAddr, b: IpAddr): boolean {
  if (a === b) return true;
  if (a === IPV6_ANY || b === IPV6_ANY) return true;
  if (a === 0) return isIpv4(b);
  if (b === 0) return isIpv4(a);
  return false;
}
