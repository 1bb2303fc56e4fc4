/**
 * Packet capture in the classic libpcap file format, readable by tcpdump, tshark and
 * Wireshark, and a `Link` wrapper that records everything a link sends and receives.
 *
 * ```
 * file header (24 bytes, little-endian here; readers detect the order from the magic)
 * +------------+-------+-------+----------+----------+-----------+------------+
 * | a1b2c3d4   | 2     | 4     | thiszone | sigfigs  | snaplen   | network    |
 * | magic u32  | major | minor | i32 = 0  | u32 = 0  | u32       | u32 = 1    |
 * +------------+-------+-------+----------+----------+-----------+------------+
 * then per frame (16 bytes + incl_len bytes of the frame)
 * +----------+----------+----------+----------+----------- ... ---+
 * | ts_sec   | ts_usec  | incl_len | orig_len | frame bytes       |
 * +----------+----------+----------+----------+----------- ... ---+
 * ```
 *
 * Magic 0xa1b2c3d4 means microsecond timestamps; network 1 is LINKTYPE_ETHERNET (frames
 * without FCS).
 */

import { closeSync, openSync, writeSync } from 'node:fs';
import type { Clock } from '../core/clock.js';
import type { FrameHandler, Link, LinkStats } from './device.js';
import { canSendWithFcs, FCS_LEN } from './fcs.js';

/** Classic pcap magic: this byte order, microsecond timestamps. */
export const PCAP_MAGIC = 0xa1b2c3d4;
/** LINKTYPE_ETHERNET: IEEE 802.3 frames starting at the destination MAC. */
export const LINKTYPE_ETHERNET = 1;
/** Bytes kept of each frame, as tcpdump's default. */
export const PCAP_SNAPLEN = 262_144;

const FILE_HEADER_LEN = 24;
const RECORD_HEADER_LEN = 16;
/** Frames are gathered into this many bytes before one write(2). */
const BUFFER_SIZE = 64 * 1024;

/** Writes a pcap file, frame by frame, with synchronous buffered writes. */
/**
 * A capture file written through one reused buffer: what pcap and pcapng writers share.
 * Subclasses fill `buf[used…]` and count `count`; this flushes and closes.
 */
export abstract class CaptureFile {
  protected fd: number | null;
  protected used = 0;
  protected count = 0;

  protected constructor(
    fd: number,
    protected readonly buf: Buffer,
  ) {
    this.fd = fd;
  }

  /** Frames written so far. */
  get frames(): number {
    return this.count;
  }

  /** Writes buffered frames to the file, so that a reader sees them now. */
  flush(): void {
    if (this.fd === null || this.used === 0) return;
    writeAll(this.fd, this.buf.subarray(0, this.used));
    this.used = 0;
  }

  /** Flushes and closes the file. Idempotent. */
  close(): void {
    if (this.fd === null) return;
    this.flush();
    closeSync(this.fd);
    this.fd = null;
  }
}

export class PcapWriter extends CaptureFile {
  private constructor(fd: number) {
    super(fd, Buffer.allocUnsafe(BUFFER_SIZE));
    const h = this.buf;
    h.writeUInt32LE(PCAP_MAGIC, 0);
    h.writeUInt16LE(2, 4); // version 2.4, the only one there is
    h.writeUInt16LE(4, 6);
    h.writeInt32LE(0, 8); // thiszone: timestamps are UTC
    h.writeUInt32LE(0, 12); // sigfigs
    h.writeUInt32LE(PCAP_SNAPLEN, 16);
    h.writeUInt32LE(LINKTYPE_ETHERNET, 20);
    this.used = FILE_HEADER_LEN;
  }

  /** Creates (or truncates) the file at `path` and writes the pcap header. Throws as `fs.openSync` does. */
  static open(path: string): PcapWriter {
    const w = new PcapWriter(openSync(path, 'w'));
    w.flush(); // a file with a header is a valid empty capture, even if nothing follows
    return w;
  }

  /**
   * Appends one frame (Ethernet header first, no FCS), stamped `wallMs` milliseconds
   * since the Unix epoch, kept to microseconds. Frames longer than the snaplen are cut,
   * with their full length recorded. Does nothing once the writer is closed.
   */
  write(frame: Uint8Array, wallMs: number): void {
    if (this.fd === null) return;
    const incl = Math.min(frame.length, PCAP_SNAPLEN);
    if (this.used + RECORD_HEADER_LEN + incl > BUFFER_SIZE) this.flush();

    const us = Math.max(0, Math.round(wallMs * 1000));
    const sec = Math.floor(us / 1e6);
    const h = this.buf;
    let at = this.used;
    h.writeUInt32LE(sec >>> 0, at);
    h.writeUInt32LE(us - sec * 1e6, at + 4);
    h.writeUInt32LE(incl, at + 8);
    h.writeUInt32LE(frame.length, at + 12);
    at += RECORD_HEADER_LEN;

    if (at + incl <= BUFFER_SIZE) {
      h.set(frame.subarray(0, incl), at);
      this.used = at + incl;
    } else {
      // Larger than the whole buffer: write the record header and the frame as they are.
      this.used = at;
      this.flush();
      writeAll(this.fd, frame.subarray(0, incl));
    }
    this.count++;
  }
}

export function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}

/**
 * A `Link` that records every frame `link` sends and receives to `writer`, stamped with
 * `clock.wall()`, and otherwise behaves exactly as `link`. Frames are recorded without
 * their FCS (LINKTYPE_ETHERNET), damaged ones included: a frame that the ethernet stage
 * drops as `X_FCS` still shows up, which is what one looks for in a capture. Closing the
 * returned link closes `link`, not the writer, which belongs to the caller.
 */
export function capture(link: Link, writer: PcapWriter, clock: Clock): Link {
  return new CaptureLink(link, writer, clock);
}

class CaptureLink implements Link {
  readonly name: string;
  readonly mtu: number;
  readonly hasFcs: boolean;
  readonly stats: LinkStats;
  /** Present when the inner link has it, so a fault injector can still corrupt through a capture. */
  readonly sendWithFcs?: (frameWithFcs: Uint8Array) => void;
  /** The inner link's offloads and receive metadata, passed through (a super-frame is recorded as it is). */
  readonly offload?: boolean;
  readonly maxFrame?: number;
  readonly sendOffload?: Link['sendOffload'];
  readonly readNow?: () => number;
  readonly useSlotViews?: () => void;

  get rxSizes(): Uint32Array | undefined {
    return this.inner.rxSizes;
  }

  get rxFlags(): Uint8Array | undefined {
    return this.inner.rxFlags;
  }

  get rxGsoSize(): Uint16Array | undefined {
    return this.inner.rxGsoSize;
  }

  constructor(
    private readonly inner: Link,
    private readonly writer: PcapWriter,
    private readonly clock: Clock,
  ) {
    this.name = inner.name;
    this.mtu = inner.mtu;
    this.hasFcs = inner.hasFcs;
    this.stats = inner.stats;
    if (inner.offload !== undefined) this.offload = inner.offload;
    if (inner.maxFrame !== undefined) this.maxFrame = inner.maxFrame;
    const sendOffload = inner.sendOffload;
    if (sendOffload !== undefined) {
      this.sendOffload = (frame, csumStart, csumOffset, gsoType, gsoSize, hdrLen) => {
        this.record(frame);
        sendOffload.call(inner, frame, csumStart, csumOffset, gsoType, gsoSize, hdrLen);
      };
    }
    if (inner.readNow !== undefined) this.readNow = () => inner.readNow!();
    if (inner.useSlotViews !== undefined) this.useSlotViews = () => inner.useSlotViews!();
    if (canSendWithFcs(inner)) {
      this.sendWithFcs = (frameWithFcs) => {
        this.record(frameWithFcs.subarray(0, Math.max(0, frameWithFcs.length - FCS_LEN)));
        inner.sendWithFcs(frameWithFcs);
      };
    }
  }

  setReceiver(handler: FrameHandler | null): void {
    if (handler === null) {
      this.inner.setReceiver(null);
      return;
    }
    const trailer = this.inner.hasFcs ? FCS_LEN : 0;
    this.inner.setReceiver((frames) => {
      const sizes = this.inner.rxSizes;
      for (let i = 0; i < frames.length; i++) {
        const f = frames[i]!;
        const len = sizes === undefined ? f.length : sizes[i]!;
        this.record(f.subarray(0, Math.max(0, len - trailer)));
      }
      handler(frames);
    });
  }

  send(frame: Uint8Array): void {
    // Recorded before the inner link owns it: nothing may touch the bytes after send().
    this.record(frame);
    this.inner.send(frame);
  }

  flush(): void {
    this.inner.flush();
  }

  close(): void {
    this.inner.close();
  }

  private record(frame: Uint8Array): void {
    this.writer.write(frame, this.clock.wall());
  }
}
