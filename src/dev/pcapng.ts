/**
 * Packet capture in pcapng (draft-ietf-opsawg-pcapng), the format Wireshark saves by
 * default. Classic pcap (`pcap.ts`) records bytes and a time; pcapng can also say, per
 * frame, which way it went and anything else in a comment. tapstack uses the comment for
 * the frame's verdict, so that a capture opened in Wireshark shows next to each frame
 * what the stack did with it: "delivered (udp)", "dropped: IP_CSUM (ipv4)".
 *
 * A file is a sequence of blocks. Every block has the same frame, its total length
 * repeated at the end so that a reader can also walk the file backwards:
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------------------------------------------------------+
 * |                          Block Type                           |
 * +---------------------------------------------------------------+
 * |                      Block Total Length                       |
 * +---------------------------------------------------------------+
 * /                 Block Body (fields, then options)             /
 * +---------------------------------------------------------------+
 * |                      Block Total Length                       |
 * +---------------------------------------------------------------+
 * ```
 *
 * and every option is a TLV padded to 32 bits, the list closed by `opt_endofopt`:
 *
 * ```
 * +-------------------------------+-------------------------------+
 * |         Option Code           |         Option Length         |
 * +-------------------------------+-------------------------------+
 * /    Option Value: Option Length bytes, then zeros to 32 bits   /
 * +---------------------------------------------------------------+
 * ```
 *
 * This writer emits one section: a Section Header Block, one Interface Description Block
 * (Ethernet without FCS, microsecond timestamps), then one Enhanced Packet Block per frame.
 * Numbers are little-endian; readers learn the byte order from the section's magic.
 */

import { openSync } from 'node:fs';
import { CONSUMED } from '../core/drop.js';
import { CaptureFile, LINKTYPE_ETHERNET, PCAP_SNAPLEN, writeAll } from './pcap.js';

/** Block type of the Section Header Block; the same in either byte order, which is the point. */
export const BT_SHB = 0x0a0d0d0a;
/** Block type of the Interface Description Block. */
export const BT_IDB = 0x00000001;
/** Block type of the Enhanced Packet Block. */
export const BT_EPB = 0x00000006;
/** Written in the writer's byte order; a reader that sees 0x4d3c2b1a swaps. */
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** Option codes used here (the draft's §3.5 and the per-block tables). */
export const PcapngOption = {
  /** Ends an option list. */
  opt_endofopt: 0,
  /** UTF-8 text, in any block: the verdict in an EPB, a note about the capture in the SHB. */
  opt_comment: 1,
  /** SHB: the application that wrote the file. */
  shb_userappl: 4,
  /** IDB: the interface's name, e.g. `tap0`. */
  if_name: 2,
  /** IDB: timestamp resolution; one byte, 6 means 10^-6 s. */
  if_tsresol: 9,
  /** EPB: 32 flag bits, of which bits 0–1 are the direction. */
  epb_flags: 2,
} as const;

/** `epb_flags` bits 0–1: which way the frame went, seen from tapstack. */
export const EPB_INBOUND = 1;
/** `epb_flags` bits 0–1: sent by tapstack. */
export const EPB_OUTBOUND = 2;

/**
 * Longest comment kept, in UTF-8 bytes. An option could hold 65535, but a verdict is one
 * short line; the cap keeps a runaway string from bloating the capture and guarantees
 * that everything in a block except the frame itself fits in the write buffer.
 */
export const COMMENT_MAX = 4096;

/** Frames are gathered into this many bytes before one write(2). */
const BUFFER_SIZE = 64 * 1024;
/** EPB fields before the frame: type, length, interface id, ts high, ts low, captured, original. */
const EPB_HEAD = 28;
/** Block type and total length before the body, total length again after it. */
const BLOCK_FRAME = 12;
const OPT_HEAD = 4;

/** Options of the file as a whole, written once by `PcapngWriter.open`. */
export interface PcapngOptions {
  /** `if_name` of the one interface, e.g. the tap's name. Omitted when not given. */
  interfaceName?: string;
  /** `shb_comment`: a note about the whole capture, e.g. where it was taken. */
  comment?: string;
  /** `shb_userappl`; `tapstack` unless given. */
  application?: string;
}

/**
 * Writes a pcapng file, frame by frame, with synchronous buffered writes (as `PcapWriter`
 * does: the per-frame path only copies into a fixed buffer, one write(2) per 64 KiB).
 */
export class PcapngWriter extends CaptureFile {
  /** Where a comment is encoded first: its byte length decides the block's length. */
  private readonly text = Buffer.alloc(COMMENT_MAX);

  private constructor(fd: number, opts: PcapngOptions) {
    super(fd, Buffer.alloc(BUFFER_SIZE));
    this.writeSectionHeader(opts.application ?? 'tapstack', opts.comment);
    this.writeInterface(opts.interfaceName);
  }

  /**
   * Creates (or truncates) the file at `path` and writes the section header and the
   * interface description, so that the file is a valid, empty capture from the start.
   * Throws as `fs.openSync` does.
   */
  static open(path: string, opts: PcapngOptions = {}): PcapngWriter {
    const w = new PcapngWriter(openSync(path, 'w'), opts);
    w.flush();
    return w;
  }

  /**
   * Appends one frame (Ethernet header first, no FCS), stamped `wallMs` milliseconds since
   * the Unix epoch, kept to microseconds. `comment` (e.g. from `verdictComment`) becomes
   * the frame's `opt_comment`, cut at `COMMENT_MAX` bytes on a character boundary;
   * `direction` sets the direction bits of `epb_flags`. Frames longer than the snaplen are
   * cut, with their full length recorded. Does nothing once the writer is closed.
   *
   * ```
   * +---------------------------------------------------------------+
   * |                    Block Type = 0x00000006                    |
   * |                      Block Total Length                       |
   * |                       Interface ID = 0                        |
   * |                  Timestamp (high 32 bits, µs)                 |
   * |                  Timestamp (low 32 bits, µs)                  |
   * |                 Captured Packet Length (≤ snaplen)            |
   * |                    Original Packet Length                     |
   * /          Packet Data, then zeros to a 32-bit boundary         /
   * /   opt_comment, epb_flags, opt_endofopt (each when present)    /
   * |                      Block Total Length                       |
   * +---------------------------------------------------------------+
   * ```
   */
  write(frame: Uint8Array, wallMs: number, comment?: string, direction?: 'in' | 'out'): void {
    if (this.fd === null) return;
    const captured = Math.min(frame.length, PCAP_SNAPLEN);
    const textLen = comment === undefined || comment === '' ? 0 : this.text.write(comment, 0, 'utf8');
    const optionsLen =
      (textLen > 0 ? OPT_HEAD + pad4(textLen) : 0) + (direction !== undefined ? OPT_HEAD + 4 : 0) + OPT_HEAD;
    const total = EPB_HEAD + pad4(captured) + optionsLen + 4;
    if (this.used + total > BUFFER_SIZE) this.flush();

    // 64-bit microseconds since the epoch (about 2^51 today, exact in a double), split in two.
    const us = Math.max(0, Math.round(wallMs * 1000));
    const high = Math.floor(us / 2 ** 32);
    const b = this.buf;
    let at = this.used;
    b.writeUInt32LE(BT_EPB, at);
    b.writeUInt32LE(total, at + 4);
    b.writeUInt32LE(0, at + 8); // the one interface this file describes
    b.writeUInt32LE(high, at + 12);
    b.writeUInt32LE(us - high * 2 ** 32, at + 16);
    b.writeUInt32LE(captured, at + 20);
    b.writeUInt32LE(frame.length, at + 24);
    at += EPB_HEAD;

    const data = frame.subarray(0, captured);
    if (total <= BUFFER_SIZE) {
      b.set(data, at);
      at += captured;
    } else {
      // Larger than the whole buffer (only near the snaplen): the frame goes out as it is,
      // and the rest of the block starts an empty buffer, where it always fits.
      this.used = at;
      this.flush();
      writeAll(this.fd, data);
      at = 0;
    }
    at = this.zeros(at, pad4(captured) - captured);
    if (textLen > 0) at = this.option(at, PcapngOption.opt_comment, this.text.subarray(0, textLen));
    if (direction !== undefined) {
      b.writeUInt16LE(PcapngOption.epb_flags, at);
      b.writeUInt16LE(4, at + 2);
      b.writeUInt32LE(direction === 'in' ? EPB_INBOUND : EPB_OUTBOUND, at + 4);
      at += OPT_HEAD + 4;
    }
    at = this.endOfOptions(at);
    b.writeUInt32LE(total, at);
    this.used = at + 4;
    this.count++;
  }

  /**
   * ```
   * | Block Type = 0x0A0D0D0A | Block Total Length | Byte-Order Magic = 0x1A2B3C4D |
   * | Major = 1 | Minor = 0 | Section Length (64 bits) = -1, "not given"          |
   * | shb_userappl | shb_comment | opt_endofopt | Block Total Length             |
   * ```
   * The section length is -1 because the file grows as frames come; readers need no more.
   */
  private writeSectionHeader(application: string, comment: string | undefined): void {
    const start = this.used;
    const b = this.buf;
    b.writeUInt32LE(BT_SHB, start);
    b.writeUInt32LE(BYTE_ORDER_MAGIC, start + 8);
    b.writeUInt16LE(1, start + 12);
    b.writeUInt16LE(0, start + 14);
    b.writeBigInt64LE(-1n, start + 16);
    let at = start + 24;
    at = this.textOption(at, PcapngOption.shb_userappl, application);
    if (comment !== undefined) at = this.textOption(at, PcapngOption.opt_comment, comment);
    this.closeBlock(start, this.endOfOptions(at));
  }

  /**
   * ```
   * | Block Type = 1 | Block Total Length | LinkType = 1 | Reserved = 0 | SnapLen |
   * | if_name | if_tsresol = 6 | opt_endofopt | Block Total Length               |
   * ```
   * `if_tsresol` 6 is the default already; it is written anyway so that the unit of every
   * timestamp in the file is stated in the file.
   */
  private writeInterface(name: string | undefined): void {
    const start = this.used;
    const b = this.buf;
    b.writeUInt32LE(BT_IDB, start);
    b.writeUInt16LE(LINKTYPE_ETHERNET, start + 8);
    b.writeUInt16LE(0, start + 10);
    b.writeUInt32LE(PCAP_SNAPLEN, start + 12);
    let at = start + 16;
    if (name !== undefined) at = this.textOption(at, PcapngOption.if_name, name);
    at = this.option(at, PcapngOption.if_tsresol, TSRESOL_MICROSECONDS);
    this.closeBlock(start, this.endOfOptions(at));
  }

  /** Writes the total length at both ends of the block that began at `start` and ends at `end`. */
  private closeBlock(start: number, end: number): void {
    const total = end + 4 - start;
    this.buf.writeUInt32LE(total, start + 4);
    this.buf.writeUInt32LE(total, end);
    this.used = end + 4;
  }

  private textOption(at: number, code: number, value: string): number {
    if (value === '') return at;
    const n = this.text.write(value, 0, 'utf8');
    return this.option(at, code, this.text.subarray(0, n));
  }

  private option(at: number, code: number, value: Uint8Array): number {
    this.buf.writeUInt16LE(code, at);
    this.buf.writeUInt16LE(value.length, at + 2);
    this.buf.set(value, at + OPT_HEAD);
    return this.zeros(at + OPT_HEAD + value.length, pad4(value.length) - value.length);
  }

  private endOfOptions(at: number): number {
    this.buf.writeUInt32LE(0, at); // code 0, length 0
    return at + OPT_HEAD;
  }

  /** The buffer is reused, so padding is written, not assumed. */
  private zeros(at: number, n: number): number {
    this.buf.fill(0, at, at + n);
    return at + n;
  }
}

/** `if_tsresol`: bit 7 clear (a power of ten), exponent 6. */
const TSRESOL_MICROSECONDS = Uint8Array.of(6);

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * The comment a captured frame carries for its verdict (what `Stack.input` returned):
 * `CONSUMED` reads "delivered", a drop reason reads "dropped: <REASON>". `detail`, when
 * given, follows in parentheses: the stage that dropped the frame, or the socket it went to.
 *
 * ```
 * verdictComment('CONSUMED')                    → 'delivered'
 * verdictComment('CONSUMED', 'udp 0.0.0.0:7')   → 'delivered (udp 0.0.0.0:7)'
 * verdictComment('NO_SOCKET', 'udp')            → 'dropped: NO_SOCKET (udp)'
 * ```
 */
export function verdictComment(verdict: string, detail?: string): string {
  const what = verdict === CONSUMED ? 'delivered' : `dropped: ${verdict}`;
  return detail === undefined || detail === '' ? what : `${what} (${detail})`;
}
