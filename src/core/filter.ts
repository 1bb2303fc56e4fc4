/**
 * A subset of pcap-filter(7) for choosing the packets to trace or capture:
 *
 *   primitives   arp  ip  ip6  icmp  icmp6  udp  tcp   (udp and tcp: either family)
 *                [src|dst] host A.B.C.D | IPv6-address
 *                [src|dst] port N
 *   combinators  and (&&)  or (||)  not (!)  ( … ),  and juxtaposition: "tcp port 80"
 *
 * The empty filter matches everything. A filter that does not parse throws a one-line
 * Error naming the problem.
 */
import { formatIpv4, parseIp, readIpv6, type IpAddr } from '../wire/addr.js';
import { u16, u32 } from '../wire/bytes.js';
import { extHeaderLen, isExtHeader } from '../wire/ipv6-ext.js';
import { NEXTHDR_FRAGMENT } from '../wire/ipv6.js';
import { ETH_P_8021Q, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6 } from '../wire/ethernet.js';
import { flagsToString } from '../wire/tcp.js';

/** What the filter looks at, and a one-line description of the frame. */
export interface FrameSummary {
  proto: 'arp' | 'icmp' | 'icmp6' | 'udp' | 'tcp' | 'ip' | 'ipv6' | 'other';
  /** 4 or 6 for an IP packet, else 0. */
  family?: 4 | 6;
  src?: IpAddr;
  dst?: IpAddr;
  sport?: number;
  dport?: number;
  text: string;
}

/** Reads enough of a frame to filter and describe it; never throws. */
export function summarize(f: Uint8Array): FrameSummary {
  if (f.length < 14) return { proto: 'other', text: `${f.length} bytes, too short for Ethernet` };
  let off = 12;
  let type = u16(f, off);
  if (type === ETH_P_8021Q && f.length >= 18) {
    off += 4;
    type = u16(f, off);
  }
  off += 2;
  if (type === ETH_P_ARP && f.length >= off + 28) {
    const op = u16(f, off + 6);
    const sip = u32(f, off + 14);
    const tip = u32(f, off + 24);
    const text = op === 1 ? `ARP who-has ${formatIpv4(tip)} tell ${formatIpv4(sip)}` : `ARP reply ${formatIpv4(sip)}`;
    return { proto: 'arp', src: sip, dst: tip, text };
  }
  if (type === ETH_P_IPV6) return summarize6(f, off);
  if (type !== ETH_P_IP || f.length < off + 20) return { proto: 'other', text: `ethertype 0x${type.toString(16).padStart(4, '0')}, ${f.length} bytes` };
  const hl = (f[off]! & 0x0f) * 4;
  const total = u16(f, off + 2);
  const frag = u16(f, off + 6) & 0x1fff;
  const p = f[off + 9]!;
  const src = u32(f, off + 12);
  const dst = u32(f, off + 16);
  const l4 = off + hl;
  const ends = `${formatIpv4(src)} > ${formatIpv4(dst)}`;
  const fragNote = frag !== 0 || (u16(f, off + 6) & 0x2000) !== 0 ? ` frag@${frag * 8}` : '';
  if (frag === 0 && (p === 6 || p === 17) && f.length >= l4 + 4) {
    return transport(f, l4, p, 4, src, dst, `${formatIpv4(src)}:${u16(f, l4)}`, `${formatIpv4(dst)}:${u16(f, l4 + 2)}`, total - hl, fragNote);
  }
  if (p === 1) {
    const icmp = frag === 0 && f.length > l4 + 1 ? ` type ${f[l4]} code ${f[l4 + 1]}` : '';
    return { proto: 'icmp', family: 4, src, dst, text: `ICMP ${ends}${icmp} len ${total}${fragNote}` };
  }
  const proto = p === 6 ? 'tcp' : p === 17 ? 'udp' : 'ip';
  return { proto, family: 4, src, dst, text: `IPv4 ${ends} proto ${p} len ${total}${fragNote}` };
}

/** UDP or TCP, either family: `len` is the transport length. */
function transport(
  f: Uint8Array, l4: number, p: number, family: 4 | 6, src: IpAddr, dst: IpAddr, from: string, to: string, len: number,
  note: string,
): FrameSummary {
  const sport = u16(f, l4);
  const dport = u16(f, l4 + 2);
  if (p === 17) return { proto: 'udp', family, src, dst, sport, dport, text: `UDP ${from} > ${to} len ${len - 8}${note}` };
  const flags = f.length >= l4 + 14 ? flagsToString(f[l4 + 13]!) : '?';
  const dataLen = f.length >= l4 + 13 ? len - (f[l4 + 12]! >> 4) * 4 : 0;
  return { proto: 'tcp', family, src, dst, sport, dport, text: `TCP ${from} > ${to} [${flags}] len ${dataLen}` };
}

/** An IPv6 packet: its extension headers skipped to the upper layer (ports only in a first fragment). */
function summarize6(f: Uint8Array, off: number): FrameSummary {
  if (f.length < off + 40) return { proto: 'ipv6', family: 6, text: `IPv6, ${f.length} bytes, truncated` };
  const src = readIpv6(f, off + 8);
  const dst = readIpv6(f, off + 24);
  const total = 40 + u16(f, off + 4);
  let p = f[off + 6]!;
  let at = off + 40;
  let note = '';
  let first = true;
  for (let i = 0; i < 8 && isExtHeader(p); i++) {
    const len = extHeaderLen(f, at, f.length - at, p);
    if (len < 0) break;
    if (p === NEXTHDR_FRAGMENT) {
      const offset = u16(f, at + 2) & 0xfff8;
      first = offset === 0;
      note = ` frag@${offset}`;
    }
    p = f[at]!;
    at += len;
  }
  const l4len = total - (at - off);
  if (first && (p === 6 || p === 17) && f.length >= at + 4) {
    return transport(f, at, p, 6, src, dst, `[${src}]:${u16(f, at)}`, `[${dst}]:${u16(f, at + 2)}`, l4len, note);
  }
  if (p === 58) {
    const icmp = first && f.length > at + 1 ? ` type ${f[at]} code ${f[at + 1]}` : '';
    return { proto: 'icmp6', family: 6, src, dst, text: `ICMP6 ${src} > ${dst}${icmp} len ${total}${note}` };
  }
  const proto = p === 6 ? 'tcp' : p === 17 ? 'udp' : 'ipv6';
  return { proto, family: 6, src, dst, text: `IPv6 ${src} > ${dst} next header ${p} len ${total}${note}` };
}

type Pred = (s: FrameSummary) => boolean;

/** Compiles a filter expression into a predicate. */
export function compileFilter(expr: string): Pred {
  const tokens = expr.match(/\(|\)|&&|\|\||!|[^\s()!&|]+/g) ?? [];
  let i = 0;
  const peek = (): string | undefined => tokens[i];
  const take = (): string => {
    const t = tokens[i++];
    if (t === undefined) throw new Error(`filter ${JSON.stringify(expr)}: unexpected end`);
    return t;
  };

  const orExpr = (): Pred => {
    let left = andExpr();
    while (peek() === 'or' || peek() === '||') {
      take();
      const l = left;
      const r = andExpr();
      left = (s) => l(s) || r(s);
    }
    return left;
  };
  const andExpr = (): Pred => {
    let left = unary();
    for (;;) {
      const t = peek();
      if (t === undefined || t === 'or' || t === '||' || t === ')') return left;
      if (t === 'and' || t === '&&') take();
      const l = left;
      const r = unary();
      left = (s) => l(s) && r(s);
    }
  };
  const unary = (): Pred => {
    const t = peek();
    if (t === 'not' || t === '!') {
      take();
      const inner = unary();
      return (s) => !inner(s);
    }
    return primary();
  };
  const primary = (): Pred => {
    const t = take();
    if (t === '(') {
      const inner = orExpr();
      if (take() !== ')') throw new Error(`filter ${JSON.stringify(expr)}: missing ')'`);
      return inner;
    }
    switch (t) {
      case 'arp':
      case 'icmp':
      case 'icmp6':
      case 'udp':
      case 'tcp':
        return (s) => s.proto === t;
      case 'ip':
        return (s) => s.family === 4;
      case 'ip6':
        return (s) => s.family === 6;
    }
    let dir: 'src' | 'dst' | undefined;
    let kind = t;
    if (t === 'src' || t === 'dst') {
      dir = t;
      kind = take();
    }
    if (kind === 'host') {
      const text = take();
      const a = parseIp(text);
      if (a === null) throw new Error(`filter ${JSON.stringify(expr)}: ${JSON.stringify(text)} is not an IP address`);
      if (dir === 'src') return (s) => s.src === a;
      if (dir === 'dst') return (s) => s.dst === a;
      return (s) => s.src === a || s.dst === a;
    }
    if (kind === 'port') {
      const text = take();
      const n = Number(text);
      if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new Error(`filter ${JSON.stringify(expr)}: ${JSON.stringify(text)} is not a port`);
      if (dir === 'src') return (s) => s.sport === n;
      if (dir === 'dst') return (s) => s.dport === n;
      return (s) => s.sport === n || s.dport === n;
    }
    throw new Error(`filter ${JSON.stringify(expr)}: unknown word ${JSON.stringify(kind)} (use arp, ip, ip6, icmp, icmp6, udp, tcp, host, port, src, dst, and, or, not)`);
  };

  if (tokens.length === 0) return () => true;
  const pred = orExpr();
  if (i < tokens.length) throw new Error(`filter ${JSON.stringify(expr)}: unexpected ${JSON.stringify(tokens[i])}`);
  return pred;
}
