/**
 * Initial sequence numbers (RFC 6528, RFC 9293 §3.4.1).
 *
 * An ISN must be hard to guess for anyone off the path, or they can inject data or resets
 * into a connection (RFC 6528 §1). It must also advance with time for each 4-tuple, so that
 * segments of an old incarnation of the same connection fall outside the new one's window
 * (RFC 9293 §3.4.1). RFC 6528 §3 gets both with
 *
 *   ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
 *
 * where M is a timer ticking every 4 µs (250 ticks per ms; it wraps every ~4.77 hours) and F
 * a keyed pseudo-random function. F here is SipHash-2-4 over the 12 bytes of the 4-tuple, as
 * Linux's `secure_tcp_seq` (net/core/secure_seq.c). Linux's timer ticks every 64 ns instead
 * of 4 µs; we keep the RFC's rate.
 *
 * The same generator also gives RFC 7323 §5.4's per-connection timestamp offset
 * (Linux `secure_tcp_ts_off`), so that TSval does not reveal the host's uptime.
 */
import { siphash2u32, siphash3u32, siphash4u32, sipKey, type SipKey } from '../../core/siphash.js';
import { ipv6Bytes, isIpv4, type IpAddr } from '../../wire/addr.js';
import { u32 } from '../../wire/bytes.js';
import type { Seq } from './seq.js';

/** Ticks of RFC 6528's M timer per millisecond: one per 4 µs. */
export const ISN_TICKS_PER_MS = 250;

const TWO_32 = 0x1_0000_0000;

/**
 * An address as one 32-bit word for the keyed hashes below: an IPv4 address as it is, an
 * IPv6 address hashed with `key`, so the final hash still depends on all 128 bits.
 */
export function addrWord(key: SipKey, a: IpAddr): number {
  if (isIpv4(a)) return a;
  const b = ipv6Bytes(a);
  return siphash4u32(key, u32(b, 0), u32(b, 4), u32(b, 8), u32(b, 12));
}

/** Secret-keyed ISNs (RFC 6528 §3). */
export class IsnGenerator {
  private readonly key: SipKey;

  /**
   * @param secret 16 random bytes, drawn once per stack (Linux draws `net_secret` once per
   *   boot). Throws if it is not 16 bytes long.
   */
  constructor(secret: Uint8Array) {
    this.key = sipKey(secret);
  }

  /**
   * The ISN for a connection from `localAddr:localPort` to `remoteAddr:remotePort` opened at
   * `nowMs` (ms on the stack's clock; fractions count): `(M + F) mod 2^32`.
   */
  isn(localAddr: IpAddr, localPort: number, remoteAddr: IpAddr, remotePort: number, nowMs: number): Seq {
    const k = this.key;
    const f = siphash3u32(k, addrWord(k, localAddr), addrWord(k, remoteAddr), ((localPort << 16) | remotePort) >>> 0);
    // M mod 2^32 first: nowMs·250 passes 2^32 after ~4.8 hours, and stays exact in a double.
    const m = Math.floor(nowMs * ISN_TICKS_PER_MS) % TWO_32;
    return (m + f) >>> 0;
  }

  /**
   * A per-host-pair offset to add to TCP timestamps (RFC 7323 §5.4; Linux
   * `secure_tcp_ts_off`), so that TSval neither leaks our clock nor can be compared across
   * peers. Keyed by the addresses only, so that every connection to one peer shares it and
   * the peer's PAWS state stays meaningful across connections.
   */
  tsOffset(localAddr: IpAddr, remoteAddr: IpAddr): number {
    const k = this.key;
    return siphash2u32(k, addrWord(k, localAddr), addrWord(k, remoteAddr));
  }
}
