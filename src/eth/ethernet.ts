/**
 * Ethernet, the first stage after the link: FCS (on links that carry one), the
 * destination MAC filter, and the ethertype switch. Nothing else happens here.
 *
 * Ingress: `input()` returns a verdict; the stage bumps the link counter Linux would
 * (`rx_crc_errors`, `rx_otherhost_dropped`, `rx_nohandler` …) and `Stack` counts the
 * drop reason. Egress: `output()` writes the 14-byte header into the headroom every
 * outgoing frame carries and hands the frame to the link.
 */
import { DropReason, Stage, walk, type Verdict } from '../core/drop.js';
import { enter } from '../core/trace.js';
import type { Link } from '../dev/device.js';
import { checkFcs } from '../dev/fcs.js';
import { BROADCAST_MAC, isMulticastMac, type Mac } from '../wire/addr.js';
import {
  ETH_HLEN, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, emitEthernet, newEthernetRepr, parseEthernet,
} from '../wire/ethernet.js';

/**
 * How the frame was addressed at layer 2 (Linux `skb->pkt_type`); LOOPBACK marks
 * packets we sent to ourselves.
 */
export const PacketType = { HOST: 0, BROADCAST: 1, MULTICAST: 2, LOOPBACK: 3 } as const;
export type PacketType = (typeof PacketType)[keyof typeof PacketType];

/** The next stages, given at construction so that nothing here imports upward. */
export interface EthernetUpper {
  arp(frame: Uint8Array, off: number, len: number, pktType: PacketType, now: number): Verdict;
  ipv4(frame: Uint8Array, off: number, len: number, pktType: PacketType, now: number): Verdict;
  ipv6(frame: Uint8Array, off: number, len: number, pktType: PacketType, now: number): Verdict;
}

const FCS_LEN = 4;

export class Ethernet {
  /** Multicast MACs we listen to (Linux `dev_mc_add`). */
  private readonly groups = new Set<Mac>();
  private readonly rx = newEthernetRepr();
  private readonly tx = newEthernetRepr();
  /** Sees every frame sent (a capture); null when nobody looks. */
  onSend: ((frame: Uint8Array) => void) | null = null;

  constructor(
    private readonly link: Link,
    readonly mac: Mac,
    private readonly upper: EthernetUpper,
  ) {
    this.tx.src = mac;
  }

  join(group: Mac): void {
    this.groups.add(group);
  }

  // ── ingress ──────────────────────────────────────────────────────────────

  /** The frame is the first `len` bytes of `frame` (a link's receive slot may be longer). */
  input(frame: Uint8Array, len: number, now: number): Verdict {
    enter(Stage.ETH);
    const stats = this.link.stats;
    if (this.link.hasFcs) {
      if (len < ETH_HLEN + FCS_LEN) {
        stats.rx_length_errors++;
        stats.rx_errors++;
        return DropReason.PKT_TOO_SMALL;
      }
      if (!checkFcs(len === frame.length ? frame : frame.subarray(0, len))) {
        stats.rx_crc_errors++;
        stats.rx_errors++;
        return DropReason.X_FCS;
      }
      len -= FCS_LEN;
    }

    const eth = this.rx;
    const bad = parseEthernet(frame, 0, len, eth);
    if (bad !== undefined) {
      stats.rx_length_errors++;
      stats.rx_errors++;
      return bad;
    }

    let pktType: PacketType;
    if (eth.dst === this.mac) {
      pktType = PacketType.HOST;
    } else if (eth.dst === BROADCAST_MAC) {
      pktType = PacketType.BROADCAST;
    } else if (isMulticastMac(eth.dst) && this.groups.has(eth.dst)) {
      pktType = PacketType.MULTICAST;
      stats.multicast++;
    } else {
      stats.rx_otherhost_dropped++;
      return DropReason.OTHERHOST;
    }

    if (isMulticastMac(eth.src)) {
      stats.rx_dropped++;
      return DropReason.MAC_INVALID_SOURCE;
    }

    // A priority tag (VLAN 0) is an untagged frame; any other VLAN is not ours, since
    // we have no VLAN devices (Linux marks it PACKET_OTHERHOST).
    if (eth.vlanId > 0) {
      stats.rx_otherhost_dropped++;
      return DropReason.OTHERHOST;
    }

    const off = eth.headerLen;
    switch (eth.etherType) {
      case ETH_P_IP:
        return this.upper.ipv4(frame, off, len - off, pktType, now);
      case ETH_P_IPV6:
        return this.upper.ipv6(frame, off, len - off, pktType, now);
      case ETH_P_ARP:
        return this.upper.arp(frame, off, len - off, pktType, now);
      default:
        stats.rx_nohandler++;
        return DropReason.UNHANDLED_PROTO;
    }
  }

  // ── egress ───────────────────────────────────────────────────────────────

  /** Fills in the Ethernet header at the start of `frame` and queues it on the link. */
  output(frame: Uint8Array, dst: Mac, etherType: number): void {
    const eth = this.tx;
    eth.dst = dst;
    eth.etherType = etherType;
    emitEthernet(eth, frame, 0);
    if (walk.tracer !== null) {
      walk.tracer.step('eth out');
      walk.tracer.sent(frame);
    }
    this.onSend?.(frame);
    this.link.send(frame);
  }
}

