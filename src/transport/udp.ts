/**
 * UDP (RFC 768, RFC 1122 §4.1): check the datagram, find the socket by destination
 * port and address, queue the payload on it (bounded), or answer "port unreachable".
 * Sending builds header and checksum and hands the datagram to IPv4.
 *
 * Counters follow Linux: InErrors for every bad datagram (with InCsumErrors for a bad
 * checksum), NoPorts, RcvbufErrors for a full socket, IgnoredMulti for a broadcast no
 * socket wanted, and InDatagrams when the application reads a datagram.
 */
import type { StackConfig } from '../core/config.js';
import type { UdpMib } from '../core/counters.js';
import { CONSUMED, DropReason, Stage, walk, type DropCounts, type Verdict } from '../core/drop.js';
import type { SocketRow } from '../core/ss.js';
import { deliver, enter } from '../core/trace.js';
import type { PacketType } from '../eth/ethernet.js';
import { TX_HEADROOM, type IcmpErrorSender, type Ipv4 } from '../ip/ipv4.js';
import { RouteType } from '../ip/route.js';
import { formatIpv4, type Ipv4Addr } from '../wire/addr.js';
import { ICMP_DEST_UNREACH, ICMP_PORT_UNREACH } from '../wire/icmpv4.js';
import { IPPROTO_UDP, IPV4_HLEN, type Ipv4Repr } from '../wire/ipv4.js';
import { UDP_HLEN, emitUdp, newUdpRepr, parseUdp } from '../wire/udp.js';

/** Largest UDP payload in one IPv4 datagram: 65535 − 20 − 8. */
export const UDP_MAX_PAYLOAD = 65_535 - IPV4_HLEN - UDP_HLEN;

export interface Datagram {
  /** The payload, copied out of the frame. */
  readonly data: Uint8Array;
  readonly address: Ipv4Addr;
  readonly port: number;
  /** The id of the traced packet that brought it, or 0. */
  readonly trace: number;
}

/** The stack's side of a UDP socket: its binding and its bounded receive queue. */
export class UdpEndpoint {
  localAddr: Ipv4Addr = 0;
  localPort = 0;
  /** SO_BROADCAST: may send to a broadcast address. */
  broadcast = false;
  /** SO_RCVBUF: bytes the queue may hold (payload plus a per-datagram overhead). */
  rcvbuf: number;
  /** Called after a batch of received frames that queued datagrams here. */
  onReadable: (() => void) | null = null;
  /** On the stack's list of sockets to wake after this batch. */
  scheduled = false;

  private readonly queue: Datagram[] = [];
  private head = 0;
  /** Bytes charged against rcvbuf. */
  queued = 0;

  constructor(rcvbuf: number) {
    this.rcvbuf = rcvbuf;
  }

  /** As a trace or capture names it: `udp 0.0.0.0:7`. */
  describe(): string {
    return `udp ${formatIpv4(this.localAddr)}:${this.localPort}`;
  }

  get length(): number {
    return this.queue.length - this.head;
  }

  push(d: Datagram, cost: number): void {
    this.queue.push(d);
    this.queued += cost;
  }

  shift(overhead: number): Datagram | undefined {
    if (this.head === this.queue.length) return undefined;
    const d = this.queue[this.head]!;
    this.queue[this.head++] = undefined as unknown as Datagram;
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    }
    this.queued -= d.data.length + overhead;
    return d;
  }
}

export type UdpSendError = 'EMSGSIZE' | 'EINVAL' | 'EACCES' | 'ENETUNREACH' | 'EHOSTUNREACH';
export type UdpBindError = 'EADDRINUSE' | 'EADDRNOTAVAIL' | 'EINVAL';

export class Udp {
  /** Endpoints by local port; several when bound to different addresses. */
  private readonly ports = new Map<number, UdpEndpoint[]>();
  /** Endpoints that became readable during the current batch; `waking` is the list being woken. */
  private ready: UdpEndpoint[] = [];
  private waking: UdpEndpoint[] = [];
  private readonly rx = newUdpRepr();
  private readonly tx = newUdpRepr();
  /** The last tracepoint: the application read a traced packet's datagram. */
  appRead: ((trace: number) => void) | null = null;

  constructor(
    private readonly cfg: StackConfig['udp'],
    private readonly mib: UdpMib,
    private readonly drops: DropCounts,
    private readonly ip: Ipv4,
    private readonly icmpError: IcmpErrorSender,
    private readonly random: () => number,
  ) {}

  // ── ingress ──────────────────────────────────────────────────────────────

  input(pkt: Uint8Array, ipOff: number, ip: Ipv4Repr, rtype: RouteType, pktType: PacketType, now: number): Verdict {
    enter(Stage.UDP);
    const off = ipOff + ip.headerLen;
    const udp = this.rx;
    const bad = parseUdp(pkt, off, ip.totalLength - ip.headerLen, ip.src, ip.dst, udp);
    if (bad !== undefined) {
      if (bad === DropReason.UDP_CSUM) this.mib.InCsumErrors++;
      this.mib.InErrors++;
      return bad;
    }

    const unicast = rtype === RouteType.LOCAL;
    const ep = this.lookup(udp.dstPort, ip.dst, unicast);
    if (ep === undefined) {
      if (!unicast) {
        this.mib.IgnoredMulti++;
        return CONSUMED;
      }
      this.mib.NoPorts++;
      this.icmpError(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, pkt, ipOff, ip, rtype, pktType, now);
      return DropReason.NO_SOCKET;
    }

    const len = udp.length - UDP_HLEN;
    const cost = len + this.cfg.perDatagramOverhead;
    if (ep.queued + cost > ep.rcvbuf) {
      this.mib.RcvbufErrors++;
      this.mib.InErrors++;
      return DropReason.SOCKET_RCVBUFF;
    }
    const data = pkt.slice(off + UDP_HLEN, off + UDP_HLEN + len);
    deliver(ep);
    ep.push({ data, address: ip.src, port: udp.srcPort, trace: walk.tracer?.current() ?? 0 }, cost);
    this.schedule(ep);
    return CONSUMED;
  }

  /** Socket lookup: an exact local address first, then the wildcard; groups only reach the wildcard. */
  private lookup(port: number, dst: Ipv4Addr, unicast: boolean): UdpEndpoint | undefined {
    const eps = this.ports.get(port);
    if (eps === undefined) return undefined;
    let wildcard: UdpEndpoint | undefined;
    for (const ep of eps) {
      if (ep.localAddr === 0) wildcard = ep;
      else if (unicast && ep.localAddr === dst) return ep;
    }
    return wildcard;
  }

  /**
   * Wakes the sockets that received datagrams in this batch (the softirq → process
   * hand-off). Application code runs here: the list is swapped out first, so a handler
   * that throws leaves the stack consistent for the next turn.
   */
  wakeReaders(): void {
    const ready = this.ready;
    if (ready.length === 0) return;
    this.ready = this.waking;
    this.waking = ready;
    let i = 0;
    try {
      for (; i < ready.length; i++) {
        const ep = ready[i]!;
        ep.scheduled = false;
        if (ep.length > 0) ep.onReadable?.();
      }
    } finally {
      // A handler threw: the sockets after it (still marked scheduled) wait for the next turn.
      for (i++; i < ready.length; i++) this.ready.push(ready[i]!);
      ready.length = 0;
    }
  }

  private schedule(ep: UdpEndpoint): void {
    if (ep.scheduled) return;
    ep.scheduled = true;
    this.ready.push(ep);
  }

  /** The application takes the next datagram (Linux counts InDatagrams here, in recvmsg). */
  read(ep: UdpEndpoint): Datagram | undefined {
    const d = ep.shift(this.cfg.perDatagramOverhead);
    if (d !== undefined) {
      this.mib.InDatagrams++;
      if (d.trace !== 0) this.appRead?.(d.trace);
    }
    return d;
  }

  // ── binding ──────────────────────────────────────────────────────────────

  newEndpoint(): UdpEndpoint {
    return new UdpEndpoint(this.cfg.rmemDefault);
  }

  /** Binds `ep` to `addr:port`; port 0 picks a free ephemeral port (RFC 6056 §3.3.1, random). */
  bind(ep: UdpEndpoint, addr: Ipv4Addr, port: number): UdpBindError | undefined {
    if (ep.localPort !== 0) return 'EINVAL';
    if (addr !== 0 && !this.ip.routes.isLocal(addr)) return 'EADDRNOTAVAIL';
    if (port === 0) {
      const picked = this.ephemeralPort(addr);
      if (picked === undefined) return 'EADDRINUSE';
      port = picked;
    } else if (this.inUse(port, addr)) {
      return 'EADDRINUSE';
    }
    ep.localAddr = addr;
    ep.localPort = port;
    const eps = this.ports.get(port);
    if (eps === undefined) this.ports.set(port, [ep]);
    else eps.push(ep);
    return undefined;
  }

  /** Releases the port and purges what is still queued. */
  close(ep: UdpEndpoint): void {
    const eps = this.ports.get(ep.localPort);
    if (eps !== undefined) {
      const i = eps.indexOf(ep);
      if (i >= 0) eps.splice(i, 1);
      if (eps.length === 0) this.ports.delete(ep.localPort);
    }
    while (ep.shift(this.cfg.perDatagramOverhead) !== undefined) this.drops.count(DropReason.QUEUE_PURGE, Stage.SOCKET);
    ep.onReadable = null;
  }

  private inUse(port: number, addr: Ipv4Addr): boolean {
    const eps = this.ports.get(port);
    if (eps === undefined) return false;
    // Without SO_REUSEADDR, the wildcard conflicts with every address and vice versa.
    return eps.some((ep) => ep.localAddr === 0 || addr === 0 || ep.localAddr === addr);
  }

  private ephemeralPort(addr: Ipv4Addr): number | undefined {
    const [lo, hi] = this.cfg.localPortRange;
    const n = hi - lo + 1;
    const start = Math.floor(this.random() * n);
    for (let i = 0; i < n; i++) {
      const port = lo + ((start + i) % n);
      if (!this.inUse(port, addr)) return port;
    }
    return undefined;
  }

  // ── looking inside ───────────────────────────────────────────────────────

  /**
   * The bound sockets as `ss -u` lists them: UNCONN (we have no connected UDP sockets), Recv-Q
   * the bytes charged to the receive queue (Linux shows its receive memory), Send-Q 0 since
   * datagrams leave at once.
   */
  sockets(): SocketRow[] {
    const rows: SocketRow[] = [];
    for (const eps of this.ports.values()) {
      for (const ep of eps) {
        rows.push({
          netid: 'udp', state: 'UNCONN', recvQ: ep.queued, sendQ: 0,
          localAddress: formatIpv4(ep.localAddr), localPort: ep.localPort, remoteAddress: '0.0.0.0', remotePort: 0,
        });
      }
    }
    return rows;
  }

  // ── egress ───────────────────────────────────────────────────────────────

  /** Sends `data` from `ep` (which must be bound) to `dst:dstPort`. */
  send(ep: UdpEndpoint, data: Uint8Array, dst: Ipv4Addr, dstPort: number, now: number): UdpSendError | undefined {
    if (data.length > UDP_MAX_PAYLOAD) return 'EMSGSIZE';
    if (dstPort <= 0 || dstPort > 0xffff) return 'EINVAL';
    const rtype = this.ip.routes.classify(dst);
    if (rtype === RouteType.BROADCAST && !ep.broadcast) return 'EACCES';
    const src = ep.localAddr !== 0 ? ep.localAddr : this.ip.routes.sourceFor(dst);
    // 0.0.0.0 names this host (Linux ip_route_output_key_hash_rcu); never a destination on the wire (RFC 1122 §3.2.1.3).
    if (dst === 0) dst = src;

    const len = UDP_HLEN + data.length;
    const frame = new Uint8Array(TX_HEADROOM + len);
    frame.set(data, TX_HEADROOM + UDP_HLEN);
    const udp = this.tx;
    udp.srcPort = ep.localPort;
    udp.dstPort = dstPort;
    udp.length = len;
    emitUdp(udp, frame, TX_HEADROOM, src, dst);

    const bad = this.ip.output(frame, len, IPPROTO_UDP, src, dst, { dontFragment: true }, now);
    if (bad === DropReason.IP_OUTNOROUTES) return 'ENETUNREACH';
    if (bad !== undefined) return 'EMSGSIZE';
    this.mib.OutDatagrams++;
    return undefined;
  }
}
