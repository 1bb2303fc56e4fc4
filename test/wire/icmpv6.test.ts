import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DropReason } from '../../src/core/drop.js';
import { IPV6_ALL_NODES, IPV6_ALL_ROUTERS, IPV6_ANY, readIpv6, type Ipv6Addr } from '../../src/wire/addr.js';
import { icmpEchoRest } from '../../src/wire/icmpv4.js';
import { checksum, pseudoHeaderV6 } from '../../src/wire/checksum.js';
import {
  ICMPV6_DEST_UNREACH, ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, ICMPV6_HLEN, ICMPV6_MLD2_REPORT, ICMPV6_NEIGHBOUR_ADVERT,
  ICMPV6_NEIGHBOUR_SOLICIT, ICMPV6_PARAMPROB, ICMPV6_PKT_TOOBIG, ICMPV6_REDIRECT, ICMPV6_ROUTER_ADVERT,
  ICMPV6_ROUTER_SOLICIT, ICMPV6_TIME_EXCEED, ICMPV6_UNK_OPTION, ND_NA_OVERRIDE, ND_NA_ROUTER, ND_NA_SOLICITED,
  NDP_MAX_PREFIXES, emitIcmpv6, emitNdp, emitNdpOptions, emitNeighbourAdvert, emitNeighbourSolicit, emitRouterSolicit,
  isIcmpv6Error, ndpHeaderLen, ndpOptionsLen, newIcmpv6Repr, newNdpOptions, newNdpRepr, parseIcmpv6, parseNdp,
  parseNdpOptions, type NdpOptions,
} from '../../src/wire/icmpv6.js';
import { IPPROTO_ICMPV6 } from '../../src/wire/ipv6.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const pseudo = (src: Ipv6Addr, dst: Ipv6Addr, len: number): number => pseudoHeaderV6(src, dst, IPPROTO_ICMPV6, len);

/** test/fixtures/ping6-ndp.pcap frame 1: fd00:69::1 → ff02::1:ff00:2, who has fd00:69::2? */
const NS = hex('8700 7cbc 00000000 fd000069000000000000000000000002 0101 02000000000a');
/** Frame 2: fd00:69::2 → fd00:69::1, solicited and override, with its MAC. */
const NA = hex('8800 1b56 60000000 fd000069000000000000000000000002 0201 02000000000b');
/** Frame 3: fd00:69::1 → fd00:69::2, echo request id 0x21d6 seq 1 with 56 bytes. */
const ECHO = hex(`8000 7d76 21d6 0001 2269066b00000000 f6b9070000000000 1011121314151617 18191a1b1c1d1e1f
  2021222324252627 28292a2b2c2d2e2f 3031323334353637`);
/**
 * Linux 6.x probing fd00:69::1 for duplicates (RFC 4862 §5.4.2): :: → ff02::1:ff00:1, no
 * link-layer address (the source is unspecified) but a nonce, 74c1ae60d9e9 (RFC 7527).
 */
const DAD_NS = hex('8700 7227 00000000 fd000069000000000000000000000001 0e01 74c1ae60d9e9');
/** Linux's router solicitation: fe80::ff:fe00:a → ff02::2 with its MAC. */
const RS = hex('8500 7b1a 00000000 0101 02000000000a');
/**
 * A router advertisement fe80::1 → ff02::1 built by emitNdp, each field checked in tshark:
 * hop limit 64, O, lifetime 1800 s, reachable 30000 ms, retrans 1000 ms; source link-layer
 * address 02:00:00:00:00:01, MTU 1500, fd00:69::/64 L A 86400/14400, 2001:db8:1::/48 L ∞/∞.
 */
const RA = hex(`8600 8171 4040 0708 00007530 000003e8 0101 020000000001 0501 0000 000005dc
  0304 40c0 00015180 00003840 00000000 fd000069000000000000000000000000
  0304 3080 ffffffff ffffffff 00000000 20010db8000100000000000000000000`);
/** A redirect fe80::1 → fd00:69::1: reach 2001:db8::99 through fe80::2 (02:00:00:00:00:02); checked in tshark. */
const REDIRECT = hex(`8900 49d0 00000000 fe800000000000000000000000000002 20010db8000000000000000000000099
  0201 020000000002`);

describe('ICMPv6 (RFC 4443)', () => {
  it('parses a real echo request, verifying the checksum with the pseudo-header', () => {
    const r = newIcmpv6Repr();
    expect(parseIcmpv6(ECHO, 0, ECHO.length, pseudo('fd00:69::1', 'fd00:69::2', ECHO.length), r)).toBeUndefined();
    expect(r).toEqual({ type: ICMPV6_ECHO_REQUEST, code: 0, checksum: 0x7d76, rest: icmpEchoRest(0x21d6, 1) });
  });

  it('emits golden bytes, checksumming the body already in place', () => {
    const b = ECHO.slice();
    b.fill(0xaa, 0, ICMPV6_HLEN);
    const r = { type: ICMPV6_ECHO_REQUEST, code: 0, checksum: 0xdead, rest: icmpEchoRest(0x21d6, 1) };
    expect(emitIcmpv6(r, b, 0, b.length, pseudo('fd00:69::1', 'fd00:69::2', b.length))).toBe(ICMPV6_HLEN);
    expect(b).toEqual(ECHO);
  });

  it('refuses fewer than 8 bytes, any damaged byte, and another pseudo-header', () => {
    const p = pseudo('fd00:69::1', 'fd00:69::2', ECHO.length);
    expect(parseIcmpv6(ECHO, 0, 7, p, newIcmpv6Repr())).toBe(DropReason.PKT_TOO_SMALL);
    for (let i = 0; i < ECHO.length; i++) {
      const b = ECHO.slice();
      b[i] = b[i]! ^ 0x10;
      expect(parseIcmpv6(b, 0, b.length, p, newIcmpv6Repr())).toBe(DropReason.ICMP_CSUM);
    }
    expect(parseIcmpv6(ECHO, 0, ECHO.length, pseudo('fd00:69::3', 'fd00:69::2', ECHO.length), newIcmpv6Repr()))
      .toBe(DropReason.ICMP_CSUM);
    // The pseudo-header covers the length: the same bytes claimed one byte shorter fail.
    expect(parseIcmpv6(ECHO, 0, ECHO.length - 1, pseudo('fd00:69::1', 'fd00:69::2', ECHO.length - 1), newIcmpv6Repr()))
      .toBe(DropReason.ICMP_CSUM);
  });

  it('carries the MTU and a 32-bit pointer in `rest`', () => {
    const b = new Uint8Array(48);
    const r = { type: ICMPV6_PKT_TOOBIG, code: 0, checksum: 0, rest: 1280 };
    emitIcmpv6(r, b, 0, 48, pseudo('fd00:69::2', 'fd00:69::1', 48));
    expect(Array.from(b.subarray(4, 8))).toEqual([0, 0, 5, 0]);
    r.type = ICMPV6_PARAMPROB;
    r.code = ICMPV6_UNK_OPTION;
    r.rest = 42;
    emitIcmpv6(r, b, 0, 48, pseudo('fd00:69::2', 'fd00:69::1', 48));
    const back = newIcmpv6Repr();
    expect(parseIcmpv6(b, 0, 48, pseudo('fd00:69::2', 'fd00:69::1', 48), back)).toBeUndefined();
    expect(back).toEqual({ type: 4, code: 2, checksum: back.checksum, rest: 42 });
  });

  it('tells errors from informational messages (RFC 4443 §2.1)', () => {
    for (const t of [ICMPV6_DEST_UNREACH, ICMPV6_PKT_TOOBIG, ICMPV6_TIME_EXCEED, ICMPV6_PARAMPROB, 0, 127]) {
      expect(isIcmpv6Error(t)).toBe(true);
    }
    for (const t of [ICMPV6_ECHO_REQUEST, ICMPV6_ECHO_REPLY, ICMPV6_NEIGHBOUR_SOLICIT, ICMPV6_MLD2_REPORT, 255]) {
      expect(isIcmpv6Error(t)).toBe(false);
    }
  });
});

/** Parses `msg` as an ND message sent `src` → `dst`: ICMPv6, fixed part and options. */
function parseNd(msg: Uint8Array, src: Ipv6Addr, dst: Ipv6Addr): { r: ReturnType<typeof newNdpRepr>; o: NdpOptions } {
  expect(parseIcmpv6(msg, 0, msg.length, pseudo(src, dst, msg.length), newIcmpv6Repr())).toBeUndefined();
  const r = newNdpRepr();
  expect(parseNdp(msg, 0, msg.length, r)).toBeUndefined();
  const o = newNdpOptions();
  const fixed = ndpHeaderLen(msg[0]!);
  expect(parseNdpOptions(msg, fixed, msg.length - fixed, o)).toBeUndefined();
  return { r, o };
}

describe('Neighbor Discovery messages (RFC 4861 §4)', () => {
  it('reads and writes a real neighbour solicitation', () => {
    const { r, o } = parseNd(NS, 'fd00:69::1', 'ff02::1:ff00:2');
    expect(r.target).toBe('fd00:69::2');
    expect(o).toMatchObject({ sourceLinkAddr: 0x02_00_00_00_00_0a, targetLinkAddr: -1, mtu: -1, nonce: -1, prefixCount: 0 });
    const b = new Uint8Array(NS.length + 2).fill(0xee);
    expect(emitNeighbourSolicit(b, 1, 'fd00:69::1', 'ff02::1:ff00:2', 'fd00:69::2', 0x02_00_00_00_00_0a)).toBe(32);
    expect(b.subarray(1, 33)).toEqual(NS);
    expect([b[0], b[33]]).toEqual([0xee, 0xee]);
    b.fill(0);
    expect(emitNdp(ICMPV6_NEIGHBOUR_SOLICIT, r, o, b, 0, 'fd00:69::1', 'ff02::1:ff00:2')).toBe(32);
    expect(b.subarray(0, 32)).toEqual(NS);
  });

  it('reads and writes Linux\'s duplicate address probe, with no link-layer address and a nonce', () => {
    const { r, o } = parseNd(DAD_NS, IPV6_ANY, 'ff02::1:ff00:1');
    expect(r.target).toBe('fd00:69::1');
    expect(o).toMatchObject({ sourceLinkAddr: -1, nonce: 0x74c1_ae60_d9e9 });
    const b = new Uint8Array(40);
    // From the unspecified address no link-layer address goes out, whatever MAC is given.
    expect(emitNeighbourSolicit(b, 0, IPV6_ANY, 'ff02::1:ff00:1', 'fd00:69::1', 0x02_00_00_00_00_0a, 0x74c1_ae60_d9e9))
      .toBe(32);
    expect(b.subarray(0, 32)).toEqual(DAD_NS);
    const plain = new Uint8Array(24);
    expect(emitNeighbourSolicit(plain, 0, IPV6_ANY, 'ff02::1:ff00:1', 'fd00:69::1', 0x02_00_00_00_00_0a)).toBe(24);
    expect(checksum(plain, 0, 24, pseudo(IPV6_ANY, 'ff02::1:ff00:1', 24))).toBe(0);
  });

  it('reads and writes a real neighbour advertisement', () => {
    const { r, o } = parseNd(NA, 'fd00:69::2', 'fd00:69::1');
    expect(r).toMatchObject({ target: 'fd00:69::2', router: false, solicited: true, override: true });
    expect(o).toMatchObject({ sourceLinkAddr: -1, targetLinkAddr: 0x02_00_00_00_00_0b });
    const b = new Uint8Array(32);
    const flags = ND_NA_SOLICITED | ND_NA_OVERRIDE;
    expect(emitNeighbourAdvert(b, 0, 'fd00:69::2', 'fd00:69::1', 'fd00:69::2', flags, 0x02_00_00_00_00_0b)).toBe(32);
    expect(b).toEqual(NA);
    b.fill(0);
    expect(emitNdp(ICMPV6_NEIGHBOUR_ADVERT, r, o, b, 0, 'fd00:69::2', 'fd00:69::1')).toBe(32);
    expect(b).toEqual(NA);
    // Without the option (Linux answering a unicast solicitation), and as a router.
    const short = new Uint8Array(24);
    expect(emitNeighbourAdvert(short, 0, 'fd00:69::2', 'fd00:69::1', 'fd00:69::2', ND_NA_ROUTER | flags, -1)).toBe(24);
    const again = parseNd(short, 'fd00:69::2', 'fd00:69::1');
    expect(again.r).toMatchObject({ router: true, solicited: true, override: true });
    expect(again.o.targetLinkAddr).toBe(-1);
  });

  it('reads and writes Linux\'s router solicitation', () => {
    const { o } = parseNd(RS, 'fe80::ff:fe00:a', IPV6_ALL_ROUTERS);
    expect(o.sourceLinkAddr).toBe(0x02_00_00_00_00_0a);
    const b = new Uint8Array(16);
    expect(emitRouterSolicit(b, 0, 'fe80::ff:fe00:a', IPV6_ALL_ROUTERS, 0x02_00_00_00_00_0a)).toBe(16);
    expect(b).toEqual(RS);
    const bare = new Uint8Array(8);
    expect(emitRouterSolicit(bare, 0, IPV6_ANY, IPV6_ALL_ROUTERS, 0x02_00_00_00_00_0a)).toBe(8);
    expect(checksum(bare, 0, 8, pseudo(IPV6_ANY, IPV6_ALL_ROUTERS, 8))).toBe(0);
  });

  it('reads and writes a router advertisement with prefixes', () => {
    const { r, o } = parseNd(RA, 'fe80::1', IPV6_ALL_NODES);
    expect(r).toMatchObject({
      curHopLimit: 64, managed: false, otherConfig: true, routerLifetime: 1800, reachableTime: 30000, retransTimer: 1000,
    });
    expect(o).toMatchObject({ sourceLinkAddr: 0x02_00_00_00_00_01, targetLinkAddr: -1, mtu: 1500, nonce: -1, prefixCount: 2 });
    expect(o.prefixes.slice(0, 2)).toEqual([
      { prefix: 'fd00:69::', prefixLen: 64, onLink: true, autonomous: true, validLifetime: 86400, preferredLifetime: 14400 },
      { prefix: '2001:db8:1::', prefixLen: 48, onLink: true, autonomous: false, validLifetime: 0xffff_ffff, preferredLifetime: 0xffff_ffff },
    ]);
    const b = new Uint8Array(RA.length);
    expect(emitNdp(ICMPV6_ROUTER_ADVERT, r, o, b, 0, 'fe80::1', IPV6_ALL_NODES)).toBe(RA.length);
    expect(b).toEqual(RA);
  });

  it('reads and writes a redirect', () => {
    const { r, o } = parseNd(REDIRECT, 'fe80::1', 'fd00:69::1');
    expect(r).toMatchObject({ target: 'fe80::2', destination: '2001:db8::99' });
    expect(o.targetLinkAddr).toBe(0x02_00_00_00_00_02);
    const b = new Uint8Array(REDIRECT.length);
    expect(emitNdp(ICMPV6_REDIRECT, r, o, b, 0, 'fe80::1', 'fd00:69::1')).toBe(REDIRECT.length);
    expect(b).toEqual(REDIRECT);
  });

  it('refuses what Linux ndisc_rcv refuses before looking at addresses', () => {
    const r = newNdpRepr();
    expect(parseNdp(NS, 0, 7, r)).toBe(DropReason.PKT_TOO_SMALL);
    expect(parseNdp(ECHO, 0, ECHO.length, r)).toBe(DropReason.INVALID_PROTO);
    const coded = NS.slice();
    coded[1] = 1;
    expect(parseNdp(coded, 0, coded.length, r)).toBe(DropReason.IPV6_NDISC_BAD_CODE);
    expect(parseNdp(NS, 0, 23, r)).toBe(DropReason.PKT_TOO_SMALL);
    expect(parseNdp(NS, 0, 24, r)).toBeUndefined(); // options are optional
    expect(parseNdp(RA, 0, 15, r)).toBe(DropReason.PKT_TOO_SMALL);
    expect(parseNdp(REDIRECT, 0, 39, r)).toBe(DropReason.PKT_TOO_SMALL);
    expect(parseNdp(RS, 0, 8, r)).toBeUndefined();
    expect(ndpHeaderLen(ICMPV6_ECHO_REQUEST)).toBe(-1);
    expect(() => emitNdp(ICMPV6_ECHO_REQUEST, r, null, new Uint8Array(64), 0, '::1', '::1')).toThrow();
  });
});

/** Options bytes from `[type, lengthUnits, ...rest]` lists, each padded to its length. */
function opts(...list: number[][]): Uint8Array {
  const parts = list.map(([type, units, ...rest]) => {
    const b = new Uint8Array(Math.max(units! * 8, 2 + rest.length));
    b[0] = type!;
    b[1] = units!;
    b.set(rest, 2);
    return b;
  });
  return Uint8Array.from(parts.flatMap((p) => Array.from(p)));
}

describe('Neighbor Discovery options (RFC 4861 §4.6)', () => {
  const parse = (b: Uint8Array, out = newNdpOptions()): DropReason | undefined => parseNdpOptions(b, 0, b.length, out);

  it('refuses a zero length, an option running past the end, and a stray byte', () => {
    expect(parse(opts([1, 1, 2, 0, 0, 0, 0, 10], [25, 0]))).toBe(DropReason.IPV6_NDISC_BAD_OPTIONS);
    expect(parse(opts([25, 0]))).toBe(DropReason.IPV6_NDISC_BAD_OPTIONS);
    expect(parse(opts([1, 2, 2, 0, 0, 0, 0, 10]).subarray(0, 8))).toBe(DropReason.IPV6_NDISC_BAD_OPTIONS);
    expect(parse(Uint8Array.from([...opts([1, 1, 2, 0, 0, 0, 0, 10]), 1]))).toBe(DropReason.IPV6_NDISC_BAD_OPTIONS);
    expect(parse(new Uint8Array(0))).toBeUndefined();
  });

  it('refuses a link-layer address option that does not hold an Ethernet address', () => {
    expect(parse(opts([1, 2, 2, 0, 0, 0, 0, 10]))).toBe(DropReason.IPV6_NDISC_BAD_OPTIONS);
    expect(parse(opts([2, 2, 2, 0, 0, 0, 0, 10]))).toBe(DropReason.IPV6_NDISC_BAD_OPTIONS);
  });

  it('keeps the first of each single option, as Linux does, and skips unknown ones', () => {
    const out = newNdpOptions();
    const b = opts(
      [25, 3, 0, 0, 0xff], // RDNSS: not ours to read
      [1, 1, 2, 0, 0, 0, 0, 0x0a], [1, 2, 2, 0, 0, 0, 0, 0x0c], // a later bad SLLA is ignored, not fatal
      [2, 1, 2, 0, 0, 0, 0, 0x0b], [2, 1, 2, 0, 0, 0, 0, 0x0d],
      [5, 1, 0, 0, 0, 0, 0x05, 0xdc], [5, 1, 0, 0, 0, 0, 0x23, 0x28],
      [14, 2, 1, 2, 3, 4, 5, 6], [14, 1, 6, 5, 4, 3, 2, 1], // a nonce of two units is ignored
    );
    expect(parse(b, out)).toBeUndefined();
    expect(out).toMatchObject({
      sourceLinkAddr: 0x02_00_00_00_00_0a, targetLinkAddr: 0x02_00_00_00_00_0b, mtu: 1500, nonce: 0x0605_0403_0201,
      prefixCount: 0,
    });
  });

  it('keeps up to eight prefixes and skips short prefix options', () => {
    const list: number[][] = [[3, 3, 64, 0xc0]]; // 24 bytes: too short, skipped
    for (let i = 0; i < NDP_MAX_PREFIXES + 2; i++) {
      list.push([3, 4, 64, 0x80, 0, 0, 0, i, 0, 0, 0, i, 0, 0, 0, 0, 0x20, 0x01, 0x0d, 0xb8, 0, i]);
    }
    const out = newNdpOptions();
    expect(parse(opts(...list), out)).toBeUndefined();
    expect(out.prefixCount).toBe(NDP_MAX_PREFIXES);
    expect(out.prefixes.map((p) => p.prefix)).toEqual(
      Array.from({ length: NDP_MAX_PREFIXES }, (_, i) => (i === 0 ? '2001:db8::' : `2001:db8:${i}::`)));
    expect(out.prefixes[7]).toEqual({
      prefix: '2001:db8:7::', prefixLen: 64, onLink: true, autonomous: false, validLifetime: 7, preferredLifetime: 7,
    });
    // Parsing again starts afresh, in the same objects.
    const first = out.prefixes[0];
    expect(parse(opts([1, 1, 2, 0, 0, 0, 0, 1]), out)).toBeUndefined();
    expect(out.prefixCount).toBe(0);
    expect(out.prefixes[0]).toBe(first);
  });

  it('round-trips any set of options (property)', () => {
    const mac48 = fc.integer({ min: 0, max: 2 ** 48 - 1 });
    const maybe = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | -1> => fc.oneof(fc.constant(-1 as const), a);
    const prefix = fc.record({
      prefix: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => readIpv6(b, 0)),
      prefixLen: fc.nat(255), onLink: fc.boolean(), autonomous: fc.boolean(),
      validLifetime: fc.nat(0xffff_ffff), preferredLifetime: fc.nat(0xffff_ffff),
    });
    const options = fc.record({
      sourceLinkAddr: maybe(mac48), targetLinkAddr: maybe(mac48), mtu: maybe(fc.nat(0xffff_ffff)), nonce: maybe(mac48),
      prefixes: fc.array(prefix, { maxLength: NDP_MAX_PREFIXES }),
    });
    fc.assert(fc.property(options, (w) => {
      const o = newNdpOptions();
      Object.assign(o, { sourceLinkAddr: w.sourceLinkAddr, targetLinkAddr: w.targetLinkAddr, mtu: w.mtu, nonce: w.nonce });
      w.prefixes.forEach((p, i) => Object.assign(o.prefixes[i]!, p));
      o.prefixCount = w.prefixes.length;
      const b = new Uint8Array(ndpOptionsLen(o));
      expect(emitNdpOptions(o, b, 0)).toBe(b.length);
      const back = newNdpOptions();
      expect(parseNdpOptions(b, 0, b.length, back)).toBeUndefined();
      expect({ ...back, prefixes: back.prefixes.slice(0, back.prefixCount) }).toEqual({
        ...o, prefixes: o.prefixes.slice(0, o.prefixCount),
      });
    }));
  });

  it('never throw on random bytes, and accept only whole options (property)', () => {
    const out = newNdpOptions();
    const r = newNdpRepr();
    const reasons = new Set<unknown>([undefined, ...Object.values(DropReason)]);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), fc.nat(80), (b, len) => {
      const v = parseNdpOptions(b, 0, Math.min(len, b.length), out);
      expect(reasons.has(v)).toBe(true);
      if (v === undefined) {
        let p = 0;
        while (p < Math.min(len, b.length)) {
          expect(b[p + 1]).toBeGreaterThan(0);
          p += b[p + 1]! * 8;
        }
        expect(p).toBe(Math.min(len, b.length));
      }
      expect(reasons.has(parseNdp(b, 0, Math.min(len, b.length), r))).toBe(true);
      expect(reasons.has(parseIcmpv6(b, 0, len, 0, newIcmpv6Repr()))).toBe(true);
    }), { numRuns: 3000 });
  });
});
