import { describe, expect, it } from 'vitest';
import { checkFcs, FCS_LEN } from '../../src/dev/fcs.js';
import { MemoryLink } from '../../src/dev/memory.js';
import { frame, idOf } from './frames.js';

describe('MemoryLink', () => {
  it('moves frames only on flush, and delivers the inbox in one batch, in order', () => {
    const [a, b] = MemoryLink.pair({ names: ['left', 'right'] });
    expect([a.name, b.name, a.mtu, a.hasFcs]).toEqual(['left', 'right', 1500, false]);
    const batches: number[][] = [];
    b.setReceiver((frames) => batches.push(frames.map(idOf)));

    for (const id of [1, 2, 3]) a.send(frame(id));
    expect(b.pending()).toBe(0);
    expect(b.deliver()).toBe(0);
    a.flush();
    expect(b.pending()).toBe(3);
    expect(b.deliver()).toBe(3);
    expect(batches).toEqual([[1, 2, 3]]);
    expect(b.pending()).toBe(0);
    expect(b.deliver()).toBe(0);
    expect(batches).toHaveLength(1);
  });

  it('counts packets and bytes on both ends alike', () => {
    const [a, b] = MemoryLink.pair({ fcs: true });
    b.setReceiver(() => {});
    a.send(frame(1, 60));
    a.send(frame(2, 1514));
    a.flush();
    b.deliver();
    expect(a.stats.tx_packets).toBe(2);
    expect(a.stats.tx_bytes).toBe(60 + 1514);
    expect(b.stats.rx_packets).toBe(2);
    expect(b.stats.rx_bytes).toBe(a.stats.tx_bytes); // the FCS is not counted on either side
    expect(a.stats.rx_packets + b.stats.tx_packets).toBe(0);
  });

  it('appends a verifiable FCS when the link carries one', () => {
    const [a, b] = MemoryLink.pair({ fcs: true });
    expect(b.hasFcs).toBe(true);
    const sent = frame(9, 100);
    a.send(sent);
    a.flush();
    const [got] = b.take();
    expect(got!.length).toBe(100 + FCS_LEN);
    expect(got!.subarray(0, 100)).toEqual(frame(9, 100));
    expect(checkFcs(got!)).toBe(true);
    got![20]! ^= 0x10;
    expect(checkFcs(got!)).toBe(false);
  });

  it('passes frames through untouched without FCS', () => {
    const [a, b] = MemoryLink.pair();
    const sent = frame(5, 70);
    a.send(sent);
    a.flush();
    const got = b.take();
    expect(got).toHaveLength(1);
    expect(got[0]).toEqual(frame(5, 70));
    expect(b.stats.rx_packets).toBe(1);
  });

  it('drops what overflows the receive ring and counts it on the receiving side', () => {
    const [a, b] = MemoryLink.pair({ rxRing: 4 });
    for (let id = 0; id < 6; id++) a.send(frame(id));
    a.flush();
    expect(b.pending()).toBe(4);
    expect(a.stats.tx_packets).toBe(6);
    expect(b.stats.rx_dropped).toBe(2);
    expect(b.stats.rx_over_errors).toBe(2);
    expect(b.take().map(idOf)).toEqual([0, 1, 2, 3]); // the ring keeps the oldest, like a NIC

    // Emptying the ring makes room again.
    a.send(frame(6));
    a.flush();
    expect(b.take().map(idOf)).toEqual([6]);
    expect(b.stats.rx_dropped).toBe(2);
  });

  it('refuses frames longer than the MTU plus an Ethernet header and a VLAN tag', () => {
    const [a, b] = MemoryLink.pair({ mtu: 1000 });
    a.send(frame(1, 1000 + 18));
    a.send(frame(2, 1000 + 19));
    a.flush();
    expect(b.take().map(idOf)).toEqual([1]);
    expect(a.stats.tx_packets).toBe(1);
    expect(a.stats.tx_dropped).toBe(1);
  });

  it('leaves frames in the inbox while there is no receiver', () => {
    const [a, b] = MemoryLink.pair();
    a.send(frame(1));
    a.flush();
    expect(b.deliver()).toBe(0);
    expect(b.pending()).toBe(1);
    const seen: number[] = [];
    b.setReceiver((fs) => seen.push(...fs.map(idOf)));
    expect(b.deliver()).toBe(1);
    expect(seen).toEqual([1]);
    b.setReceiver(null);
    a.send(frame(2));
    a.flush();
    expect(b.deliver()).toBe(0);
    expect(seen).toEqual([1]);
  });

  it('close() stops both directions and is idempotent', () => {
    const [a, b] = MemoryLink.pair();
    a.send(frame(1));
    a.flush();
    b.close();
    b.close();
    expect(b.pending()).toBe(0);
    a.send(frame(2));
    a.flush(); // into an unplugged cable
    expect(b.pending()).toBe(0);
    b.send(frame(3));
    b.flush();
    expect(b.stats.tx_dropped).toBe(1);
    expect(a.pending()).toBe(0);
  });

  it('sendWithFcs sends the bytes as given, and only on an FCS link', () => {
    const [a, b] = MemoryLink.pair({ fcs: true });
    const wire = new Uint8Array(68).fill(0xab); // a deliberately wrong FCS
    a.sendWithFcs(wire);
    a.flush();
    const [got] = b.take();
    expect(got).toBe(wire);
    expect(a.stats.tx_bytes).toBe(64);
    expect(checkFcs(got!)).toBe(false);
    const [c] = MemoryLink.pair();
    expect(() => c.sendWithFcs(wire)).toThrow(TypeError);
  });

  it('rejects nonsensical sizes', () => {
    expect(() => MemoryLink.pair({ mtu: 0 })).toThrow(RangeError);
    expect(() => MemoryLink.pair({ rxRing: -1 })).toThrow(RangeError);
  });

  describe('pump', () => {
    it('runs two ends until they are quiet, one batch per end per round', () => {
      // Ping-pong: each end answers a frame carrying n with one carrying n - 1, down to 0.
      const [a, b] = MemoryLink.pair();
      const log: string[] = [];
      for (const [self, tag] of [[a, 'a'], [b, 'b']] as const) {
        self.setReceiver((frames) => {
          for (const f of frames) {
            const n = idOf(f);
            log.push(`${tag}${n}`);
            if (n > 0) self.send(frame(n - 1));
          }
        });
      }
      a.send(frame(5));
      expect(MemoryLink.pump([a, b])).toBe(6);
      expect(log).toEqual(['b5', 'a4', 'b3', 'a2', 'b1', 'a0']);
      expect(a.pending() + b.pending()).toBe(0);
    });

    it('stops at maxRounds on a link that never quiets down', () => {
      const [a, b] = MemoryLink.pair();
      b.setReceiver(() => b.send(frame(0)));
      a.setReceiver(() => a.send(frame(0)));
      a.send(frame(0));
      expect(MemoryLink.pump([a, b], 10)).toBe(10);
    });

    it('stops when the only frames left have no receiver', () => {
      const [a, b] = MemoryLink.pair();
      a.send(frame(1));
      expect(MemoryLink.pump([a, b])).toBe(0);
      expect(b.pending()).toBe(1);
    });
  });
});
