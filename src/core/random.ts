/**
 * Randomness, injected like the clock: the stack draws port numbers, IP IDs and timer
 * jitter from a `() => number` in [0, 1). Production uses the OS CSPRNG (RFC 6056 wants
 * unpredictable ephemeral ports); tests pass `seededRandom(n)` and get the same run twice.
 */
import { randomFillSync } from 'node:crypto';

export type Random = () => number;

/** Cryptographically strong, refilled 256 values at a time. */
export function cryptoRandom(): Random {
  const pool = new Uint32Array(256);
  let i = pool.length;
  return () => {
    if (i === pool.length) {
      randomFillSync(pool);
      i = 0;
    }
    return pool[i++]! / 0x1_0000_0000;
  };
}

/** mulberry32: a small, fast, seeded generator for deterministic tests and fault injection. */
export function seededRandom(seed: number): Random {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}
