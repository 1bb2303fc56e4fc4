/**
 * Multicast Listener Discovery, version 2, for a host (RFC 3810): the groups we listen to
 * are reported, so that an MLD-snooping switch or a router forwards them to us — above all
 * the solicited-node groups neighbour discovery depends on (RFC 4862 §5.4.2 asks a node to
 * join them before duplicate address detection).
 *
 * A group joined is reported twice, one Unsolicited Report Interval (1 s) apart (the
 * robustness variable, 2); a query is answered after a random delay up to its Maximum
 * Response Delay, with every group it asks about in one report. ff02::1 and
 * interface-local groups are never reported (RFC 3810 §6). Reports go to ff02::16 with hop
 * limit 1 behind a router alert, as Linux sends them.
 */
import { CONSUMED, DropReason, type Verdict } from '../core/drop.js';
import { IPV6_ALL_NODES, IPV6_ANY, ipv6MulticastScope, isIpv6LinkLocal, isIpv6Unspecified, readIpv6, writeIpv6, type Ipv6Addr } from '../wire/addr.js';
import { setU16, u16 } from '../wire/bytes.js';
import { pseudoHeaderV6 } from '../wire/checksum.js';
import { ICMPV6_HLEN, ICMPV6_MLD2_REPORT, emitIcmpv6, newIcmpv6Repr } from '../wire/icmpv6.js';
import { emitRouterAlertHopByHop } from '../wire/ipv6-ext.js';
import { IPPROTO_ICMPV6, NEXTHDR_HOP } from '../wire/ipv6.js';
import type { IpRx } from './ip.js';
import type { Icmpv6 } from './icmpv6.js';
import { TX_HEADROOM6, type Ipv6 } from './ipv6.js';

/** All MLDv2-capable routers (RFC 3810 §5.2.14). */
const ALL_MLDV2_ROUTERS = 'ff02::16';
/** Multicast address record types (RFC 3810 §5.2.12). */
const MODE_IS_EXCLUDE = 2;
const CHANGE_TO_EXCLUDE_MODE = 4;
const RECORD_LEN = 20;
const HBH_LEN = 8;
/** Robustness variable and Unsolicited Report Interval (RFC 3810 §9.1, §9.11). */
const ROBUSTNESS = 2;
const UNSOLICITED_REPORT_MS = 1_000;
/** Records per report: what fits a 1280-byte packet. */
const MAX_RECORDS = 60;

interface Pending {
  at: number;
  left: number;
  type: number;
}

export class Mld {
  private readonly pending = new Map<Ipv6Addr, Pending>();
  private readonly tx = newIcmpv6Repr();
  /** The interface is up (Stack.start): reports go out from then on. */
  private up = false;

  constructor(
    private readonly ip: Ipv6,
    private readonly icmp: Icmpv6,
    private readonly random: () => number,
  ) {}

  /** A group was joined: report it once the interface is up, and once more a second later. */
  joined(group: Ipv6Addr): void {
    if (!reportable(group)) return;
    this.pending.set(group, { at: -Infinity, left: ROBUSTNESS, type: CHANGE_TO_EXCLUDE_MODE });
  }

  /** The interface came up: the groups joined so far are reported now. */
  start(): void {
    this.up = true;
  }

  /** A Multicast Listener Query (RFC 3810 §5.1; an MLDv1 query is its first 24 bytes). */
  query(rx: IpRx, now: number): Verdict {
    const { pkt, off, len } = rx;
    // RFC 3810 §5.1.15: from a link-local source, hop limit 1; else not a query to answer.
    if (pkt[rx.ipOff + 7] !== 1 || !isIpv6LinkLocal(rx.src as Ipv6Addr)) return DropReason.INVALID_PROTO;
    if (len < 24) return DropReason.PKT_TOO_SMALL;
    const code = u16(pkt, off + 4);
    // Maximum Response Code: milliseconds, or a floating-point form from 32768 up (§5.1.3).
    const maxDelay = code < 32_768 ? code : ((code & 0xfff) | 0x1000) << (((code >> 12) & 7) + 3);
    const group = readIpv6(pkt, off + 8);
    const at = now + Math.floor(this.random() * maxDelay);
    const answer = (g: Ipv6Addr): void => {
      const p = this.pending.get(g);
      if (p === undefined || p.at > at) this.pending.set(g, { at, left: 1, type: MODE_IS_EXCLUDE });
    };
    if (isIpv6Unspecified(group)) {
      for (const g of this.ip.groups) if (reportable(g)) answer(g);
    } else if (this.ip.groups.has(group) && reportable(group)) {
      answer(group);
    }
    return CONSUMED;
  }

  // ── timers ──────────────────────────────────────────────────────────────

  /** Sends one report with every record that is due. */
  poll(now: number): void {
    if (!this.up) return;
    const due: [Ipv6Addr, number][] = [];
    for (const [group, p] of this.pending) {
      if (p.at > now || due.length === MAX_RECORDS) continue;
      due.push([group, p.type]);
      if (--p.left > 0) p.at = now + UNSOLICITED_REPORT_MS;
      else this.pending.delete(group);
    }
    if (due.length > 0) this.report(due, now);
  }

  nextDeadline(): number {
    if (!this.up) return Infinity;
    let t = Infinity;
    for (const p of this.pending.values()) if (p.at < t) t = p.at;
    return t;
  }

  /** An MLDv2 Report (RFC 3810 §5.2) of `records`, behind a hop-by-hop router alert. */
  private report(records: [Ipv6Addr, number][], now: number): void {
    const icmpLen = ICMPV6_HLEN + RECORD_LEN * records.length;
    const frame = new Uint8Array(TX_HEADROOM6 + HBH_LEN + icmpLen);
    emitRouterAlertHopByHop(frame, TX_HEADROOM6, IPPROTO_ICMPV6);
    const at = TX_HEADROOM6 + HBH_LEN;
    records.forEach(([group, type], i) => {
      const r = at + ICMPV6_HLEN + i * RECORD_LEN;
      frame[r] = type; // aux data length 0, no sources
      setU16(frame, r + 2, 0);
      writeIpv6(frame, r + 4, group);
    });
    // Before any address is ours (DAD still running), reports go from :: (RFC 3810 §5.2.13).
    const src = this.ip.sourceFor(ALL_MLDV2_ROUTERS);
    const from = isIpv6LinkLocal(src) ? src : IPV6_ANY;
    const icmp = this.tx;
    icmp.type = ICMPV6_MLD2_REPORT;
    icmp.code = 0;
    icmp.rest = records.length; // reserved (16 bits), then the number of records
    emitIcmpv6(icmp, frame, at, icmpLen, pseudoHeaderV6(from, ALL_MLDV2_ROUTERS, IPPROTO_ICMPV6, icmpLen));
    this.icmp.transmit(frame, HBH_LEN + icmpLen, from, ALL_MLDV2_ROUTERS, ICMPV6_MLD2_REPORT, now, 1, NEXTHDR_HOP);
  }
}

/** Whether a group is reported: not all-nodes, not interface-local (RFC 3810 §6). */
function reportable(group: Ipv6Addr): boolean {
  return group !== IPV6_ALL_NODES && ipv6MulticastScope(group) > 1;
}
