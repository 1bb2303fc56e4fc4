/**
 * The seam between the stack and a network interface, like Linux's `net_device` seen
 * from the protocols: frames come up in batches, frames go down one at a time and are
 * pushed out once per turn of the loop with `flush()`.
 */

/** A link's own counters, named as in `struct rtnl_link_stats64` (`ip -s link`, `ethtool -S`). */
export interface LinkStats {
  rx_packets: number;
  rx_bytes: number;
  rx_errors: number;
  rx_dropped: number;
  rx_length_errors: number;
  rx_over_errors: number;
  rx_crc_errors: number;
  rx_missed_errors: number;
  rx_nohandler: number;
  rx_otherhost_dropped: number;
  multicast: number;
  tx_packets: number;
  tx_bytes: number;
  tx_errors: number;
  tx_dropped: number;
  // Offload counters, kept by links with virtio-net offloads (TapLink with `offload`); optional
  // so that links without them need not carry zeros. Names after the NIC drivers' `ethtool -S`.
  /** Received TCP super-frames (`gso_type` ≠ NONE): one frame, several MSS of data. */
  rx_gso_frames?: number;
  /** Received with a partial checksum (`NEEDS_CSUM`): the kernel made it in memory. */
  rx_csum_partial?: number;
  /** Received with checksums the kernel already verified (`DATA_VALID`). */
  rx_csum_unnecessary?: number;
  /** Super-frames handed to the device for it to segment (TSO). */
  tx_gso_frames?: number;
  /** Frames handed to the device with a checksum for it to complete. */
  tx_csum_partial?: number;
}

export function newLinkStats(): LinkStats {
  return {
    rx_packets: 0, rx_bytes: 0, rx_errors: 0, rx_dropped: 0, rx_length_errors: 0,
    rx_over_errors: 0, rx_crc_errors: 0, rx_missed_errors: 0, rx_nohandler: 0,
    rx_otherhost_dropped: 0, multicast: 0, tx_packets: 0, tx_bytes: 0, tx_errors: 0,
    tx_dropped: 0,
  };
}

/**
 * Bits of {@link Link.rxFlags}: what the link knows about a received frame beyond its bytes.
 *
 * - `RX_CSUM_VALID`: the transport checksum (TCP, UDP) must not be verified; it is known good
 *   (`DATA_VALID`) or was never computed because the frame never left this machine's memory
 *   (`NEEDS_CSUM`, see `RX_CSUM_PARTIAL`). The IPv4 header checksum is always complete.
 * - `RX_GSO`: a super-frame: one TCP segment carrying several MSS (`rxGsoSize[i]` each) that the
 *   sender would have cut up on a real wire; it may exceed the MTU.
 * - `RX_CSUM_PARTIAL`: the checksum field holds only the folded pseudo-header sum; a frame
 *   forwarded or captured must have it completed first (`completeChecksum` in vnet.ts).
 */
export const RX_CSUM_VALID = 1;
export const RX_GSO = 2;
export const RX_CSUM_PARTIAL = 4;

/**
 * Called with each batch of received frames. The frames are views into the link's
 * receive buffer and are valid only during the call: a stage that keeps bytes (a
 * fragment, a datagram for a socket) copies them. On a link with {@link Link.rxSizes},
 * a frame is the first `rxSizes[i]` bytes of `frames[i]`.
 */
export type FrameHandler = (frames: readonly Uint8Array[]) => void;

export interface Link {
  /** Interface name, e.g. `tap0`. */
  readonly name: string;
  /** Largest IP packet the link carries (the MTU, without the Ethernet header). */
  readonly mtu: number;
  /** Received frames end with a 4-byte Ethernet FCS, which the ethernet stage verifies. */
  readonly hasFcs: boolean;
  readonly stats: LinkStats;
  /** Where received batches go; `null` stops delivery. */
  setReceiver(handler: FrameHandler | null): void;
  /**
   * Queue one frame (Ethernet header first, no FCS) for transmission. The link owns
   * the bytes from now on; the caller must not touch them again.
   */
  send(frame: Uint8Array): void;
  /** Transmit everything queued; drivers call it once per turn of the loop. */
  flush(): void;
  /** Release the device. Idempotent. */
  close(): void;
  /**
   * A receiver that reads {@link Link.rxSizes} asks for whole receive slots, the same views
   * batch after batch, so that nothing is allocated per frame. Links without slots leave it out.
   */
  useSlotViews?(): void;
  /**
   * After `useSlotViews`: frame i of a batch is the first `rxSizes[i]` bytes of `frames[i]`
   * (same lifetime as the batch). Undefined while each frame is exactly its bytes.
   */
  readonly rxSizes?: Uint32Array;

  // ── Offloads (optional: links without them leave these out) ──────────────────────────────
  /** Partial checksums and TCP segmentation are handled by the other side (virtio-net offloads). */
  readonly offload?: boolean;
  /**
   * Largest frame (Ethernet header included) the link takes: from {@link Link.sendOffload} with
   * segmentation when `offload`, else from `send` (MTU + Ethernet header + one VLAN tag).
   */
  readonly maxFrame?: number;
  /**
   * Per received frame, `RX_*` bits, indexed like the batch handed to the receiver and valid
   * during that call only (the array is reused; its length is the link's batch size, not the
   * batch's). All zero on a link without offloads.
   */
  readonly rxFlags?: Uint8Array;
  /** Per received frame with `RX_GSO`: its `gso_size` (the sender's MSS). Same lifetime as `rxFlags`. */
  readonly rxGsoSize?: Uint16Array;
  /**
   * Queue one frame whose transport checksum the device completes and, when `gsoType` is not
   * `VIRTIO_NET_HDR_GSO_NONE`, which it cuts into segments of `gsoSize` payload bytes (TSO).
   *
   * The caller stores in the checksum field (at `csumStart + csumOffset`) the folded
   * pseudo-header sum over the frame's whole transport length, not complemented — e.g.
   * `fold(pseudoHeaderV4(src, dst, 6, tcpLen))` — and leaves the rest of the transport header
   * and payload as they are; the IPv4 header (total length = the whole super-packet) carries a
   * complete checksum. For a super-frame, `hdrLen` is the Ethernet + IP + TCP header length,
   * the frame may be up to `maxFrame`, and TCP's FIN/PSH go on the last segment only, CWR on the
   * first (with the `ECN` bit). The link owns the bytes from now on.
   */
  sendOffload?(
    frame: Uint8Array, csumStart: number, csumOffset: number, gsoType: number, gsoSize: number, hdrLen: number,
  ): void;
  /**
   * Reads whatever is already queued on the device, now, and delivers it to the receiver as one
   * batch; returns the number of frames delivered. Drivers call it before running timers, so that
   * an ACK already waiting is seen before a retransmission timeout fires. Does nothing (returns
   * 0) inside the receiver, or when no receiver is set.
   */
  readNow?(): number;
}
