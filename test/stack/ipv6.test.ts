/**
 * The IPv6 stage on the virtual clock (RFC 8200, RFC 4443), frame in, frames out, asserting
 * what Linux does: the fixed header's checks, extension headers walked in order with the
 * Parameter Problems RFC 8200 §4 asks for, reassembly (RFC 8200 §4.5, RFC 5722, RFC 6946,
 * RFC 7112) and our own fragmentation, ICMPv6 errors (RFC 4443 §2.4: what is never
 * answered, the quote, the rate limit), path MTU (RFC 8201), and UDP and TCP on IPv6.
 */
import { describe, expect, it } from 'vitest';
import { CONSUMED, DropReason } from '../../src/core/drop.js';
import { udpEcho } from '../../src/services/echo.js';
import { ETH_HLEN, ETH_P_IP } from '../../src/wire/ethernet.js';
import {
  ICMPV6_DEST_UNREACH, ICMPV6_ECHO_REPLY, ICMPV6_EXC_FRAGTIME, ICMPV6_HDR_FIELD, ICMPV6_PARAMPROB,
  ICMPV6_PKT_TOOBIG, ICMPV6_PORT_UNREACH, ICMPV6_TIME_EXCEED, ICMPV6_UNK_NEXTHDR, ICMPV6_UNK_OPTION,
} from '../../src/wire/icmpv6.js';
import { IPPROTO_ICMPV6, IPV6_HLEN, NEXTHDR_NONE, NEXTHDR_TCP, NEXTHDR_UDP } from '../../src/wire/ipv6.js';
import { TCP_ACK, TCP_RST, TCP_SYN } from '../../src/wire/tcp.js';
import { bytes, echoRequest, ethFrame, fragments, ipv4Packet, udpFrame, type Harness } from '../helpers/packets.js';
import {
  PEER6, US6, counters6, decode6, drain, destOptions, echo6, echoFrame6, fragmentHeader, fragments6, frame6, harness6,
  hopByHop, icmpv6, ipPart, ipv6Frame, ipv6Packet, reassemble6, routingHeader, tcpFrame6, udpFrame6,
  type Decoded6,
} from '../helpers/packets6.js';

/** The one frame the stack sent (neighbour discovery aside, the peer answering it), decoded. */
function only(h: Harness): Decoded6 {
  const rest = drain(h);
  expect(rest).toHaveLength(1);
  return decode6(rest[0]!);
}

/** Asserts `d` is an ICMPv6 error of `type`/`code`/`rest` from us to the peer, quoting `offending` (an IPv6 packet). */
function expectError(d: Decoded6, type: number, code: number, rest: number, offending: Uint8Array): void {
  expect(d.ip).toMatchObject({ src: US6.ip, dst: PEER6.ip, hopLimit: 64 });
  expect(d.icmp).toMatchObject({ type, code, rest });
  expect(Buffer.from(d.payload!)).toEqual(Buffer.from(offending.subarray(0, 1280 - 48)));
}

describe('IPv6 input', () => {
  it('answers an echo from the address asked, with id, sequence and data, counting Ip6 and Icmp6', () => {
    const h = harness6();
    const delta = counters6(h);
    const f = echoFrame6(0x21d6, 1, bytes(56));
    expect(h.input(f)).toBe(CONSUMED);
    const d = only(h);
    expect(d.eth).toMatchObject({ src: 0x02_00_00_00_00_0b, dst: 0x02_00_00_00_00_0a });
    expect(d.ip).toMatchObject({ src: US6.ip, dst: PEER6.ip, hopLimit: 64, trafficClass: 0 });
    expect(d.icmp).toMatchObject({ type: ICMPV6_ECHO_REPLY, code: 0, rest: (0x21d6 << 16) | 1 });
    expect(d.payload).toEqual(bytes(56));
    const c = delta();
    expect(c.Ip6).toMatchObject({
      InReceives: 1, InDelivers: 1, InOctets: f.length - ETH_HLEN, OutRequests: 1, OutTransmits: 1, OutOctets: f.length - ETH_HLEN,
    });
    expect(c.Icmp6).toEqual({ InMsgs: 1, InEchos: 1, OutMsgs: 1, OutEchoReplies: 1 });
    expect(c.Icmp6Msg).toEqual({ InType128: 1, OutType129: 1 });
  });

  it.each([0, 56, 1452, 1453, 4000, 20_000, 65_527])('answers an echo of %i bytes, fragmented both ways when it must be', (size) => {
    const h = harness6();
    const packet = ipv6Packet(echo6(7, size & 0xffff, bytes(size)));
    const frames = packet.length <= 1500 ? [frame6(packet)] : fragments6(packet, 1448, size).map((p) => frame6(p));
    for (const f of frames) expect(h.input(f)).toBe(CONSUMED);
    const out = drain(h);
    let icmp: Uint8Array;
    if (out.length === 1 && decode6(out[0]!).frag === undefined) {
      const d = decode6(out[0]!);
      icmp = d.frame.subarray(d.l4Off, d.l4Off + d.l4Len);
    } else {
      icmp = reassemble6(out).data;
      for (const f of out) expect(f.length).toBeLessThanOrEqual(ETH_HLEN + 1500);
    }
    expect(icmp[0]).toBe(ICMPV6_ECHO_REPLY);
    expect(icmp.length).toBe(8 + size);
    expect(Buffer.from(icmp.subarray(8))).toEqual(Buffer.from(bytes(size)));
  });

  it('keeps a packet addressed to it whatever its hop limit (a host does not forward)', () => {
    const h = harness6();
    for (const hopLimit of [0, 1]) expect(h.input(echoFrame6(1, hopLimit, bytes(8), { hopLimit }))).toBe(CONSUMED);
    expect(drain(h)).toHaveLength(2);
  });

  it('answers an echo to the all-nodes group from the address a unicast one would use (Linux: icmp_echo_ignore_multicast=0)', () => {
    const h = harness6();
    const delta = counters6(h);
    expect(h.input(echoFrame6(1, 1, bytes(16), { dst: 'ff02::1' }))).toBe(CONSUMED);
    const d = only(h);
    expect(d.ip).toMatchObject({ src: US6.ip, dst: PEER6.ip });
    expect(d.icmp?.type).toBe(ICMPV6_ECHO_REPLY);
    // From the peer's link-local address, the answer comes from ours.
    h.input(echoFrame6(1, 2, bytes(16), { src: PEER6.ll, dst: 'ff02::1' }));
    const ll = only(h);
    expect(ll.ip).toMatchObject({ src: US6.ll, dst: PEER6.ll });
    expect(delta().Ip6).toMatchObject({ InMcastPkts: 2 });
  });

  it('drops an echo reply nobody asked for (no ping sockets) as NO_SOCKET, counting InEchoReplies', () => {
    const h = harness6();
    const delta = counters6(h);
    expect(h.input(ipv6Frame(icmpv6(ICMPV6_ECHO_REPLY, 0, 1, bytes(8))))).toBe(DropReason.NO_SOCKET);
    expect(delta().Icmp6).toEqual({ InMsgs: 1, InEchoReplies: 1 });
    expect(h.tx()).toHaveLength(0);
  });

  it('drops a bad ICMPv6 checksum as ICMP_CSUM (InCsumErrors, InErrors)', () => {
    const h = harness6();
    const f = echoFrame6(1, 1, bytes(8));
    f[ETH_HLEN + IPV6_HLEN + 2]! ^= 1;
    expect(h.input(f)).toBe(DropReason.ICMP_CSUM);
    expect(h.stack.counters().Icmp6).toMatchObject({ InCsumErrors: 1, InErrors: 1 });
    expect(h.tx()).toHaveLength(0);
  });

  it('drops packets for other hosts (InAddrErrors) and groups it has not joined', () => {
    const h = harness6();
    const delta = counters6(h);
    expect(h.input(echoFrame6(1, 1, bytes(8), { dst: 'fd00:69::3' }))).toBe(DropReason.IP_INADDRERRORS);
    expect(h.input(echoFrame6(1, 1, bytes(8), { dst: '2001:db8::2' }))).toBe(DropReason.IP_INADDRERRORS);
    expect(delta().Ip6.InAddrErrors).toBe(2);
    // ff02::2 (all routers) is not ours to hear: its MAC is filtered, and at IP it is not a joined group.
    expect(h.input(echoFrame6(1, 1, bytes(8), { dst: 'ff02::2' }))).toBe(DropReason.OTHERHOST);
    expect(h.input(ipv6Frame(echo6(1, 1, bytes(8), PEER6.ip, 'ff02::2'), { dst: 'ff02::2' }, 0x02_00_00_00_00_0b))).toBe(DropReason.IP_INADDRERRORS);
    expect(h.tx()).toHaveLength(0);
  });

  it.each([
    ['a multicast source', 'ff02::1', DropReason.IP_INVALID_SOURCE],
    ['the loopback address as source', '::1', DropReason.IP_INVALID_DEST],
    ['our own address as source', US6.ip, DropReason.IP_LOCAL_SOURCE],
  ])('drops %s', (_name, src, reason) => {
    const h = harness6();
    expect(h.input(echoFrame6(1, 1, bytes(8), { src }))).toBe(reason);
    expect(h.tx()).toHaveLength(0);
  });

  it('drops a packet longer than its frame (InTruncatedPkts), and ignores link padding', () => {
    const h = harness6();
    const f = echoFrame6(1, 1, bytes(32));
    expect(h.input(f.subarray(0, f.length - 1))).toBe(DropReason.PKT_TOO_SMALL);
    expect(h.stack.counters().Ip6.InTruncatedPkts).toBe(1);
    const padded = new Uint8Array(f.length + 18);
    padded.set(f);
    expect(h.input(padded)).toBe(CONSUMED);
    expect(only(h).payload).toEqual(bytes(32));
  });

  it('drops a header that is not version 6 (UNHANDLED_PROTO) or shorter than 40 bytes (InHdrErrors)', () => {
    const h = harness6();
    const f = echoFrame6(1, 1, bytes(8));
    f[ETH_HLEN] = 0x40;
    expect(h.input(f)).toBe(DropReason.UNHANDLED_PROTO);
    expect(h.input(f.subarray(0, ETH_HLEN + 39))).toBe(DropReason.IP_INHDR);
    expect(h.stack.counters().Ip6.InHdrErrors).toBe(2);
  });
});

describe('IPv6 extension headers (RFC 8200 §4)', () => {
  const echo = (f: Parameters<typeof ipv6Packet>[1]): Uint8Array => ipv6Packet(echo6(0x42, 1, bytes(24)), f);

  it('skips an unknown destination option whose type starts 00, and answers', () => {
    const h = harness6();
    expect(h.input(frame6(echo({ exts: [destOptions([0x1e, 2, 0, 0])] })))).toBe(CONSUMED);
    expect(only(h).icmp?.type).toBe(ICMPV6_ECHO_REPLY);
  });

  it('silently drops a packet with an unknown option whose type starts 01 (InHdrErrors)', () => {
    const h = harness6();
    const delta = counters6(h);
    expect(h.input(frame6(echo({ exts: [destOptions([0x5e, 2, 0, 0])] })))).toBe(DropReason.UNHANDLED_PROTO);
    expect(h.tx()).toHaveLength(0);
    expect(delta().Ip6).toMatchObject({ InReceives: 1, InHdrErrors: 1 });
  });

  it('answers an unknown option whose type starts 10 with Parameter Problem code 2 pointing at it, even to a group', () => {
    const h = harness6();
    const delta = counters6(h);
    // The option sits after the 2-byte header of the options header that starts at byte 40.
    const p = echo({ exts: [destOptions([1, 0, 0x9e, 2, 0, 0])] });
    expect(h.input(frame6(p))).toBe(DropReason.UNHANDLED_PROTO);
    expectError(only(h), ICMPV6_PARAMPROB, ICMPV6_UNK_OPTION, 44, p);
    expect(delta().Icmp6).toEqual({ OutMsgs: 1, OutParmProblems: 1 });
    // RFC 4443 §2.4 (e.3): this is one of the two errors sent about a packet to a multicast address.
    const m = ipv6Packet(echo6(0x42, 1, bytes(24), PEER6.ip, 'ff02::1'), { dst: 'ff02::1', exts: [destOptions([0x9e, 2, 0, 0])] });
    expect(h.input(frame6(m))).toBe(DropReason.UNHANDLED_PROTO);
    expectError(only(h), ICMPV6_PARAMPROB, ICMPV6_UNK_OPTION, 42, m);
  });

  it('answers an unknown option whose type starts 11 only when the destination was unicast', () => {
    const h = harness6();
    const p = echo({ exts: [destOptions([0xde, 2, 0, 0])] });
    expect(h.input(frame6(p))).toBe(DropReason.UNHANDLED_PROTO);
    expectError(only(h), ICMPV6_PARAMPROB, ICMPV6_UNK_OPTION, 42, p);
    const m = ipv6Packet(echo6(0x42, 1, bytes(24), PEER6.ip, 'ff02::1'), { dst: 'ff02::1', exts: [destOptions([0xde, 2, 0, 0])] });
    expect(h.input(frame6(m))).toBe(DropReason.UNHANDLED_PROTO);
    expect(h.tx()).toHaveLength(0);
  });

  it('takes a hop-by-hop header right after the fixed header, and answers one anywhere else with Parameter Problem code 1', () => {
    const h = harness6();
    expect(h.input(frame6(echo({ exts: [hopByHop([0x1e, 0])] })))).toBe(CONSUMED);
    expect(only(h).icmp?.type).toBe(ICMPV6_ECHO_REPLY);

    const delta = counters6(h);
    // The destination options header at 40 names hop-by-hop in its Next Header byte: the pointer.
    const p = echo({ exts: [destOptions([]), hopByHop([])] });
    expect(h.input(frame6(p))).toBe(DropReason.IP_NOPROTO);
    expectError(only(h), ICMPV6_PARAMPROB, ICMPV6_UNK_NEXTHDR, 40, p);
    expect(delta().Ip6).toMatchObject({ InUnknownProtos: 1 });
  });

  it('answers a routing header of an unknown type with segments left with Parameter Problem code 0 at its type', () => {
    const h = harness6();
    const delta = counters6(h);
    const p = echo({ exts: [routingHeader(0, 1)] });
    expect(h.input(frame6(p))).toBe(DropReason.IP_INHDR);
    expectError(only(h), ICMPV6_PARAMPROB, ICMPV6_HDR_FIELD, 42, p);
    expect(delta().Ip6).toMatchObject({ InHdrErrors: 1 });
  });

  it('ignores a routing header with no segments left (RFC 8200 §4.4) and goes on to the next header', () => {
    const h = harness6();
    expect(h.input(frame6(echo({ exts: [routingHeader(0, 0), destOptions([])] })))).toBe(CONSUMED);
    expect(only(h).icmp?.type).toBe(ICMPV6_ECHO_REPLY);
  });

  it('answers an unknown upper protocol with Parameter Problem code 1 at the Next Header that named it (Ip6InUnknownProtos)', () => {
    const h = harness6();
    const delta = counters6(h);
    const p = ipv6Packet(bytes(16), { nextHeader: 253 });
    expect(h.input(frame6(p))).toBe(DropReason.IP_NOPROTO);
    expectError(only(h), ICMPV6_PARAMPROB, ICMPV6_UNK_NEXTHDR, 6, p);
    const q = ipv6Packet(bytes(16), { nextHeader: 253, exts: [destOptions([])] });
    expect(h.input(frame6(q))).toBe(DropReason.IP_NOPROTO);
    expectError(only(h), ICMPV6_PARAMPROB, ICMPV6_UNK_NEXTHDR, 40, q);
    const c = delta();
    expect(c.Ip6).toMatchObject({ InReceives: 2, InUnknownProtos: 2 });
    expect(c.Ip6.InDelivers).toBeUndefined();
  });

  it('drops No Next Header (59) silently, as delivered to nobody', () => {
    const h = harness6();
    const delta = counters6(h);
    expect(h.input(ipv6Frame(bytes(16), { nextHeader: NEXTHDR_NONE }))).toBe(DropReason.NOT_SPECIFIED);
    expect(h.tx()).toHaveLength(0);
    expect(delta().Ip6).toMatchObject({ InReceives: 1, InDelivers: 1 });
  });

  it('walks at most maxExtHeaders extension headers', () => {
    const h = harness6();
    const many = Array.from({ length: 20 }, () => destOptions([]));
    expect(h.input(frame6(echo({ exts: many })))).toBe(DropReason.IP_INHDR);
    expect(h.tx()).toHaveLength(0);
  });
});

describe('IPv6 reassembly (RFC 8200 §4.5)', () => {
  /** A 4000-byte echo request as Linux's ping -s 4000 sends it: 1448-byte fragments. */
  const fragmentedEcho = (id = 0x73845c40, size = 4000, chunk = 1448): Uint8Array[] =>
    fragments6(ipv6Packet(echo6(0x223a, 1, bytes(size))), chunk, id).map((p) => frame6(p));

  it.each([
    ['in order', [0, 1, 2]],
    ['reversed', [2, 1, 0]],
    ['last first', [2, 0, 1]],
  ])('reassembles fragments %s, and fragments the 4000-byte reply as Linux does', (_name, order) => {
    const h = harness6();
    const delta = counters6(h);
    const frags = fragmentedEcho();
    expect(order.map((i) => h.input(frags[i]!))).toEqual([CONSUMED, CONSUMED, CONSUMED]);
    const out = drain(h);
    const { data, pieces } = reassemble6(out);
    // 1500 − 40 − 8 = 1452, rounded down to 8: 1448-byte pieces; the last one 4008 − 2 × 1448.
    expect(pieces.map((p) => [p.offset, p.len, p.more])).toEqual([[0, 1448, true], [1448, 1448, true], [2896, 1112, false]]);
    expect(new Set(pieces.map((p) => p.id)).size).toBe(1);
    for (const f of out) expect(decode6(f).ip).toMatchObject({ src: US6.ip, dst: PEER6.ip, nextHeader: 44 });
    expect(data[0]).toBe(ICMPV6_ECHO_REPLY);
    expect(Buffer.from(data.subarray(8))).toEqual(Buffer.from(bytes(4000)));
    expect(decode6(out[0]!).frag!.nextHeader).toBe(IPPROTO_ICMPV6);
    expect(delta().Ip6).toMatchObject({ InReceives: 3, ReasmReqds: 3, ReasmOKs: 1, InDelivers: 1, FragOKs: 1, FragCreates: 3 });
    expect(h.stack.reassemblyMemory()).toBe(0);
  });

  it('gives each datagram it fragments a new identification', () => {
    const h = harness6();
    for (const f of fragmentedEcho(1)) h.input(f);
    for (const f of fragmentedEcho(2)) h.input(f);
    const ids = drain(h).map((f) => decode6(f).frag!.id);
    expect(ids.slice(0, 3)).toEqual([ids[0], ids[0], ids[0]]);
    expect(ids.slice(3)).toEqual([ids[3], ids[3], ids[3]]);
    expect(ids[3]).not.toBe(ids[0]);
  });

  it('drops an exact duplicate fragment (DUP_FRAG) and still completes', () => {
    const h = harness6();
    const [a, b, c] = fragmentedEcho();
    expect(h.input(a!)).toBe(CONSUMED);
    expect(h.input(a!)).toBe(DropReason.DUP_FRAG);
    h.input(b!);
    h.input(c!);
    expect(drain(h)).toHaveLength(3);
  });

  it('discards the whole datagram on an overlap, silently (RFC 5722)', () => {
    const h = harness6();
    const delta = counters6(h);
    const frags = fragmentedEcho();
    const overlapping = fragmentedEcho(0x73845c40, 4000, 1000);
    expect(h.input(frags[0]!)).toBe(CONSUMED); // bytes 0..1448
    expect(h.input(overlapping[1]!)).toBe(DropReason.X_FRAG_OVERLAP); // 1000..2000
    expect(h.tx()).toHaveLength(0);
    expect(delta().Ip6).toMatchObject({ ReasmFails: 1 });
    expect(h.stack.reassemblyMemory()).toBe(0);
    h.input(frags[1]!);
    h.input(frags[2]!);
    expect(drain(h)).toHaveLength(0);
  });

  it('processes an atomic fragment (offset 0, M=0) as the whole packet (RFC 6946), counting ReasmReqds and ReasmOKs', () => {
    const h = harness6();
    const delta = counters6(h);
    const f = frame6(ipv6Packet(echo6(1, 1, bytes(40)), { exts: [fragmentHeader(0, false, 77)] }));
    expect(h.input(f)).toBe(CONSUMED);
    const d = only(h);
    expect(d.exts).toEqual([]); // the answer is no fragment (RFC 8021)
    expect(d.payload).toEqual(bytes(40));
    expect(delta().Ip6).toMatchObject({ ReasmReqds: 1, ReasmOKs: 1 });
    expect(h.stack.reassemblyMemory()).toBe(0);
  });

  it('answers a fragment with M=1 and a length not a multiple of 8 with Parameter Problem code 0 at the payload length', () => {
    const h = harness6();
    const delta = counters6(h);
    const p = ipv6Packet(bytes(1001), { nextHeader: NEXTHDR_UDP, exts: [fragmentHeader(0, true, 5)] });
    expect(h.input(frame6(p))).toBe(DropReason.IP_INHDR);
    expectError(only(h), ICMPV6_PARAMPROB, ICMPV6_HDR_FIELD, 4, p);
    expect(delta().Ip6).toMatchObject({ InHdrErrors: 1, ReasmReqds: 1 });
  });

  it('answers a fragment that would end past 65535 with Parameter Problem code 0 at its Fragment Offset', () => {
    const h = harness6();
    const p = ipv6Packet(bytes(16), { exts: [fragmentHeader(65_528, false, 6)] });
    expect(h.input(frame6(p))).toBe(DropReason.IP_INHDR);
    expectError(only(h), ICMPV6_PARAMPROB, ICMPV6_HDR_FIELD, 42, p);
  });

  it('answers a first fragment without the whole upper-layer header with Parameter Problem code 3, pointer 0 (RFC 7112)', () => {
    const h = harness6();
    // 16 bytes of a TCP header that needs 20.
    const p = ipv6Packet(bytes(16), { nextHeader: NEXTHDR_TCP, exts: [fragmentHeader(0, true, 7)] });
    expect(h.input(frame6(p))).toBe(DropReason.IP_INHDR);
    expectError(only(h), ICMPV6_PARAMPROB, 3, 0, p);
    // A destination options header filling the fragment, the UDP header in the next one: the same.
    const q = ipv6Packet(new Uint8Array(8), { nextHeader: 60, exts: [fragmentHeader(0, true, 8)] });
    q[IPV6_HLEN + 8] = NEXTHDR_UDP;
    expect(h.input(frame6(q))).toBe(DropReason.IP_INHDR);
    expectError(only(h), ICMPV6_PARAMPROB, 3, 0, q);
  });

  it('times out after 60 s with Time Exceeded code 1 quoting the first fragment, if it came', () => {
    const h = harness6();
    const delta = counters6(h);
    const [first, second] = fragmentedEcho();
    h.input(first!);
    h.input(second!);
    h.advance(59_999);
    expect(drain(h)).toHaveLength(0);
    h.advance(1);
    const d = only(h);
    expectError(d, ICMPV6_TIME_EXCEED, ICMPV6_EXC_FRAGTIME, 0, ipPart(first!));
    const c = delta();
    expect(c.Ip6).toMatchObject({ ReasmTimeout: 1, ReasmFails: 1 });
    expect(c.Icmp6).toMatchObject({ OutTimeExcds: 1 });
    expect(c.drops[DropReason.FRAG_REASM_TIMEOUT]).toBe(2);
    expect(h.stack.reassemblyMemory()).toBe(0);
  });

  it('times out silently without the first fragment', () => {
    const h = harness6();
    const [, second, third] = fragmentedEcho();
    h.input(second!);
    h.input(third!);
    h.advance(60_000);
    expect(drain(h)).toHaveLength(0);
    expect(h.stack.counters().Ip6.ReasmTimeout).toBe(1);
  });

  it('bounds reassembly memory, one budget shared with IPv4', () => {
    const h = harness6({ config: { frag: { highThreshBytes: 50_000 } } });
    let refused = 0;
    for (let id = 0; id < 100; id++) {
      // First fragments only: each opens a datagram that never completes.
      const [first] = fragmentedEcho(id, 3000);
      if (h.input(first!) === DropReason.X_FRAG_MEM_LIMIT) refused++;
    }
    expect(refused).toBeGreaterThan(0);
    expect(h.stack.reassemblyMemory()).toBeLessThanOrEqual(50_000 + 1448 + 256);
    // IPv4 finds the budget spent by IPv6.
    const [v4first] = fragments(ipv4Packet(echoRequest(1, 1, bytes(3000)), { id: 9 }), 1480);
    expect(h.input(ethFrame(v4first!, ETH_P_IP))).toBe(DropReason.X_FRAG_MEM_LIMIT);
    h.advance(60_000);
    expect(h.stack.reassemblyMemory()).toBe(0);
    for (const f of fragmentedEcho(1000)) expect(h.input(f)).toBe(CONSUMED);
  });
});

describe('ICMPv6 errors (RFC 4443)', () => {
  it('answers UDP to a closed port with Destination Unreachable code 4 quoting the whole datagram (Udp6 NoPorts)', () => {
    const h = harness6();
    const delta = counters6(h);
    const f = udpFrame6(57658, 9, bytes(3));
    expect(h.input(f)).toBe(DropReason.NO_SOCKET);
    const d = only(h);
    expectError(d, ICMPV6_DEST_UNREACH, ICMPV6_PORT_UNREACH, 0, ipPart(f));
    expect(d.ip.payloadLength).toBe(8 + f.length - ETH_HLEN);
    const c = delta();
    expect(c.Udp6).toMatchObject({ NoPorts: 1 });
    expect(c.Icmp6).toEqual({ OutMsgs: 1, OutDestUnreachs: 1 });
    expect(c.Icmp6Msg).toEqual({ OutType1: 1 });
  });

  it('quotes as much as fits in 1280 bytes', () => {
    const h = harness6();
    const f = udpFrame6(1, 9, bytes(1400));
    h.input(f);
    const d = only(h);
    expect(d.frame.length - ETH_HLEN).toBe(1280);
    expectError(d, ICMPV6_DEST_UNREACH, ICMPV6_PORT_UNREACH, 0, ipPart(f));
  });

  it('quotes the extension headers too', () => {
    const h = harness6();
    const f = ipv6Frame(
      (() => {
        const u = udpFrame6(1, 9, bytes(20));
        return u.subarray(ETH_HLEN + IPV6_HLEN);
      })(),
      { nextHeader: NEXTHDR_UDP, exts: [destOptions([0x1e, 0])] },
    );
    expect(h.input(f)).toBe(DropReason.NO_SOCKET);
    expectError(only(h), ICMPV6_DEST_UNREACH, ICMPV6_PORT_UNREACH, 0, ipPart(f));
  });

  it('is not sent about a packet to a multicast address, a link-layer multicast, or from ::', () => {
    const h = harness6();
    expect(h.input(udpFrame6(1, 9, bytes(3), { dst: 'ff02::1' }))).toBe(CONSUMED); // Udp6 IgnoredMulti
    expect(h.stack.counters().Udp6.IgnoredMulti).toBe(1);
    const l2mcast = udpFrame6(1, 9, bytes(3));
    l2mcast.set([0x33, 0x33, 0, 0, 0, 1], 0);
    expect(h.input(l2mcast)).toBe(DropReason.NO_SOCKET);
    expect(h.input(udpFrame6(1, 9, bytes(3), { src: '::' }))).toBe(DropReason.NO_SOCKET);
    // Nor an unknown protocol to a group.
    expect(h.input(ipv6Frame(bytes(8), { dst: 'ff02::1', nextHeader: 253 }))).toBe(DropReason.IP_NOPROTO);
    expect(drain(h)).toHaveLength(0);
  });

  it('is never sent about an ICMPv6 error, even behind extension headers', () => {
    const h = harness6();
    const body = ipPart(udpFrame6(1, 9, bytes(4)));
    // An unknown 10-option asks for a Parameter Problem: given for an echo …
    const askEcho = frame6(ipv6Packet(echo6(1, 1, bytes(8)), { exts: [destOptions([0x9e, 0])] }));
    expect(h.input(askEcho)).toBe(DropReason.UNHANDLED_PROTO);
    expect(drain(h)).toHaveLength(1);
    // … never for an error.
    const err = frame6(ipv6Packet(icmpv6(ICMPV6_DEST_UNREACH, 4, 0, body), { exts: [destOptions([0x9e, 0])] }));
    expect(h.input(err)).toBe(DropReason.UNHANDLED_PROTO);
    expect(drain(h)).toHaveLength(0);
    // An error itself is counted and consumed.
    expect(h.input(ipv6Frame(icmpv6(ICMPV6_DEST_UNREACH, 4, 0, body)))).toBe(CONSUMED);
    expect(h.stack.counters().Icmp6.InDestUnreachs).toBe(1);
    expect(drain(h)).toHaveLength(0);
  });

  it('is rate limited per destination: of a burst of 50, the configured bucket gets an answer (Icmp6OutRateLimitHost)', () => {
    const h = harness6();
    const burst = h.stack.config.icmp.ratelimitBurst;
    const delta = counters6(h);
    for (let i = 0; i < 50; i++) h.input(udpFrame6(1000 + i, 9, bytes(3)));
    expect(drain(h)).toHaveLength(burst);
    const c = delta();
    expect(c.Icmp6).toMatchObject({ OutDestUnreachs: burst, OutRateLimitHost: 50 - burst });
    expect(c.drops[DropReason.X_ICMP_RATELIMIT]).toBe(50 - burst);
    // A /64 destination gets a token every 250 ms (icmpv6_xrlim_allow: 1 s >> (64 >> 5)).
    h.advance(249);
    h.input(udpFrame6(2000, 9, bytes(3)));
    expect(drain(h)).toHaveLength(0);
    h.advance(1);
    h.input(udpFrame6(2001, 9, bytes(3)));
    expect(drain(h)).toHaveLength(1);
  });

  it('is rate limited globally too, counted in Icmp OutRateLimitGlobal as Linux counts it (icmp_msgs_per_sec, icmp_msgs_burst)', () => {
    const h = harness6({ config: { icmp: { msgsBurst: 10, msgsPerSec: 100 } } });
    const delta = counters6(h);
    const before = h.stack.counters().Icmp.OutRateLimitGlobal;
    // Thirty sources on our link, each within its own bucket.
    for (let i = 0; i < 30; i++) h.input(udpFrame6(1, 9, bytes(3), { src: `fd00:69::${(0x100 + i).toString(16)}` }));
    expect(h.stack.counters().Icmp.OutRateLimitGlobal - before).toBe(20);
    expect(delta().Icmp6.OutRateLimitHost).toBeUndefined();
    h.advance(100); // 100/s: 10 more tokens
    for (let i = 0; i < 30; i++) h.input(udpFrame6(1, 9, bytes(3), { src: `fd00:69::${(0x100 + i).toString(16)}` }));
    expect(h.stack.counters().Icmp.OutRateLimitGlobal - before).toBe(40);
  });

  it('does not rate limit echo replies', () => {
    const h = harness6();
    for (let i = 0; i < 100; i++) h.input(echoFrame6(1, i, bytes(8)));
    expect(drain(h)).toHaveLength(100);
  });

  it('learns the path MTU from Packet Too Big and fragments to fit, never below 1280 (RFC 8201)', () => {
    const h = harness6();
    // The peer's router could not forward our 1500-byte packet: it quotes its start.
    const ours = ipv6Packet(bytes(1200), { src: US6.ip, dst: PEER6.ip, nextHeader: NEXTHDR_UDP });
    expect(h.input(ipv6Frame(icmpv6(ICMPV6_PKT_TOOBIG, 0, 1400, ours.subarray(0, 1232))))).toBe(CONSUMED);
    expect(h.stack.counters().Icmp6.InPktTooBigs).toBe(1);
    h.input(echoFrame6(1, 1, bytes(1400)));
    const out = drain(h);
    expect(out.length).toBe(2);
    for (const f of out) expect(f.length - ETH_HLEN).toBeLessThanOrEqual(1400);
    expect(reassemble6(out).data.length).toBe(8 + 1400);

    // A smaller MTU than IPv6's minimum is taken as 1280.
    h.input(ipv6Frame(icmpv6(ICMPV6_PKT_TOOBIG, 0, 600, ours.subarray(0, 1232))));
    const sock = h.stack.udp.createSocket('udp6');
    sock.send(bytes(1300), 9, PEER6.ip);
    const sent = drain(h);
    expect(sent.length).toBe(2);
    expect(Math.max(...sent.map((f) => f.length - ETH_HLEN))).toBe(1280);
    const { data, pieces } = reassemble6(sent);
    expect(pieces[0]!.len).toBe(1280 - 48);
    expect(data.length).toBe(8 + 1300);
  });
});

describe('UDP and TCP over IPv6', () => {
  it("a socket bound to '::' takes IPv4 and IPv6; one bound to 0.0.0.0 only IPv4", () => {
    const h = harness6();
    const dual = h.stack.udp.createSocket('udp6');
    dual.bind(5000);
    expect(h.input(udpFrame6(4242, 5000, bytes(6)))).toBe(CONSUMED);
    expect(h.input(udpFrame(4242, 5000, bytes(4)))).toBe(CONSUMED);
    const a = dual.recv();
    expect(a?.msg).toEqual(Buffer.from(bytes(6)));
    expect(a?.rinfo).toMatchObject({ address: PEER6.ip, family: 'IPv6', port: 4242 });
    expect(dual.recv()?.msg).toEqual(Buffer.from(bytes(4)));

    const v4 = h.stack.udp.createSocket('udp4');
    v4.bind(5001);
    expect(h.input(udpFrame(4242, 5001, bytes(4)))).toBe(CONSUMED);
    expect(h.input(udpFrame6(4242, 5001, bytes(4)))).toBe(DropReason.NO_SOCKET);
    expect(v4.queued).toBe(1);
    expect(h.stack.counters().Udp6).toMatchObject({ InDatagrams: 1, NoPorts: 1 });
  });

  it('delivers what it sends to its own address through the loopback, never on the wire', () => {
    const h = harness6();
    const a = h.stack.udp.createSocket('udp6');
    a.bind(5000);
    const b = h.stack.udp.createSocket('udp6');
    b.send(bytes(12), 5000, US6.ip);
    h.advance(0);
    expect(a.recv()).toMatchObject({ msg: Buffer.from(bytes(12)), rinfo: { address: US6.ip, family: 'IPv6' } });
    expect(h.tx()).toHaveLength(0);
  });

  it('the echo service answers over IPv6 with a checksum over the IPv6 pseudo-header', () => {
    const h = harness6();
    udpEcho(h.stack, 7);
    h.rx(udpFrame6(40000, 7, bytes(100)));
    const d = only(h);
    expect(d.ip).toMatchObject({ src: US6.ip, dst: PEER6.ip, nextHeader: NEXTHDR_UDP });
    expect(d.udp).toMatchObject({ srcPort: 7, dstPort: 40000, length: 108 });
    expect(d.payload).toEqual(bytes(100));
    expect(h.stack.counters().Udp6).toMatchObject({ InDatagrams: 1, OutDatagrams: 1 });
  });

  it('refuses a zero UDP checksum over IPv6 (RFC 8200 §8.1) and a wrong one', () => {
    const h = harness6();
    h.stack.udp.createSocket('udp6').bind(5000);
    const none = udpFrame6(1, 5000, bytes(5));
    none[ETH_HLEN + IPV6_HLEN + 6] = 0;
    none[ETH_HLEN + IPV6_HLEN + 7] = 0;
    expect(h.input(none)).toBe(DropReason.UDP_CSUM);
    const bad = udpFrame6(1, 5000, bytes(5));
    bad[ETH_HLEN + IPV6_HLEN + 8]! ^= 0xff;
    expect(h.input(bad)).toBe(DropReason.UDP_CSUM);
    expect(h.stack.counters().Udp6).toMatchObject({ InCsumErrors: 2, InErrors: 2 });
  });

  it('TCP: the handshake over IPv6 advertises MSS = MTU − 60, checksummed over the IPv6 pseudo-header', () => {
    for (const mtu of [1500, 9000]) {
      const h = harness6({ mtu });
      const accepted: unknown[] = [];
      h.stack.tcp.createServer((s) => accepted.push(s)).listen(80);
      expect(h.input(tcpFrame6({ srcPort: 46106, dstPort: 80, seq: 1000, flags: TCP_SYN, opts: { mss: 1440 } }))).toBe(CONSUMED);
      const synAck = only(h); // decode6 verifies the checksum
      expect(synAck.ip).toMatchObject({ src: US6.ip, dst: PEER6.ip, nextHeader: NEXTHDR_TCP });
      expect(synAck.tcp).toMatchObject({ srcPort: 80, dstPort: 46106, flags: TCP_SYN | TCP_ACK, ack: 1001, mss: mtu - 60 });
      expect(h.input(tcpFrame6({ srcPort: 46106, dstPort: 80, seq: 1001, ack: synAck.tcp!.seq + 1, flags: TCP_ACK }))).toBe(CONSUMED);
      h.rx(); // the batch's end wakes the listener
      expect(accepted).toHaveLength(1);
      expect(h.stack.tcpConnections()[0]).toMatchObject({ state: 'ESTABLISHED', local: `[${US6.ip}]:80`, remote: `[${PEER6.ip}]:46106` });
    }
  });

  it('TCP: drops a segment whose checksum is wrong for the IPv6 pseudo-header', () => {
    const h = harness6();
    h.stack.tcp.createServer().listen(80);
    const f = tcpFrame6({ srcPort: 1, dstPort: 80, seq: 1, flags: TCP_SYN });
    f[ETH_HLEN + IPV6_HLEN + 16]! ^= 0xff;
    expect(h.input(f)).toBe(DropReason.TCP_CSUM);
    expect(drain(h)).toHaveLength(0);
  });

  it('TCP: answers a SYN to a closed port with RST+ACK', () => {
    const h = harness6();
    expect(h.input(tcpFrame6({ srcPort: 33000, dstPort: 81, seq: 5000, flags: TCP_SYN }))).toBe(DropReason.NO_SOCKET);
    const d = only(h);
    expect(d.ip).toMatchObject({ src: US6.ip, dst: PEER6.ip });
    expect(d.tcp).toMatchObject({ srcPort: 81, dstPort: 33000, seq: 0, ack: 5001, flags: TCP_RST | TCP_ACK });
  });
});
