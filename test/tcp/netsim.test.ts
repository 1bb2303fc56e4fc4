/**
 * Network simulation: bulk TCP transfers between two stacks in virtual time, checked
 * byte for byte (sha256 of what was sent against what arrived), under loss, duplication,
 * reordering, delay, jitter, corruption, a closed receive window and a 10 s outage.
 *
 * The path (test/tcp/pair.ts): A (192.168.69.1) ⇄ B (192.168.69.2) over a MemoryLink with
 * FCS, each direction through its own seeded FaultyLink. Every scenario adds a 5 ms
 * one-way delay, so the RTT is 10 ms and the timers (RTO ≥ 200 ms, delayed ACK 40 ms)
 * meet a path they can measure. There is no bandwidth limit: what bounds a transfer is
 * the receive window (tcp.rmem, 256 KiB by default) per RTT, i.e. 25.6 MB/s, then loss.
 *
 * Virtual-time bounds. A transfer can never beat one receive window per round trip, so
 * `duration ≥ size · RTT / rmem` (0.41 s for 10 MiB) is asserted as a check on the clock.
 * The upper bound is twice the Padhye et al. steady-state estimate for the loss rate
 * (see maxDurationMs; measured worst cases over the eight variants — NewReno/CUBIC × SACK
 * on/off × timestamps on/off — sit at 28–69 % of it), so it catches a sender that stalls
 * on RTOs it should not need, or an RTO estimate that runs away. Every size is the full
 * 10 MiB, 20 % loss included: at most ~1.7 s of wall time per transfer on this machine.
 *
 * Driving: `drive()` advances the manual clock in 10 ms steps (delivering frames and
 * running timers in between, see Pair.advance) and yields to Node's event loop after each,
 * so that stream callbacks that Node defers ('end', 'drain' after a synchronous write)
 * run. Bulk senders hand the whole payload to `end()`, and the socket moves it into the
 * send buffer as ACKs free room, from inside the stack's wake-up: the step size does not
 * change the measured durations (checked when this file was written: 1 ms and 20 ms
 * steps gave the same 605 ms for 10 MiB without loss).
 *
 * Test seam (sequence-number wrap): a stack's Tcp is reached as `stack.tcpLayer` (private)
 * and its `isn` generator replaced by an object whose `isn()` returns a chosen ISN and
 * whose `tsOffset()` delegates to the real one (or returns a chosen offset, to wrap TSval).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { DeepPartial, StackConfig } from '../../src/core/config.js';
import type { CountersSnapshot } from '../../src/core/counters.js';
import type { FaultOptions } from '../../src/dev/fault.js';
import type { Stack } from '../../src/stack.js';
import type { IsnGenerator } from '../../src/transport/tcp/isn.js';
import { seqDiff, seqLt } from '../../src/transport/tcp/seq.js';
import { TcpState, type Tcb } from '../../src/transport/tcp/tcb.js';
import type { Tcp } from '../../src/transport/tcp/tcp.js';
import type { TcpSocket } from '../../src/user/net.js';
import { pair, type Pair } from './pair.js';

const MiB = 1024 * 1024;
const DELAY_MS = 5;
const RTT_MS = 2 * DELAY_MS;
/** Default tcp.rmem and tcp.wmem (src/core/config.ts). */
const RMEM = 262_144;
const WMEM = 262_144;
const PORT = 5001;
/** Virtual time between two turns of Node's event loop. */
const STEP_MS = 10;

// ── helpers ─────────────────────────────────────────────────────────────────

/** `size` bytes of xorshift32 noise: a misplaced or repeated segment changes the hash. */
function payload(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  const words = Math.floor(size / 4);
  for (let i = 0; i < words; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, 4 * i);
  }
  for (let i = 4 * words; i < size; i++) b[i] = i & 0xff;
  return b;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** The stack's TCP (a private field: this file inspects TCBs and installs an ISN seam). */
const tcpOf = (s: Stack): Tcp => (s as unknown as { tcpLayer: Tcp }).tcpLayer;

/** The one connection a stack has (a bulk test opens exactly one). */
function onlyConn(s: Stack): Tcb {
  const conns = [...tcpOf(s).conns.values()];
  expect(conns).toHaveLength(1);
  return conns[0]!;
}

/**
 * Advances virtual time in STEP_MS steps, yielding to the event loop after each, until
 * `done()` or `maxMs` of virtual time. Returns whether `done()` became true.
 */
async function drive(p: Pair, done: () => boolean, maxMs: number, each?: () => void): Promise<boolean> {
  const end = p.clock.now() + maxMs;
  for (let i = 0; i < 10_000_000 && p.clock.now() < end; i++) {
    if (done()) return true;
    p.advance(STEP_MS);
    each?.();
    await turn();
  }
  return done();
}

/** A frame a stack sent, seen on the wire: only TCP segments are decoded. */
interface Wire {
  at: number;
  tcp: boolean;
  seq: number;
  /** Sequence space used: payload, plus one for SYN and for FIN. */
  seqLen: number;
  payload: number;
  flags: number;
  cut: boolean;
}

/** Decodes Ethernet/IPv4/TCP headers of an outgoing frame (no VLAN, as this stack sends). */
function decode(frame: Uint8Array, at: number, cut: boolean): Wire {
  const isTcp = frame.length >= 54 && frame[12] === 0x08 && frame[13] === 0x00 && frame[23] === 6;
  if (!isTcp) return { at, tcp: false, seq: 0, seqLen: 0, payload: 0, flags: 0, cut };
  const ihl = (frame[14]! & 0x0f) * 4;
  const totalLen = (frame[16]! << 8) | frame[17]!;
  const t = 14 + ihl;
  const seq = ((frame[t + 4]! << 24) | (frame[t + 5]! << 16) | (frame[t + 6]! << 8) | frame[t + 7]!) >>> 0;
  const doff = (frame[t + 12]! >> 4) * 4;
  const flags = frame[t + 13]!;
  const len = totalLen - ihl - doff;
  return { at, tcp: true, seq, seqLen: len + (flags & 0x02 ? 1 : 0) + (flags & 0x01 ? 1 : 0), payload: len, flags, cut };
}

/** Records what a stack sends (index 0: A, 1: B). */
function wiretap(p: Pair, side: 0 | 1, keep: (w: Wire) => boolean = () => true): Wire[] {
  const out: Wire[] = [];
  p.cut[side].onSend = (frame, cut) => {
    const w = decode(frame, p.clock.now(), cut);
    if (keep(w)) out.push(w);
  };
  return out;
}

interface BulkOptions {
  size: number;
  config?: DeepPartial<StackConfig>;
  faults?: Omit<FaultOptions, 'seed'> & { seed?: number };
  /** Virtual time allowed before the test fails as a stall. */
  maxMs: number;
  /** Runs on the pair before the connection opens (test seams). */
  prepare?: (p: Pair) => void;
  /** Runs at every step while the transfer is going. */
  each?: (p: Pair) => void;
}

interface BulkResult {
  p: Pair;
  sentHash: string;
  receivedHash: string;
  received: number;
  /** From connect() to the last byte arriving at B, in virtual ms. */
  durationMs: number;
  /** MB/s (10^6 bytes) of application data over `durationMs`. */
  goodput: number;
  wallMs: number;
  a: CountersSnapshot;
  b: CountersSnapshot;
  /** 'error' events of either socket. */
  errors: Error[];
  /** The connection's TCBs, kept after they left the table. */
  clientTcb: Tcb;
  serverTcb: Tcb;
  /** Frames A sent that use no sequence space (ARP, pure ACKs). */
  unsequencedFromA: number;
}

/**
 * A sends `size` bytes to B, then both close. Completes when B has read everything, both
 * sockets have closed cleanly and B's FIN has been acknowledged; fails (with both stacks' state) if that takes more
 * than `maxMs` of virtual time.
 */
async function bulk(opts: BulkOptions): Promise<BulkResult> {
  const p = pair({
    ...(opts.config !== undefined && { config: opts.config }),
    faults: { delayMs: DELAY_MS, ...opts.faults },
  });
  opts.prepare?.(p);
  let unsequencedFromA = 0;
  const prevTap = p.cut[0].onSend;
  p.cut[0].onSend = (frame, cut) => {
    if (decode(frame, 0, cut).seqLen === 0) unsequencedFromA++;
    prevTap?.(frame, cut);
  };
  const data = payload(opts.size, opts.size ^ 0x5eed);
  const hash = createHash('sha256');
  const errors: Error[] = [];
  let received = 0;
  let lastByteAt = NaN;
  let serverClosed = false;
  let clientClosed = false;
  const server = p.b.tcp.createServer((s: TcpSocket) => {
    s.on('data', (d: Buffer) => {
      hash.update(d);
      received += d.length;
      lastByteAt = p.clock.now();
    });
    s.on('end', () => s.end());
    s.on('error', (e) => errors.push(e));
    s.on('close', () => (serverClosed = true));
  });
  server.listen(PORT);
  await turn();

  const t0 = p.clock.now();
  const wall0 = performance.now();
  const c = p.a.tcp.connect({ port: PORT, host: '192.168.69.2' });
  c.on('connect', () => c.end(data));
  c.resume(); // reads (nothing) to the end, so that B's FIN completes the close
  c.on('error', (e) => errors.push(e));
  c.on('close', () => (clientClosed = true));
  const clientTcb = onlyConn(p.a);
  let serverTcb: Tcb | undefined;
  // Done when both sockets closed and B's FIN was acknowledged (B's TCB is gone; A's waits in TIME-WAIT).
  const closed = (): boolean => serverClosed && clientClosed && serverTcb !== undefined && tcpOf(p.b).conns.size === 0;
  const done = await drive(p, closed, opts.maxMs, () => {
    serverTcb ??= [...tcpOf(p.b).conns.values()][0];
    opts.each?.(p);
  });
  const wallMs = performance.now() - wall0;
  if (!done) {
    throw new Error(`transfer stalled after ${p.clock.now() - t0} virtual ms: received ${received}/${opts.size}, ` +
      `A ${JSON.stringify(p.a.tcpConnections())} B ${JSON.stringify(p.b.tcpConnections())} errors ${errors.join()}`);
  }
  const durationMs = lastByteAt - t0;
  return {
    p, sentHash: sha256(data), receivedHash: hash.digest('hex'), received, durationMs,
    goodput: opts.size / 1e6 / (durationMs / 1000), wallMs,
    a: p.a.counters(), b: p.b.counters(), errors, clientTcb, serverTcb: serverTcb!, unsequencedFromA,
  };
}

/** Byte-exact and cleanly closed. */
function expectIntact(r: BulkResult, size: number): void {
  expect(r.errors).toEqual([]);
  expect(r.received).toBe(size);
  expect(r.receivedHash).toBe(r.sentHash);
  // Everything acknowledged: the send sequence spaces span the data, the SYN and the FIN.
  expect(seqDiff(r.clientTcb.sndUna, r.clientTcb.iss)).toBe(size + 2);
  expect(seqDiff(r.serverTcb.sndUna, r.serverTcb.iss)).toBe(2);
  expect(r.a.Tcp.EstabResets + r.b.Tcp.EstabResets).toBe(0);
}

/** Physics: at most one receive window per round trip. */
function minDurationMs(size: number): number {
  return (size / RMEM) * RTT_MS;
}

function summary(name: string, r: BulkResult, size: number): string {
  const retrans = r.a.Tcp.RetransSegs;
  const orig = r.a.TcpExt.TCPOrigDataSent;
  return `${name}: ${(size / MiB).toFixed(1)} MiB in ${(r.durationMs / 1000).toFixed(2)} s virtual, ` +
    `goodput ${r.goodput.toFixed(2)} MB/s, RetransSegs ${retrans} (${((100 * retrans) / orig).toFixed(1)} % of ${orig}), ` +
    `RTOs ${r.a.TcpExt.TCPTimeouts}, recoveries ${r.a.TcpExt.TCPSackRecovery + r.a.TcpExt.TCPRenoRecovery}, ` +
    `lost ${r.p.faulty[0]!.faults.lost}+${r.p.faulty[1]!.faults.lost} frames, wall ${r.wallMs.toFixed(0)} ms`;
}

// ── bulk transfers under loss ──────────────────────────────────────────────

/**
 * Steady-state TCP throughput in segments per second for loss rate `p` (Padhye, Firoiu,
 * Towsley, Kurose, SIGCOMM 1998, the "full model" approximation): `b` segments per ACK
 * (2: delayed ACKs), `t0` the RTO in seconds. It counts timeouts, which dominate at high
 * loss, where the simpler Mathis estimate is far too hopeful.
 */
function padhye(p: number, rttS: number, b: number, t0: number): number {
  return 1 / (rttS * Math.sqrt((2 * b * p) / 3) + t0 * Math.min(1, 3 * Math.sqrt((3 * b * p) / 8)) * p * (1 + 32 * p * p));
}

/**
 * The most virtual time a transfer of `size` bytes may take at loss rate `loss` (each way):
 * twice the Padhye estimate at RTT 10 ms and the minimum RTO (200 ms), with 1448-byte
 * segments; without loss, three times the window-per-RTT floor. Measured worst cases over
 * the eight variants at 10 MiB were 0.60 s, 6.8 s, 54 s and 950 s against bounds of
 * 1.2 s, 24 s, 128 s and 1394 s.
 */
function maxDurationMs(size: number, loss: number): number {
  if (loss === 0) return 3 * minDurationMs(size);
  return (2 * 1000 * size) / 1448 / padhye(loss, RTT_MS / 1000, 2, 0.2);
}

/**
 * The most retransmitted segments per original one: six times what an ideal sender
 * needs (p/(1 − p), each copy lost with probability p). The excess comes from RTOs, after
 * which the scoreboard is forgotten (RFC 2018 §8) and the flight is sent again; the
 * measured worst cases were 1.1 %, 21 % and 97 % at 1, 5 and 20 % loss.
 */
function maxRetransRatio(loss: number): number {
  return (6 * loss) / (1 - loss);
}

const VARIANTS = (['newreno', 'cubic'] as const).flatMap((congestion) =>
  [true, false].flatMap((sack) => [true, false].map((timestamps) => ({ congestion, sack, timestamps }))));

describe.each([0, 0.01, 0.05, 0.2])('10 MiB A → B with loss %f each way', (loss) => {
  const size = 10 * MiB;
  it.each(VARIANTS)('$congestion, sack $sack, timestamps $timestamps', async (tcp) => {
    const r = await bulk({ size, config: { tcp }, faults: { loss, seed: 11 }, maxMs: 2 * maxDurationMs(size, loss) });
    console.log(summary(`loss ${loss * 100} % ${tcp.congestion} sack=${tcp.sack} ts=${tcp.timestamps}`, r, size));
    expectIntact(r, size);
    expect(r.clientTcb.sackOk).toBe(tcp.sack);
    expect(r.clientTcb.tsOk).toBe(tcp.timestamps);
    expect(r.clientTcb.cc.name).toBe(tcp.congestion);
    expect(r.durationMs).toBeGreaterThanOrEqual(minDurationMs(size));
    expect(r.durationMs).toBeLessThan(maxDurationMs(size, loss));

    const lostByA = r.p.faulty[0]!.faults.lost;
    const retrans = r.a.Tcp.RetransSegs;
    if (loss === 0) {
      expect(lostByA + r.p.faulty[1]!.faults.lost).toBe(0);
      expect(retrans + r.b.Tcp.RetransSegs).toBe(0);
      expect(r.a.TcpExt.TCPTimeouts + r.a.TcpExt.TCPSackRecovery + r.a.TcpExt.TCPRenoRecovery).toBe(0);
    } else {
      // Every sequenced segment the link lost was sent again (A's other frames are few).
      expect(lostByA).toBeGreaterThan(0);
      expect(retrans).toBeGreaterThanOrEqual(lostByA - r.unsequencedFromA);
      expect(retrans / r.a.TcpExt.TCPOrigDataSent).toBeLessThanOrEqual(maxRetransRatio(loss));
      // Loss was repaired by fast recovery, of the kind the variant negotiated.
      expect(tcp.sack ? r.a.TcpExt.TCPSackRecovery : r.a.TcpExt.TCPRenoRecovery).toBeGreaterThan(0);
      expect(tcp.sack ? r.a.TcpExt.TCPRenoRecovery : r.a.TcpExt.TCPSackRecovery).toBe(0);
    }
    // The RTO estimate stayed near the path's: 200 ms floor, not seconds (a diverging
    // estimator, fed samples that measure its own back-off, is how a lossy transfer stalls).
    expect(r.clientTcb.rtt.srtt).toBeLessThan(100);
  }, 60_000);
});

// ── the sequence-number wrap ───────────────────────────────────────────────

/**
 * Installs the ISN seam on a stack: connections it opens or accepts from now on start at
 * `isn`, and use `tsOffset` as their timestamp offset (the real one when not given).
 */
function forceIsn(s: Stack, isn: number, tsOffset?: number): void {
  const tcp = tcpOf(s);
  const real = tcp.isn;
  const seam: Pick<IsnGenerator, 'isn' | 'tsOffset'> = {
    isn: () => isn,
    tsOffset: (local, remote) => tsOffset ?? real.tsOffset(local, remote),
  };
  (tcp as unknown as { isn: typeof seam }).isn = seam;
}

describe('across the 2^32 wrap', () => {
  it('sequence numbers: 4 MiB A → B from an ISN 1 MB below 2^32, with loss and reordering', async () => {
    const size = 4 * MiB;
    const isnA = 0xffff_ffff - 1_000_000;
    const isnB = 0xffff_ffff; // B's first data byte (none here) and its FIN sit just past the wrap
    const r = await bulk({
      size, faults: { loss: 0.01, reorder: 0.02, seed: 5 }, maxMs: maxDurationMs(size, 0.03),
      prepare: (p) => {
        forceIsn(p.a, isnA);
        forceIsn(p.b, isnB);
      },
    });
    console.log(summary('seq wrap, 1 % loss + 2 % reorder', r, size));
    expectIntact(r, size);
    expect(r.clientTcb.iss).toBe(isnA);
    expect(r.serverTcb.iss).toBe(isnB);
    // Both sequence spaces went through 2^32: their ends are numerically below their starts.
    expect(r.clientTcb.sndUna).toBeLessThan(isnA);
    expect(r.serverTcb.rcvNxt).toBeLessThan(isnA);
    expect(r.serverTcb.sndUna).toBe(1); // SYN at 0xffffffff, FIN at 0
    // Recovery and reassembly happened on both sides of the wrap, without a stall.
    expect(r.a.Tcp.RetransSegs).toBeGreaterThan(0);
    expect(r.b.TcpExt.TCPOFOQueue).toBeGreaterThan(0);
    expect(r.a.TcpExt.TCPSackRecovery).toBeGreaterThan(0);
  }, 60_000);

  it('timestamps: TSval passes 2^32 mid-transfer and PAWS lets every segment through', async () => {
    const size = 4 * MiB;
    // A's TSval = now + offset: 2^32 is reached 100 ms into the connection.
    const r = await bulk({
      size, faults: { loss: 0.01, seed: 6 }, maxMs: maxDurationMs(size, 0.01),
      prepare: (p) => forceIsn(p.a, 0x1234_5678, 0x1_0000_0000 - 100),
    });
    console.log(summary('TSval wrap, 1 % loss', r, size));
    expectIntact(r, size);
    expect(r.clientTcb.tsOk).toBe(true);
    expect(r.durationMs).toBeGreaterThan(100);
    expect(r.b.TcpExt.PAWSEstab).toBe(0);
    expect(r.clientTcb.rtt.srtt).toBeLessThan(100);
  }, 60_000);
});

// ── everything at once ─────────────────────────────────────────────────────

describe('a bad link', () => {
  it('duplication, reordering, delay + jitter and FCS-caught corruption together, both ways', async () => {
    const size = 5 * MiB;
    // With jitter the frames of a burst get distinct due times and leave the delay line one
    // per turn, so it is jitter that reorders them (FaultyLink's reorder knob only swaps
    // frames that leave in the same turn); the knob is on for the frames that still do.
    const faults = { duplicate: 0.02, reorder: 0.03, jitterMs: 3, corrupt: 0.02, seed: 9 };
    const r = await bulk({ size, faults, maxMs: 2 * maxDurationMs(size, 0.05) });
    console.log(`${summary('dup 2 % + reorder 3 % + 5–8 ms delay + corrupt 2 %', r, size)}; ` +
      `drops at A ${JSON.stringify(r.p.a.drops())}, at B ${JSON.stringify(r.p.b.drops())}`);
    expectIntact(r, size);
    // Spurious fast retransmits (jitter reorders beyond DupThresh) and 2 % corruption: within
    // the bound of a 5 % lossy path.
    expect(r.durationMs).toBeLessThan(maxDurationMs(size, 0.05));
    const [fa, fb] = [r.p.faulty[0]!, r.p.faulty[1]!];
    for (const f of [fa, fb]) {
      expect(f.faults.duplicated).toBeGreaterThan(0);
      expect(f.faults.corrupted).toBeGreaterThan(0);
      expect(f.faults.lost).toBe(0);
    }
    // Every damaged frame died at the receiver's FCS check, and nothing else did: no bad
    // TCP or IP checksum, no other drop than what duplicates and old data explain.
    expect(r.p.b.drops()['X_FCS']).toBe(fa.faults.corrupted);
    expect(r.p.a.drops()['X_FCS']).toBe(fb.faults.corrupted);
    expect(r.a.Tcp.InCsumErrors + r.b.Tcp.InCsumErrors + r.a.Tcp.InErrs + r.b.Tcp.InErrs).toBe(0);
    // Reordered segments wait in the out-of-order queue; corrupted ones are losses, sent again.
    expect(r.b.TcpExt.TCPOFOQueue).toBeGreaterThan(0);
    // Duplicates arrive as old segments (answered with an ACK: DelayedACKLost, as Linux);
    // jitter reorders both ways, so some of them, and some reordered ACKs, meet PAWS first.
    expect(r.b.TcpExt.DelayedACKLost).toBeGreaterThan(0);
    const expected = new Set(['X_FCS', 'TCP_OLD_SEQUENCE', 'TCP_OLD_DATA', 'TCP_RFC7323_PAWS', 'TCP_OFOMERGE']);
    for (const s of [r.p.a, r.p.b]) expect(Object.keys(s.drops()).filter((d) => !expected.has(d))).toEqual([]);
    expect(r.a.Tcp.RetransSegs).toBeGreaterThan(0);
  }, 60_000);
});

// ── flow control ───────────────────────────────────────────────────────────

interface PausedReceiver {
  p: Pair;
  data: Buffer;
  client: TcpSocket;
  /** B starts reading (hashing what it reads). */
  resume(): void;
  /** Resolves at B's 'end' with the hash of what B read, or null after `maxMs` of virtual time. */
  finish(maxMs: number): Promise<{ hash: string; received: number } | null>;
  stats: { refusals: number; drains: number; maxReceiverQueue: number; maxSenderMemory: number };
  /** A's zero-window probes (a zero-length ACK one byte below snd.una) and persist-override segments. */
  probes: Wire[];
  errors: Error[];
  chunk: number;
}

/**
 * A writes `size` bytes in 64 KiB chunks, waiting for 'drain' whenever write() says to,
 * to a B that does not read; runs `pauseMs` of virtual time, sampling both ends' memory.
 */
async function pausedReceiver(size: number, pauseMs: number): Promise<PausedReceiver> {
  const CHUNK = 64 * 1024;
  const p = pair({ faults: { delayMs: DELAY_MS, seed: 2 } });
  const data = payload(size, 77);
  let serverSock: TcpSocket | undefined;
  let ended = false;
  const errors: Error[] = [];
  p.b.tcp.createServer((s: TcpSocket) => {
    serverSock = s;
    s.pause(); // not reading: everything stays in the connection's receive buffer
    s.on('end', () => (ended = true));
    s.on('error', (e) => errors.push(e));
  }).listen(PORT);
  await turn();

  const stats = { refusals: 0, drains: 0, maxReceiverQueue: 0, maxSenderMemory: 0 };
  const c = p.a.tcp.connect({ port: PORT, host: '192.168.69.2' });
  let offset = 0;
  const pump = (): void => {
    while (offset < size) {
      const more = c.write(data.subarray(offset, offset + CHUNK));
      offset += CHUNK;
      if (!more) {
        stats.refusals++;
        return;
      }
    }
    c.end();
  };
  c.on('connect', pump);
  c.on('drain', () => {
    stats.drains++;
    pump();
  });
  c.on('error', (e) => errors.push(e));
  const a = onlyConn(p.a);
  // While the window is short of a segment: what A sends with nothing in flight is a probe.
  const probes = wiretap(p, 0, (w) => w.tcp && (w.flags & 0x07) === 0 && a.sndWnd < a.mss &&
    (w.payload === 0 ? w.seq === ((a.sndUna - 1) >>> 0) : w.seq === a.sndUna && w.payload < a.mss));
  const sample = (): void => {
    const b = [...tcpOf(p.b).conns.values()][0];
    if (b !== undefined) stats.maxReceiverQueue = Math.max(stats.maxReceiverQueue, b.rcvBuf.length + b.ofo.bytes);
    stats.maxSenderMemory = Math.max(stats.maxSenderMemory, a.sndBuf.length + c.writableLength);
  };
  await drive(p, () => false, pauseMs, sample);

  const hash = createHash('sha256');
  let received = 0;
  const resume = (): void => {
    serverSock!.on('data', (d: Buffer) => {
      hash.update(d);
      received += d.length;
    });
    serverSock!.resume();
  };
  const finish = async (maxMs: number): Promise<{ hash: string; received: number } | null> => {
    const done = await drive(p, () => ended, maxMs, sample);
    return done ? { hash: hash.digest('hex'), received } : null;
  };
  return { p, data, client: c, resume, finish, stats, probes, errors, chunk: CHUNK };
}

describe('flow control', () => {
  const size = 20 * MiB;
  const PAUSE_MS = 30_000;

  it('a receiver that stops reading stops the sender, both stay bounded, and all arrives after resume()', async () => {
    const t = await pausedReceiver(size, PAUSE_MS);
    const { p, stats } = t;
    const a = onlyConn(p.a);
    const b = onlyConn(p.b);
    const mss = a.mss;
    const sliver = a.sndWnd;
    // The receiver holds at most its buffer plus one segment, and offers less than a
    // segment of window: the sender has stopped (sender-side silly-window avoidance).
    expect(stats.maxReceiverQueue).toBeLessThanOrEqual(RMEM + mss);
    expect(stats.maxReceiverQueue).toBeGreaterThanOrEqual(RMEM - mss);
    expect(b.rcvBuf.length).toBe(stats.maxReceiverQueue);
    expect(a.sndWnd).toBeLessThan(mss);
    expect(a.flight).toBe(0);
    // The sender kept within the window: nothing was dropped for lack of room.
    expect(p.b.counters().TcpExt.TCPZeroWindowDrop).toBe(0);
    // The sender's memory is its send buffer and the one chunk its socket holds.
    expect(stats.refusals).toBeGreaterThan(0);
    expect(stats.drains).toBeGreaterThan(0);
    expect(stats.maxSenderMemory).toBeLessThanOrEqual(WMEM + t.chunk);
    expect(a.sndBuf.length).toBe(WMEM);
    expect(t.client.bytesWritten).toBeLessThanOrEqual(RMEM + WMEM + mss);
    expect(a.state).toBe(TcpState.ESTABLISHED);

    const resumedAt = p.clock.now();
    t.resume();
    const r = await t.finish(60_000);
    expect(r).not.toBeNull();
    expect(t.errors).toEqual([]);
    expect(r!.received).toBe(size);
    expect(r!.hash).toBe(sha256(t.data));
    expect(stats.maxReceiverQueue).toBeLessThanOrEqual(RMEM + mss);
    expect(stats.maxSenderMemory).toBeLessThanOrEqual(WMEM + t.chunk);
    const afterMs = p.clock.now() - resumedAt;
    console.log(`flow control: paused ${PAUSE_MS / 1000} s with ${stats.maxReceiverQueue} B queued at B ` +
      `(rmem ${RMEM}), window left ${sliver} B, ${t.probes.length} probes, sender held ≤ ${stats.maxSenderMemory} B ` +
      `(${stats.refusals} write() refusals, ${stats.drains} drains); after resume ${(size / MiB).toFixed(0)} MiB ` +
      `in ${(afterMs / 1000).toFixed(2)} s virtual (${(size / 1e6 / (afterMs / 1000)).toFixed(2)} MB/s)`);
  }, 60_000);

  /*
   * The sender fills the window with full segments and may leave a sliver smaller than an
   * MSS, which sender-side SWS avoidance will not send; the persist timer then sends what
   * the window takes (RFC 1122 §4.2.3.4 (d), Linux tcp_write_wakeup), the receiver
   * advertises a zero window, and real zero-window probes follow, backing off.
   */
  it('the window is advertised as zero and probed with a doubling interval', async () => {
    const t = await pausedReceiver(size, PAUSE_MS);
    const { p } = t;
    expect(p.b.counters().TcpExt.TCPToZeroWindowAdv).toBeGreaterThanOrEqual(1);
    expect(onlyConn(p.a).sndWnd).toBe(0);
    expect(p.a.counters().TcpExt.TCPWinProbe).toBeGreaterThanOrEqual(5);
    expect(t.probes.length).toBeGreaterThanOrEqual(5);
    // The zero-window probes proper (no payload) back off by doubling.
    const zwp = t.probes.filter((w) => w.payload === 0);
    const gaps = zwp.slice(1).map((w, i) => w.at - zwp[i]!.at);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]! / gaps[i - 1]!).toBeCloseTo(2, 1);
  }, 60_000);

  it('a lost window update after resume() does not stall the connection', async () => {
    const t = await pausedReceiver(4 * MiB, 5_000);
    // B's window update (the only segment B sends when its reader drains the buffer) is lost.
    t.p.cut[1].cut = true;
    t.resume();
    await drive(t.p, () => false, 100);
    expect(t.p.cut[1].dropped).toBeGreaterThan(0);
    t.p.cut[1].cut = false;
    const r = await t.finish(120_000);
    expect(r).not.toBeNull();
    expect(r!.hash).toBe(sha256(t.data));
  }, 60_000);
});

// ── both directions ────────────────────────────────────────────────────────

describe('both directions at once', () => {
  it('an echo server pipes a 5 MiB stream back while the client is still sending, with 1 % loss', async () => {
    const size = 5 * MiB;
    const p = pair({ faults: { delayMs: DELAY_MS, loss: 0.01, seed: 4 } });
    p.b.tcp.createServer((s: TcpSocket) => s.pipe(s)).listen(PORT);
    await turn();
    const data = payload(size, 99);
    const hash = createHash('sha256');
    let received = 0;
    let firstEchoAt = NaN;
    let lastEchoAt = NaN;
    let closed = false;
    const errors: Error[] = [];
    const t0 = p.clock.now();
    const c = p.a.tcp.connect({ port: PORT, host: '192.168.69.2' });
    c.on('connect', () => c.end(data));
    c.on('data', (d: Buffer) => {
      if (received === 0) firstEchoAt = p.clock.now();
      hash.update(d);
      received += d.length;
      lastEchoAt = p.clock.now();
    });
    c.on('error', (e) => errors.push(e));
    c.on('close', () => (closed = true));
    const a = onlyConn(p.a);
    let lastSentAckedAt = NaN;
    const done = await drive(p, () => closed, 300_000, () => {
      if (Number.isNaN(lastSentAckedAt) && seqDiff(a.sndUna, a.iss) >= size + 1) lastSentAckedAt = p.clock.now();
    });
    expect(done).toBe(true);
    expect(errors).toEqual([]);
    expect(received).toBe(size);
    expect(hash.digest('hex')).toBe(sha256(data));
    // The streams overlapped: echoes came back long before the client had sent everything.
    expect(firstEchoAt).toBeLessThan(lastSentAckedAt / 2);
    const ca = p.a.counters();
    const cb = p.b.counters();
    // Both ends sent data under loss, and both repaired it.
    expect(ca.Tcp.RetransSegs).toBeGreaterThan(0);
    expect(cb.Tcp.RetransSegs).toBeGreaterThan(0);
    expect(ca.TcpExt.TCPOrigDataSent).toBeGreaterThanOrEqual(size / a.mss);
    expect(cb.TcpExt.TCPOrigDataSent).toBeGreaterThanOrEqual(size / a.mss);
    const ms = lastEchoAt - t0;
    console.log(`both directions: ${(size / MiB).toFixed(0)} MiB each way in ${(ms / 1000).toFixed(2)} s virtual, ` +
      `${((2 * size) / 1e6 / (ms / 1000)).toFixed(2)} MB/s total; first echo at ${(firstEchoAt - t0).toFixed(0)} ms, ` +
      `RetransSegs A ${ca.Tcp.RetransSegs} B ${cb.Tcp.RetransSegs}, RTOs A ${ca.TcpExt.TCPTimeouts} B ${cb.TcpExt.TCPTimeouts}`);
  }, 60_000);
});

// ── an outage ──────────────────────────────────────────────────────────────

describe('a 10 s blackout', () => {
  it('retransmits at RTO, 2·RTO, 4·RTO… in virtual time, then recovers and completes', async () => {
    const size = 4 * MiB;
    const BLACKOUT_MS = 10_000;
    const p = pair({ faults: { delayMs: DELAY_MS, seed: 8 } });
    const data = payload(size, 123);
    const hash = createHash('sha256');
    let received = 0;
    let ended = false;
    p.b.tcp.createServer((s: TcpSocket) => {
      s.on('data', (d: Buffer) => {
        hash.update(d);
        received += d.length;
      });
      s.on('end', () => (ended = true));
    }).listen(PORT);
    await turn();
    const c = p.a.tcp.connect({ port: PORT, host: '192.168.69.2' });
    c.on('connect', () => c.end(data));
    const errors: Error[] = [];
    c.on('error', (e) => errors.push(e));
    const a = onlyConn(p.a);

    // A's sequenced segments, so that retransmissions show as a sequence number going back.
    let highest = a.iss;
    const retransmissions: Wire[] = [];
    p.cut[0].onSend = (frame, cut) => {
      const w = decode(frame, p.clock.now(), cut);
      if (!w.tcp || w.seqLen === 0) return;
      const end = (w.seq + w.seqLen) >>> 0;
      if (seqLt(w.seq, highest)) retransmissions.push(w);
      if (seqLt(highest, end)) highest = end;
    };

    expect(await drive(p, () => received >= MiB, 10_000)).toBe(true);
    expect(retransmissions).toEqual([]);
    const rto = a.rtt.rto;
    expect(rto).toBe(200); // RTT 10 ms: the estimate sits at the 200 ms floor
    const cutAt = p.clock.now();
    p.setBlackout(true);
    await drive(p, () => false, BLACKOUT_MS);
    p.setBlackout(false);
    const restoredAt = p.clock.now();
    const receivedBefore = received;
    expect(await drive(p, () => ended, 120_000)).toBe(true);
    expect(errors).toEqual([]);
    expect(received).toBe(size);
    expect(hash.digest('hex')).toBe(sha256(data));

    // During the outage: one retransmission of the head per timeout, each interval twice the last.
    const during = retransmissions.filter((w) => w.cut);
    const after = retransmissions.filter((w) => !w.cut && w.at >= restoredAt);
    const times = during.map((w) => w.at - cutAt);
    expect(during.length).toBeGreaterThanOrEqual(5);
    expect(new Set(during.map((w) => w.seq)).size).toBe(1);
    // The first expires one RTO after the last ACK, which was in flight when the cable went.
    expect(times[0]!).toBeGreaterThanOrEqual(rto);
    expect(times[0]!).toBeLessThanOrEqual(rto + RTT_MS);
    for (let k = 1; k < during.length; k++) expect(during[k]!.at - during[k - 1]!.at).toBeCloseTo(rto * 2 ** k, 6);
    // After it: the next backed-off expiry sends the head again, which gets through, and the
    // transfer picks up from there (no earlier retransmission: the timer is what recovers).
    const next = during.at(-1)!.at + rto * 2 ** during.length;
    expect(next).toBeGreaterThan(restoredAt);
    expect(after[0]!.at).toBeCloseTo(next, 6);
    expect(after[0]!.seq).toBe(during[0]!.seq);
    expect(p.a.counters().TcpExt.TCPTimeouts).toBe(during.length + 1);
    expect(received).toBeGreaterThan(receivedBefore);
    // The back-off ended with the first new ACK.
    expect(a.rtt.backoffs).toBe(0);
    expect(a.rtt.rto).toBe(rto);
    console.log(`blackout: cut at ${cutAt.toFixed(0)} ms, retransmissions at +${times.map((t) => t.toFixed(0)).join(', +')} ms, ` +
      `link back at +${BLACKOUT_MS} ms, recovered at +${(after[0]!.at - cutAt).toFixed(0)} ms, ` +
      `${(size / MiB).toFixed(0)} MiB done at ${(p.clock.now() / 1000).toFixed(1)} s virtual`);
  }, 60_000);
});
