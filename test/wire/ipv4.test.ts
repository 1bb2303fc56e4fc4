import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DropReason } from '../../src/core/drop.js';
import { setU16 } from '../../src/wire/bytes.js';
import { checksum } from '../../src/wire/checksum.js';
import {
  IPPROTO_ICMP, IPPROTO_UDP, IPV4_HLEN, checkIpv4Options, emitIpv4, newIpv4Repr, parseIpv4, type Ipv4Repr,
} from '../../src/wire/ipv4.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

/** The header of the UDP datagram in test/fixtures/udp4-closed-port-icmp.pcap, frame 1. */
const GOLDEN = hex('4500 001f 71d8 4000 4011 bda1 c0a84501 c0a84502');

/** A packet built from GOLDEN with `edit` applied and the header checksum recomputed. */
function packet(len: number, edit: (b: Uint8Array) => void = () => {}): Uint8Array {
  const b = new Uint8Array(Math.max(len, IPV4_HLEN));
  b.set(GOLDEN);
  edit(b);
  const hl = (b[0]! & 0xf) * 4;
  if (hl >= IPV4_HLEN && hl <= b.length) {
    setU16(b, 10, 0);
    setU16(b, 10, checksum(b, 0, hl));
  }
  return b;
}

describe('IPv4 header', () => {
  it('parses golden bytes', () => {
    const r = newIpv4Repr();
    const b = packet(31);
    expect(parseIpv4(b, 0, b.length, r)).toBeUndefined();
    expect(r).toEqual({
      tos: 0, totalLength: 31, id: 0x71d8, dontFrag: true, moreFrags: false, fragOffset: 0, ttl: 64,
      protocol: IPPROTO_UDP, checksum: 0xbda1, src: 0xc0a84501, dst: 0xc0a84502, headerLen: 20,
      options: new Uint8Array(0),
    });
  });

  it('emits golden bytes, computing the checksum', () => {
    const r = newIpv4Repr();
    Object.assign(r, {
      totalLength: 31, id: 0x71d8, dontFrag: true, ttl: 64, protocol: IPPROTO_UDP,
      checksum: 0x1234, // ignored
      src: 0xc0a84501, dst: 0xc0a84502,
    });
    const b = new Uint8Array(22).fill(0xee);
    expect(emitIpv4(r, b, 1)).toBe(20);
    expect(b.subarray(1, 21)).toEqual(GOLDEN);
    expect(b[0]).toBe(0xee);
    expect(b[21]).toBe(0xee);
  });

  it('encodes the fragment offset in 8-byte units with MF', () => {
    const r = newIpv4Repr();
    Object.assign(r, { totalLength: 1500, id: 0xe2, moreFrags: true, fragOffset: 1480, protocol: IPPROTO_ICMP });
    const b = new Uint8Array(20);
    emitIpv4(r, b, 0);
    expect(b[6]).toBe(0x20); // MF, offset 185 = 0x00b9
    expect(b[7]).toBe(0xb9);
    const back = newIpv4Repr();
    expect(parseIpv4(b, 0, 20, back)).toBe(DropReason.PKT_TOO_SMALL); // only the header is here
    expect(back.fragOffset).toBe(1480);
    expect(back.moreFrags).toBe(true);
  });

  it('emits options padded to a word, and parses them back as a view', () => {
    const r = newIpv4Repr();
    Object.assign(r, { totalLength: 24, protocol: IPPROTO_UDP, options: Uint8Array.of(1, 1, 1) });
    const b = new Uint8Array(24).fill(0xee);
    expect(emitIpv4(r, b, 0)).toBe(24);
    expect(b[0]).toBe(0x46);
    expect(Array.from(b.subarray(20))).toEqual([1, 1, 1, 0]);
    const back = newIpv4Repr();
    expect(parseIpv4(b, 0, 24, back)).toBeUndefined();
    expect(back.headerLen).toBe(24);
    expect(Array.from(back.options)).toEqual([1, 1, 1, 0]);
    expect(back.options.buffer).toBe(b.buffer);
    expect(checkIpv4Options(b, 0, 4)).toBe(-1);
  });

  it('accepts link-layer padding after the datagram', () => {
    const b = packet(60);
    expect(parseIpv4(b, 0, 60, newIpv4Repr())).toBeUndefined();
  });

  // Each case breaks one rule of ip_rcv_core; several also break a later rule, to show the order.
  it.each<[string, Uint8Array, number, DropReason]>([
    ['shorter than 20 bytes', packet(31), 19, DropReason.IP_INHDR],
    ['version 6', packet(31, (b) => { b[0] = 0x65; }), 31, DropReason.IP_INHDR],
    ['IHL 4', packet(31, (b) => { b[0] = 0x44; }), 31, DropReason.IP_INHDR],
    ['IHL beyond the bytes (and a bad checksum)', packet(22, (b) => { b[0] = 0x46; b[10] = b[10]! ^ 1; }), 22, DropReason.IP_INHDR],
    ['bad checksum (and truncated)', (() => { const b = packet(25); b[10] = b[10]! ^ 1; return b; })(), 25, DropReason.IP_CSUM],
    ['total length beyond the bytes', packet(30), 30, DropReason.PKT_TOO_SMALL],
    ['total length below the header', packet(31, (b) => setU16(b, 2, 19)), 31, DropReason.IP_INHDR],
    ['total length below IHL*4', packet(31, (b) => { b[0] = 0x46; setU16(b, 2, 22); }), 31, DropReason.IP_INHDR],
  ])('drops a header with %s', (_what, b, len, reason) => {
    expect(parseIpv4(b, 0, len, newIpv4Repr())).toBe(reason);
  });

  it('flags any change to a real header as a checksum error', () => {
    for (let i = 0; i < IPV4_HLEN; i++) {
      if (i === 0) continue; // version/IHL fail earlier
      const b = packet(31);
      b[i] = b[i]! ^ 0x10;
      expect(parseIpv4(b, 0, 31, newIpv4Repr())).toBe(DropReason.IP_CSUM);
    }
  });

  it('round-trips any repr (property)', () => {
    const repr = fc.record({
      tos: fc.nat(255), id: fc.nat(0xffff), dontFrag: fc.boolean(), moreFrags: fc.boolean(),
      fragOffset: fc.nat(0x1fff).map((u) => u * 8), ttl: fc.nat(255), protocol: fc.nat(255),
      src: fc.nat(0xffff_ffff), dst: fc.nat(0xffff_ffff), optWords: fc.nat(10), payload: fc.nat(100),
    });
    fc.assert(fc.property(repr, ({ optWords, payload, ...fields }) => {
      const options = new Uint8Array(optWords * 4).fill(1); // NOPs
      const headerLen = IPV4_HLEN + options.length;
      const r: Ipv4Repr = { ...fields, totalLength: headerLen + payload, checksum: 0, headerLen, options };
      const b = new Uint8Array(r.totalLength);
      expect(emitIpv4(r, b, 0)).toBe(headerLen);
      const back = newIpv4Repr();
      expect(parseIpv4(b, 0, b.length, back)).toBeUndefined();
      expect({ ...back, checksum: 0 }).toEqual(r);
    }));
  });
});

describe('checkIpv4Options', () => {
  /** Offset of the bad byte in a header whose options are `opts`, or -1. */
  const check = (...opts: number[]): number => {
    const b = new Uint8Array(IPV4_HLEN + opts.length + 8).fill(0xcc); // junk after, to be ignored
    b.set(opts, IPV4_HLEN);
    return checkIpv4Options(b, 0, opts.length);
  };

  it('accepts NOPs, EOL and well-framed TLVs', () => {
    expect(check()).toBe(-1);
    expect(check(1, 1, 1, 0)).toBe(-1);
    expect(check(0x94, 4, 0, 0)).toBe(-1); // router alert
    expect(check(7, 7, 4, 0, 0, 0, 0, 0)).toBe(-1); // record route with one slot, then EOL
    expect(check(0, 0xff, 0xff, 0xff)).toBe(-1); // nothing after EOL counts
  });

  it('points at the option that is badly framed', () => {
    expect(check(0x94, 1, 0, 0)).toBe(20); // length < 2
    expect(check(1, 0x94, 0, 0)).toBe(21); // length 0
    expect(check(1, 1, 0x83, 12, 0, 0, 0, 0)).toBe(22); // longer than what is left
    expect(check(1, 1, 1, 0x07)).toBe(23); // no room for the length byte
    expect(check(0x94, 4, 0, 0, 1, 1, 0x44, 9)).toBe(26);
  });

  it('reports offsets relative to the IP header wherever it sits', () => {
    const b = new Uint8Array(60);
    b[30 + IPV4_HLEN] = 1;
    b[31 + IPV4_HLEN] = 0x44;
    b[32 + IPV4_HLEN] = 1;
    expect(checkIpv4Options(b, 30, 4)).toBe(21);
  });
});
