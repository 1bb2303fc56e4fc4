/**
 * The virtio-net header (virtio 1.x §5.1.6, `struct virtio_net_hdr_v1`): what a Linux TAP opened
 * with `IFF_VNET_HDR` (and `TUNSETVNETHDRSZ 12`) puts before every frame read from it and expects
 * before every frame written to it. It carries the two offloads that make a TAP fast: a partial
 * checksum the other side completes, and a TCP "super-frame" of up to 64 KiB that the other side
 * cuts into MSS-sized segments (TSO/GSO).
 *
 * ```text
 *  0        1          2               4               6               8              10             12
 * +--------+----------+---------------+---------------+---------------+---------------+---------------+
 * | flags  | gso_type | hdr_len       | gso_size      | csum_start    | csum_offset   | num_buffers   |
 * +--------+----------+---------------+---------------+---------------+---------------+---------------+
 * ```
 *
 * The 16-bit fields are little-endian: virtio 1.0 fixes that order, and the addon asks tun for it
 * (`TUNSETVNETLE`), which is also what tun does by default on a little-endian host such as this one
 * (x86-64, arm64). This is the one place in tapstack where a header is not in network byte order.
 *
 * - `flags`: `NEEDS_CSUM` — the TCP/UDP checksum is partial: the field at `csum_start + csum_offset`
 *   holds the folded pseudo-header sum (not complemented), and the checksum over
 *   `frame[csum_start ..]` is still to be computed and stored there. `DATA_VALID` — the sender
 *   vouches for the checksums (the kernel sets it on frames it already verified).
 * - `gso_type`: `NONE` for an ordinary frame, else the protocol of a super-frame to be segmented
 *   into payloads of `gso_size` bytes, each behind a copy of the first `hdr_len` bytes (Ethernet,
 *   IP and TCP headers); `ECN` is or-ed in when the segments' CWR handling matters (RFC 3168).
 * - `num_buffers`: used by virtio's mergeable receive buffers; tun ignores it on write and does
 *   not set it on read, so it means nothing here.
 *
 * Linux's names and semantics: include/uapi/linux/virtio_net.h, include/linux/virtio_net.h
 * (`virtio_net_hdr_to_skb`, `virtio_net_hdr_from_skb`), drivers/net/tun.c.
 */
import { DropReason } from '../core/drop.js';
import { checksum, sum16 } from '../wire/checksum.js';

/** Bytes of `struct virtio_net_hdr_v1` (the 10-byte legacy header plus `num_buffers`). */
export const VNET_HDR_LEN = 12;

/** `flags`: the checksum at `csum_start + csum_offset` is partial and must be completed. */
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
/** `flags`: the frame's checksums are known good; the receiver need not verify them. */
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;

/** `gso_type`: an ordinary frame. */
export const VIRTIO_NET_HDR_GSO_NONE = 0;
/** `gso_type`: an IPv4 TCP super-frame (TSO). */
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
/** `gso_type`: an IPv4 UDP datagram to be sent as IP fragments (UFO, legacy). */
export const VIRTIO_NET_HDR_GSO_UDP = 3;
/** `gso_type`: an IPv6 TCP super-frame (TSO). */
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
/** `gso_type`: UDP datagrams of `gso_size` each, like `UDP_SEGMENT` (USO; virtio 1.2). */
export const VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
/** `gso_type` bit: the TCP super-frame carries ECN (CWR goes on the first segment only). */
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

/**
 * Linux's `GSO_LEGACY_MAX_SIZE`: the largest IP packet (header included) the kernel builds or
 * expects as one GSO super-packet without BIG TCP, and so the largest a link with TSO carries.
 */
export const GSO_MAX_SIZE = 65536;

/** A virtio-net header as values. */
export interface VirtioNetHdr {
  /** `VIRTIO_NET_HDR_F_*` bits. */
  flags: number;
  /** `VIRTIO_NET_HDR_GSO_*`, possibly with the `ECN` bit. */
  gsoType: number;
  /** Bytes of headers (Ethernet + IP + TCP/UDP) copied in front of each segment. */
  hdrLen: number;
  /** Payload bytes per segment (the MSS for TCP). */
  gsoSize: number;
  /** Offset from the start of the frame where checksumming starts (the transport header). */
  csumStart: number;
  /** Offset of the checksum field from `csumStart` (16 for TCP, 6 for UDP). */
  csumOffset: number;
  /** Unused by tun (see the module comment). */
  numBuffers: number;
}

/** A blank header (no offload), to be reused as the `out` of {@link parseVirtioNetHdr}. */
export function newVirtioNetHdr(): VirtioNetHdr {
  return { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0, numBuffers: 0 };
}

/** Reads the little-endian 16-bit field at `b[o]`. */
function le16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}

function setLe16(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
}

/**
 * Parses the header at `b[o]` into `out`; `len` counts the header and the frame after it.
 *
 * @returns `PKT_TOO_SMALL` when `len` cannot hold the header, or when `NEEDS_CSUM` points the
 *   checksum field beyond the frame; else `undefined`. Everything else is reported as read: what
 *   a `gso_type` means is for the caller to judge.
 */
export function parseVirtioNetHdr(b: Uint8Array, o: number, len: number, out: VirtioNetHdr): DropReason | undefined {
  if (len < VNET_HDR_LEN) return DropReason.PKT_TOO_SMALL;
  out.flags = b[o]!;
  out.gsoType = b[o + 1]!;
  out.hdrLen = le16(b, o + 2);
  out.gsoSize = le16(b, o + 4);
  out.csumStart = le16(b, o + 6);
  out.csumOffset = le16(b, o + 8);
  out.numBuffers = le16(b, o + 10);
  if ((out.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0 && out.csumStart + out.csumOffset + 2 > len - VNET_HDR_LEN) {
    return DropReason.PKT_TOO_SMALL;
  }
  return undefined;
}

/**
 * Writes the header `r` describes at `b[o]`.
 *
 * @returns bytes written (12).
 */
export function emitVirtioNetHdr(r: VirtioNetHdr, b: Uint8Array, o: number): number {
  writeVirtioNetHdr(b, o, r.flags, r.gsoType, r.hdrLen, r.gsoSize, r.csumStart, r.csumOffset);
  setLe16(b, o + 10, r.numBuffers);
  return VNET_HDR_LEN;
}

/**
 * {@link emitVirtioNetHdr} from flat values (`num_buffers` 0), for the transmit path, which has
 * no header object to fill.
 */
export function writeVirtioNetHdr(
  b: Uint8Array, o: number, flags: number, gsoType: number, hdrLen: number, gsoSize: number,
  csumStart: number, csumOffset: number,
): void {
  b[o] = flags;
  b[o + 1] = gsoType;
  setLe16(b, o + 2, hdrLen);
  setLe16(b, o + 4, gsoSize);
  setLe16(b, o + 6, csumStart);
  setLe16(b, o + 8, csumOffset);
  b[o + 10] = 0;
  b[o + 11] = 0;
}

/**
 * Completes a partial (`NEEDS_CSUM`) checksum in place, as the kernel's `skb_checksum_help` does:
 * the field at `csumStart + csumOffset` holds the pseudo-header sum, so the checksum over
 * `f[csumStart ..]` with that field in place is the final one. A result of 0 is stored as 0xffff,
 * its one's-complement twin, since UDP over IPv4 reads 0 as "no checksum" (RFC 768).
 *
 * Needed where a frame that came with a partial checksum leaves the offload world: relayed to a
 * link without offloads, or written to a capture file that a reader will verify.
 */
export function completeChecksum(f: Uint8Array, csumStart: number, csumOffset: number): void {
  const at = csumStart + csumOffset;
  const c = checksum(f, csumStart, f.length - csumStart) || 0xffff;
  f[at] = c >>> 8;
  f[at + 1] = c;
}

// ── Segmentation in software ────────────────────────────────────────────────────────────
//
// What the kernel does with a TSO super-frame (net/ipv4/tcp_offload.c `tcp_gso_segment`,
// net/ipv4/af_inet.c `inet_gso_segment`), for a link that cannot: each segment is a copy of the
// headers and the next `gso_size` bytes of payload, with the lengths, the IPv4 ID (+1 per
// segment), the sequence number and the checksums made right; FIN and PSH stay on the last
// segment only, CWR on the first.

/** Offset of the IP header: after the Ethernet header and one 802.1Q/802.1ad tag, if any. */
function networkOffset(f: Uint8Array): number {
  const type = (f[12]! << 8) | f[13]!;
  return type === 0x8100 || type === 0x88a8 ? 18 : 14;
}

/**
 * How many segments a TSO super-frame of `len` bytes becomes: its TCP payload (after the TCP
 * header at `csumStart`) in pieces of `gsoSize`; at least 1.
 */
export function gsoSegmentCount(f: Uint8Array, len: number, csumStart: number, gsoSize: number): number {
  const hdrs = csumStart + (f[csumStart + 12]! >>> 4) * 4;
  return Math.max(1, Math.ceil((len - hdrs) / gsoSize));
}

/**
 * Writes segment `k` of the TSO super-frame `f` (TCP header at `csumStart`, IPv4 or IPv6 by
 * `gsoType`) into `dst` at `o`, with complete checksums, and returns its length. The TCP
 * checksum field of `f` is not read: each segment's is computed from scratch. `dst` must have
 * room for the headers plus `gsoSize` bytes.
 */
export function emitGsoSegment(
  f: Uint8Array, len: number, csumStart: number, gsoType: number, gsoSize: number, k: number, dst: Uint8Array, o: number,
): number {
  const hdrs = csumStart + (f[csumStart + 12]! >>> 4) * 4;
  const from = hdrs + k * gsoSize;
  const chunk = Math.min(gsoSize, len - from);
  const last = from + chunk >= len;
  dst.set(f.subarray(0, hdrs), o);
  dst.set(f.subarray(from, from + chunk), o + hdrs);
  const nh = o + networkOffset(f);
  const t = o + csumStart;
  const tcpLen = hdrs - csumStart + chunk;
  let pseudo: number;
  if ((gsoType & ~VIRTIO_NET_HDR_GSO_ECN) === VIRTIO_NET_HDR_GSO_TCPV6) {
    const payload = o + hdrs + chunk - (nh + 40);
    dst[nh + 4] = payload >>> 8;
    dst[nh + 5] = payload;
    pseudo = sum16(dst, nh + 8, 32) + tcpLen + 6;
  } else {
    const total = o + hdrs + chunk - nh;
    dst[nh + 2] = total >>> 8;
    dst[nh + 3] = total;
    const id = (((dst[nh + 4]! << 8) | dst[nh + 5]!) + k) & 0xffff;
    dst[nh + 4] = id >>> 8;
    dst[nh + 5] = id;
    dst[nh + 10] = 0;
    dst[nh + 11] = 0;
    const ipc = checksum(dst, nh, (dst[nh]! & 0x0f) * 4);
    dst[nh + 10] = ipc >>> 8;
    dst[nh + 11] = ipc;
    pseudo = sum16(dst, nh + 12, 8) + tcpLen + 6;
  }
  const seq = (((dst[t + 4]! << 24) | (dst[t + 5]! << 16) | (dst[t + 6]! << 8) | dst[t + 7]!) + k * gsoSize) >>> 0;
  dst[t + 4] = seq >>> 24;
  dst[t + 5] = seq >>> 16;
  dst[t + 6] = seq >>> 8;
  dst[t + 7] = seq;
  if (!last) dst[t + 13] = dst[t + 13]! & ~(0x01 | 0x08); // FIN, PSH
  if (k > 0) dst[t + 13] = dst[t + 13]! & ~0x80; // CWR
  dst[t + 16] = 0;
  dst[t + 17] = 0;
  const c = checksum(dst, t, tcpLen, pseudo);
  dst[t + 16] = c >>> 8;
  dst[t + 17] = c;
  return hdrs + chunk;
}
