import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DropReason } from '../../src/core/drop.js';
import {
  VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_ECN, VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VNET_HDR_LEN, completeChecksum, emitGsoSegment, emitVirtioNetHdr,
  gsoSegmentCount, newVirtioNetHdr, parseVirtioNetHdr, writeVirtioNetHdr,
} from '../../src/dev/vnet.js';
import { checksum, fold, pseudoHeaderV4, sum16 } from '../../src/wire/checksum.js';
import { readPcap } from '../helpers/pcap-read.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

/**
 * Headers as Linux 6.18's tun wrote them, read from a TAP with IFF_VNET_HDR and TSO on while the
 * kernel's TCP sent 1 MiB to a peer (see tap-offload.test.ts): a SYN with its checksum left
 * partial, and a 7306-byte super-frame of 5 × 1448 bytes behind 66 bytes of headers.
 */
const SYN_HDR = hex('01 00 0000 0000 2200 1000 0000');
const GSO_HDR = hex('01 01 4200 a805 2200 1000 0000');
/** The first 70 bytes of that super-frame: its TCP checksum field (0x3083) is the pseudo-header sum. */
const GSO_FRAME_HEAD = hex(
  'b68d8dc996bc faca019692b2 0800' +
  '45001c7c1cda40004006ed8d0a0900010a090002' +
  'd0101389d2bb80a1652a9f888018003f30830000 0101080a79f90076301eaf16 00000000',
);

describe('virtio-net header', () => {
  it('parses a super-frame header written by Linux (little-endian fields)', () => {
    const h = newVirtioNetHdr();
    expect(parseVirtioNetHdr(GSO_HDR, 0, VNET_HDR_LEN + 7306, h)).toBeUndefined();
    expect(h).toEqual({
      flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, gsoType: VIRTIO_NET_HDR_GSO_TCPV4, hdrLen: 66, gsoSize: 1448,
      csumStart: 34, csumOffset: 16, numBuffers: 0,
    });
    expect(7306 - h.hdrLen).toBe(5 * h.gsoSize);
  });

  it('parses a partial checksum without GSO', () => {
    const h = newVirtioNetHdr();
    expect(parseVirtioNetHdr(SYN_HDR, 0, VNET_HDR_LEN + 74, h)).toBeUndefined();
    expect(h).toMatchObject({ flags: 1, gsoType: VIRTIO_NET_HDR_GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart: 34, csumOffset: 16 });
  });

  it("the kernel's partial checksum is the folded pseudo-header sum over the whole TCP length", () => {
    const f = GSO_FRAME_HEAD;
    const tcpLen = ((f[16]! << 8) | f[17]!) - 20; // IP total length of the super-packet, less its header
    const src = new DataView(f.buffer).getUint32(26);
    const dst = new DataView(f.buffer).getUint32(30);
    expect(tcpLen).toBe(7306 - 34);
    expect((f[50]! << 8) | f[51]!).toBe(fold(pseudoHeaderV4(src, dst, 6, tcpLen)));
  });

  it('emits the bytes it parses, at an offset', () => {
    for (const golden of [GSO_HDR, SYN_HDR]) {
      const h = newVirtioNetHdr();
      parseVirtioNetHdr(golden, 0, 100, h);
      const b = new Uint8Array(20).fill(0xee);
      expect(emitVirtioNetHdr(h, b, 3)).toBe(VNET_HDR_LEN);
      expect(b.subarray(3, 15)).toEqual(golden);
      expect(b[2]).toBe(0xee);
      expect(b[15]).toBe(0xee);
    }
  });

  it('round-trips every field value', () => {
    const u16 = fc.integer({ min: 0, max: 0xffff });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), u16, u16, u16, u16, u16,
        (flags, gsoType, hdrLen, gsoSize, csumStart, csumOffset, numBuffers) => {
          const r = { flags, gsoType, hdrLen, gsoSize, csumStart, csumOffset, numBuffers };
          const b = new Uint8Array(VNET_HDR_LEN);
          emitVirtioNetHdr(r, b, 0);
          const back = newVirtioNetHdr();
          // A length that keeps any NEEDS_CSUM offsets inside the frame.
          expect(parseVirtioNetHdr(b, 0, VNET_HDR_LEN + 0x20000, back)).toBeUndefined();
          expect(back).toEqual(r);
        }),
    );
  });

  it('writes flat values with num_buffers zero, over whatever was in the slot', () => {
    const b = new Uint8Array(VNET_HDR_LEN).fill(0xff);
    writeVirtioNetHdr(b, 0, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN, 86, 1428, 54, 16);
    expect(b).toEqual(hex('01 84 5600 9405 3600 1000 0000'));
  });

  it('refuses a header that does not fit, or points its checksum past the frame', () => {
    const h = newVirtioNetHdr();
    expect(parseVirtioNetHdr(GSO_HDR, 0, 11, h)).toBe(DropReason.PKT_TOO_SMALL);
    // csum_start 34 + csum_offset 16 + 2 bytes of field = 52: a 51-byte frame cannot hold it.
    expect(parseVirtioNetHdr(SYN_HDR, 0, VNET_HDR_LEN + 51, h)).toBe(DropReason.PKT_TOO_SMALL);
    expect(parseVirtioNetHdr(SYN_HDR, 0, VNET_HDR_LEN + 52, h)).toBeUndefined();
    // Without NEEDS_CSUM the offsets mean nothing and are not checked.
    const valid = SYN_HDR.slice();
    valid[0] = VIRTIO_NET_HDR_F_DATA_VALID;
    expect(parseVirtioNetHdr(valid, 0, VNET_HDR_LEN + 20, h)).toBeUndefined();
  });
});

describe('completeChecksum', () => {
  const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

  /** Replaces the transport checksum of an IPv4 frame by its pseudo-header sum, as NEEDS_CSUM leaves it. */
  function partial(f: Uint8Array, proto: number, csumOffset: number): Uint8Array {
    const p = f.slice();
    const ihl = (p[14]! & 0x0f) * 4;
    const l4Len = ((p[16]! << 8) | p[17]!) - ihl;
    const v = new DataView(p.buffer);
    const sum = fold(pseudoHeaderV4(v.getUint32(26), v.getUint32(30), proto, l4Len));
    v.setUint16(14 + ihl + csumOffset, sum);
    return p;
  }

  it('turns the partial TCP checksums of a real connection into the ones on the wire', () => {
    const frames = readPcap(fixture('tcp4-http-get.pcap')).map((r) => r.data).filter((f) => f[23] === 6);
    expect(frames.length).toBeGreaterThan(5);
    for (const f of frames) {
      const p = partial(f, 6, 16);
      expect(p).not.toEqual(f);
      completeChecksum(p, 34, 16);
      expect(p).toEqual(f);
    }
  });

  it('does the same for UDP', () => {
    const frames = readPcap(fixture('udp4-closed-port-icmp.pcap')).map((r) => r.data).filter((f) => f[23] === 17);
    expect(frames.length).toBeGreaterThan(0);
    for (const f of frames) {
      const p = partial(f, 17, 6);
      completeChecksum(p, 34, 6);
      expect(p).toEqual(f);
    }
  });

  it('stores a zero result as 0xffff (RFC 768: 0 means no UDP checksum)', () => {
    // A "datagram" whose words sum to 0xffff with the field (holding the pseudo sum) in place.
    const f = new Uint8Array(8);
    f[6] = 0x12;
    f[7] = 0x34; // the pseudo-header sum, already in the field
    f[0] = 0xed;
    f[1] = 0xcb; // 0xedcb + 0x1234 = 0xffff
    completeChecksum(f, 0, 6);
    expect([f[6], f[7]]).toEqual([0xff, 0xff]);
  });
});

describe('segmentation in software (TSO for a link without it)', () => {
  const PAYLOAD = Uint8Array.from({ length: 5000 }, (_, i) => (i * 13 + (i >> 7)) & 0xff);
  const u16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
  const u32 = (b: Uint8Array, o: number): number => new DataView(b.buffer, b.byteOffset).getUint32(o);

  /** A super-frame: Ethernet (+ `vlan`), IPv4 or IPv6, TCP with 12 bytes of options, PAYLOAD. */
  function superFrame(v6: boolean, flags: number, vlan = false): { f: Uint8Array; csumStart: number } {
    const l2 = vlan ? 18 : 14;
    const l3 = v6 ? 40 : 20;
    const t = l2 + l3;
    const f = new Uint8Array(t + 32 + PAYLOAD.length);
    const v = new DataView(f.buffer);
    f.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]);
    if (vlan) v.setUint32(12, 0x81000005);
    v.setUint16(l2 - 2, v6 ? 0x86dd : 0x0800);
    if (v6) {
      v.setUint32(l2, 0x60000000);
      v.setUint16(l2 + 4, 32 + PAYLOAD.length);
      f[l2 + 6] = 6;
      f[l2 + 7] = 64;
      f.set(hex('fd000069000000000000000000000001 fd000069000000000000000000000002'), l2 + 8);
    } else {
      f.set(hex('4500 0000 beef 4000 4006 0000 c0a84501 c0a84502'), l2);
      v.setUint16(l2 + 2, 20 + 32 + PAYLOAD.length);
    }
    v.setUint32(t, 0x1f900050); // ports 8080 → 80
    v.setUint32(t + 4, 0xfffff000); // a sequence number that wraps during the frame
    v.setUint32(t + 8, 77);
    f[t + 12] = 8 << 4; // 32-byte header
    f[t + 13] = flags;
    v.setUint16(t + 14, 1000);
    f.set([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2], t + 20); // NOP NOP timestamps
    f.set(PAYLOAD, t + 32);
    return { f, csumStart: t };
  }

  for (const [name, v6, vlan] of [['IPv4', false, false], ['IPv6', true, false], ['IPv4 behind a VLAN tag', false, true]] as const) {
    it(`cuts an ${name} super-frame into MSS segments that each verify`, () => {
      const { f, csumStart: t } = superFrame(v6, 0x80 | 0x18 | 0x01, vlan); // CWR, ACK, PSH, FIN
      const l2 = vlan ? 18 : 14;
      const MSS = 1448;
      const n = gsoSegmentCount(f, f.length, t, MSS);
      expect(n).toBe(4); // 5000 = 3 × 1448 + 656
      const got = new Uint8Array(PAYLOAD.length);
      const dst = new Uint8Array(2000);
      for (let k = 0; k < n; k++) {
        dst.fill(0xaa);
        const len = emitGsoSegment(f, f.length, t, v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4, MSS, k, dst, 7);
        const s = dst.subarray(7, 7 + len);
        const chunk = k < n - 1 ? MSS : 656;
        expect(len).toBe(t + 32 + chunk);
        expect(dst[6]).toBe(0xaa);
        expect(dst[7 + len]).toBe(0xaa);
        expect(s.subarray(0, l2)).toEqual(f.subarray(0, l2));
        let pseudo: number;
        if (v6) {
          expect(u16(s, l2 + 4)).toBe(32 + chunk);
          pseudo = sum16(s, l2 + 8, 32) + 32 + chunk + 6;
        } else {
          expect(u16(s, l2 + 2)).toBe(20 + 32 + chunk);
          expect(u16(s, l2 + 4)).toBe(0xbeef + k); // the IPv4 ID counts up, as Linux's GSO does
          expect(checksum(s, l2, 20)).toBe(0);
          pseudo = pseudoHeaderV4(u32(s, l2 + 12), u32(s, l2 + 16), 6, 32 + chunk);
        }
        expect(checksum(s, t, 32 + chunk, pseudo)).toBe(0);
        expect(u32(s, t + 4)).toBe((0xfffff000 + k * MSS) >>> 0);
        expect(s[t + 13]).toBe((k === 0 ? 0x80 : 0) | 0x10 | (k === n - 1 ? 0x08 | 0x01 : 0));
        expect(s.subarray(t + 20, t + 32)).toEqual(f.subarray(t + 20, t + 32)); // options on every segment
        got.set(s.subarray(t + 32), k * MSS);
      }
      expect(got).toEqual(PAYLOAD);
    });
  }

  it('leaves a frame that fits in one segment whole, with its checksum completed', () => {
    const { f, csumStart: t } = superFrame(false, 0x18);
    const dst = new Uint8Array(f.length);
    expect(gsoSegmentCount(f, f.length, t, 9000)).toBe(1);
    expect(emitGsoSegment(f, f.length, t, VIRTIO_NET_HDR_GSO_TCPV4, 9000, 0, dst, 0)).toBe(f.length);
    expect(dst[t + 13]).toBe(0x18);
    expect(checksum(dst, t, f.length - t, pseudoHeaderV4(0xc0a84501, 0xc0a84502, 6, f.length - t))).toBe(0);
  });
});
