/**
 * What the receive walk allocates per frame, measured: a million frames through
 * Stack.receive in batches of 64, the heap read before and after windows of frames in which
 * no garbage collection ran (a collection would hide what was allocated). The walk reuses
 * its parse scratch, views and verdicts; beyond that it allocates only the payload it copies
 * into a socket queue and the frames it sends in answer (`npm run bench` shows those paths).
 */
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ETH_HLEN } from '../../src/wire/ethernet.js';
import { bytes, harness, udpFrame } from '../helpers/packets.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const FRAMES = 1_000_000;
const WINDOW = 16_384;
const BATCH = 64;

/** Scavenges seen (the forced gc() calls below are full collections, not counted). */
let collections = 0;
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries() as (PerformanceEntry & { detail?: { kind?: number } })[]) {
    if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) collections++;
  }
});
beforeAll(() => observer.observe({ entryTypes: ['gc'] }));
afterAll(() => observer.disconnect());

/**
 * Runs `frames` frames through `step(batch)` and returns the bytes allocated per frame, from
 * the windows that saw no collection. `step` feeds one batch of `BATCH` frames.
 */
async function bytesPerFrame(step: () => void): Promise<number> {
  for (let i = 0; i < 200; i++) step(); // warm up: optimized code, tables and rows in place
  let bytes = 0;
  let counted = 0;
  for (let done = 0; done < FRAMES; done += WINDOW) {
    gc();
    const seen = collections;
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < WINDOW / BATCH; i++) step();
    const after = process.memoryUsage().heapUsed;
    await new Promise((r) => setTimeout(r, 5)); // let the observer hear of a scavenge in the window
    if (collections !== seen) continue;
    bytes += after - before;
    counted += WINDOW;
  }
  expect(counted, 'every window saw a collection: nothing measured').toBeGreaterThan(FRAMES / 4);
  return bytes / counted;
}

describe('the receive walk allocates (almost) nothing per frame', () => {
  it('frames dropped at the MAC filter and at the IP checksum: < 4 bytes per frame', async () => {
    const h = harness();
    const good = udpFrame(40000, 9, bytes(32));
    const otherHost = good.slice();
    otherHost[0] = 0x12;
    const ipCsum = good.slice();
    ipCsum[ETH_HLEN + 10]! ^= 0xff;
    const batch = Array.from({ length: BATCH }, (_, i) => (i % 2 === 0 ? otherHost : ipCsum));
    const perFrame = await bytesPerFrame(() => h.stack.receive(batch, 0));
    expect(h.stack.drops()).toMatchObject({ OTHERHOST: expect.any(Number), IP_CSUM: expect.any(Number) });
    expect(perFrame).toBeLessThan(4);
  }, 120_000);

  // Known cost: an IPv4 address from 64.0.0.0 up is not a small integer to V8, so handing it
  // up in IpRx (whose fields take either family) boxes it: two heap numbers per packet.
  it('frames that reach UDP (dropped there for their checksum): < 80 bytes per frame', async () => {
    const h = harness();
    const udpCsum = udpFrame(40000, 9, bytes(32));
    udpCsum[ETH_HLEN + 20 + 6]! ^= 0xff;
    const batch = Array.from({ length: BATCH }, () => udpCsum);
    const perFrame = await bytesPerFrame(() => h.stack.receive(batch, 0));
    expect(h.stack.drops()).toMatchObject({ UDP_CSUM: expect.any(Number) });
    expect(perFrame).toBeLessThan(80);
  }, 120_000);
});

// The measurement can fail: a step that allocates is seen.
describe('the measurement', () => {
  it('sees 64 bytes per frame when a step allocates them', async () => {
    const sink: Uint8Array[] = [];
    const perFrame = await bytesPerFrame(() => {
      for (let i = 0; i < BATCH; i++) sink[i] = new Uint8Array(64);
    });
    expect(perFrame).toBeGreaterThan(64);
  }, 120_000);
});
