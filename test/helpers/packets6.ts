/**
 * IPv6 frame builders and parsers for stage tests, the IPv6 half of packets.ts: built with
 * the wire module's own emitters, checked with its parsers. The addresses are those of
 * ../shared/captures (client fd00:69::1 / 02:00:00:00:00:0a, server fd00:69::2 /
 * 02:00:00:00:00:0b), so captured frames and built ones mix freely.
 *
 * `harness6` is packets.ts's harness with an IPv6 address: the stack is started (duplicate
 * address detection begins) and, unless asked not to, the clock is run until its
 * addresses are usable and the peer has made itself known by neighbour discovery.
 */
import { ManualClock } from '../../src/core/clock.js';
import type { DeepPartial, StackConfig } from '../../src/core/config.js';
import type { Icmp6Mib, Ip6Mib, NeighStats, UdpMib } from '../../src/core/counters.js';
import { seededRandom } from '../../src/core/random.js';
import { MemoryLink } from '../../src/dev/memory.js';
import { createStack } from '../../src/stack.js';
import {
  eui64Addr, ipv6MulticastMac, isIpv6Multicast, linkLocalFromMac, solicitedNodeAddr, type Ipv6Addr, type Mac,
} from '../../src/wire/addr.js';
import { pseudoHeaderV6 } from '../../src/wire/checksum.js';
import { ETH_HLEN, ETH_P_IPV6, newEthernetRepr, parseEthernet, type EthernetRepr } from '../../src/wire/ethernet.js';
import {
  ICMPV6_ECHO_REQUEST, ICMPV6_HLEN, ICMPV6_NEIGHBOUR_ADVERT, ICMPV6_NEIGHBOUR_SOLICIT, ICMPV6_ROUTER_ADVERT,
  emitIcmpv6, emitNdp, ndpHeaderLen, newIcmpv6Repr, newNdpOptions, newNdpRepr, parseIcmpv6, parseNdp,
  parseNdpOptions, type Icmpv6Repr, type NdpOptions, type NdpRepr,
} from '../../src/wire/icmpv6.js';
import {
  IPPROTO_ICMPV6, IPV6_HLEN, NEXTHDR_DEST, NEXTHDR_FRAGMENT, NEXTHDR_HOP, NEXTHDR_ROUTING, NEXTHDR_TCP,
  NEXTHDR_UDP, emitIpv6, newIpv6Repr, parseIpv6, type Ipv6Repr,
} from '../../src/wire/ipv6.js';
import {
  IPV6_FRAG_HLEN, emitIpv6Frag, extHeaderLen, newIpv6FragRepr, parseIpv6Frag, type Ipv6FragRepr,
} from '../../src/wire/ipv6-ext.js';
import {
  TCP_HLEN, emitTcpWithPseudo, newTcpRepr, parseTcpWithPseudo, tcpOptionsLen, type TcpOptionsOut, type TcpRepr,
} from '../../src/wire/tcp.js';
import { UDP_HLEN, emitUdpWithPseudo, newUdpRepr, parseUdpWithPseudo, type UdpRepr } from '../../src/wire/udp.js';
import { PEER, US, ethFrame, type Harness } from './packets.js';

export const PEER6 = { mac: PEER.mac, ip: 'fd00:69::1', ll: linkLocalFromMac(PEER.mac) };
export const US6 = { mac: US.mac, ip: 'fd00:69::2', ll: linkLocalFromMac(US.mac) };
/** A router on the link, for router advertisements. */
export const ROUTER = { mac: 0x02_00_00_00_00_01 as Mac, ll: 'fe80::1' };

// ── building ─────────────────────────────────────────────────────────────

/** An extension header: its type and its bytes (the first, Next Header, is filled in by {@link ipv6Packet}). */
export interface ExtHeader {
  type: number;
  bytes: Uint8Array;
}

export interface Ipv6Fields {
  src?: Ipv6Addr;
  dst?: Ipv6Addr;
  /** The upper-layer protocol, after the extension headers. Default ICMPv6. */
  nextHeader?: number;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
  /** Extension headers, in order, between the fixed header and the payload. */
  exts?: ExtHeader[];
}

/** An IPv6 packet: header, extension headers (chained), payload. */
export function ipv6Packet(payload: Uint8Array, f: Ipv6Fields = {}): Uint8Array {
  const exts = f.exts ?? [];
  const extLen = exts.reduce((n, e) => n + e.bytes.length, 0);
  const p = new Uint8Array(IPV6_HLEN + extLen + payload.length);
  const r = newIpv6Repr();
  r.src = f.src ?? PEER6.ip;
  r.dst = f.dst ?? US6.ip;
  r.hopLimit = f.hopLimit ?? 64;
  r.trafficClass = f.trafficClass ?? 0;
  r.flowLabel = f.flowLabel ?? 0;
  r.payloadLength = extLen + payload.length;
  r.nextHeader = exts[0]?.type ?? f.nextHeader ?? IPPROTO_ICMPV6;
  emitIpv6(r, p, 0);
  let at = IPV6_HLEN;
  exts.forEach((e, i) => {
    p.set(e.bytes, at);
    p[at] = exts[i + 1]?.type ?? f.nextHeader ?? IPPROTO_ICMPV6;
    at += e.bytes.length;
  });
  p.set(payload, at);
  return p;
}

/** The Ethernet frame of an IPv6 packet: to a group's MAC when the destination is multicast, else to us. */
export function frame6(packet: Uint8Array, ethDst?: Mac, ethSrc: Mac = PEER.mac): Uint8Array {
  const dst = parseIpv6Dst(packet);
  return ethFrame(packet, ETH_P_IPV6, ethDst ?? (isIpv6Multicast(dst) ? ipv6MulticastMac(dst) : US.mac), ethSrc);
}

/** {@link ipv6Packet} in a frame. */
export function ipv6Frame(payload: Uint8Array, f: Ipv6Fields = {}, ethDst?: Mac): Uint8Array {
  return frame6(ipv6Packet(payload, f), ethDst);
}

function parseIpv6Dst(packet: Uint8Array): Ipv6Addr {
  const r = newIpv6Repr();
  parseIpv6(packet, 0, packet.length, r);
  return r.dst;
}

/** An options header (hop-by-hop or destination) holding `options` (raw TLV bytes), padded with PadN to 8n bytes. */
export function optionsHeader(type: typeof NEXTHDR_HOP | typeof NEXTHDR_DEST, options: number[]): ExtHeader {
  const len = Math.ceil((2 + options.length) / 8) * 8;
  const b = new Uint8Array(len);
  b[1] = len / 8 - 1;
  b.set(options, 2);
  const pad = len - 2 - options.length;
  if (pad === 1) b[2 + options.length] = 0; // Pad1
  else if (pad > 1) b.set([1, pad - 2], 2 + options.length); // PadN, zero bytes
  return { type, bytes: b };
}

export const destOptions = (options: number[]): ExtHeader => optionsHeader(NEXTHDR_DEST, options);
export const hopByHop = (options: number[]): ExtHeader => optionsHeader(NEXTHDR_HOP, options);

/** A routing header of `routingType` with `segmentsLeft` and `addresses` (16 bytes each, as type 0 had). */
export function routingHeader(routingType: number, segmentsLeft: number, addresses = 1): ExtHeader {
  const b = new Uint8Array(8 + 16 * addresses);
  b[1] = 2 * addresses;
  b[2] = routingType;
  b[3] = segmentsLeft;
  return { type: NEXTHDR_ROUTING, bytes: b };
}

export function fragmentHeader(offset: number, moreFrags: boolean, id: number): ExtHeader {
  const b = new Uint8Array(IPV6_FRAG_HLEN);
  const r = newIpv6FragRepr();
  r.offset = offset;
  r.moreFrags = moreFrags;
  r.id = id;
  emitIpv6Frag(r, b, 0);
  return { type: NEXTHDR_FRAGMENT, bytes: b };
}

/** An ICMPv6 message with its checksum for `src` → `dst`. */
export function icmpv6(
  type: number, code: number, rest: number, body: Uint8Array = new Uint8Array(0), src = PEER6.ip, dst = US6.ip,
): Uint8Array {
  const m = new Uint8Array(ICMPV6_HLEN + body.length);
  m.set(body, ICMPV6_HLEN);
  const r = newIcmpv6Repr();
  r.type = type;
  r.code = code;
  r.rest = rest >>> 0;
  emitIcmpv6(r, m, 0, m.length, pseudoHeaderV6(src, dst, IPPROTO_ICMPV6, m.length));
  return m;
}

export function echo6(id: number, seq: number, data: Uint8Array, src = PEER6.ip, dst = US6.ip): Uint8Array {
  return icmpv6(ICMPV6_ECHO_REQUEST, 0, ((id << 16) | seq) >>> 0, data, src, dst);
}

/** The frame of an echo request from the peer (`f` may change the addresses and add headers). */
export function echoFrame6(id: number, seq: number, data: Uint8Array, f: Ipv6Fields = {}): Uint8Array {
  const src = f.src ?? PEER6.ip;
  const dst = f.dst ?? US6.ip;
  return ipv6Frame(echo6(id, seq, data, src, dst), { ...f, src, dst });
}

export function udp6(srcPort: number, dstPort: number, data: Uint8Array, src = PEER6.ip, dst = US6.ip): Uint8Array {
  const d = new Uint8Array(UDP_HLEN + data.length);
  d.set(data, UDP_HLEN);
  const r = newUdpRepr();
  r.srcPort = srcPort;
  r.dstPort = dstPort;
  r.length = d.length;
  emitUdpWithPseudo(r, d, 0, pseudoHeaderV6(src, dst, NEXTHDR_UDP, d.length));
  return d;
}

export function udpFrame6(srcPort: number, dstPort: number, data: Uint8Array, f: Ipv6Fields = {}): Uint8Array {
  const src = f.src ?? PEER6.ip;
  const dst = f.dst ?? US6.ip;
  return ipv6Frame(udp6(srcPort, dstPort, data, src, dst), { ...f, src, dst, nextHeader: NEXTHDR_UDP });
}

export interface Segment6 {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack?: number;
  flags: number;
  window?: number;
  opts?: TcpOptionsOut;
  data?: Uint8Array;
  src?: Ipv6Addr;
  dst?: Ipv6Addr;
}

/** A TCP segment with its checksum over the IPv6 pseudo-header (RFC 8200 §8.1). */
export function tcp6(s: Segment6): Uint8Array {
  const opts = s.opts ?? {};
  const data = s.data ?? new Uint8Array(0);
  const len = TCP_HLEN + tcpOptionsLen(opts) + data.length;
  const b = new Uint8Array(len);
  b.set(data, len - data.length);
  emitTcpWithPseudo(
    { srcPort: s.srcPort, dstPort: s.dstPort, seq: s.seq >>> 0, ack: (s.ack ?? 0) >>> 0, flags: s.flags, window: s.window ?? 65535 },
    opts, b, 0, data.length, pseudoHeaderV6(s.src ?? PEER6.ip, s.dst ?? US6.ip, NEXTHDR_TCP, len),
  );
  return b;
}

export function tcpFrame6(s: Segment6): Uint8Array {
  const src = s.src ?? PEER6.ip;
  const dst = s.dst ?? US6.ip;
  return ipv6Frame(tcp6({ ...s, src, dst }), { src, dst, nextHeader: NEXTHDR_TCP });
}

/**
 * Splits an unfragmented packet (fixed header, then the upper layer) into fragments carrying
 * at most `chunk` bytes (a multiple of 8) of it each, with Fragment header `id`.
 */
export function fragments6(packet: Uint8Array, chunk: number, id: number): Uint8Array[] {
  const r = newIpv6Repr();
  if (parseIpv6(packet, 0, packet.length, r) !== undefined) throw new Error('bad packet');
  const data = packet.subarray(IPV6_HLEN, IPV6_HLEN + r.payloadLength);
  const out: Uint8Array[] = [];
  for (let off = 0; off < data.length; off += chunk) {
    const piece = data.subarray(off, Math.min(off + chunk, data.length));
    out.push(ipv6Packet(piece, {
      src: r.src, dst: r.dst, hopLimit: r.hopLimit, nextHeader: r.nextHeader,
      exts: [fragmentHeader(off, off + piece.length < data.length, id)],
    }));
  }
  return out;
}

// ── neighbour discovery from the peer (or a router) ─────────────────────

function ndp(type: number, r: NdpRepr, opts: NdpOptions | null, src: Ipv6Addr, dst: Ipv6Addr): Uint8Array {
  const b = new Uint8Array(512);
  const len = emitNdp(type, r, opts, b, 0, src, dst);
  return b.slice(0, len);
}

export interface NsFields {
  src?: Ipv6Addr;
  /** Default: the target's solicited-node group. */
  dst?: Ipv6Addr;
  /** Source link-layer address option; default the peer's MAC (none from ::); null for none. */
  slla?: Mac | null;
  nonce?: number;
  hopLimit?: number;
  ethSrc?: Mac;
}

/** A Neighbor Solicitation for `target` from the peer: multicast with its MAC unless told otherwise. */
export function nsFrame(target: Ipv6Addr, f: NsFields = {}): Uint8Array {
  const src = f.src ?? PEER6.ip;
  const dst = f.dst ?? solicitedNodeAddr(target);
  const r = newNdpRepr();
  r.target = target;
  const o = newNdpOptions();
  const slla = f.slla === undefined ? (src === '::' ? null : f.ethSrc ?? PEER.mac) : f.slla;
  if (slla !== null) o.sourceLinkAddr = slla;
  if (f.nonce !== undefined) o.nonce = f.nonce;
  return frame6(ipv6Packet(ndp(ICMPV6_NEIGHBOUR_SOLICIT, r, o, src, dst), { src, dst, hopLimit: f.hopLimit ?? 255 }),
    undefined, f.ethSrc ?? PEER.mac);
}

export interface NaFields {
  src?: Ipv6Addr;
  dst?: Ipv6Addr;
  solicited?: boolean;
  override?: boolean;
  router?: boolean;
  /** Target link-layer address option; default the peer's MAC; null for none. */
  tlla?: Mac | null;
  hopLimit?: number;
  ethSrc?: Mac;
}

/** A Neighbor Advertisement for `target` (default the peer's own address), solicited, to us. */
export function naFrame(target: Ipv6Addr = PEER6.ip, f: NaFields = {}): Uint8Array {
  const src = f.src ?? target;
  const dst = f.dst ?? US6.ip;
  const r = newNdpRepr();
  r.target = target;
  r.solicited = f.solicited ?? true;
  r.override = f.override ?? true;
  r.router = f.router ?? false;
  const o = newNdpOptions();
  const tlla = f.tlla === undefined ? (f.ethSrc ?? PEER.mac) : f.tlla;
  if (tlla !== null) o.targetLinkAddr = tlla;
  return frame6(ipv6Packet(ndp(ICMPV6_NEIGHBOUR_ADVERT, r, o, src, dst), { src, dst, hopLimit: f.hopLimit ?? 255 }),
    undefined, f.ethSrc ?? PEER.mac);
}

export interface Prefix {
  prefix: Ipv6Addr;
  prefixLen?: number;
  onLink?: boolean;
  autonomous?: boolean;
  /** Seconds. */
  valid?: number;
  preferred?: number;
}

export interface RaFields {
  src?: Ipv6Addr;
  dst?: Ipv6Addr;
  hopLimit?: number;
  curHopLimit?: number;
  /** Seconds; default 1800. */
  routerLifetime?: number;
  mtu?: number;
  prefixes?: Prefix[];
  /** Default the router's MAC; null for none. */
  slla?: Mac | null;
}

/** A Router Advertisement from {@link ROUTER} to all nodes. */
export function raFrame(f: RaFields = {}): Uint8Array {
  const src = f.src ?? ROUTER.ll;
  const dst = f.dst ?? 'ff02::1';
  const r = newNdpRepr();
  r.curHopLimit = f.curHopLimit ?? 64;
  r.routerLifetime = f.routerLifetime ?? 1800;
  const o = newNdpOptions();
  const slla = f.slla === undefined ? ROUTER.mac : f.slla;
  if (slla !== null) o.sourceLinkAddr = slla;
  if (f.mtu !== undefined) o.mtu = f.mtu;
  for (const p of f.prefixes ?? []) {
    const pi = o.prefixes[o.prefixCount++]!;
    pi.prefix = p.prefix;
    pi.prefixLen = p.prefixLen ?? 64;
    pi.onLink = p.onLink ?? true;
    pi.autonomous = p.autonomous ?? true;
    pi.validLifetime = p.valid ?? 86_400;
    pi.preferredLifetime = p.preferred ?? 14_400;
  }
  return frame6(ipv6Packet(ndp(ICMPV6_ROUTER_ADVERT, r, o, src, dst), { src, dst, hopLimit: f.hopLimit ?? 255 }),
    undefined, ROUTER.mac);
}

/** The address SLAAC makes of a /64 `prefix` and our MAC. */
export const slaacAddr = (prefix: Ipv6Addr): Ipv6Addr => eui64Addr(prefix, US.mac);

// ── parsing what the stack sent ──────────────────────────────────────────

export interface Decoded6 {
  eth: EthernetRepr;
  ip: Ipv6Repr;
  /** The types of the extension headers, in order. */
  exts: number[];
  /** The Fragment header, if there was one. */
  frag?: Ipv6FragRepr;
  /** Where the fragmentable part (after the Fragment header) or the upper layer starts, from the frame's start. */
  l4Off: number;
  l4Len: number;
  /** The upper-layer protocol. */
  proto: number;
  icmp?: Icmpv6Repr;
  /** For a Neighbor Discovery message: its fields and options. */
  ndp?: NdpRepr;
  ndpOpts?: NdpOptions;
  udp?: UdpRepr;
  tcp?: TcpRepr;
  /** The transport payload (ICMPv6 body after the 8-byte header, UDP or TCP data). */
  payload?: Uint8Array;
  frame: Uint8Array;
}

/** Decodes an IPv6 frame fully, failing the test if any layer does not parse or verify. Fragments stop at the Fragment header. */
export function decode6(frame: Uint8Array): Decoded6 {
  const eth = newEthernetRepr();
  must(parseEthernet(frame, 0, frame.length, eth), 'ethernet');
  if (eth.etherType !== ETH_P_IPV6) throw new Error(`not IPv6: ethertype ${eth.etherType.toString(16)}`);
  const o = eth.headerLen;
  const ip = newIpv6Repr();
  must(parseIpv6(frame, o, frame.length - o, ip), 'ipv6');
  const end = o + IPV6_HLEN + ip.payloadLength;
  const exts: number[] = [];
  let nh = ip.nextHeader;
  let at = o + IPV6_HLEN;
  let frag: Ipv6FragRepr | undefined;
  while (nh === NEXTHDR_HOP || nh === NEXTHDR_DEST || nh === NEXTHDR_ROUTING || nh === NEXTHDR_FRAGMENT) {
    exts.push(nh);
    const len = extHeaderLen(frame, at, end - at, nh);
    if (len < 0) throw new Error('extension header does not fit');
    if (nh === NEXTHDR_FRAGMENT) {
      frag = newIpv6FragRepr();
      parseIpv6Frag(frame, at, len, frag);
    }
    nh = frame[at]!;
    at += len;
    if (frag !== undefined) break;
  }
  const out: Decoded6 = { eth, ip, exts, l4Off: at, l4Len: end - at, proto: nh, frame };
  if (frag !== undefined) out.frag = frag;
  if (frag !== undefined && (frag.offset !== 0 || frag.moreFrags)) return out;
  const pseudo = (len: number): number => pseudoHeaderV6(ip.src, ip.dst, nh, len);
  const len = end - at;
  if (nh === IPPROTO_ICMPV6) {
    out.icmp = newIcmpv6Repr();
    must(parseIcmpv6(frame, at, len, pseudo(len), out.icmp), 'icmpv6');
    out.payload = frame.subarray(at + ICMPV6_HLEN, end);
    const fixed = ndpHeaderLen(out.icmp.type);
    if (fixed >= 0) {
      out.ndp = newNdpRepr();
      must(parseNdp(frame, at, len, out.ndp), 'ndp');
      out.ndpOpts = newNdpOptions();
      must(parseNdpOptions(frame, at + fixed, len - fixed, out.ndpOpts), 'ndp options');
    }
  } else if (nh === NEXTHDR_UDP) {
    out.udp = newUdpRepr();
    const udpLen = (frame[at + 4]! << 8) | frame[at + 5]!;
    must(parseUdpWithPseudo(frame, at, len, pseudo(udpLen), true, out.udp), 'udp');
    out.payload = frame.subarray(at + UDP_HLEN, at + out.udp.length);
  } else if (nh === NEXTHDR_TCP) {
    out.tcp = newTcpRepr();
    must(parseTcpWithPseudo(frame, at, len, pseudo(len), out.tcp), 'tcp');
    out.payload = frame.subarray(at + out.tcp.headerLen, end);
  }
  return out;
}

function must(reason: string | undefined, layer: string): void {
  if (reason !== undefined) throw new Error(`${layer} does not parse: ${reason}`);
}

/** MLD's messages: queries, reports and dones (RFC 2710, RFC 3810). */
const MLD_TYPES = new Set([130, 131, 132, 143]);

/**
 * Is this frame link chatter — ARP, Neighbor Discovery or an MLD report — rather than an
 * answer? Tests that look past it filter these out.
 */
export function isNdpOrArp(frame: Uint8Array): boolean {
  if (((frame[12]! << 8) | frame[13]!) !== ETH_P_IPV6) return true;
  const d = decode6(frame);
  return d.ndp !== undefined || (d.icmp !== undefined && MLD_TYPES.has(d.icmp.type));
}

/** The frames that are not link chatter (ARP, neighbour discovery, MLD). */
export const withoutNdp = (frames: Uint8Array[]): Uint8Array[] => frames.filter((f) => !isNdpOrArp(f));

/** Reassembles the payload (what follows the Fragment header) of the fragments of one packet, in any order. */
export function reassemble6(frames: Uint8Array[]): { data: Uint8Array; pieces: { offset: number; len: number; more: boolean; id: number }[] } {
  const parts = frames.map(decode6);
  const pieces = parts.map((d) => ({ offset: d.frag!.offset, len: d.l4Len, more: d.frag!.moreFrags, id: d.frag!.id }));
  const total = Math.max(...pieces.map((p) => p.offset + p.len));
  const data = new Uint8Array(total);
  parts.forEach((d, i) => data.set(d.frame.subarray(d.l4Off, d.l4Off + d.l4Len), pieces[i]!.offset));
  return { data, pieces };
}

// ── a stack with IPv6 on a memory link, on the manual clock ─────────────

export interface Harness6Options {
  config?: DeepPartial<StackConfig>;
  mtu?: number;
  /** Our address; default fd00:69::2/64. */
  ipv6?: string;
  /** Start the stack and let duplicate address detection finish (default true). */
  ready?: boolean;
  /** The peer resolves us (multicast NS) and answers our NA's implicit probe, so it is REACHABLE (default true; needs `ready`). */
  learnPeer?: boolean;
}

/**
 * A harness whose stack has an IPv6 address. It does not look for routers unless the
 * config asks (router_solicitations 0 by default here), so that only the tests about
 * routers see router solicitations go out.
 */
export function harness6(opts: Harness6Options = {}): Harness {
  const clock = new ManualClock();
  const [link, peer] = MemoryLink.pair({ mtu: opts.mtu ?? 1500 });
  const config: DeepPartial<StackConfig> = { ...opts.config, ipv6: { routerSolicitations: 0, ...opts.config?.ipv6 } };
  const stack = createStack({
    link, ipv4: '192.168.69.2/24', gateway: '192.168.69.1', mac: '02:00:00:00:00:0b',
    ipv6: opts.ipv6 ?? `${US6.ip}/64`, clock, random: seededRandom(42), config,
  });
  const h: Harness = {
    stack, clock, peer,
    rx: (...frames) => stack.receive(frames, clock.now()),
    input: (frame) => {
      const v = stack.input(frame, clock.now());
      link.flush();
      return v;
    },
    tx: () => peer.take(),
    advance: (ms) => {
      const end = clock.now() + ms;
      for (let guard = 0; guard < 100_000; guard++) {
        const at = stack.pollAt();
        if (at > end) break;
        if (at > clock.now()) clock.advance(at - clock.now());
        stack.poll(clock.now());
      }
      clock.advance(end - clock.now());
      stack.poll(clock.now());
    },
  };
  if (opts.ready ?? true) {
    stack.start(clock.now());
    h.advance(dadTime(stack.config));
    h.tx();
    if (opts.learnPeer ?? true) {
      h.rx(nsFrame(US6.ip));
      h.rx(naFrame(PEER6.ip, { override: false }));
      h.tx();
    }
  }
  return h;
}

/** The longest duplicate address detection can take: the random start delay, then a RetransTimer per probe. */
export function dadTime(cfg: StackConfig): number {
  return cfg.ipv6.routerSolicitationDelayMs + cfg.ipv6.dadTransmits * cfg.neigh.retransTimeMs;
}

/** The whole frame of an IPv6 packet as bytes from the IPv6 header on, for comparing with a quote. */
export const ipPart = (frame: Uint8Array): Uint8Array => frame.subarray(ETH_HLEN);

type Mib = Record<string, number>;

/** What changed in the IPv6 counters (and the drop reasons) since it was called: call the result later. */
export function counters6(h: Harness): () => {
  Ip6: Partial<Ip6Mib>; Icmp6: Partial<Icmp6Mib>; Icmp6Msg: Mib; Udp6: Partial<UdpMib>; Neigh6: Partial<NeighStats>; drops: Mib;
} {
  const before = h.stack.counters();
  const dropsBefore = h.stack.drops();
  const diff = (a: object, b: object): Mib => {
    const x = a as Mib;
    const y = b as Mib;
    const d: Mib = {};
    for (const k of Object.keys(x)) if (x[k] !== (y[k] ?? 0)) d[k] = x[k]! - (y[k] ?? 0);
    return d;
  };
  return () => {
    const after = h.stack.counters();
    return {
      Ip6: diff(after.Ip6, before.Ip6),
      Icmp6: diff(after.Icmp6, before.Icmp6),
      Icmp6Msg: diff(after.Icmp6Msg, before.Icmp6Msg),
      Udp6: diff(after.Udp6, before.Udp6),
      Neigh6: diff(after.Neigh6, before.Neigh6),
      drops: diff(h.stack.drops(), dropsBefore),
    };
  };
}

/**
 * What the stack sent, with the peer alive: every Neighbor Solicitation for one of the
 * peer's addresses is answered (a solicited NA, as Linux answers), and what that releases
 * is collected too. Returns the frames that are not neighbour discovery.
 */
export function drain(h: Harness): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let round = 0; round < 10; round++) {
    const frames = h.tx();
    if (frames.length === 0) break;
    for (const f of frames) {
      if (isNdpOrArp(f)) {
        if (((f[12]! << 8) | f[13]!) !== ETH_P_IPV6) continue;
        const d = decode6(f);
        const target = d.ndp?.target;
        if (d.icmp!.type === ICMPV6_NEIGHBOUR_SOLICIT && target !== undefined && (target === PEER6.ip || target === PEER6.ll) && d.ip.src !== '::') {
          h.rx(naFrame(target, { dst: d.ip.src, override: !isIpv6Multicast(d.ip.dst) ? false : true }));
        }
      } else {
        out.push(f);
      }
    }
  }
  return out;
}
