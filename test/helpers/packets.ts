/**
 * Frame builders and parsers for stage tests, made with the wire module's own emitters
 * (smoltcp's habit: build with `emit`, check with `parse`). The peer and our host use
 * the addresses of ../shared/captures, so captured frames and built ones mix freely.
 */
import { ManualClock } from '../../src/core/clock.js';
import type { DeepPartial, StackConfig } from '../../src/core/config.js';
import { seededRandom } from '../../src/core/random.js';
import { appendFcs } from '../../src/dev/fcs.js';
import { MemoryLink } from '../../src/dev/memory.js';
import { createStack, type Stack } from '../../src/stack.js';
import { BROADCAST_MAC, parseIpv4, type Mac } from '../../src/wire/addr.js';
import { ARPOP_REQUEST, ARP_LEN, emitArp, newArpRepr, parseArp, type ArpRepr } from '../../src/wire/arp.js';
import { checksum } from '../../src/wire/checksum.js';
import {
  ETH_HLEN, ETH_P_ARP, ETH_P_IP, emitEthernet, newEthernetRepr, parseEthernet, type EthernetRepr,
} from '../../src/wire/ethernet.js';
import { ICMP_ECHO, ICMP_HLEN, emitIcmpv4, newIcmpRepr, parseIcmpv4, type IcmpRepr } from '../../src/wire/icmpv4.js';
import { IPPROTO_ICMP, IPPROTO_UDP, IPV4_HLEN, emitIpv4, newIpv4Repr, parseIpv4 as parseIpv4Header, type Ipv4Repr } from '../../src/wire/ipv4.js';
import { UDP_HLEN, emitUdp, newUdpRepr, parseUdp, type UdpRepr } from '../../src/wire/udp.js';

export function ip(s: string): number {
  const a = parseIpv4(s);
  if (a === null) throw new Error(`bad address ${s}`);
  return a;
}

export const PEER = { mac: 0x02_00_00_00_00_0a as Mac, ip: ip('192.168.69.1') };
export const US = { mac: 0x02_00_00_00_00_0b as Mac, ip: ip('192.168.69.2') };

// ── building ─────────────────────────────────────────────────────────────

export function ethFrame(payload: Uint8Array, etherType: number, dst: Mac = US.mac, src: Mac = PEER.mac): Uint8Array {
  const f = new Uint8Array(ETH_HLEN + payload.length);
  const r = newEthernetRepr();
  r.dst = dst;
  r.src = src;
  r.etherType = etherType;
  emitEthernet(r, f, 0);
  f.set(payload, ETH_HLEN);
  return f;
}

export function arpFrame(a: Partial<ArpRepr> & { ethDst?: Mac; ethSrc?: Mac } = {}): Uint8Array {
  const r = newArpRepr();
  r.op = a.op ?? ARPOP_REQUEST;
  r.senderMac = a.senderMac ?? PEER.mac;
  r.senderIp = a.senderIp ?? PEER.ip;
  r.targetMac = a.targetMac ?? 0;
  r.targetIp = a.targetIp ?? US.ip;
  const body = new Uint8Array(ARP_LEN);
  emitArp(r, body, 0);
  return ethFrame(body, ETH_P_ARP, a.ethDst ?? BROADCAST_MAC, a.ethSrc ?? r.senderMac);
}

export interface Ipv4Fields {
  src?: number;
  dst?: number;
  protocol?: number;
  id?: number;
  ttl?: number;
  tos?: number;
  dontFrag?: boolean;
  moreFrags?: boolean;
  fragOffset?: number;
  options?: Uint8Array;
}

/** An IPv4 packet (header + payload) with a correct header checksum. */
export function ipv4Packet(payload: Uint8Array, f: Ipv4Fields = {}): Uint8Array {
  const r = newIpv4Repr();
  const opts = f.options ?? new Uint8Array(0);
  r.headerLen = IPV4_HLEN + opts.length;
  r.options = opts;
  r.tos = f.tos ?? 0;
  r.totalLength = r.headerLen + payload.length;
  r.id = f.id ?? 0x1234;
  r.dontFrag = f.dontFrag ?? false;
  r.moreFrags = f.moreFrags ?? false;
  r.fragOffset = f.fragOffset ?? 0;
  r.ttl = f.ttl ?? 64;
  r.protocol = f.protocol ?? IPPROTO_ICMP;
  r.src = f.src ?? PEER.ip;
  r.dst = f.dst ?? US.ip;
  const p = new Uint8Array(r.totalLength);
  emitIpv4(r, p, 0);
  p.set(payload, r.headerLen);
  return p;
}

export function ipv4Frame(payload: Uint8Array, f: Ipv4Fields = {}, ethDst: Mac = US.mac): Uint8Array {
  return ethFrame(ipv4Packet(payload, f), ETH_P_IP, ethDst);
}

export function icmpMessage(type: number, code: number, rest: number, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const m = new Uint8Array(ICMP_HLEN + data.length);
  m.set(data, ICMP_HLEN);
  const r = newIcmpRepr();
  r.type = type;
  r.code = code;
  r.rest = rest;
  emitIcmpv4(r, m, 0, m.length);
  return m;
}

export function echoRequest(id: number, seq: number, data: Uint8Array): Uint8Array {
  return icmpMessage(ICMP_ECHO, 0, ((id << 16) | seq) >>> 0, data);
}

export function udpDatagram(srcPort: number, dstPort: number, data: Uint8Array, src = PEER.ip, dst = US.ip): Uint8Array {
  const d = new Uint8Array(UDP_HLEN + data.length);
  d.set(data, UDP_HLEN);
  const r = newUdpRepr();
  r.srcPort = srcPort;
  r.dstPort = dstPort;
  r.length = d.length;
  emitUdp(r, d, 0, src, dst);
  return d;
}

export function udpFrame(srcPort: number, dstPort: number, data: Uint8Array, f: Ipv4Fields = {}): Uint8Array {
  const src = f.src ?? PEER.ip;
  const dst = f.dst ?? US.ip;
  return ipv4Frame(udpDatagram(srcPort, dstPort, data, src, dst), { ...f, protocol: IPPROTO_UDP, src, dst });
}

/** Splits an IPv4 packet into fragments carrying at most `chunk` bytes of payload each (a multiple of 8). */
export function fragments(packet: Uint8Array, chunk: number): Uint8Array[] {
  const r = newIpv4Repr();
  if (parseIpv4Header(packet, 0, packet.length, r) !== undefined) throw new Error('bad packet');
  const payload = packet.subarray(r.headerLen, r.totalLength);
  const out: Uint8Array[] = [];
  for (let off = 0; off < payload.length; off += chunk) {
    const piece = payload.subarray(off, Math.min(off + chunk, payload.length));
    out.push(ipv4Packet(piece, {
      src: r.src, dst: r.dst, protocol: r.protocol, id: r.id, ttl: r.ttl, tos: r.tos,
      fragOffset: off, moreFrags: off + piece.length < payload.length,
    }));
  }
  return out;
}

export function bytes(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** Fixes the IPv4 header checksum after a test edited the header (packet starts at `o`). */
export function refreshIpChecksum(b: Uint8Array, o: number): void {
  const hl = (b[o]! & 0x0f) * 4;
  b[o + 10] = 0;
  b[o + 11] = 0;
  const sum = checksum(b, o, hl);
  b[o + 10] = sum >>> 8;
  b[o + 11] = sum & 0xff;
}

// ── parsing what the stack sent ──────────────────────────────────────────

export interface Decoded {
  eth: EthernetRepr;
  arp?: ArpRepr;
  ip?: Ipv4Repr;
  icmp?: IcmpRepr;
  udp?: UdpRepr;
  /** The transport payload (ICMP body after the 8-byte header, UDP data). */
  payload?: Uint8Array;
  frame: Uint8Array;
}

/** Decodes a frame fully, failing the test if any layer does not parse or verify. */
export function decode(frame: Uint8Array): Decoded {
  const eth = newEthernetRepr();
  must(parseEthernet(frame, 0, frame.length, eth), 'ethernet');
  const out: Decoded = { eth, frame };
  const o = eth.headerLen;
  if (eth.etherType === ETH_P_ARP) {
    out.arp = newArpRepr();
    must(parseArp(frame, o, frame.length - o, out.arp), 'arp');
  } else if (eth.etherType === ETH_P_IP) {
    const r = newIpv4Repr();
    must(parseIpv4Header(frame, o, frame.length - o, r), 'ipv4');
    out.ip = r;
    const l4 = o + r.headerLen;
    const l4len = r.totalLength - r.headerLen;
    if (r.fragOffset !== 0 || r.moreFrags) return out;
    if (r.protocol === IPPROTO_ICMP) {
      out.icmp = newIcmpRepr();
      must(parseIcmpv4(frame, l4, l4len, out.icmp), 'icmp');
      out.payload = frame.subarray(l4 + ICMP_HLEN, l4 + l4len);
    } else if (r.protocol === IPPROTO_UDP) {
      out.udp = newUdpRepr();
      must(parseUdp(frame, l4, l4len, r.src, r.dst, out.udp), 'udp');
      out.payload = frame.subarray(l4 + UDP_HLEN, l4 + out.udp.length);
    }
  }
  return out;
}

function must(reason: string | undefined, layer: string): void {
  if (reason !== undefined) throw new Error(`${layer} does not parse: ${reason}`);
}

// ── a stack on a memory link, on the manual clock ────────────────────────

export interface Harness {
  stack: Stack;
  clock: ManualClock;
  /** The other end of the link: what the stack sent arrives here. */
  peer: MemoryLink;
  /** Feeds frames to the stack as one batch at the current time. */
  rx(...frames: Uint8Array[]): void;
  /** One frame; returns its verdict. */
  input(frame: Uint8Array): string;
  /** Takes every frame the stack has sent since the last call. */
  tx(): Uint8Array[];
  /** Advances the clock by `ms`, running every timer due on the way, in order. */
  advance(ms: number): void;
}

export function harness(opts: { config?: DeepPartial<StackConfig>; fcs?: boolean; mtu?: number; learnPeer?: boolean } = {}): Harness {
  const clock = new ManualClock();
  const [link, peer] = MemoryLink.pair({ fcs: opts.fcs ?? false, mtu: opts.mtu ?? 1500 });
  const stack = createStack({
    link, ipv4: '192.168.69.2/24', gateway: '192.168.69.1', mac: '02:00:00:00:00:0b',
    clock, random: seededRandom(42), ...(opts.config !== undefined && { config: opts.config }),
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
  if (opts.learnPeer ?? true) {
    // The peer asks for us first, as a real client does: we learn its MAC from that.
    h.rx(opts.fcs === true ? appendFcs(arpFrame()) : arpFrame());
    h.tx();
  }
  return h;
}
