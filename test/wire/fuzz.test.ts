/**
 * Parsers meet hostile bytes: whatever the input, they return a DropReason or undefined and
 * never throw; and what they accept satisfies the promises their callers rely on.
 */
import fc from 'fast-check';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DropReason } from '../../src/core/drop.js';
import { ARP_LEN, newArpRepr, parseArp } from '../../src/wire/arp.js';
import { checksum } from '../../src/wire/checksum.js';
import { ETH_HLEN, newEthernetRepr, parseEthernet } from '../../src/wire/ethernet.js';
import { ICMP_HLEN, newIcmpRepr, parseIcmpv4 } from '../../src/wire/icmpv4.js';
import { IPV4_HLEN, checkIpv4Options, newIpv4Repr, parseIpv4 } from '../../src/wire/ipv4.js';
import { UDP_HLEN, newUdpRepr, parseUdp } from '../../src/wire/udp.js';
import { readPcap } from '../helpers/pcap-read.js';

const REASONS = new Set<unknown>([undefined, ...Object.values(DropReason)]);

/** A buffer, an offset in it, and a length that may run past its end. */
const input = fc.uint8Array({ maxLength: 100 }).chain((b) =>
  fc.tuple(fc.constant(b), fc.nat(b.length), fc.nat(b.length + 8)));

describe('parsers on random input', () => {
  it('never throw, and return a known verdict', () => {
    const eth = newEthernetRepr();
    const arp = newArpRepr();
    const ip = newIpv4Repr();
    const icmp = newIcmpRepr();
    const udp = newUdpRepr();
    fc.assert(fc.property(input, fc.nat(0xffff_ffff), fc.nat(0xffff_ffff), ([b, o, len], src, dst) => {
      expect(REASONS.has(parseEthernet(b, o, len, eth))).toBe(true);
      expect(REASONS.has(parseArp(b, o, len, arp))).toBe(true);
      expect(REASONS.has(parseIpv4(b, o, len, ip))).toBe(true);
      expect(REASONS.has(parseIcmpv4(b, o, len, icmp))).toBe(true);
      expect(REASONS.has(parseUdp(b, o, len, src, dst, udp))).toBe(true);
      expect(checkIpv4Options(b, o, len)).toBeGreaterThanOrEqual(-1);
    }), { numRuns: 2000 });
  });

  it('accept only what fits (within the buffer)', () => {
    fc.assert(fc.property(input, fc.nat(0xffff_ffff), fc.nat(0xffff_ffff), ([b, o, l], src, dst) => {
      const len = Math.min(l, b.length - o);
      const eth = newEthernetRepr();
      if (parseEthernet(b, o, len, eth) === undefined) expect(eth.headerLen).toBeLessThanOrEqual(len);
      if (parseArp(b, o, len, newArpRepr()) === undefined) expect(len).toBeGreaterThanOrEqual(ARP_LEN);
      const ip = newIpv4Repr();
      if (parseIpv4(b, o, len, ip) === undefined) {
        expect(ip.headerLen).toBeGreaterThanOrEqual(IPV4_HLEN);
        expect(ip.headerLen).toBeLessThanOrEqual(ip.totalLength);
        expect(ip.totalLength).toBeLessThanOrEqual(len);
        expect(ip.options.length).toBe(ip.headerLen - IPV4_HLEN);
        expect(checksum(b, o, ip.headerLen)).toBe(0);
      }
      if (parseIcmpv4(b, o, len, newIcmpRepr()) === undefined) expect(len).toBeGreaterThanOrEqual(ICMP_HLEN);
      const udp = newUdpRepr();
      if (parseUdp(b, o, len, src, dst, udp) === undefined) {
        expect(udp.length).toBeGreaterThanOrEqual(UDP_HLEN);
        expect(udp.length).toBeLessThanOrEqual(len);
      }
      const bad = checkIpv4Options(b, o - Math.min(o, IPV4_HLEN), Math.max(0, len - IPV4_HLEN));
      expect(bad === -1 || bad >= IPV4_HLEN).toBe(true);
    }), { numRuns: 2000 });
  });
});

describe('parsers on truncated real frames', () => {
  const path = fileURLToPath(new URL('../fixtures/udp4-closed-port-icmp.pcap', import.meta.url));
  const frames = readPcap(path).map((r) => r.data);

  it.each(frames.map((f, i) => [i + 1, f] as const))('frame %i: every cut is refused by some layer', (_n, frame) => {
    for (let cut = 0; cut < frame.length; cut++) {
      const b = frame.slice(0, cut);
      const eth = newEthernetRepr();
      const e = parseEthernet(b, 0, cut, eth);
      if (cut < ETH_HLEN) {
        expect(e).toBe(DropReason.PKT_TOO_SMALL);
        continue;
      }
      expect(e).toBeUndefined();
      const ipLen = cut - ETH_HLEN;
      // Too short for the header: a header error; header whole but datagram cut: truncated.
      expect(parseIpv4(b, ETH_HLEN, ipLen, newIpv4Repr()))
        .toBe(ipLen < IPV4_HLEN ? DropReason.IP_INHDR : DropReason.PKT_TOO_SMALL);
    }
  });
});
