/**
 * In-process links, made in pairs like the two ends of a cable (or a Linux `veth` pair):
 * what one end sends, the other receives. They let two stacks talk, or a test play the
 * peer of one stack, with no TAP, no timers and no I/O — everything happens when the
 * driver (the test) calls `flush()` and `deliver()`, so every run is the same.
 *
 * ```
 *            a.send()            a.flush()              b.deliver()
 *  stack A ───────────► a.txq ─────────────► b.inbox ──────────────► B's receiver
 *                                  (bounded: rxRing;          (one batch)
 *                                   overflow → b.stats.rx_dropped, rx_over_errors)
 * ```
 *
 * Byte counts leave out the FCS on both sides, so `a.stats.tx_bytes` equals
 * `b.stats.rx_bytes` when nothing was dropped.
 */

import type { FrameHandler, Link, LinkStats } from './device.js';
import { newLinkStats } from './device.js';
import { appendFcs, FCS_LEN, type FcsSender } from './fcs.js';

/** Options of {@link MemoryLink.pair}; both ends share them. */
export interface MemoryLinkOptions {
  /** Largest IP packet the link carries. Default 1500. */
  mtu?: number;
  /** Whether frames carry an Ethernet FCS: appended on send, left for the receiver to check. Default false. */
  fcs?: boolean;
  /** Names of the two ends. Default `['mem0', 'mem1']`. */
  names?: [string, string];
  /** Frames the inbox holds before it drops, like a NIC's receive ring. Default 1024. */
  rxRing?: number;
}

/** Ethernet header plus one 802.1Q tag: what a frame may carry beyond the MTU. */
const MAX_L2_OVERHEAD = 14 + 4;

/**
 * One end of an in-process link. Deterministic and synchronous: frames move only when
 * `flush()` and `deliver()` (or the {@link MemoryLink.pump} helper) are called.
 */
export class MemoryLink implements Link, FcsSender {
  readonly stats: LinkStats = newLinkStats();

  private peer: MemoryLink | null = null;
  private receiver: FrameHandler | null = null;
  /** Sent, not yet flushed to the peer. */
  private txq: Uint8Array[] = [];
  /** Flushed by the peer, not yet delivered; at most `rxRing` frames. */
  private inbox: Uint8Array[] = [];
  private closed = false;

  private constructor(
    /** Interface name. */
    readonly name: string,
    /** Largest IP packet the link carries. */
    readonly mtu: number,
    /** Frames carry a trailing 4-byte FCS. */
    readonly hasFcs: boolean,
    /** Capacity of the inbox in frames. */
    readonly rxRing: number,
  ) {}

  /** Two connected ends. Throws a RangeError for a non-positive `mtu` or `rxRing`. */
  static pair(opts: MemoryLinkOptions = {}): [MemoryLink, MemoryLink] {
    const mtu = opts.mtu ?? 1500;
    const rxRing = opts.rxRing ?? 1024;
    if (!Number.isInteger(mtu) || mtu <= 0) throw new RangeError(`mtu must be a positive integer, got ${mtu}`);
    if (!Number.isInteger(rxRing) || rxRing <= 0) {
      throw new RangeError(`rxRing must be a positive integer, got ${rxRing}`);
    }
    const [na, nb] = opts.names ?? ['mem0', 'mem1'];
    const fcs = opts.fcs ?? false;
    const a = new MemoryLink(na, mtu, fcs, rxRing);
    const b = new MemoryLink(nb, mtu, fcs, rxRing);
    a.peer = b;
    b.peer = a;
    return [a, b];
  }

  /**
   * Delivers and flushes until no link has a frame waiting, or a round moves nothing
   * (every link with frames has no receiver), or `maxRounds` rounds have run. Each round
   * flushes every link, then delivers every inbox: one turn of a driver's loop for each
   * end. Returns the number of frames delivered; `pending()` tells whether any are left.
   */
  static pump(links: readonly MemoryLink[], maxRounds = 1000): number {
    let total = 0;
    for (let round = 0; round < maxRounds; round++) {
      for (const l of links) l.flush();
      let moved = 0;
      for (const l of links) moved += l.deliver();
      total += moved;
      if (moved === 0) break;
    }
    return total;
  }

  setReceiver(handler: FrameHandler | null): void {
    this.receiver = this.closed ? null : handler;
  }

  /**
   * Queues `frame` for the peer (appending the FCS, in a copy, on a link that carries
   * one). A frame longer than the MTU plus an Ethernet header and a VLAN tag is dropped
   * and counted in tx_dropped, as a NIC refuses it: tests of fragmentation and MSS see a
   * stack that sends too much.
   */
  send(frame: Uint8Array): void {
    if (this.closed || frame.length > this.mtu + MAX_L2_OVERHEAD) {
      this.stats.tx_dropped++;
      return;
    }
    this.stats.tx_packets++;
    this.stats.tx_bytes += frame.length;
    this.txq.push(this.hasFcs ? appendFcs(frame) : frame);
  }

  /**
   * Queues a frame that already ends with its FCS, sending its bytes unchanged (see
   * {@link FcsSender}). Only for links that carry an FCS; throws a TypeError otherwise,
   * since that is a wiring mistake, not bad traffic.
   */
  sendWithFcs(frameWithFcs: Uint8Array): void {
    if (!this.hasFcs) throw new TypeError(`${this.name}: sendWithFcs on a link without FCS`);
    const len = frameWithFcs.length - FCS_LEN;
    if (this.closed || len < 0 || len > this.mtu + MAX_L2_OVERHEAD) {
      this.stats.tx_dropped++;
      return;
    }
    this.stats.tx_packets++;
    this.stats.tx_bytes += len;
    this.txq.push(frameWithFcs);
  }

  /** Moves the queued frames into the peer's inbox; those that do not fit are dropped there. */
  flush(): void {
    if (this.txq.length === 0) return;
    const frames = this.txq;
    this.txq = [];
    const peer = this.peer;
    // A closed peer is an unplugged cable: the frames were sent, and nobody hears them.
    if (peer === null || peer.closed) return;
    for (const f of frames) peer.enqueue(f);
  }

  private enqueue(frame: Uint8Array): void {
    if (this.inbox.length >= this.rxRing) {
      // Full ring: the NIC has nowhere to DMA the frame (DropReason FULL_RING).
      this.stats.rx_dropped++;
      this.stats.rx_over_errors++;
      return;
    }
    this.inbox.push(frame);
  }

  /**
   * Hands the whole inbox to the receiver in one batch and returns how many frames it
   * held. With no receiver, nothing moves and it returns 0.
   */
  deliver(): number {
    const handler = this.receiver;
    if (handler === null || this.inbox.length === 0) return 0;
    const batch = this.take();
    handler(batch);
    return batch.length;
  }

  /**
   * Returns and clears the inbox, counting the frames as received: for a test that
   * plays the peer itself, without a receiver.
   */
  take(): Uint8Array[] {
    const batch = this.inbox;
    this.inbox = [];
    const trailer = this.hasFcs ? FCS_LEN : 0;
    for (const f of batch) {
      this.stats.rx_packets++;
      this.stats.rx_bytes += f.length - trailer;
    }
    return batch;
  }

  /** Frames waiting in the inbox. */
  pending(): number {
    return this.inbox.length;
  }

  /** Stops both directions and discards queued frames. Idempotent. */
  close(): void {
    this.closed = true;
    this.receiver = null;
    this.txq = [];
    this.inbox = [];
  }
}
