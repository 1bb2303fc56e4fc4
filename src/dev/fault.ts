/**
 * A fault injector: a `Link` that wraps another and mistreats what is sent through it —
 * loses, duplicates, corrupts, delays and reorders frames — from a seeded generator, so
 * that a failing test replays exactly. In the spirit of Linux's `netem` qdisc and
 * smoltcp's `phy::FaultInjector`.
 *
 * Faults apply on the transmit side, in this order, each decided per frame:
 *
 * ```
 *  send(frame) ─► loss ─► duplicate ─► corrupt ─► delay line ─► reorder ─► inner.send()
 *                  │      (each copy      │      (due = now +     (hold one frame,
 *                  ▼       goes on         │       delayMs +        send it after
 *                (gone)    separately)     │       jitter)          the next one)
 *                                          ▼
 *                    on an FCS link: FCS appended first, then one bit flipped,
 *                    sent with inner.sendWithFcs() → the receiver's FCS check fails
 * ```
 *
 * **Corruption and the FCS.** On a wire, noise hits a frame after the sender's NIC
 * computed its FCS, which is why the receiver can tell. To model that, when the inner link
 * carries an FCS this link appends the FCS itself, flips one bit of the result (FCS bytes
 * included) and hands the frame to the inner link's `sendWithFcs()` (see `FcsSender`),
 * which sends the bytes unchanged. The receiver's ethernet stage then drops it as `X_FCS`.
 * On a link without FCS (a TAP) the bit is flipped in the frame itself and only the IP,
 * ICMP, UDP or TCP checksums can catch it, as on a real host behind a NIC that strips
 * the FCS. Corrupting received frames instead would have mixed two directions in one
 * wrapper; keeping every fault on transmit means one `FaultyLink` per direction, each end
 * wrapping its own link.
 *
 * **Time.** Delayed frames wait in a bounded delay line until `clock.now()` reaches their
 * due time; `flush()` releases those that are due, and `nextDue()` tells a driver when to
 * flush again. With jitter, frames leave in due order, so jitter alone reorders them, as
 * with netem.
 *
 * **Reordering** happens among the frames of one `flush()` turn: a held frame goes out
 * right after the next frame, or at the end of the turn if none follows, since a frame
 * held indefinitely would be a loss, and loss has its own knob.
 *
 * Received frames pass through untouched: `setReceiver` and `stats` are the inner link's,
 * and so are the offload flags of what it receives (`rxFlags`, `rxGsoSize`) and `readNow`.
 *
 * **Offloads.** A frame given to `sendOffload` (a TCP super-frame, or a partial checksum)
 * meets the same faults as one frame, as a TAP's queue drops a whole super-frame at once; it
 * goes on to the inner link's `sendOffload` as it is. Corruption is the exception: it must
 * happen after the checksums exist, or nobody could notice it, so a frame to corrupt is first
 * finished as the device would (checksum completed, super-frame cut into segments), and one bit
 * of one of its segments flipped; the segments then go on as ordinary frames.
 */

import type { Clock } from '../core/clock.js';
import { type Random, seededRandom } from '../core/random.js';
import type { FrameHandler, Link, LinkStats } from './device.js';
import { appendFcs, canSendWithFcs } from './fcs.js';
import { VIRTIO_NET_HDR_GSO_ECN, VIRTIO_NET_HDR_GSO_NONE, completeChecksum, emitGsoSegment, gsoSegmentCount } from './vnet.js';

/** What to do to frames, each a probability in [0, 1] unless it is a time. */
export interface FaultOptions {
  /** Seed of the generator: the same seed and the same traffic give the same faults. */
  seed: number;
  /** Probability that a frame is lost. */
  loss?: number;
  /** Probability that a frame is sent twice. */
  duplicate?: number;
  /** Probability that a frame is held back and sent after the next one. */
  reorder?: number;
  /** Fixed delay of every frame, in ms of the clock. */
  delayMs?: number;
  /** Extra random delay, uniform in [0, jitterMs), added to `delayMs`. */
  jitterMs?: number;
  /** Probability of flipping one random bit of a frame. */
  corrupt?: number;
  /** Frames the delay line holds; more are dropped and counted in tx_dropped (netem `limit`). Default 1000. */
  limit?: number;
}

/** What the injector did, frame by frame. */
export interface FaultCounts {
  /** Frames not sent at all. */
  lost: number;
  /** Extra copies sent. */
  duplicated: number;
  /** Frames that went out after a frame sent later than them (by the reorder knob). */
  reordered: number;
  /** Frames that went through the delay line. */
  delayed: number;
  /** Frames with one bit flipped. */
  corrupted: number;
}

/** What `sendOffload` was told about a frame, to tell the inner link in turn. */
interface OffloadArgs {
  csumStart: number;
  csumOffset: number;
  gsoType: number;
  gsoSize: number;
  hdrLen: number;
}

/**
 * A frame on its way out: `withFcs` when it already ends with its (damaged) FCS; `off` when it
 * goes to the inner link's `sendOffload`.
 */
interface Outgoing {
  frame: Uint8Array;
  withFcs: boolean;
  off?: OffloadArgs;
}

/**
 * The frames a device makes of an offload frame: its checksum completed, and a super-frame cut
 * into segments with complete checksums (vnet.ts). Takes ownership of `frame`.
 */
function finish(frame: Uint8Array, off: OffloadArgs): Uint8Array[] {
  if ((off.gsoType & ~VIRTIO_NET_HDR_GSO_ECN) === VIRTIO_NET_HDR_GSO_NONE) {
    completeChecksum(frame, off.csumStart, off.csumOffset);
    return [frame];
  }
  const len = frame.length;
  const hdrs = off.csumStart + (frame[off.csumStart + 12]! >>> 4) * 4;
  const n = gsoSegmentCount(frame, len, off.csumStart, off.gsoSize);
  const segs: Uint8Array[] = [];
  for (let k = 0; k < n; k++) {
    const seg = new Uint8Array(Math.min(hdrs + off.gsoSize, len - k * off.gsoSize));
    emitGsoSegment(frame, len, off.csumStart, off.gsoType, off.gsoSize, k, seg, 0);
    segs.push(seg);
  }
  return segs;
}

interface Delayed extends Outgoing {
  due: number;
}

function checkProbability(name: string, p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`${name} must be a probability in [0, 1], got ${p}`);
  return p;
}

function checkMs(name: string, ms: number): number {
  if (!(ms >= 0 && Number.isFinite(ms))) throw new RangeError(`${name} must be a finite number >= 0, got ${ms}`);
  return ms;
}

/** A `Link` that injects seeded, reproducible transmit faults into another link. */
export class FaultyLink implements Link {
  /** Counts of each fault injected so far. */
  readonly faults: FaultCounts = { lost: 0, duplicated: 0, reordered: 0, delayed: 0, corrupted: 0 };
  readonly name: string;
  readonly mtu: number;
  readonly hasFcs: boolean;
  /** The inner link's counters: this link adds none of its own except tx_dropped on a full delay line. */
  readonly stats: LinkStats;
  /** The inner link's offloads (see the file comment). */
  readonly offload: boolean;
  readonly maxFrame: number;

  /** Seeded (mulberry32): reproducible, and not meant to be unpredictable. */
  private readonly random: Random;
  private readonly loss: number;
  private readonly duplicate: number;
  private readonly reorder: number;
  private readonly corrupt: number;
  private readonly delayMs: number;
  private readonly jitterMs: number;
  private readonly limit: number;
  /** Frames waiting for their due time, in due order (send order among equal dues). */
  private delayLine: Delayed[] = [];
  /** The frame held back by the reorder knob, waiting for the next one to pass it. */
  private held: Outgoing | null = null;

  /**
   * Wraps `inner`. Throws a RangeError for an option out of range, and an Error when
   * corruption is asked of a link that carries an FCS but cannot send one it is given:
   * the damage would be covered by a fresh FCS and pass unnoticed.
   */
  constructor(
    private readonly inner: Link,
    opts: FaultOptions,
    private readonly clock: Clock,
  ) {
    this.name = inner.name;
    this.mtu = inner.mtu;
    this.hasFcs = inner.hasFcs;
    this.stats = inner.stats;
    this.offload = inner.offload === true;
    this.maxFrame = inner.maxFrame ?? inner.mtu + 18;
    this.random = seededRandom(opts.seed);
    this.loss = checkProbability('loss', opts.loss ?? 0);
    this.duplicate = checkProbability('duplicate', opts.duplicate ?? 0);
    this.reorder = checkProbability('reorder', opts.reorder ?? 0);
    this.corrupt = checkProbability('corrupt', opts.corrupt ?? 0);
    this.delayMs = checkMs('delayMs', opts.delayMs ?? 0);
    this.jitterMs = checkMs('jitterMs', opts.jitterMs ?? 0);
    this.limit = opts.limit ?? 1000;
    if (!Number.isInteger(this.limit) || this.limit <= 0) {
      throw new RangeError(`limit must be a positive integer, got ${this.limit}`);
    }
    if (this.corrupt > 0 && inner.hasFcs && !canSendWithFcs(inner)) {
      throw new Error(`${inner.name}: corruption needs a link that can send a frame with its FCS (sendWithFcs)`);
    }
  }

  setReceiver(handler: FrameHandler | null): void {
    this.inner.setReceiver(handler);
  }

  /** The inner link's, as received frames are: see {@link Link.rxFlags}. */
  get rxFlags(): Uint8Array | undefined {
    return this.inner.rxFlags;
  }

  get rxGsoSize(): Uint16Array | undefined {
    return this.inner.rxGsoSize;
  }

  readNow(): number {
    return this.inner.readNow?.() ?? 0;
  }

  /**
   * Faults for one offload frame, as for one frame (see the file comment). On an inner link
   * without `sendOffload`, the frames the device would make go out through `send`.
   */
  sendOffload(
    frame: Uint8Array, csumStart: number, csumOffset: number, gsoType: number, gsoSize: number, hdrLen: number,
  ): void {
    if (this.chance(this.loss)) {
      this.faults.lost++;
      return;
    }
    const off: OffloadArgs = { csumStart, csumOffset, gsoType, gsoSize, hdrLen };
    if (this.chance(this.duplicate)) {
      this.faults.duplicated++;
      this.transmitOffload(frame.slice(), off);
    }
    this.transmitOffload(frame, off);
  }

  send(frame: Uint8Array): void {
    if (this.chance(this.loss)) {
      this.faults.lost++;
      return;
    }
    if (this.chance(this.duplicate)) {
      this.faults.duplicated++;
      // The inner link owns what it is given, so the twin needs bytes of its own.
      this.transmit(frame.slice());
    }
    this.transmit(frame);
  }

  /** Releases the delayed frames that are due, and any frame still held, then flushes the inner link. */
  flush(): void {
    const now = this.clock.now();
    let due = 0;
    while (due < this.delayLine.length && this.delayLine[due]!.due <= now) due++;
    if (due > 0) {
      for (const d of this.delayLine.splice(0, due)) this.reorderStage(d);
    }
    if (this.held !== null) {
      this.put(this.held);
      this.held = null;
    }
    this.inner.flush();
  }

  /** When the next delayed frame is due (clock ms), or undefined if none waits. */
  nextDue(): number | undefined {
    return this.delayLine[0]?.due;
  }

  /** Discards delayed and held frames and closes the inner link. Idempotent. */
  close(): void {
    this.delayLine = [];
    this.held = null;
    this.inner.close();
  }

  /** One copy of a frame past loss and duplication: corrupt, then delay or reorder. */
  private transmit(frame: Uint8Array): void {
    this.schedule(this.chance(this.corrupt) ? this.corrupted(frame) : { frame, withFcs: false });
  }

  /** {@link transmit} for an offload frame: corrupted, it is finished first and goes on as plain frames. */
  private transmitOffload(frame: Uint8Array, off: OffloadArgs): void {
    const plain = this.inner.sendOffload === undefined;
    if (!this.chance(this.corrupt) && !plain) {
      this.schedule({ frame, withFcs: false, off });
      return;
    }
    const segs = finish(frame, off);
    const victim = plain ? -1 : Math.floor(this.random() * segs.length);
    for (let k = 0; k < segs.length; k++) {
      this.schedule(k === victim ? this.corrupted(segs[k]!) : { frame: segs[k]!, withFcs: false });
    }
  }

  private schedule(out: Outgoing): void {
    if (this.delayMs > 0 || this.jitterMs > 0) {
      this.delay(out);
    } else {
      this.reorderStage(out);
    }
  }

  private corrupted(frame: Uint8Array): Outgoing {
    this.faults.corrupted++;
    // On an FCS link the FCS is computed over the clean frame, then the wire damages it.
    const withFcs = this.inner.hasFcs;
    const bytes = withFcs ? appendFcs(frame) : frame;
    if (bytes.length > 0) {
      const bit = Math.floor(this.random() * bytes.length * 8);
      bytes[bit >>> 3]! ^= 1 << (bit & 7);
    }
    return { frame: bytes, withFcs };
  }

  private delay(out: Outgoing): void {
    if (this.delayLine.length >= this.limit) {
      this.stats.tx_dropped++;
      return;
    }
    this.faults.delayed++;
    const due = this.clock.now() + this.delayMs + (this.jitterMs > 0 ? this.random() * this.jitterMs : 0);
    // Insert after every frame due no later, keeping send order among equal due times.
    let lo = 0;
    let hi = this.delayLine.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.delayLine[mid]!.due <= due) lo = mid + 1;
      else hi = mid;
    }
    this.delayLine.splice(lo, 0, { frame: out.frame, withFcs: out.withFcs, ...(out.off !== undefined && { off: out.off }), due });
  }

  private reorderStage(out: Outgoing): void {
    const held = this.held;
    if (held !== null) {
      // The frame that comes along passes the held one; it is not itself held, so a
      // run of reorders swaps pairs rather than holding one frame forever.
      this.held = null;
      this.put(out);
      this.put(held);
      this.faults.reordered++;
      return;
    }
    if (this.chance(this.reorder)) {
      this.held = out;
      return;
    }
    this.put(out);
  }

  private put(out: Outgoing): void {
    const off = out.off;
    // `withFcs` is only set when the constructor checked that the inner link can take it.
    if (out.withFcs && canSendWithFcs(this.inner)) this.inner.sendWithFcs(out.frame);
    else if (off !== undefined) this.inner.sendOffload!(out.frame, off.csumStart, off.csumOffset, off.gsoType, off.gsoSize, off.hdrLen);
    else this.inner.send(out.frame);
  }

  /** Draws nothing for a fault that is off, so adding a knob at 0 leaves a test's sequence unchanged. */
  private chance(p: number): boolean {
    return p > 0 && this.random() < p;
  }
}
