/**
 * The stack: one host on one link. It owns the stages, wired in packet order
 * (link → ethernet → arp | ipv4 | ipv6 → icmp | icmpv6 (+ ndisc) | udp | tcp → socket),
 * the counters and the drop reasons, and it is driven from outside (sans-IO):
 *
 *   stack.receive(frames, now)   a batch of frames from the link
 *   stack.poll(now)              run the timers that are due
 *   stack.pollAt()               when the next timer is due
 *
 * It never reads a clock or sets a timer for protocol work; `driver.ts` does that for
 * real links, tests do it with a ManualClock.
 */
import { RealClock, type Clock } from './core/clock.js';
import { makeConfig, type DeepPartial, type StackConfig } from './core/config.js';
import { Counters, type CountersSnapshot } from './core/counters.js';
import { CONSUMED, DropCounts, STAGE_DEPTH, Stage, walk, type Describable, type DropRow, type Verdict } from './core/drop.js';
import { Tracer, type AppRead, type PacketWalk } from './core/trace.js';
import { compileFilter, summarize, type FrameSummary } from './core/filter.js';
import { verdictComment } from './dev/pcapng.js';
import { cryptoRandom, type Random } from './core/random.js';
import { RX_CSUM_VALID, type LinkStats, type Link } from './dev/device.js';
import { Arp } from './eth/arp.js';
import { Ethernet } from './eth/ethernet.js';
import { NeighborTable, type NeighborEntry } from './eth/neighbor.js';
import type { FragMemory } from './ip/frag.js';
import { Icmpv4 } from './ip/icmpv4.js';
import { Icmpv6 } from './ip/icmpv6.js';
import { Ip, type Icmpv6ErrorSender } from './ip/ip.js';
import { Ipv4, type IcmpErrorSender } from './ip/ipv4.js';
import { Ipv6, type Ipv6Address } from './ip/ipv6.js';
import { Mld } from './ip/mld.js';
import { Ndisc } from './ip/ndisc.js';
import { RouteTable } from './ip/route.js';
import { Tcp } from './transport/tcp/tcp.js';
import { LinkSegmentOffload, setSegmentOffload } from './transport/tcp/offload.js';
import { Udp } from './transport/udp.js';
import { TcpServer, TcpSocket, type ConnectOptions, type TcpHost, type TcpSocketOptions } from './user/net.js';
import { UdpSocket, type SocketOptions, type UdpHost } from './user/dgram.js';
import {
  IPV6_ANY, formatEndpoint, ipv4MulticastMac, linkLocalFromMac, parseCidr, parseCidr6, parseIpv4, parseIpv6, parseMac, type Mac,
} from './wire/addr.js';
import { stateName, type Tcb } from './transport/tcp/tcb.js';
import { tcpInfo, type LifeRecord, type TcpInfo } from './transport/tcp/info.js';
import type { SocketRow } from './core/ss.js';
import { cwndRttSvg, timeSequenceSvg } from './core/tsg.js';
import { Timeline } from './transport/tcp/timeline.js';
import { ETH_P_IP, ETH_P_IPV6 } from './wire/ethernet.js';

/** Sees a frame going in or out, with a comment on what became of it. */
export type FrameObserver = (frame: Uint8Array, direction: 'in' | 'out', comment: string) => void;

export interface StackOptions {
  link: Link;
  /** Our address and subnet, e.g. `192.168.69.2/24`. */
  ipv4: string;
  /** Default gateway, e.g. `192.168.69.1`. */
  gateway?: string;
  /**
   * Our IPv6 address and prefix, e.g. `fd00:69::2/64`. The link-local address derived from
   * the MAC is always there; routers' advertisements may add more (SLAAC).
   */
  ipv6?: string;
  /** IPv6 default router, e.g. `fe80::1` (else learned from router advertisements). */
  gateway6?: string;
  /** Our MAC; a random locally administered one when absent. */
  mac?: string;
  config?: DeepPartial<StackConfig>;
  /** Time for application-initiated output and wall time for ICMP timestamps. */
  clock?: Clock;
  random?: Random;
}

export class Stack {
  readonly config: StackConfig;
  readonly link: Link;
  readonly mac: Mac;
  readonly routes = new RouteTable();
  /** `node:dgram`-shaped UDP sockets. */
  readonly udp: { createSocket(options?: SocketOptions | 'udp4' | 'udp6'): UdpSocket };
  /** `node:net`-shaped TCP sockets and servers. */
  readonly tcp: {
    createServer(listener?: (socket: TcpSocket) => void, options?: TcpSocketOptions): TcpServer;
    connect(options: ConnectOptions, listener?: () => void): TcpSocket;
  };

  private readonly mib: Counters;
  private readonly dropCounts = new DropCounts();
  private readonly clock: Clock;
  private readonly eth: Ethernet;
  private readonly neigh: NeighborTable;
  private readonly arp: Arp;
  private readonly ipv4: Ipv4;
  private readonly icmp: Icmpv4;
  private readonly neigh6: NeighborTable;
  private readonly ipv6: Ipv6;
  private readonly icmp6: Icmpv6;
  private readonly ndisc: Ndisc;
  private readonly mld: Mld;
  /** Reassembly memory, one budget for both families. */
  private readonly fragMemory: FragMemory = { used: 0 };
  private readonly udpLayer: Udp;
  private readonly tcpLayer: Tcp;
  private wakeup: (() => void) | null = null;
  private tracer: Tracer | null = null;
  private capturer: { match: (s: FrameSummary) => boolean; onFrame: FrameObserver; held: Uint8Array[]; after: Stage } | null = null;
  /** Keep a one-line description of the last packet of each drop row (for `tapstack drops`). */
  describeDrops = false;
  /** A received frame is being walked (frames sent now are its answers). */
  private receiving = false;

  constructor(opts: StackOptions) {
    this.config = makeConfig(opts.config);
    this.link = opts.link;
    // We read rxSizes: the link need not make a view per received frame.
    this.link.useSlotViews?.();
    this.clock = opts.clock ?? new RealClock();
    const random = opts.random ?? cryptoRandom();
    this.mib = new Counters(this.config.ipv4.defaultTtl);
    this.mac = opts.mac !== undefined ? mustParse(parseMac(opts.mac), 'MAC', opts.mac) : randomMac(random);

    const cidr = mustParse(parseCidr(opts.ipv4), 'IPv4 address/prefix', opts.ipv4);
    this.routes.addAddress(cidr.addr, cidr.prefixLen);
    if (opts.gateway !== undefined) {
      this.routes.addRoute(0, 0, mustParse(parseIpv4(opts.gateway), 'gateway', opts.gateway));
    }

    // Wired bottom-up; each stage reaches the next one up through a callback.
    this.eth = new Ethernet(this.link, this.mac, {
      arp: (f, off, len, t, now) => this.arp.input(f, off, len, t, now),
      ipv4: (f, off, len, t, now) => this.ipv4.input(f, off, len, t, now),
      ipv6: (f, off, len, t, now) => this.ipv6.input(f, off, len, t, now),
    });
    for (const group of this.routes.groups) this.eth.join(ipv4MulticastMac(group));
    this.neigh = new NeighborTable(this.config.neigh, this.mib.Neigh, this.dropCounts, {
      solicit: (addr, mac) => this.arp.solicit(this.routes.sourceFor(addr as number), addr as number, mac),
      transmit: (frame, mac) => this.eth.output(frame, mac, ETH_P_IP),
    }, random);
    this.arp = new Arp(this.eth, this.neigh, (a) => this.routes.isLocal(a), this.mib.Arp);
    const icmpError: IcmpErrorSender = (ty, co, re, p, o, ip, rt, pt, now) => this.icmp.error(ty, co, re, p, o, ip, rt, pt, now);
    this.ipv4 = new Ipv4(this.config, this.mib, this.dropCounts, this.link, this.eth, this.neigh, this.routes, {
      icmp: (p, o, ip, rt, pt, now) => this.icmp.input(p, o, ip, rt, pt, now),
      udp: (rx, now) => this.udpLayer.input(rx, now),
      tcp: (rx, now) => this.tcpLayer.input(rx, now),
      icmpError,
    }, random, this.fragMemory);
    this.icmp = new Icmpv4(this.config.icmp, this.mib, this.dropCounts, this.ipv4, () => this.clock.wall());

    // IPv6: its own neighbour table (Linux nd_tbl), filled by neighbour discovery.
    this.neigh6 = new NeighborTable(this.config.neigh, this.mib.Neigh6, this.dropCounts, {
      solicit: (addr, mac, now) => this.ndisc.solicit(addr as string, mac, now),
      transmit: (frame, mac) => this.eth.output(frame, mac, ETH_P_IPV6),
    }, random);
    const icmp6Error: Icmpv6ErrorSender = (ty, co, re, rx, now) => this.icmp6.error(ty, co, re, rx, now);
    this.ipv6 = new Ipv6(this.config, this.mib, this.dropCounts, this.link, this.eth, this.neigh6, {
      icmp: (rx, now) => this.icmp6.input(rx, now),
      udp: (rx, now) => this.udpLayer.input(rx, now),
      tcp: (rx, now) => this.tcpLayer.input(rx, now),
      icmpError: icmp6Error,
      solicitDad: (target, now) => this.ndisc.solicitDad(target, now),
      addressReady: (a, now) => this.ndisc.addressReady(a, now),
      // The Ipv6 constructor joins all-nodes (never reported) before MLD exists.
      joined: (group) => this.mld?.joined(group),
    }, random, this.fragMemory);
    this.icmp6 = new Icmpv6(this.config, this.mib, this.dropCounts, this.ipv6);
    this.ndisc = new Ndisc(this.config, this.ipv6, this.icmp6, this.neigh6, this.mac, random);
    this.icmp6.ndisc = this.ndisc;
    this.mld = new Mld(this.ipv6, this.icmp6, random);
    this.icmp6.mld = this.mld;
    this.ipv6.addAddress(linkLocalFromMac(this.mac), 64, 'link');
    if (opts.ipv6 !== undefined) {
      const c6 = mustParse(parseCidr6(opts.ipv6), 'IPv6 address/prefix', opts.ipv6);
      this.ipv6.addAddress(c6.addr, c6.prefixLen, 'static');
    }
    if (opts.gateway6 !== undefined) {
      this.ipv6.learnRouter(mustParse(parseIpv6(opts.gateway6), 'IPv6 gateway', opts.gateway6), Infinity, 0);
    }

    const ip = new Ip(this.ipv4, this.ipv6, icmpError, icmp6Error);
    this.udpLayer = new Udp(this.config.udp, this.mib.Udp, this.mib.Udp6, this.dropCounts, ip, random);
    this.tcpLayer = new Tcp(this.config.tcp, this.mib.Tcp, this.mib.TcpExt, this.dropCounts, ip, random);
    // TSO: on a link with offloads, TCP sends super-segments of up to 64 KiB (transport/tcp/offload.ts).
    if (this.link.offload === true && this.link.sendOffload !== undefined) {
      setSegmentOffload(this.tcpLayer, new LinkSegmentOffload({
        link: this.link, eth: this.eth, mac: this.mac, routes: this.routes, neigh: this.neigh, ipv6: this.ipv6,
        neigh6: this.neigh6, counters: this.mib, ttl: this.config.ipv4.defaultTtl, random,
      }));
    }

    const host: UdpHost = {
      udp: this.udpLayer,
      now: () => this.clock.now(),
      defaultAddress: (family) => family === 'udp4'
        ? this.routes.addresses[0]!.addr
        : this.ipv6.addresses.find((a) => a.origin === 'static')?.addr ?? this.ipv6.addresses[0]?.addr ?? IPV6_ANY,
      afterOutput: () => this.afterOutput(),
    };
    this.udp = {
      createSocket: (options) => new UdpSocket(host, typeof options === 'string' ? { type: options } : options),
    };
    const tcpHost: TcpHost = { tcp: this.tcpLayer, now: host.now, afterOutput: host.afterOutput };
    this.tcp = {
      createServer: (listener, options) => new TcpServer(tcpHost, listener, options),
      connect: (options, listener) => new TcpSocket(tcpHost).connect(options, listener),
    };
  }

  // ── driving the stack ────────────────────────────────────────────────────

  /**
   * Announces us on the link (gratuitous ARP, RFC 5227 §3) and starts duplicate address
   * detection for the IPv6 addresses (RFC 4862 §5.4), which are ours once it passes.
   */
  start(now: number): void {
    for (const a of this.routes.addresses) this.arp.announce(a.addr);
    this.mld.start();
    for (const a of this.ipv6.addresses) this.ipv6.startDad(a, now);
    this.link.flush();
  }

  /** Processes one batch of received frames, then wakes the sockets that got data. */
  receive(frames: readonly Uint8Array[], now: number): void {
    // Offloads: a frame whose TCP/UDP checksum the link vouched for is not summed again.
    const rxFlags = this.link.rxFlags;
    const sizes = this.link.rxSizes;
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]!;
      walk.csumValid = rxFlags !== undefined && (rxFlags[i]! & RX_CSUM_VALID) !== 0 ? f : null;
      this.walkFrame(f, now, sizes === undefined ? f.length : sizes[i]!);
    }
    walk.csumValid = null;
    this.tcpLayer.endOfBatch(now);
    this.wakeAndFlush();
  }

  /**
   * One frame — the first `len` bytes of `frame` — through the receive walk. Returns its
   * verdict: CONSUMED, or the reason it was dropped (counted in `drops()`).
   */
  input(frame: Uint8Array, now: number, len = frame.length): Verdict {
    const verdict = this.walkFrame(frame, now, len);
    this.tcpLayer.endOfBatch(now); // a batch of one
    return verdict;
  }

  private walkFrame(frame: Uint8Array, now: number, len: number): Verdict {
    this.dropCounts.now = now;
    // Only an observer needs the frame as a view of its own length (a slot view is longer).
    const observed = this.tracer !== null || this.capturer !== null || this.describeDrops;
    const exact = observed && len !== frame.length ? frame.subarray(0, len) : frame;
    const tracer = this.tracer !== null && this.tracer.begin(exact) ? this.tracer : null;
    walk.tracer = tracer;
    walk.sink = null;
    this.receiving = true;
    const verdict = this.eth.input(frame, len, now);
    this.receiving = false;
    if (verdict !== CONSUMED) {
      const row = this.dropCounts.count(verdict);
      if (this.describeDrops) row.lastPacket = summarize(exact).text;
    }
    if (tracer !== null) {
      walk.tracer = null;
      tracer.end(verdict);
    }
    const capturer = this.capturer;
    if (capturer !== null) {
      if (capturer.match(summarize(exact)) && passed(walk.stage, verdict, capturer.after)) {
        capturer.onFrame(exact, 'in', verdictComment(verdict, (walk.sink as Describable | null)?.describe() ?? walk.stage));
      }
      // What this frame made us send comes after it in the capture.
      for (const f of capturer.held) capturer.onFrame(f, 'out', 'sent');
      capturer.held.length = 0;
    }
    return verdict;
  }

  /**
   * Hands every frame `filter` matches to `onFrame` with its direction and, for received
   * frames, its verdict as text ("delivered (socket)", "dropped: NO_SOCKET (udp)") — what
   * `tapstack capture` writes as pcapng comments. With `after`, only received frames that
   * made it through that stage (went deeper, or were delivered there) are seen: a capture
   * "after any stage". Returns the function that stops it.
   */
  capture(onFrame: FrameObserver, filter?: string, after: Stage = Stage.LINK): () => void {
    const capturer = { match: compileFilter(filter ?? ''), onFrame, held: [] as Uint8Array[], after };
    this.capturer = capturer;
    this.eth.onSend = (frame) => {
      if (!capturer.match(summarize(frame))) return;
      if (this.receiving) capturer.held.push(frame);
      else onFrame(frame, 'out', 'sent');
    };
    return () => {
      if (this.capturer !== capturer) return;
      this.capturer = null;
      this.eth.onSend = null;
    };
  }

  /**
   * Traces the walk of every received packet `filter` matches (a pcap-filter subset, see
   * core/filter.ts): `onWalk` gets the stages with their times, the verdict and what was
   * sent in answer, and `onRead` when the application reads what a traced packet delivered
   * (its walk's last tracepoint). Returns the function that stops tracing. Throws on a bad filter.
   */
  trace(onWalk: (w: PacketWalk) => void, filter?: string, onRead?: (r: AppRead) => void): () => void {
    const tracer = new Tracer({
      onWalk, now: () => this.clock.now(), ...(filter !== undefined && { filter }), ...(onRead !== undefined && { onRead }),
    });
    this.tracer = tracer;
    const read = (id: number): void => tracer.read(id);
    this.udpLayer.appRead = read;
    this.tcpLayer.appRead = read;
    return () => {
      if (this.tracer !== tracer) return;
      this.tracer = null;
      this.udpLayer.appRead = null;
      this.tcpLayer.appRead = null;
    };
  }

  /** Runs every timer that is due at `now`. */
  poll(now: number): void {
    this.dropCounts.now = now;
    this.neigh.poll(now);
    this.ipv4.poll(now);
    this.neigh6.poll(now);
    this.ipv6.poll(now);
    this.ndisc.poll(now);
    this.mld.poll(now);
    this.tcpLayer.poll(now);
    this.tcpLayer.endOfBatch(now); // what looped-back packets deferred
    this.wakeAndFlush();
  }

  /** Hands received data to the applications, then sends what they (and we) queued. */
  private wakeAndFlush(): void {
    try {
      this.tcpLayer.wakeUsers();
      this.udpLayer.wakeReaders();
    } finally {
      this.link.flush();
    }
  }

  /** When `poll` next has work: a time on the same clock as `now`, or Infinity. */
  pollAt(): number {
    return Math.min(
      this.neigh.nextDeadline(), this.ipv4.nextDeadline(), this.neigh6.nextDeadline(), this.ipv6.nextDeadline(),
      this.ndisc.nextDeadline(), this.mld.nextDeadline(), this.tcpLayer.nextDeadline(),
    );
  }

  /** A driver's hook: called when application output may have armed a timer. */
  setWakeup(fn: (() => void) | null): void {
    this.wakeup = fn;
  }

  private afterOutput(): void {
    this.link.flush();
    this.wakeup?.();
  }

  /** TCP connections, like `ss -tan`: state and the two ends. */
  tcpConnections(): { state: string; local: string; remote: string; recvQ: number; sendQ: number }[] {
    return [...this.tcpLayer.conns.values()].map((t) => ({
      state: stateName(t.state),
      local: formatEndpoint(t.localAddr, t.localPort),
      remote: formatEndpoint(t.remoteAddr, t.remotePort),
      recvQ: t.rcvBuf.length,
      sendQ: t.sndBuf.length,
    }));
  }

  // ── looking inside ───────────────────────────────────────────────────────

  /**
   * Every socket, like `ss -tuan`: TCP listeners and connections (each connection with its
   * tcp_info in `info` and its pending timer), then bound UDP sockets. `formatSockets` prints them.
   */
  sockets(): SocketRow[] {
    const now = this.clock.now();
    return [...this.tcpLayer.sockets(now), ...this.udpLayer.sockets()];
  }

  /**
   * tcp_info of the connection whose local end is `local` (`address:port`) and, if given,
   * whose remote end is `remote`: the first such connection, or undefined if there is none.
   */
  tcpInfo(local: string, remote?: string): TcpInfo | undefined {
    const t = this.findConnection(local, remote);
    return t === undefined ? undefined : tcpInfo(t, this.clock.now());
  }

  /** The first connection whose ends read `local` (and `remote`, if given) as "a.b.c.d:port" or "[v6]:port". */
  private findConnection(local: string, remote?: string): Tcb | undefined {
    for (const t of this.tcpLayer.conns.values()) {
      if (formatEndpoint(t.localAddr, t.localPort) !== local) continue;
      if (remote !== undefined && formatEndpoint(t.remoteAddr, t.remotePort) !== remote) continue;
      return t;
    }
    return undefined;
  }

  /**
   * Starts (or stops) recording every TCP connection's segments and ACKs for the
   * time-sequence graph: connections opened from now on and those open already. Off by
   * default, when it costs one null check per segment; turning it off discards what was recorded.
   */
  recordTimelines(on: boolean): void {
    this.tcpLayer.recordTimelines = on;
    for (const t of this.tcpLayer.conns.values()) {
      if (!on) t.timeline = null;
      else if (t.timeline === null) t.timeline = new Timeline();
    }
  }

  /**
   * The recorded history of a connection (chosen as for `tcpInfo`) drawn as SVG: `svg`, the
   * tcptrace time-sequence graph, and `cwndSvg`, its congestion window and smoothed RTT
   * over time. Undefined if there is no such connection or it was not recorded.
   */
  tcpTimeline(local: string, remote?: string): { svg: string; cwndSvg: string } | undefined {
    const t = this.findConnection(local, remote);
    if (t?.timeline == null) return undefined;
    const ends = `${formatEndpoint(t.localAddr, t.localPort)} -> ${formatEndpoint(t.remoteAddr, t.remotePort)}`;
    const events = t.timeline.events();
    return {
      svg: timeSequenceSvg(events, { title: `${ends}: time-sequence graph` }),
      cwndSvg: cwndRttSvg(events, { title: `${ends}: congestion window and smoothed RTT` }),
    };
  }

  /** The tcplife log: the last 1000 TCP connections that closed, oldest first. */
  tcpLife(): LifeRecord[] {
    return this.tcpLayer.life.list();
  }

  /** SNMP counters with Linux's names (`Ip`, `IpExt`, `Icmp`, `IcmpMsg`, `Udp`, …). */
  counters(): CountersSnapshot {
    return this.mib.snapshot();
  }

  /** Drop reason → count, for every reason seen. */
  drops(): Record<string, number> {
    return this.dropCounts.snapshot();
  }

  /** Drops by stage and reason, with the time of the last one, most frequent first (like `dropwatch`). */
  dropTable(): DropRow[] {
    return this.dropCounts.table();
  }

  linkStats(): LinkStats {
    return { ...this.link.stats };
  }

  /** The neighbour caches, like `ip neigh`: ARP's entries, then NDP's. */
  neighbors(): readonly NeighborEntry[] {
    return [...this.neigh.list(), ...this.neigh6.list()];
  }

  /** The IPv6 addresses, like `ip -6 addr` (tentative while duplicate address detection runs). */
  ipv6Addresses(): readonly Ipv6Address[] {
    return this.ipv6.addresses.map((a) => ({ ...a }));
  }

  /** IPv6 routes, like `ip -6 route`. */
  ipv6Routes(): string[] {
    return this.ipv6.describeRoutes();
  }

  /** Memory held by reassembly (both families share the budget), in bytes charged. */
  reassemblyMemory(): number {
    return this.fragMemory.used;
  }

  close(): void {
    this.link.setReceiver(null);
  }
}

/** Did a frame whose walk ended at `stage` with `verdict` get through stage `after`? */
function passed(stage: Stage, verdict: Verdict, after: Stage): boolean {
  if (after === Stage.LINK) return true;
  const depth = STAGE_DEPTH[stage];
  const wanted = STAGE_DEPTH[after];
  return depth > wanted || (stage === after && verdict === CONSUMED);
}

export function createStack(opts: StackOptions): Stack {
  return new Stack(opts);
}

function mustParse<T>(v: T | null, what: string, text: string): T {
  if (v === null) throw new TypeError(`invalid ${what}: ${JSON.stringify(text)}`);
  return v;
}

/** A random locally administered unicast MAC (02:xx:…), as Linux gives a new tap. */
function randomMac(random: Random): Mac {
  let m = 0x02;
  for (let i = 0; i < 5; i++) m = m * 256 + Math.floor(random() * 256);
  return m;
}
