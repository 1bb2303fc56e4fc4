/**
 * Two stacks joined by a MemoryLink, on one manual clock: A (192.168.69.1) and
 * B (192.168.69.2). `run()` moves frames and time until nothing is left to do.
 *
 * Each stack sends through `CutLink ─► [FaultyLink ─►] MemoryLink`: the optional fault
 * injector mistreats frames per its seeded knobs, and the cut (`setBlackout`) drops
 * everything, as a pulled cable, so that a test can switch an outage on and off.
 */
import { ManualClock } from '../../src/core/clock.js';
import type { DeepPartial, StackConfig } from '../../src/core/config.js';
import { seededRandom } from '../../src/core/random.js';
import type { FrameHandler, Link, LinkStats } from '../../src/dev/device.js';
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
  /** The fault injectors, A's then B's (empty without `faults`). */
  faulty: FaultyLink[];
  /** While on, every frame either stack sends is lost (counted in `cut[i].dropped`). */
  setBlackout(on: boolean): void;
  /** The outage switches, A's then B's. */
  cut: [CutLink, CutLink];
}

/** A link that passes frames on, or drops them all while `cut` is set: an unplugged cable. */
export class CutLink implements Link {
  /** Drop every frame sent while set. */
  cut = false;
  /** Frames dropped by the cut. */
  dropped = 0;
  /** Told of every frame the stack sends, and whether the cut dropped it (a test's wiretap). */
  onSend: ((frame: Uint8Array, cut: boolean) => void) | null = null;
  readonly name: string;
  readonly mtu: number;
  readonly hasFcs: boolean;
  readonly stats: LinkStats;

  constructor(private readonly inner: Link) {
    this.name = inner.name;
    this.mtu = inner.mtu;
    this.hasFcs = inner.hasFcs;
    this.stats = inner.stats;
  }

  setReceiver(handler: FrameHandler | null): void {
    this.inner.setReceiver(handler);
  }

  send(frame: Uint8Array): void {
    this.onSend?.(frame, this.cut);
    if (this.cut) this.dropped++;
    else this.inner.send(frame);
  }

  flush(): void {
    this.inner.flush();
  }

  close(): void {
    this.inner.close();
  }
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
  const fa = wrap(links[0], (opts.faults?.seed ?? 1) * 2);
  const fb = wrap(links[1], (opts.faults?.seed ?? 1) * 2 + 1);
  const la = new CutLink(fa);
  const lb = new CutLink(fb);
  const common = { clock, ...(opts.config !== undefined && { config: opts.config }) };
  const a = createStack({ link: la, ipv4: '192.168.69.1/24', mac: '02:00:00:00:00:0a', random: seededRandom(opts.seed ?? 7), ...common });
  const b = createStack({ link: lb, ipv4: '192.168.69.2/24', mac: '02:00:00:00:00:0b', random: seededRandom((opts.seed ?? 7) + 1), ...common });
  for (const [stack, link] of [[a, links[0]], [b, links[1]]] as const) {
    link.setReceiver((frames) => stack.receive(frames, clock.now()));
  }
  const faulty = [fa, fb].filter((l): l is FaultyLink => l instanceof FaultyLink);

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
  const setBlackout = (on: boolean): void => {
    la.cut = on;
    lb.cut = on;
  };
  return { a, b, clock, links, run, advance, faulty, setBlackout, cut: [la, lb] };
}

/** Waits (in virtual time) for the microtasks and nextTicks the socket layer uses. */
export async function settle(p: Pair, rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await new Promise((r) => setImmediate(r));
    p.run(0);
  }
}
