/**
 * Two stacks joined by a MemoryLink, on one manual clock: A (192.168.69.1) and
 * B (192.168.69.2). `run()` moves frames and time until nothing is left to do.
 */
import { ManualClock } from '../../src/core/clock.js';
import type { DeepPartial, StackConfig } from '../../src/core/config.js';
import { seededRandom } from '../../src/core/random.js';
import type { Link } from '../../src/dev/device.js';
import { FaultyLink, type FaultOptions } from '../../src/dev/fault.js';
import { MemoryLink } from '../../src/dev/memory.js';
import { createStack, type Stack } from '../../src/stack.js';

export interface Pair {
  a: Stack;
  b: Stack;
  clock: ManualClock;
  links: [MemoryLink, MemoryLink];
  /** Delivers frames and runs timers until idle, or until `maxMs` of virtual time passed. */
  run(maxMs?: number, until?: () => boolean): void;
  /** Advances virtual time by `ms`, delivering frames and running timers on the way. */
  advance(ms: number): void;
}

export function pair(opts: {
  config?: DeepPartial<StackConfig>;
  faults?: Omit<FaultOptions, 'seed'> & { seed?: number };
  fcs?: boolean;
  mtu?: number;
  seed?: number;
} = {}): Pair {
  const clock = new ManualClock();
  const links = MemoryLink.pair({ fcs: opts.fcs ?? true, mtu: opts.mtu ?? 1500, rxRing: 100_000 });
  const wrap = (l: MemoryLink, seed: number): Link =>
    opts.faults ? new FaultyLink(l, { seed, ...opts.faults }, clock) : l;
  const la = wrap(links[0], (opts.faults?.seed ?? 1) * 2);
  const lb = wrap(links[1], (opts.faults?.seed ?? 1) * 2 + 1);
  const common = { clock, ...(opts.config !== undefined && { config: opts.config }) };
  const a = createStack({ link: la, ipv4: '192.168.69.1/24', mac: '02:00:00:00:00:0a', random: seededRandom(opts.seed ?? 7), ...common });
  const b = createStack({ link: lb, ipv4: '192.168.69.2/24', mac: '02:00:00:00:00:0b', random: seededRandom((opts.seed ?? 7) + 1), ...common });
  for (const [stack, link] of [[a, links[0]], [b, links[1]]] as const) {
    link.setReceiver((frames) => stack.receive(frames, clock.now()));
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
  const advance = (ms: number): void => {
    const end = clock.now() + ms;
    for (let guard = 0; guard < 10_000_000; guard++) {
      while (step());
      const t = nextEvent();
      if (t > end) break;
      if (t > clock.now()) clock.advance(t - clock.now());
      a.poll(clock.now());
      b.poll(clock.now());
    }
    if (end > clock.now()) clock.advance(end - clock.now());
    a.poll(clock.now());
    b.poll(clock.now());
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
      a.poll(clock.now());
      b.poll(clock.now());
    }
  };
  return { a, b, clock, links, run, advance };
}

/** Waits (in virtual time) for the microtasks and nextTicks the socket layer uses. */
export async function settle(p: Pair, rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await new Promise((r) => setImmediate(r));
    p.run(0);
  }
}
