/**
 * Link and network addresses as plain numbers, so that they compare with `===`, key a `Map`
 * without a string, and cost no allocation to read off the wire.
 *
 * - An IPv4 address is its 32 bits as an unsigned integer (`0xc0a84502` is 192.168.69.2).
 * - A MAC address is its 48 bits as an integer (`0x02000000000a` is 02:00:00:00:00:0a); a
 *   double holds integers up to 2^53 exactly, so no precision is lost. Bitwise operators work
 *   on 32 bits only, which is why the helpers below split a MAC into its high 16 and low
 *   32 bits with arithmetic.
 *
 * (IPv6 addresses, 128 bits, will need a different representation and live apart.)
 */
import { setU16, setU32, u16, u32 } from './bytes.js';

/** An IPv4 address: the 32-bit value in host order, always non-negative (`>>> 0`). */
export type Ipv4Addr = number;

/** A 48-bit Ethernet MAC address as an integer, first octet most significant. */
export type Mac = number;

/** 2^32: the weight of a MAC's top 16 bits. */
const TWO_32 = 0x1_0000_0000;

/** ff:ff:ff:ff:ff:ff. */
export const BROADCAST_MAC: Mac = 0xffff_ffff_ffff;

/** 255.255.255.255, the limited broadcast address (RFC 919). */
export const IPV4_BROADCAST: Ipv4Addr = 0xffff_ffff;

/** 0.0.0.0, "this host" / unspecified (RFC 1122 §3.2.1.3). */
export const IPV4_ANY: Ipv4Addr = 0;

// ---- MAC -----------------------------------------------------------------------------------

/** Reads the 6-byte MAC at `b[o]`. */
export function readMac(b: Uint8Array, o: number): Mac {
  return u16(b, o) * TWO_32 + u32(b, o + 2);
}

/** Writes MAC `m` as 6 bytes at `b[o]`. */
export function writeMac(b: Uint8Array, o: number, m: Mac): void {
  setU16(b, o, Math.floor(m / TWO_32));
  setU32(b, o + 2, m % TWO_32);
}

/**
 * True for a group address: the I/G bit (least significant bit of the first octet, IEEE 802
 * §8.2) is set. Broadcast is the all-ones group, so it is multicast too.
 */
export function isMulticastMac(m: Mac): boolean {
  return (Math.floor(m / 0x100_0000_0000) & 1) === 1;
}

/**
 * The Ethernet group address an IPv4 multicast address maps to (RFC 1112 §6.4):
 * 01:00:5e followed by the low 23 bits of the group.
 */
export function ipv4MulticastMac(a: Ipv4Addr): Mac {
  return 0x01_00_5e_00_00_00 + (a & 0x7f_ffff);
}

/**
 * Parses `aa:bb:cc:dd:ee:ff` (either case; `-` is accepted as the separator too, if used
 * throughout). Exactly six groups of two hex digits; anything else gives `null`.
 */
export function parseMac(s: string): Mac | null {
  if (s.length !== 17) return null;
  const sep = s[2];
  if (sep !== ':' && sep !== '-') return null;
  let m = 0;
  for (let i = 0; i < 6; i++) {
    const p = i * 3;
    if (i > 0 && s[p - 1] !== sep) return null;
    const hi = hexDigit(s.charCodeAt(p));
    const lo = hexDigit(s.charCodeAt(p + 1));
    if (hi < 0 || lo < 0) return null;
    m = m * 256 + (hi << 4) + lo;
  }
  return m;
}

/** Formats a MAC in the lowercase colon form Linux prints (`02:00:00:00:00:0a`). */
export function formatMac(m: Mac): string {
  let s = '';
  for (let shift = 40; shift >= 0; shift -= 8) {
    const octet = Math.floor(m / 2 ** shift) % 256;
    s += (shift === 40 ? '' : ':') + octet.toString(16).padStart(2, '0');
  }
  return s;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30; // 0-9
  if (c >= 0x61 && c <= 0x66) return c - 0x57; // a-f
  if (c >= 0x41 && c <= 0x46) return c - 0x37; // A-F
  return -1;
}

// ---- IPv4 ----------------------------------------------------------------------------------

/** Reads the 4-byte IPv4 address at `b[o]`. */
export function readIpv4(b: Uint8Array, o: number): Ipv4Addr {
  return u32(b, o);
}

/** Writes IPv4 address `a` as 4 bytes at `b[o]`. */
export function writeIpv4(b: Uint8Array, o: number, a: Ipv4Addr): void {
  setU32(b, o, a);
}

/**
 * Parses dotted-quad `a.b.c.d`, each part a decimal 0–255 without leading zeros — the form
 * `inet_pton(AF_INET)` and Node's `net.isIPv4` accept (a leading zero would be octal to
 * `inet_aton`, so it is refused rather than guessed). Anything else gives `null`.
 */
export function parseIpv4(s: string): Ipv4Addr | null {
  let addr = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0x2e; // a virtual '.' closes the last part
    if (c === 0x2e) {
      if (digits === 0 || parts === 4) return null;
      addr = addr * 256 + part;
      parts++;
      part = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && part === 0) return null; // leading zero
      part = part * 10 + (c - 0x30);
      if (part > 255) return null;
      digits++;
    } else {
      return null;
    }
  }
  return parts === 4 ? addr : null;
}

/** Formats an IPv4 address as a dotted quad. */
export function formatIpv4(a: Ipv4Addr): string {
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

/**
 * Parses `a.b.c.d/n` with `n` in 0–32 (decimal, no leading zeros). The address is returned
 * as written, host bits included (`192.168.69.2/24` names the host and its subnet).
 */
export function parseCidr(s: string): { addr: Ipv4Addr; prefixLen: number } | null {
  const slash = s.indexOf('/');
  if (slash < 0) return null;
  const addr = parseIpv4(s.slice(0, slash));
  const len = s.slice(slash + 1);
  if (addr === null || !/^(?:0|[1-9]\d?)$/.test(len)) return null;
  const prefixLen = Number(len);
  return prefixLen <= 32 ? { addr, prefixLen } : null;
}

/** The netmask of a prefix length 0–32 as a uint32 (`24` → `0xffffff00`). */
export function prefixMask(len: number): number {
  // `x << 32` is `x << 0` in JavaScript, so /0 needs its own case.
  return len <= 0 ? 0 : (0xffff_ffff << (32 - Math.min(len, 32))) >>> 0;
}

/** True for 224.0.0.0/4, the IPv4 multicast range (RFC 5771). */
export function isIpv4Multicast(a: Ipv4Addr): boolean {
  return a >>> 28 === 0xe;
}
