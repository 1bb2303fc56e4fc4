/**
 * Two stacks over a MemoryLink pair with virtio-net-like offloads (or without), on one manual
 * clock: A (192.168.69.1, fd00:69::1) and B (192.168.69.2, fd00:69::2). Like pair.ts, but the
 * stacks see the links themselves (or a FaultyLink over them), so that `offload`, `rxFlags` and
 * `sendOffload` reach them; every frame either stack hands its link is also recorded in `sent`.
 *
 * ```
 *  stack A ─► [FaultyLink] ─► MemoryLink a ══ MemoryLink b ◄─ [FaultyLink] ◄─ stack B
 *             (seeded faults)   offload: super-frames intact between two offload ends,
 *                                        cut in software toward an end without
 * ```
 */
import { ManualClock } from '../../src/core/clock.js';
import type { DeepPartial, StackConfig } from '../../src/core/config.js';
import { seededRandom } from '../../src/core/random.js';
import type { Link } from '../../src/dev/device.js';
import { FaultyLink, type FaultOptions } from '../../src/dev/fault.js';
import { MemoryLink } from '../../src/dev/memory.js';
import { createStack, type Stack } from '../../src/stack.js';

/** A frame as one end handed it to its link: `gsoSize` 0 for `send`, else `sendOffload`'s. */
export interface SentFrame {
  frame: Uint8Array;
  offload: boolean;
  gsoSize: number;
}

export interface OffloadPair {
  a: Stack;
  b: Stack;
  clock: ManualClock;
  links: [MemoryLink, MemoryLink];
  faulty: FaultyLink[];
  /** What each end handed its link (before faults), A's then B's; only while `record` is set. */
  sent: [SentFrame[], SentFrame[]];
  record: boolean;
  /** Delivers frames and runs timers until idle, `until` holds, or `maxMs` of virtual time passed. */
  run(maxMs?: number, until?: () => boolean): void;
  /** Advances virtual time by `ms`, delivering frames and running timers on the way. */
  advance(ms: number): void;
}

export function offloadPair(opts: {
  offload: boolean | [boolean, boolean];
  faults?: Omit<FaultOptions, 'seed'> & { seed?: number };
  fcs?: boolean;
  mtu?: number;
  seed?: number;
  config?: DeepPartial<StackConfig>;
}): OffloadPair {
  const clock = new ManualClock();
  const links = MemoryLink.pair({ fcs: opts.fcs ?? true, mtu: opts.mtu ?? 1500, rxRing: 100_000, offload: opts.offload });
  const sent: [SentFrame[], SentFrame[]] = [[], []];
  const p = { record: false };
  const wrap = (l: MemoryLink, seed: number): Link =>
    opts.faults ? new FaultyLink(l, { seed, ...opts.faults }, clock) : l;
  const la = wrap(links[0], (opts.faults?.seed ?? 1) * 2);
  const lb = wrap(links[1], (opts.faults?.seed ?? 1) * 2 + 1);
  // The wiretap sits where the stack hands frames over, before any fault or delay.
  [la, lb].forEach((l, i) => {
    const send = l.send.bind(l);
    const sendOffload = l.sendOffload!.bind(l);
    l.send = (f) => {
      if (p.record) sent[i]!.push({ frame: f.slice(), offload: false, gsoSize: 0 });
      send(f);
    };
    l.sendOffload = (f, cs, co, type, size, hdr) => {
      if (p.record) sent[i]!.push({ frame: f.slice(), offload: true, gsoSize: size });
      sendOffload(f, cs, co, type, size, hdr);
    };
  });
  const common = { clock, ...(opts.config !== undefined && { config: opts.config }) };
  const a = createStack({
    link: la, ipv4: '192.168.69.1/24', ipv6: 'fd00:69::1/64', mac: '02:00:00:00:00:0a', random: seededRandom(opts.seed ?? 7), ...common,
  });
  const b = createStack({
    link: lb, ipv4: '192.168.69.2/24', ipv6: 'fd00:69::2/64', mac: '02:00:00:00:00:0b', random: seededRandom((opts.seed ?? 7) + 1), ...common,
  });
  for (const [stack, link] of [[a, links[0]], [b, links[1]]] as const) {
    link.setReceiver((frames) => stack.receive(frames, clock.now()));
    stack.start(clock.now()); // gratuitous ARP, and duplicate address detection for the IPv6 addresses
  }
  const faulty = [la, lb].filter((l): l is FaultyLink => l instanceof FaultyLink);

  const step = (): boolean => {
    for (const f of faulty) f.flush();
    let moved = 0;
    for (const l of links) l.flush();
    for (const l of links) moved += l.deliver();
    return moved > 0;
  };
  const nextEvent = (): number => {
    let t = Math.min(a.pollAt(), b.pollAt());
    for (const f of faulty) t = Math.min(t, f.nextDue() ?? Infinity);
    return t;
  };
  const poll = (): void => {
    a.poll(clock.now());
    b.poll(clock.now());
  };
  const advance = (ms: number): void => {
    const end = clock.now() + ms;
    for (let guard = 0; guard < 10_000_000; guard++) {
      while (step());
      const t = nextEvent();
      if (t > end) break;
      if (t > clock.now()) clock.advance(t - clock.now());
      poll();
    }
    if (end > clock.now()) clock.advance(end - clock.now());
    poll();
    while (step());
  };
  const run = (maxMs = 600_000, until?: () => boolean): void => {
    const end = clock.now() + maxMs;
    for (let guard = 0; guard < 10_000_000; guard++) {
      while (step());
      if (until?.()) return;
      const t = nextEvent();
      if (t === Infinity || t > end) return;
      if (t > clock.now()) clock.advance(t - clock.now());
      poll();
    }
  };
  return {
    a, b, clock, links, faulty, sent, run, advance,
    get record() {
      return p.record;
    },
    set record(on: boolean) {
      p.record = on;
    },
  };
}
