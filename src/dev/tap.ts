/**
 * A Linux TAP device as a {@link Link}: the kernel on one side of a virtual Ethernet
 * cable, tapstack on the other. The native addon (native/tap.cc) opens the device and
 * moves frames in batches through buffers shared with this file; everything else —
 * slots, counters, when to flush — is decided here.
 *
 * ```
 *  receive:  kernel ──read ×≤batch──► rx slots ──ONE call──► onFrames ──► receiver(frames)
 *                     (one wake-up)   [0][1]…[batch-1]                     views, valid during the call
 *
 *  transmit: send(frame) ──copy──► tx slots ──flush(): ONE call, write ×n──► kernel
 *                                  [0][1]…      (also when the slots are full, and by
 *                                                setImmediate after a stray send)
 * ```
 *
 * A slot holds one frame: the MTU, an Ethernet header, an 802.1Q tag and one spare byte.
 * The spare byte is how a frame that was too big is caught: the kernel cuts such a
 * frame to the size of the read, so a read that fills its slot exactly may have lost
 * its tail, and is dropped (rx_length_errors) rather than passed on cut short.
 *
 * With `offload` the device speaks the virtio-net header (vnet.ts): each slot holds
 * `[12-byte header][frame]`, sized for a 64 KiB super-frame, and the kernel hands us TCP
 * super-frames and partial checksums and takes the same from us:
 *
 * ```
 *  slot i:  [flags|gso_type|hdr_len|gso_size|csum_start|csum_offset|num_buffers][ Ethernet frame … ]
 *            └─ receive: parsed into rxFlags[k], rxGsoSize[k]        └─ frames[k] (a view)
 *            └─ transmit: zero for send(), NEEDS_CSUM (+ GSO) for sendOffload()
 * ```
 *
 * `readNow()` reads what the kernel has queued at once, outside the loop's poll, into the same
 * slots and through the same path to the receiver.
 */

import { createRequire } from 'node:module';
import { getSystemErrorName } from 'node:util';
import type { SystemError } from '../core/errors.js';
import type { FrameHandler, Link, LinkStats } from './device.js';
import { newLinkStats, RX_CSUM_PARTIAL, RX_CSUM_VALID, RX_GSO } from './device.js';
import {
  GSO_MAX_SIZE, VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VNET_HDR_LEN,
  completeChecksum, emitGsoSegment, gsoSegmentCount, parseVirtioNetHdr, writeVirtioNetHdr, type VirtioNetHdr,
} from './vnet.js';

/** Options of {@link TapLink.open}. */
export interface TapLinkOptions {
  /** Interface name, at most 15 bytes. Default `tap0`. */
  name?: string;
  /**
   * A network namespace from `ip netns add` (a file in /var/run/netns). The device is
   * created in, or attached from, that namespace; the process itself stays where it is.
   */
  netns?: string;
  /** Largest IP packet the link carries; sizes the frame slots. Default 1500. */
  mtu?: number;
  /** Frames read per wake-up, and frames queued before a send flushes by itself. Default 64. */
  batch?: number;
  /**
   * Negotiate virtio-net offloads (`IFF_VNET_HDR`, `TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6`): the
   * kernel then sends TCP super-frames of up to 64 KiB with partial checksums, and segments and
   * checksums what {@link TapLink.sendOffload} hands it. If the kernel refuses, the link opens
   * without them: `offload` is then false and `offloadRefused` says why. Each slot then holds
   * 64 KiB, so a link takes `2 × batch × 64 KiB` of memory. Default false.
   */
  offload?: boolean;
  /**
   * Called when the device fails while running (it was deleted, or polling broke).
   * Delivery has stopped by then. Default: `process.emitWarning(err)`.
   */
  onError?: (err: TapError) => void;
}

/**
 * Why a TAP could not be opened, or stopped working. Shaped like Node's SystemError
 * (`code` such as `EPERM`, `ENOENT`, `EBUSY`; negative `errno`; `syscall`), with a
 * message that says what to do about it.
 */
export class TapError extends Error implements SystemError {
  override readonly name = 'TapError';

  constructor(
    message: string,
    /** errno name, e.g. `EPERM`. */
    readonly code: string,
    /** Negative errno, as in Node's own errors. */
    readonly errno: number,
    /** The step that failed: `open`, `ioctl`, `setns`, `read`, `epoll_ctl`. */
    readonly syscall: string,
    /** The interface concerned. */
    readonly device: string,
  ) {
    super(message);
  }
}

/** The addon's device object (native/tap.cc, class Tap). */
interface NativeTap {
  /** Name the kernel gave the device (equal to the requested one unless it had a `%d`). */
  readonly name: string;
  /** `slots × slotSize` bytes the addon reads frames into. */
  readonly rxBuffer: ArrayBuffer;
  /** Length of the frame in each rx slot, for the slots of the current batch. */
  readonly rxLengths: Uint32Array;
  /** `slots × slotSize` bytes the addon writes frames from. */
  readonly txBuffer: ArrayBuffer;
  /** Length of the frame in each tx slot. */
  readonly txLengths: Uint32Array;
  /** After `write()`: frames written, bytes written, dropped (EAGAIN/ENOBUFS), errors. */
  readonly txStatus: Uint32Array;
  /** Bytes of virtio-net header before each frame in both buffers: 12 with offloads, else 0. */
  readonly vnetHdrLen: number;
  /** Why offloads were asked for and not negotiated; `undefined` otherwise. */
  readonly offloadRefused: string | undefined;
  /** Starts polling; `onFrames(count, errno)` runs once per wake-up. errno ≠ 0: polling stopped. */
  start(onFrames: (count: number, errno: number) => void): void;
  stop(): void;
  /** Writes tx slots `0 … count-1`; returns how many the kernel took. */
  write(count: number): number;
  /**
   * Reads what is queued now into rx slots `0 …`; returns the count, or -errno when the device
   * failed (polling has stopped). 0 while `onFrames` runs.
   */
  readNow(): number;
  close(): void;
}

interface NativeAddon {
  Tap: new (name: string, netns: string | undefined, slotSize: number, slots: number, offload?: boolean) => NativeTap;
}

/** Where `npm install` builds the addon. Both src/dev/ and dist/dev/ sit two levels below the root. */
const ADDON_PATH = '../../native/build/Release/tap.node';

let addon: NativeAddon | null = null;

/** Loads the addon on first use, so that importing tapstack works where no TAP is ever opened. */
function loadAddon(): NativeAddon {
  if (addon !== null) return addon;
  const require = createRequire(import.meta.url);
  try {
    addon = require(ADDON_PATH) as NativeAddon;
  } catch (cause) {
    const err = new Error(
      `the TAP addon is not built (${ADDON_PATH} from ${import.meta.url}): ` +
        'run `npm install`, or `npx node-gyp rebuild --directory native` (Linux only)',
      { cause },
    );
    throw Object.assign(err, { code: 'ERR_TAP_ADDON' });
  }
  return addon;
}

/** An Ethernet header plus one 802.1Q tag: what a frame carries beyond the MTU. */
const MAX_L2_OVERHEAD = 14 + 4;
/** Slots are rounded up to a cache line so that each frame starts aligned. */
const SLOT_ALIGN = 64;

/** The checksum field's offset in the TCP header, the only one TSO knows. */
const TCP_CSUM_OFFSET = 16;

/** A TAP device, opened with {@link TapLink.open}. TAP frames carry no FCS. */
export class TapLink implements Link {
  readonly hasFcs = false;
  readonly stats: Required<LinkStats> = {
    ...newLinkStats(), rx_gso_frames: 0, rx_csum_partial: 0, rx_csum_unnecessary: 0, tx_gso_frames: 0, tx_csum_partial: 0,
  };
  /** Offloads are on: frames carry the virtio-net header, and super-frames and partial checksums flow. */
  readonly offload: boolean;
  /** Why `offload` was asked for and is off (the kernel refused a step); `undefined` otherwise. */
  readonly offloadRefused: string | undefined;
  /** Largest frame accepted: 64 KiB + 18 from `sendOffload` with TSO, else MTU + 18 (Ethernet + VLAN tag). */
  readonly maxFrame: number;
  /** `RX_*` bits per frame of the batch being delivered (see {@link Link.rxFlags}). */
  readonly rxFlags: Uint8Array;
  /** `gso_size` per frame of the batch being delivered that has `RX_GSO`, else 0. */
  readonly rxGsoSize: Uint16Array;

  private readonly rxBytes: Uint8Array;
  private readonly rxLengths: Uint32Array;
  private readonly txBytes: Uint8Array;
  /** The tx buffer as words: slots are 64-byte aligned, so zeroing a header is three stores. */
  private readonly txWords: Uint32Array;
  private readonly txLengths: Uint32Array;
  private readonly txStatus: Uint32Array;
  /** Bytes of virtio-net header in front of each frame in a slot (12 or 0). */
  private readonly hdrLen: number;
  /** The rx slot each delivered frame came from, so its header can be read back. */
  private readonly rxSlot: Uint16Array;
  /** The batch handed to the receiver: one array, emptied and refilled on every wake-up. */
  private readonly rxFrames: Uint8Array[] = [];
  /** One view per rx slot, made once: a frame is the first `sizes[k]` bytes of its slot's view. */
  private readonly slotViews: Uint8Array[] = [];
  private readonly sizes: Uint32Array;
  /** The receiver reads `rxSizes` (see useSlotViews): hand it slot views, not a view per frame. */
  private slotViewsOn = false;
  /** Frames waiting in the tx slots. */
  private txCount = 0;
  private flushTimer: NodeJS.Immediate | null = null;
  private receiver: FrameHandler | null = null;
  private polling = false;
  /** A batch is being handed to the receiver: its frames live in the rx slots. */
  private delivering = false;
  private closed = false;

  private constructor(
    private readonly dev: NativeTap,
    /** Interface name, as the kernel knows it. */
    readonly name: string,
    /** The namespace the device lives in, or `undefined` for the process's own. */
    readonly netns: string | undefined,
    /** Largest IP packet the link carries. */
    readonly mtu: number,
    /** Bytes per slot; a received frame that fills its slot may have been cut, and is dropped. */
    private readonly slotSize: number,
    /** Slots in each direction: frames per read batch and per flush. */
    readonly batch: number,
    private readonly onError: (err: TapError) => void,
  ) {
    this.rxBytes = new Uint8Array(dev.rxBuffer);
    this.rxLengths = dev.rxLengths;
    this.txBytes = new Uint8Array(dev.txBuffer);
    this.txWords = new Uint32Array(dev.txBuffer);
    this.txLengths = dev.txLengths;
    this.txStatus = dev.txStatus;
    this.hdrLen = dev.vnetHdrLen;
    this.offload = dev.vnetHdrLen !== 0;
    this.offloadRefused = dev.offloadRefused;
    this.maxFrame = (this.offload ? GSO_MAX_SIZE : mtu) + MAX_L2_OVERHEAD;
    this.rxFlags = new Uint8Array(batch);
    this.rxGsoSize = new Uint16Array(batch);
    this.rxSlot = new Uint16Array(batch);
    this.sizes = new Uint32Array(batch);
    for (let k = 0; k < batch; k++) this.slotViews.push(this.rxBytes.subarray(k * slotSize + this.hdrLen, (k + 1) * slotSize));
  }

  /** Frame sizes for a receiver that asked for slot views (see {@link Link.useSlotViews}). */
  get rxSizes(): Uint32Array | undefined {
    return this.slotViewsOn ? this.sizes : undefined;
  }

  useSlotViews(): void {
    this.slotViewsOn = true;
  }

  /**
   * Opens (creating it if needed) the TAP `name`, in `netns` if given. Creating a device
   * needs root or CAP_NET_ADMIN; attaching to a persistent one made with
   * `ip tuntap add dev NAME mode tap user $USER` does not. A device this call created is
   * not persistent: it disappears on {@link TapLink.close}.
   *
   * Throws a {@link TapError} (`EPERM`, `ENOENT`, `EBUSY`, `EINVAL`…) whose message says
   * what to do, or a RangeError for a bad `mtu` or `batch`.
   */
  static open(opts: TapLinkOptions = {}): TapLink {
    const name = opts.name ?? 'tap0';
    const mtu = opts.mtu ?? 1500;
    const batch = opts.batch ?? 64;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
      throw new RangeError(`mtu must be an integer from 68 to 65535, got ${mtu}`);
    }
    if (!Number.isInteger(batch) || batch < 1 || batch > 4096) {
      throw new RangeError(`batch must be an integer from 1 to 4096, got ${batch}`);
    }
    const offload = opts.offload ?? false;
    const slotFor = (hdr: number, frame: number): number => Math.ceil((hdr + frame + 1) / SLOT_ALIGN) * SLOT_ALIGN;
    const slotSize = offload
      ? slotFor(VNET_HDR_LEN, Math.max(GSO_MAX_SIZE, mtu) + MAX_L2_OVERHEAD)
      : slotFor(0, mtu + MAX_L2_OVERHEAD);
    const { Tap } = loadAddon();
    let dev: NativeTap;
    try {
      dev = new Tap(name, opts.netns, slotSize, batch, offload);
    } catch (e) {
      throw toTapError(e, name);
    }
    const onError = opts.onError ?? ((err: TapError) => process.emitWarning(err));
    return new TapLink(dev, dev.name, opts.netns, mtu, slotSize, batch, onError);
  }

  /**
   * Sets where received batches go. The first handler starts watching the device (and
   * keeps the process alive, like a listening socket); `null` stops watching, and
   * frames then wait in the kernel's queue, which drops beyond its `txqueuelen`.
   */
  setReceiver(handler: FrameHandler | null): void {
    if (this.closed) return;
    this.receiver = handler;
    if (handler !== null && !this.polling) {
      this.dev.start(this.onFrames);
      this.polling = true;
    } else if (handler === null && this.polling) {
      this.dev.stop();
      this.polling = false;
    }
  }

  /**
   * Copies `frame` into the next tx slot. When the slots are full they are flushed at
   * once; otherwise a flush is scheduled for the end of this turn of the loop, in case
   * the caller does not flush itself. A frame longer than the MTU plus an Ethernet
   * header and a VLAN tag, an empty one, or one sent after close is dropped (tx_dropped).
   */
  send(frame: Uint8Array): void {
    const len = frame.length;
    if (this.closed || len === 0 || len > this.mtu + MAX_L2_OVERHEAD) {
      this.stats.tx_dropped++;
      return;
    }
    const at = this.txCount * this.slotSize;
    const hdr = this.hdrLen;
    if (hdr !== 0) {
      // A zero header: no offload asked; the frame carries its full checksums.
      const w = at >>> 2;
      this.txWords[w] = 0;
      this.txWords[w + 1] = 0;
      this.txWords[w + 2] = 0;
    }
    this.txBytes.set(frame, at + hdr);
    this.queued(hdr + len);
  }

  /**
   * Queues `frame` for the kernel to finish: it completes the transport checksum (the field at
   * `csumStart + csumOffset` holds the folded pseudo-header sum over the whole transport length,
   * not complemented) and, for `gsoType` TCPV4 or TCPV6 (optionally with the ECN bit), cuts the
   * frame into segments of `gsoSize` payload bytes behind copies of its first `hdrLen` bytes
   * (Ethernet + IP + TCP headers). See {@link Link.sendOffload} for what the frame must hold.
   *
   * Without offloads (not negotiated) the link does the kernel's part itself: it completes the
   * checksum, and cuts a super-frame into segments (`emitGsoSegment`), each in a slot of its own;
   * a segment that would exceed the MTU is dropped (tx_dropped). That costs a copy a stack
   * could save by building MSS-sized segments when `offload` is false.
   * Inconsistent arguments (the checksum field beyond the frame, an unknown `gsoType`, a zero
   * `gsoSize` or a `hdrLen` beyond the frame with GSO, `csumOffset` not TCP's with TSO) are
   * counted in tx_errors, as the kernel would refuse them (EINVAL).
   */
  sendOffload(
    frame: Uint8Array, csumStart: number, csumOffset: number, gsoType: number, gsoSize: number, hdrLen: number,
  ): void {
    const len = frame.length;
    const gso = gsoType & ~VIRTIO_NET_HDR_GSO_ECN;
    if (this.closed || len === 0 || len > (gso === VIRTIO_NET_HDR_GSO_NONE ? this.mtu : GSO_MAX_SIZE) + MAX_L2_OVERHEAD) {
      this.stats.tx_dropped++;
      return;
    }
    if (
      csumStart + csumOffset + 2 > len ||
      (gso !== VIRTIO_NET_HDR_GSO_NONE &&
        ((gso !== VIRTIO_NET_HDR_GSO_TCPV4 && gso !== VIRTIO_NET_HDR_GSO_TCPV6) ||
          gsoSize === 0 || hdrLen > len || csumOffset !== TCP_CSUM_OFFSET)) ||
      (gso === VIRTIO_NET_HDR_GSO_NONE && gsoType !== gso)
    ) {
      this.stats.tx_errors++;
      return;
    }
    const hdr = this.hdrLen;
    if (hdr === 0 && gso !== VIRTIO_NET_HDR_GSO_NONE) {
      this.segment(frame, csumStart, gsoType, gsoSize);
      return;
    }
    const at = this.txCount * this.slotSize;
    this.txBytes.set(frame, at + hdr);
    if (hdr === 0) {
      completeChecksum(this.txBytes.subarray(at, at + len), csumStart, csumOffset);
    } else {
      writeVirtioNetHdr(this.txBytes, at, VIRTIO_NET_HDR_F_NEEDS_CSUM, gsoType,
        gso === VIRTIO_NET_HDR_GSO_NONE ? 0 : hdrLen, gso === VIRTIO_NET_HDR_GSO_NONE ? 0 : gsoSize, csumStart, csumOffset);
      this.stats.tx_csum_partial++;
      if (gso !== VIRTIO_NET_HDR_GSO_NONE) this.stats.tx_gso_frames++;
    }
    this.queued(hdr + len);
  }

  /** TSO in software, for a device without it: each segment straight into a tx slot. */
  private segment(frame: Uint8Array, csumStart: number, gsoType: number, gsoSize: number): void {
    const len = frame.length;
    const hdrs = csumStart + (frame[csumStart + 12]! >>> 4) * 4;
    if (hdrs > len || hdrs + gsoSize > this.mtu + MAX_L2_OVERHEAD) {
      this.stats.tx_dropped++;
      return;
    }
    const n = gsoSegmentCount(frame, len, csumStart, gsoSize);
    for (let k = 0; k < n; k++) {
      const at = this.txCount * this.slotSize;
      this.queued(emitGsoSegment(frame, len, csumStart, gsoType, gsoSize, k, this.txBytes, at));
    }
  }

  /** Takes the slot just filled with `bytes` (header included) and flushes if the slots are full. */
  private queued(bytes: number): void {
    this.txLengths[this.txCount] = bytes;
    this.txCount++;
    if (this.txCount === this.batch) this.flush();
    else this.flushTimer ??= setImmediate(this.flushLater);
  }

  /**
   * Reads the frames already queued in the kernel and delivers them to the receiver now, as one
   * batch, instead of at the loop's next poll; returns how many were delivered. A driver calls it
   * before acting on time, so that (say) an ACK already waiting is seen before a retransmission
   * timer fires. Returns 0 without reading inside the receiver (its batch still occupies the
   * slots), when no receiver is set, or after close. A receiver that throws throws out of this
   * call (from a wake-up, the same error would go to 'uncaughtException'); a failed device is
   * reported through `onError`, as from a wake-up.
   */
  readNow(): number {
    if (this.closed || !this.polling || this.delivering) return 0;
    const n = this.dev.readNow();
    if (n === 0) return 0;
    const before = this.stats.rx_packets;
    if (n < 0) this.onFrames(0, -n);
    else this.onFrames(n, 0);
    return this.stats.rx_packets - before;
  }

  /**
   * The full virtio-net header of frame `i` of the batch being delivered, into `out` (for a
   * relay, or to complete a partial checksum: csum_start, csum_offset). Valid during the
   * receiver's call only. Returns false when the link has no offloads or `i` is not in the batch.
   */
  rxHeader(i: number, out: VirtioNetHdr): boolean {
    if (this.hdrLen === 0 || !this.delivering || i < 0 || i >= this.rxFrames.length) return false;
    const at = this.rxSlot[i]! * this.slotSize;
    parseVirtioNetHdr(this.rxBytes, at, this.rxLengths[this.rxSlot[i]!]!, out);
    return true;
  }

  /**
   * Writes every queued frame in one native call. Frames the kernel has no room for
   * count in tx_dropped, frames it refuses (e.g. EIO while the device is down) in
   * tx_errors; neither throws.
   */
  flush(): void {
    const count = this.txCount;
    if (count === 0) return;
    this.txCount = 0;
    this.dev.write(count);
    const st = this.txStatus;
    this.stats.tx_packets += st[0] ?? 0;
    this.stats.tx_bytes += st[1] ?? 0;
    this.stats.tx_dropped += st[2] ?? 0;
    this.stats.tx_errors += st[3] ?? 0;
  }

  /**
   * Stops delivery, drops unsent frames (tx_dropped) and releases the device: a TAP this
   * link created disappears from the system. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.receiver = null;
    this.polling = false;
    if (this.flushTimer !== null) clearImmediate(this.flushTimer);
    this.flushTimer = null;
    this.stats.tx_dropped += this.txCount;
    this.txCount = 0;
    this.dev.close();
  }

  private readonly flushLater = (): void => {
    this.flushTimer = null;
    this.flush();
  };

  /** One wake-up's worth of frames, `count` slots from slot 0; `errno` ≠ 0 means polling stopped. */
  private readonly onFrames = (count: number, errno: number): void => {
    const frames = this.rxFrames;
    frames.length = 0;
    const slot = this.slotSize;
    const hdr = this.hdrLen;
    const b = this.rxBytes;
    const st = this.stats;
    for (let i = 0; i < count; i++) {
      const len = this.rxLengths[i] ?? 0;
      if (len >= slot || len < hdr) {
        // Filled the slot: the kernel may have cut it (see the file comment).
        st.rx_errors++;
        st.rx_length_errors++;
        continue;
      }
      const at = i * slot;
      if (hdr !== 0) {
        const k = frames.length;
        const flags = b[at]!;
        let rx = 0;
        if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0) {
          rx = RX_CSUM_VALID | RX_CSUM_PARTIAL;
          st.rx_csum_partial++;
        } else if ((flags & VIRTIO_NET_HDR_F_DATA_VALID) !== 0) {
          rx = RX_CSUM_VALID;
          st.rx_csum_unnecessary++;
        }
        if (b[at + 1] !== VIRTIO_NET_HDR_GSO_NONE) {
          rx |= RX_GSO;
          st.rx_gso_frames++;
          this.rxGsoSize[k] = b[at + 4]! | (b[at + 5]! << 8);
        } else {
          this.rxGsoSize[k] = 0;
        }
        this.rxFlags[k] = rx;
        this.rxSlot[k] = i;
      }
      st.rx_packets++;
      st.rx_bytes += len - hdr;
      if (this.slotViewsOn) {
        this.sizes[frames.length] = len - hdr;
        frames.push(this.slotViews[i]!);
      } else {
        frames.push(b.subarray(at + hdr, at + len));
      }
    }
    const handler = this.receiver;
    this.delivering = true;
    try {
      // A throwing handler reaches 'uncaughtException' (the addon passes it on), and
      // delivery goes on with the next batch, as with a throwing 'data' listener.
      if (frames.length > 0 && handler !== null) handler(frames);
    } finally {
      this.delivering = false;
      frames.length = 0;
      if (errno !== 0) this.fail(errno);
    }
  };

  private fail(errno: number): void {
    this.polling = false;
    this.stats.rx_errors++;
    const code = getSystemErrorName(-errno);
    const err = new TapError(
      `${this.name}: reading the device failed, delivery stopped (${code}); ` +
        'was the device deleted? close this link and open it again',
      code,
      -errno,
      'read',
      this.name,
    );
    this.onError(err);
  }
}

/** Turns the addon's plain Error (with code/errno/syscall) into a TapError. */
function toTapError(e: unknown, device: string): Error {
  if (!(e instanceof Error)) return new Error(String(e));
  const { code, errno, syscall } = e as Partial<SystemError>;
  if (typeof code !== 'string' || typeof errno !== 'number') return e;
  return new TapError(e.message, code, errno, syscall ?? 'open', device);
}
