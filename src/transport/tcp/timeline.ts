/**
 * A connection's recent history for the time-sequence graph (core/tsg.ts): every segment
 * that took sequence space and every acceptable ACK, with the congestion window and
 * smoothed RTT the ACK left behind.
 *
 * Recording is off unless `Stack.recordTimelines(true)`; then each TCB carries one
 * Timeline and output.ts (`transmit`) and snd.ts (`processAck`) add to it. The events
 * live in a fixed ring of typed arrays, one column per field, so a long transfer neither
 * allocates per segment nor grows without bound: the oldest events give way (`overwritten`
 * counts them).
 *
 * Sequence numbers are kept relative to the ISS and unwrapped: each one is placed by its
 * signed 32-bit distance from the previous one (RFC 9293 §3.4 arithmetic), so a transfer
 * of more than 4 GiB keeps climbing instead of falling back to 0.
 */
import type { TsgEvent } from '../../core/tsg.js';
import { seqDiff, type Seq } from './seq.js';
import type { Tcb } from './tcb.js';

/** Events a Timeline keeps by default: a few thousand segments, a few hundred kB of memory. */
export const TIMELINE_EVENTS = 4096;

/** Slots allocated at first; the columns double from here as events come. */
const INITIAL_SLOTS = 64;

const SEND = 1;
const RTX = 2;
const ACK = 3;

export class Timeline {
  readonly capacity: number;
  /** Events that were pushed out of the ring by newer ones. */
  overwritten = 0;

  // One column per field; for a segment, `b` is its length, for an ACK the window edge.
  // The columns start small and double up to `capacity`: most connections (and every
  // SYN-cookie or half-open TCB of a flood) never need the whole ring.
  private kind: Uint8Array;
  private time: Float64Array;
  private a: Float64Array;
  private b: Float64Array;
  private sacks: Uint8Array;
  private cwnd: Float64Array;
  private srtt: Float32Array;
  /** Next slot to write, and how many slots hold events. */
  private head = 0;
  private count = 0;

  /** The unwrapping reference: the last sequence number seen, and where it was placed. */
  private started = false;
  private lastSeq: Seq = 0;
  private lastRel = 0;

  constructor(capacity = TIMELINE_EVENTS) {
    if (!Number.isInteger(capacity) || capacity <= 0) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    const n = Math.min(capacity, INITIAL_SLOTS);
    this.kind = new Uint8Array(n);
    this.time = new Float64Array(n);
    this.a = new Float64Array(n);
    this.b = new Float64Array(n);
    this.sacks = new Uint8Array(n);
    this.cwnd = new Float64Array(n);
    this.srtt = new Float32Array(n);
  }

  /** Events held now. */
  get length(): number {
    return this.count;
  }

  /**
   * A segment covering `span` sequence numbers from `seq` left at `now` (a retransmission
   * when `rtx`). Pure ACKs take no sequence space and are not recorded: they are the
   * peer's ACK events in its own timeline.
   */
  sent(tcb: Tcb, now: number, seq: Seq, span: number, rtx: boolean): void {
    const i = this.slot(now, rtx ? RTX : SEND);
    this.a[i] = this.rel(tcb, seq);
    this.b[i] = span;
  }

  /** An acceptable ACK of `ack` offering `window` bytes, with `sacks` SACK blocks, processed at `now`. */
  acked(tcb: Tcb, now: number, ack: Seq, window: number, sacks: number): void {
    const i = this.slot(now, ACK);
    const rel = this.rel(tcb, ack);
    this.a[i] = rel;
    this.b[i] = rel + window;
    this.sacks[i] = Math.min(sacks, 255);
    this.cwnd[i] = tcb.cc.cwnd;
    this.srtt[i] = tcb.rtt.srtt;
  }

  /** The events held, oldest first, in the form core/tsg.ts draws. */
  events(): TsgEvent[] {
    const out: TsgEvent[] = [];
    const first = (this.head - this.count + this.capacity) % this.capacity;
    for (let k = 0; k < this.count; k++) {
      const i = (first + k) % this.capacity;
      const t = this.time[i]!;
      if (this.kind[i] === ACK) {
        out.push({ type: 'ack', t, ack: this.a[i]!, win: this.b[i]!, sacks: this.sacks[i]!, cwnd: this.cwnd[i]!, srtt: this.srtt[i]! });
      } else {
        out.push({ type: 'send', t, seq: this.a[i]!, len: this.b[i]!, rtx: this.kind[i] === RTX });
      }
    }
    return out;
  }

  /** Claims the next slot, overwriting the oldest event when the ring is full. */
  private slot(now: number, kind: number): number {
    // Until the ring is first full, head === count and the columns can simply be extended.
    if (this.count === this.kind.length && this.count < this.capacity) this.grow(Math.min(this.capacity, 2 * this.count));
    const i = this.head;
    this.head = (i + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
    else this.overwritten++;
    this.kind[i] = kind;
    this.time[i] = now;
    return i;
  }

  private grow(n: number): void {
    const more = <T extends Uint8Array | Float32Array | Float64Array>(old: T, fresh: T): T => {
      fresh.set(old);
      return fresh;
    };
    this.kind = more(this.kind, new Uint8Array(n));
    this.time = more(this.time, new Float64Array(n));
    this.a = more(this.a, new Float64Array(n));
    this.b = more(this.b, new Float64Array(n));
    this.sacks = more(this.sacks, new Uint8Array(n));
    this.cwnd = more(this.cwnd, new Float64Array(n));
    this.srtt = more(this.srtt, new Float32Array(n));
  }

  /**
   * `seq` relative to the ISS, unwrapped. The ISS is read at the first event rather than
   * at creation because a SYN-cookie or simultaneous open settles it after the TCB exists.
   */
  private rel(tcb: Tcb, seq: Seq): number {
    if (!this.started) {
      this.started = true;
      this.lastSeq = tcb.iss;
      this.lastRel = 0;
    }
    this.lastRel += seqDiff(seq, this.lastSeq);
    this.lastSeq = seq;
    return this.lastRel;
  }
}
