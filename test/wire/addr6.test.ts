import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  IPV6_ALL_NODES, IPV6_ALL_ROUTERS, IPV6_ANY, eui64Addr, formatIp, formatMac, ipv6Bytes, ipv6MulticastMac,
  ipv6MulticastScope, ipv6Prefix, ipv6PrefixEqual, ipv6Scope, isIpv4, isIpv6LinkLocal, isIpv6Loopback,
  isIpv6Multicast, isIpv6Unspecified, linkLocalFromMac, parseCidr6, parseIp, parseIpv4, parseIpv6, parseMac,
  readIpv6, solicitedNodeAddr, writeIpv6,
} from '../../src/wire/addr.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

/**
 * An independent serializer: WHATWG URL's IPv6 host serializer compresses the first longest
 * run of two or more zero groups and writes lowercase hex without leading zeros, as RFC 5952
 * does — but never mixed notation, so it is the oracle for every address but ::ffff:0:0/96.
 */
function urlForm(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

const isMapped = (b: Uint8Array): boolean => b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;

/** 16 bytes, biased towards the shapes that matter: zero runs, well-known prefixes, v4-mapped. */
const addrBytes = fc.oneof(
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
  // Each group zero half the time: many runs, ties and edge positions.
  fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 }).map((g) => {
    const b = new Uint8Array(16);
    g.forEach((v, i) => { b[2 * i] = v >>> 8; b[2 * i + 1] = v & 0xff; });
    return b;
  }),
  fc.tuple(fc.constantFrom(0xff02, 0xfe80, 0xfebf, 0xfec0, 0xff0e, 0xfd00, 0x2001, 0x00ff, 0x0fff, 0xff),
    fc.uint8Array({ minLength: 14, maxLength: 14 })).map(([first, rest]) => {
    const b = new Uint8Array(16);
    b[0] = first >>> 8;
    b[1] = first & 0xff;
    b.set(rest, 2);
    return b;
  }),
  fc.uint8Array({ minLength: 4, maxLength: 4 }).map((v4) => Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4])),
);

describe('IPv6 text (RFC 4291 §2.2, RFC 5952)', () => {
  it.each([
    // RFC 5952 §2.1–2.3: many ways to write one address …
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8::1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8::0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8::1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:0:1::1', '2001:db8::1:0:0:1'],
    ['2001:db8:0000:0:1::1', '2001:db8::1:0:0:1'],
    ['2001:DB8:0:0:1::1', '2001:db8::1:0:0:1'],
    ['2001:db8:aaaa:bbbb:cccc:dddd:eeee:0001', '2001:db8:aaaa:bbbb:cccc:dddd:eeee:1'],
    ['2001:db8:aaaa:bbbb:cccc:dddd:eeee:001', '2001:db8:aaaa:bbbb:cccc:dddd:eeee:1'],
    ['2001:db8:aaaa:bbbb:cccc:dddd:eeee:AAAA', '2001:db8:aaaa:bbbb:cccc:dddd:eeee:aaaa'],
    ['2001:db8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:0:0::1', '2001:db8::1'],
    ['2001:db8::0:1', '2001:db8::1'],
    ['2001:db8:0::1', '2001:db8::1'],
    ['2001:db8::aaaa:0:0:1', '2001:db8::aaaa:0:0:1'],
    ['2001:db8:0:0:aaaa::1', '2001:db8::aaaa:0:0:1'],
    // … §4.2.2: a single zero group is not compressed …
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:db8::1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    // … §4.2.3: the longest run is, and the first of equal runs.
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    // §5: mixed notation for IPv4-mapped addresses only.
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
    ['::FFFF:c000:0201', '::ffff:192.0.2.1'],
    ['0:0:0:0:0:ffff:0.0.0.0', '::ffff:0.0.0.0'],
    ['::1.2.3.4', '::102:304'],
    ['::ffff:0:1.2.3.4', '::ffff:0:102:304'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
    // Edges of '::'.
    ['::', '::'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['::1', '::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1::', '1::'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['0:0:1:0:0:0:0:0', '0:0:1::'],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    ['FE80::FF:FE00:B', 'fe80::ff:fe00:b'],
    ['0000:0000:0000:0000:0000:ffff:255.255.255.255', '::ffff:255.255.255.255'],
  ])('%s → %s', (text, canonical) => {
    expect(parseIpv6(text)).toBe(canonical);
    expect(parseIpv6(canonical)).toBe(canonical);
    expect(readIpv6(ipv6Bytes(text), 0)).toBe(canonical);
  });

  it.each([
    '', ':', ':::', '::::', '1:::2', '1::2::3', '::1::', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5::6:7:8',
    '1:2:3:4:5:6:7:8::', '::1:2:3:4:5:6:7:8', ':1::', '1::2:', ':1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:', '12345::',
    '::12345', '1:02345::', 'g::', '::g', 'fe80::1%eth0', 'fe80::1%1', '[::1]', ' ::1', '::1 ', ':: 1', '1.2.3.4',
    '::1.2.3', '::1.2.3.4.5', '::1.2.3.04', '::256.0.0.1', '::1.2.3.4:5', '::1.2.3.4::', '1.2.3.4::',
    '1:2:3:4:5:6:7:1.2.3.4', '::ffff:1.2.3.4.5', '::ffff:1a.2.3.4', '0x1::', '-1::', '+1::', '::-1', '1:2:3:4:5:6:7:-8',
    '::ffff:192.0.2.1/96', '0000:0000:0000:0000:0000:ffff:255.255.255.2555', 'ff02::1\n',
  ])('refuses %j', (s) => {
    expect(parseIpv6(s)).toBeNull();
    expect(() => ipv6Bytes(s)).toThrow();
  });

  it('formats any 16 bytes as WHATWG URL does, mixed notation aside, and parses them back (property)', () => {
    fc.assert(fc.property(addrBytes, (b) => {
      const text = readIpv6(b, 0);
      expect(text).toBe(text.toLowerCase());
      if (isMapped(b)) expect(text).toBe(`::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`);
      else expect(text).toBe(urlForm(b));
      expect(parseIpv6(text)).toBe(text);
      expect(Array.from(ipv6Bytes(text))).toEqual(Array.from(b));
    }), { numRuns: 3000 });
  });

  it('parses every other text form of an address to the same canonical text (property)', () => {
    // Leading zeros, either case, and '::' over any run of zeros (not only the longest).
    const form = fc.tuple(addrBytes, fc.array(fc.nat(3), { minLength: 8, maxLength: 8 }), fc.boolean(), fc.nat(), fc.boolean());
    fc.assert(fc.property(form, ([b, pads, upper, pick, dotted]) => {
      const g: string[] = [];
      for (let i = 0; i < 8; i++) g.push(((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16).padStart(1 + pads[i]!, '0'));
      if (dotted) g.splice(6, 2, `${b[12]}.${b[13]}.${b[14]}.${b[15]}`);
      const zeroRuns: [number, number][] = [];
      for (let i = 0; i < g.length; i++) {
        if (/^0+$/.test(g[i]!)) {
          let j = i;
          while (j + 1 < g.length && /^0+$/.test(g[j + 1]!)) j++;
          zeroRuns.push([i, j]);
          i = j;
        }
      }
      let text = g.join(':');
      if (zeroRuns.length > 0) {
        const [from, to] = zeroRuns[pick % zeroRuns.length]!;
        const start = pick % 2 === 0 ? from : to; // compress the whole run or just its last group
        text = `${g.slice(0, start).join(':')}::${g.slice(to + 1).join(':')}`;
      }
      if (upper) text = text.toUpperCase();
      expect(parseIpv6(text)).toBe(readIpv6(b, 0));
    }), { numRuns: 3000 });
  });

  it('reads and writes at an offset, and a read of the same bytes returns the same string', () => {
    const b = new Uint8Array(20);
    writeIpv6(b, 3, 'fd00:69::2');
    expect(Array.from(b.subarray(3, 19))).toEqual(Array.from(hex('fd000069000000000000000000000002')));
    expect(b[2]).toBe(0);
    expect(b[19]).toBe(0);
    expect(readIpv6(b, 3)).toBe('fd00:69::2');
    // Hits and misses of the read cache give equal results whatever evicts what.
    const seen = new Map<string, string>();
    fc.assert(fc.property(fc.array(addrBytes, { minLength: 1, maxLength: 600 }), (list) => {
      for (const a of list) {
        const t = readIpv6(a, 0);
        const key = Buffer.from(a).toString('hex');
        if (seen.has(key)) expect(t).toBe(seen.get(key));
        seen.set(key, t);
        expect(Buffer.from(ipv6Bytes(t)).toString('hex')).toBe(key);
      }
    }), { numRuns: 20 });
  });

  it('keeps the byte cache bounded and correct past its size', () => {
    const first = ipv6Bytes('2001:db8::1');
    expect(ipv6Bytes('2001:db8::1')).toBe(first); // cached: the same array
    for (let i = 0; i < 5000; i++) expect(ipv6Bytes(`2001:db8::${i.toString(16)}`)[15]).toBe(i & 0xff);
    expect(Array.from(ipv6Bytes('2001:db8::1'))).toEqual(Array.from(first));
  });
});

describe('IPv6 prefixes', () => {
  it('parses addr/len', () => {
    expect(parseCidr6('fd00:69::2/64')).toEqual({ addr: 'fd00:69::2', prefixLen: 64 });
    expect(parseCidr6('FD00:0069::/48')).toEqual({ addr: 'fd00:69::', prefixLen: 48 });
    expect(parseCidr6('::/0')).toEqual({ addr: '::', prefixLen: 0 });
    expect(parseCidr6('::1/128')).toEqual({ addr: '::1', prefixLen: 128 });
    for (const s of ['fd00::', 'fd00::/', 'fd00::/129', 'fd00::/064', 'fd00::/-1', 'fd00::/6 4', '/64', 'fd00::/64/1', '1.2.3.4/24']) {
      expect(parseCidr6(s)).toBeNull();
    }
  });

  it('compares and masks prefixes of any length', () => {
    expect(ipv6PrefixEqual('fd00:69::1', 'fd00:69::2', 64)).toBe(true);
    expect(ipv6PrefixEqual('fd00:69::1', 'fd00:69::2', 126)).toBe(true); // …01 and …10
    expect(ipv6PrefixEqual('fd00:69::1', 'fd00:69::2', 127)).toBe(false);
    expect(ipv6PrefixEqual('fd00:69::1', 'fd00:6a::1', 30)).toBe(true); // 0x69, 0x6a: …01, …10
    expect(ipv6PrefixEqual('fd00:69::1', 'fd00:6a::1', 31)).toBe(false);
    expect(ipv6PrefixEqual('fe80::1', 'febf::1', 10)).toBe(true);
    expect(ipv6PrefixEqual('fe80::1', 'fec0::1', 10)).toBe(false);
    expect(ipv6PrefixEqual('::', 'ffff::', 0)).toBe(true);
    expect(ipv6Prefix('fd00:69::2', 64)).toBe('fd00:69::');
    expect(ipv6Prefix('fd00:69:ffff:ffff::2', 36)).toBe('fd00:69:f000::');
    expect(ipv6Prefix('fd00:69::2', 128)).toBe('fd00:69::2');
    expect(ipv6Prefix('fd00:69::2', 0)).toBe('::');
  });

  it('agrees with a BigInt reference (property)', () => {
    const big = (b: Uint8Array): bigint => BigInt(`0x${Buffer.from(b).toString('hex')}`);
    fc.assert(fc.property(addrBytes, addrBytes, fc.integer({ min: 0, max: 128 }), fc.boolean(), (x, y, len, share) => {
      if (share) y.set(x.subarray(0, len >>> 3)); // make long common prefixes common
      const a = readIpv6(x, 0);
      const b = readIpv6(y, 0);
      const shift = BigInt(128 - len);
      expect(ipv6PrefixEqual(a, b, len)).toBe(big(x) >> shift === big(y) >> shift);
      const masked = ipv6Bytes(ipv6Prefix(a, len));
      expect(big(masked)).toBe((big(x) >> shift) << shift);
    }), { numRuns: 2000 });
  });
});

describe('IPv6 address kinds', () => {
  it('tells multicast, link-local, unspecified and loopback from the text', () => {
    for (const a of ['ff02::1', 'ff02::1:ff00:2', 'ff0e::101', 'ff00::', 'ffff::1']) expect(isIpv6Multicast(a)).toBe(true);
    for (const a of ['ff::', 'ff:1::', 'ff0::1', 'fe80::1', '::ffff:255.255.255.255', '::', '2001:db8::ff02']) {
      expect(isIpv6Multicast(a)).toBe(false);
    }
    for (const a of ['fe80::ff:fe00:b', 'fe80::', 'febf:ffff::1', 'fe9a::1', 'feaa::1']) expect(isIpv6LinkLocal(a)).toBe(true);
    for (const a of ['fec0::1', 'fe7f::1', 'fe8::1', 'e80:1::', 'ff02::1', '::1', 'fd00:69::1']) {
      expect(isIpv6LinkLocal(a)).toBe(false);
    }
    expect(isIpv6Unspecified(IPV6_ANY)).toBe(true);
    expect(isIpv6Unspecified('::1')).toBe(false);
    expect(isIpv6Loopback('::1')).toBe(true);
    expect(isIpv6Loopback('::')).toBe(false);
    expect(isIpv6Loopback('::ffff:127.0.0.1')).toBe(false);
  });

  it('reads the multicast scope (RFC 4291 §2.7) and ranks scopes (RFC 6724 §3.1)', () => {
    expect(ipv6MulticastScope(IPV6_ALL_NODES)).toBe(2);
    expect(ipv6MulticastScope('ff01::1')).toBe(1);
    expect(ipv6MulticastScope('ff05::2')).toBe(5);
    expect(ipv6MulticastScope('ff1e::1234')).toBe(14);
    expect(ipv6MulticastScope('ff30::')).toBe(0);
    expect(ipv6MulticastScope('fe80::1')).toBe(-1);
    expect(ipv6Scope('ff02::1')).toBe(2);
    expect(ipv6Scope('fe80::1')).toBe(2);
    expect(ipv6Scope('::1')).toBe(2);
    expect(ipv6Scope('fec0::1')).toBe(5);
    expect(ipv6Scope('fd00:69::1')).toBe(14);
    expect(ipv6Scope('2001:db8::1')).toBe(14);
  });

  it('agree with the bytes for any address (property)', () => {
    fc.assert(fc.property(addrBytes, (b) => {
      const a = readIpv6(b, 0);
      expect(isIpv6Multicast(a)).toBe(b[0] === 0xff);
      expect(isIpv6LinkLocal(a)).toBe(b[0] === 0xfe && (b[1]! & 0xc0) === 0x80);
      expect(isIpv6Unspecified(a)).toBe(b.every((x) => x === 0));
      expect(isIpv6Loopback(a)).toBe(b.subarray(0, 15).every((x) => x === 0) && b[15] === 1);
      expect(ipv6MulticastScope(a)).toBe(b[0] === 0xff ? b[1]! & 0x0f : -1);
    }), { numRuns: 3000 });
  });
});

describe('IPv6 addresses derived from others', () => {
  it('makes solicited-node groups (RFC 4291 §2.7.1) and their MACs (RFC 2464 §7)', () => {
    // As in test/fixtures/ping6-ndp.pcap frame 1: the NS for fd00:69::2 goes to ff02::1:ff00:2
    // at 33:33:ff:00:00:02.
    expect(solicitedNodeAddr('fd00:69::2')).toBe('ff02::1:ff00:2');
    expect(formatMac(ipv6MulticastMac('ff02::1:ff00:2'))).toBe('33:33:ff:00:00:02');
    expect(solicitedNodeAddr('fe80::ff:fe00:b')).toBe('ff02::1:ff00:b');
    expect(solicitedNodeAddr('2001:db8::1234:5678:9abc:def0')).toBe('ff02::1:ffbc:def0');
    expect(solicitedNodeAddr('2001:db8::12:3400:0')).toBe('ff02::1:ff00:0');
    expect(formatMac(ipv6MulticastMac(IPV6_ALL_NODES))).toBe('33:33:00:00:00:01');
    expect(formatMac(ipv6MulticastMac(IPV6_ALL_ROUTERS))).toBe('33:33:00:00:00:02');
    expect(formatMac(ipv6MulticastMac('ff02::1:ffbc:def0'))).toBe('33:33:ff:bc:de:f0');
  });

  it('makes modified EUI-64 interface ids (RFC 4291 App. A, RFC 2464 §4)', () => {
    // The two hosts of the captures: their link-local sources in ping6-fragmented.pcap.
    expect(linkLocalFromMac(parseMac('02:00:00:00:00:0a')!)).toBe('fe80::ff:fe00:a');
    expect(linkLocalFromMac(parseMac('02:00:00:00:00:0b')!)).toBe('fe80::ff:fe00:b');
    // RFC 4291 App. A's universal id: the u bit flips to 1.
    expect(linkLocalFromMac(parseMac('34:56:78:9a:bc:de')!)).toBe('fe80::3656:78ff:fe9a:bcde');
    expect(linkLocalFromMac(parseMac('ff:ff:ff:ff:ff:ff')!)).toBe('fe80::fdff:ffff:feff:ffff');
    expect(eui64Addr('fd00:69::', parseMac('02:00:00:00:00:0b')!)).toBe('fd00:69::ff:fe00:b');
    expect(eui64Addr('2001:db8:1:2:3:4:5:6', parseMac('00:00:00:00:00:00')!)).toBe('2001:db8:1:2:200:ff:fe00:0');
  });
});

describe('either family', () => {
  it('parses, formats and tells the families apart', () => {
    const v4 = parseIp('192.168.69.2');
    const v6 = parseIp('FD00:69::2');
    expect(v4).toBe(parseIpv4('192.168.69.2'));
    expect(v6).toBe('fd00:69::2');
    expect(isIpv4(v4!)).toBe(true);
    expect(isIpv4(v6!)).toBe(false);
    expect(formatIp(v4!)).toBe('192.168.69.2');
    expect(formatIp(v6!)).toBe('fd00:69::2');
    expect(parseIp('192.168.69')).toBeNull();
    expect(parseIp('fd00:69::2::')).toBeNull();
    expect(parseIp('')).toBeNull();
  });
});
