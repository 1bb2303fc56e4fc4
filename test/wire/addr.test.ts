import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BROADCAST_MAC, IPV4_BROADCAST, formatIpv4, formatMac, ipv4MulticastMac, isIpv4Multicast, isMulticastMac,
  parseCidr, parseIpv4, parseMac, prefixMask, readIpv4, readMac, writeIpv4, writeMac,
} from '../../src/wire/addr.js';
import { setU16, setU32, u16, u32 } from '../../src/wire/bytes.js';

describe('bytes', () => {
  it('reads and writes big-endian', () => {
    const b = new Uint8Array([0x12, 0x34, 0xfe, 0xdc, 0xba, 0x98]);
    expect(u16(b, 0)).toBe(0x1234);
    expect(u16(b, 2)).toBe(0xfedc);
    expect(u32(b, 2)).toBe(0xfedcba98); // non-negative despite the top bit
    setU16(b, 1, 0xabcd);
    setU32(b, 2, 0xffff_fffe);
    expect(Array.from(b)).toEqual([0x12, 0xab, 0xff, 0xff, 0xff, 0xfe]);
  });

  it('round-trips any value (property)', () => {
    fc.assert(fc.property(fc.nat({ max: 0xffff_ffff }), fc.nat({ max: 0xffff }), (v32, v16) => {
      const b = new Uint8Array(8);
      setU32(b, 1, v32);
      setU16(b, 5, v16);
      expect(u32(b, 1)).toBe(v32);
      expect(u16(b, 5)).toBe(v16);
      expect(b[0]).toBe(0);
      expect(b[7]).toBe(0);
    }));
  });
});

describe('MAC addresses', () => {
  it('parse, format, read and write', () => {
    expect(parseMac('02:00:00:00:00:0a')).toBe(0x02_00_00_00_00_0a);
    expect(parseMac('FF-FF-FF-FF-FF-FF')).toBe(BROADCAST_MAC);
    expect(formatMac(0x02_00_00_00_00_0a)).toBe('02:00:00:00:00:0a');
    expect(formatMac(0xde_ad_be_ef_ca_fe)).toBe('de:ad:be:ef:ca:fe');
    const b = new Uint8Array(8);
    writeMac(b, 1, 0xde_ad_be_ef_ca_fe);
    expect(Array.from(b)).toEqual([0, 0xde, 0xad, 0xbe, 0xef, 0xca, 0xfe, 0]);
    expect(readMac(b, 1)).toBe(0xde_ad_be_ef_ca_fe);
  });

  it.each(['', '02:00:00:00:00', '02:00:00:00:00:0a:0b', '02:00:00:00:00:0g', '02-00:00:00:00:0a', '2:0:0:0:0:a',
    '02:00:00:00:00:0a ', '0200.0000.000a'])('refuses %j', (s) => {
    expect(parseMac(s)).toBeNull();
  });

  it('round-trips any 48-bit value (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 48 - 1 }), (m) => {
      expect(parseMac(formatMac(m))).toBe(m);
      const b = new Uint8Array(6);
      writeMac(b, 0, m);
      expect(readMac(b, 0)).toBe(m);
      expect(isMulticastMac(m)).toBe((b[0]! & 1) === 1);
    }));
  });

  it('tells group from individual addresses by the I/G bit', () => {
    expect(isMulticastMac(BROADCAST_MAC)).toBe(true);
    expect(isMulticastMac(0x01_00_5e_00_00_01)).toBe(true);
    expect(isMulticastMac(0x33_33_00_00_00_01)).toBe(true);
    expect(isMulticastMac(0x02_00_00_00_00_0a)).toBe(false);
    expect(isMulticastMac(0x00_ff_ff_ff_ff_ff)).toBe(false);
  });

  it('maps IPv4 groups onto 01:00:5e and the low 23 bits (RFC 1112 §6.4)', () => {
    expect(formatMac(ipv4MulticastMac(parseIpv4('224.0.0.251')!))).toBe('01:00:5e:00:00:fb');
    expect(formatMac(ipv4MulticastMac(parseIpv4('239.255.255.250')!))).toBe('01:00:5e:7f:ff:fa');
    // The 24th bit is lost: 224.128.0.1 shares 224.0.0.1's MAC.
    expect(ipv4MulticastMac(parseIpv4('224.128.0.1')!)).toBe(ipv4MulticastMac(parseIpv4('224.0.0.1')!));
  });
});

describe('IPv4 addresses', () => {
  it('parse, format, read and write', () => {
    expect(parseIpv4('192.168.69.2')).toBe(0xc0a84502);
    expect(parseIpv4('255.255.255.255')).toBe(IPV4_BROADCAST);
    expect(parseIpv4('0.0.0.0')).toBe(0);
    expect(formatIpv4(0xc0a84502)).toBe('192.168.69.2');
    const b = new Uint8Array(6);
    writeIpv4(b, 1, 0xc0a84502);
    expect(Array.from(b)).toEqual([0, 192, 168, 69, 2, 0]);
    expect(readIpv4(b, 1)).toBe(0xc0a84502);
  });

  it.each(['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '1.2.3.04', '1..3.4', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.-4',
    '0x1.2.3.4', '1.2.3.', '.1.2.3', '1.2.3.4/24'])('refuses %j', (s) => {
    expect(parseIpv4(s)).toBeNull();
  });

  it('round-trips any 32-bit value (property)', () => {
    fc.assert(fc.property(fc.nat({ max: 0xffff_ffff }), (a) => {
      expect(parseIpv4(formatIpv4(a))).toBe(a);
    }));
  });

  it('knows the multicast range 224.0.0.0/4', () => {
    expect(isIpv4Multicast(parseIpv4('224.0.0.1')!)).toBe(true);
    expect(isIpv4Multicast(parseIpv4('239.255.255.255')!)).toBe(true);
    expect(isIpv4Multicast(parseIpv4('223.255.255.255')!)).toBe(false);
    expect(isIpv4Multicast(parseIpv4('240.0.0.0')!)).toBe(false);
  });

  it('parses CIDR notation and builds masks', () => {
    expect(parseCidr('192.168.69.2/24')).toEqual({ addr: 0xc0a84502, prefixLen: 24 });
    expect(parseCidr('0.0.0.0/0')).toEqual({ addr: 0, prefixLen: 0 });
    for (const bad of ['192.168.69.2', '192.168.69.2/33', '192.168.69.2/', '192.168.69.2/024', '1.2.3/8', '1.2.3.4/x']) {
      expect(parseCidr(bad)).toBeNull();
    }
    expect(prefixMask(0)).toBe(0);
    expect(prefixMask(1)).toBe(0x8000_0000);
    expect(prefixMask(24)).toBe(0xffff_ff00);
    expect(prefixMask(31)).toBe(0xffff_fffe);
    expect(prefixMask(32)).toBe(0xffff_ffff);
  });
});
