import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DropReason } from '../../src/core/drop.js';
import { setU16, u16 } from '../../src/wire/bytes.js';
import {
  UDP_HLEN, emitUdp, emitUdpWithPseudo, newUdpRepr, parseUdp, parseUdpWithPseudo,
} from '../../src/wire/udp.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

/** The datagram of test/fixtures/udp4-closed-port-icmp.pcap: 192.168.69.1:57658 → .2:9, "hi\n". */
const SRC = 0xc0a84501;
const DST = 0xc0a84502;
const DGRAM = hex('e13a 0009 000b a0d6 68690a');

describe('UDP', () => {
  it('parses a real datagram and verifies its checksum', () => {
    const r = newUdpRepr();
    expect(parseUdp(DGRAM, 0, DGRAM.length, SRC, DST, r)).toBeUndefined();
    expect(r).toEqual({ srcPort: 57658, dstPort: 9, length: 11, checksum: 0xa0d6 });
  });

  it('emits golden bytes, checksumming the payload already in place', () => {
    const b = new Uint8Array(11);
    b.set(DGRAM.subarray(UDP_HLEN), UDP_HLEN);
    const r = newUdpRepr();
    Object.assign(r, { srcPort: 57658, dstPort: 9, length: 11 });
    expect(emitUdp(r, b, 0, SRC, DST)).toBe(UDP_HLEN);
    expect(b).toEqual(DGRAM);
  });

  it('binds the checksum to the addresses (pseudo-header)', () => {
    expect(parseUdp(DGRAM, 0, DGRAM.length, SRC, DST + 1, newUdpRepr())).toBe(DropReason.UDP_CSUM);
    expect(parseUdp(DGRAM, 0, DGRAM.length, DST, SRC, newUdpRepr())).toBeUndefined(); // the sum is symmetric
  });

  it('refuses a damaged datagram', () => {
    for (let i = 0; i < DGRAM.length; i++) {
      if (i === 4 || i === 5) continue; // the length field: see below
      const b = DGRAM.slice();
      b[i] = b[i]! ^ 0x20;
      expect(parseUdp(b, 0, b.length, SRC, DST, newUdpRepr())).toBe(DropReason.UDP_CSUM);
    }
  });

  it('checks lengths: the IP payload, then the length field', () => {
    const r = newUdpRepr();
    expect(parseUdp(DGRAM, 0, 7, SRC, DST, r)).toBe(DropReason.PKT_TOO_SMALL);
    expect(parseUdp(DGRAM, 0, 10, SRC, DST, r)).toBe(DropReason.PKT_TOO_SMALL); // length 11 > 10
    const short = DGRAM.slice();
    setU16(short, 4, 7);
    expect(parseUdp(short, 0, short.length, SRC, DST, r)).toBe(DropReason.PKT_TOO_SMALL);
  });

  it('ignores bytes after `length` (they are not UDP\'s)', () => {
    const padded = new Uint8Array(20).fill(0x55);
    padded.set(DGRAM);
    const r = newUdpRepr();
    expect(parseUdp(padded, 0, padded.length, SRC, DST, r)).toBeUndefined();
    expect(r.length).toBe(11);
  });

  it('accepts checksum 0 as "none" over IPv4, and refuses it where one is required', () => {
    const b = DGRAM.slice();
    setU16(b, 6, 0);
    expect(parseUdp(b, 0, b.length, SRC, DST, newUdpRepr())).toBeUndefined();
    expect(parseUdpWithPseudo(b, 0, b.length, 0, true, newUdpRepr())).toBe(DropReason.UDP_CSUM);
  });

  it('sends a computed checksum of 0 as 0xffff (RFC 768), which verifies', () => {
    // Choose the payload word that makes the checksum come out 0: the checksum of the rest.
    const b = new Uint8Array(10);
    const r = { srcPort: 1234, dstPort: 7, length: 10, checksum: 0 };
    emitUdp(r, b, 0, SRC, DST);
    setU16(b, 8, u16(b, 6));
    emitUdp(r, b, 0, SRC, DST);
    expect(u16(b, 6)).toBe(0xffff);
    expect(parseUdp(b, 0, b.length, SRC, DST, newUdpRepr())).toBeUndefined();
  });

  it('round-trips any header and payload (property)', () => {
    fc.assert(fc.property(fc.nat(0xffff), fc.nat(0xffff), fc.uint8Array({ maxLength: 300 }), fc.nat(0xffff_ffff),
      fc.nat(0xffff_ffff), (srcPort, dstPort, payload, src, dst) => {
        const b = new Uint8Array(UDP_HLEN + payload.length);
        b.set(payload, UDP_HLEN);
        emitUdp({ srcPort, dstPort, length: b.length, checksum: 0 }, b, 0, src, dst);
        const back = newUdpRepr();
        expect(parseUdp(b, 0, b.length, src, dst, back)).toBeUndefined();
        expect(back).toMatchObject({ srcPort, dstPort, length: b.length });
        expect(back.checksum).not.toBe(0);
        // The pseudo-sum forms agree with the IPv4 ones.
        const c = b.slice();
        emitUdpWithPseudo(back, c, 0, 0);
        expect(parseUdpWithPseudo(c, 0, c.length, 0, true, newUdpRepr())).toBeUndefined();
      }));
  });
});
