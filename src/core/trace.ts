/**
 * Packet walk tracing: where a packet went, stage by stage, and how long each stage took —
 * like `pwru`, for the whole path from the link to the socket. Stages call `enter(stage)`
 * as a packet reaches them; with no tracer attached that is one assignment.
 *
 * A `Tracer` attached to the walk sees, for each received frame its filter accepts, the
 * stages in order with their times, the verdict, and the frames sent while the packet was
 * being handled (an echo reply, an ICMP error, an ACK).
 */
import { Stage, walk, type Describable, type TxStep } from './drop.js';
import { compileFilter, summarize, type FrameSummary } from './filter.js';

/** Marks that the packet being processed has reached `stage`. */
export function enter(stage: Stage): void {
  walk.stage = stage;
  if (walk.tracer !== null) walk.tracer.step(stage);
}

/** The packet reached a socket's receive queue: the end of its walk, delivered. */
export function deliver(sink: Describable): void {
  walk.sink = sink;
  enter(Stage.SOCKET);
}

/** One packet's walk. */
export interface PacketWalk {
  /** Sequence number of the packet among those traced. */
  id: number;
  /** Received at, on the tracer's clock (ms). */
  at: number;
  /** One line about the frame: protocol, addresses, ports, length. */
  summary: string;
  /** Stages in the order the packet reached them (then the transmit steps of any answer), with the time spent in each (ms). */
  stages: { stage: Stage | TxStep; at: number; spent: number }[];
  /** The deepest receive stage reached: where a dropped packet was dropped. */
  endStage: Stage;
  /** CONSUMED, or the drop reason. */
  verdict: string;
  /** The socket it was queued on, when it was. */
  socket?: string;
  /** The frames the stack sent while handling this one. */
  sent: string[];
}

/** A traced packet's data was read by the application. */
export interface AppRead {
  id: number;
  /** Milliseconds between the packet's arrival and the read. */
  afterMs: number;
}

export interface TracerOptions {
  /** A pcap-filter subset (see filter.ts); all packets when absent. */
  filter?: string;
  /** A clock with sub-millisecond resolution for stage timings. */
  now: () => number;
  /** Called with each finished walk. */
  onWalk: (w: PacketWalk) => void;
  /** Called when the application reads what a traced packet delivered. */
  onRead?: (r: AppRead) => void;
}

/** Delivered packets still waiting to be read, remembered at most (the oldest are forgotten). */
const AWAITING_READ = 1024;

export class Tracer {
  private readonly match: (s: FrameSummary) => boolean;
  private walking: PacketWalk | null = null;
  private nextId = 1;
  /** Arrival times of delivered packets not yet read, by id. */
  private readonly unread = new Map<number, number>();

  constructor(private readonly opts: TracerOptions) {
    this.match = compileFilter(opts.filter ?? '');
  }

  /** A frame enters the walk; returns whether it is traced. */
  begin(frame: Uint8Array): boolean {
    const s = summarize(frame);
    if (!this.match(s)) return false;
    const at = this.opts.now();
    this.walking = {
      id: this.nextId++, at, summary: s.text, stages: [{ stage: Stage.LINK, at, spent: 0 }], endStage: Stage.LINK, verdict: '', sent: [],
    };
    return true;
  }

  current(): number {
    return this.walking?.id ?? 0;
  }

  step(stage: Stage | TxStep): void {
    const w = this.walking;
    if (w === null) return;
    const at = this.opts.now();
    const last = w.stages[w.stages.length - 1]!;
    last.spent = at - last.at;
    w.stages.push({ stage, at, spent: 0 });
  }

  /** A frame the stack transmits while the traced packet is being handled. */
  sent(frame: Uint8Array): void {
    this.walking?.sent.push(summarize(frame).text);
  }

  end(verdict: string): void {
    const w = this.walking;
    if (w === null) return;
    this.walking = null;
    const last = w.stages[w.stages.length - 1]!;
    last.spent = this.opts.now() - last.at;
    w.verdict = verdict;
    w.endStage = walk.stage;
    if (walk.sink !== null) {
      w.socket = walk.sink.describe();
      this.unread.set(w.id, w.at);
      if (this.unread.size > AWAITING_READ) this.unread.delete(this.unread.keys().next().value as number);
    }
    this.opts.onWalk(w);
  }

  /** The application read what packet `id` delivered (the last tracepoint of its walk). */
  read(id: number): void {
    const at = this.unread.get(id);
    if (at === undefined) return;
    this.unread.delete(id);
    this.opts.onRead?.({ id, afterMs: this.opts.now() - at });
  }
}

/** The line `tapstack trace` prints when the application reads a traced packet's data. */
export function formatRead(r: AppRead): string {
  return `#${r.id} read by the application ${r.afterMs.toFixed(3)} ms after it arrived`;
}

/** A walk as one readable block, like pwru's output. */
export function formatWalk(w: PacketWalk): string {
  const lines = [`#${w.id} ${w.summary}`];
  for (const s of w.stages) lines.push(`  ${s.stage.padEnd(7)} ${(s.spent * 1000).toFixed(1).padStart(8)} µs`);
  const delivered = w.socket === undefined ? 'consumed' : `delivered to ${w.socket}`;
  lines.push(`  => ${w.verdict === 'CONSUMED' ? delivered : `dropped: ${w.verdict} at ${w.endStage}`}`);
  for (const s of w.sent) lines.push(`  sent ${s}`);
  return lines.join('\n');
}
