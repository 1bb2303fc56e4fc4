/**
 * The neighbour cache: which MAC answers for an IP address on the link, and the
 * packets waiting while we ask. The state machine is Linux's (net/core/neighbour.c),
 * which is RFC 4861's: ARP's table and NDP's are two instances of this class.
 *
 *   (none) ─output─► INCOMPLETE ─reply─► REACHABLE ─reachable_time─► STALE
 *                      │  mcast_solicit                                │ output
 *                      ▼  requests lost                                ▼
 *                    FAILED ◄─ucast_solicit probes lost── PROBE ◄─5 s─ DELAY
 *
 * Every entry's timer lives on the virtual clock; `poll(now)` runs the due ones.
 * Bounded: at most `gcThresh3` entries, `unresQlenBytes` queued per entry.
 */
import type { StackConfig } from '../core/config.js';
import type { NeighStats } from '../core/counters.js';
import { DropReason, Stage, walk, type DropCounts } from '../core/drop.js';
import type { IpAddr, Mac } from '../wire/addr.js';

export const NudState = {
  INCOMPLETE: 'INCOMPLETE',
  REACHABLE: 'REACHABLE',
  STALE: 'STALE',
  DELAY: 'DELAY',
  PROBE: 'PROBE',
  FAILED: 'FAILED',
} as const;
export type NudState = (typeof NudState)[keyof typeof NudState];

export interface NeighborEntry {
  readonly addr: IpAddr;
  mac: Mac;
  state: NudState;
  /** When the current state's timer fires; Infinity when it has none. */
  due: number;
  /** Last time the entry was used for output or updated (gc_stale_time). */
  used: number;
  /** Solicitations sent in the current INCOMPLETE or PROBE phase. */
  probes: number;
  /** Frames waiting for the address to resolve (INCOMPLETE only). */
  queue: Uint8Array[];
  queueBytes: number;
}

/** What the table needs from the protocol that owns it (ARP or NDP). */
export interface NeighborOps {
  /** Ask for `addr`: broadcast when `mac` is undefined, else a unicast probe. */
  solicit(addr: IpAddr, mac: Mac | undefined, now: number): void;
  /** Send a frame whose link-layer destination is now known. */
  transmit(frame: Uint8Array, mac: Mac): void;
}

export class NeighborTable {
  private readonly entries = new Map<IpAddr, NeighborEntry>();

  constructor(
    private readonly cfg: StackConfig['neigh'],
    private readonly stats: NeighStats,
    private readonly drops: DropCounts,
    private readonly ops: NeighborOps,
    private readonly random: () => number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  lookup(addr: IpAddr): NeighborEntry | undefined {
    return this.entries.get(addr);
  }

  /** All entries, for `ip neigh`-style listings. */
  list(): readonly NeighborEntry[] {
    return [...this.entries.values()];
  }

  // ── egress: resolve, then send or queue ─────────────────────────────────

  /** Sends `frame` to `addr` on the link, resolving it first if needed. */
  output(frame: Uint8Array, addr: IpAddr, now: number): void {
    walk.tracer?.step('neigh');
    this.stats.lookups++;
    let n = this.entries.get(addr);
    if (n === undefined) {
      n = this.create(addr, now);
      if (n === undefined) {
        this.drops.count(DropReason.NEIGH_CREATEFAIL, Stage.NEIGH);
        return;
      }
    } else {
      this.stats.hits++;
    }
    n.used = now;

    switch (n.state) {
      case NudState.REACHABLE:
      case NudState.DELAY:
      case NudState.PROBE:
        this.ops.transmit(frame, n.mac);
        return;
      case NudState.STALE:
        // Use the old address at once, and check it in a while (RFC 4861 §7.3.3).
        this.enter(n, NudState.DELAY, now + this.cfg.delayFirstProbeTimeMs);
        this.ops.transmit(frame, n.mac);
        return;
      case NudState.FAILED:
        this.startResolving(n, now);
        this.enqueue(n, frame);
        return;
      case NudState.INCOMPLETE:
        this.enqueue(n, frame);
        return;
    }
  }

  private create(addr: IpAddr, now: number): NeighborEntry | undefined {
    if (this.entries.size >= this.cfg.gcThresh3 && !this.forcedGc()) {
      this.stats.table_fulls++;
      return undefined;
    }
    const n: NeighborEntry = {
      addr, mac: 0, state: NudState.FAILED, due: Infinity, used: now, probes: 0, queue: [], queueBytes: 0,
    };
    this.entries.set(addr, n);
    this.stats.allocs++;
    this.stats.entries = this.entries.size;
    this.startResolving(n, now);
    return n;
  }

  private startResolving(n: NeighborEntry, now: number): void {
    n.probes = 1;
    this.enter(n, NudState.INCOMPLETE, now + this.cfg.retransTimeMs);
    this.ops.solicit(n.addr, undefined, now);
  }

  /** Queue while INCOMPLETE; the oldest frames go first when the queue is full. */
  private enqueue(n: NeighborEntry, frame: Uint8Array): void {
    n.queue.push(frame);
    n.queueBytes += frame.length;
    while (n.queueBytes > this.cfg.unresQlenBytes && n.queue.length > 0) {
      const old = n.queue.shift()!;
      n.queueBytes -= old.length;
      this.stats.unresolved_discards++;
      this.drops.count(DropReason.NEIGH_QUEUEFULL, Stage.NEIGH);
    }
  }

  // ── ingress: what ARP (or NDP) learned ──────────────────────────────────

  /**
   * Records that `addr` is at `mac`. `create` makes an entry if there is none (a
   * request addressed to us, RFC 826's merge); `confirmed` marks it REACHABLE.
   */
  update(addr: IpAddr, mac: Mac, confirmed: boolean, create: boolean, now: number): void {
    let n = this.entries.get(addr);
    if (n === undefined) {
      if (!create) return;
      if (this.entries.size >= this.cfg.gcThresh3 && !this.forcedGc()) {
        this.stats.table_fulls++;
        return;
      }
      n = { addr, mac, state: NudState.STALE, due: Infinity, used: now, probes: 0, queue: [], queueBytes: 0 };
      this.entries.set(addr, n);
      this.stats.allocs++;
      this.stats.entries = this.entries.size;
    }

    const valid = n.state !== NudState.INCOMPLETE && n.state !== NudState.FAILED;
    const changed = !valid || n.mac !== mac;
    n.mac = mac;
    if (confirmed) {
      this.enter(n, NudState.REACHABLE, now + this.reachableTime());
    } else if (changed) {
      // A new address is not proof of reachability: use it, and let DELAY/PROBE check it.
      this.enter(n, NudState.STALE, Infinity);
    }
    // Same address heard unconfirmed: keep the state (Linux __neigh_update).

    if (n.queue.length > 0) {
      const queued = n.queue;
      n.queue = [];
      n.queueBytes = 0;
      for (const frame of queued) this.ops.transmit(frame, mac);
    }
  }

  /**
   * A Neighbor Advertisement for `addr` (RFC 4861 §7.2.5): `mac` is its target link-layer
   * address option (undefined if it had none), `solicited` and `override` its S and O flags.
   * An advertisement for an address we are not resolving creates nothing.
   */
  advertised(addr: IpAddr, mac: Mac | undefined, solicited: boolean, override: boolean, now: number): void {
    const n = this.entries.get(addr);
    // A FAILED entry stands for none (RFC 4861 deletes it; Linux ignores advertisements for it).
    if (n === undefined || n.state === NudState.FAILED) return;
    if (n.state === NudState.INCOMPLETE) {
      if (mac === undefined) return;
      this.update(addr, mac, solicited, false, now);
      return;
    }
    const differs = mac !== undefined && mac !== n.mac;
    if (!override && differs) {
      // Someone else claims the address without authority: doubt the entry, keep its address.
      if (n.state === NudState.REACHABLE) this.enter(n, NudState.STALE, Infinity);
      return;
    }
    if (solicited) this.update(addr, mac ?? n.mac, true, false, now);
    else if (differs) this.update(addr, mac, false, false, now);
  }

  // ── timers ──────────────────────────────────────────────────────────────

  /** Runs every timer that is due. */
  poll(now: number): void {
    for (const n of this.entries.values()) {
      switch (n.state) {
        case NudState.STALE:
          if (now - n.used >= this.cfg.gcStaleTimeMs) this.destroy(n);
          break;
        case NudState.FAILED:
          if (now >= n.due) this.destroy(n);
          break;
        default:
          if (now >= n.due) this.expire(n, now);
      }
    }
  }

  /** The earliest time `poll` has work to do. */
  nextDeadline(): number {
    let t = Infinity;
    for (const n of this.entries.values()) {
      const due = n.state === NudState.STALE ? n.used + this.cfg.gcStaleTimeMs : n.due;
      if (due < t) t = due;
    }
    return t;
  }

  private expire(n: NeighborEntry, now: number): void {
    switch (n.state) {
      case NudState.REACHABLE:
        this.enter(n, NudState.STALE, Infinity);
        return;
      case NudState.DELAY:
        n.probes = 1;
        this.enter(n, NudState.PROBE, now + this.cfg.retransTimeMs);
        this.ops.solicit(n.addr, n.mac, now);
        return;
      case NudState.INCOMPLETE:
      case NudState.PROBE: {
        const max = n.state === NudState.INCOMPLETE ? this.cfg.mcastSolicit : this.cfg.ucastSolicit;
        if (n.probes < max) {
          n.probes++;
          n.due = now + this.cfg.retransTimeMs;
          this.ops.solicit(n.addr, n.state === NudState.PROBE ? n.mac : undefined, now);
          return;
        }
        this.fail(n, now);
        return;
      }
    }
  }

  /** Resolution failed: drop what waited, keep the entry a moment so a burst does not re-ask. */
  private fail(n: NeighborEntry, now: number): void {
    this.stats.res_failed++;
    for (let i = 0; i < n.queue.length; i++) this.drops.count(DropReason.NEIGH_FAILED, Stage.NEIGH);
    n.queue = [];
    n.queueBytes = 0;
    this.enter(n, NudState.FAILED, now + this.cfg.retransTimeMs);
  }

  private enter(n: NeighborEntry, state: NudState, due: number): void {
    n.state = state;
    n.due = due;
  }

  private destroy(n: NeighborEntry): void {
    this.entries.delete(n.addr);
    this.stats.destroys++;
    this.stats.entries = this.entries.size;
  }

  /** Frees one entry that nobody waits on: a FAILED one, else the least recently used STALE one. */
  private forcedGc(): boolean {
    this.stats.forced_gc_runs++;
    let victim: NeighborEntry | undefined;
    for (const n of this.entries.values()) {
      if (n.state === NudState.FAILED) {
        victim = n;
        break;
      }
      if (n.state === NudState.STALE && (victim === undefined || n.used < victim.used)) victim = n;
    }
    if (victim === undefined) return false;
    this.destroy(victim);
    return true;
  }

  /** A random 0.5–1.5 × base_reachable_time, so neighbours do not probe in lockstep. */
  private reachableTime(): number {
    return Math.floor(this.cfg.baseReachableTimeMs * (0.5 + this.random()));
  }
}
