import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DropReason } from '../../src/core/drop.js';
import {
  ICMP_DEST_UNREACH, ICMP_ECHO, ICMP_FRAG_NEEDED, ICMP_HLEN, ICMP_PARAMETERPROB, emitIcmpv4, icmpEchoRest,
  newIcmpRepr, parseIcmpv4,
} from '../../src/wire/icmpv4.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

/** The echo request of test/fixtures/arp-ping4.pcap, frame 4: id 0x2112, seq 1, 56 data bytes. */
const ECHO = hex(`
  0800 064a 2112 0001
  1b69066b00000000 ebfb040000000000 1011121314151617 18191a1b1c1d1e1f
  2021222324252627 28292a2b2c2d2e2f 3031323334353637`);

describe('ICMPv4', () => {
  it('parses a real echo request', () => {
    const r = newIcmpRepr();
    expect(parseIcmpv4(ECHO, 0, ECHO.length, r)).toBeUndefined();
    expect(r).toEqual({ type: ICMP_ECHO, code: 0, checksum: 0x064a, rest: icmpEchoRest(0x2112, 1) });
    expect(r.rest).toBe(0x2112_0001);
  });

  it('emits golden bytes, checksumming the body already in place', () => {
    const b = ECHO.slice();
    b.fill(0, 0, ICMP_HLEN);
    const r = newIcmpRepr();
    r.type = ICMP_ECHO;
    r.rest = icmpEchoRest(0x2112, 1);
    r.checksum = 0xdead; // ignored
    expect(emitIcmpv4(r, b, 0, b.length)).toBe(ICMP_HLEN);
    expect(b).toEqual(ECHO);
  });

  it('carries the parameter-problem pointer and the next-hop MTU in `rest`', () => {
    const b = new Uint8Array(12);
    const r = newIcmpRepr();
    r.type = ICMP_PARAMETERPROB;
    r.rest = (21 << 24) >>> 0;
    emitIcmpv4(r, b, 0, 12);
    expect(b[4]).toBe(21);
    r.type = ICMP_DEST_UNREACH;
    r.code = ICMP_FRAG_NEEDED;
    r.rest = 1400;
    emitIcmpv4(r, b, 0, 12);
    expect(Array.from(b.subarray(4, 8))).toEqual([0, 0, 0x05, 0x78]);
    const back = newIcmpRepr();
    expect(parseIcmpv4(b, 0, 12, back)).toBeUndefined();
    expect(back.rest).toBe(1400);
  });

  it('refuses fewer than 8 bytes, then any damaged byte', () => {
    expect(parseIcmpv4(ECHO, 0, 7, newIcmpRepr())).toBe(DropReason.PKT_TOO_SMALL);
    for (let i = 0; i < ECHO.length; i++) {
      const b = ECHO.slice();
      b[i] = b[i]! ^ 0x01;
      expect(parseIcmpv4(b, 0, b.length, newIcmpRepr())).toBe(DropReason.ICMP_CSUM);
    }
  });

  it('round-trips any header over any body, odd lengths included (property)', () => {
    fc.assert(fc.property(fc.nat(255), fc.nat(255), fc.nat(0xffff_ffff), fc.uint8Array({ maxLength: 200 }),
      (type, code, rest, body) => {
        const b = new Uint8Array(ICMP_HLEN + body.length);
        b.set(body, ICMP_HLEN);
        emitIcmpv4({ type, code, rest, checksum: 0 }, b, 0, b.length);
        const back = newIcmpRepr();
        expect(parseIcmpv4(b, 0, b.length, back)).toBeUndefined();
        expect(back).toMatchObject({ type, code, rest });
      }));
  });
});
