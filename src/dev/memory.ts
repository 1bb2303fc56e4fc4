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
 *
 * **Offloads** (`offload`), as a TAP with virtio-net offloads has them: an end with `offload`
 * takes {@link MemoryLink.sendOffload}, and its peer receives what it is given as it is — a
 * TCP super-frame of up to 64 KiB, a checksum left partial — flagged in `rxFlags` and
 * `rxGsoSize`, if the peer has `offload` too; if not, the sending end does the kernel's part
 * (vnet.ts `emitGsoSegment`, `completeChecksum`), so the peer sees what a wire would carry:
 *
 * ```
 *  sendOffload(super-frame) ─┬─ peer.offload ─► inbox: 1 frame, RX_GSO | RX_CSUM_VALID | RX_CSUM_PARTIAL
 *                            └─ otherwise ────► inbox: ⌈payload / gso_size⌉ frames, checksums complete
 * ```
 */

import type { FrameHandler, Link, LinkStats } from './device.js';
import { newLinkStats, RX_CSUM_PARTIAL, RX_CSUM_VALID, RX_GSO } from './device.js';
import { appendFcs, FCS_LEN, type FcsSender } from './fcs.js';
import {
  GSO_MAX_SIZE, VIRTIO_NET_HDR_GSO_ECN, VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6,
  completeChecksum, emitGsoSegment, gsoSegmentCount,
} from './vnet.js';

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
  /**
   * virtio-net-like offloads (see the file comment), for both ends or per end `[a, b]`: an end
   * with them takes super-frames and partial checksums from its stack, and receives them
   * from a peer that has them too. Default false.
   */
  offload?: boolean | [boolean, boolean];
}

/** The checksum field's offset in the TCP header, the only one TSO knows. */
const TCP_CSUM_OFFSET = 16;

/** Ethernet header plus one 802.1Q tag: what a frame may carry beyond the MTU. */
const MAX_L2_OVERHEAD = 14 + 4;

/**
 * One end of an in-process link. Deterministic and synchronous: frames move only when
 * `flush()` and `deliver()` (or the {@link MemoryLink.pump} helper) are called.
 */
export class MemoryLink implements Link, FcsSender {
  readonly stats: LinkStats;
  /** Largest frame taken: 64 KiB + 18 from `sendOffload` with `offload`, else MTU + 18. */
  readonly maxFrame: number;
  /**
   * `RX_*` bits per frame of the batch last delivered (or taken), indexed like it; all zero on
   * an end without `offload`. Sized for a full inbox.
   */
  readonly rxFlags: Uint8Array | undefined;
  /** `gso_size` per frame of the batch last delivered with `RX_GSO`, else 0. */
  readonly rxGsoSize: Uint16Array | undefined;

  private peer: MemoryLink | null = null;
  private receiver: FrameHandler | null = null;
  /** Sent, not yet flushed to the peer, with each frame's `RX_*` bits and `gso_size` for the peer. */
  private txq: Uint8Array[] = [];
  private txMeta: number[] = [];
  /** Flushed by the peer, not yet delivered; at most `rxRing` frames. */
  private inbox: Uint8Array[] = [];
  /** Per inbox frame: `RX_*` bits in the low byte, `gso_size` above. */
  private inboxMeta: number[] = [];
  private delivering = false;
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
    /** This end takes super-frames and partial checksums, and receives them from a peer that has offloads too. */
    readonly offload: boolean,
  ) {
    this.stats = offload
      ? { ...newLinkStats(), rx_gso_frames: 0, rx_csum_partial: 0, rx_csum_unnecessary: 0, tx_gso_frames: 0, tx_csum_partial: 0 }
      : newLinkStats();
    this.maxFrame = (offload ? GSO_MAX_SIZE : mtu) + MAX_L2_OVERHEAD;
    this.rxFlags = offload ? new Uint8Array(rxRing) : undefined;
    this.rxGsoSize = offload ? new Uint16Array(rxRing) : undefined;
  }

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
    const [oa, ob] = Array.isArray(opts.offload) ? opts.offload : [opts.offload ?? false, opts.offload ?? false];
    const a = new MemoryLink(na, mtu, fcs, rxRing, oa);
    const b = new MemoryLink(nb, mtu, fcs, rxRing, ob);
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
    this.queue(frame, 0);
  }

  /**
   * Queues a frame whose transport checksum is partial and which, with `gsoType` TCPV4 or
   * TCPV6, holds several segments of `gsoSize` payload bytes (see {@link Link.sendOffload}).
   * A peer with offloads receives it as it is; for any other, this end completes the checksum
   * or cuts the super-frame into segments, as the kernel does for a TAP. Only on an end with
   * `offload`; without it, or when the arguments cannot be right, the frame is refused
   * (tx_errors), as the kernel refuses them (EINVAL); one too long goes to tx_dropped.
   */
  sendOffload(
    frame: Uint8Array, csumStart: number, csumOffset: number, gsoType: number, gsoSize: number, hdrLen: number,
  ): void {
    const len = frame.length;
    const gso = gsoType & ~VIRTIO_NET_HDR_GSO_ECN;
    if (this.closed || len > (gso === VIRTIO_NET_HDR_GSO_NONE ? this.mtu : GSO_MAX_SIZE) + MAX_L2_OVERHEAD) {
      this.stats.tx_dropped++;
      return;
    }
    if (
      !this.offload || csumStart + csumOffset + 2 > len ||
      (gso !== VIRTIO_NET_HDR_GSO_NONE &&
        ((gso !== VIRTIO_NET_HDR_GSO_TCPV4 && gso !== VIRTIO_NET_HDR_GSO_TCPV6) ||
          gsoSize === 0 || hdrLen > len || csumOffset !== TCP_CSUM_OFFSET)) ||
      (gso === VIRTIO_NET_HDR_GSO_NONE && gsoType !== gso)
    ) {
      this.stats.tx_errors++;
      return;
    }
    this.stats.tx_csum_partial!++;
    if (gso !== VIRTIO_NET_HDR_GSO_NONE) this.stats.tx_gso_frames!++;
    if (this.peer?.offload === true) {
      const flags = RX_CSUM_VALID | RX_CSUM_PARTIAL | (gso !== VIRTIO_NET_HDR_GSO_NONE ? RX_GSO : 0);
      this.queue(frame, flags | ((gso !== VIRTIO_NET_HDR_GSO_NONE ? gsoSize : 0) << 8));
      return;
    }
    if (gso === VIRTIO_NET_HDR_GSO_NONE) {
      completeChecksum(frame, csumStart, csumOffset);
      this.queue(frame, 0);
      return;
    }
    const hdrs = csumStart + (frame[csumStart + 12]! >>> 4) * 4;
    if (hdrs + gsoSize > this.mtu + MAX_L2_OVERHEAD) {
      this.stats.tx_dropped++;
      return;
    }
    const n = gsoSegmentCount(frame, len, csumStart, gsoSize);
    for (let k = 0; k < n; k++) {
      const seg = new Uint8Array(Math.min(hdrs + gsoSize, len - k * gsoSize));
      emitGsoSegment(frame, len, csumStart, gsoType, gsoSize, k, seg, 0);
      this.queue(seg, 0);
    }
  }

  /** Counts and queues one frame for the peer, with its `RX_*` bits and `gso_size` (`meta`). */
  private queue(frame: Uint8Array, meta: number): void {
    this.stats.tx_packets++;
    this.stats.tx_bytes += frame.length;
    this.txq.push(this.hasFcs ? appendFcs(frame) : frame);
    this.txMeta.push(meta);
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
    this.txMeta.push(0);
  }

  /** Moves the queued frames into the peer's inbox; those that do not fit are dropped there. */
  flush(): void {
    if (this.txq.length === 0) return;
    const frames = this.txq;
    const meta = this.txMeta;
    this.txq = [];
    this.txMeta = [];
    const peer = this.peer;
    // A closed peer is an unplugged cable: the frames were sent, and nobody hears them.
    if (peer === null || peer.closed) return;
    for (let i = 0; i < frames.length; i++) peer.enqueue(frames[i]!, meta[i]!);
  }

  private enqueue(frame: Uint8Array, meta: number): void {
    if (this.inbox.length >= this.rxRing) {
      // Full ring: the NIC has nowhere to DMA the frame (DropReason FULL_RING).
      this.stats.rx_dropped++;
      this.stats.rx_over_errors++;
      return;
    }
    this.inbox.push(frame);
    this.inboxMeta.push(meta);
  }

  /**
   * Hands the whole inbox to the receiver in one batch and returns how many frames it
   * held. With no receiver, nothing moves and it returns 0.
   */
  deliver(): number {
    const handler = this.receiver;
    if (handler === null || this.inbox.length === 0) return 0;
    const batch = this.take();
    this.delivering = true;
    try {
      handler(batch);
    } finally {
      this.delivering = false;
    }
    return batch.length;
  }

  /**
   * Delivers the inbox now, as a TAP's `readNow` reads what the kernel holds: for a driver
   * about to run its timers. Returns 0 without delivering from inside the receiver, whose
   * batch's flags would be overwritten.
   */
  readNow(): number {
    return this.delivering ? 0 : this.deliver();
  }

  /**
   * Returns and clears the inbox, counting the frames as received, and fills `rxFlags` and
   * `rxGsoSize` for them: for a test that plays the peer itself, without a receiver.
   */
  take(): Uint8Array[] {
    const batch = this.inbox;
    const meta = this.inboxMeta;
    this.inbox = [];
    this.inboxMeta = [];
    const trailer = this.hasFcs ? FCS_LEN : 0;
    const st = this.stats;
    const flags = this.rxFlags;
    const gsoSize = this.rxGsoSize;
    for (let i = 0; i < batch.length; i++) {
      st.rx_packets++;
      st.rx_bytes += batch[i]!.length - trailer;
      if (flags === undefined || gsoSize === undefined) continue;
      const m = meta[i]!;
      flags[i] = m & 0xff;
      gsoSize[i] = m >>> 8;
      if ((m & RX_GSO) !== 0) st.rx_gso_frames!++;
      if ((m & RX_CSUM_PARTIAL) !== 0) st.rx_csum_partial!++;
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
    this.txMeta = [];
    this.inbox = [];
    this.inboxMeta = [];
  }
}
