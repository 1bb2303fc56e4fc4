import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { newLinkStats, type Link } from '../../src/dev/device.js';
import { type FaultOptions, FaultyLink } from '../../src/dev/fault.js';
import { appendFcs, checkFcs, FCS_LEN } from '../../src/dev/fcs.js';
import { MemoryLink } from '../../src/dev/memory.js';
import { bitDistance, frame, idOf } from './frames.js';

/** A FaultyLink over one end of a fresh pair; the other end is read with take(). */
function setup(opts: FaultOptions, pair: { fcs?: boolean; rxRing?: number } = {}) {
  const clock = new ManualClock();
  const [inner, peer] = MemoryLink.pair({ rxRing: 100_000, ...pair });
  const link = new FaultyLink(inner, opts, clock);
  return { clock, inner, peer, link };
}

/** Sends frames 0..n-1, one flush per `perTurn` frames, and returns what arrived. */
function run(opts: FaultOptions, n: number, perTurn = 1, pair: { fcs?: boolean } = {}) {
  const { link, peer } = setup(opts, pair);
  const got: Uint8Array[] = [];
  for (let id = 0; id < n; id++) {
    link.send(frame(id));
    if ((id + 1) % perTurn === 0 || id === n - 1) {
      link.flush();
      got.push(...peer.take());
    }
  }
  return { got, faults: { ...link.faults } };
}

/** Binomial tolerance: 4 standard deviations, so a correct link fails about once in 15,000 runs. */
function tolerance(p: number, n: number): number {
  return 4 * Math.sqrt((p * (1 - p)) / n);
}

describe('FaultyLink', () => {
  const mixed: FaultOptions = { seed: 42, loss: 0.1, duplicate: 0.1, reorder: 0.1, corrupt: 0.1 };
  const summary = (r: ReturnType<typeof run>) => ({
    bytes: r.got.map((f) => Buffer.from(f).toString('hex')),
    faults: r.faults,
  });

  it('is deterministic: the same seed gives the same outcome', () => {
    const one = summary(run(mixed, 500, 4));
    const two = summary(run(mixed, 500, 4));
    expect(two).toEqual(one);
    // Every kind of fault enabled here happened, so the comparison covered them all.
    const { lost, duplicated, reordered, corrupted } = one.faults;
    expect(Math.min(lost, duplicated, reordered, corrupted)).toBeGreaterThan(0);
  });

  it('a different seed gives a different outcome', () => {
    const one = summary(run(mixed, 500, 4));
    const other = summary(run({ ...mixed, seed: 43 }, 500, 4));
    expect(other.bytes).not.toEqual(one.bytes);
  });

  it('passes everything through untouched with no fault enabled', () => {
    const { got, faults } = run({ seed: 1 }, 100, 7);
    expect(got.map(idOf)).toEqual([...Array(100).keys()]);
    expect(got.every((f, i) => bitDistance(f, frame(i)) === 0)).toBe(true);
    expect(faults).toEqual({ lost: 0, duplicated: 0, reordered: 0, delayed: 0, corrupted: 0 });
  });

  it('loses frames at the configured rate, and only those', () => {
    const n = 10_000;
    const p = 0.1;
    const { got, faults } = run({ seed: 7, loss: p }, n, 16);
    expect(Math.abs(faults.lost / n - p)).toBeLessThan(tolerance(p, n));
    expect(got.length).toBe(n - faults.lost);
    const ids = got.map(idOf);
    expect(ids).toEqual([...ids].sort((x, y) => x - y)); // loss alone never reorders
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('loses everything at loss 1 and counts it as never sent', () => {
    const { link, inner, peer } = setup({ seed: 1, loss: 1 });
    for (let id = 0; id < 10; id++) link.send(frame(id));
    link.flush();
    expect(peer.take()).toEqual([]);
    expect(link.faults.lost).toBe(10);
    expect(inner.stats.tx_packets).toBe(0);
  });

  it('duplicates frames as independent copies', () => {
    const { link, peer } = setup({ seed: 3, duplicate: 1 });
    link.send(frame(1));
    link.send(frame(2));
    link.flush();
    const got = peer.take();
    expect(got.map(idOf)).toEqual([1, 1, 2, 2]);
    expect(got[0]).toEqual(got[1]);
    expect(got[0]).not.toBe(got[1]);
    expect(link.faults.duplicated).toBe(2);
    expect(link.stats.tx_packets).toBe(4);
  });

  it('duplicates at the configured rate', () => {
    const n = 10_000;
    const p = 0.05;
    const { got, faults } = run({ seed: 11, duplicate: p }, n, 16);
    expect(Math.abs(faults.duplicated / n - p)).toBeLessThan(tolerance(p, n));
    expect(got.length).toBe(n + faults.duplicated);
  });

  it('reorders by holding a frame until the next one has passed it', () => {
    const { link, peer } = setup({ seed: 5, reorder: 1 });
    for (const id of [1, 2, 3, 4, 5]) link.send(frame(id));
    // Nothing follows 5 in this turn: the flush lets it go rather than hold it forever.
    link.flush();
    expect(peer.take().map(idOf)).toEqual([2, 1, 4, 3, 5]);
    expect(link.faults.reordered).toBe(2);
  });

  it('reorders at about the configured rate, losing nothing', () => {
    const n = 10_000;
    const { got, faults } = run({ seed: 9, reorder: 0.1 }, n, 10);
    const ids = got.map(idOf);
    expect([...ids].sort((x, y) => x - y)).toEqual([...Array(n).keys()]);
    let inversions = 0;
    for (let i = 1; i < ids.length; i++) if (ids[i]! < ids[i - 1]!) inversions++;
    expect(inversions).toBe(faults.reordered);
    // A frame chosen to be held can be the last of its turn, and then it is not reordered.
    expect(faults.reordered).toBeGreaterThan(n * 0.07);
    expect(faults.reordered).toBeLessThan(n * 0.1);
  });

  it('holds delayed frames until the clock reaches their due time', () => {
    const { clock, link, peer } = setup({ seed: 1, delayMs: 50 });
    link.send(frame(1));
    link.flush();
    expect(peer.take()).toEqual([]);
    expect(link.nextDue()).toBe(50);

    clock.advance(20);
    link.send(frame(2));
    expect(link.nextDue()).toBe(50);
    clock.advance(29); // t = 49
    link.flush();
    expect(peer.take()).toEqual([]);

    clock.advance(1); // t = 50
    link.flush();
    expect(peer.take().map(idOf)).toEqual([1]);
    expect(link.nextDue()).toBe(70);

    clock.advance(100);
    link.flush();
    expect(peer.take().map(idOf)).toEqual([2]);
    expect(link.nextDue()).toBeUndefined();
    expect(link.faults.delayed).toBe(2);
  });

  it('with jitter releases frames in due order, each within [delay, delay + jitter)', () => {
    const { clock, link, peer } = setup({ seed: 21, delayMs: 10, jitterMs: 30 });
    for (let id = 0; id < 200; id++) link.send(frame(id));
    expect(link.nextDue()).toBeGreaterThanOrEqual(10);
    link.flush();
    expect(peer.take()).toEqual([]);
    const arrivals: number[] = [];
    let lastDue = 0;
    for (let guard = 0; guard < 1000 && link.nextDue() !== undefined; guard++) {
      const due = link.nextDue()!;
      expect(due).toBeGreaterThanOrEqual(lastDue);
      expect(due).toBeLessThan(40);
      lastDue = due;
      clock.advance(due - clock.now());
      link.flush();
      arrivals.push(...peer.take().map(idOf));
    }
    expect([...arrivals].sort((x, y) => x - y)).toEqual([...Array(200).keys()]);
    expect(arrivals).not.toEqual([...Array(200).keys()]); // jitter alone reorders
  });

  it('bounds the delay line and counts what overflows it as tx_dropped', () => {
    const { clock, link, peer } = setup({ seed: 1, delayMs: 5, limit: 3 });
    for (let id = 0; id < 5; id++) link.send(frame(id));
    expect(link.stats.tx_dropped).toBe(2);
    expect(link.faults.delayed).toBe(3);
    clock.advance(5);
    link.flush();
    expect(peer.take().map(idOf)).toEqual([0, 1, 2]);
  });

  it('corrupts a frame on an FCS link so that the receiver FCS check catches it', () => {
    const { link, peer } = setup({ seed: 13, corrupt: 1 }, { fcs: true });
    for (let id = 0; id < 50; id++) link.send(frame(id, 60 + id));
    link.flush();
    const got = peer.take();
    expect(got).toHaveLength(50);
    expect(link.faults.corrupted).toBe(50);
    got.forEach((f, id) => {
      expect(f.length).toBe(60 + id + FCS_LEN);
      expect(checkFcs(f)).toBe(false);
      // One bit flipped after the FCS of the clean frame was computed.
      expect(bitDistance(f, appendFcs(frame(id, 60 + id)))).toBe(1);
    });
  });

  it('corruption at a rate is caught exactly on the damaged frames', () => {
    const { got, faults } = run({ seed: 17, corrupt: 0.2 }, 2000, 8, { fcs: true });
    const bad = got.filter((f) => !checkFcs(f)).length;
    expect(bad).toBe(faults.corrupted);
    expect(Math.abs(bad / 2000 - 0.2)).toBeLessThan(tolerance(0.2, 2000));
  });

  it('on a link without FCS, flips one bit of the frame itself', () => {
    const { link, peer } = setup({ seed: 13, corrupt: 1 });
    link.send(frame(1, 64));
    link.flush();
    const [got] = peer.take();
    expect(got!.length).toBe(64);
    expect(bitDistance(got!, frame(1, 64))).toBe(1);
  });

  it('refuses to corrupt through an FCS link that would cover the damage with a new FCS', () => {
    const opaque: Link = {
      name: 'x0', mtu: 1500, hasFcs: true, stats: newLinkStats(),
      setReceiver() {}, send() {}, flush() {}, close() {},
    };
    const clock = new ManualClock();
    expect(() => new FaultyLink(opaque, { seed: 1, corrupt: 0.1 }, clock)).toThrow(/sendWithFcs/);
    expect(() => new FaultyLink(opaque, { seed: 1, loss: 0.1 }, clock)).not.toThrow();
  });

  it('rejects options out of range', () => {
    const [inner] = MemoryLink.pair();
    const clock = new ManualClock();
    for (const bad of [{ loss: 1.5 }, { duplicate: -0.1 }, { reorder: NaN }, { delayMs: -1 },
      { jitterMs: Infinity }, { limit: 0 }]) {
      expect(() => new FaultyLink(inner, { seed: 1, ...bad }, clock)).toThrow(RangeError);
    }
  });

  it('passes the receive side and the link identity through', () => {
    const { inner, peer, link } = setup({ seed: 1, loss: 1, corrupt: 1 });
    expect([link.name, link.mtu, link.hasFcs]).toEqual([inner.name, inner.mtu, inner.hasFcs]);
    expect(link.stats).toBe(inner.stats);
    const seen: number[] = [];
    link.setReceiver((frames) => seen.push(...frames.map(idOf)));
    peer.send(frame(8));
    peer.flush();
    inner.deliver();
    expect(seen).toEqual([8]);
    expect(link.faults.corrupted).toBe(0);
  });

  it('close() discards what it held and closes the inner link', () => {
    const { clock, link, inner, peer } = setup({ seed: 1, delayMs: 5 });
    link.send(frame(1));
    link.close();
    expect(link.nextDue()).toBeUndefined();
    clock.advance(10);
    link.flush();
    expect(peer.take()).toEqual([]);
    inner.send(frame(2));
    expect(inner.stats.tx_dropped).toBe(1);
  });
});
