/**
 * Time, passed in. The stack never reads a clock of its own: drivers call
 * `receive(frames, now)` and `poll(now)` with `now` in milliseconds from a `Clock`.
 * Tests use `ManualClock`, so a 30-second reassembly timeout runs in microseconds.
 */
export interface Clock {
  /** Monotonic milliseconds; only differences mean anything. */
  now(): number;
  /** Wall-clock milliseconds since the Unix epoch (ICMP timestamps). */
  wall(): number;
}

export class RealClock implements Clock {
  now(): number {
    return performance.now();
  }
  wall(): number {
    return Date.now();
  }
}

export class ManualClock implements Clock {
  constructor(
    private t = 0,
    private readonly epoch = Date.UTC(2026, 0, 1),
  ) {}
  now(): number {
    return this.t;
  }
  wall(): number {
    return this.epoch + this.t;
  }
  advance(ms: number): number {
    this.t += ms;
    return this.t;
  }
}
