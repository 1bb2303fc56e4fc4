import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DropReason } from '../../src/core/drop.js';
import { parseMac, readIpv6 } from '../../src/wire/addr.js';
import { setU16, setU32, u16 } from '../../src/wire/bytes.js';
import { checksum, ipv6AddrSum, pseudoHeaderV6, sum16 } from '../../src/wire/checksum.js';
import {
  IPV6_HLEN, NEXTHDR_AUTH, NEXTHDR_DEST, NEXTHDR_ESP, NEXTHDR_FRAGMENT, NEXTHDR_HOP, NEXTHDR_ICMP, NEXTHDR_NONE,
  NEXTHDR_ROUTING, NEXTHDR_TCP, NEXTHDR_UDP, IPPROTO_ICMPV6, emitIpv6, newIpv6Repr, parseIpv6, type Ipv6Repr,
} from '../../src/wire/ipv6.js';
import {
  IPV6_FRAG_HLEN, IPV6_MAX_OPTIONS, IPV6_TLV_JUMBO, IPV6_TLV_ROUTERALERT, TLV_DISCARD, TLV_ICMP, TLV_ICMP_HDR_FIELD,
  TLV_ICMP_UNLESS_MULTICAST, TLV_MALFORMED, TLV_OK, checkTlvOptions, emitIpv6Frag, emitRouterAlertHopByHop,
  extHeaderLen, extNextHeader, findTlvOption, isExtHeader, newIpv6FragRepr, parseIpv6Frag, routingSegmentsLeft,
  routingType, tlvAction, tlvPointer,
} from '../../src/wire/ipv6-ext.js';
import { ETH_P_IPV6, emitEthernet, newEthernetRepr, parseEthernet } from '../../src/wire/ethernet.js';
import {
  ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, ICMPV6_HLEN, ICMPV6_NEIGHBOUR_ADVERT, ICMPV6_NEIGHBOUR_SOLICIT,
  ICMPV6_ROUTER_SOLICIT, emitIcmpv6, emitNdp, emitNeighbourAdvert, emitNeighbourSolicit, emitRouterSolicit,
  ndpHeaderLen, ndpOptionsLen, newIcmpv6Repr, newNdpOptions, newNdpRepr, parseIcmpv6, parseNdp, parseNdpOptions,
} from '../../src/wire/icmpv6.js';
import { emitTcpWithPseudo, newTcpRepr, parseTcpWithPseudo, tcpOptionsOf } from '../../src/wire/tcp.js';
import { UDP_HLEN, emitUdpWithPseudo, newUdpRepr, parseUdpWithPseudo } from '../../src/wire/udp.js';
import { readPcap } from '../helpers/pcap-read.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

/**
 * IPv6 packets Linux 6.x sent when an interface with MAC 02:00:00:00:00:0a came up in a
 * network namespace (captured on its veth peer, Ethernet header removed), decoded by tshark:
 */
/** An MLDv2 report from fe80::ff:fe00:a to ff02::16, hop limit 1, behind a hop-by-hop header with a router alert (MLD) and a 2-byte PadN. */
const MLD_REPORT = hex(`
  6000 0000 0038 0001 fe800000000000000000 00fffe00000a ff020000000000000000000000000016
  3a00 0502 0000 0100
  8f00 6fda 0000 0002 04000000 ff020000000000000000 0001ff000001 04000000 ff020000000000000000 0001ff00000a`);
/** A router solicitation from fe80::ff:fe00:a to ff02::2 with its source link-layer address. */
const RS = hex(`
  6000 0000 0010 3aff fe800000000000000000 00fffe00000a ff020000000000000000000000000002
  8500 7b1a 00000000 0101 02000000000a`);

describe('IPv6 header (RFC 8200 §3)', () => {
  it('parses a real header', () => {
    const r = newIpv6Repr();
    expect(parseIpv6(RS, 0, RS.length, r)).toBeUndefined();
    expect(r).toEqual({
      trafficClass: 0, flowLabel: 0, payloadLength: 16, nextHeader: NEXTHDR_ICMP, hopLimit: 255,
      src: 'fe80::ff:fe00:a', dst: 'ff02::2',
    });
  });

  it('emits golden bytes', () => {
    const r: Ipv6Repr = {
      trafficClass: 0, flowLabel: 0, payloadLength: 56, nextHeader: NEXTHDR_HOP, hopLimit: 1,
      src: 'fe80::ff:fe00:a', dst: 'ff02::16',
    };
    const b = new Uint8Array(42).fill(0xee);
    expect(emitIpv6(r, b, 1)).toBe(IPV6_HLEN);
    expect(b.subarray(1, 41)).toEqual(MLD_REPORT.subarray(0, 40));
    expect(b[0]).toBe(0xee);
    expect(b[41]).toBe(0xee);
  });

  it('places traffic class and flow label around the nibble boundaries', () => {
    const r = newIpv6Repr();
    Object.assign(r, { trafficClass: 0xb8, flowLabel: 0xabcde, payloadLength: 0x1234, nextHeader: 17, hopLimit: 7 });
    const b = new Uint8Array(40);
    emitIpv6(r, b, 0);
    expect(Array.from(b.subarray(0, 8))).toEqual([0x6b, 0x8a, 0xbc, 0xde, 0x12, 0x34, 17, 7]);
  });

  it('round-trips any header (property)', () => {
    const repr = fc.record({
      trafficClass: fc.nat(0xff), flowLabel: fc.nat(0xf_ffff), payloadLength: fc.nat(100),
      nextHeader: fc.constantFrom(NEXTHDR_TCP, NEXTHDR_UDP, NEXTHDR_ICMP, NEXTHDR_FRAGMENT, NEXTHDR_NONE),
      hopLimit: fc.nat(0xff),
      src: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((x) => readIpv6(x, 0)),
      dst: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((x) => readIpv6(x, 0)),
    });
    fc.assert(fc.property(repr, fc.nat(20), (r, pad) => {
      const b = new Uint8Array(40 + r.payloadLength + pad);
      emitIpv6(r, b, 0);
      const back = newIpv6Repr();
      expect(parseIpv6(b, 0, b.length, back)).toBeUndefined();
      expect(back).toEqual(r);
    }));
  });

  it('refuses what Linux ip6_rcv_core refuses, with its reasons', () => {
    const r = newIpv6Repr();
    expect(parseIpv6(RS, 0, 39, r)).toBe(DropReason.IP_INHDR);
    const v4 = RS.slice();
    v4[0] = 0x45;
    expect(parseIpv6(v4, 0, v4.length, r)).toBe(DropReason.UNHANDLED_PROTO);
    // Truncated: one byte of the payload missing.
    expect(parseIpv6(RS, 0, RS.length - 1, r)).toBe(DropReason.PKT_TOO_SMALL);
    expect(r.payloadLength).toBe(16); // filled for a trace
    // A jumbogram announcement: payload length 0 with hop-by-hop options next.
    const jumbo = RS.slice();
    setU16(jumbo, 4, 0);
    jumbo[6] = NEXTHDR_HOP;
    expect(parseIpv6(jumbo, 0, jumbo.length, r)).toBe(DropReason.IP_INHDR);
    // Payload length 0 is otherwise fine (No Next Header), and link padding is not the packet's.
    jumbo[6] = NEXTHDR_NONE;
    expect(parseIpv6(jumbo, 0, jumbo.length, r)).toBeUndefined();
    expect(parseIpv6(RS, 0, RS.length + 10, r)).toBeUndefined();
  });

  it('never throws on random bytes, and accepts only what fits (property)', () => {
    const r = newIpv6Repr();
    const reasons = new Set<unknown>([undefined, ...Object.values(DropReason)]);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (b, six) => {
      if (six && b.length > 0) b[0] = 0x60 | (b[0]! & 0x0f);
      const v = parseIpv6(b, 0, b.length, r);
      expect(reasons.has(v)).toBe(true);
      if (v === undefined) expect(IPV6_HLEN + r.payloadLength).toBeLessThanOrEqual(b.length);
    }), { numRuns: 2000 });
  });
});

describe('pseudo-header (RFC 8200 §8.1)', () => {
  it('verifies the checksum of a real MLD report, whose upper layer follows an extension header', () => {
    const icmp = MLD_REPORT.subarray(48);
    // The length and next header are the upper layer's (48, 58), not the IPv6 header's (56, 0).
    const pseudo = pseudoHeaderV6('fe80::ff:fe00:a', 'ff02::16', IPPROTO_ICMPV6, icmp.length);
    expect(checksum(icmp, 0, icmp.length, pseudo)).toBe(0);
    expect(checksum(icmp, 0, icmp.length, pseudoHeaderV6('fe80::ff:fe00:a', 'ff02::16', 0, 56))).not.toBe(0);
    expect(pseudo).toBe(ipv6AddrSum(MLD_REPORT, 8) + ipv6AddrSum(MLD_REPORT, 24) + IPPROTO_ICMPV6 + icmp.length);
  });

  it('is the sum of the 40-byte block RFC 8200 §8.1 draws (property)', () => {
    const addr = fc.uint8Array({ minLength: 16, maxLength: 16 });
    fc.assert(fc.property(addr, addr, fc.nat(0xff), fc.nat(0xffff_ffff), (s, d, proto, len) => {
      const block = new Uint8Array(40);
      block.set(s, 0);
      block.set(d, 16);
      setU32(block, 32, len);
      block[39] = proto;
      const sum = pseudoHeaderV6(readIpv6(s, 0), readIpv6(d, 0), proto, len);
      expect(sum16(new Uint8Array(0), 0, 0, sum)).toBe(sum16(block, 0, 40));
      expect(ipv6AddrSum(s, 0) + ipv6AddrSum(d, 0) + proto + (len >>> 16) + (len & 0xffff)).toBe(sum);
    }));
  });
});

/** An options header of `len` bytes (next header 59) holding `options` after its first two bytes. */
function optionsHeader(options: number[], len = Math.ceil((options.length + 2) / 8) * 8): Uint8Array {
  const b = new Uint8Array(len);
  b[0] = NEXTHDR_NONE;
  b[1] = len / 8 - 1;
  b.set(options, 2);
  return b;
}

const check = (b: Uint8Array, hopByHop = false): [number, number] => {
  const r = checkTlvOptions(b, 0, b.length, hopByHop);
  return [tlvAction(r), tlvPointer(r)];
};

describe('extension headers (RFC 8200 §4)', () => {
  it('walks the hop-by-hop header of a real MLD report', () => {
    const o = IPV6_HLEN;
    expect(isExtHeader(MLD_REPORT[6]!)).toBe(true);
    const len = extHeaderLen(MLD_REPORT, o, MLD_REPORT.length - o, NEXTHDR_HOP);
    expect(len).toBe(8);
    expect(extNextHeader(MLD_REPORT, o)).toBe(NEXTHDR_ICMP);
    expect(checkTlvOptions(MLD_REPORT, o, len, true)).toBe(TLV_OK);
    const ra = findTlvOption(MLD_REPORT, o, len, IPV6_TLV_ROUTERALERT);
    expect(ra).toBe(2);
    expect(u16(MLD_REPORT, o + ra + 2)).toBe(0); // MLD
    // What we would send with an MLD message is what Linux sent.
    const b = new Uint8Array(8);
    expect(emitRouterAlertHopByHop(b, 0, NEXTHDR_ICMP)).toBe(8);
    expect(b).toEqual(MLD_REPORT.subarray(o, o + 8));
  });

  it('measures each kind, and refuses what does not fit', () => {
    const b = new Uint8Array(64);
    b[1] = 2;
    for (const nh of [NEXTHDR_HOP, NEXTHDR_ROUTING, NEXTHDR_DEST]) {
      expect(extHeaderLen(b, 0, 64, nh)).toBe(24);
      expect(extHeaderLen(b, 0, 24, nh)).toBe(24);
      expect(extHeaderLen(b, 0, 23, nh)).toBe(-1);
    }
    expect(extHeaderLen(b, 0, 64, NEXTHDR_FRAGMENT)).toBe(8); // whatever its second byte says
    expect(extHeaderLen(b, 0, 7, NEXTHDR_FRAGMENT)).toBe(-1);
    b[1] = 4; // AH: (4 + 2) × 4 = 24, the length of an AH with a 96-bit ICV (RFC 4302 §2.2)
    expect(extHeaderLen(b, 0, 64, NEXTHDR_AUTH)).toBe(24);
    b[1] = 0;
    expect(extHeaderLen(b, 0, 64, NEXTHDR_HOP)).toBe(8);
    expect(extHeaderLen(b, 0, 7, NEXTHDR_HOP)).toBe(-1);
    for (const nh of [NEXTHDR_ESP, NEXTHDR_NONE, NEXTHDR_TCP, NEXTHDR_UDP, NEXTHDR_ICMP, 255]) {
      expect(isExtHeader(nh)).toBe(false);
      expect(extHeaderLen(b, 0, 64, nh)).toBe(-1);
    }
  });

  it('reads a routing header\'s type and segments left', () => {
    // A segment routing header (type 4) with one segment, two left to visit.
    const b = hex('3b02 0402 0000 0000 20010db8000000000000000000000001');
    expect(extHeaderLen(b, 0, b.length, NEXTHDR_ROUTING)).toBe(24);
    expect(routingType(b, 0)).toBe(4);
    expect(routingSegmentsLeft(b, 0)).toBe(2);
  });

  it('accepts padding, router alerts and skippable options', () => {
    expect(check(optionsHeader([]))).toEqual([TLV_OK, 0]); // 6 zero bytes: six Pad1
    expect(check(optionsHeader([1, 4, 0, 0, 0, 0]))).toEqual([TLV_OK, 0]); // PadN of 6
    expect(check(optionsHeader([5, 2, 0, 0, 1, 0]), true)).toEqual([TLV_OK, 0]);
    // An unknown option with action 00 is skipped, and padding counts afresh after it.
    expect(check(optionsHeader([1, 4, 0, 0, 0, 0, 0x1e, 0, 1, 4, 0, 0, 0, 0], 16))).toEqual([TLV_OK, 0]);
    // A router alert of another length in a destination options header is just an unknown
    // option with action 00.
    expect(check(optionsHeader([5, 4, 0, 0, 0, 0]))).toEqual([TLV_OK, 0]);
  });

  it('refuses badly framed options as Linux ip6_parse_tlv does', () => {
    // Eight Pad1 in a row: more than the 7 bytes padding can ever need.
    expect(check(optionsHeader([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 16))).toEqual([TLV_MALFORMED, 9]);
    // PadN of 8; and two Pad1 after a PadN of 6, where one would be 7 and still fine.
    expect(check(optionsHeader([1, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 16))).toEqual([TLV_MALFORMED, 2]);
    expect(check(optionsHeader([1, 4, 0, 0, 0, 0, 0, 0x1e, 5, 0, 0, 0, 0, 0], 16))).toEqual([TLV_OK, 0]);
    expect(check(optionsHeader([1, 4, 0, 0, 0, 0, 0, 0, 0x1e, 4, 0, 0, 0, 0], 16))).toEqual([TLV_MALFORMED, 9]);
    // PadN carrying data (RFC 4942 §2.1.9.5).
    expect(check(optionsHeader([1, 4, 0, 0, 7, 0]))).toEqual([TLV_MALFORMED, 2]);
    // An option running past the header, and a type byte with no room for its length.
    expect(check(optionsHeader([0x1e, 5, 0, 0, 0, 0]))).toEqual([TLV_MALFORMED, 2]);
    expect(check(optionsHeader([1, 3, 0, 0, 0, 0x1e]))).toEqual([TLV_MALFORMED, 7]);
    // A router alert of the wrong length.
    expect(check(optionsHeader([5, 4, 0, 0, 0, 0]), true)).toEqual([TLV_MALFORMED, 2]);
    // More options than Linux's limit of 8.
    const many: number[] = [];
    for (let i = 0; i <= IPV6_MAX_OPTIONS; i++) many.push(0x1e, 0);
    expect(check(optionsHeader(many, 24))).toEqual([TLV_MALFORMED, 2 + 2 * IPV6_MAX_OPTIONS]);
    expect(checkTlvOptions(optionsHeader(many, 24), 0, 24, false, IPV6_MAX_OPTIONS + 1)).toBe(TLV_OK);
  });

  it('obeys the action bits of an unknown option (RFC 8200 §4.2)', () => {
    // PadN of 2, then the unknown option: the pointer is its type byte, 6 into the header.
    const at = (type: number): [number, number] => check(optionsHeader([1, 2, 0, 0, type, 0]));
    expect(at(0x1e)).toEqual([TLV_OK, 0]);
    expect(at(0x5e)).toEqual([TLV_DISCARD, 6]);
    expect(at(0x9e)).toEqual([TLV_ICMP, 6]);
    expect(at(0xde)).toEqual([TLV_ICMP_UNLESS_MULTICAST, 6]);
    // Jumbo payload is unknown in a destination options header: its bits are 11.
    expect(at(IPV6_TLV_JUMBO)).toEqual([TLV_ICMP_UNLESS_MULTICAST, 6]);
    // The first problem wins.
    expect(check(optionsHeader([0x9e, 0, 0x5e, 0, 0, 0]))).toEqual([TLV_ICMP, 2]);
  });

  it('refuses a jumbo payload option as Linux ipv6_hop_jumbo does', () => {
    // Well placed (at 4n + 2) with a value ≤ 65535: a parameter problem at the value.
    expect(check(optionsHeader([0xc2, 4, 0, 0, 0xff, 0xff]), true)).toEqual([TLV_ICMP_HDR_FIELD, 4]);
    // A real jumbogram length: our payload length was not 0, so at the option.
    expect(check(optionsHeader([0xc2, 4, 0, 1, 0, 0]), true)).toEqual([TLV_ICMP_HDR_FIELD, 2]);
    // Misaligned or of the wrong length.
    expect(check(optionsHeader([0, 0xc2, 4, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], 16), true)).toEqual([TLV_MALFORMED, 3]);
    expect(check(optionsHeader([0xc2, 3, 0, 1, 0, 0]), true)).toEqual([TLV_MALFORMED, 2]);
  });

  it('check and find never read past the header or throw (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 2, maxLength: 40 }), fc.boolean(), (body, hbh) => {
      const len = Math.ceil(body.length / 8) * 8;
      const b = new Uint8Array(len + 8).fill(0xee); // poison after the header
      b.set(body);
      const r = checkTlvOptions(b, 0, len, hbh);
      expect(tlvAction(r)).toBeLessThanOrEqual(TLV_ICMP_HDR_FIELD);
      if (r !== TLV_OK) expect(tlvPointer(r)).toBeLessThan(len);
      const at = findTlvOption(b, 0, len, 0x1e);
      expect(at === -1 || (at >= 2 && at < len && b[at] === 0x1e)).toBe(true);
    }), { numRuns: 3000 });
  });
});

describe('fragment header (RFC 8200 §4.5)', () => {
  it('parses and emits golden bytes, ignoring the reserved fields', () => {
    // test/fixtures/ping6-fragmented.pcap frame 3: ICMPv6, offset 362 × 8, last, id 0x73845c40.
    const golden = hex('3a00 0b50 73845c40');
    const r = newIpv6FragRepr();
    expect(parseIpv6Frag(golden, 0, 8, r)).toBeUndefined();
    expect(r).toEqual({ nextHeader: 58, offset: 2896, moreFrags: false, id: 0x73845c40 });
    const b = new Uint8Array(8).fill(0xff);
    expect(emitIpv6Frag(r, b, 0)).toBe(IPV6_FRAG_HLEN);
    expect(b).toEqual(golden);
    const reserved = hex('3aff 0b56 73845c40');
    expect(parseIpv6Frag(reserved, 0, 8, r)).toBeUndefined();
    expect(r).toEqual({ nextHeader: 58, offset: 2896, moreFrags: false, id: 0x73845c40 });
    expect(parseIpv6Frag(golden, 0, 7, r)).toBe(DropReason.IP_INHDR);
  });

  it('round-trips any header (property)', () => {
    const repr = fc.record({
      nextHeader: fc.nat(0xff), offset: fc.nat(0x1fff).map((x) => x * 8), moreFrags: fc.boolean(), id: fc.nat(0xffff_ffff),
    });
    fc.assert(fc.property(repr, (r) => {
      const b = new Uint8Array(8);
      emitIpv6Frag(r, b, 0);
      const back = newIpv6FragRepr();
      expect(parseIpv6Frag(b, 0, 8, back)).toBeUndefined();
      expect(back).toEqual(r);
    }));
  });
});

// ---- real captures ---------------------------------------------------------------------------

/**
 * The IPv6 captures of ../shared/captures, recorded between two Linux hosts and checked
 * against Wireshark's decoding of the same frames (trimmed to the fields compared, as the
 * IPv4 ones in captures.test.ts): nobody on this team wrote either side. For every frame:
 * parse every layer, compare each field with tshark's, verify the checksums over our own
 * pseudo-header, then re-emit every layer from what was parsed and get the same bytes back.
 */
type Json = Record<string, unknown>;

interface FrameJson {
  protocols: string;
  len: number;
  layers: Json;
}

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

function sub(o: Json, key: string): Json | undefined {
  const v = o[key];
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}

/** The numeric value of tshark field `key` ("64", "0x21d6"); fails the test if missing. */
function num(o: Json, key: string): number {
  const v = o[key];
  if (typeof v !== 'string') throw new Error(`tshark field ${key} missing`);
  return Number(v);
}

function str(o: Json, key: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new Error(`tshark field ${key} missing`);
  return v;
}

function expectIpv6Fields(r: Ipv6Repr, j: Json): void {
  expect(num(j, 'ipv6.version')).toBe(6);
  expect(r.trafficClass).toBe(num(j, 'ipv6.tclass'));
  expect(r.flowLabel).toBe(num(j, 'ipv6.flow'));
  expect(r.payloadLength).toBe(num(j, 'ipv6.plen'));
  expect(r.nextHeader).toBe(num(j, 'ipv6.nxt'));
  expect(r.hopLimit).toBe(num(j, 'ipv6.hlim'));
  // tshark prints addresses in RFC 5952 form too: equal text is equal addresses.
  expect(r.src).toBe(str(j, 'ipv6.src'));
  expect(r.dst).toBe(str(j, 'ipv6.dst'));
}

/** What the frames of a capture held, so that no comparison is vacuous. */
interface Seen {
  frag: number;
  reassembled: number[];
  echo: number;
  ns: number;
  na: number;
  rs: number;
  udp: number;
  tcp: number;
  tcpOptions: { mss: number; wscale: number; sackPermitted: number; timestamp: number };
}

/**
 * Parses the `len`-byte ICMPv6 message at `b[o]`, compares it with tshark's layer `jc`, and
 * checks that re-emitting it (header only, or whole for Neighbor Discovery, with our own
 * emitters) gives the same bytes.
 */
function checkIcmpv6(b: Uint8Array, o: number, len: number, ip6: Ipv6Repr, jc: Json, seen: Seen): void {
  const p = pseudoHeaderV6(ip6.src, ip6.dst, IPPROTO_ICMPV6, len);
  const icmp = newIcmpv6Repr();
  expect(parseIcmpv6(b, o, len, p, icmp)).toBeUndefined();
  expect(icmp.type).toBe(num(jc, 'icmpv6.type'));
  expect(icmp.code).toBe(num(jc, 'icmpv6.code'));
  expect(icmp.checksum).toBe(num(jc, 'icmpv6.checksum'));
  expect(num(jc, 'icmpv6.checksum.status')).toBe(1); // tshark verified it too

  const msg = b.slice(o, o + len);
  const again = msg.slice();
  if (icmp.type === ICMPV6_ECHO_REQUEST || icmp.type === ICMPV6_ECHO_REPLY) {
    expect(icmp.rest >>> 16).toBe(num(jc, 'icmpv6.echo.identifier'));
    expect(icmp.rest & 0xffff).toBe(num(jc, 'icmpv6.echo.sequence_number'));
    again.fill(0xaa, 0, ICMPV6_HLEN);
    expect(emitIcmpv6(icmp, again, 0, len, p)).toBe(ICMPV6_HLEN);
    expect(again).toEqual(msg);
    seen.echo++;
    return;
  }

  // Neighbor Discovery: the fixed part, then the options (one each in these captures).
  const nd = newNdpRepr();
  expect(parseNdp(b, o, len, nd)).toBeUndefined();
  const fixed = ndpHeaderLen(icmp.type);
  const opts = newNdpOptions();
  expect(parseNdpOptions(b, o + fixed, len - fixed, opts)).toBeUndefined();
  const jo = sub(jc, 'icmpv6.opt');
  const mac = (key: string): number => (jo !== undefined && key in jo ? parseMac(str(jo, key))! : -1);
  expect(opts.sourceLinkAddr).toBe(mac('icmpv6.opt.src_linkaddr'));
  expect(opts.targetLinkAddr).toBe(mac('icmpv6.opt.target_linkaddr'));
  expect(ndpOptionsLen(opts)).toBe(jo === undefined ? 0 : num(jo, 'icmpv6.opt.length') * 8);
  again.fill(0xaa);
  switch (icmp.type) {
    case ICMPV6_NEIGHBOUR_SOLICIT:
      expect(nd.target).toBe(str(jc, 'icmpv6.nd.ns.target_address'));
      expect(emitNeighbourSolicit(again, 0, ip6.src, ip6.dst, nd.target, opts.sourceLinkAddr)).toBe(len);
      seen.ns++;
      break;
    case ICMPV6_NEIGHBOUR_ADVERT: {
      expect(nd.target).toBe(str(jc, 'icmpv6.nd.na.target_address'));
      const flags = sub(jc, 'icmpv6.nd.na.flag_tree')!;
      expect(nd.router).toBe(num(flags, 'icmpv6.nd.na.flag.r') === 1);
      expect(nd.solicited).toBe(num(flags, 'icmpv6.nd.na.flag.s') === 1);
      expect(nd.override).toBe(num(flags, 'icmpv6.nd.na.flag.o') === 1);
      expect(icmp.rest).toBe(num(jc, 'icmpv6.nd.na.flag')); // and the reserved bits are zero
      expect(emitNeighbourAdvert(again, 0, ip6.src, ip6.dst, nd.target, icmp.rest, opts.targetLinkAddr)).toBe(len);
      seen.na++;
      break;
    }
    case ICMPV6_ROUTER_SOLICIT:
      expect(emitRouterSolicit(again, 0, ip6.src, ip6.dst, opts.sourceLinkAddr)).toBe(len);
      seen.rs++;
      break;
    default:
      throw new Error(`unexpected ICMPv6 type ${icmp.type}`);
  }
  expect(again).toEqual(msg);
  again.fill(0xaa);
  expect(emitNdp(icmp.type, nd, opts, again, 0, ip6.src, ip6.dst)).toBe(len);
  expect(again).toEqual(msg);
}

function checkTcp(b: Uint8Array, o: number, len: number, ip6: Ipv6Repr, jt: Json, rebuilt: Uint8Array, seen: Seen): void {
  const p = pseudoHeaderV6(ip6.src, ip6.dst, NEXTHDR_TCP, len);
  const tcp = newTcpRepr();
  expect(parseTcpWithPseudo(b, o, len, p, tcp)).toBeUndefined();
  expect(tcp.srcPort).toBe(num(jt, 'tcp.srcport'));
  expect(tcp.dstPort).toBe(num(jt, 'tcp.dstport'));
  expect(tcp.seq).toBe(num(jt, 'tcp.seq_raw'));
  expect(tcp.ack).toBe(num(jt, 'tcp.ack_raw'));
  expect(tcp.headerLen).toBe(num(jt, 'tcp.hdr_len'));
  expect(tcp.flags).toBe(num(jt, 'tcp.flags'));
  expect(tcp.window).toBe(num(jt, 'tcp.window_size_value'));
  expect(tcp.checksum).toBe(num(jt, 'tcp.checksum'));
  expect(tcp.urgent).toBe(num(jt, 'tcp.urgent_pointer'));
  const opts = sub(jt, 'tcp.options_tree') ?? {};
  const mss = sub(opts, 'tcp.options.mss_tree');
  expect(tcp.mss).toBe(mss === undefined ? -1 : num(mss, 'tcp.options.mss_val'));
  const ws = sub(opts, 'tcp.options.wscale_tree');
  expect(tcp.wscale).toBe(ws === undefined ? -1 : num(ws, 'tcp.options.wscale.shift'));
  expect(tcp.sackPermitted).toBe('tcp.options.sack_perm' in opts);
  const ts = sub(opts, 'tcp.options.timestamp_tree');
  expect(tcp.hasTimestamp).toBe(ts !== undefined);
  if (ts !== undefined) {
    expect(tcp.tsVal).toBe(num(ts, 'tcp.options.timestamp.tsval'));
    expect(tcp.tsEcr).toBe(num(ts, 'tcp.options.timestamp.tsecr'));
  }
  seen.tcpOptions.mss += tcp.mss >= 0 ? 1 : 0;
  seen.tcpOptions.wscale += tcp.wscale >= 0 ? 1 : 0;
  seen.tcpOptions.sackPermitted += tcp.sackPermitted ? 1 : 0;
  seen.tcpOptions.timestamp += tcp.hasTimestamp ? 1 : 0;
  rebuilt.set(b.subarray(o + tcp.headerLen, o + len), o + tcp.headerLen);
  expect(emitTcpWithPseudo(tcp, tcpOptionsOf(tcp), rebuilt, o, len - tcp.headerLen, p)).toBe(tcp.headerLen);
  seen.tcp++;
}

function checkUdp(b: Uint8Array, o: number, len: number, ip6: Ipv6Repr, ju: Json, rebuilt: Uint8Array, seen: Seen): void {
  const udp = newUdpRepr();
  // The pseudo-header covers the UDP length field; over IPv6 a zero checksum is refused.
  const p = pseudoHeaderV6(ip6.src, ip6.dst, NEXTHDR_UDP, u16(b, o + 4));
  expect(parseUdpWithPseudo(b, o, len, p, true, udp)).toBeUndefined();
  expect(udp.srcPort).toBe(num(ju, 'udp.srcport'));
  expect(udp.dstPort).toBe(num(ju, 'udp.dstport'));
  expect(udp.length).toBe(num(ju, 'udp.length'));
  expect(udp.checksum).toBe(num(ju, 'udp.checksum'));
  expect(udp.checksum).not.toBe(0);
  rebuilt.set(b.subarray(o + UDP_HLEN, o + udp.length), o + UDP_HLEN);
  expect(emitUdpWithPseudo(udp, rebuilt, o, p)).toBe(UDP_HLEN);
  seen.udp++;
}

const CAPTURES6 = ['ping6-ndp', 'ping6-fragmented', 'tcp6-http-get', 'udp6-echo'];

describe.each(CAPTURES6)('capture %s', (name) => {
  const frames = readPcap(fixture(`${name}.pcap`));
  const decoded = JSON.parse(readFileSync(fixture(`${name}.wire.json`), 'utf8')) as FrameJson[];
  /** Fragments seen so far, by packet (src, dst, id): offset → data. */
  const pending = new Map<string, Map<number, Uint8Array>>();
  const seen: Seen = {
    frag: 0, reassembled: [], echo: 0, ns: 0, na: 0, rs: 0, udp: 0, tcp: 0,
    tcpOptions: { mss: 0, wscale: 0, sackPermitted: 0, timestamp: 0 },
  };

  it('has one tshark decoding per frame', () => {
    expect(frames.length).toBeGreaterThan(0);
    expect(decoded.length).toBe(frames.length);
  });

  // Frames run in order: reassembly depends on it.
  it.each(frames.map((f, i) => [i + 1, f.data, decoded[i]!] as const))('frame %i', (_n, frame, j) => {
    expect(frame.length).toBe(j.len);
    const rebuilt = new Uint8Array(frame.length);
    const eth = newEthernetRepr();
    expect(parseEthernet(frame, 0, frame.length, eth)).toBeUndefined();
    expect(eth.etherType).toBe(ETH_P_IPV6);
    expect(eth.etherType).toBe(num(sub(j.layers, 'eth')!, 'eth.type'));
    const l3 = eth.headerLen;

    // ---- IPv6
    const ji = sub(j.layers, 'ipv6')!;
    const ip6 = newIpv6Repr();
    expect(parseIpv6(frame, l3, frame.length - l3, ip6)).toBeUndefined();
    expectIpv6Fields(ip6, ji);
    expect(emitIpv6(ip6, rebuilt, l3)).toBe(IPV6_HLEN);

    // ---- extension headers, one at a time
    let off = l3 + IPV6_HLEN;
    let left = ip6.payloadLength;
    let nh = ip6.nextHeader;
    let frag: ReturnType<typeof newIpv6FragRepr> | null = null;
    while (isExtHeader(nh)) {
      const len = extHeaderLen(frame, off, left, nh);
      expect(len).toBeGreaterThan(0);
      expect(nh).toBe(NEXTHDR_FRAGMENT); // the only kind in these captures
      frag = newIpv6FragRepr();
      expect(parseIpv6Frag(frame, off, left, frag)).toBeUndefined();
      const jf = sub(ji, 'ipv6.fraghdr')!;
      expect(frag.nextHeader).toBe(num(jf, 'ipv6.fraghdr.nxt'));
      expect(frag.offset).toBe(num(jf, 'ipv6.fraghdr.offset') * 8); // tshark: in 8-byte units
      expect(frag.moreFrags).toBe(num(jf, 'ipv6.fraghdr.more') === 1);
      expect(frag.id).toBe(num(jf, 'ipv6.fraghdr.ident'));
      expect(emitIpv6Frag(frag, rebuilt, off)).toBe(IPV6_FRAG_HLEN);
      nh = extNextHeader(frame, off);
      off += len;
      left -= len;
    }
    const end = l3 + IPV6_HLEN + ip6.payloadLength;

    if (frag !== null) {
      // ---- fragments: join them; at the last, tshark decoded the whole message, and so do we.
      seen.frag++;
      const key = `${ip6.src}>${ip6.dst}#${frag.id}`;
      const parts = pending.get(key) ?? new Map<number, Uint8Array>();
      pending.set(key, parts);
      parts.set(frag.offset, frame.slice(off, end));
      if (!frag.moreFrags) {
        const total = frag.offset + (end - off);
        const whole = new Uint8Array(total);
        let covered = 0;
        for (const at of [...parts.keys()].sort((a, b) => a - b)) {
          expect(at).toBe(covered);
          whole.set(parts.get(at)!, at);
          covered += parts.get(at)!.length;
        }
        expect(covered).toBe(total);
        pending.delete(key);
        const jr = sub(ji, 'ipv6.fragments')!;
        expect(total).toBe(num(jr, 'ipv6.reassembled.length'));
        expect(parts.size).toBe(num(jr, 'ipv6.fragment.count'));
        expect(nh).toBe(NEXTHDR_ICMP);
        checkIcmpv6(whole, 0, total, ip6, sub(j.layers, 'icmpv6')!, seen);
        seen.reassembled.push(whole[0]!);
      }
      rebuilt.set(frame.subarray(off), off);
    } else if (nh === NEXTHDR_ICMP) {
      checkIcmpv6(frame, off, end - off, ip6, sub(j.layers, 'icmpv6')!, seen);
      rebuilt.set(frame.subarray(off), off);
    } else if (nh === NEXTHDR_UDP) {
      checkUdp(frame, off, end - off, ip6, sub(j.layers, 'udp')!, rebuilt, seen);
      rebuilt.set(frame.subarray(end), end);
    } else {
      expect(nh).toBe(NEXTHDR_TCP);
      checkTcp(frame, off, end - off, ip6, sub(j.layers, 'tcp')!, rebuilt, seen);
      rebuilt.set(frame.subarray(end), end);
    }

    // The pseudo-header sum from the received header's bytes is the one from the addresses.
    expect(ipv6AddrSum(frame, l3 + 8) + ipv6AddrSum(frame, l3 + 24) + nh + (end - off))
      .toBe(pseudoHeaderV6(ip6.src, ip6.dst, nh, end - off));

    expect(emitEthernet(eth, rebuilt, 0)).toBe(l3);
    expect(rebuilt).toEqual(frame);
  });

  const expected: Record<string, Partial<Seen>> = {
    'ping6-ndp': { ns: 1, na: 1, echo: 6 },
    // 4000-byte echoes: three fragments each way, twice; then Linux's RS and a NUD probe.
    'ping6-fragmented': { frag: 12, reassembled: [128, 129, 128, 129], echo: 4, rs: 1, ns: 1, na: 1 },
    'tcp6-http-get': { ns: 1, na: 1, tcp: 13, tcpOptions: { mss: 2, wscale: 2, sackPermitted: 2, timestamp: 13 } },
    'udp6-echo': { ns: 1, na: 1, udp: 2 },
  };

  it('compared every kind of layer it holds', () => {
    expect(seen).toMatchObject(expected[name]!);
    expect(pending.size).toBe(0);
  });
});

describe('truncated real frames', () => {
  const frames = readPcap(fixture('udp6-echo.pcap')).map((r) => r.data);

  it.each(frames.map((f, i) => [i + 1, f] as const))('frame %i: every cut is refused by the IPv6 header', (_n, frame) => {
    const l3 = 14;
    for (let cut = l3; cut < frame.length; cut++) {
      const ipLen = cut - l3;
      // Too short for the header: a header error; header whole but packet cut: truncated.
      expect(parseIpv6(frame.slice(0, cut), l3, ipLen, newIpv6Repr()))
        .toBe(ipLen < IPV6_HLEN ? DropReason.IP_INHDR : DropReason.PKT_TOO_SMALL);
    }
    expect(parseIpv6(frame, l3, frame.length - l3, newIpv6Repr())).toBeUndefined();
  });
});
