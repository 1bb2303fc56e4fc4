/**
 * The out-of-order queue: data that arrived beyond rcv.nxt, kept sorted and without
 * overlaps until the gap before it fills (RFC 9293 §3.10.7.4, "segment text"). What it
 * holds counts against the receive buffer, hence against the window we advertise.
 */
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt, type Seq } from './seq.js';

export interface OfoSegment {
  seq: Seq;
  /** A copy: the frame it came in is gone by the time the gap fills. */
  data: Uint8Array;
}

function end(s: OfoSegment): Seq {
  return seqAdd(s.seq, s.data.length);
}

export class OfoQueue {
  /** In sequence order, never overlapping. */
  readonly segments: OfoSegment[] = [];
  /** Payload bytes held. */
  bytes = 0;
  /** Where a FIN that came out of order sits, if one did. */
  finSeq: Seq | undefined;
  /** Bytes of the most recent arrivals, newest first: their blocks lead the SACK option (RFC 2018 §4). */
  private readonly recent: Seq[] = [];

  get empty(): boolean {
    return this.segments.length === 0 && this.finSeq === undefined;
  }

  /**
   * Adds the bytes of `data` (at `seq`) that are not already held; the first copy wins,
   * as in Linux. Returns false when nothing was new (Linux TCPOFOMerge).
   */
  insert(seq: Seq, data: Uint8Array, fin: boolean): boolean {
    const segs = this.segments;
    const last = seqAdd(seq, data.length);
    let added = false;
    if (fin && this.finSeq === undefined) {
      this.finSeq = last;
      added = true;
    }
    let i = 0;
    while (i < segs.length && seqLe(end(segs[i]!), seq)) i++;
    let cur = seq;
    while (seqLt(cur, last)) {
      const next = segs[i];
      if (next !== undefined && seqLe(next.seq, cur)) {
        cur = end(next);
        i++;
        continue;
      }
      const gapEnd = next !== undefined && seqLt(next.seq, last) ? next.seq : last;
      segs.splice(i, 0, { seq: cur, data: data.slice(seqDiff(cur, seq), seqDiff(gapEnd, seq)) });
      this.bytes += seqDiff(gapEnd, cur);
      if (!added) this.remember(cur);
      added = true;
      i++;
      cur = gapEnd;
    }
    return added;
  }

  /** Removes and returns the first segment if it starts at or before `rcvNxt`. */
  takeAt(rcvNxt: Seq): OfoSegment | undefined {
    const first = this.segments[0];
    if (first === undefined || seqGt(first.seq, rcvNxt)) return undefined;
    this.segments.shift();
    this.bytes -= first.data.length;
    return first;
  }

  private remember(seq: Seq): void {
    this.recent.unshift(seq);
    if (this.recent.length > 4) this.recent.length = 4;
  }

  /**
   * Up to `max` SACK blocks as [left, right) pairs into `out`, the blocks of the most
   * recent arrivals first (RFC 2018 §4), then the others in sequence order.
   */
  sackBlocks(out: Uint32Array, max: number): number {
    const blocks: Seq[] = [];
    for (const s of this.segments) {
      if (blocks.length > 0 && blocks[blocks.length - 1] === s.seq) blocks[blocks.length - 1] = end(s);
      else blocks.push(s.seq, end(s));
    }
    const used = new Set<number>();
    let n = 0;
    const put = (b: number): void => {
      if (n === max || used.has(b)) return;
      used.add(b);
      out[2 * n] = blocks[b]!;
      out[2 * n + 1] = blocks[b + 1]!;
      n++;
    };
    for (const seq of this.recent) {
      for (let b = 0; b < blocks.length; b += 2) {
        if (seqGe(seq, blocks[b]!) && seqLt(seq, blocks[b + 1]!)) put(b);
      }
    }
    for (let b = 0; b < blocks.length; b += 2) put(b);
    return n;
  }

  clear(): void {
    this.segments.length = 0;
    this.bytes = 0;
    this.finSeq = undefined;
    this.recent.length = 0;
  }
}
