/**
 * The receive walk under fire: 10,000 random and mutated frames, each thrown at
 * `stack.input()` on the manual clock. Whatever arrives, the walk must
 *
 *   - never throw (malformed input is a drop reason, not an exception),
 *   - answer CONSUMED or a DropReason, and count every drop under its reason,
 *   - keep every table bounded: neighbours ≤ gc_thresh3, each pending queue ≤
 *     unres_qlen_bytes, reassembly ≤ ipfrag_high_thresh + one datagram, socket
 *     queues ≤ SO_RCVBUF; and after 60 s of quiet, hold no reassembly memory at all,
 *   - send only well-formed frames back (every layer parses, every checksum verifies).
 *
 * The frames are a seeded mix (mulberry32, so a failure replays exactly; set FUZZ_SEED
 * to explore other seeds): fully random bytes, random bytes behind a valid Ethernet
 * header, and valid frames of every kind we handle — ARP, ICMP, UDP to open and closed
 * ports, fragments, IP options, VLAN tags, broadcast and multicast — then mutated (bit
 * flips, truncation, extension, header bytes and length fields overwritten). Half of
 * the mutated frames get their IP, UDP and ICMP checksums fixed up afterwards, so the
 * mutation reaches the stages behind the checksums instead of stopping at the first one.
 * The test also demands that many distinct verdicts, deep ones among them, were seen:
 * a fuzzer that only ever reached the Ethernet stage would fail it.
 */
import { describe, expect, it } from 'vitest';
import { CONSUMED, DropReason, type Verdict } from '../../src/core/drop.js';
import { seededRandom } from '../../src/core/random.js';
import { udpEcho } from '../../src/services/echo.js';
import { tcpEcho } from '../../src/services/tcp.js';
import { BROADCAST_MAC, ipv4MulticastMac, type Mac } from '../../src/wire/addr.js';
import { ARPOP_REPLY, ARPOP_REQUEST } from '../../src/wire/arp.js';
import { setU16, u16 } from '../../src/wire/bytes.js';
import { checksum, pseudoHeaderV4 } from '../../src/wire/checksum.js';
import { ETH_HLEN, ETH_P_8021Q, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6 } from '../../src/wire/ethernet.js';
import {
  ICMP_DEST_UNREACH, ICMP_ECHOREPLY, ICMP_PORT_UNREACH, ICMP_TIMESTAMP,
} from '../../src/wire/icmpv4.js';
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP } from '../../src/wire/ipv4.js';
import { TCP_SYN, emitTcp, tcpOptionsLen, type TcpOptionsOut } from '../../src/wire/tcp.js';
import {
  PEER, US, arpFrame, bytes, decode, echoRequest, ethFrame, fragments, harness, icmpMessage, ip, ipv4Packet,
  refreshIpChecksum, udpDatagram, udpFrame, type Ipv4Fields,
} from '../helpers/packets.js';

const FRAMES = 10_000;
const SEED = Number(process.env['FUZZ_SEED'] ?? 0x5eed);

/** Small limits, so that 10,000 frames reach every one of them. */
const LIMITS = {
  neigh: { gcThresh3: 16, unresQlenBytes: 4096 },
  frag: { highThreshBytes: 128 * 1024, maxDatagramBytes: 16 * 1024 },
  sinkRcvbuf: 4096,
};

const ECHO_PORT = 7;
const TCP_ECHO_PORT = 7;
/** A socket nobody reads until the end: it must fill up and then refuse (SOCKET_RCVBUFF). */
const SINK_PORT = 9;

const VERDICTS = new Set<string>([CONSUMED, ...Object.values(DropReason)]);

// ── a seeded source of choices ─────────────────────────────────────────────

type Rng = ReturnType<typeof rng>;

function rng(seed: number) {
  const next = seededRandom(seed);
  const int = (n: number): number => Math.floor(next() * n);
  return {
    int,
    chance: (p: number): boolean => next() < p,
    pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]!,
    bytes(n: number): Uint8Array {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = int(256);
      return b;
    },
    /** In-place Fisher–Yates. */
    shuffle<T>(xs: T[]): T[] {
      for (let i = xs.length - 1; i > 0; i--) {
        const j = int(i + 1);
        [xs[i], xs[j]] = [xs[j]!, xs[i]!];
      }
      return xs;
    },
  };
}

// ── what a frame may claim to be ───────────────────────────────────────────

/**
 * Sources: mostly plausible neighbours — 64 of them, four times gc_thresh3, none of which
 * answers ARP, so answers to them pile up in pending queues — then strangers behind the
 * gateway, and some martians.
 */
function source(r: Rng): number {
  const roll = r.int(100);
  if (roll < 40) return PEER.ip;
  if (roll < 75) return ip(`192.168.69.${100 + r.int(64)}`);
  if (roll < 90) return ip(`10.${r.int(256)}.${r.int(256)}.${1 + r.int(254)}`);
  return r.pick([0, 0xffffffff, ip('224.0.0.5'), US.ip, ip('192.168.69.255'), ip('192.168.69.0')]);
}

/** Destinations: mostly us, then the broadcasts, a joined and an unjoined group, strangers. */
function destination(r: Rng): number {
  const roll = r.int(100);
  if (roll < 75) return US.ip;
  return r.pick([
    ip('192.168.69.255'), 0xffffffff, ip('224.0.0.1'), ip('224.0.0.9'), ip('192.168.69.3'), ip('8.8.8.8'), 0,
  ]);
}

/** The Ethernet destination a sender would use for `dst`, now and then a wrong one. */
function ethDstFor(r: Rng, dst: number): Mac {
  if (r.chance(0.05)) return r.pick([BROADCAST_MAC, ipv4MulticastMac(ip('224.0.0.1')), 0x02_00_00_00_00_99, US.mac]);
  if (dst === 0xffffffff || dst === ip('192.168.69.255')) return BROADCAST_MAC;
  if (dst >>> 28 === 0xe) return ipv4MulticastMac(dst);
  return US.mac;
}

function ethSrc(r: Rng): Mac {
  const roll = r.int(100);
  if (roll < 85) return PEER.mac;
  if (roll < 97) return 0x02_00_00_00_00_00 + r.int(0x1_0000);
  return r.pick([BROADCAST_MAC, 0x01_00_5e_00_00_01, US.mac]);
}

function ipOptions(r: Rng): Uint8Array | undefined {
  if (!r.chance(0.1)) return undefined;
  return r.pick([
    new Uint8Array([1, 1, 1, 0]), // NOP NOP NOP EOL
    new Uint8Array([7, 7, 4, 0, 0, 0, 0, 0]), // record route with room for one address
    new Uint8Array([1, 0x44, 1, 0]), // a timestamp option claiming length 1: malformed
    new Uint8Array([0x94, 4, 0, 0]), // router alert
    r.bytes(4 * (1 + r.int(10))), // anything
  ]);
}

function ipFields(r: Rng, protocol: number): Required<Pick<Ipv4Fields, 'src' | 'dst'>> & Ipv4Fields {
  const opts = ipOptions(r);
  return {
    src: source(r), dst: destination(r), protocol, id: r.int(0x10000), ttl: r.pick([0, 1, 64, 255]),
    tos: r.chance(0.1) ? r.int(256) : 0, dontFrag: r.chance(0.5), ...(opts !== undefined && { options: opts }),
  };
}

/** Inserts an 802.1Q tag after the MAC addresses: VLAN 0 (a priority tag) or another VLAN. */
function vlanTag(r: Rng, f: Uint8Array): Uint8Array {
  const out = new Uint8Array(f.length + 4);
  out.set(f.subarray(0, 12), 0);
  setU16(out, 12, ETH_P_8021Q);
  setU16(out, 14, (r.int(8) << 13) | (r.chance(0.6) ? 0 : 1 + r.int(4094)));
  out.set(f.subarray(12), 16);
  return out;
}

function frameFor(r: Rng, packet: Uint8Array, dst: number): Uint8Array {
  const f = ethFrame(packet, ETH_P_IP, ethDstFor(r, dst), ethSrc(r));
  return r.chance(0.08) ? vlanTag(r, f) : f;
}

// ── valid frames of every kind ─────────────────────────────────────────────

function arp(r: Rng): Uint8Array[] {
  const op = r.chance(0.9) ? r.pick([ARPOP_REQUEST, ARPOP_REPLY]) : r.int(0x10000);
  const f = arpFrame({
    op,
    senderMac: r.chance(0.9) ? PEER.mac + r.int(64) : r.pick([BROADCAST_MAC, 0x01_00_5e_00_00_01]),
    senderIp: source(r),
    targetIp: r.chance(0.7) ? US.ip : destination(r),
    targetMac: op === ARPOP_REPLY ? US.mac : 0,
    ethDst: r.chance(0.7) ? BROADCAST_MAC : US.mac,
  });
  return [r.chance(0.05) ? vlanTag(r, f) : f];
}

function icmp(r: Rng): Uint8Array[] {
  const roll = r.int(100);
  let msg: Uint8Array;
  if (roll < 70) msg = echoRequest(r.int(0x10000), r.int(0x10000), r.bytes(r.int(1400)));
  else if (roll < 80) msg = icmpMessage(ICMP_TIMESTAMP, 0, r.int(0x10000), r.bytes(r.chance(0.8) ? 12 : r.int(12)));
  else if (roll < 88) msg = icmpMessage(ICMP_ECHOREPLY, 0, r.int(0x10000), r.bytes(r.int(64)));
  else if (roll < 94) msg = icmpMessage(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, r.bytes(28));
  else msg = icmpMessage(r.int(256), r.int(256), r.int(0x10000), r.bytes(r.int(64)));
  const f = ipFields(r, IPPROTO_ICMP);
  return [frameFor(r, ipv4Packet(msg, f), f.dst)];
}

function udp(r: Rng): Uint8Array[] {
  const f = ipFields(r, IPPROTO_UDP);
  const port = r.pick([ECHO_PORT, ECHO_PORT, SINK_PORT, 53, 1 + r.int(0xffff)]);
  // Source port 0 means "no reply expected" (RFC 768): a service must not answer it.
  const srcPort = r.chance(0.03) ? 0 : 1024 + r.int(60000);
  const d = udpDatagram(srcPort, port, r.bytes(r.int(1400)), f.src, f.dst);
  if (r.chance(0.05)) setU16(d, 6, 0); // no checksum: allowed over IPv4
  return [frameFor(r, ipv4Packet(d, f), f.dst)];
}

/**
 * A TCP segment to the echo listener or a closed port: a SYN now and then (which opens a
 * half-open connection), else random flags, sequence numbers and options.
 */
function tcp(r: Rng): Uint8Array[] {
  const f = ipFields(r, IPPROTO_TCP);
  const flags = r.chance(0.3) ? TCP_SYN : r.int(0x100);
  const opts: TcpOptionsOut = {};
  if (r.chance(0.5)) opts.mss = r.pick([536, 1460, 0, r.int(0x10000)]);
  if (r.chance(0.3)) opts.wscale = r.pick([0, 7, 14, 15, r.int(256)]);
  if (r.chance(0.3)) opts.sackPermitted = true;
  if (r.chance(0.4)) opts.timestamp = { val: r.int(0x1_0000_0000), ecr: r.int(0x1_0000_0000) };
  if (r.chance(0.2)) {
    const blocks = new Uint32Array(8).map(() => r.int(0x1_0000_0000));
    opts.sack = { count: 1 + r.int(3), blocks };
  }
  const data = r.chance(0.4) ? r.bytes(r.int(1200)) : new Uint8Array(0);
  const hlen = 20 + tcpOptionsLen(opts);
  const seg = new Uint8Array(hlen + data.length);
  seg.set(data, hlen);
  emitTcp({
    srcPort: 1024 + r.int(64), dstPort: r.pick([TCP_ECHO_PORT, TCP_ECHO_PORT, 80, r.int(0x10000)]),
    seq: r.int(0x1_0000_0000), ack: r.int(0x1_0000_0000), flags, window: r.int(0x10000),
  }, opts, seg, 0, data.length, f.src, f.dst);
  return [frameFor(r, ipv4Packet(seg, f), f.dst)];
}

function otherProtocol(r: Rng): Uint8Array[] {
  const f = ipFields(r, r.pick([2, 47, 50, 89, 132, r.int(256)]));
  return [frameFor(r, ipv4Packet(r.bytes(r.int(200)), f), f.dst)];
}

/**
 * A whole datagram in fragments, sometimes shuffled, short of one, or with one sent
 * twice: reassembly must complete it, hold it, or throw it away, and never misbehave.
 */
function fragmented(r: Rng): Uint8Array[] {
  const proto = r.pick([IPPROTO_ICMP, IPPROTO_UDP]);
  const f = { ...ipFields(r, proto), dontFrag: false };
  if (r.chance(0.7)) f.dst = US.ip; // mostly for us, so that reassembly is reached
  const data = r.bytes(1 + r.int(6000));
  const payload = proto === IPPROTO_ICMP
    ? echoRequest(r.int(0x10000), 1, data)
    : udpDatagram(40000, r.pick([ECHO_PORT, SINK_PORT, 4444]), data, f.src, f.dst);
  const packet = ipv4Packet(payload, f);
  const pieces = fragments(packet, 8 * (16 + r.int(170))); // 128..1480 bytes: at most 47 pieces
  if (r.chance(0.3)) r.shuffle(pieces);
  if (r.chance(0.15) && pieces.length > 1) pieces.splice(r.int(pieces.length), 1);
  if (r.chance(0.15)) pieces.push(pieces[r.int(pieces.length)]!.slice());
  const ethDst = ethDstFor(r, f.dst);
  return pieces.map((p) => ethFrame(p, ETH_P_IP, ethDst));
}

/** One fragment out of nowhere: random offset, MF, length and one of a few IDs, so they collide. */
function strayFragment(r: Rng): Uint8Array[] {
  const f = {
    ...ipFields(r, r.pick([IPPROTO_ICMP, IPPROTO_UDP])),
    src: r.chance(0.8) ? PEER.ip : source(r), dst: US.ip, id: r.int(8), dontFrag: false,
    moreFrags: r.chance(0.6), fragOffset: 8 * r.pick([0, r.int(16), r.int(1024), r.int(8192)]),
  };
  return [frameFor(r, ipv4Packet(r.bytes(r.int(1480)), f), f.dst)];
}

function randomBehindEthernet(r: Rng): Uint8Array[] {
  const type = r.pick([ETH_P_IP, ETH_P_IP, ETH_P_ARP, ETH_P_IPV6, r.int(0x10000)]);
  return [ethFrame(r.bytes(r.int(1500)), type, r.pick([US.mac, BROADCAST_MAC]), ethSrc(r))];
}

function fullyRandom(r: Rng): Uint8Array[] {
  return [r.bytes(r.int(1601))];
}

const KINDS: readonly [number, (r: Rng) => Uint8Array[]][] = [
  [8, fullyRandom], [6, randomBehindEthernet], [12, arp], [20, icmp], [20, udp], [16, tcp], [4, otherProtocol],
  [8, fragmented], [6, strayFragment],
];
const TOTAL_WEIGHT = KINDS.reduce((s, [w]) => s + w, 0);

function generate(r: Rng): Uint8Array[] {
  let roll = r.int(TOTAL_WEIGHT);
  for (const [w, make] of KINDS) {
    if (roll < w) return make(r);
    roll -= w;
  }
  throw new Error('unreachable');
}

// ── mutations ──────────────────────────────────────────────────────────────

/** Where the IP header starts in a frame that may carry a VLAN tag. */
function l3Offset(f: Uint8Array): number {
  return f.length >= 18 && u16(f, 12) === ETH_P_8021Q ? 18 : ETH_HLEN;
}

function mutate(r: Rng, frame: Uint8Array): Uint8Array {
  let f = frame;
  const l3 = l3Offset(f);
  for (let n = 1 + r.int(3); n > 0; n--) {
    switch (r.int(6)) {
      case 0: { // flip a bit anywhere
        if (f.length === 0) break;
        const bit = r.int(f.length * 8);
        f[bit >>> 3]! ^= 1 << (bit & 7);
        break;
      }
      case 1: // truncate
        f = f.slice(0, r.int(f.length + 1));
        break;
      case 2: { // extend with trailing junk (as link padding would, or worse)
        const out = new Uint8Array(f.length + 1 + r.int(64));
        out.set(f);
        out.set(r.bytes(out.length - f.length), f.length);
        f = out;
        break;
      }
      case 3: { // overwrite one header byte: Ethernet, IP or transport
        const at = r.pick([r.int(l3), l3 + r.int(20), l3 + 20 + r.int(8)]);
        if (at < f.length) f[at] = r.int(256);
        break;
      }
      case 4: { // a length field: IP total length, IHL, or UDP length
        const which = r.int(3);
        if (which === 0 && l3 + 4 <= f.length) setU16(f, l3 + 2, r.chance(0.5) ? r.int(0x10000) : u16(f, l3 + 2) + r.int(17) - 8);
        else if (which === 1 && l3 < f.length) f[l3] = (f[l3]! & 0xf0) | r.int(16);
        else if (which === 2 && l3 + 28 <= f.length) setU16(f, l3 + 24, r.chance(0.5) ? r.int(0x10000) : u16(f, l3 + 24) + r.int(17) - 8);
        break;
      }
      case 5: { // fragment fields: MF and offset
        if (l3 + 8 <= f.length) setU16(f, l3 + 6, r.int(0x10000));
        break;
      }
    }
  }
  return f;
}

/**
 * Recomputes the ICMP or UDP checksum (unfragmented packets only) and then the IP header
 * checksum of a mutated IPv4 frame, wherever the bytes say they are, as far as they are
 * there. A frame that does not even look like IPv4 is left alone.
 */
function fixChecksums(f: Uint8Array): void {
  const l3 = l3Offset(f);
  if (f.length < l3 + 20 || u16(f, l3 - 2) !== ETH_P_IP) return;
  const hl = (f[l3]! & 0x0f) * 4;
  if (hl < 20 || l3 + hl > f.length) return;
  const total = u16(f, l3 + 2);
  const l4 = l3 + hl;
  const l4len = Math.min(total, f.length - l3) - hl;
  const unfragmented = (u16(f, l3 + 6) & 0x3fff) === 0;
  if (unfragmented && l4len >= 8) {
    const proto = f[l3 + 9]!;
    if (proto === IPPROTO_ICMP) {
      setU16(f, l4 + 2, 0);
      setU16(f, l4 + 2, checksum(f, l4, l4len));
    } else if (proto === IPPROTO_TCP && l4len >= 20) {
      const src = u16(f, l3 + 12) * 0x10000 + u16(f, l3 + 14);
      const dst = u16(f, l3 + 16) * 0x10000 + u16(f, l3 + 18);
      setU16(f, l4 + 16, 0);
      setU16(f, l4 + 16, checksum(f, l4, l4len, pseudoHeaderV4(src, dst, IPPROTO_TCP, l4len)));
    } else if (proto === IPPROTO_UDP) {
      const len = u16(f, l4 + 4);
      if (len >= 8 && len <= l4len) {
        const src = u16(f, l3 + 12) * 0x10000 + u16(f, l3 + 14);
        const dst = u16(f, l3 + 16) * 0x10000 + u16(f, l3 + 18);
        setU16(f, l4 + 6, 0);
        setU16(f, l4 + 6, checksum(f, l4, len, pseudoHeaderV4(src, dst, IPPROTO_UDP, len)) || 0xffff);
      }
    }
  }
  refreshIpChecksum(f, l3);
}

// ── the run ────────────────────────────────────────────────────────────────

function hex(f: Uint8Array): string {
  return Buffer.from(f).toString('hex');
}

describe('receive walk fuzz', () => {
  it(`survives ${FRAMES} random and mutated frames, counting every drop, within its bounds`, () => {
    const h = harness({ config: { neigh: LIMITS.neigh, frag: LIMITS.frag } });
    const { stack, clock } = h;
    const cfg = stack.config;
    udpEcho(stack, ECHO_PORT);
    tcpEcho(stack, TCP_ECHO_PORT);
    const sink = stack.udp.createSocket({ type: 'udp4', recvBufferSize: LIMITS.sinkRcvbuf });
    sink.bind(SINK_PORT);

    const r = rng(SEED);
    const seen = new Map<Verdict, number>();
    const pending: Uint8Array[] = [];
    let mutated = 0;
    let fixed = 0;
    let sent = 0;
    let maxReasm = 0;
    let maxNeigh = 0;
    let maxPending = 0;

    /**
     * Everything the stack sent must be well formed (`decode` fails on any bad layer or
     * checksum) and no martian: from our MAC and, for IPv4, from our address to one that
     * names a destination (RFC 1122 §3.2.1.3: 0.0.0.0 is never a destination on the wire).
     */
    const checkOutput = (): void => {
      for (const out of h.tx()) {
        sent++;
        let d: ReturnType<typeof decode>;
        try {
          d = decode(out);
        } catch (err) {
          expect.fail(`the stack sent a malformed frame (${String(err)}): ${hex(out)}`);
        }
        if (d.eth.src !== US.mac) expect.fail(`the stack sent from another MAC: ${hex(out)}`);
        if (d.ip !== undefined && (d.ip.src !== US.ip || d.ip.dst === 0)) {
          expect.fail(`the stack sent a martian IPv4 packet: ${hex(out)}`);
        }
      }
    };

    for (let i = 0; i < FRAMES; i++) {
      if (pending.length === 0) pending.push(...generate(r));
      let frame = pending.shift()!;
      if (r.chance(0.5)) {
        frame = mutate(r, frame.slice());
        mutated++;
        if (r.chance(0.5)) {
          fixChecksums(frame);
          fixed++;
        }
      }

      const before = stack.drops();
      let verdict: Verdict;
      try {
        verdict = stack.input(frame, clock.now());
      } catch (err) {
        throw new Error(`frame ${i} (seed ${SEED}) threw: ${String(err)}\n${hex(frame)}`, { cause: err });
      }
      // Plain checks on the per-frame path (an `expect` per frame would be most of the run time).
      if (!VERDICTS.has(verdict)) expect.fail(`frame ${i}: unknown verdict ${verdict}\n${hex(frame)}`);
      if (verdict !== CONSUMED && !((stack.drops()[verdict] ?? 0) > (before[verdict] ?? 0))) {
        expect.fail(`frame ${i}: ${verdict} was not counted in drops()`);
      }
      seen.set(verdict, (seen.get(verdict) ?? 0) + 1);

      // Bounds are watched after every frame, not just at the end.
      maxReasm = Math.max(maxReasm, stack.reassemblyMemory());
      const neighbors = stack.neighbors();
      maxNeigh = Math.max(maxNeigh, neighbors.length);
      for (const n of neighbors) maxPending = Math.max(maxPending, n.queueBytes);

      // Time passes: mostly milliseconds, now and then seconds, so every timer fires on the way.
      // Polling also wakes the sockets, so an application callback that throws shows here.
      try {
        h.advance(r.chance(0.01) ? 1000 + r.int(5000) : r.int(10));
      } catch (err) {
        throw new Error(`poll after frame ${i} (seed ${SEED}) threw: ${String(err)}\n${hex(frame)}`, { cause: err });
      }
      if (i % 64 === 0) checkOutput();
    }
    checkOutput();

    expect(maxNeigh).toBeLessThanOrEqual(cfg.neigh.gcThresh3);
    expect(maxPending).toBeLessThanOrEqual(cfg.neigh.unresQlenBytes);
    expect(maxReasm).toBeLessThanOrEqual(cfg.frag.highThreshBytes + cfg.frag.maxDatagramBytes);

    // The sink was never read, so its queue is at its largest now: it holds no more than rcvbuf.
    let held = 0;
    let queued = 0;
    for (let m = sink.recv(); m !== null; m = sink.recv()) {
      held += m.msg.length + cfg.udp.perDatagramOverhead;
      queued++;
    }
    expect(queued).toBeGreaterThan(0);
    expect(held).toBeLessThanOrEqual(LIMITS.sinkRcvbuf);

    // Quiet for 60 s: every datagram being reassembled has timed out and released its memory.
    h.advance(60_000);
    expect(stack.reassemblyMemory()).toBe(0);
    checkOutput();

    const table = Object.fromEntries([...seen].sort((a, b) => b[1] - a[1]));
    console.log(
      `fuzz seed ${SEED}: ${FRAMES} frames (${mutated} mutated, ${fixed} with checksums fixed), ` +
      `${sent} frames sent back, max reassembly ${maxReasm} B, max neighbours ${maxNeigh}; verdicts:`, table,
    );

    // Every stage was reached, not just the first: many reasons, the deep ones among them.
    expect(seen.get(CONSUMED) ?? 0).toBeGreaterThan(FRAMES / 20);
    expect(seen.size).toBeGreaterThanOrEqual(18);
    for (const deep of [
      DropReason.OTHERHOST, DropReason.UNHANDLED_PROTO, DropReason.X_ARP_HEADER, DropReason.IP_CSUM,
      DropReason.IP_INHDR, DropReason.IP_INADDRERRORS, DropReason.IP_NOPROTO, DropReason.DUP_FRAG,
      DropReason.X_FRAG_OVERLAP, DropReason.ICMP_CSUM, DropReason.UDP_CSUM, DropReason.NO_SOCKET,
      DropReason.SOCKET_RCVBUFF, DropReason.TCP_CSUM,
    ]) {
      expect(seen.has(deep), `no frame reached ${deep}`).toBe(true);
    }
    // The limits themselves were reached, so the bounds above were tested, not just obeyed.
    const drops = stack.drops();
    expect(drops[DropReason.X_FRAG_MEM_LIMIT] ?? 0).toBeGreaterThan(0);
    expect(drops[DropReason.NEIGH_QUEUEFULL] ?? 0).toBeGreaterThan(0);
    expect(stack.counters().Neigh.table_fulls + stack.counters().Neigh.forced_gc_runs).toBeGreaterThan(0);
    expect(stack.counters().Ip.ReasmOKs).toBeGreaterThan(0);
  });
});

/** Bugs this fuzz found, pinned down one frame each so they stay fixed. */
describe('found by the fuzz', () => {
  it('the UDP echo service ignores a datagram from port 0 instead of throwing out of receive()', () => {
    const h = harness();
    udpEcho(h.stack, ECHO_PORT);
    // RFC 768: source port 0 means no reply is expected. Sending to it throws ERR_SOCKET_BAD_PORT,
    // which escaped from the 'message' handler through wakeReaders() and stack.receive().
    expect(() => h.rx(udpFrame(0, ECHO_PORT, bytes(4)))).not.toThrow();
    expect(h.tx()).toHaveLength(0);
    h.rx(udpFrame(1234, ECHO_PORT, bytes(4)));
    expect(decode(h.tx()[0]!).udp?.dstPort).toBe(1234);
  });

  it('a reply to 0.0.0.0 stays on this host instead of going on the wire (RFC 1122 §3.2.1.3)', () => {
    const h = harness();
    udpEcho(h.stack, ECHO_PORT);
    // A DHCP-style client without an address asks the limited broadcast; the echo answers 0.0.0.0.
    h.rx(udpFrame(68, ECHO_PORT, bytes(4), { src: 0, dst: 0xffffffff }));
    h.advance(0);
    expect(h.tx().map((f) => decode(f).ip?.dst)).toEqual([]);
    expect(h.stack.counters().Udp.OutDatagrams).toBe(1); // answered, to ourselves, as Linux does
  });
});
