import { describe, expect, it } from 'vitest';
import {
  SYNCOOKIE_MSS_TABLE, SynCookies, cookieTsVal, decodeTsOptions, encodeTsOptions,
} from '../../../src/transport/tcp/syncookies.js';

const SECRET = Uint8Array.from({ length: 32 }, (_, i) => (i * 29 + 11) & 0xff);
const PEER = 0xc0a84501; // 192.168.69.1, the SYN's source
const US = 0xc0a84502;
const PEER_PORT = 51_000;
const PORT = 80;
const PEER_ISN = 0x1234_5678;
const T0 = 3_600_000; // an hour into the clock, at the start of a minute

function cookies(): SynCookies {
  return new SynCookies(SECRET);
}

describe('SYN cookies: encode and decode', () => {
  it.each(SYNCOOKIE_MSS_TABLE.map((m) => [m]))('round-trips MSS %i', (mss) => {
    const c = cookies();
    const { isn, mss: used } = c.encode(PEER, PEER_PORT, US, PORT, PEER_ISN, mss, T0 + 1234);
    expect(used).toBe(mss);
    expect(c.decode(PEER, PEER_PORT, US, PORT, PEER_ISN, isn, T0 + 5000)).toBe(mss);
  });

  it.each([
    [1460, 1460], [9000, 1460], [1459, 1440], [1440, 1440], [1400, 1300], [1300, 1300],
    [1299, 536], [536, 536], [100, 536],
  ])('carries MSS %i as the table value %i', (offered, expected) => {
    const c = cookies();
    const { isn, mss } = c.encode(PEER, PEER_PORT, US, PORT, PEER_ISN, offered, T0);
    expect(mss).toBe(expected);
    expect(c.decode(PEER, PEER_PORT, US, PORT, PEER_ISN, isn, T0)).toBe(expected);
  });

  it('is checked by another instance with the same secret (no state is kept)', () => {
    const { isn } = cookies().encode(PEER, PEER_PORT, US, PORT, PEER_ISN, 1460, T0);
    expect(new SynCookies(SECRET.slice()).decode(PEER, PEER_PORT, US, PORT, PEER_ISN, isn, T0)).toBe(1460);
  });

  it('refuses a cookie made with another secret', () => {
    const other = SECRET.slice();
    other[20]! ^= 1;
    const { isn } = new SynCookies(other).encode(PEER, PEER_PORT, US, PORT, PEER_ISN, 1460, T0);
    expect(cookies().decode(PEER, PEER_PORT, US, PORT, PEER_ISN, isn, T0)).toBe(0);
  });

  it('refuses the cookie for any other 4-tuple', () => {
    const c = cookies();
    const { isn } = c.encode(PEER, PEER_PORT, US, PORT, PEER_ISN, 1460, T0);
    expect(c.decode(PEER + 1, PEER_PORT, US, PORT, PEER_ISN, isn, T0)).toBe(0);
    expect(c.decode(PEER, PEER_PORT + 1, US, PORT, PEER_ISN, isn, T0)).toBe(0);
    expect(c.decode(PEER, PEER_PORT, US + 1, PORT, PEER_ISN, isn, T0)).toBe(0);
    expect(c.decode(PEER, PEER_PORT, US, PORT + 1, PEER_ISN, isn, T0)).toBe(0);
    expect(c.decode(US, PORT, PEER, PEER_PORT, PEER_ISN, isn, T0)).toBe(0); // directions swapped
  });

  it('refuses the cookie with another peer ISN, even one a few apart', () => {
    // (Linux adds the peer ISN instead of hashing it, so there ISN + 1 would decode as the
    // next MSS down; see the module comment.)
    const c = cookies();
    for (const mss of SYNCOOKIE_MSS_TABLE) {
      const { isn } = c.encode(PEER, PEER_PORT, US, PORT, PEER_ISN, mss, T0);
      for (const d of [1, 2, 3, -1, -2, -3, 1 << 24, -(1 << 24)]) {
        expect(c.decode(PEER, PEER_PORT, US, PORT, (PEER_ISN + d) >>> 0, isn, T0)).toBe(0);
        // Moving ISN and cookie together does not help either.
        expect(c.decode(PEER, PEER_PORT, US, PORT, (PEER_ISN + d) >>> 0, (isn + d) >>> 0, T0)).toBe(0);
      }
    }
  });

  it('refuses a cookie a few off (an ACK that did not add 1), for every MSS', () => {
    // (In Linux a cookie for 536 off by +1 would decode as 1300; see the module comment.)
    const c = cookies();
    for (const mss of SYNCOOKIE_MSS_TABLE) {
      const { isn } = c.encode(PEER, PEER_PORT, US, PORT, PEER_ISN, mss, T0);
      for (const d of [1, 2, 3, -1, -2, -3, 1000]) {
        expect(c.decode(PEER, PEER_PORT, US, PORT, PEER_ISN, (isn + d) >>> 0, T0)).toBe(0);
      }
    }
  });

  it('works for a peer ISN near 2^32 (sums wrap)', () => {
    const c = cookies();
    const peerIsn = 0xffff_ffff;
    const { isn } = c.encode(PEER, PEER_PORT, US, PORT, peerIsn, 1300, T0);
    expect(isn).toBeGreaterThanOrEqual(0);
    expect(isn).toBeLessThan(2 ** 32);
    expect(c.decode(PEER, PEER_PORT, US, PORT, peerIsn, isn, T0)).toBe(1300);
  });

  it('is still valid a minute later, up to the end of the next minute', () => {
    const c = cookies();
    const { isn } = c.encode(PEER, PEER_PORT, US, PORT, PEER_ISN, 1440, T0);
    expect(c.decode(PEER, PEER_PORT, US, PORT, PEER_ISN, isn, T0 + 60_000)).toBe(1440);
    expect(c.decode(PEER, PEER_PORT, US, PORT, PEER_ISN, isn, T0 + 119_999)).toBe(1440);
  });

  it('expires when the counter has moved on by 2 (Linux MAX_SYNCOOKIE_AGE)', () => {
    const c = cookies();
    const { isn } = c.encode(PEER, PEER_PORT, US, PORT, PEER_ISN, 1440, T0);
    expect(c.decode(PEER, PEER_PORT, US, PORT, PEER_ISN, isn, T0 + 120_000)).toBe(0);
    expect(c.decode(PEER, PEER_PORT, US, PORT, PEER_ISN, isn, T0 + 180_000)).toBe(0); // 3 minutes
  });

  it('lives between one and two minutes depending on where in the minute it was made', () => {
    const c = cookies();
    const late = c.encode(PEER, PEER_PORT, US, PORT, PEER_ISN, 1460, T0 + 59_000).isn;
    expect(c.decode(PEER, PEER_PORT, US, PORT, PEER_ISN, late, T0 + 119_000)).toBe(1460); // 60 s later
    expect(c.decode(PEER, PEER_PORT, US, PORT, PEER_ISN, late, T0 + 120_000)).toBe(0); // 61 s later
  });

  it('refuses a cookie from the future (a counter ahead of ours)', () => {
    const c = cookies();
    const { isn } = c.encode(PEER, PEER_PORT, US, PORT, PEER_ISN, 1460, T0 + 60_000);
    expect(c.decode(PEER, PEER_PORT, US, PORT, PEER_ISN, isn, T0)).toBe(0);
  });

  it('lets almost no random cookie through', () => {
    const c = cookies();
    let accepted = 0;
    let x = 0x9e37_79b9;
    for (let i = 0; i < 20_000; i++) {
      x = (Math.imul(x, 1_664_525) + 1_013_904_223) >>> 0;
      if (c.decode(PEER, PEER_PORT, US, PORT, PEER_ISN, x, T0) !== 0) accepted++;
    }
    // Expected 20 000 · 2 live counter values/256 · 4/2^24 ≈ 0.00004.
    expect(accepted).toBeLessThanOrEqual(1);
  });

  it('refuses a secret that is not 32 bytes', () => {
    expect(() => new SynCookies(new Uint8Array(16))).toThrow(RangeError);
  });
});

describe('SYN cookies: options in the timestamp', () => {
  it('encodes window scale, SACK and ECN in the low 6 bits as Linux does', () => {
    expect(encodeTsOptions(7, false, false)).toBe(0b00_0111);
    expect(encodeTsOptions(7, true, false)).toBe(0b01_0111);
    expect(encodeTsOptions(7, true, true)).toBe(0b11_0111);
    expect(encodeTsOptions(null, false, false)).toBe(0b00_1111); // 15: no window scaling
    expect(encodeTsOptions(0, false, true)).toBe(0b10_0000);
    expect(encodeTsOptions(20, false, false)).toBe(14); // RFC 7323 §2.3: at most 14
  });

  it('round-trips every combination', () => {
    for (const wscale of [null, 0, 1, 7, 14]) {
      for (const sackOk of [false, true]) {
        for (const ecnOk of [false, true]) {
          const tsval = cookieTsVal(123_456_789, encodeTsOptions(wscale, sackOk, ecnOk));
          expect(decodeTsOptions(tsval)).toEqual({ wscale, sackOk, ecnOk });
        }
      }
    }
  });

  it('never puts TSval ahead of the clock, and stays within 64 ticks behind', () => {
    for (const now of [1_000_000, 1_000_063, 1_000_064, 1_000_127, 0xffff_fff0]) {
      for (let options = 0; options < 64; options++) {
        const ts = cookieTsVal(now, options);
        expect(ts & 63).toBe(options);
        expect(ts).toBeLessThanOrEqual(now);
        expect(now - ts).toBeLessThan(64);
      }
    }
  });

  it('wraps below zero when the clock is that young (TS comparisons are modular)', () => {
    const ts = cookieTsVal(5, 0b00_1111);
    expect(ts).toBe((5 & ~63 | 0b1111) - 64 + 2 ** 32);
    expect(((5 - ts) | 0)).toBeGreaterThan(0); // still "before" now on the circle
  });
});
