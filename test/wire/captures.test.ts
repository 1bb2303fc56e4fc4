/**
 * Real frames recorded between two Linux hosts, checked against Wireshark's decoding of the
 * same frames (trimmed by scripts/trim-tshark.mjs): nobody on this team wrote either side.
 * For every frame: parse every layer we know, compare each field with tshark's, verify the
 * checksums, then re-emit every layer from what was parsed and get the same bytes back.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseIpv4 as parseIpv4Addr, parseMac } from '../../src/wire/addr.js';
import { ARPOP_REPLY, ARPOP_REQUEST, ARP_LEN, emitArp, newArpRepr, parseArp } from '../../src/wire/arp.js';
import { checksum } from '../../src/wire/checksum.js';
import {
  ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, emitEthernet, newEthernetRepr, parseEthernet,
} from '../../src/wire/ethernet.js';
import { ICMP_HLEN, emitIcmpv4, newIcmpRepr, parseIcmpv4, type IcmpRepr } from '../../src/wire/icmpv4.js';
import {
  IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, emitIpv4, newIpv4Repr, parseIpv4, type Ipv4Repr,
} from '../../src/wire/ipv4.js';
import { emitTcp, newTcpRepr, parseTcp, tcpOptionsOf, type TcpRepr } from '../../src/wire/tcp.js';
import { UDP_HLEN, emitUdp, newUdpRepr, parseUdp, type UdpRepr } from '../../src/wire/udp.js';
import { readPcap } from '../helpers/pcap-read.js';

type Json = Record<string, unknown>;

interface FrameJson {
  protocols: string;
  len: number;
  layers: Json;
}

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

/** The sub-object `key` of a tshark layer, or undefined. */
function sub(o: Json, key: string): Json | undefined {
  const v = o[key];
  return v !== null && typeof v === 'object' ? (v as Json) : undefined;
}

/** The numeric value of tshark field `key` ("64", "0x00e2"); fails the test if missing. */
function num(o: Json, key: string): number {
  const v = o[key];
  if (typeof v !== 'string') throw new Error(`tshark field ${key} missing`);
  return Number(v);
}

function mac(o: Json, key: string): number {
  const m = parseMac(String(o[key]));
  if (m === null) throw new Error(`bad MAC in ${key}`);
  return m;
}

function ip(o: Json, key: string): number {
  const a = parseIpv4Addr(String(o[key]));
  if (a === null) throw new Error(`bad IPv4 address in ${key}`);
  return a;
}

function expectIpv4Fields(r: Ipv4Repr, j: Json): void {
  expect(num(j, 'ip.version')).toBe(4);
  expect(r.headerLen).toBe(num(j, 'ip.hdr_len'));
  expect(r.tos).toBe(num(j, 'ip.dsfield'));
  expect(r.totalLength).toBe(num(j, 'ip.len'));
  expect(r.id).toBe(num(j, 'ip.id'));
  // tshark 4.0 shows the 3 flag bits as a number (DF = 0x02, MF = 0x01) …
  expect((r.dontFrag ? 2 : 0) | (r.moreFrags ? 1 : 0)).toBe(num(j, 'ip.flags'));
  const flags = sub(j, 'ip.flags_tree');
  expect(flags).toBeDefined();
  expect(r.dontFrag).toBe(num(flags!, 'ip.flags.df') === 1);
  expect(r.moreFrags).toBe(num(flags!, 'ip.flags.mf') === 1);
  // … and the fragment offset in its wire unit of 8 bytes.
  expect(r.fragOffset).toBe(num(j, 'ip.frag_offset') * 8);
  expect(r.ttl).toBe(num(j, 'ip.ttl'));
  expect(r.protocol).toBe(num(j, 'ip.proto'));
  expect(r.checksum).toBe(num(j, 'ip.checksum'));
  expect(r.src).toBe(ip(j, 'ip.src'));
  expect(r.dst).toBe(ip(j, 'ip.dst'));
}

function expectIcmpFields(r: IcmpRepr, j: Json): void {
  expect(r.type).toBe(num(j, 'icmp.type'));
  expect(r.code).toBe(num(j, 'icmp.code'));
  expect(r.checksum).toBe(num(j, 'icmp.checksum'));
  if ('icmp.ident' in j) {
    expect(r.rest >>> 16).toBe(num(j, 'icmp.ident'));
    expect(r.rest & 0xffff).toBe(num(j, 'icmp.seq'));
  }
  // tshark verified it too: 1 is "good".
  expect(num(j, 'icmp.checksum.status')).toBe(1);
}

function expectUdpFields(r: UdpRepr, j: Json): void {
  expect(r.srcPort).toBe(num(j, 'udp.srcport'));
  expect(r.dstPort).toBe(num(j, 'udp.dstport'));
  expect(r.length).toBe(num(j, 'udp.length'));
  expect(r.checksum).toBe(num(j, 'udp.checksum'));
}

/** The values of tshark field `key`: one, or several where a field repeats (SACK edges). */
function nums(o: Json, key: string): number[] {
  const v = o[key];
  if (typeof v === 'string') return [Number(v)];
  if (Array.isArray(v)) return v.map(Number);
  throw new Error(`tshark field ${key} missing`);
}

/** Which TCP options the frames of a capture carried, so a comparison is never vacuous. */
interface TcpOptionsSeen { mss: number; wscale: number; sackPermitted: number; timestamp: number; sack: number }

function expectTcpFields(r: TcpRepr, j: Json, seen: TcpOptionsSeen): void {
  expect(r.srcPort).toBe(num(j, 'tcp.srcport'));
  expect(r.dstPort).toBe(num(j, 'tcp.dstport'));
  // tshark shows sequence numbers relative to the first; `_raw` is what is on the wire.
  expect(r.seq).toBe(num(j, 'tcp.seq_raw'));
  expect(r.ack).toBe(num(j, 'tcp.ack_raw'));
  expect(r.headerLen).toBe(num(j, 'tcp.hdr_len'));
  // tshark's flags are 12 bits (reserved and AE too): equal means those are clear.
  expect(r.flags).toBe(num(j, 'tcp.flags'));
  expect(r.window).toBe(num(j, 'tcp.window_size_value'));
  expect(r.checksum).toBe(num(j, 'tcp.checksum'));
  expect(r.urgent).toBe(num(j, 'tcp.urgent_pointer'));
  // 1: tshark verified the checksum too; 2: it was not asked to. Never 0, "bad".
  expect([1, 2]).toContain(num(j, 'tcp.checksum.status'));

  const opts = sub(j, 'tcp.options_tree') ?? {};
  const mss = sub(opts, 'tcp.options.mss_tree');
  expect(r.mss).toBe(mss === undefined ? -1 : num(mss, 'tcp.options.mss_val'));
  const ws = sub(opts, 'tcp.options.wscale_tree');
  expect(r.wscale).toBe(ws === undefined ? -1 : num(ws, 'tcp.options.wscale.shift'));
  expect(r.sackPermitted).toBe('tcp.options.sack_perm' in opts);
  const ts = sub(opts, 'tcp.options.timestamp_tree');
  expect(r.hasTimestamp).toBe(ts !== undefined);
  if (ts !== undefined) {
    expect(r.tsVal).toBe(num(ts, 'tcp.options.timestamp.tsval'));
    expect(r.tsEcr).toBe(num(ts, 'tcp.options.timestamp.tsecr'));
  }
  const sack = sub(opts, 'tcp.options.sack_tree');
  if (sack === undefined) {
    expect(r.sackCount).toBe(0);
  } else {
    // Decoded with absolute sequence numbers (tcp.relative_sequence_numbers:FALSE).
    const left = nums(sack, 'tcp.options.sack_le');
    const right = nums(sack, 'tcp.options.sack_re');
    expect(r.sackCount).toBe(num(sack, 'tcp.options.sack.count'));
    expect(r.sackCount).toBe(left.length);
    const edges: number[] = [];
    for (let k = 0; k < left.length; k++) edges.push(left[k]!, right[k]!);
    expect([...r.sackBlocks.subarray(0, 2 * r.sackCount)]).toEqual(edges);
  }
  seen.mss += r.mss >= 0 ? 1 : 0;
  seen.wscale += r.wscale >= 0 ? 1 : 0;
  seen.sackPermitted += r.sackPermitted ? 1 : 0;
  seen.timestamp += r.hasTimestamp ? 1 : 0;
  seen.sack += r.sackCount;
}


/**
 * Parses the TCP segment at `frame[l4]`, compares it with tshark's layer `jt`, and re-emits
 * its header into `rebuilt` (payload copied): equal bytes pin our option layouts to Linux's.
 */
function checkTcp(
  frame: Uint8Array, l4: number, l4Len: number, ip4: Ipv4Repr, jt: Json, rebuilt: Uint8Array, seen: TcpOptionsSeen,
): void {
  const tcp = newTcpRepr();
  expect(parseTcp(frame, l4, l4Len, ip4.src, ip4.dst, tcp)).toBeUndefined();
  expectTcpFields(tcp, jt, seen);
  rebuilt.set(frame.subarray(l4 + tcp.headerLen), l4 + tcp.headerLen);
  expect(emitTcp(tcp, tcpOptionsOf(tcp), rebuilt, l4, l4Len - tcp.headerLen, ip4.src, ip4.dst)).toBe(tcp.headerLen);
}

const noOptionsSeen = (): TcpOptionsSeen => ({ mss: 0, wscale: 0, sackPermitted: 0, timestamp: 0, sack: 0 });

/** Fragments seen so far, by datagram (src, dst, id): offset → data. */
type Pending = Map<string, Map<number, Uint8Array>>;

/** Joins the fragments of a datagram whose last fragment just arrived; null if any is missing. */
function reassemble(parts: Map<number, Uint8Array>, total: number): Uint8Array | null {
  const out = new Uint8Array(total);
  let covered = 0;
  for (const off of [...parts.keys()].sort((a, b) => a - b)) {
    if (off !== covered) return null;
    const data = parts.get(off)!;
    out.set(data, off);
    covered += data.length;
  }
  return covered === total ? out : null;
}

const CAPTURES = [
  'arp-ping4', 'ping4-fragmented', 'udp4-closed-port-icmp', 'tcp4-closed-port-rst', 'tcp4-http-get', 'tcp4-sack',
];

describe.each(CAPTURES)('capture %s', (name) => {
  const frames = readPcap(fixture(`${name}.pcap`));
  const decoded = JSON.parse(readFileSync(fixture(`${name}.wire.json`), 'utf8')) as FrameJson[];
  const pending: Pending = new Map();
  const reassembledIcmp: number[] = [];
  const tcpSeen = noOptionsSeen();

  it('has one tshark decoding per frame', () => {
    expect(frames.length).toBeGreaterThan(0);
    expect(decoded.length).toBe(frames.length);
  });

  // Frames run in order: fragment reassembly below depends on it.
  it.each(frames.map((f, i) => [i + 1, f.data, decoded[i]!] as const))('frame %i', (_n, frame, j) => {
    expect(frame.length).toBe(j.len);
    const rebuilt = new Uint8Array(frame.length);
    // Bytes no header covers (payloads, padding) are copied; every header is re-emitted.
    let copiedFrom = frame.length;

    // ---- Ethernet
    const eth = newEthernetRepr();
    expect(parseEthernet(frame, 0, frame.length, eth)).toBeUndefined();
    const je = sub(j.layers, 'eth')!;
    expect(eth.dst).toBe(mac(je, 'eth.dst'));
    expect(eth.src).toBe(mac(je, 'eth.src'));
    expect(eth.etherType).toBe(num(je, 'eth.type'));
    expect(eth.vlanId).toBe(-1);
    const off = eth.headerLen;

    if (eth.etherType === ETH_P_ARP) {
      // ---- ARP
      const ja = sub(j.layers, 'arp')!;
      const arp = newArpRepr();
      expect(parseArp(frame, off, frame.length - off, arp)).toBeUndefined();
      expect(num(ja, 'arp.hw.type')).toBe(1);
      expect(num(ja, 'arp.proto.type')).toBe(ETH_P_IP);
      expect(num(ja, 'arp.hw.size')).toBe(6);
      expect(num(ja, 'arp.proto.size')).toBe(4);
      expect(arp.op).toBe(num(ja, 'arp.opcode'));
      expect([ARPOP_REQUEST, ARPOP_REPLY]).toContain(arp.op);
      expect(arp.senderMac).toBe(mac(ja, 'arp.src.hw_mac'));
      expect(arp.senderIp).toBe(ip(ja, 'arp.src.proto_ipv4'));
      expect(arp.targetMac).toBe(mac(ja, 'arp.dst.hw_mac'));
      expect(arp.targetIp).toBe(ip(ja, 'arp.dst.proto_ipv4'));
      expect(emitArp(arp, rebuilt, off)).toBe(ARP_LEN);
      copiedFrom = off + ARP_LEN;
    } else if (eth.etherType === ETH_P_IP) {
      // ---- IPv4
      const ji = sub(j.layers, 'ip')!;
      const ip4 = newIpv4Repr();
      expect(parseIpv4(frame, off, frame.length - off, ip4)).toBeUndefined();
      expectIpv4Fields(ip4, ji);
      const l4 = off + ip4.headerLen;
      const l4Len = ip4.totalLength - ip4.headerLen;
      copiedFrom = l4;
      const fragmented = ip4.moreFrags || ip4.fragOffset !== 0;

      if (fragmented) {
        const key = `${ip4.src}>${ip4.dst}#${ip4.id}`;
        const parts = pending.get(key) ?? new Map<number, Uint8Array>();
        pending.set(key, parts);
        parts.set(ip4.fragOffset, frame.slice(l4, l4 + l4Len));
        if (!ip4.moreFrags) {
          // Last fragment: tshark decoded the reassembled ICMP message here; so do we.
          const whole = reassemble(parts, ip4.fragOffset + l4Len);
          expect(whole).not.toBeNull();
          pending.delete(key);
          const icmp = newIcmpRepr();
          expect(parseIcmpv4(whole!, 0, whole!.length, icmp)).toBeUndefined();
          expectIcmpFields(icmp, sub(j.layers, 'icmp')!);
          const again = whole!.slice();
          again.fill(0xaa, 0, ICMP_HLEN);
          emitIcmpv4(icmp, again, 0, again.length);
          expect(again).toEqual(whole);
          reassembledIcmp.push(icmp.type);
        }
      } else if (ip4.protocol === IPPROTO_ICMP) {
        // ---- ICMP
        const icmp = newIcmpRepr();
        expect(parseIcmpv4(frame, l4, l4Len, icmp)).toBeUndefined();
        const jc = sub(j.layers, 'icmp')!;
        expectIcmpFields(icmp, jc);
        // An error quotes the offending IP header and its first bytes: tshark decodes them too.
        const quotedIp = sub(jc, 'ip');
        if (quotedIp !== undefined) {
          const q = newIpv4Repr();
          const qOff = l4 + ICMP_HLEN;
          expect(parseIpv4(frame, qOff, l4Len - ICMP_HLEN, q)).toBeUndefined();
          expectIpv4Fields(q, quotedIp);
          const quotedUdp = sub(jc, 'udp');
          if (quotedUdp !== undefined) {
            const qu = newUdpRepr();
            expect(parseUdp(frame, qOff + q.headerLen, q.totalLength - q.headerLen, q.src, q.dst, qu)).toBeUndefined();
            expectUdpFields(qu, quotedUdp);
          }
        }
        rebuilt.set(frame.subarray(l4 + ICMP_HLEN), l4 + ICMP_HLEN);
        copiedFrom = frame.length;
        expect(emitIcmpv4(icmp, rebuilt, l4, l4Len)).toBe(ICMP_HLEN);
      } else if (ip4.protocol === IPPROTO_UDP) {
        // ---- UDP
        const udp = newUdpRepr();
        expect(parseUdp(frame, l4, l4Len, ip4.src, ip4.dst, udp)).toBeUndefined();
        expectUdpFields(udp, sub(j.layers, 'udp')!);
        expect(udp.checksum).not.toBe(0); // so the check above did verify something
        rebuilt.set(frame.subarray(l4 + UDP_HLEN), l4 + UDP_HLEN);
        copiedFrom = frame.length;
        expect(emitUdp(udp, rebuilt, l4, ip4.src, ip4.dst)).toBe(UDP_HLEN);
      } else if (ip4.protocol === IPPROTO_TCP) {
        // ---- TCP
        checkTcp(frame, l4, l4Len, ip4, sub(j.layers, 'tcp')!, rebuilt, tcpSeen);
        copiedFrom = frame.length;
      }
      // Checksum verification of the header is part of parseIpv4; check it independently too.
      expect(checksum(frame, off, ip4.headerLen)).toBe(0);
      expect(emitIpv4(ip4, rebuilt, off)).toBe(ip4.headerLen);
    } else {
      expect(eth.etherType).toBe(ETH_P_IPV6); // the only other kind in these captures
      copiedFrom = off;
    }

    expect(emitEthernet(eth, rebuilt, 0)).toBe(off);
    rebuilt.set(frame.subarray(copiedFrom), copiedFrom);
    expect(rebuilt).toEqual(frame);
  });

  if (name === 'tcp4-http-get') {
    it('compared the handshake\'s options and every timestamp', () => {
      expect(tcpSeen).toEqual({ mss: 2, wscale: 2, sackPermitted: 2, timestamp: frames.length, sack: 0 });
    });
  }

  if (name === 'tcp4-sack') {
    it('compared SACK blocks, several to a segment', () => {
      expect(tcpSeen.sack).toBeGreaterThan(frames.length / 10);
    });
  }

  if (name === 'ping4-fragmented') {
    it('reassembled and verified every fragmented echo request and reply', () => {
      expect(reassembledIcmp).toEqual([8, 0, 8, 0]);
      expect(pending.size).toBe(0);
    });
  }
});

/**
 * A 270 kB download: the trimmed decoding keeps only tshark's TCP layer (the Ethernet and IP
 * layers of these frames are the same kind as in the captures above, and would triple the file).
 */
describe('capture tcp4-http-bulk (TCP layer)', () => {
  const frames = readPcap(fixture('tcp4-http-bulk.pcap'));
  const decoded = JSON.parse(readFileSync(fixture('tcp4-http-bulk.wire.json'), 'utf8')) as FrameJson[];
  const seen = noOptionsSeen();

  it('has one tshark decoding per frame', () => {
    expect(frames.length).toBeGreaterThan(300);
    expect(decoded.length).toBe(frames.length);
  });

  it('parses every segment like tshark and re-emits it byte for byte', () => {
    const eth = newEthernetRepr();
    const ip4 = newIpv4Repr();
    for (const [i, f] of frames.entries()) {
      const frame = f.data;
      const j = decoded[i]!;
      expect(frame.length).toBe(j.len);
      expect(parseEthernet(frame, 0, frame.length, eth)).toBeUndefined();
      expect(eth.etherType).toBe(ETH_P_IP);
      expect(parseIpv4(frame, eth.headerLen, frame.length - eth.headerLen, ip4)).toBeUndefined();
      expect(ip4.protocol).toBe(IPPROTO_TCP);
      const l4 = eth.headerLen + ip4.headerLen;
      const rebuilt = frame.slice();
      rebuilt.fill(0, l4);
      checkTcp(frame, l4, ip4.totalLength - ip4.headerLen, ip4, sub(j.layers, 'tcp')!, rebuilt, seen);
      expect(rebuilt).toEqual(frame);
    }
    expect(seen).toEqual({ mss: 2, wscale: 2, sackPermitted: 2, timestamp: frames.length, sack: 0 });
  });
});
