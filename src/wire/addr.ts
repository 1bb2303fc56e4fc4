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
 * An IPv6 address, 128 bits, does not fit a number: it is its canonical text (RFC 5952), so
 * it still compares with `===` and keys a `Map`. Reading one off the wire goes through a small
 * cache of recent addresses (see {@link readIpv6}), so a packet from a known peer allocates no
 * string; its bytes, when needed for a checksum or a prefix test, come from a bounded cache
 * too (see {@link ipv6Bytes}).
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

// ---- IPv6 ----------------------------------------------------------------------------------

/**
 * An IPv6 address as its canonical text (RFC 5952 §4): lowercase hex, no leading zeros, the
 * longest run of two or more zero groups written `::` (the first such run on a tie), and an
 * IPv4-mapped address in mixed notation (`::ffff:192.0.2.1`, §5). Every function here that
 * returns one returns it canonical, so two equal addresses are always `===`.
 */
export type Ipv6Addr = string;

/** An address of either family: `typeof a === 'number'` is IPv4. */
export type IpAddr = Ipv4Addr | Ipv6Addr;

/** `::`, the unspecified address (RFC 4291 §2.5.2). */
export const IPV6_ANY: Ipv6Addr = '::';
/** `::1`, the loopback address (RFC 4291 §2.5.3). */
export const IPV6_LOOPBACK: Ipv6Addr = '::1';
/** `ff02::1`, all nodes on the link (RFC 4291 §2.7.1). */
export const IPV6_ALL_NODES: Ipv6Addr = 'ff02::1';
/** `ff02::2`, all routers on the link (RFC 4291 §2.7.1). */
export const IPV6_ALL_ROUTERS: Ipv6Addr = 'ff02::2';

/** Multicast scope values (RFC 4291 §2.7, RFC 7346): the low nibble of the second byte. */
export const IPV6_SCOPE_INTERFACE = 0x1;
export const IPV6_SCOPE_LINK = 0x2;
export const IPV6_SCOPE_SITE = 0x5;
export const IPV6_SCOPE_GLOBAL = 0xe;

/** True for an IPv4 address (a number); narrows the type. */
export function isIpv4(a: IpAddr): a is Ipv4Addr {
  return typeof a === 'number';
}

const COLON = 0x3a;
const DOT = 0x2e;

/** Scratch for the eight 16-bit groups being parsed or formatted (all of this is synchronous). */
const groups = new Uint16Array(8);

/** Formats eight groups as RFC 5952 text. */
function formatGroups(g: Uint16Array): Ipv6Addr {
  // §4.2.1–4.2.3: the longest run of at least two zero groups becomes '::'; on a tie, the first.
  let bestStart = -1;
  let bestLen = 1;
  let runStart = -1;
  for (let i = 0; i <= 8; i++) {
    if (i < 8 && g[i] === 0) {
      if (runStart < 0) runStart = i;
    } else if (runStart >= 0) {
      if (i - runStart > bestLen) {
        bestStart = runStart;
        bestLen = i - runStart;
      }
      runStart = -1;
    }
  }
  // §5: an IPv4-mapped address (::ffff:0:0/96, RFC 4291 §2.5.5.2) ends in a dotted quad. Only
  // this well-known form: the deprecated IPv4-compatible ::a.b.c.d is written in hex.
  if (bestStart === 0 && bestLen === 5 && g[5] === 0xffff) {
    return `::ffff:${g[6]! >>> 8}.${g[6]! & 0xff}.${g[7]! >>> 8}.${g[7]! & 0xff}`;
  }
  let s = '';
  let sep = false;
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += '::';
      i += bestLen - 1;
      sep = false;
      continue;
    }
    if (sep) s += ':';
    s += g[i]!.toString(16);
    sep = true;
  }
  return s;
}

/**
 * Parses any text form of RFC 4291 §2.2 into `g`: eight groups of 1–4 hex digits (either
 * case), at most one `::` standing for one or more zero groups, and optionally a dotted quad
 * (no leading zeros, as in {@link parseIpv4}) as the last 32 bits. Zone ids (`%eth0`),
 * brackets, whitespace and anything else are refused.
 */
function parseGroups(s: string, g: Uint16Array): boolean {
  const n = s.length;
  // 45: six 4-digit groups, six colons and a 15-character dotted quad; nothing valid is longer.
  if (n < 2 || n > 45) return false;
  let count = 0;
  let gap = -1; // where '::' stands, as an index into the groups written
  let i = 0;
  if (s.charCodeAt(0) === COLON) {
    if (s.charCodeAt(1) !== COLON) return false;
    gap = 0;
    i = 2;
  }
  while (i < n) {
    const start = i;
    let v = 0;
    while (i < n && i - start < 5) {
      const d = hexDigit(s.charCodeAt(i));
      if (d < 0) break;
      v = v * 16 + d;
      i++;
    }
    if (i < n && s.charCodeAt(i) === DOT) {
      // The dotted quad must be the rest of the string and take the last two groups.
      if (count > 6) return false;
      const v4 = parseIpv4(s.slice(start));
      if (v4 === null) return false;
      g[count++] = v4 >>> 16;
      g[count++] = v4 & 0xffff;
      break;
    }
    const digits = i - start;
    if (digits === 0 || digits > 4 || count === 8) return false;
    g[count++] = v;
    if (i === n) break;
    if (s.charCodeAt(i) !== COLON) return false;
    i++;
    if (i < n && s.charCodeAt(i) === COLON) {
      if (gap >= 0) return false;
      gap = count;
      i++;
    } else if (i === n) {
      return false; // a single trailing ':'
    }
  }
  if (gap < 0) return count === 8;
  if (count === 8) return false; // '::' must stand for at least one group
  const tail = count - gap;
  for (let k = 1; k <= tail; k++) g[8 - k] = g[count - k]!;
  g.fill(0, gap, 8 - tail);
  return true;
}

/**
 * Parses an IPv6 address in any text form of RFC 4291 §2.2 (`2001:DB8:0::1`,
 * `::ffff:192.0.2.1`, …) and returns it canonical (`2001:db8::1`), or `null` if it is not
 * one. Zone ids (`fe80::1%eth0`) are refused: an address here never carries its interface.
 */
export function parseIpv6(s: string): Ipv6Addr | null {
  return parseGroups(s, groups) ? formatGroups(groups) : null;
}

/**
 * A direct-mapped cache of the texts of recently read addresses, keyed by their four 32-bit
 * words: a hit returns the same string without building one, so the addresses of the peers
 * a host talks to cost nothing to read. A miss formats and overwrites the slot.
 */
const READ_SLOTS = 256;
const readWords = new Uint32Array(READ_SLOTS * 4);
const readTexts: (Ipv6Addr | undefined)[] = new Array<Ipv6Addr | undefined>(READ_SLOTS).fill(undefined);

/** Reads the 16-byte IPv6 address at `b[o]` as canonical text. */
export function readIpv6(b: Uint8Array, o: number): Ipv6Addr {
  const w0 = u32(b, o);
  const w1 = u32(b, o + 4);
  const w2 = u32(b, o + 8);
  const w3 = u32(b, o + 12);
  // Hosts on one link share the top 64 bits: the interface id words must weigh most.
  let h = Math.imul(w3 ^ (w3 >>> 15), 0x2c1b3c6d) ^ Math.imul(w2 ^ (w2 >>> 13), 0x297a2d39) ^ w1 ^ (w0 >>> 7);
  h ^= h >>> 16;
  h ^= h >>> 8;
  const slot = h & (READ_SLOTS - 1);
  const k = slot * 4;
  const hit = readTexts[slot];
  if (hit !== undefined && readWords[k] === w0 && readWords[k + 1] === w1 && readWords[k + 2] === w2
    && readWords[k + 3] === w3) {
    return hit;
  }
  groups[0] = w0 >>> 16;
  groups[1] = w0;
  groups[2] = w1 >>> 16;
  groups[3] = w1;
  groups[4] = w2 >>> 16;
  groups[5] = w2;
  groups[6] = w3 >>> 16;
  groups[7] = w3;
  const text = formatGroups(groups);
  readWords[k] = w0;
  readWords[k + 1] = w1;
  readWords[k + 2] = w2;
  readWords[k + 3] = w3;
  readTexts[slot] = text;
  return text;
}

/** Entries {@link ipv6Bytes} keeps before it starts over. */
const BYTES_CACHE_MAX = 4096;
const bytesCache = new Map<string, Uint8Array>();

/**
 * The 16 bytes of `a`, from a cache that is emptied whenever it reaches 4096 entries (so it
 * stays bounded whatever addresses pass by). The array is shared: callers must not modify it.
 * Any text form is accepted; anything that is not an IPv6 address throws, as a programming
 * error (addresses from outside are checked with {@link parseIpv6} first).
 */
export function ipv6Bytes(a: Ipv6Addr): Uint8Array {
  let bytes = bytesCache.get(a);
  if (bytes !== undefined) return bytes;
  if (!parseGroups(a, groups)) throw new Error(`not an IPv6 address: ${JSON.stringify(a)}`);
  bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) setU16(bytes, 2 * i, groups[i]!);
  if (bytesCache.size >= BYTES_CACHE_MAX) bytesCache.clear();
  bytesCache.set(a, bytes);
  return bytes;
}

/** Writes IPv6 address `a` as 16 bytes at `b[o]`. */
export function writeIpv6(b: Uint8Array, o: number, a: Ipv6Addr): void {
  b.set(ipv6Bytes(a), o);
}

/**
 * Parses `addr/n` with `n` in 0–128 (decimal, no leading zeros). The address is returned
 * canonical but otherwise as written, host bits included.
 */
export function parseCidr6(s: string): { addr: Ipv6Addr; prefixLen: number } | null {
  const slash = s.indexOf('/');
  if (slash < 0) return null;
  const addr = parseIpv6(s.slice(0, slash));
  const len = s.slice(slash + 1);
  if (addr === null || !/^(?:0|[1-9]\d{0,2})$/.test(len)) return null;
  const prefixLen = Number(len);
  return prefixLen <= 128 ? { addr, prefixLen } : null;
}

/** True if the first `prefixLen` bits (0–128) of `a` and `b` are equal. */
export function ipv6PrefixEqual(a: Ipv6Addr, b: Ipv6Addr, prefixLen: number): boolean {
  if (a === b) return true;
  const x = ipv6Bytes(a);
  const y = ipv6Bytes(b);
  const bits = Math.max(0, Math.min(prefixLen, 128));
  const whole = bits >>> 3;
  for (let i = 0; i < whole; i++) if (x[i] !== y[i]) return false;
  const rest = bits & 7;
  return rest === 0 || ((x[whole]! ^ y[whole]!) & (0xff00 >>> rest) & 0xff) === 0;
}

/** `a` with every bit after the first `prefixLen` cleared: the prefix it lies in (`fd00:69::/64`). */
export function ipv6Prefix(a: Ipv6Addr, prefixLen: number): Ipv6Addr {
  const x = ipv6Bytes(a);
  const bits = Math.max(0, Math.min(prefixLen, 128));
  for (let i = 0; i < 8; i++) {
    const keep = Math.max(0, Math.min(16, bits - 16 * i));
    groups[i] = keep === 0 ? 0 : u16(x, 2 * i) & (0xffff0000 >>> keep);
  }
  return formatGroups(groups);
}

/**
 * True if the first group of canonical text `a` has four digits, so that its first
 * characters are the address's first two bytes (the prefixes tested below all need that).
 */
function firstGroupFull(a: Ipv6Addr): boolean {
  return a.length > 5 && a.charCodeAt(4) === COLON && a.charCodeAt(0) !== COLON && a.charCodeAt(1) !== COLON
    && a.charCodeAt(2) !== COLON && a.charCodeAt(3) !== COLON;
}

/** True for ff00::/8, the multicast addresses (RFC 4291 §2.7). */
export function isIpv6Multicast(a: Ipv6Addr): boolean {
  return firstGroupFull(a) && a.charCodeAt(0) === 0x66 && a.charCodeAt(1) === 0x66; // 'ff'
}

/** True for fe80::/10, the link-local unicast addresses (RFC 4291 §2.5.6). */
export function isIpv6LinkLocal(a: Ipv6Addr): boolean {
  if (!firstGroupFull(a) || a.charCodeAt(0) !== 0x66 || a.charCodeAt(1) !== 0x65) return false; // 'fe'
  const c = a.charCodeAt(2);
  return c === 0x38 || c === 0x39 || c === 0x61 || c === 0x62; // 8, 9, a, b: the top two bits 10
}

/** True for `::`, the unspecified address. */
export function isIpv6Unspecified(a: Ipv6Addr): boolean {
  return a === IPV6_ANY;
}

/** True for `::1`, the loopback address. */
export function isIpv6Loopback(a: Ipv6Addr): boolean {
  return a === IPV6_LOOPBACK;
}

/**
 * The scope field (4 bits) of a multicast address (RFC 4291 §2.7: 1 interface-local,
 * 2 link-local, 5 site-local, 8 organization-local, 14 global; 0 is reserved), or -1 if `a`
 * is not multicast.
 */
export function ipv6MulticastScope(a: Ipv6Addr): number {
  return isIpv6Multicast(a) ? hexDigit(a.charCodeAt(3)) : -1;
}

/**
 * The scope of any address as RFC 6724 §3.1 ranks them for source address selection:
 * a multicast address's own scope field; link-local for fe80::/10 and for the loopback
 * address; site-local for the deprecated fec0::/10 (RFC 3879); global otherwise (the
 * unspecified address included, which has no scope to speak of).
 */
export function ipv6Scope(a: Ipv6Addr): number {
  if (isIpv6Multicast(a)) return hexDigit(a.charCodeAt(3));
  if (isIpv6LinkLocal(a) || a === IPV6_LOOPBACK) return IPV6_SCOPE_LINK;
  if (firstGroupFull(a) && a.startsWith('fe') && hexDigit(a.charCodeAt(2)) >= 0xc) return IPV6_SCOPE_SITE;
  return IPV6_SCOPE_GLOBAL;
}

/**
 * The solicited-node multicast address of `a` (RFC 4291 §2.7.1): ff02::1:ff00:0/104 with the
 * low 24 bits of `a`, the group a neighbour solicitation for `a` is sent to.
 */
export function solicitedNodeAddr(a: Ipv6Addr): Ipv6Addr {
  const x = ipv6Bytes(a);
  groups.fill(0);
  groups[0] = 0xff02;
  groups[5] = 0x0001;
  groups[6] = 0xff00 | x[13]!;
  groups[7] = u16(x, 14);
  return formatGroups(groups);
}

/** The Ethernet group address of IPv6 multicast address `a` (RFC 2464 §7): 33:33 and its low 32 bits. */
export function ipv6MulticastMac(a: Ipv6Addr): Mac {
  return 0x3333 * TWO_32 + u32(ipv6Bytes(a), 12);
}

/**
 * The address made of the first 64 bits of `prefix` and the modified EUI-64 interface id of
 * `mac` (RFC 4291 §2.5.1 and Appendix A, RFC 2464 §4): the MAC split by ff:fe, with the
 * universal/local bit inverted. `02:00:00:00:00:0b` gives the interface id `::ff:fe00:b`.
 */
export function eui64Addr(prefix: Ipv6Addr, mac: Mac): Ipv6Addr {
  const p = ipv6Bytes(prefix);
  const hi = Math.floor(mac / TWO_32); // first two octets
  const lo = mac % TWO_32; // last four
  for (let i = 0; i < 4; i++) groups[i] = u16(p, 2 * i);
  groups[4] = hi ^ 0x0200;
  groups[5] = ((lo >>> 16) & 0xff00) | 0xff;
  groups[6] = 0xfe00 | ((lo >>> 16) & 0xff);
  groups[7] = lo & 0xffff;
  return formatGroups(groups);
}

/** The link-local address of an interface with MAC `mac`: fe80::/64 and its modified EUI-64 id. */
export function linkLocalFromMac(mac: Mac): Ipv6Addr {
  return eui64Addr('fe80::', mac);
}

/** Formats an address of either family: dotted quad or (already canonical) IPv6 text. */
export function formatIp(a: IpAddr): string {
  return typeof a === 'number' ? formatIpv4(a) : a;
}

/** Parses an address of either family: IPv6 if it contains a colon, else a dotted quad. */
export function parseIp(s: string): IpAddr | null {
  return s.includes(':') ? parseIpv6(s) : parseIpv4(s);
}

/** An address and port as a trace or `ss` names them: `192.168.69.2:7`, `[fd00:69::2]:7`. */
export function formatEndpoint(addr: IpAddr, port: number): string {
  return isIpv4(addr) ? `${formatIpv4(addr)}:${port}` : `[${addr}]:${port}`;
}
