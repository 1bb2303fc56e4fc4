/**
 * Two stacks on one simulated cable: a MemoryLink pair that carries an Ethernet FCS,
 * with a seeded FaultyLink on the transmit side of one or both ends, and one ManualClock
 * for both stacks. Stack B (192.168.69.2) runs the UDP echo service; a client socket on
 * stack A (192.168.69.1) sends datagrams of many sizes, from empty to far beyond the MTU
 * (so fragmented), and reads the echoes back.
 *
 * On a clean cable every echo must come back byte for byte, in order. With loss,
 * duplication, reordering, delay and corruption (seeded, so every run is the same):
 * nothing throws, every corrupted frame is refused by the receiver's FCS check (X_FCS,
 * exactly as many as the injector corrupted), no damage gets past it, and what comes back
 * is a subset of what was sent, byte for byte, duplicates and reordering tolerated.
 *
 * Like smoltcp's netsim, the test drives time itself: it moves frames until the cable is
 * quiet, then jumps the clock to the next timer of either stack or either fault injector.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { DropReason } from '../../src/core/drop.js';
import { seededRandom } from '../../src/core/random.js';
import type { Link } from '../../src/dev/device.js';
import { FaultyLink, type FaultOptions } from '../../src/dev/fault.js';
import { MemoryLink } from '../../src/dev/memory.js';
import { NudState } from '../../src/eth/neighbor.js';
import { udpEcho } from '../../src/services/echo.js';
import { createStack, type Stack } from '../../src/stack.js';
import type { UdpSocket } from '../../src/user/dgram.js';
import { PEER, US, bytes } from '../helpers/packets.js';

const ECHO_PORT = 7;
const CLIENT_PORT = 40_000;

/**
 * Payload sizes: empty, tiny, the largest that fits one 1500-byte frame (1472), the
 * smallest that does not, several fragments' worth, and the largest UDP datagram.
 * All different, so that an echo names the datagram it answers.
 */
/** The first datagram's size, not one of SIZES. */
const WARM_UP = 3;

const SIZES = [0, 1, 7, 8, 100, 512, 1000, 1471, 1472, 1473, 1480, 2000, 2952, 2953, 4000, 8000, 9000, 16_000, 30_000, 65_507];

interface Net {
  clock: ManualClock;
  a: Stack;
  b: Stack;
  /** The cable's two ends, under any fault injector. */
  wires: [MemoryLink, MemoryLink];
  faultsA: FaultyLink | undefined;
  faultsB: FaultyLink | undefined;
  client: UdpSocket;
  /** Moves frames and runs timers for `ms` of virtual time. */
  run(ms: number): void;
}

/** Stack A (the client side, PEER's addresses) and stack B (the echo server, US's addresses). */
function net(faults: { a?: FaultOptions; b?: FaultOptions } = {}): Net {
  const clock = new ManualClock();
  const [wa, wb] = MemoryLink.pair({ fcs: true });
  const faultsA = faults.a && new FaultyLink(wa, faults.a, clock);
  const faultsB = faults.b && new FaultyLink(wb, faults.b, clock);
  const linkA: Link = faultsA ?? wa;
  const linkB: Link = faultsB ?? wb;
  const a = createStack({ link: linkA, ipv4: '192.168.69.1/24', mac: '02:00:00:00:00:0a', clock, random: seededRandom(1) });
  const b = createStack({ link: linkB, ipv4: '192.168.69.2/24', mac: '02:00:00:00:00:0b', clock, random: seededRandom(2) });
  // What src/driver.ts does for a real link, on the manual clock.
  linkA.setReceiver((frames) => a.receive(frames, clock.now()));
  linkB.setReceiver((frames) => b.receive(frames, clock.now()));

  udpEcho(b, ECHO_PORT);
  const client = a.udp.createSocket({ type: 'udp4', recvBufferSize: 1 << 20 });
  client.bind(CLIENT_PORT);

  /** Delivers until neither end has a frame waiting (each delivery may send more). */
  const settle = (): void => {
    for (let turn = 0; turn < 1000; turn++) {
      linkA.flush();
      linkB.flush();
      if (MemoryLink.pump([wa, wb]) === 0) return;
    }
    throw new Error('the cable never went quiet');
  };

  const run = (ms: number): void => {
    const end = clock.now() + ms;
    for (let step = 0; step < 100_000; step++) {
      settle();
      const next = Math.min(a.pollAt(), b.pollAt(), faultsA?.nextDue() ?? Infinity, faultsB?.nextDue() ?? Infinity);
      if (next > end) break;
      if (next > clock.now()) clock.advance(next - clock.now());
      a.poll(clock.now());
      b.poll(clock.now());
    }
    clock.advance(end - clock.now());
    a.poll(clock.now());
    b.poll(clock.now());
    settle();
  };

  return { clock, a, b, wires: [wa, wb], faultsA, faultsB, client, run };
}

/** A payload that says which datagram it is in every byte, so a mix-up cannot go unseen. */
function payload(size: number): Uint8Array {
  return bytes(size, size);
}

/** Every echo waiting on the client socket. */
function received(client: UdpSocket): { data: Buffer; from: string }[] {
  const out: { data: Buffer; from: string }[] = [];
  for (let m = client.recv(); m !== null; m = client.recv()) out.push({ data: m.msg, from: `${m.rinfo.address}:${m.rinfo.port}` });
  return out;
}

function neighbor(s: Stack, addr: number) {
  return s.neighbors().find((n) => n.addr === addr);
}

/**
 * Sends one datagram from A and waits for its echo, up to `tries` times a second apart:
 * the first exchange also resolves each stack's neighbour entry for the other.
 */
function warmUp(n: Net, tries: number): boolean {
  for (let i = 0; i < tries; i++) {
    n.client.send(payload(WARM_UP), ECHO_PORT, '192.168.69.2');
    n.run(1000);
    if (received(n.client).length > 0) return true;
  }
  return false;
}

describe('two stacks over a simulated cable', () => {
  it('resolves each other over ARP, then echoes every datagram back byte for byte, in order', () => {
    const n = net();
    const { a, b, client } = n;

    // Before the first datagram can leave, A asks who has .2; B answers and learns A on the way.
    client.send(payload(WARM_UP), ECHO_PORT, '192.168.69.2');
    expect(neighbor(a, US.ip)?.state).toBe(NudState.INCOMPLETE);
    n.run(10);
    expect(neighbor(a, US.ip)).toMatchObject({ mac: US.mac, state: NudState.REACHABLE });
    expect(neighbor(b, PEER.ip)?.mac).toBe(PEER.mac);
    expect(a.counters().Arp).toMatchObject({ OutRequests: 1, InReplies: 1 });
    expect(b.counters().Arp).toMatchObject({ InRequests: 1, OutReplies: 1 });
    expect(received(client).map((m) => m.data)).toEqual([Buffer.from(payload(WARM_UP))]);

    for (const size of SIZES) client.send(payload(size), ECHO_PORT, '192.168.69.2');
    n.run(10);
    const echoes = received(client);
    expect(echoes.map((m) => m.data.length)).toEqual(SIZES);
    echoes.forEach((m, i) => expect(m.data.equals(payload(SIZES[i]!)), `echo of ${SIZES[i]} bytes`).toBe(true));
    expect(new Set(echoes.map((m) => m.from))).toEqual(new Set([`192.168.69.2:${ECHO_PORT}`]));

    // Fragmented both ways: every datagram over 1472 bytes, once by each stack.
    const fragmented = SIZES.filter((s) => s > 1472).length;
    for (const s of [a, b]) {
      expect(s.counters().Ip).toMatchObject({ FragOKs: fragmented, ReasmOKs: fragmented, ReasmFails: 0 });
      expect(s.counters().Udp).toMatchObject({ InDatagrams: SIZES.length + 1, InErrors: 0, NoPorts: 0 });
      expect(s.drops()).toEqual({});
      expect(s.reassemblyMemory()).toBe(0);
    }
    expect(n.wires.map((w) => w.stats.rx_crc_errors)).toEqual([0, 0]);
  });

  // One seed per scenario; each fault on its own, then all at once on both sides. (The
  // reorder knob swaps frames within one flush, so it is tried without a delay line,
  // which hands frames over one due time at a time; jitter reorders on its own.)
  const scenarios: [string, { a?: FaultOptions; b?: FaultOptions }][] = [
    ['corruption on A only', { a: { seed: 11, corrupt: 0.2 } }],
    ['loss and duplication on both sides', { a: { seed: 12, loss: 0.1, duplicate: 0.2 }, b: { seed: 13, loss: 0.1, duplicate: 0.2 } }],
    ['reordering on both sides', { a: { seed: 14, reorder: 0.3 }, b: { seed: 15, reorder: 0.3 } }],
    ['delay and jitter on both sides', { a: { seed: 16, delayMs: 1, jitterMs: 5 }, b: { seed: 17, delayMs: 2, jitterMs: 5 } }],
    ['everything at once on both sides', {
      a: { seed: 18, loss: 0.05, duplicate: 0.05, reorder: 0.1, corrupt: 0.05 },
      b: { seed: 19, loss: 0.05, duplicate: 0.05, reorder: 0.1, corrupt: 0.05 },
    }],
  ];

  it.each(scenarios)('with %s: corrupted frames die at the FCS, the echoes are a byte-exact subset', (_name, faults) => {
    const n = net(faults);
    const { a, b, client } = n;
    expect(warmUp(n, 10), 'no echo came back in 10 tries').toBe(true);
    // Each stack has resolved the other before the datagrams flow.

    expect(neighbor(a, US.ip)?.mac).toBe(US.mac);
    expect(neighbor(b, PEER.ip)?.mac).toBe(PEER.mac);

    // Three rounds of every size, a little time between datagrams so they interleave on the cable.
    // Keyed by size (all sizes differ); the warm-up's echo may still arrive as a late duplicate.
    const sent = new Map<number, Uint8Array>([[WARM_UP, payload(WARM_UP)]]);
    for (let round = 0; round < 3; round++) {
      for (const size of SIZES) {
        sent.set(size, payload(size));
        client.send(payload(size), ECHO_PORT, '192.168.69.2');
        n.run(2);
      }
    }
    n.run(1000);
    const echoes = received(client);

    for (const m of echoes) {
      const original = sent.get(m.data.length);
      expect(original, `an echo of ${m.data.length} bytes, a size never sent`).toBeDefined();
      expect(m.data.equals(original!), `echo of ${m.data.length} bytes differs from what was sent`).toBe(true);
      expect(m.from).toBe(`192.168.69.2:${ECHO_PORT}`);
    }
    // Faults thin the echoes out; they do not stop them. Without loss or corruption,
    // every datagram comes back, whatever the order and however many copies.
    expect(echoes.length).toBeGreaterThan(SIZES.length);
    const lossy = [faults.a, faults.b].some((f) => (f?.loss ?? 0) > 0 || (f?.corrupt ?? 0) > 0);
    if (!lossy) {
      for (const size of SIZES) expect(echoes.filter((m) => m.data.length === size).length, `echoes of ${size}`).toBeGreaterThanOrEqual(3);
    }

    // Each fault asked for did happen, so the scenario tests what its name says.
    for (const [opts, link] of [[faults.a, n.faultsA], [faults.b, n.faultsB]] as const) {
      if (opts === undefined || link === undefined) continue;
      const f = link.faults;
      if (opts.loss) expect(f.lost).toBeGreaterThan(0);
      if (opts.duplicate) expect(f.duplicated).toBeGreaterThan(0);
      if (opts.reorder) expect(f.reordered).toBeGreaterThan(0);
      if (opts.corrupt) expect(f.corrupted).toBeGreaterThan(0);
      if (opts.delayMs || opts.jitterMs) expect(f.delayed).toBeGreaterThan(0);
    }

    // Every frame a fault injector damaged was refused by the other side's FCS check: no more, no fewer.
    const corruptedByA = n.faultsA?.faults.corrupted ?? 0;
    const corruptedByB = n.faultsB?.faults.corrupted ?? 0;
    expect(b.drops()[DropReason.X_FCS] ?? 0).toBe(corruptedByA);
    expect(a.drops()[DropReason.X_FCS] ?? 0).toBe(corruptedByB);
    expect(b.linkStats().rx_crc_errors).toBe(corruptedByA);
    expect(a.linkStats().rx_crc_errors).toBe(corruptedByB);
    // … so no damage reached the checksums behind it, and no frame was lost to a full ring.
    for (const s of [a, b]) {
      const d = s.drops();
      for (const reason of [DropReason.IP_CSUM, DropReason.UDP_CSUM, DropReason.ICMP_CSUM, DropReason.FULL_RING]) {
        expect(d[reason], `${reason} on a cable whose FCS catches every error`).toBeUndefined();
      }
      expect(s.linkStats().rx_over_errors).toBe(0);
    }

    // Datagrams that lost a fragment are given up after ipfrag_time, and free their memory.
    n.run(a.config.frag.timeoutMs + 1000);
    expect(a.reassemblyMemory()).toBe(0);
    expect(b.reassemblyMemory()).toBe(0);
  });
});
