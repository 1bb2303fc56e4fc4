/**
 * The TCP header (RFC 9293 §3.1) and its options (RFC 9293 §3.2, RFC 7323, RFC 2018).
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          Source Port          |       Destination Port        |  0
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                        Sequence Number                        |  4
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Acknowledgment Number                      |  8
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Data |       |C|E|U|A|P|R|S|F|                               |
 * | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             | 12
 * |       |       |R|E|G|K|H|T|N|N|                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           Checksum            |         Urgent Pointer        | 16
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           Options (data offset × 4 − 20 bytes, at most 40)    | 20
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * The data offset counts 32-bit words; {@link TcpRepr} holds it in bytes. The four bits after
 * it (three reserved, and the AE/NS bit of ECN experiments) are not kept: a parse ignores them
 * and an emit writes zeros. The checksum covers a pseudo-header of the IP layer (addresses,
 * protocol, segment length), the header and the payload; unlike UDP, TCP has no "no checksum"
 * value, so a computed 0 is sent as 0.
 *
 * Options are End of Option List (kind 0) and No-Operation (kind 1), one byte each, and
 * kind-length-value options whose length counts the kind and length bytes:
 *
 * ```text
 *  kind  length  meaning                                        sent on       RFC
 *   2     4      MSS: largest segment the sender can receive    SYN only      9293 §3.7.1
 *   3     3      window scale: shift count (at most 14)         SYN only      7323 §2
 *   4     2      SACK permitted                                 SYN only      2018 §2
 *   5     2+8n   SACK: n blocks of (left edge, right edge)      any but SYN   2018 §3
 *   8     10     timestamps: TSval, TSecr                       any           7323 §3
 * ```
 *
 * The `*WithPseudo` forms take the pseudo-header sum directly, so IPv6 can reuse them.
 */
import { DropReason } from '../core/drop.js';
import type { Ipv4Addr } from './addr.js';
import { setU16, setU32, u16, u32 } from './bytes.js';
import { checksum, fold, pseudoHeaderV4 } from './checksum.js';
import { IPPROTO_TCP } from './ipv4.js';

/** Length of a TCP header without options. */
export const TCP_HLEN = 20;
/** Longest options part: the data offset is 4 bits, so at most 60 header bytes. */
export const TCP_MAX_OPTIONS_LEN = 40;

/** Flag: no more data from the sender. */
export const TCP_FIN = 0x01;
/** Flag: synchronize sequence numbers. */
export const TCP_SYN = 0x02;
/** Flag: reset the connection. */
export const TCP_RST = 0x04;
/** Flag: push function. */
export const TCP_PSH = 0x08;
/** Flag: the acknowledgment number is significant. */
export const TCP_ACK = 0x10;
/** Flag: the urgent pointer is significant. */
export const TCP_URG = 0x20;
/** Flag: ECN echo (RFC 3168). */
export const TCP_ECE = 0x40;
/** Flag: congestion window reduced (RFC 3168). */
export const TCP_CWR = 0x80;

/** Option kind: end of option list. */
export const TCPOPT_EOL = 0;
/** Option kind: no operation, used as padding to align the next option. */
export const TCPOPT_NOP = 1;
/** Option kind: maximum segment size. */
export const TCPOPT_MSS = 2;
/** Option kind: window scale. */
export const TCPOPT_WINDOW = 3;
/** Option kind: SACK permitted. */
export const TCPOPT_SACK_PERM = 4;
/** Option kind: SACK blocks. */
export const TCPOPT_SACK = 5;
/** Option kind: timestamps. */
export const TCPOPT_TIMESTAMP = 8;

/** Length of the MSS option. */
export const TCPOLEN_MSS = 4;
/** Length of the window scale option. */
export const TCPOLEN_WINDOW = 3;
/** Length of the SACK-permitted option. */
export const TCPOLEN_SACK_PERM = 2;
/** Length of the timestamps option. */
export const TCPOLEN_TIMESTAMP = 10;
/** Length of a SACK option's kind and length bytes; each block adds 8. */
export const TCPOLEN_SACK_BASE = 2;
/** Length of one SACK block: left and right edge. */
export const TCPOLEN_SACK_PERBLOCK = 8;

/** Most SACK blocks one segment can carry: 2 + 4 × 8 = 34 of the 40 option bytes. */
export const TCP_MAX_SACK_BLOCKS = 4;
/** Largest window scale shift RFC 7323 §2.3 allows; larger received values are clamped to it. */
export const TCP_MAX_WSCALE = 14;

/** A TCP header and its options as values; the payload stays in the buffer. */
export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  /** Sequence number, uint32. */
  seq: number;
  /** Acknowledgment number, uint32 (meaningful when {@link TCP_ACK} is set). */
  ack: number;
  /** Data offset × 4: 20 plus the options' length. */
  headerLen: number;
  /** The eight flag bits CWR … FIN (`TCP_*`); the reserved and AE bits are not kept. */
  flags: number;
  /** The window field as sent, before any window scaling. */
  window: number;
  /** The checksum as received; {@link emitTcp} computes its own. */
  checksum: number;
  /** The urgent pointer as sent (meaningful when {@link TCP_URG} is set). */
  urgent: number;
  /** Maximum segment size, or -1 if absent. A received 0 is kept; Linux ignores it. */
  mss: number;
  /** Window scale shift as sent, or -1 if absent; the caller clamps it to {@link TCP_MAX_WSCALE}. */
  wscale: number;
  /** The SACK-permitted option was present. */
  sackPermitted: boolean;
  /** True if a timestamps option was present; then {@link tsVal} and {@link tsEcr} hold it. */
  hasTimestamp: boolean;
  /** Timestamp value, uint32 (0 when absent). */
  tsVal: number;
  /** Timestamp echo reply, uint32 (0 when absent). */
  tsEcr: number;
  /** Number of SACK blocks, 0–4. */
  sackCount: number;
  /**
   * SACK blocks as `[left0, right0, left1, right1, …]`; the first `sackCount` pairs are valid.
   * Preallocated (8 entries) and reused by every parse, so parsing allocates nothing: copy the
   * blocks out before the repr is parsed into again.
   */
  sackBlocks: Uint32Array;
}

/** A blank TCP repr with no options, to be reused as the `out` of {@link parseTcp}. */
export function newTcpRepr(): TcpRepr {
  return {
    srcPort: 0, dstPort: 0, seq: 0, ack: 0, headerLen: TCP_HLEN, flags: 0, window: 0, checksum: 0, urgent: 0,
    mss: -1, wscale: -1, sackPermitted: false, hasTimestamp: false, tsVal: 0, tsEcr: 0,
    sackCount: 0, sackBlocks: new Uint32Array(2 * TCP_MAX_SACK_BLOCKS),
  };
}

/**
 * Parses the `len`-byte TCP segment at `b[o]`, carried in an IPv4 packet from `src` to `dst`,
 * into `out`. `len` is the IP payload length (total length minus IP header): the checksum
 * covers exactly that many bytes, so it must not include link-layer padding.
 *
 * The checks are those of Linux `tcp_v4_rcv`, in its order:
 *
 * 1. shorter than 20 bytes → `PKT_TOO_SMALL`;
 * 2. data offset below 5 → `PKT_TOO_SMALL`;
 * 3. data offset × 4 longer than the segment → `PKT_TOO_SMALL`;
 * 4. checksum wrong → `TCP_CSUM` (Linux counts Tcp InCsumErrors and InErrs).
 *
 * Of the length checks, Linux counts only the second in Tcp InErrs (`bad_packet`); the first
 * and third it drops uncounted (`discard_it`, reason NOT_SPECIFIED). On a `TCP_CSUM` drop the
 * fixed fields are filled (for traces) and the options read as absent.
 *
 * Options are then read by {@link parseTcpOptions}; they never make a segment invalid.
 */
export function parseTcp(
  b: Uint8Array, o: number, len: number, src: Ipv4Addr, dst: Ipv4Addr, out: TcpRepr,
): DropReason | undefined {
  return parseTcpWithPseudo(b, o, len, pseudoHeaderV4(src, dst, IPPROTO_TCP, len), out);
}

/**
 * {@link parseTcp} with the pseudo-header sum given (it must cover the segment length `len`).
 * `verify` false skips the checksum: the link vouched for it (a virtio-net `DATA_VALID` or
 * `NEEDS_CSUM` frame, whose field may hold only the pseudo-header sum).
 */
export function parseTcpWithPseudo(
  b: Uint8Array, o: number, len: number, pseudo: number, out: TcpRepr, verify = true,
): DropReason | undefined {
  if (len < TCP_HLEN) return DropReason.PKT_TOO_SMALL;
  const headerLen = (b[o + 12]! >>> 4) * 4;
  if (headerLen < TCP_HLEN || headerLen > len) return DropReason.PKT_TOO_SMALL;

  out.srcPort = u16(b, o);
  out.dstPort = u16(b, o + 2);
  out.seq = u32(b, o + 4);
  out.ack = u32(b, o + 8);
  out.headerLen = headerLen;
  out.flags = b[o + 13]!;
  out.window = u16(b, o + 14);
  out.checksum = u16(b, o + 16);
  out.urgent = u16(b, o + 18);
  clearOptions(out);

  if (verify && checksum(b, o, len, pseudo) !== 0) return DropReason.TCP_CSUM;
  parseTcpOptions(b, o + TCP_HLEN, headerLen - TCP_HLEN, out);
  return undefined;
}

/** Marks every option of `r` absent. */
function clearOptions(r: TcpRepr): void {
  r.mss = -1;
  r.wscale = -1;
  r.sackPermitted = false;
  r.hasTimestamp = false;
  r.tsVal = 0;
  r.tsEcr = 0;
  r.sackCount = 0;
}

/**
 * Reads the `optLen` option bytes at `b[o]` into the option fields of `out` (which
 * {@link parseTcp} has cleared). Walks them as Linux `tcp_parse_options` does, so that a
 * malformed list means the same thing to us as to Linux, and never throws or rejects:
 *
 * - End of Option List ends the walk; No-Operation is skipped.
 * - A length byte missing, below 2, or running past the options ends the walk: what came
 *   before it stands, nothing after it is read.
 * - A known kind with the wrong length (MSS of length 3, SACK whose length is not 2 + 8n
 *   with n ≥ 1) is skipped by its length and ignored; so is an unknown kind.
 * - If an option appears twice, the later one wins (as in Linux).
 *
 * Every option is reported whatever the segment's flags. Linux acts on MSS, window scale
 * and SACK-permitted only on a SYN of a connection being set up (and ignores an MSS of 0),
 * on SACK blocks only once SACK was negotiated, and on timestamps only once negotiated (or
 * while the connection is being set up): those decisions are the caller's.
 */
export function parseTcpOptions(b: Uint8Array, o: number, optLen: number, out: TcpRepr): void {
  const end = o + optLen;
  let i = o;
  while (i < end) {
    const kind = b[i]!;
    if (kind === TCPOPT_EOL) return;
    if (kind === TCPOPT_NOP) {
      i++;
      continue;
    }
    if (end - i < 2) return;
    const size = b[i + 1]!;
    // Linux's "silly options" and partial options: nothing after them can be trusted.
    if (size < 2 || size > end - i) return;
    switch (kind) {
      case TCPOPT_MSS:
        if (size === TCPOLEN_MSS) out.mss = u16(b, i + 2);
        break;
      case TCPOPT_WINDOW:
        if (size === TCPOLEN_WINDOW) out.wscale = b[i + 2]!;
        break;
      case TCPOPT_SACK_PERM:
        if (size === TCPOLEN_SACK_PERM) out.sackPermitted = true;
        break;
      case TCPOPT_TIMESTAMP:
        if (size === TCPOLEN_TIMESTAMP) {
          out.hasTimestamp = true;
          out.tsVal = u32(b, i + 2);
          out.tsEcr = u32(b, i + 6);
        }
        break;
      case TCPOPT_SACK:
        if (size >= TCPOLEN_SACK_BASE + TCPOLEN_SACK_PERBLOCK
          && (size - TCPOLEN_SACK_BASE) % TCPOLEN_SACK_PERBLOCK === 0) {
          // 40 option bytes hold at most 4 blocks, so the cap only matters for a caller
          // passing a longer `optLen`; Linux caps the same way (tcp_sacktag_write_queue).
          const n = Math.min((size - TCPOLEN_SACK_BASE) / TCPOLEN_SACK_PERBLOCK, TCP_MAX_SACK_BLOCKS);
          for (let k = 0; k < 2 * n; k++) out.sackBlocks[k] = u32(b, i + TCPOLEN_SACK_BASE + 4 * k);
          out.sackCount = n;
        }
        break;
      default:
        break; // unknown kinds are skipped by their length
    }
    i += size;
  }
}

// ---- egress ---------------------------------------------------------------------------------

/** The header fields {@link emitTcp} writes; a {@link TcpRepr} is one. */
export interface TcpHeaderOut {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** The eight flag bits (`TCP_*`). */
  flags: number;
  /** The window field as sent (already scaled down by the caller). */
  window: number;
  /** Urgent pointer; 0 if omitted. */
  urgent?: number;
}

/** Options to put in a segment being built; omit a field to send no such option. */
export interface TcpOptionsOut {
  mss?: number;
  /** Window scale shift to announce (0–14). */
  wscale?: number;
  sackPermitted?: boolean;
  timestamp?: { val: number; ecr: number };
  /**
   * SACK blocks `[left0, right0, …]`, `count` pairs of them. As many as fit in the option
   * space left by the other options are sent, at most 4 (3 next to a timestamp).
   */
  sack?: { count: number; blocks: Uint32Array };
}

/** A kind-length-value word preceded by two NOPs: `01 01 kind len`. */
const NOP_NOP = (TCPOPT_NOP << 24) | (TCPOPT_NOP << 16);

/** The options of a parsed segment, in the form `emitTcp` takes (to re-encode it). */
export function tcpOptionsOf(r: TcpRepr): TcpOptionsOut {
  const o: TcpOptionsOut = {};
  if (r.mss >= 0) o.mss = r.mss;
  if (r.wscale >= 0) o.wscale = r.wscale;
  if (r.sackPermitted) o.sackPermitted = true;
  if (r.hasTimestamp) o.timestamp = { val: r.tsVal, ecr: r.tsEcr };
  if (r.sackCount > 0) o.sack = { count: r.sackCount, blocks: r.sackBlocks };
  return o;
}

/**
 * Length in bytes (a multiple of 4, at most 40) of the options {@link emitTcp} writes for
 * `opts`. The layout is Linux's (`tcp_options_write`), 32-bit aligned, in this order:
 *
 * ```text
 *  MSS                     02 04 mm mm                              4
 *  SACK-permitted + TS     04 02 08 0a <TSval> <TSecr>              12  (both)
 *  TS                      01 01 08 0a <TSval> <TSecr>              12  (TS only)
 *  SACK-permitted          01 01 04 02                              4   (SACK-perm only)
 *  window scale            01 03 03 ss                              4
 *  SACK                    01 01 05 len <left right> × n            4 + 8n
 * ```
 *
 * So Linux's SYN reads `mss, sackOK, TS, nop, wscale` and a data segment `nop, nop, TS`.
 * SACK blocks that do not fit in what the other options leave of the 40 bytes are dropped,
 * as Linux's `tcp_established_options` does (none if fewer than 12 bytes remain).
 */
export function tcpOptionsLen(opts: TcpOptionsOut): number {
  const base = optionsLenWithoutSack(opts);
  const n = sackBlocksToSend(opts, base);
  return n === 0 ? base : base + 4 + TCPOLEN_SACK_PERBLOCK * n;
}

function optionsLenWithoutSack(opts: TcpOptionsOut): number {
  let n = 0;
  if (opts.mss !== undefined) n += 4;
  if (opts.timestamp !== undefined) n += 12; // carries SACK-permitted in its padding, if asked
  else if (opts.sackPermitted === true) n += 4;
  if (opts.wscale !== undefined) n += 4;
  return n;
}

/** How many of `opts.sack`'s blocks fit after `base` bytes of other options. */
function sackBlocksToSend(opts: TcpOptionsOut, base: number): number {
  const sack = opts.sack;
  if (sack === undefined) return 0;
  const room = Math.floor((TCP_MAX_OPTIONS_LEN - base - 4) / TCPOLEN_SACK_PERBLOCK);
  return Math.max(0, Math.min(sack.count, sack.blocks.length >>> 1, TCP_MAX_SACK_BLOCKS, room));
}

/**
 * Writes the header `r` describes at `b[o]` with the options `opts` (layout: see
 * {@link tcpOptionsLen}), then the checksum over the header and the `payloadLen` payload bytes
 * the caller has already placed after it, with the IPv4 pseudo-header of `src` → `dst`.
 *
 * @returns bytes written: the header length, `20 + tcpOptionsLen(opts)`.
 */
export function emitTcp(
  r: TcpHeaderOut, opts: TcpOptionsOut, b: Uint8Array, o: number, payloadLen: number, src: Ipv4Addr, dst: Ipv4Addr,
): number {
  const segLen = TCP_HLEN + tcpOptionsLen(opts) + payloadLen;
  return emitTcpWithPseudo(r, opts, b, o, payloadLen, pseudoHeaderV4(src, dst, IPPROTO_TCP, segLen));
}

/**
 * {@link emitTcp} with the pseudo-header sum given (for IPv6); it must cover the segment
 * length `20 + tcpOptionsLen(opts) + payloadLen`. With `partial`, the checksum field gets only
 * the folded pseudo-header sum, uncomplemented, for a device to finish (a virtio-net
 * `NEEDS_CSUM` frame, as Linux's `CHECKSUM_PARTIAL`): the payload is not read.
 */
export function emitTcpWithPseudo(
  r: TcpHeaderOut, opts: TcpOptionsOut, b: Uint8Array, o: number, payloadLen: number, pseudo: number, partial = false,
): number {
  const base = optionsLenWithoutSack(opts);
  const sackBlocks = sackBlocksToSend(opts, base);
  const headerLen = TCP_HLEN + (sackBlocks === 0 ? base : base + 4 + TCPOLEN_SACK_PERBLOCK * sackBlocks);

  setU16(b, o, r.srcPort);
  setU16(b, o + 2, r.dstPort);
  setU32(b, o + 4, r.seq);
  setU32(b, o + 8, r.ack);
  b[o + 12] = (headerLen >>> 2) << 4;
  b[o + 13] = r.flags;
  setU16(b, o + 14, r.window);
  setU16(b, o + 16, 0);
  setU16(b, o + 18, r.urgent ?? 0);

  let p = o + TCP_HLEN;
  if (opts.mss !== undefined) {
    setU32(b, p, (TCPOPT_MSS << 24) | (TCPOLEN_MSS << 16) | (opts.mss & 0xffff));
    p += 4;
  }
  const ts = opts.timestamp;
  if (ts !== undefined) {
    // Linux puts SACK-permitted where the timestamp's alignment NOPs would go.
    const lead = opts.sackPermitted === true ? (TCPOPT_SACK_PERM << 24) | (TCPOLEN_SACK_PERM << 16) : NOP_NOP;
    setU32(b, p, lead | (TCPOPT_TIMESTAMP << 8) | TCPOLEN_TIMESTAMP);
    setU32(b, p + 4, ts.val);
    setU32(b, p + 8, ts.ecr);
    p += 12;
  } else if (opts.sackPermitted === true) {
    setU32(b, p, NOP_NOP | (TCPOPT_SACK_PERM << 8) | TCPOLEN_SACK_PERM);
    p += 4;
  }
  if (opts.wscale !== undefined) {
    setU32(b, p, (TCPOPT_NOP << 24) | (TCPOPT_WINDOW << 16) | (TCPOLEN_WINDOW << 8) | (opts.wscale & 0xff));
    p += 4;
  }
  if (sackBlocks > 0) {
    const blocks = opts.sack!.blocks;
    setU32(b, p, NOP_NOP | (TCPOPT_SACK << 8) | (TCPOLEN_SACK_BASE + TCPOLEN_SACK_PERBLOCK * sackBlocks));
    p += 4;
    for (let k = 0; k < 2 * sackBlocks; k++, p += 4) setU32(b, p, blocks[k]!);
  }

  setU16(b, o + 16, partial ? fold(pseudo) : checksum(b, o, headerLen + payloadLen, pseudo));
  return headerLen;
}

/** tcpdump's flag letters, lowest bit first: FIN SYN RST PSH ACK URG ECE CWR. */
const FLAG_LETTERS = 'FSRP.UEW';

/**
 * The flags as tcpdump prints them inside `Flags [...]`: one letter per set flag, lowest bit
 * first — `S` (SYN), `S.` (SYN+ACK), `.` (ACK), `P.` (PSH+ACK), `F.` (FIN+ACK), `R` (RST),
 * `U` (URG), `E` (ECE), `W` (CWR) — and `none` when no flag is set. Matches the traces
 * people already read from tcpdump.
 */
export function flagsToString(flags: number): string {
  let s = '';
  for (let bit = 0; bit < 8; bit++) if (flags & (1 << bit)) s += FLAG_LETTERS[bit]!;
  return s === '' ? 'none' : s;
}
