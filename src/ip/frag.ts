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
import type { StackConfig } from '../core/config.js';
import type { IpExtMib, IpMib } from '../core/counters.js';
import { CONSUMED, DropReason, Stage, type DropCounts, type Verdict } from '../core/drop.js';
import { checksum } from '../wire/checksum.js';
import type { Ipv4Repr } from '../wire/ipv4.js';

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
  /** The first fragment's IP header (with options), once it is in. */
  header: Uint8Array | null;
}

/** Called when a datagram times out with its first fragment in hand: header + first data. */
export type ReassemblyTimeout = (header: Uint8Array, firstData: Uint8Array, now: number) => void;

const MAX_DATAGRAM = 65_535;

export class Ipv4Reassembly {
  private readonly queues = new Map<string, FragQueue>();
  private mem = 0;

  constructor(
    private readonly cfg: StackConfig['frag'],
    private readonly ip: IpMib,
    private readonly ipExt: IpExtMib,
    private readonly drops: DropCounts,
    private readonly onTimeout: ReassemblyTimeout,
  ) {}

  /** Memory charged for all datagrams being reassembled. */
  get memory(): number {
    return this.mem;
  }

  get pending(): number {
    return this.queues.size;
  }

  /**
   * Takes one fragment (`r` parsed from `pkt` at `ipOff`). Returns the reassembled
   * datagram — IP header at offset 0, fragment fields cleared — when this fragment
   * completes it, else the fragment's verdict.
   */
  add(pkt: Uint8Array, ipOff: number, r: Ipv4Repr, now: number): Uint8Array | Verdict {
    this.ip.ReasmReqds++;
    const key = `${r.src}/${r.dst}/${r.protocol}/${r.id}`;
    let q = this.queues.get(key);
    if (this.mem > this.cfg.highThreshBytes) {
      // Like Linux: above the limit no fragment is taken until old datagrams time out.
      this.ip.ReasmFails++;
      return DropReason.X_FRAG_MEM_LIMIT;
    }
    if (q === undefined) {
      q = { key, expires: now + this.cfg.timeoutMs, fragments: [], len: 0, lastIn: false, meat: 0, mem: 0, header: null };
      this.queues.set(key, q);
    }

    const offset = r.fragOffset;
    let end = offset + r.totalLength - r.headerLen;
    if (!r.moreFrags) {
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
    if (q.len + r.headerLen > MAX_DATAGRAM) return this.discard(q, DropReason.PKT_TOO_BIG);

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
      this.ipExt.ReasmOverlaps++;
      return this.discard(q, DropReason.X_FRAG_OVERLAP);
    }

    const cost = end - offset + this.cfg.perFragmentOverhead;
    if (q.mem + cost > this.cfg.maxDatagramBytes) return this.discard(q, DropReason.X_FRAG_MEM_LIMIT);
    const dataStart = ipOff + r.headerLen;
    const data = pkt.slice(dataStart, dataStart + (end - offset));
    frags.splice(at, 0, { offset, end, data });
    q.meat += data.length;
    q.mem += cost;
    this.mem += cost;
    if (offset === 0) q.header = pkt.slice(ipOff, ipOff + r.headerLen);

    if (q.lastIn && q.header !== null && q.meat === q.len) return this.reassemble(q);
    return CONSUMED;
  }

  private reassemble(q: FragQueue): Uint8Array {
    const header = q.header!;
    const hl = header.length;
    const total = hl + q.len;
    const out = new Uint8Array(total);
    out.set(header, 0);
    for (const f of q.fragments) out.set(f.data, hl + f.offset);
    // Total length, flags and offset of a whole datagram; then a fresh header checksum.
    out[2] = total >>> 8;
    out[3] = total & 0xff;
    out[6] = header[6]! & 0x40; // keep DF, clear MF and the offset
    out[7] = 0;
    out[10] = 0;
    out[11] = 0;
    const sum = checksum(out, 0, hl);
    out[10] = sum >>> 8;
    out[11] = sum & 0xff;
    this.release(q);
    this.ip.ReasmOKs++;
    return out;
  }

  /** Gives up on a whole datagram; the fragments it held are dropped for `reason`. */
  private discard(q: FragQueue, reason: DropReason): DropReason {
    for (let i = 0; i < q.fragments.length; i++) this.drops.count(reason, Stage.FRAG);
    this.release(q);
    this.ip.ReasmFails++;
    return reason;
  }

  private release(q: FragQueue): void {
    this.queues.delete(q.key);
    this.mem -= q.mem;
  }

  // ── timers ──────────────────────────────────────────────────────────────

  /** Expires datagrams whose time is up. Queues are in creation order, hence in expiry order. */
  poll(now: number): void {
    for (const q of this.queues.values()) {
      if (q.expires > now) break;
      this.ip.ReasmTimeout++;
      const first = q.fragments[0];
      if (q.header !== null && first !== undefined && first.offset === 0) {
        this.onTimeout(q.header, first.data, now);
      }
      this.discard(q, DropReason.FRAG_REASM_TIMEOUT);
    }
  }

  nextDeadline(): number {
    for (const q of this.queues.values()) return q.expires;
    return Infinity;
  }
}
