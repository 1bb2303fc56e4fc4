/**
 * UDP (RFC 768, RFC 1122 §4.1) over IPv4 and IPv6 (RFC 8200 §8.1): check the datagram,
 * find the socket by destination port and address, queue the payload on it (bounded), or
 * answer "port unreachable". Sending builds header and checksum and hands the datagram to IP.
 *
 * Counters follow Linux, in `Udp` or `Udp6` by the datagram's family: InErrors for every
 * bad datagram (with InCsumErrors for a bad checksum), NoPorts, RcvbufErrors for a full
 * socket, IgnoredMulti for a broadcast no socket wanted, and InDatagrams when the
 * application reads a datagram.
 *
 * A socket bound to `::` takes both families (Linux with bindv6only=0, Node's default);
 * one bound to `0.0.0.0` only IPv4.
 */
import type { StackConfig } from '../core/config.js';
import type { UdpMib } from '../core/counters.js';
import { CONSUMED, DropReason, Stage, walk, type DropCounts, type Verdict } from '../core/drop.js';
import type { SocketRow } from '../core/ss.js';
import { deliver, enter } from '../core/trace.js';
import { bindConflict, isWildcard, type Ip, type IpRx } from '../ip/ip.js';
import { RouteType } from '../ip/route.js';
import { IPV6_ANY, formatEndpoint, formatIp, isIpv4, type IpAddr } from '../wire/addr.js';
import { IPPROTO_UDP, IPV4_HLEN } from '../wire/ipv4.js';
import { u16 } from '../wire/bytes.js';
import { UDP_HLEN, emitUdpWithPseudo, newUdpRepr, parseUdpWithPseudo } from '../wire/udp.js';

/** Largest UDP payload in one IPv4 datagram: 65535 − 20 − 8. */
export const UDP_MAX_PAYLOAD = 65_535 - IPV4_HLEN - UDP_HLEN;

export interface Datagram {
  /** The payload, copied out of the frame. */
  readonly data: Uint8Array;
  readonly address: IpAddr;
  readonly port: number;
  /** The id of the traced packet that brought it, or 0. */
  readonly trace: number;
}

/** The stack's side of a UDP socket: its binding and its bounded receive queue. */
export class UdpEndpoint {
  /** 0 (IPv4 only) or `::` (both families) when bound to the wildcard. */
  localAddr: IpAddr = 0;
  localPort = 0;
  /** IPV6_V6ONLY: bound to `::`, take IPv6 only. */
  v6Only = false;
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
    return `udp ${formatEndpoint(this.localAddr, this.localPort)}`;
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
    private readonly mib4: UdpMib,
    private readonly mib6: UdpMib,
    private readonly drops: DropCounts,
    private readonly ip: Ip,
    private readonly random: () => number,
  ) {}

  // ── ingress ──────────────────────────────────────────────────────────────

  input(rx: IpRx, now: number): Verdict {
    enter(Stage.UDP);
    const v4 = isIpv4(rx.src);
    const mib = v4 ? this.mib4 : this.mib6;
    const udp = this.rx;
    // The pseudo-header covers the UDP length field (the parser checks it against rx.len);
    // IPv6 has no header checksum, so a zero UDP checksum is refused there (RFC 8200 §8.1).
    const length = rx.len >= UDP_HLEN ? u16(rx.pkt, rx.off + 4) : 0;
    const bad = parseUdpWithPseudo(rx.pkt, rx.off, rx.len, rx.addrSum + IPPROTO_UDP + length, !v4, udp, walk.csumValid !== rx.pkt);
    if (bad !== undefined) {
      if (bad === DropReason.UDP_CSUM) mib.InCsumErrors++;
      mib.InErrors++;
      return bad;
    }

    const unicast = rx.rtype === RouteType.LOCAL;
    const ep = this.lookup(udp.dstPort, rx.dst, unicast);
    if (ep === undefined) {
      if (!unicast) {
        mib.IgnoredMulti++;
        return CONSUMED;
      }
      mib.NoPorts++;
      this.ip.portUnreachable(rx, now);
      return DropReason.NO_SOCKET;
    }

    const len = udp.length - UDP_HLEN;
    const cost = len + this.cfg.perDatagramOverhead;
    if (ep.queued + cost > ep.rcvbuf) {
      mib.RcvbufErrors++;
      mib.InErrors++;
      return DropReason.SOCKET_RCVBUFF;
    }
    const start = rx.off + UDP_HLEN;
    const data = rx.pkt.slice(start, start + len);
    deliver(ep);
    ep.push({ data, address: rx.src, port: udp.srcPort, trace: walk.tracer?.current() ?? 0 }, cost);
    this.schedule(ep);
    return CONSUMED;
  }

  /**
   * Socket lookup: an exact local address first, then the wildcard of the packet's family
   * (`0.0.0.0` for IPv4), then `::`, which takes both; groups only reach a wildcard.
   */
  private lookup(port: number, dst: IpAddr, unicast: boolean): UdpEndpoint | undefined {
    const eps = this.ports.get(port);
    if (eps === undefined) return undefined;
    const v4 = isIpv4(dst);
    let wildcard: UdpEndpoint | undefined;
    for (const ep of eps) {
      const a = ep.localAddr;
      if (a === IPV6_ANY) {
        if (!v4 || !ep.v6Only) wildcard ??= ep;
      }
      else if (a === 0) {
        if (v4) wildcard = ep;
      } else if (unicast && a === dst) return ep;
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
      (isIpv4(d.address) ? this.mib4 : this.mib6).InDatagrams++;
      if (d.trace !== 0) this.appRead?.(d.trace);
    }
    return d;
  }

  // ── binding ──────────────────────────────────────────────────────────────

  newEndpoint(): UdpEndpoint {
    return new UdpEndpoint(this.cfg.rmemDefault);
  }

  /** Binds `ep` to `addr:port`; port 0 picks a free ephemeral port (RFC 6056 §3.3.1, random). */
  bind(ep: UdpEndpoint, addr: IpAddr, port: number): UdpBindError | undefined {
    if (ep.localPort !== 0) return 'EINVAL';
    if (!isWildcard(addr) && !this.ip.isLocal(addr)) return 'EADDRNOTAVAIL';
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

  private inUse(port: number, addr: IpAddr): boolean {
    const eps = this.ports.get(port);
    if (eps === undefined) return false;
    return eps.some((ep) => bindConflict(ep.localAddr, addr));
  }

  private ephemeralPort(addr: IpAddr): number | undefined {
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
        const v4 = isIpv4(ep.localAddr);
        rows.push({
          netid: 'udp', state: 'UNCONN', recvQ: ep.queued, sendQ: 0,
          localAddress: formatIp(ep.localAddr), localPort: ep.localPort, remoteAddress: v4 ? '0.0.0.0' : '::', remotePort: 0,
        });
      }
    }
    return rows;
  }

  // ── egress ───────────────────────────────────────────────────────────────

  /** Sends `data` from `ep` (which must be bound) to `dst:dstPort`. */
  send(ep: UdpEndpoint, data: Uint8Array, dst: IpAddr, dstPort: number, now: number): UdpSendError | undefined {
    if (data.length > UDP_MAX_PAYLOAD) return 'EMSGSIZE';
    if (dstPort <= 0 || dstPort > 0xffff) return 'EINVAL';
    const v4 = isIpv4(dst);
    if (ep.localAddr === 0 && !v4) return 'EINVAL'; // an IPv4 socket cannot reach an IPv6 address
    if (!isWildcard(ep.localAddr) && v4 !== isIpv4(ep.localAddr)) return 'EINVAL';
    const rtype = this.ip.classify(dst);
    if (rtype === RouteType.BROADCAST && !ep.broadcast) return 'EACCES';
    const src = isWildcard(ep.localAddr) ? this.ip.sourceFor(dst) : ep.localAddr;
    // The unspecified address names this host (Linux ip_route_output_key_hash_rcu); never a destination on the wire (RFC 1122 §3.2.1.3).
    if (dst === 0 || dst === IPV6_ANY) dst = src;

    const len = UDP_HLEN + data.length;
    const at = this.ip.headroom(dst);
    const frame = new Uint8Array(at + len);
    frame.set(data, at + UDP_HLEN);
    const udp = this.tx;
    udp.srcPort = ep.localPort;
    udp.dstPort = dstPort;
    udp.length = len;
    emitUdpWithPseudo(udp, frame, at, this.ip.pseudo(src, dst, IPPROTO_UDP, len));

    const bad = this.ip.output(frame, len, IPPROTO_UDP, src, dst, { dontFragment: true }, now);
    if (bad === DropReason.IP_OUTNOROUTES) return 'ENETUNREACH';
    if (bad !== undefined) return 'EMSGSIZE';
    (v4 ? this.mib4 : this.mib6).OutDatagrams++;
    return undefined;
  }
}
