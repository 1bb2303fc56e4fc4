/**
 * A token bucket on the virtual clock: `rate` tokens per second, at most `burst` saved.
 * Linux limits ICMP errors with two of these (icmp_global_allow and, per destination,
 * inet_peer_xrlim_allow).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    now = 0,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes one token if there is one. */
  take(now: number): boolean {
    const elapsed = now - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerSec) / 1000);
      this.last = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * One bucket per key, for at most `maxKeys` keys; the oldest key is forgotten first
 * (a forgotten peer starts again with a full burst, as with Linux's inetpeer cache).
 */
export class KeyedTokenBuckets<K> {
  private readonly buckets = new Map<K, TokenBucket>();

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    private readonly maxKeys: number,
  ) {}

  take(key: K, now: number): boolean {
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next().value as K;
        this.buckets.delete(oldest);
      }
      b = new TokenBucket(this.ratePerSec, this.burst, now);
      this.buckets.set(key, b);
    }
    return b.take(now);
  }
}
