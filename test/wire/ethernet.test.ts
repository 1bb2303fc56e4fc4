import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DropReason } from '../../src/core/drop.js';
import { ARPOP_REQUEST, ARP_LEN, emitArp, newArpRepr, parseArp } from '../../src/wire/arp.js';
import {
  ETH_HLEN, ETH_P_8021Q, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, emitEthernet, newEthernetRepr, parseEthernet,
} from '../../src/wire/ethernet.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

// The ARP request of test/fixtures/arp-ping4.pcap, frame 2.
const ARP_REQUEST_FRAME = hex(`
  ffffffffffff 02000000000a 0806
  0001 0800 06 04 0001 02000000000a c0a84501 000000000000 c0a84502`);

describe('Ethernet', () => {
  it('parses an untagged header', () => {
    const eth = newEthernetRepr();
    expect(parseEthernet(ARP_REQUEST_FRAME, 0, ARP_REQUEST_FRAME.length, eth)).toBeUndefined();
    expect(eth).toEqual({
      dst: 0xffff_ffff_ffff, src: 0x02_00_00_00_00_0a, etherType: ETH_P_ARP, vlanId: -1, vlanPcp: 0, headerLen: 14,
    });
  });

  it('emits an untagged header to golden bytes', () => {
    const eth = newEthernetRepr();
    eth.dst = 0x02_00_00_00_00_0b;
    eth.src = 0x02_00_00_00_00_0a;
    eth.etherType = ETH_P_IPV6;
    const b = new Uint8Array(16).fill(0xee);
    expect(emitEthernet(eth, b, 1)).toBe(ETH_HLEN);
    expect(b).toEqual(hex('ee 02000000000b 02000000000a 86dd ee'));
  });

  it('recognises one 802.1Q tag and reports the inner EtherType', () => {
    // PCP 5, DEI 0, VLAN 100 → TCI 0xa064.
    const tagged = hex('02000000000b 02000000000a 8100 a064 0800 45');
    const eth = newEthernetRepr();
    expect(parseEthernet(tagged, 0, tagged.length, eth)).toBeUndefined();
    expect(eth.vlanId).toBe(100);
    expect(eth.vlanPcp).toBe(5);
    expect(eth.etherType).toBe(ETH_P_IP);
    expect(eth.headerLen).toBe(18);
    const b = new Uint8Array(18);
    expect(emitEthernet(eth, b, 0)).toBe(18);
    expect(b).toEqual(tagged.subarray(0, 18));
  });

  it('leaves a second tag to the caller', () => {
    const qinq = hex('02000000000b 02000000000a 8100 0001 8100 0002 0800');
    const eth = newEthernetRepr();
    expect(parseEthernet(qinq, 0, qinq.length, eth)).toBeUndefined();
    expect(eth.vlanId).toBe(1);
    expect(eth.etherType).toBe(ETH_P_8021Q);
  });

  it('refuses frames shorter than their header', () => {
    const eth = newEthernetRepr();
    expect(parseEthernet(ARP_REQUEST_FRAME, 0, 13, eth)).toBe(DropReason.PKT_TOO_SMALL);
    expect(parseEthernet(ARP_REQUEST_FRAME, 0, 14, eth)).toBeUndefined();
    const tagged = hex('02000000000b 02000000000a 8100 a064 0800');
    expect(parseEthernet(tagged, 0, 17, eth)).toBe(DropReason.PKT_TOO_SMALL);
    expect(parseEthernet(tagged, 0, 18, eth)).toBeUndefined();
  });

  it('round-trips any repr (property)', () => {
    const mac = fc.integer({ min: 0, max: 2 ** 48 - 1 });
    fc.assert(fc.property(mac, mac, fc.integer({ min: 0, max: 0xffff }).filter((t) => t !== ETH_P_8021Q),
      fc.integer({ min: -1, max: 4095 }), fc.integer({ min: 0, max: 7 }), (dst, src, etherType, vlanId, pcp) => {
        const r = { dst, src, etherType, vlanId, vlanPcp: vlanId < 0 ? 0 : pcp, headerLen: vlanId < 0 ? 14 : 18 };
        const b = new Uint8Array(18);
        expect(emitEthernet(r, b, 0)).toBe(r.headerLen);
        const back = newEthernetRepr();
        expect(parseEthernet(b, 0, r.headerLen, back)).toBeUndefined();
        expect(back).toEqual(r);
      }));
  });
});

describe('ARP', () => {
  it('parses the request of a real capture', () => {
    const arp = newArpRepr();
    expect(parseArp(ARP_REQUEST_FRAME, 14, ARP_LEN, arp)).toBeUndefined();
    expect(arp).toEqual({
      op: ARPOP_REQUEST, senderMac: 0x02_00_00_00_00_0a, senderIp: 0xc0a84501, targetMac: 0, targetIp: 0xc0a84502,
    });
  });

  it('emits golden bytes', () => {
    const arp = newArpRepr();
    arp.op = ARPOP_REQUEST;
    arp.senderMac = 0x02_00_00_00_00_0a;
    arp.senderIp = 0xc0a84501;
    arp.targetIp = 0xc0a84502;
    const b = new Uint8Array(ARP_LEN);
    expect(emitArp(arp, b, 0)).toBe(ARP_LEN);
    expect(b).toEqual(ARP_REQUEST_FRAME.subarray(14));
  });

  it('accepts link-layer padding after the packet', () => {
    const padded = new Uint8Array(46);
    padded.set(ARP_REQUEST_FRAME.subarray(14));
    expect(parseArp(padded, 0, padded.length, newArpRepr())).toBeUndefined();
  });

  it('refuses a short packet, then any hardware/protocol other than Ethernet/IPv4', () => {
    const arp = newArpRepr();
    expect(parseArp(ARP_REQUEST_FRAME, 14, 27, arp)).toBe(DropReason.PKT_TOO_SMALL);
    for (const [at, value] of [[1, 6], [2, 0x86], [4, 8], [5, 16]] as const) {
      const bad = ARP_REQUEST_FRAME.slice(14);
      bad[at] = value;
      expect(parseArp(bad, 0, bad.length, arp)).toBe(DropReason.X_ARP_HEADER);
    }
  });
});
