/**
 * The test as the TCP peer (gVisor's "testbench" habit): it builds segments with the wire
 * module's own emitter, options and all, hands them to a stack on the harness's memory link,
 * and decodes what the stack answers. A {@link TcpPeer} keeps the peer's side of one
 * connection (its sequence numbers, its timestamp clock) so a test reads as a packet
 * exchange:
 *
 * ```ts
 * const p = new TcpPeer(h, { port: 80 });
 * p.send({ flags: TCP_SYN, mss: 1460 });
 * const synAck = p.expectOne();                 // decoded, options included
 * ```
 *
 * Every segment goes in through `Stack.input` (so the test gets its verdict: CONSUMED or the
 * drop reason) followed by an empty `receive` batch, which runs the socket wake-ups and the
 * link flush as a real batch would.
 */
import { expect } from 'vitest';
import type { DeepPartial, StackConfig } from '../../src/core/config.js';
import type { TcpExtMib, TcpMib } from '../../src/core/counters.js';
import type { Verdict } from '../../src/core/drop.js';
import type { TcpSocket, TcpSocketOptions } from '../../src/user/net.js';
import { ETH_P_IP } from '../../src/wire/ethernet.js';
import { IPPROTO_TCP, newIpv4Repr, parseIpv4, type Ipv4Repr } from '../../src/wire/ipv4.js';
import {
  TCP_ACK, TCP_HLEN, TCP_SYN, emitTcp, flagsToString, newTcpRepr, parseTcp, tcpOptionsLen,
  type TcpOptionsOut, type TcpRepr,
} from '../../src/wire/tcp.js';
import { ARPOP_REPLY } from '../../src/wire/arp.js';
import { PEER, US, arpFrame, harness, ipv4Frame, type Harness } from '../helpers/packets.js';

/**
 * The harness for TCP tests. The peer asks for us (so we learn its MAC, STALE) and then
 * answers as if we had asked (a unicast reply confirms it, REACHABLE), and REACHABLE is made
 * to last the whole test: a retransmission test runs minutes of virtual time, and the peer
 * (the test) does not answer neighbour probes, which would otherwise swallow the segments
 * under test.
 */
export function tcpHarness(opts: Parameters<typeof harness>[0] = {}): Harness {
  const config = opts.config ?? {};
  const h = harness({ ...opts, config: { ...config, neigh: { baseReachableTimeMs: 1e12, ...config.neigh } } });
  h.rx(arpFrame({ op: ARPOP_REPLY, targetMac: US.mac, targetIp: US.ip, ethDst: US.mac }));
  h.tx();
  return h;
}

// ── building ─────────────────────────────────────────────────────────────

/** One segment from the peer: header fields, options (absent unless given), payload. */
export interface SegmentSpec {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack?: number;
  flags: number;
  /** The window field as sent (scaled by the receiver). Default 65535. */
  window?: number;
  mss?: number;
  wscale?: number;
  sackPermitted?: boolean;
  /** Timestamps option [TSval, TSecr]. */
  ts?: readonly [number, number];
  /** SACK blocks [left, right). */
  sack?: readonly (readonly [number, number])[];
  data?: Uint8Array;
  src?: number;
  dst?: number;
}

/** The TCP segment bytes (header, options, payload) with a correct checksum. */
export function tcpSegment(s: SegmentSpec): Uint8Array {
  const opts: TcpOptionsOut = {};
  if (s.mss !== undefined) opts.mss = s.mss;
  if (s.wscale !== undefined) opts.wscale = s.wscale;
  if (s.sackPermitted === true) opts.sackPermitted = true;
  if (s.ts !== undefined) opts.timestamp = { val: s.ts[0] >>> 0, ecr: s.ts[1] >>> 0 };
  if (s.sack !== undefined && s.sack.length > 0) {
    const blocks = new Uint32Array(2 * s.sack.length);
    s.sack.forEach(([l, r], i) => {
      blocks[2 * i] = l >>> 0;
      blocks[2 * i + 1] = r >>> 0;
    });
    opts.sack = { count: s.sack.length, blocks };
  }
  const data = s.data ?? new Uint8Array(0);
  const hlen = TCP_HLEN + tcpOptionsLen(opts);
  const b = new Uint8Array(hlen + data.length);
  b.set(data, hlen);
  emitTcp(
    { srcPort: s.srcPort, dstPort: s.dstPort, seq: s.seq >>> 0, ack: (s.ack ?? 0) >>> 0, flags: s.flags, window: s.window ?? 65535 },
    opts, b, 0, data.length, s.src ?? PEER.ip, s.dst ?? US.ip,
  );
  return b;
}

/** The whole Ethernet frame of {@link tcpSegment}, peer → us, IP ID and DF as Linux sends. */
export function tcpFrame(s: SegmentSpec): Uint8Array {
  const src = s.src ?? PEER.ip;
  const dst = s.dst ?? US.ip;
  return ipv4Frame(tcpSegment({ ...s, src, dst }), { protocol: IPPROTO_TCP, src, dst, dontFrag: true });
}

// ── decoding what the stack sent ─────────────────────────────────────────

/** One TCP segment the stack sent, decoded and checksum-verified. */
export interface TcpOut {
  ip: Ipv4Repr;
  tcp: TcpRepr;
  /** SACK blocks as [left, right) pairs, copied out of the repr. */
  sack: [number, number][];
  payload: Uint8Array;
  frame: Uint8Array;
  /** tcpdump's flags ("S.", "R.", "P."…), for readable failures. */
  flags: string;
}

/** Decodes a frame the stack sent as IPv4/TCP; undefined for anything else (ARP…). */
export function decodeTcp(frame: Uint8Array): TcpOut | undefined {
  const etherType = (frame[12]! << 8) | frame[13]!;
  if (etherType !== ETH_P_IP) return undefined;
  const ip = newIpv4Repr();
  const bad = parseIpv4(frame, 14, frame.length - 14, ip);
  if (bad !== undefined) throw new Error(`IPv4 does not parse: ${bad}`);
  if (ip.protocol !== IPPROTO_TCP) return undefined;
  const o = 14 + ip.headerLen;
  const len = ip.totalLength - ip.headerLen;
  const tcp = newTcpRepr();
  const badTcp = parseTcp(frame, o, len, ip.src, ip.dst, tcp);
  if (badTcp !== undefined) throw new Error(`TCP does not parse: ${badTcp}`);
  const sack: [number, number][] = [];
  for (let i = 0; i < tcp.sackCount; i++) sack.push([tcp.sackBlocks[2 * i]!, tcp.sackBlocks[2 * i + 1]!]);
  return { ip, tcp, sack, payload: frame.slice(o + tcp.headerLen, o + len), frame, flags: flagsToString(tcp.flags) };
}

/** A one-line tcpdump-like summary, for failure messages. */
export function describeSeg(s: TcpOut): string {
  const t = s.tcp;
  return `${t.srcPort} > ${t.dstPort} [${s.flags}] seq ${t.seq} ack ${t.ack} win ${t.window} len ${s.payload.length}`;
}

// ── the peer ─────────────────────────────────────────────────────────────

export interface PeerOptions {
  /** Our (the stack's) port. */
  port: number;
  /** The peer's port. Default 40000. */
  peerPort?: number;
  /** The peer's ISN. Default 1_000_000. */
  iss?: number;
  /** The peer's timestamp clock at time 0 of the harness. Default 5000. */
  tsBase?: number;
}

/** The fields of a segment the peer sends; the rest come from the peer's state. */
export type PeerSegment = Partial<SegmentSpec> & { flags: number };

/**
 * The remote end of one connection, played by the test. `sndNxt` and `rcvNxt` are the
 * peer's view; `send` fills in ports, seq, ack and (once `tsOk`) timestamps unless given.
 */
export class TcpPeer {
  readonly port: number;
  readonly peerPort: number;
  readonly iss: number;
  sndNxt: number;
  rcvNxt = 0;
  /** The stack's ISS, learned from its SYN or SYN-ACK. */
  irs = 0;
  /** Send timestamps on every segment (after a handshake that negotiated them). */
  tsOk = false;
  /** The last TSval the stack sent: echoed as TSecr. */
  tsRecent = 0;
  tsBase: number;
  /** Segments received from the stack (by `take`/`expect*`), in order, for the whole test. */
  readonly received: TcpOut[] = [];

  constructor(
    readonly h: Harness,
    o: PeerOptions,
  ) {
    this.port = o.port;
    this.peerPort = o.peerPort ?? 40000;
    this.iss = o.iss ?? 1_000_000;
    this.sndNxt = this.iss;
    this.tsBase = o.tsBase ?? 5000;
  }

  /** The peer's timestamp clock: ms ticks from tsBase. */
  tsVal(): number {
    return (this.tsBase + Math.floor(this.h.clock.now())) >>> 0;
  }

  /** Builds a segment from this peer's state and `s`. */
  frame(s: PeerSegment): Uint8Array {
    const spec: SegmentSpec = {
      srcPort: this.peerPort,
      dstPort: this.port,
      seq: this.sndNxt,
      ...((s.flags & TCP_ACK) !== 0 && { ack: this.rcvNxt }),
      ...(this.tsOk && { ts: [this.tsVal(), this.tsRecent] as const }),
      ...s,
    };
    return tcpFrame(spec);
  }

  /**
   * Sends one segment as a batch of its own and returns its verdict. Does not move
   * `sndNxt`: use {@link sendData} or set it when the segment consumes sequence space.
   */
  send(s: PeerSegment): Verdict {
    const v = this.h.input(this.frame(s)) as Verdict;
    this.h.rx(); // an empty batch: wake the sockets and flush, as the end of a real batch does
    return v;
  }

  /** Sends `data` at sndNxt with ACK|PSH (or `flags`) and advances sndNxt. */
  sendData(data: Uint8Array, extra: Partial<PeerSegment> = {}): Verdict {
    const v = this.send({ flags: TCP_ACK | 0x08, data, ...extra });
    this.sndNxt = (this.sndNxt + data.length) >>> 0;
    return v;
  }

  /** Every TCP segment the stack sent since the last call; notes the latest TSval. */
  take(): TcpOut[] {
    const out: TcpOut[] = [];
    for (const f of this.h.tx()) {
      const d = decodeTcp(f);
      if (d === undefined) continue;
      if (d.tcp.hasTimestamp) this.tsRecent = d.tcp.tsVal;
      out.push(d);
      this.received.push(d);
    }
    return out;
  }

  /** Exactly one segment was sent: returns it (fails the test otherwise). */
  expectOne(): TcpOut {
    const out = this.take();
    expect(out.map(describeSeg), 'segments sent').toHaveLength(1);
    return out[0]!;
  }

  /** Nothing was sent. */
  expectNone(): void {
    expect(this.take().map(describeSeg), 'segments sent').toEqual([]);
  }

  /** Advances virtual time step by step until the stack sends; returns when and what. */
  nextTx(maxMs: number): { at: number; segs: TcpOut[] } | undefined {
    const h = this.h;
    const end = h.clock.now() + maxMs;
    for (let guard = 0; guard < 10_000; guard++) {
      const at = h.stack.pollAt();
      if (at > end) break;
      if (at > h.clock.now()) h.clock.advance(at - h.clock.now());
      h.stack.poll(h.clock.now());
      const segs = this.take();
      if (segs.length > 0) return { at: h.clock.now(), segs };
    }
    h.advance(end - h.clock.now());
    const segs = this.take();
    return segs.length > 0 ? { at: h.clock.now(), segs } : undefined;
  }

  /**
   * Passive open on the stack's side: the peer sends SYN (with the options given, by
   * default all of Linux's), the stack answers SYN-ACK, the peer ACKs. Returns the SYN-ACK.
   */
  connect(syn: Partial<PeerSegment> = {}, ackExtra: Partial<PeerSegment> = {}): TcpOut {
    this.sndNxt = this.iss;
    const opts = { mss: 1460, sackPermitted: true, wscale: 7, ts: [this.tsVal(), 0] as const, ...syn };
    expect(this.send({ flags: TCP_SYN, ...opts })).toBe('CONSUMED');
    const synAck = this.expectOne();
    expect(synAck.flags).toBe('S.');
    this.learnSyn(synAck);
    this.sndNxt = (this.iss + 1) >>> 0;
    this.tsOk = opts.ts !== undefined && synAck.tcp.hasTimestamp;
    expect(this.send({ flags: TCP_ACK, ...ackExtra })).toBe('CONSUMED');
    return synAck;
  }

  /** Takes the stack's ISN from its SYN or SYN-ACK. */
  learnSyn(s: TcpOut): void {
    this.irs = s.tcp.seq;
    this.rcvNxt = (s.tcp.seq + 1) >>> 0;
    if (s.tcp.hasTimestamp) this.tsRecent = s.tcp.tsVal;
  }
}

/** Counter deltas: call the returned function later to get what changed since now. */
export function counterDelta(h: Harness): () => { Tcp: Partial<TcpMib>; TcpExt: Partial<TcpExtMib>; drops: Partial<Record<string, number>> } {
  const before = h.stack.counters();
  const dropsBefore = h.stack.drops();
  return () => {
    const after = h.stack.counters();
    const dropsAfter = h.stack.drops();
    const diff = <T extends Record<string, number>>(a: T, b: Record<string, number>): Partial<T> => {
      const d: Record<string, number> = {};
      for (const k of Object.keys(a)) if (a[k] !== (b[k] ?? 0)) d[k] = a[k]! - (b[k] ?? 0);
      return d as Partial<T>;
    };
    return {
      Tcp: diff(after.Tcp, before.Tcp),
      TcpExt: diff(after.TcpExt, before.TcpExt),
      drops: diff(dropsAfter, dropsBefore),
    };
  };
}

/** Runs the socket layer's nextTick/setImmediate callbacks (the harness has no real timers). */
export async function settleH(h: Harness, rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await new Promise((r) => setImmediate(r));
    h.advance(0);
  }
}

/** The state of the only connection in the stack's table (`ss -tan`), or undefined. */
export function connState(h: Harness): string | undefined {
  const c = h.stack.tcpConnections();
  return c.length === 0 ? undefined : c[0]!.state;
}

// ── an established connection ────────────────────────────────────────────

/** An established connection, accepted by the stack, with the test as the peer. */
export interface Estab {
  h: Harness;
  p: TcpPeer;
  sock: TcpSocket;
  synAck: TcpOut;
  /** Data the application received, when `collect` was asked. */
  got: Buffer[];
  errors: NodeJS.ErrnoException[];
}

/**
 * A connection accepted by the stack from the test peer. By default the peer offers all of
 * Linux's options (MSS 1460, SACK, timestamps, window scale 7); `collect` makes the
 * application read everything (flowing mode).
 */
export function established(o: {
  config?: DeepPartial<StackConfig>;
  syn?: Partial<PeerSegment>;
  ack?: Partial<PeerSegment>;
  collect?: boolean;
  server?: TcpSocketOptions;
  port?: number;
} = {}): Estab {
  const h = tcpHarness(o.config !== undefined ? { config: o.config } : {});
  const accepted: TcpSocket[] = [];
  h.stack.tcp.createServer((s) => accepted.push(s), o.server).listen(o.port ?? 80);
  const p = new TcpPeer(h, { port: o.port ?? 80 });
  const synAck = p.connect(o.syn, o.ack);
  expect(accepted).toHaveLength(1);
  const sock = accepted[0]!;
  const got: Buffer[] = [];
  const errors: NodeJS.ErrnoException[] = [];
  sock.on('error', (e: NodeJS.ErrnoException) => errors.push(e));
  if (o.collect ?? true) sock.on('data', (b: Buffer) => got.push(b));
  p.take();
  return { h, p, sock, synAck, got, errors };
}

/** The segments that carry data. */
export const dataSegs = (segs: TcpOut[]): TcpOut[] => segs.filter((s) => s.payload.length > 0);
