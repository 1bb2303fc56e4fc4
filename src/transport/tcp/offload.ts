/**
 * TCP segmentation offload (TSO) on the transmit side: TCP hands a link with virtio-net
 * offloads one "super-segment" of up to 64 KiB, with the checksum left partial, and the
 * kernel (or the link, in software) cuts it into MSS-sized segments. One frame built, one
 * header written, one crossing into the kernel, where plain output makes ~45 of each.
 *
 * ```
 *  snd.ts sendOne ─len ≤ n·MSS─► output.ts transmit ─┬─ next hop known ─► SegmentOffload.send
 *                                                     │   Ethernet + IP header here,    └► link.sendOffload
 *                                                     │   TCP checksum = pseudo-header    (gso_size = MSS)
 *                                                     └─ otherwise (≤ 1 MSS) ─► ip.output ─► neigh ─► eth ─► link.send
 * ```
 *
 * Why a shortcut past ip output and the neighbour table, rather than an "offload" option
 * carried through them: a super-segment must neither be fragmented by IP (it is larger than
 * the MTU) nor wait in the neighbour queue, and it needs a different call on the link. When
 * the next hop's address is known now — the entry is REACHABLE, DELAY or PROBE, exactly the
 * states in which `NeighborTable.output` sends at once — this file writes the Ethernet and IP
 * headers itself, as Linux's TCP does through the socket's cached route and neighbour
 * (`ip_queue_xmit`, `neigh_output` with the cached hardware header). In any other case TCP
 * sends ordinary MSS-sized segments through ip output, which resolves the address (or moves
 * a STALE entry to DELAY), and the next segment takes the shortcut. So the neighbour state
 * machine still runs: it just needs one ordinary segment to be told of traffic.
 *
 * The IPv4 ID of a super-segment's segments counts up from one counter of this path (the
 * kernel adds the segment index), as Linux's per-socket `inet_id`: with DF set, RFC 6864
 * §4.1 makes the field meaningless anyway. Ip OutRequests and OutOctets count the
 * super-packet once, as Linux counts the GSO packet in `ip_output` before it is cut.
 */
import type { Counters } from '../../core/counters.js';
import { walk } from '../../core/drop.js';
import type { Link } from '../../dev/device.js';
import { VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6 } from '../../dev/vnet.js';
import type { Ethernet } from '../../eth/ethernet.js';
import { NudState, type NeighborEntry, type NeighborTable } from '../../eth/neighbor.js';
import type { Ipv6 } from '../../ip/ipv6.js';
import { RouteType, type RouteTable } from '../../ip/route.js';
import { isIpv4, isIpv6Multicast, type IpAddr, type Ipv4Addr, type Ipv6Addr, type Mac } from '../../wire/addr.js';
import { ETH_HLEN, ETH_P_IP, ETH_P_IPV6, emitEthernet, newEthernetRepr } from '../../wire/ethernet.js';
import { IPPROTO_TCP, IPV4_HLEN, emitIpv4, newIpv4Repr } from '../../wire/ipv4.js';
import { IPV6_HLEN, emitIpv6, newIpv6Repr } from '../../wire/ipv6.js';
import type { Tcp } from './tcp.js';

/** The TCP checksum field's offset in the TCP header: `csum_offset` for the device. */
const TCP_CSUM_OFFSET = 16;

/** The largest TCP header (data offset 15): the room kept for it when sizing a super-segment. */
const TCP_MAX_HLEN = 60;

/** What TCP's output needs to send super-segments; see the file comment. */
export interface SegmentOffload {
  /**
   * The most payload bytes one super-segment to `dst` may carry (room is kept for the largest
   * TCP header), when it can go out now: the next hop is known. 0 when TCP must send plain
   * segments through ip output.
   */
  maxPayload(dst: IpAddr, now: number): number;
  /**
   * Writes the Ethernet and IP headers in front of the `tcpLen` bytes of TCP segment at
   * `frame[ETH_HLEN + IP header…]` (its checksum field holding the folded pseudo-header sum)
   * and hands the frame to the link, to be cut into segments of `gsoSize` payload bytes (0: one
   * segment, only the checksum to finish). Returns false, having sent nothing, when the next
   * hop is not known now: it is sure to succeed right after `maxPayload` said a size.
   */
  send(frame: Uint8Array, tcpLen: number, src: IpAddr, dst: IpAddr, gsoSize: number, now: number): boolean;
}

const paths = new WeakMap<Tcp, SegmentOffload>();

/** Gives `tcp` a way to send super-segments (or takes it away with null). */
export function setSegmentOffload(tcp: Tcp, path: SegmentOffload | null): void {
  if (path === null) paths.delete(tcp);
  else paths.set(tcp, path);
}

/** The super-segment path of `tcp`, if it has one. */
export function segmentOffload(tcp: Tcp): SegmentOffload | undefined {
  return paths.get(tcp);
}

/** What {@link LinkSegmentOffload} reads of the stack: the same objects ip output uses. */
export interface LinkSegmentOffloadParts {
  link: Link;
  eth: Ethernet;
  mac: Mac;
  routes: RouteTable;
  neigh: NeighborTable;
  ipv6: Ipv6;
  neigh6: NeighborTable;
  counters: Counters;
  ttl: number;
  random: () => number;
}

/** A next hop the shortcut may use: the states in which NeighborTable.output sends at once. */
function usable(n: NeighborEntry | undefined): n is NeighborEntry {
  return n !== undefined && (n.state === NudState.REACHABLE || n.state === NudState.DELAY || n.state === NudState.PROBE);
}

/** Super-segments straight to a link's `sendOffload` (see the file comment). */
export class LinkSegmentOffload implements SegmentOffload {
  private readonly eth = newEthernetRepr();
  private readonly ip4 = newIpv4Repr();
  private readonly ip6 = newIpv6Repr();
  private id: number;
  /** Largest IP packet of a super-segment: the link's frame less Ethernet, and IP's 16-bit length. */
  private readonly maxIp: number;

  constructor(private readonly p: LinkSegmentOffloadParts) {
    this.eth.src = p.mac;
    this.ip4.dontFrag = true;
    this.ip4.protocol = IPPROTO_TCP;
    this.ip6.nextHeader = IPPROTO_TCP;
    this.id = Math.floor(p.random() * 0x10000);
    this.maxIp = Math.min(0xffff, (p.link.maxFrame ?? ETH_HLEN + p.link.mtu) - ETH_HLEN);
  }

  maxPayload(dst: IpAddr, now: number): number {
    if (this.nextHop(dst, now) === undefined) return 0;
    if (isIpv4(dst)) return this.maxIp - IPV4_HLEN - TCP_MAX_HLEN;
    // A path MTU below the link's (a Packet Too Big): the MSS may no longer fit, and ip output
    // fragments what it must (RFC 8201 §4).
    if (this.p.ipv6.pathMtu(dst) < this.p.link.mtu) return 0;
    return Math.min(this.maxIp - IPV6_HLEN, 0xffff) - TCP_MAX_HLEN;
  }

  send(frame: Uint8Array, tcpLen: number, src: IpAddr, dst: IpAddr, gsoSize: number, now: number): boolean {
    const n = this.nextHop(dst, now);
    if (n === undefined) return false;
    n.used = now;
    if (walk.tracer !== null) {
      walk.tracer.step('ip out');
      walk.tracer.step('neigh');
    }
    const eth = this.eth;
    eth.dst = n.mac;
    let gsoType: number;
    if (isIpv4(dst)) {
      const ip = this.ip4;
      ip.totalLength = IPV4_HLEN + tcpLen;
      ip.ttl = this.p.ttl;
      ip.id = this.id;
      ip.src = src as Ipv4Addr;
      ip.dst = dst;
      emitIpv4(ip, frame, ETH_HLEN);
      eth.etherType = ETH_P_IP;
      gsoType = VIRTIO_NET_HDR_GSO_TCPV4;
      const segs = gsoSize === 0 ? 1 : Math.ceil((tcpLen - (frame[ETH_HLEN + IPV4_HLEN + 12]! >>> 4) * 4) / gsoSize);
      this.id = (this.id + Math.max(1, segs)) & 0xffff;
      this.p.counters.Ip.OutRequests++;
      this.p.counters.IpExt.OutOctets += IPV4_HLEN + tcpLen;
    } else {
      const ip = this.ip6;
      ip.payloadLength = tcpLen;
      ip.hopLimit = this.p.ipv6.hopLimit;
      ip.src = src as Ipv6Addr;
      ip.dst = dst;
      emitIpv6(ip, frame, ETH_HLEN);
      eth.etherType = ETH_P_IPV6;
      gsoType = VIRTIO_NET_HDR_GSO_TCPV6;
      this.p.counters.Ip6.OutRequests++;
      this.p.counters.Ip6.OutOctets += IPV6_HLEN + tcpLen;
    }
    emitEthernet(eth, frame, 0);
    const csumStart = ETH_HLEN + (isIpv4(dst) ? IPV4_HLEN : IPV6_HLEN);
    const hdrLen = csumStart + (frame[csumStart + 12]! >>> 4) * 4;
    if (walk.tracer !== null) {
      walk.tracer.step('eth out');
      walk.tracer.sent(frame);
    }
    this.p.eth.onSend?.(frame);
    this.p.link.sendOffload!(
      frame, csumStart, TCP_CSUM_OFFSET, gsoSize === 0 ? VIRTIO_NET_HDR_GSO_NONE : gsoType, gsoSize, gsoSize === 0 ? 0 : hdrLen,
    );
    return true;
  }

  /** The neighbour entry of the next hop toward `dst`, if the shortcut may use it now. */
  private nextHop(dst: IpAddr, now: number): NeighborEntry | undefined {
    if (isIpv4(dst)) {
      const routes = this.p.routes;
      if (routes.classify(dst) !== RouteType.UNICAST) return undefined;
      const route = routes.lookup(dst);
      if (route === undefined) return undefined;
      const n = this.p.neigh.lookup(route.gateway !== 0 ? route.gateway : dst);
      return usable(n) ? n : undefined;
    }
    const ipv6 = this.p.ipv6;
    if (isIpv6Multicast(dst) || ipv6.isLocal(dst)) return undefined;
    const hop = ipv6.nextHop(dst, now);
    if (hop === undefined) return undefined;
    const n = this.p.neigh6.lookup(hop);
    return usable(n) ? n : undefined;
  }
}
