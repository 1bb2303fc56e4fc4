/**
 * SYN cookies (RFC 4987 §3.6), as Linux makes them (net/ipv4/syncookies.c).
 *
 * When the SYN queue is full, a listener can still answer a SYN without keeping any state:
 * it encodes what it must remember in its own ISN, the "cookie", and forgets the SYN. A
 * genuine client's ACK returns the cookie as `ack − 1`, together with its own ISN as
 * `seq − 1`, and the listener checks the cookie and rebuilds the connection from it. A
 * flood of spoofed SYNs then costs memory for nothing.
 *
 * The cookie is Linux's, with two changes (below):
 *
 * ```text
 *   cookie = H0(4-tuple, peerIsn) + (count << 24) + ((H1(4-tuple, count) + (mssIndex << 22)) mod 2^24)
 *
 *    31        24 23 22 21                              0
 *   +------------+-----+--------------------------------+
 *   |   count    | H1 + mssIndex·2^22, mod 2^24         |   ← after subtracting H0
 *   +------------+-----+--------------------------------+
 * ```
 *
 * - `H0` and `H1` are SipHash-2-4 under two independent keys (Linux `syncookie_secret[2]`),
 *   over saddr, daddr, sport·2^16 + dport and the peer's ISN (H0) or the minute counter
 *   (H1). Adding H0 hides the structure from anyone who does not know the key.
 * - Change 1: Linux hashes the 4-tuple alone into H0 and *adds* the peer's ISN to the
 *   cookie. An ACK whose `seq − 1` is off by d then decodes as an MSS index off by d, and
 *   passes when that is still in the table. Hashing the ISN into H0 makes any other ISN fail.
 * - `count` is a minute counter (Linux `tcp_cookie_time()`, jiffies / 60 s), its low 8 bits
 *   carried in the top byte. A cookie is accepted while the counter has moved on by less
 *   than MAX_SYNCOOKIE_AGE = 2, i.e. in the minute it was made and the next one: it lives
 *   between 1 and 2 minutes.
 * - `mssIndex` picks one of four MSS values (Linux `msstab`, IPv4), the only thing about the
 *   SYN the cookie can remember. Change 2: Linux adds the index itself (`H1 + mssIndex`)
 *   and accepts any result below 4, so a cookie off by a few still decodes, with another
 *   MSS. We add it in the top 2 of the 24 bits and accept only when the low 22 come out
 *   zero: a cookie off by less than 2^22 fails. Either way a forged cookie passes with 4
 *   chances in 2^24 per live counter value.
 *
 * **Options are lost**: window scale, SACK-permitted and ECN were in the SYN, and the ACK does
 * not repeat them. Linux recovers them when the peer does timestamps: the SYN-ACK's TSval
 * carries them in its low 6 bits, and the peer echoes it in the ACK's TSecr
 * ({@link cookieTsVal}, {@link decodeTsOptions}). Without timestamps the connection proceeds
 * without window scaling and SACK.
 *
 * Addresses and ports are those of the segment received: `saddr`/`sport` are the peer's
 * (the source of the SYN and of the ACK), `daddr`/`dport` ours.
 */
import { siphash4u32, sipKey, type SipKey } from '../../core/siphash.js';
import type { IpAddr } from '../../wire/addr.js';
import { addrWord } from './isn.js';
import type { Seq } from './seq.js';

/**
 * The MSS values a cookie can carry (Linux `msstab` for IPv4): 536 (the IPv4 default,
 * RFC 9293 §3.7.1), 1300, 1440 (PPPoE and tunnels), 1460 (Ethernet).
 */
export const SYNCOOKIE_MSS_TABLE: readonly number[] = [536, 1300, 1440, 1460];

/** Minute-counter ticks a cookie stays valid for (Linux MAX_SYNCOOKIE_AGE). */
export const MAX_SYNCOOKIE_AGE = 2;

/** Length of one counter tick (Linux TCP_SYNCOOKIE_PERIOD: 60 s). */
export const SYNCOOKIE_PERIOD_MS = 60_000;

const COOKIE_BITS = 24;
const COOKIE_MASK = (1 << COOKIE_BITS) - 1;
const TWO_24 = 1 << COOKIE_BITS;
/** Where the MSS index sits in the 24-bit field: its top 2 bits. */
const INDEX_SHIFT = 22;
const INDEX_CHECK_MASK = (1 << INDEX_SHIFT) - 1;

/** A cookie as made by {@link SynCookies.encode}. */
export interface SynCookie {
  /** The ISN to put in our SYN-ACK. */
  isn: Seq;
  /** The MSS the cookie carries: the table value at or below the peer's, which we must use. */
  mss: number;
}

/** Makes and checks SYN cookies without keeping state (RFC 4987 §3.6, Linux syncookies.c). */
export class SynCookies {
  private readonly key0: SipKey;
  private readonly key1: SipKey;

  /**
   * @param secret 32 random bytes: two SipHash keys, one per hash (Linux keeps two,
   *   `syncookie_secret[2]`). Throws if it is not 32 bytes long.
   */
  constructor(secret: Uint8Array) {
    if (secret.length !== 32) throw new RangeError(`SYN cookie secret must be 32 bytes, got ${secret.length}`);
    this.key0 = sipKey(secret.subarray(0, 16));
    this.key1 = sipKey(secret.subarray(16, 32));
  }

  /**
   * The cookie ISN for a SYN from `saddr:sport` to `daddr:dport` whose sequence number is
   * `peerIsn` and whose MSS option said `mss` (536 if it had none), at `nowMs`.
   * Like Linux, an MSS below every table entry is rounded up to 536, the least any IPv4
   * host must accept (RFC 9293 §3.7.1).
   */
  encode(saddr: IpAddr, sport: number, daddr: IpAddr, dport: number, peerIsn: Seq, mss: number, nowMs: number): SynCookie {
    let index = SYNCOOKIE_MSS_TABLE.length - 1;
    while (index > 0 && mss < SYNCOOKIE_MSS_TABLE[index]!) index--;
    const ports = portsWord(sport, dport);
    const count = cookieTime(nowMs);
    const s = addrWord(this.key0, saddr);
    const d = addrWord(this.key0, daddr);
    const h0 = siphash4u32(this.key0, s, d, ports, peerIsn);
    const h1 = siphash4u32(this.key1, s, d, ports, count);
    const isn = (h0 + (count & 0xff) * TWO_24 + ((h1 + (index << INDEX_SHIFT)) & COOKIE_MASK)) >>> 0;
    return { isn, mss: SYNCOOKIE_MSS_TABLE[index]! };
  }

  /**
   * Checks the cookie returned by the ACK from `saddr:sport` to `daddr:dport`:
   * `peerIsn` is the ACK's `seq − 1`, `cookie` its `ack − 1`.
   *
   * @returns the MSS the cookie carries, or 0 if it is not one of ours, not for this
   *   connection, or older than {@link MAX_SYNCOOKIE_AGE} minutes.
   */
  decode(saddr: IpAddr, sport: number, daddr: IpAddr, dport: number, peerIsn: Seq, cookie: Seq, nowMs: number): number {
    const ports = portsWord(sport, dport);
    const count = cookieTime(nowMs);
    // Strip H0: what is left is count·2^24 + ((H1 + index·2^22) mod 2^24).
    const s = addrWord(this.key0, saddr);
    const d = addrWord(this.key0, daddr);
    const rest = (cookie - siphash4u32(this.key0, s, d, ports, peerIsn)) >>> 0;
    // How many minutes ago it was made, mod 256 (the counter's width in the cookie).
    const age = (count - (rest >>> COOKIE_BITS)) & 0xff;
    if (age >= MAX_SYNCOOKIE_AGE) return 0;
    const h1 = siphash4u32(this.key1, s, d, ports, (count - age) >>> 0);
    const data = (rest - h1) & COOKIE_MASK;
    if ((data & INDEX_CHECK_MASK) !== 0) return 0;
    return SYNCOOKIE_MSS_TABLE[data >>> INDEX_SHIFT] ?? 0;
  }
}

/** The minute counter (Linux `tcp_cookie_time()`), as a uint32. */
function cookieTime(nowMs: number): number {
  return Math.floor(nowMs / SYNCOOKIE_PERIOD_MS) >>> 0;
}

function portsWord(sport: number, dport: number): number {
  return ((sport << 16) | dport) >>> 0;
}

// ---- Options in the timestamp (Linux cookie_init_timestamp / cookie_timestamp_decode) ------

/**
 * The low 6 bits of a cookie SYN-ACK's TSval:
 *
 * ```text
 *    5     4     3 … 0
 *  +-----+------+--------+
 *  | ECN | SACK | wscale |   wscale 15 = "the peer sent no window scale option"
 *  +-----+------+--------+
 * ```
 *
 * No bit says "timestamps": an ACK that carries the option proves the peer does them.
 */
export const TS_OPT_BITS = 6;
const TS_OPT_WSCALE_MASK = 0xf;
const TS_OPT_SACK = 1 << 4;
const TS_OPT_ECN = 1 << 5;
const TS_OPT_MASK = (1 << TS_OPT_BITS) - 1;

/** The options a cookie carries in the timestamp. */
export interface TsCookieOptions {
  /** The peer's window scale shift (0–14), or null if it did not offer window scaling. */
  wscale: number | null;
  /** The peer sent SACK-permitted. */
  sackOk: boolean;
  /** The peer asked for ECN. */
  ecnOk: boolean;
}

/**
 * The 6-bit option value for the peer's SYN options: `wscale` is the shift from its window
 * scale option (0–14, larger values are taken as 14 as RFC 7323 §2.3 says), or null if it
 * sent none.
 */
export function encodeTsOptions(wscale: number | null, sackOk: boolean, ecnOk: boolean): number {
  let options = wscale === null ? TS_OPT_WSCALE_MASK : Math.min(wscale, 14);
  if (sackOk) options |= TS_OPT_SACK;
  if (ecnOk) options |= TS_OPT_ECN;
  return options;
}

/**
 * Reads the options back from the TSecr of the ACK that returned the cookie. The caller
 * first removes any per-connection timestamp offset it added to TSval (Linux subtracts
 * `secure_tcp_ts_off`), and checks that SACK is enabled locally if `sackOk` is set (Linux
 * refuses the cookie otherwise).
 */
export function decodeTsOptions(tsecr: number): TsCookieOptions {
  const w = tsecr & TS_OPT_WSCALE_MASK;
  return {
    wscale: w === TS_OPT_WSCALE_MASK ? null : w,
    sackOk: (tsecr & TS_OPT_SACK) !== 0,
    ecnOk: (tsecr & TS_OPT_ECN) !== 0,
  };
}

/**
 * The TSval for a cookie SYN-ACK: our timestamp clock `tsNow` with its low 6 bits replaced
 * by `options` ({@link encodeTsOptions}). If that would put the value ahead of `tsNow`, it
 * steps back 64 ticks: later segments use the plain clock, and the peer's PAWS check
 * (RFC 7323 §5) would drop them if the first TSval had been in their future.
 */
export function cookieTsVal(tsNow: number, options: number): number {
  const now = tsNow >>> 0;
  let ts = ((now & ~TS_OPT_MASK) | (options & TS_OPT_MASK)) >>> 0;
  if (ts > now) ts = (ts - (1 << TS_OPT_BITS)) >>> 0;
  return ts;
}
