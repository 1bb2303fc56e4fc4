/**
 * IPv4 reassembly (RFC 791 §3.2, with Linux's rules where the RFC leaves room).
 *
 * Fragments of one datagram (same source, destination, protocol and ID) are kept in
 * offset order until the last one has come and no hole is left; they may arrive in any
 * order. The rules for trouble are Linux's (net/ipv4/ip_fragment.c, inet_fragment.c):
 *   - a fragment wholly inside one we hold is a duplicate: dropped, the datagram kept;
 *   - a fragment that partly overlaps another poisons the datagram: all of it is
 *     dropped (RFC 5722 asks this of IPv6; Linux does it for IPv4 too);
 *   - a second "last fragment" that disagrees, data past the end, an empty fragment or
 *     a datagram over 65535 bytes: the datagram is dropped;
 *   - a datagram not complete `timeoutMs` after its first fragment is dropped, with an
 *     ICMP Time Exceeded to the sender if we hold its first fragment (RFC 1122 §3.3.2).
 * Memory is bounded per datagram and for all of them together.
 */
/**
 * Reassembly of IP fragments, for IPv4 (RFC 791 §3.2) and IPv6 (RFC 8200 §4.5), with
 * Linux's rules where the RFCs leave room.
 *
 * Fragments of one datagram (same key: addresses, ID and, for IPv4, protocol) are kept in
 * offset order until the last one has come and no hole is left; they may arrive in any
 * order. The rules for trouble are Linux's (net/ipv4/inet_fragment.c, shared by both families):
 *   - a fragment wholly inside one we hold is a duplicate: dropped, the datagram kept;
 *   - a fragment that partly overlaps another poisons the datagram: all of it is
 *     dropped (RFC 5722 asks this of IPv6; Linux does it for IPv4 too);
 *   - a second "last fragment" that disagrees, data past the end, an empty fragment or
 *     a datagram over 65535 bytes: the datagram is dropped;
 *   - a datagram not complete `timeoutMs` after its first fragment is dropped, with an
 *     ICMP Time Exceeded to the sender if we hold its first fragment (RFC 1122 §3.3.2,
 *     RFC 8200 §4.5).
 * Memory is bounded per datagram and, shared by both families, for all of them together.
 */
import type { StackConfig } from '../core/config.js';
import { CONSUMED, DropReason, Stage, type DropCounts, type Verdict } from '../core/drop.js';

interface Fragment {
  offset: number;
  end: number;
  data: Uint8Array;
}

interface FragQueue {
  readonly key: string;
  readonly expires: number;
  /** In offset order, never overlapping. */
  readonly fragments: Fragment[];
  /** Payload length: exact once the last fragment is in, else the furthest end seen. */
  len: number;
  lastIn: boolean;
  /** Payload bytes held. */
  meat: number;
  /** Memory charged for this datagram. */
  mem: number;
  /** The first fragment's headers (the part that is not fragmented), once it is in. */
  header: Uint8Array | null;
}

/** The reassembly counters both families keep (Ip and Ip6 MIBs). */
export interface FragMib {
  ReasmReqds: number;
  ReasmOKs: number;
  ReasmFails: number;
  ReasmTimeout: number;
}

/** What one family adds: how to rebuild a whole packet, and what to say when time runs out. */
export interface FragFamily {
  readonly mib: FragMib;
  /** IpExt ReasmOverlaps, where the family counts them (IPv4 only). */
  readonly overlaps: { ReasmOverlaps: number } | null;
  readonly timeoutMs: number;
  /**
   * Bytes of the kept headers that the 65535-byte limit does not count: IPv6's fixed header
   * and Fragment header, as its Payload Length counts neither (RFC 8200 §4.5). IPv4's Total
   * Length counts its header: 0, the default.
   */
  readonly uncountedHeaderLen?: number;
  /**
   * The whole packet: `header` (the first fragment's headers) fixed up as an unfragmented
   * packet of `dataLen` bytes of data, with room for the data at its end.
   */
  rebuild(header: Uint8Array, dataLen: number): Uint8Array;
  /** Time ran out holding the first fragment: its headers and the start of its data. */
  timedOut(header: Uint8Array, firstData: Uint8Array, now: number): void;
}

/** Memory charged by every reassembly queue of the stack (Linux shares one limit per namespace). */
export interface FragMemory {
  used: number;
}

const MAX_DATAGRAM = 65_535;

export class Reassembly {
  private readonly queues = new Map<string, FragQueue>();

  constructor(
    private readonly cfg: StackConfig['frag'],
    private readonly family: FragFamily,
    private readonly shared: FragMemory,
    private readonly drops: DropCounts,
  ) {}

  /** Memory charged for all datagrams being reassembled, of both families. */
  get memory(): number {
    return this.shared.used;
  }

  get pending(): number {
    return this.queues.size;
  }

  /**
   * Takes one fragment of the datagram `key`: its data is `pkt[dataStart…]`, `dataLen` bytes
   * at `offset` in the datagram, and its headers (kept from the first fragment) are
   * `pkt[headerStart…dataStart)`. Returns the reassembled packet (headers at offset 0) when
   * this fragment completes it, else the fragment's verdict.
   */
  add(
    key: string, pkt: Uint8Array, headerStart: number, dataStart: number, offset: number, dataLen: number,
    moreFrags: boolean, now: number,
  ): Uint8Array | Verdict {
    const mib = this.family.mib;
    mib.ReasmReqds++;
    let q = this.queues.get(key);
    if (this.shared.used > this.cfg.highThreshBytes) {
      // Like Linux: above the limit no fragment is taken until old datagrams time out.
      mib.ReasmFails++;
      return DropReason.X_FRAG_MEM_LIMIT;
    }
    if (q === undefined) {
      q = { key, expires: now + this.family.timeoutMs, fragments: [], len: 0, lastIn: false, meat: 0, mem: 0, header: null };
      this.queues.set(key, q);
    }

    const headerLen = dataStart - headerStart;
    let end = offset + dataLen;
    if (!moreFrags) {
      if (end < q.len || (q.lastIn && end !== q.len)) return this.discard(q, DropReason.IP_INHDR);
      q.lastIn = true;
      q.len = end;
    } else {
      end &= ~7; // only the last fragment may end off an 8-byte boundary; Linux trims the rest
      if (end > q.len) {
        if (q.lastIn) return this.discard(q, DropReason.IP_INHDR);
        q.len = end;
      }
    }
    if (end === offset) return this.discard(q, DropReason.IP_INHDR);
    if (q.len + headerLen - (this.family.uncountedHeaderLen ?? 0) > MAX_DATAGRAM) return this.discard(q, DropReason.PKT_TOO_BIG);

    // Find where it goes, refusing duplicates and overlaps.
    const frags = q.fragments;
    let at = frags.length;
    for (let i = 0; i < frags.length; i++) {
      const f = frags[i]!;
      if (end <= f.offset) {
        at = i;
        break;
      }
      if (offset >= f.end) continue;
      if (offset >= f.offset && end <= f.end) return DropReason.DUP_FRAG;
      if (this.family.overlaps !== null) this.family.overlaps.ReasmOverlaps++;
      return this.discard(q, DropReason.X_FRAG_OVERLAP);
    }

    const cost = end - offset + this.cfg.perFragmentOverhead;
    if (q.mem + cost > this.cfg.maxDatagramBytes) return this.discard(q, DropReason.X_FRAG_MEM_LIMIT);
    const data = pkt.slice(dataStart, dataStart + (end - offset));
    frags.splice(at, 0, { offset, end, data });
    q.meat += data.length;
    q.mem += cost;
    this.shared.used += cost;
    if (offset === 0) q.header = pkt.slice(headerStart, dataStart);

    if (q.lastIn && q.header !== null && q.meat === q.len) return this.reassemble(q);
    return CONSUMED;
  }

  private reassemble(q: FragQueue): Uint8Array {
    const header = q.header!;
    const out = this.family.rebuild(header, q.len);
    const dataStart = out.length - q.len;
    for (const f of q.fragments) out.set(f.data, dataStart + f.offset);
    this.release(q);
    this.family.mib.ReasmOKs++;
    return out;
  }

  /** Gives up on a whole datagram; the fragments it held are dropped for `reason`. */
  private discard(q: FragQueue, reason: DropReason): DropReason {
    for (let i = 0; i < q.fragments.length; i++) this.drops.count(reason, Stage.FRAG);
    this.release(q);
    this.family.mib.ReasmFails++;
    return reason;
  }

  private release(q: FragQueue): void {
    this.queues.delete(q.key);
    this.shared.used -= q.mem;
  }

  // ── timers ──────────────────────────────────────────────────────────────

  /** Expires datagrams whose time is up. Queues are in creation order, hence in expiry order. */
  poll(now: number): void {
    for (const q of this.queues.values()) {
      if (q.expires > now) break;
      this.family.mib.ReasmTimeout++;
      const first = q.fragments[0];
      if (q.header !== null && first !== undefined && first.offset === 0) {
        this.family.timedOut(q.header, first.data, now);
      }
      this.discard(q, DropReason.FRAG_REASM_TIMEOUT);
    }
  }

  nextDeadline(): number {
    for (const q of this.queues.values()) return q.expires;
    return Infinity;
  }
}
