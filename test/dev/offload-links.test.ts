/**
 * The in-process links with virtio-net-like offloads (issue 6): MemoryLink passing super-frames
 * and partial checksums intact to an offload peer and finishing them for any other, FaultyLink
 * treating an offload frame as one frame (and corrupting only what has checksums), and the
 * driver reading the link before it runs its timers.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { RX_CSUM_PARTIAL, RX_CSUM_VALID, RX_GSO, type Link } from '../../src/dev/device.js';
import { FaultyLink } from '../../src/dev/fault.js';
import { checkFcs } from '../../src/dev/fcs.js';
import { MemoryLink } from '../../src/dev/memory.js';
import {
  VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, emitGsoSegment,
} from '../../src/dev/vnet.js';
import { formatEthtoolS } from '../../src/core/report.js';
import { run } from '../../src/driver.js';
import { createStack } from '../../src/stack.js';
import { checksum, fold, sum16 } from '../../src/wire/checksum.js';
import { frame } from './frames.js';

const MSS = 1448;
/** IPv6's: 20 bytes more of IP header. */
const MSS6 = 1428;
const PAYLOAD = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 7 + (i >> 8)) & 0xff);

/**
 * A TCP super-frame (Ethernet, IPv4 or IPv6, TCP with timestamps) carrying PAYLOAD, its TCP
 * checksum field holding the pseudo-header sum, as `sendOffload` wants it.
 */
function superFrame(v6 = false): { f: Uint8Array; csumStart: number; hdrLen: number; gsoType: number } {
  const t = v6 ? 54 : 34;
  const f = new Uint8Array(t + 32 + PAYLOAD.length);
  const v = new DataView(f.buffer);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
  v.setUint16(12, v6 ? 0x86dd : 0x0800);
  if (v6) {
    v.setUint32(14, 0x60000000);
    v.setUint16(18, 32 + PAYLOAD.length);
    f[20] = 6;
    f[21] = 64;
    for (let i = 0; i < 32; i++) f[22 + i] = [0xfd, 0, 0, 0x69][i % 16] ?? (i % 16 === 15 ? 1 + (i >> 4) : 0);
  } else {
    f.set([0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 192, 168, 69, 1, 192, 168, 69, 2], 14);
    v.setUint16(16, 20 + 32 + PAYLOAD.length);
    v.setUint16(24, checksum(f, 14, 20));
  }
  v.setUint32(t, 0x1f900050);
  v.setUint32(t + 4, 1000);
  v.setUint32(t + 8, 1);
  f[t + 12] = 8 << 4;
  f[t + 13] = 0x18;
  v.setUint16(t + 14, 1000);
  f.set([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2], t + 20);
  f.set(PAYLOAD, t + 32);
  const tcpLen = 32 + PAYLOAD.length;
  const addrs = v6 ? sum16(f, 22, 32) : sum16(f, 26, 8);
  v.setUint16(t + 16, fold(addrs + 6 + tcpLen));
  return { f, csumStart: t, hdrLen: t + 32, gsoType: v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4 };
}

/** Whether the TCP segment in `f` (header at `t`) carries a checksum that verifies. */
function tcpVerifies(f: Uint8Array, t: number): boolean {
  const v6 = f[12] === 0x86;
  const addrs = v6 ? sum16(f, 22, 32) : sum16(f, 26, 8);
  return checksum(f, t, f.length - t, addrs + 6 + (f.length - t)) === 0;
}

/** What a kernel without offloads would make of the super-frame: its segments, checksums complete. */
function segments(s: ReturnType<typeof superFrame>, mss = MSS): Uint8Array[] {
  const n = Math.ceil(PAYLOAD.length / mss);
  return Array.from({ length: n }, (_, k) => {
    const dst = new Uint8Array(s.hdrLen + mss);
    return dst.slice(0, emitGsoSegment(s.f, s.f.length, s.csumStart, s.gsoType, mss, k, dst, 0));
  });
}

describe('MemoryLink with offloads', () => {
  it('hands a super-frame to an offload peer as it is, flagged, with its gso_size', () => {
    const [a, b] = MemoryLink.pair({ offload: true });
    expect([a.offload, a.maxFrame, b.rxFlags?.length]).toEqual([true, 65536 + 18, 1024]);
    const s = superFrame();
    a.sendOffload(s.f.slice(), s.csumStart, 16, s.gsoType, MSS, s.hdrLen);
    a.send(frame(1));
    a.flush();
    const got = b.take();
    expect(got).toHaveLength(2);
    expect(got[0]).toEqual(s.f);
    expect(b.rxFlags![0]).toBe(RX_GSO | RX_CSUM_VALID | RX_CSUM_PARTIAL);
    expect(b.rxGsoSize![0]).toBe(MSS);
    expect([b.rxFlags![1], b.rxGsoSize![1]]).toEqual([0, 0]);
    expect(a.stats).toMatchObject({ tx_packets: 2, tx_gso_frames: 1, tx_csum_partial: 1 });
    expect(b.stats).toMatchObject({ rx_packets: 2, rx_gso_frames: 1, rx_csum_partial: 1, rx_bytes: a.stats.tx_bytes });
  });

  for (const v6 of [false, true]) {
    it(`cuts an IPv${v6 ? 6 : 4} super-frame for a peer without offloads, as the kernel would`, () => {
      const [a, b] = MemoryLink.pair({ offload: [true, false] });
      expect([a.offload, b.offload, b.rxFlags]).toEqual([true, false, undefined]);
      const s = superFrame(v6);
      const mss = v6 ? MSS6 : MSS;
      a.sendOffload(s.f.slice(), s.csumStart, 16, s.gsoType, mss, s.hdrLen);
      a.flush();
      const got = b.take();
      expect(got).toEqual(segments(s, mss));
      expect(got.every((f) => f.length <= 1514 && tcpVerifies(f, s.csumStart))).toBe(true);
      expect(a.stats).toMatchObject({ tx_packets: got.length, tx_gso_frames: 1 });
    });
  }

  it('completes a partial checksum for a peer without offloads', () => {
    const [a, b] = MemoryLink.pair({ offload: [true, false], fcs: true });
    const s = superFrame();
    const one = s.f.slice(0, s.hdrLen + 100);
    one[17] = 20 + 32 + 100; // IPv4 total length
    one[16] = 0;
    one[24] = 0;
    one[25] = 0;
    new DataView(one.buffer).setUint16(24, checksum(one, 14, 20));
    new DataView(one.buffer).setUint16(s.csumStart + 16, fold(sum16(one, 26, 8) + 6 + 132));
    a.sendOffload(one, s.csumStart, 16, VIRTIO_NET_HDR_GSO_NONE, 0, 0);
    a.flush();
    const [got] = b.take();
    expect(checkFcs(got!)).toBe(true);
    expect(tcpVerifies(got!.subarray(0, got!.length - 4), s.csumStart)).toBe(true);
  });

  it('refuses offload frames on an end without offloads, and inconsistent ones on any', () => {
    const [plain] = MemoryLink.pair();
    const s = superFrame();
    plain.sendOffload(s.f, s.csumStart, 16, s.gsoType, MSS, s.hdrLen);
    expect(plain.stats.tx_errors).toBe(1);
    const [a] = MemoryLink.pair({ offload: true });
    a.sendOffload(s.f, s.csumStart, 16, s.gsoType, 0, s.hdrLen); // gso_size 0
    a.sendOffload(s.f, s.csumStart, 6, s.gsoType, MSS, s.hdrLen); // not TCP's checksum offset
    a.sendOffload(s.f.slice(0, 100), 90, 16, VIRTIO_NET_HDR_GSO_NONE, 0, 0); // checksum beyond the frame
    expect(a.stats.tx_errors).toBe(3);
    a.sendOffload(new Uint8Array(70_000), 34, 16, s.gsoType, MSS, 66);
    expect(a.stats.tx_dropped).toBe(1);
    expect(a.stats.tx_packets).toBe(0);
  });

  it('shows its offload counters in ethtool -S, after the standard ones; a plain link has none', () => {
    const [a, b] = MemoryLink.pair({ offload: true });
    const s = superFrame();
    a.sendOffload(s.f, s.csumStart, 16, s.gsoType, MSS, s.hdrLen);
    a.flush();
    b.take();
    const lines = formatEthtoolS('mem1', b.stats).trimEnd().split('\n');
    expect(lines.slice(-6)).toEqual([
      '     tx_dropped: 0', '     rx_gso_frames: 1', '     rx_csum_partial: 1', '     rx_csum_unnecessary: 0',
      '     tx_gso_frames: 0', '     tx_csum_partial: 0',
    ]);
    const [plain] = MemoryLink.pair();
    expect(formatEthtoolS('mem0', plain.stats)).not.toContain('gso');
  });

  it('readNow delivers the inbox at once, and nothing from inside the receiver', () => {
    const [a, b] = MemoryLink.pair({ offload: true });
    const nested: number[] = [];
    let batches = 0;
    b.setReceiver(() => {
      batches++;
      nested.push(b.readNow());
    });
    a.send(frame(1));
    a.send(frame(2));
    a.flush();
    expect(b.readNow()).toBe(2);
    expect([batches, nested]).toEqual([1, [0]]);
    expect(b.readNow()).toBe(0);
  });
});

describe('FaultyLink over offloads', () => {
  function setup(opts: { loss?: number; duplicate?: number; corrupt?: number }, pair: { fcs?: boolean; offload?: boolean } = {}) {
    const clock = new ManualClock();
    const [inner, peer] = MemoryLink.pair({ rxRing: 100_000, offload: pair.offload ?? true, ...(pair.fcs !== undefined && { fcs: pair.fcs }) });
    const link = new FaultyLink(inner, { seed: 9, ...opts }, clock);
    return { inner, peer, link };
  }

  it("shows the inner link's offloads and received flags", () => {
    const { inner, link, peer } = setup({});
    expect([link.offload, link.maxFrame]).toEqual([true, inner.maxFrame]);
    const s = superFrame();
    peer.sendOffload(s.f, s.csumStart, 16, s.gsoType, MSS, s.hdrLen);
    peer.flush();
    let seen: number[] = [];
    link.setReceiver(() => (seen = [link.rxFlags![0]!, link.rxGsoSize![0]!]));
    expect(link.readNow()).toBe(1);
    expect(seen).toEqual([RX_GSO | RX_CSUM_VALID | RX_CSUM_PARTIAL, MSS]);
  });

  it('loses and duplicates a super-frame as one frame', () => {
    for (const [knob, want] of [['loss', 0], ['duplicate', 2]] as const) {
      const { link, peer } = setup({ [knob]: 1 });
      const s = superFrame();
      link.sendOffload(s.f.slice(), s.csumStart, 16, s.gsoType, MSS, s.hdrLen);
      link.flush();
      const got = peer.take();
      expect(got).toHaveLength(want);
      for (const f of got) expect(f).toEqual(s.f);
    }
  });

  it('corrupts a super-frame only once it has checksums: cut into segments, one bit of one flipped', () => {
    for (const fcs of [false, true]) {
      const { link, peer } = setup({ corrupt: 1 }, { fcs });
      const s = superFrame();
      link.sendOffload(s.f.slice(), s.csumStart, 16, s.gsoType, MSS, s.hdrLen);
      link.flush();
      const got = peer.take();
      const clean = segments(s);
      expect(got).toHaveLength(clean.length);
      expect(Array.from(peer.rxFlags!.subarray(0, got.length))).toEqual(new Array(got.length).fill(0));
      const bad = got.filter((f, k) => (fcs ? !checkFcs(f) : !tcpVerifies(f, s.csumStart)) || f.length !== clean[k]!.length + (fcs ? 4 : 0));
      expect(bad).toHaveLength(1);
      expect(link.faults.corrupted).toBe(1);
    }
  });

  it('finishes offload frames itself over a link that cannot take them', () => {
    const clock = new ManualClock();
    const [inner, peer] = MemoryLink.pair();
    // A link with no offloads at all (no sendOffload), as a capture wrapper or an old link is.
    const plain: Link = {
      name: inner.name, mtu: inner.mtu, hasFcs: false, stats: inner.stats,
      setReceiver: (h) => inner.setReceiver(h), send: (f) => inner.send(f), flush: () => inner.flush(), close: () => inner.close(),
    };
    const link = new FaultyLink(plain, { seed: 1 }, clock);
    expect(link.offload).toBe(false);
    const s = superFrame();
    link.sendOffload(s.f.slice(), s.csumStart, 16, s.gsoType, MSS, s.hdrLen);
    link.flush();
    expect(peer.take()).toEqual(segments(s));
  });
});

describe('driver', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reads what waits on the link before it runs the timers', () => {
    vi.useFakeTimers();
    const clock = new ManualClock();
    const [link, peer] = MemoryLink.pair({ offload: true });
    const stack = createStack({ link, ipv4: '192.168.69.2/24', mac: '02:00:00:00:00:0b', clock });
    const order: string[] = [];
    const receive = stack.receive.bind(stack);
    const poll = stack.poll.bind(stack);
    stack.receive = (frames, now) => {
      order.push(`receive ${frames.length}`);
      receive(frames, now);
    };
    stack.poll = (now) => {
      order.push('poll');
      poll(now);
    };
    const running = run(stack, clock);
    order.length = 0;
    // A frame arrives in the device, and the loop has not been told yet: the timer fires first.
    peer.send(frame(1));
    peer.flush();
    vi.advanceTimersToNextTimer();
    running.stop();
    expect(order.slice(0, 2)).toEqual(['receive 1', 'poll']);
  });
});
