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
 * Called with each batch of received frames. The frames are views into the link's
 * receive buffer and are valid only during the call: a stage that keeps bytes (a
 * fragment, a datagram for a socket) copies them.
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
}
