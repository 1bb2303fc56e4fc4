import { describe, expect, it } from 'vitest';
import { CONSUMED, DropReason } from '../../src/core/drop.js';
import { appendFcs } from '../../src/dev/fcs.js';
import { BROADCAST_MAC } from '../../src/wire/addr.js';
import { ETH_P_IP } from '../../src/wire/ethernet.js';
import { US, arpFrame, bytes, echoRequest, ethFrame, harness, ipv4Frame } from '../helpers/packets.js';

describe('ethernet stage', () => {
  it('drops a frame shorter than a header as PKT_TOO_SMALL and counts rx_length_errors', () => {
    const h = harness();
    expect(h.input(new Uint8Array(13))).toBe(DropReason.PKT_TOO_SMALL);
    expect(h.stack.linkStats().rx_length_errors).toBe(1);
    expect(h.stack.drops()[DropReason.PKT_TOO_SMALL]).toBe(1);
  });

  it('drops frames for another MAC as OTHERHOST', () => {
    const h = harness();
    const f = ipv4Frame(echoRequest(1, 1, bytes(8)), {}, 0x02_00_00_00_00_99);
    expect(h.input(f)).toBe(DropReason.OTHERHOST);
    expect(h.stack.linkStats().rx_otherhost_dropped).toBe(1);
    expect(h.tx()).toHaveLength(0);
  });

  it('accepts broadcast and joined multicast (all-hosts 01:00:5e:00:00:01), not other groups', () => {
    const h = harness();
    expect(h.input(arpFrame({ ethDst: BROADCAST_MAC }))).toBe(CONSUMED);
    const toAllHosts = ipv4Frame(echoRequest(1, 1, bytes(8)), { dst: 0xe0000001 }, 0x01_00_5e_00_00_01);
    // Accepted at layer 2; ICMP then ignores an echo to a group (echo_ignore_broadcasts).
    expect(h.input(toAllHosts)).toBe(DropReason.INVALID_PROTO);
    expect(h.stack.linkStats().multicast).toBe(1);
    const otherGroup = ipv4Frame(echoRequest(1, 1, bytes(8)), { dst: 0xe0000005 }, 0x01_00_5e_00_00_05);
    expect(h.input(otherGroup)).toBe(DropReason.OTHERHOST);
  });

  it('drops a multicast source MAC', () => {
    const h = harness();
    const f = ethFrame(new Uint8Array(28), ETH_P_IP, US.mac, 0x01_00_5e_00_00_01);
    expect(h.input(f)).toBe(DropReason.MAC_INVALID_SOURCE);
  });

  it('drops unknown ethertypes as UNHANDLED_PROTO and counts rx_nohandler', () => {
    const h = harness();
    expect(h.input(ethFrame(bytes(40), 0x88cc))).toBe(DropReason.UNHANDLED_PROTO);
    expect(h.stack.linkStats().rx_nohandler).toBe(1);
  });

  it('treats VLAN 0 (priority tag) as untagged and other VLANs as not ours', () => {
    const h = harness();
    const plain = ipv4Frame(echoRequest(7, 1, bytes(16)));
    const tagged = (vid: number): Uint8Array => {
      const f = new Uint8Array(plain.length + 4);
      f.set(plain.subarray(0, 12), 0);
      f.set([0x81, 0x00, (vid >> 8) & 0x0f, vid & 0xff], 12);
      f.set(plain.subarray(12), 16);
      return f;
    };
    expect(h.input(tagged(0))).toBe(CONSUMED);
    expect(h.tx()).toHaveLength(1); // the echo reply
    expect(h.input(tagged(5))).toBe(DropReason.OTHERHOST);
  });

  describe('on a link that carries an FCS', () => {
    it('verifies and strips it', () => {
      const h = harness({ fcs: true });
      expect(h.input(appendFcs(ipv4Frame(echoRequest(1, 1, bytes(8)))))).toBe(CONSUMED);
    });

    it('drops a corrupted frame as X_FCS and counts rx_crc_errors', () => {
      const h = harness({ fcs: true });
      const f = appendFcs(ipv4Frame(echoRequest(1, 1, bytes(8))));
      f[30]! ^= 0x10;
      expect(h.input(f)).toBe(DropReason.X_FCS);
      expect(h.stack.linkStats().rx_crc_errors).toBe(1);
      expect(h.stack.linkStats().rx_errors).toBe(1);
    });
  });
});
