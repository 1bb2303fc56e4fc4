/**
 * ARP (RFC 826): answer requests for our addresses, learn senders into the neighbour
 * cache, and ask for the addresses the neighbour cache needs. Behaves like Linux with
 * its defaults (arp_ignore=0, arp_accept=0): a request for us creates an entry for its
 * sender; replies and requests for others only refresh entries we already have.
 */
import type { ArpMib } from '../core/counters.js';
import { CONSUMED, DropReason, Stage, type Verdict } from '../core/drop.js';
import { enter } from '../core/trace.js';
import { BROADCAST_MAC, IPV4_BROADCAST, isIpv4Multicast, isMulticastMac, type Ipv4Addr, type Mac } from '../wire/addr.js';
import { ARPOP_REPLY, ARPOP_REQUEST, ARP_LEN, emitArp, newArpRepr, parseArp } from '../wire/arp.js';
import { ETH_HLEN, ETH_P_ARP } from '../wire/ethernet.js';
import { PacketType, type Ethernet } from './ethernet.js';
import type { NeighborTable } from './neighbor.js';

export class Arp {
  private readonly rx = newArpRepr();
  private readonly tx = newArpRepr();

  constructor(
    private readonly eth: Ethernet,
    private readonly neigh: NeighborTable,
    /** Is this one of our IPv4 addresses? */
    private readonly isLocal: (addr: Ipv4Addr) => boolean,
    private readonly stats: ArpMib,
  ) {}

  // ── ingress ──────────────────────────────────────────────────────────────

  input(frame: Uint8Array, off: number, len: number, pktType: PacketType, now: number): Verdict {
    enter(Stage.ARP);
    const arp = this.rx;
    const bad = parseArp(frame, off, len, arp);
    if (bad !== undefined) return bad;
    if (arp.op !== ARPOP_REQUEST && arp.op !== ARPOP_REPLY) return DropReason.X_ARP_HEADER;
    if (arp.op === ARPOP_REQUEST) this.stats.InRequests++;
    else this.stats.InReplies++;

    // Nobody may claim a group address; a multicast target is never resolved by ARP.
    if (isIpv4Multicast(arp.targetIp) || isIpv4Multicast(arp.senderIp) ||
        arp.senderIp === IPV4_BROADCAST || isMulticastMac(arp.senderMac)) {
      return DropReason.X_ARP_HEADER;
    }

    const forUs = this.isLocal(arp.targetIp);

    // An ARP probe (RFC 5227 §2.1.1): sender 0.0.0.0 asks whether the address is taken.
    if (arp.senderIp === 0) {
      if (arp.op === ARPOP_REQUEST && forUs) this.reply(arp.targetIp, arp.senderMac, 0, arp.senderMac);
      return CONSUMED;
    }

    if (arp.op === ARPOP_REQUEST && forUs) {
      this.neigh.update(arp.senderIp, arp.senderMac, false, true, now);
      this.reply(arp.targetIp, arp.senderMac, arp.senderIp, arp.senderMac);
      return CONSUMED;
    }

    // A reply sent to us answers our request; anything else we merely overheard.
    const confirmed = arp.op === ARPOP_REPLY && pktType === PacketType.HOST && forUs;
    this.neigh.update(arp.senderIp, arp.senderMac, confirmed, false, now);
    return CONSUMED;
  }

  // ── egress ───────────────────────────────────────────────────────────────

  /** A request for `target`: broadcast, or unicast to `mac` when probing a known entry. */
  solicit(source: Ipv4Addr, target: Ipv4Addr, mac: Mac | undefined): void {
    this.send(ARPOP_REQUEST, source, target, 0, mac ?? BROADCAST_MAC);
    this.stats.OutRequests++;
  }

  /** Gratuitous ARP (RFC 5227 §3): a request for our own address, so neighbours update their caches. */
  announce(addr: Ipv4Addr): void {
    this.send(ARPOP_REQUEST, addr, addr, 0, BROADCAST_MAC);
    this.stats.OutRequests++;
  }

  private reply(ourIp: Ipv4Addr, toMac: Mac, toIp: Ipv4Addr, ethDst: Mac): void {
    this.send(ARPOP_REPLY, ourIp, toIp, toMac, ethDst);
    this.stats.OutReplies++;
  }

  private send(op: number, senderIp: Ipv4Addr, targetIp: Ipv4Addr, targetMac: Mac, ethDst: Mac): void {
    const arp = this.tx;
    arp.op = op;
    arp.senderMac = this.eth.mac;
    arp.senderIp = senderIp;
    arp.targetMac = targetMac;
    arp.targetIp = targetIp;
    const frame = new Uint8Array(ETH_HLEN + ARP_LEN);
    emitArp(arp, frame, ETH_HLEN);
    this.eth.output(frame, ethDst, ETH_P_ARP);
  }
}
