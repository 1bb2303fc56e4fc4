/**
 * Linux as the oracle, for IPv6: the client's frames from the captures in ../fixtures
 * (recorded between two Linux hosts; see shared/captures/README.md) are replayed, in order
 * and at their recorded times, to a stack that plays the server (fd00:69::2,
 * 02:00:00:00:00:0b). What it sends back is compared with what the Linux server sent:
 *
 *   - Neighbor Discovery byte for byte;
 *   - ICMPv6 and UDP byte for byte except the flow label, which Linux draws from its own
 *     state (auto_flowlabels) and we leave 0 (RFC 6437 allows either); the upper-layer
 *     checksums do not cover it, so they must match too;
 *   - fragments at the same offsets with the same sizes, sharing one identification (which
 *     Linux draws at random) and reassembling to the same ICMPv6 bytes;
 *   - TCP field by field: the client's acknowledgments and timestamp echoes are moved from
 *     Linux's sequence and timestamp space into ours before they are fed in, and our
 *     segments are compared in relative terms (ISN and TSval are each side's own).
 *
 * Frames Linux sent because of neighbour state from before a capture began cannot be ours
 * at the same moment; where they are compared, the test says how it gets there.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CONSUMED, DropReason } from '../../src/core/drop.js';
import { udpEcho } from '../../src/services/echo.js';
import { setU32, u16, u32 } from '../../src/wire/bytes.js';
import { checksum, pseudoHeaderV6 } from '../../src/wire/checksum.js';
import { ETH_HLEN, ETH_P_IPV6 } from '../../src/wire/ethernet.js';
import { ICMPV6_ECHO_REPLY, ICMPV6_HLEN, ICMPV6_NEIGHBOUR_SOLICIT } from '../../src/wire/icmpv6.js';
import { IPV6_HLEN, NEXTHDR_TCP } from '../../src/wire/ipv6.js';
import { TCP_ACK, TCP_FIN, TCP_SYN } from '../../src/wire/tcp.js';
import type { TcpSocket } from '../../src/user/net.js';
import { PEER, US, type Harness } from '../helpers/packets.js';
import { PEER6, US6, decode6, harness6, isNdpOrArp, nsFrame, reassemble6, type Decoded6 } from '../helpers/packets6.js';
import { readPcap, type PcapRecord } from '../helpers/pcap-read.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}.pcap`, import.meta.url));

const macOf = (f: Uint8Array): number => f.subarray(6, 12).reduce((m, b) => m * 256 + b, 0);
const etherType = (f: Uint8Array): number => u16(f, 12);

/** MLD reports: ours follow our interface coming up; Linux's server had been up long before its captures. */
const isMldReport = (f: Uint8Array): boolean => etherType(f) === ETH_P_IPV6 && decode6(f).icmp?.type === 143;

interface Replay {
  h: Harness;
  /** Verdict of each client frame, in capture order. */
  verdicts: { frame: number; verdict: string }[];
  /** What our stack sent, in order. */
  ours: Uint8Array[];
  /** What the Linux server sent, with its frame numbers. */
  linux: { frame: number; bytes: Uint8Array }[];
}

interface ReplayOptions {
  /**
   * What our server knows of the client before the capture's first frame, as Linux did:
   * nothing; `stale` — the client asked for us (a multicast NS), so its entry is STALE and
   * was used for the answer; `reachable` — it also answered, REACHABLE.
   */
  peer: 'none' | 'stale' | 'reachable';
  upTo?: number;
  /** Rewrites a client frame before it is fed (TCP's translation into our sequence space). */
  rewrite?: (frame: Uint8Array, ours: readonly Uint8Array[]) => Uint8Array;
  setup?: (h: Harness) => void;
}

/**
 * Replays the client's side of `name` to a fresh server stack (its addresses past duplicate
 * address detection), advancing the manual clock to each frame's capture time first, so
 * that timers run as they would have.
 */
function replay(name: string, o: ReplayOptions): Replay {
  const r = start(name, o);
  for (const step of r.steps) step();
  return r.out;
}

/**
 * {@link replay} for a conversation with an application on our side: after each client
 * frame the application's stream callbacks (Node's nextTick and setImmediate) run before
 * the next one comes, as a real server has a moment between the two.
 */
async function replayWithApp(name: string, o: ReplayOptions): Promise<Replay> {
  const r = start(name, o);
  for (const step of r.steps) {
    step();
    for (let i = 0; i < 3; i++) {
      await new Promise((res) => setImmediate(res));
      r.out.h.advance(0);
    }
    r.out.ours.push(...r.out.h.tx().filter((f) => !isMldReport(f)));
  }
  return r.out;
}

function start(name: string, o: ReplayOptions): { out: Replay; steps: (() => void)[] } {
  const records: PcapRecord[] = readPcap(fixture(name));
  const h = harness6({ learnPeer: o.peer === 'reachable' });
  if (o.peer === 'stale') {
    h.rx(nsFrame(US6.ip));
    h.tx();
  }
  o.setup?.(h);
  const t0 = records[0]!.ts;
  const base = h.clock.now();
  const out: Replay = { h, verdicts: [], ours: [], linux: [] };
  const steps: (() => void)[] = [];
  records.slice(0, o.upTo ?? Infinity).forEach((rec, i) => {
    const frame = i + 1; // numbered as tshark and Wireshark number them
    const src = macOf(rec.data);
    if (src === PEER.mac) {
      steps.push(() => {
        h.advance(base + Math.round((rec.ts - t0) * 1e6) / 1000 - h.clock.now());
        out.ours.push(...h.tx().filter((f) => !isMldReport(f)));
        const data = o.rewrite?.(rec.data, out.ours) ?? rec.data;
        out.verdicts.push({ frame, verdict: h.input(data) });
        h.rx(); // the end of the batch: sockets are woken, what they send is flushed
        out.ours.push(...h.tx().filter((f) => !isMldReport(f)));
      });
    } else if (src === US.mac) {
      out.linux.push({ frame, bytes: rec.data });
    }
  });
  return { out, steps };
}

/** A copy of an IPv6 frame with the flow label zeroed: every other byte must match. */
function withoutFlowLabel(f: Uint8Array): string {
  const c = Buffer.from(f);
  c[ETH_HLEN + 1] = c[ETH_HLEN + 1]! & 0xf0;
  c[ETH_HLEN + 2] = 0;
  c[ETH_HLEN + 3] = 0;
  return c.toString('hex');
}

/** Asserts `ours` is Linux's frame but for the flow label, and that it decodes and verifies. */
function expectSame(ours: Uint8Array, linux: Uint8Array): void {
  decode6(ours); // throws unless every layer parses and every checksum verifies
  expect(withoutFlowLabel(ours)).toBe(withoutFlowLabel(linux));
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('replaying Linux IPv6 captures to our stack as the server', () => {
  it('ping6-ndp: the same Neighbor Advertisement byte for byte, the same echo replies but for the flow label', () => {
    const r = replay('ping6-ndp', { peer: 'none' });
    expect(r.verdicts.map((v) => v.verdict)).toEqual([CONSUMED, CONSUMED, CONSUMED, CONSUMED]);
    expect(r.linux.map((l) => l.frame)).toEqual([2, 4, 6, 8]);
    expect(r.ours).toHaveLength(r.linux.length);

    // The client resolved us with a multicast NS: a solicited NA with O=1 and our MAC.
    expect(hex(r.ours[0]!)).toBe(hex(r.linux[0]!.bytes));
    for (let i = 1; i < 4; i++) {
      expectSame(r.ours[i]!, r.linux[i]!.bytes);
      expect(decode6(r.ours[i]!).icmp?.type).toBe(ICMPV6_ECHO_REPLY);
    }
    const c = r.h.stack.counters();
    expect(c.Icmp6).toMatchObject({ InEchos: 3, OutEchoReplies: 3, InNeighborSolicits: 1, OutNeighborAdvertisements: 1, InErrors: 0 });
    // We learned the client from its solicitation and used the entry: DELAY, as `ip -6 neigh` shows on Linux.
    expect(r.h.stack.neighbors().find((n) => n.addr === PEER6.ip)).toMatchObject({ mac: PEER.mac, state: 'DELAY' });
  });

  it('ping6-fragmented: replies fragmented at the same offsets and sizes, one identification each, reassembling to the same ICMPv6 bytes', () => {
    const r = replay('ping6-fragmented', { peer: 'stale' });
    expect(r.verdicts.map((v) => `${v.frame}:${v.verdict}`)).toEqual([
      '1:CONSUMED', '2:CONSUMED', '3:CONSUMED', // fragments held, then the completed echo answered
      '7:CONSUMED', '8:CONSUMED', '9:CONSUMED',
      `13:${DropReason.OTHERHOST}`, // a router solicitation: to all routers, a group a host does not join
      '15:CONSUMED', // the client's answer to Linux's neighbour probe (frame 14)
    ]);

    // Frame 14 is Linux's unicast neighbour probe, due to state from before the capture
    // began; it is compared in the next test. The rest are two fragmented echo replies.
    const linux = r.linux.filter((l) => l.frame !== 14);
    expect(linux.map((l) => l.frame)).toEqual([4, 5, 6, 10, 11, 12]);
    expect(r.ours).toHaveLength(linux.length);

    for (const [start, end] of [[0, 3], [3, 6]] as const) {
      const ours = reassemble6(r.ours.slice(start, end));
      const theirs = reassemble6(linux.slice(start, end).map((l) => l.bytes));
      expect(ours.pieces.map((p) => [p.offset, p.len, p.more])).toEqual(theirs.pieces.map((p) => [p.offset, p.len, p.more]));
      expect(new Set(ours.pieces.map((p) => p.id)).size).toBe(1);
      // Byte for byte but for the flow label and the identification.
      for (let i = start; i < end; i++) {
        const a = Buffer.from(r.ours[i]!);
        const b = Buffer.from(linux[i]!.bytes);
        const idAt = ETH_HLEN + IPV6_HLEN + 4;
        a.fill(0, idAt, idAt + 4);
        b.fill(0, idAt, idAt + 4);
        expect(withoutFlowLabel(a)).toBe(withoutFlowLabel(b));
      }
      expect(hex(ours.data)).toBe(hex(theirs.data));
      expect(ours.data[0]).toBe(ICMPV6_ECHO_REPLY);
      expect(ours.data.length).toBe(ICMPV6_HLEN + 4000);
    }
    expect(r.h.stack.counters().Ip6).toMatchObject({ ReasmReqds: 6, ReasmOKs: 2, FragOKs: 2, FragCreates: 6 });
  });

  it("ping6-fragmented: our neighbour probe is Linux's frame 14, byte for byte", () => {
    // Replay up to the first reply: the client's entry went STALE → DELAY when we answered,
    // and delay_first_probe_time later we probe it by unicast — from our link-local
    // address, as Linux does when no packet waits on the entry.
    const r = replay('ping6-fragmented', { peer: 'stale', upTo: 3 });
    expect(r.ours).toHaveLength(3);
    r.h.advance(r.h.stack.config.neigh.delayFirstProbeTimeMs);
    const [probe, ...rest] = r.h.tx().filter((f) => !isMldReport(f));
    expect(rest).toHaveLength(0);
    expect(decode6(probe!).icmp?.type).toBe(ICMPV6_NEIGHBOUR_SOLICIT);
    const linuxProbe = readPcap(fixture('ping6-fragmented'))[13]!.data;
    expect(hex(probe!)).toBe(hex(linuxProbe));
    // The client's answer (frame 15: S=1, no address option) confirms the entry.
    expect(r.h.input(readPcap(fixture('ping6-fragmented'))[14]!.data)).toBe(CONSUMED);
    expect(r.h.stack.neighbors().find((n) => n.addr === PEER6.ip)).toMatchObject({ state: 'REACHABLE' });
  });

  it('udp6-echo: the same echoed datagram but for the flow label', () => {
    const r = replay('udp6-echo', { peer: 'reachable', setup: (h) => udpEcho(h.stack, 7) });
    // Frame 1 is Linux probing the client's link-local address (state from before the
    // capture); frame 2 the answer, for an entry we never had: nothing to update.
    expect(r.verdicts).toEqual([{ frame: 2, verdict: CONSUMED }, { frame: 3, verdict: CONSUMED }]);
    expect(r.h.stack.neighbors().find((n) => n.addr === PEER6.ll)).toBeUndefined();
    const linux = r.linux.filter((l) => l.frame !== 1);
    expect(linux.map((l) => l.frame)).toEqual([4]);
    expect(r.ours).toHaveLength(1);
    expectSame(r.ours[0]!, linux[0]!.bytes);
    expect(r.h.stack.counters().Udp6).toMatchObject({ InDatagrams: 1, OutDatagrams: 1 });
  });

  it('tcp6-http-get: the same NA to a unicast solicitation, and the same TCP conversation in relative terms', async () => {
    const records = readPcap(fixture('tcp6-http-get'));
    const linuxTcp = records.filter((r) => macOf(r.data) === US.mac).map((r) => decode6(r.data)).filter((d) => d.tcp !== undefined);
    const linuxSynAck = linuxTcp[0]!;
    // Linux's server answered the GET with these two writes (Python's http.server).
    const [head, body] = linuxTcp.filter((d) => d.payload!.length > 0).map((d) => Buffer.from(d.payload!));

    let ourSynAck: Decoded6 | undefined;
    const server: TcpSocket[] = [];
    const r = await replayWithApp('tcp6-http-get', {
      peer: 'reachable',
      setup: (h) => {
        h.stack.tcp.createServer((s) => {
          server.push(s);
          s.on('data', () => {
            s.write(head!);
            s.write(body!);
          });
          s.on('end', () => s.end());
        }).listen(80);
      },
      rewrite: (frame, ours) => {
        ourSynAck ??= ours.map(decode6).find((d) => d.tcp !== undefined && (d.tcp.flags & TCP_SYN) !== 0);
        if (ourSynAck === undefined) return frame;
        return intoOurSpace(frame, linuxSynAck, ourSynAck);
      },
    });

    // Frame 1: the client checks our link-local address by unicast; Linux answers S=1, O=0, no option.
    expect(r.verdicts[0]).toEqual({ frame: 1, verdict: CONSUMED });
    expect(hex(r.ours[0]!)).toBe(hex(r.linux[0]!.bytes));

    const ours = r.ours.slice(1).map(decode6).filter((d) => d.tcp !== undefined);
    expect(r.verdicts.map((v) => v.verdict)).toEqual(Array(8).fill(CONSUMED));
    const synAck = ours[0]!;
    const ourIsn = synAck.tcp!.seq;
    const linuxIsn = linuxSynAck.tcp!.seq;
    const clientIsn = linuxSynAck.tcp!.ack - 1; // the client's sequence numbers are fed unchanged
    const rel = (d: Decoded6, isn: number): string =>
      `${flags(d.tcp!.flags)} seq ${(d.tcp!.seq - isn) >>> 0} ack ${(d.tcp!.ack - clientIsn) >>> 0} len ${d.payload!.length}`;
    // The handshake: the same options, MSS 1440 (1500 − 60), the client's timestamp echoed.
    // (The window and its scale follow each stack's buffer sizes: not compared.)
    expect(synAck.ip).toMatchObject({ src: US6.ip, dst: PEER6.ip, hopLimit: 64, nextHeader: NEXTHDR_TCP });
    expect(synAck.tcp).toMatchObject({
      srcPort: 80, dstPort: linuxSynAck.tcp!.dstPort, flags: TCP_SYN | TCP_ACK, ack: linuxSynAck.tcp!.ack,
      mss: 1440, sackPermitted: true, hasTimestamp: true, tsEcr: linuxSynAck.tcp!.tsEcr,
    });
    // Then, as Linux: a pure ACK of the request, the response's two writes as two segments.
    expect(ours.slice(0, 4).map((d) => rel(d, ourIsn))).toEqual(linuxTcp.slice(0, 4).map((d) => rel(d, linuxIsn)));
    expect(Buffer.concat(ours.map((d) => Buffer.from(d.payload!)))).toEqual(Buffer.concat([head!, body!]));
    // The close: our FIN at 191 and the client's FIN acknowledged (88). Linux's server closed
    // a moment before it saw the client's FIN (its FIN acks 87); ours closes on seeing it.
    expect(linuxTcp.slice(4).map((d) => rel(d, linuxIsn))).toEqual(['F. seq 191 ack 87 len 0', '. seq 192 ack 88 len 0']);
    expect(ours.slice(4).map((d) => rel(d, ourIsn))).toEqual(['. seq 191 ack 88 len 0', 'F. seq 191 ack 88 len 0']);
    // The client's last ACK (frame 15) acknowledged our FIN: the connection is gone.
    expect(r.h.stack.tcpConnections()).toEqual([]);
    expect(server).toHaveLength(1);
  });
});

function flags(f: number): string {
  return [[TCP_SYN, 'S'], [TCP_FIN, 'F'], [0x08, 'P'], [TCP_ACK, '.']].map(([b, c]) => ((f & (b as number)) !== 0 ? c : '')).join('');
}

/**
 * The client's TCP frame with its acknowledgment number and timestamp echo moved from
 * Linux's server's space into ours (both offsets taken from the SYN-ACKs), its checksum
 * recomputed. Other frames are returned as they are.
 */
function intoOurSpace(frame: Uint8Array, linuxSynAck: Decoded6, ourSynAck: Decoded6): Uint8Array {
  if (etherType(frame) !== ETH_P_IPV6 || isNdpOrArp(frame)) return frame;
  const d = decode6(frame);
  if (d.proto !== NEXTHDR_TCP) return frame;
  const f = frame.slice();
  const o = d.l4Off;
  const seqDelta = ourSynAck.tcp!.seq - linuxSynAck.tcp!.seq;
  const tsDelta = ourSynAck.tcp!.tsVal - linuxSynAck.tcp!.tsVal;
  if ((f[o + 13]! & TCP_ACK) !== 0) setU32(f, o + 8, (u32(f, o + 8) + seqDelta) >>> 0);
  // The timestamps option: kind 8, length 10, TSval then TSecr.
  for (let i = o + 20; i < o + d.tcp!.headerLen;) {
    const kind = f[i]!;
    if (kind === 0) break;
    if (kind === 1) {
      i++;
      continue;
    }
    if (kind === 8) setU32(f, i + 6, (u32(f, i + 6) + tsDelta) >>> 0);
    i += f[i + 1]!;
  }
  f[o + 16] = 0;
  f[o + 17] = 0;
  const sum = checksum(f, o, d.l4Len, pseudoHeaderV6(d.ip.src, d.ip.dst, NEXTHDR_TCP, d.l4Len));
  f[o + 16] = sum >>> 8;
  f[o + 17] = sum & 0xff;
  return f;
}
