/**
 * TCP for the stack: the TCB table, listeners, the timers, and the operations the
 * socket layer calls (listen, connect, write, read, shutdown, close). What happens when
 * a segment arrives is in input.ts, the sending half in snd.ts, the receiving half in
 * rcv.ts, segment building in output.ts.
 */
import type { StackConfig } from '../../core/config.js';
import type { TcpExtMib, TcpMib } from '../../core/counters.js';
import type { DropCounts, Verdict } from '../../core/drop.js';
import type { Random } from '../../core/random.js';
import { TokenBucket } from '../../core/ratelimit.js';
import { bindConflict, isWildcard, type Ip, type IpRx } from '../../ip/ip.js';
import type { SocketRow } from '../../core/ss.js';
import { RouteType } from '../../ip/route.js';
import { IPV6_ANY, isIpv4, type IpAddr } from '../../wire/addr.js';
import { IPPROTO_TCP } from '../../wire/ipv4.js';
import { TCP_ACK, TCP_SYN, type TcpRepr } from '../../wire/tcp.js';
import { createCongestionControl } from './congestion/index.js';
import { LifeLog, TCP_LIFE_RECORDS, connectionRow, listenerRow } from './info.js';
import { segmentArrives } from './input.js';
import { IsnGenerator } from './isn.js';
import { sendAck, sendReset, transmit } from './output.js';
import { windowAfterRead } from './rcv.js';
import { RttEstimator } from './rtt.js';
import { seqAdd, seqLe, type Seq } from './seq.js';
import { output, persistTimeout, retransmitTimeout } from './snd.js';
import { SynCookies } from './syncookies.js';
import { Tcb, TcpState, Wake, type TcpUser } from './tcb.js';
import { TcbTable } from './table.js';
import { TimerHeap } from './timers.js';
import { Timeline } from './timeline.js';

/** A received segment, parsed once (a scratch object reused for every segment). */
export interface Segment {
  src: IpAddr;
  dst: IpAddr;
  seq: Seq;
  ack: Seq;
  flags: number;
  /** The window in bytes: scaled by the connection's shift, except on a SYN. */
  window: number;
  /** Payload bytes (SYN and FIN not counted). */
  len: number;
  pkt: Uint8Array;
  dataOff: number;
  /** The parsed header and options. */
  tcp: TcpRepr;
}

/** A listening socket: its half-open connections and its accept queue (RFC 9293 §3.10.7.2). */
export class Listener {
  /** Connections in SYN-RECEIVED on this listener. */
  pendingCount = 0;
  /** Handshakes completed, not yet handed to the application. */
  readonly acceptQueue: Tcb[] = [];
  /** When the SYN queue last overflowed: cookies are honoured for a while after (Linux tcp_synq_no_recent_overflow). */
  overflowAt = -Infinity;
  closed = false;

  constructor(
    /** 0 takes IPv4 only, `::` both families. */
    readonly localAddr: IpAddr,
    readonly localPort: number,
    /** Limit of both queues (listen(2) backlog, capped by somaxconn). */
    readonly backlog: number,
    readonly onConnection: (tcb: Tcb) => void,
  ) {}
}

export type TcpError = 'EADDRINUSE' | 'EADDRNOTAVAIL' | 'ENETUNREACH' | 'EINVAL' | 'ENOTCONN' | 'EPIPE';

export class Tcp {
  readonly conns = new TcbTable();
  private readonly listeners = new Map<number, Listener[]>();
  private readonly heap = new TimerHeap<Tcb>();
  private woken: Tcb[] = [];
  /** Connections owing an ACK once the current batch of received frames is through. */
  private readonly ackBatch: Tcb[] = [];
  private wokenListeners: Listener[] = [];
  readonly isn: IsnGenerator;
  readonly cookies: SynCookies;
  readonly challengeAcks: TokenBucket;
  /** Connections in TIME-WAIT now (bounded by tcp_max_tw_buckets). */
  private timeWaitCount = 0;
  /** The last tracepoint: the application read a traced packet's data. */
  appRead: ((trace: number) => void) | null = null;
  /** Window scale we offer, sized to the receive buffer (RFC 7323 §2.3). */
  readonly rcvWscale: number;
  /** The tcplife log: the most recent closed connections. */
  readonly life = new LifeLog(TCP_LIFE_RECORDS);
  /** New connections get a Timeline for the time-sequence graph (Stack.recordTimelines). */
  recordTimelines = false;

  constructor(
    readonly cfg: StackConfig['tcp'],
    readonly mib: TcpMib,
    readonly ext: TcpExtMib,
    readonly drops: DropCounts,
    readonly ip: Ip,
    readonly random: Random,
  ) {
    const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
    this.isn = new IsnGenerator(bytes(16));
    this.cookies = new SynCookies(bytes(32));
    this.challengeAcks = new TokenBucket(cfg.challengeAckLimit, cfg.challengeAckLimit);
    let shift = 0;
    while (shift < 14 && cfg.rmem >>> shift > 0xffff) shift++;
    this.rcvWscale = cfg.windowScaling ? shift : 0;
  }

  // ── ingress ──────────────────────────────────────────────────────────────

  input(rx: IpRx, now: number): Verdict {
    return segmentArrives(this, rx, now);
  }

  lookup(local: IpAddr, localPort: number, remote: IpAddr, remotePort: number): Tcb | undefined {
    return this.conns.get(local, localPort, remote, remotePort);
  }

  /**
   * The listener for a port: one bound to the exact address first, then the wildcard of
   * the address's family (`0.0.0.0` for IPv4), then `::`, which takes both.
   */
  listener(local: IpAddr, port: number): Listener | undefined {
    const ls = this.listeners.get(port);
    if (ls === undefined) return undefined;
    const v4 = isIpv4(local);
    let any: Listener | undefined;
    for (const l of ls) {
      if (l.localAddr === local) return l;
      if (l.localAddr === IPV6_ANY) any ??= l;
      else if (l.localAddr === 0 && v4) any = l;
    }
    return any;
  }

  // ── TCB life cycle ───────────────────────────────────────────────────────

  /** A TCB with this stack's buffers, estimator, congestion control and timestamp offset. */
  newTcb(local: IpAddr, localPort: number, remote: IpAddr, remotePort: number, now: number): Tcb {
    const cfg = this.cfg;
    const advMss = this.ip.maxPayload(remote) - 20;
    const tcb = new Tcb(local, localPort, remote, remotePort, {
      rmem: cfg.rmem,
      wmem: cfg.wmem,
      keepaliveIdleMs: cfg.keepaliveTimeMs,
      rtt: new RttEstimator({ initialRto: cfg.initialRtoMs, minRto: cfg.minRtoMs, maxRto: cfg.maxRtoMs }),
      cc: createCongestionControl(cfg.congestion, advMss),
    });
    tcb.advMss = advMss;
    // Without an MSS option the peer takes the family's least: 536 (RFC 9293 §3.7.1), 1220 (RFC 8200 §5).
    const defaultMss = isIpv4(remote) ? 536 : 1220;
    tcb.mss = Math.min(defaultMss, advMss);
    tcb.pseudo = this.ip.pseudo(local, remote, IPPROTO_TCP, 0);
    tcb.rcvWscale = this.rcvWscale;
    tcb.tsOffset = this.isn.tsOffset(local, remote);
    tcb.iss = this.isn.isn(local, localPort, remote, remotePort, now);
    tcb.sndUna = tcb.sndNxt = tcb.sndMax = tcb.sndSml = tcb.iss;
    tcb.sndBufSeq = seqAdd(tcb.iss, 1);
    tcb.lastActivity = now;
    tcb.createdAt = tcb.lastDataSentAt = tcb.lastDataRecvAt = tcb.lastAckRecvAt = now;
    tcb.ato = cfg.delackMs;
    // Linux's first guess at the peer's segment size (tcp_initialize_rcv_mss): TCP_MSS_DEFAULT.
    tcb.rcvMss = Math.min(defaultMss, advMss);
    if (this.recordTimelines) tcb.timeline = new Timeline();
    return tcb;
  }

  /** Moves `tcb` to `state`, keeping CurrEstab and EstabResets as Linux's tcp_set_state does. */
  setState(tcb: Tcb, state: TcpState): void {
    const was = tcb.state;
    const estab = (s: TcpState): boolean => s === TcpState.ESTABLISHED || s === TcpState.CLOSE_WAIT;
    if (estab(was) && !estab(state)) this.mib.CurrEstab--;
    if (!estab(was) && estab(state)) this.mib.CurrEstab++;
    tcb.state = state;
  }

  /** The connection is over: out of the table, timers off, the application told (with `error` if aborted). */
  destroy(tcb: Tcb, error: string | null, now: number): void {
    if (tcb.state === TcpState.CLOSED) return;
    const was = tcb.state;
    if (was === TcpState.TIME_WAIT) this.timeWaitCount--;
    // TIME-WAIT was logged on entry; a handshake that never left the SYN queue is, in Linux,
    // a request socket that tcplife never sees (and a SYN flood would wash the log out).
    else if (!(was === TcpState.SYN_RECEIVED && tcb.listener !== null)) this.life.record(tcb, error, now);
    if (error !== null && (was === TcpState.ESTABLISHED || was === TcpState.CLOSE_WAIT)) this.mib.EstabResets++;
    if (was === TcpState.SYN_SENT || was === TcpState.SYN_RECEIVED) this.mib.AttemptFails++;
    this.setState(tcb, TcpState.CLOSED);
    this.conns.delete(tcb);
    if (tcb.listener !== null && was === TcpState.SYN_RECEIVED) tcb.listener.pendingCount--;
    tcb.listener = null;
    tcb.rtoAt = tcb.delackAt = tcb.persistAt = tcb.keepaliveAt = tcb.closeAt = Infinity;
    tcb.sndBuf.clear();
    tcb.ofo.clear();
    tcb.error = error;
    this.notify(tcb, Wake.CLOSED);
  }

  /** Enters TIME-WAIT for 2·MSL (RFC 9293 §3.6.1), unless tcp_max_tw_buckets are taken. */
  timeWait(tcb: Tcb, now: number): void {
    if (this.timeWaitCount >= this.cfg.maxTwBuckets) {
      // Like Linux: past the limit the connection closes at once (TCPTimeWaitOverflow).
      this.ext.TCPTimeWaitOverflow++;
      this.destroy(tcb, null, now);
      return;
    }
    this.timeWaitCount++;
    this.setState(tcb, TcpState.TIME_WAIT);
    this.life.record(tcb, null, now);
    tcb.rtoAt = tcb.persistAt = tcb.keepaliveAt = Infinity;
    tcb.sndBuf.clear();
    tcb.closeAt = now + this.cfg.timeWaitMs;
    this.schedule(tcb);
    // The application is done with it: TIME-WAIT belongs to the stack alone.
    this.notify(tcb, Wake.CLOSED);
  }

  /** Files `tcb` in the timer heap if its earliest timer moved earlier. */
  schedule(tcb: Tcb): void {
    const at = tcb.nextTimer();
    if (at < tcb.scheduledAt) {
      tcb.scheduledAt = at;
      this.heap.push(at, tcb);
    }
  }

  /** Owes `tcb` an ACK after the batch (unless something it sends first carries one). */
  ackAfterBatch(tcb: Tcb): void {
    if (tcb.ackAtBatchEnd) return;
    tcb.ackAtBatchEnd = true;
    this.ackBatch.push(tcb);
  }

  /** The batch of received frames is through: the ACKs it deferred go out, one per connection. */
  endOfBatch(now: number): void {
    const list = this.ackBatch;
    for (let i = 0; i < list.length; i++) {
      const tcb = list[i]!;
      tcb.ackAtBatchEnd = false;
      // unackedBytes is 0 if a segment we sent meanwhile carried the ACK.
      if (tcb.unackedBytes > 0 && tcb.state !== TcpState.CLOSED) sendAck(this, tcb, now);
    }
    list.length = 0;
  }

  /** Queues an application notification, delivered by `wakeUsers` after the batch. */
  notify(tcb: Tcb, what: number): void {
    tcb.wake |= what;
    this.enqueueWake(tcb);
  }

  /** Puts `tcb` on the list to wake if a stage left it notifications. */
  enqueueWake(tcb: Tcb): void {
    if (tcb.wake !== 0 && !tcb.wakeQueued) {
      tcb.wakeQueued = true;
      this.woken.push(tcb);
    }
  }

  /** Queues a completed handshake for its listener. */
  accepted(l: Listener): void {
    if (!this.wokenListeners.includes(l)) this.wokenListeners.push(l);
  }

  // ── the application's side ───────────────────────────────────────────────

  listen(local: IpAddr, port: number, backlog: number, onConnection: (tcb: Tcb) => void): Listener | TcpError {
    if (!isWildcard(local) && !this.ip.isLocal(local)) return 'EADDRNOTAVAIL';
    if (port === 0) {
      const p = this.ephemeralPort((candidate) => this.listeners.has(candidate));
      if (p === undefined) return 'EADDRINUSE';
      port = p;
    }
    const ls = this.listeners.get(port) ?? [];
    if (ls.some((l) => bindConflict(l.localAddr, local))) return 'EADDRINUSE';
    const l = new Listener(local, port, Math.max(1, Math.min(backlog, this.cfg.somaxconn)), onConnection);
    ls.push(l);
    this.listeners.set(port, ls);
    return l;
  }

  /** Stops listening; connections not yet accepted are reset (Linux inet_csk_listen_stop). */
  unlisten(l: Listener, now: number): void {
    l.closed = true;
    const ls = this.listeners.get(l.localPort);
    if (ls !== undefined) {
      ls.splice(ls.indexOf(l), 1);
      if (ls.length === 0) this.listeners.delete(l.localPort);
    }
    for (const tcb of l.acceptQueue.splice(0)) this.abort(tcb, now);
    for (const tcb of [...this.conns.values()]) {
      if (tcb.listener === l) this.abort(tcb, now);
    }
  }

  /** Active open (RFC 9293 §3.10.1): a SYN to `remote:remotePort` from an ephemeral port. */
  connect(remote: IpAddr, remotePort: number, user: TcpUser, now: number): Tcb | TcpError {
    const ip = this.ip;
    if (remotePort <= 0 || remotePort > 0xffff || isWildcard(remote)) return 'EINVAL';
    const rtype = ip.classify(remote);
    if (rtype === RouteType.BROADCAST || rtype === RouteType.MULTICAST) return 'ENETUNREACH';
    if (rtype !== RouteType.LOCAL && !ip.hasRoute(remote)) return 'ENETUNREACH';
    const local = rtype === RouteType.LOCAL ? remote : ip.sourceFor(remote);
    const port = this.ephemeralPort((p) => this.conns.has(local, p, remote, remotePort) || this.listeners.has(p));
    if (port === undefined) return 'EADDRNOTAVAIL';

    const tcb = this.newTcb(local, port, remote, remotePort, now);
    tcb.user = user;
    this.setState(tcb, TcpState.SYN_SENT);
    this.conns.set(tcb);
    this.mib.ActiveOpens++;
    transmit(this, tcb, tcb.iss, 0, TCP_SYN, now);
    tcb.sndNxt = seqAdd(tcb.iss, 1);
    tcb.rtoAt = now + tcb.rtt.currentRto();
    this.schedule(tcb);
    return tcb;
  }

  /** Copies as much of `data` as the send buffer takes; returns the bytes taken. */
  write(tcb: Tcb, data: Uint8Array, now: number): number {
    const room = tcb.sndBufLimit - tcb.sndBuf.length;
    const n = Math.min(room, data.length);
    if (n <= 0) return 0;
    tcb.sndBuf.push(data.slice(0, n));
    output(this, tcb, now);
    return n;
  }

  /** Reports the traced packets whose last byte the application has now read. */
  private tracedReads(tcb: Tcb): void {
    // The first unread byte: rcv.nxt less what waits in the buffer (and the FIN, if counted).
    const unread = seqAdd(tcb.rcvNxt, -(tcb.rcvBuf.length + (tcb.finReceived ? 1 : 0)));
    const marks = tcb.traceMarks;
    while (marks.length > 0 && seqLe(marks[0]!, unread)) {
      this.appRead?.(marks[1]!);
      marks.splice(0, 2);
    }
  }

  /** Takes up to `max` bytes the application may read; undefined when none wait. */
  read(tcb: Tcb, max: number, now: number): Uint8Array | undefined {
    const chunk = tcb.rcvBuf.shift(max);
    if (chunk !== undefined && tcb.traceMarks.length > 0) this.tracedReads(tcb);
    if (chunk !== undefined && windowAfterRead(tcb) && tcb.state !== TcpState.CLOSED) {
      tcb.ackNow = true;
      output(this, tcb, now);
    }
    return chunk;
  }

  /** The application has nothing more to send (shutdown(SHUT_WR)): queue our FIN (RFC 9293 §3.10.4). */
  shutdown(tcb: Tcb, now: number): void {
    if (tcb.finQueued) return;
    switch (tcb.state) {
      case TcpState.SYN_SENT:
        this.destroy(tcb, null, now);
        return;
      case TcpState.SYN_RECEIVED:
      case TcpState.ESTABLISHED:
        tcb.finQueued = true;
        if (tcb.state === TcpState.ESTABLISHED) this.setState(tcb, TcpState.FIN_WAIT_1);
        break;
      case TcpState.CLOSE_WAIT:
        tcb.finQueued = true;
        this.setState(tcb, TcpState.LAST_ACK);
        break;
      default:
        return;
    }
    output(this, tcb, now);
  }

  /**
   * The application closed the socket. Unread data makes it an abort (RST, RFC 9293
   * §3.10.4 and RFC 2525 §2.17, as Linux: TCPAbortOnClose); otherwise a graceful close,
   * with FIN-WAIT-2 bounded by tcp_fin_timeout since nobody will read any more.
   */
  close(tcb: Tcb, now: number): void {
    tcb.orphan = true;
    tcb.user = null;
    if (tcb.state === TcpState.CLOSED || tcb.state === TcpState.TIME_WAIT) return;
    if (tcb.rcvBuf.length > 0) {
      this.ext.TCPAbortOnClose++;
      this.abort(tcb, now);
      return;
    }
    this.shutdown(tcb, now);
  }

  /** Sends a RST and drops the connection (RFC 9293 §3.10.5 ABORT). */
  abort(tcb: Tcb, now: number): void {
    const s = tcb.state;
    if (s === TcpState.SYN_RECEIVED || s === TcpState.ESTABLISHED || s === TcpState.FIN_WAIT_1 ||
        s === TcpState.FIN_WAIT_2 || s === TcpState.CLOSE_WAIT) {
      // As Linux's tcp_send_active_reset: RST|ACK, so the peer takes it whatever it sent last.
      sendReset(this, tcb.localAddr, tcb.localPort, tcb.remoteAddr, tcb.remotePort, tcb.sndNxt, tcb.rcvNxt, true, now);
    }
    this.destroy(tcb, 'ECONNRESET', now);
  }

  // ── timers ───────────────────────────────────────────────────────────────

  poll(now: number): void {
    for (let guard = 0; guard < 1_000_000 && this.heap.peek() <= now; guard++) {
      const at = this.heap.peek();
      const tcb = this.heap.pop()!;
      if (tcb.scheduledAt !== at || tcb.state === TcpState.CLOSED) continue;
      tcb.scheduledAt = Infinity;
      this.runTimers(tcb, now);
      // (runTimers may have closed it; the cast undoes TypeScript's narrowing above.)
      if ((tcb.state as TcpState) !== TcpState.CLOSED) this.schedule(tcb);
      this.enqueueWake(tcb);
    }
  }

  nextDeadline(): number {
    return this.heap.peek();
  }

  private runTimers(tcb: Tcb, now: number): void {
    if (tcb.closeAt <= now) {
      tcb.closeAt = Infinity;
      if (tcb.state === TcpState.TIME_WAIT) {
        this.ext.TW++;
        this.destroy(tcb, null, now);
      } else {
        // FIN-WAIT-2 of a closed socket: the peer never sent its FIN. With tcp_fin_timeout
        // at its default (= TIME-WAIT's length), Linux lets it end quietly.
        this.destroy(tcb, null, now);
      }
      return;
    }
    if (tcb.rtoAt <= now) {
      tcb.rtoAt = Infinity;
      if (!this.retransmitTimer(tcb, now)) return;
    }
    if (tcb.persistAt <= now && !persistTimeout(this, tcb, now)) {
      this.ext.TCPAbortOnTimeout++;
      this.destroy(tcb, 'ETIMEDOUT', now);
      return;
    }
    if (tcb.delackAt <= now) {
      tcb.delackAt = Infinity;
      if (tcb.ackDelayed) {
        this.ext.DelayedACKs++;
        tcb.ackNow = true;
        output(this, tcb, now);
      }
    }
    if (tcb.keepaliveAt <= now) this.keepaliveTimer(tcb, now);
  }

  /** Retransmission timer; false when the connection was given up. */
  private retransmitTimer(tcb: Tcb, now: number): boolean {
    const cfg = this.cfg;
    if (tcb.state === TcpState.SYN_SENT || tcb.state === TcpState.SYN_RECEIVED) {
      const limit = tcb.state === TcpState.SYN_SENT ? cfg.synRetries : cfg.synackRetries;
      if (tcb.retransmits >= limit) {
        this.destroy(tcb, 'ETIMEDOUT', now);
        return false;
      }
      tcb.retransmits++;
      tcb.rtt.backoff();
      const flags = tcb.state === TcpState.SYN_SENT ? TCP_SYN : TCP_SYN | TCP_ACK;
      this.ext.TCPSynRetrans++;
      transmit(this, tcb, tcb.iss, 0, flags, now);
      tcb.rtoAt = now + tcb.rtt.currentRto();
      return true;
    }
    if (!retransmitTimeout(this, tcb, now)) {
      this.ext.TCPAbortOnTimeout++;
      this.destroy(tcb, 'ETIMEDOUT', now);
      return false;
    }
    return true;
  }

  /** Keepalive (RFC 1122 §4.2.3.6): after the idle time, probe; after the last probe, give up. */
  private keepaliveTimer(tcb: Tcb, now: number): void {
    tcb.keepaliveAt = Infinity;
    if (!tcb.keepAlive || tcb.state !== TcpState.ESTABLISHED && tcb.state !== TcpState.CLOSE_WAIT) return;
    if (tcb.flight > 0 || tcb.sndBuf.length > 0) {
      tcb.keepaliveAt = now + tcb.keepaliveIdleMs;
      return;
    }
    if (tcb.probes >= this.cfg.keepaliveProbes) {
      // The peer is gone: reset (in case it is not) and report a timeout (Linux tcp_keepalive_timer).
      this.ext.TCPAbortOnTimeout++;
      sendReset(this, tcb.localAddr, tcb.localPort, tcb.remoteAddr, tcb.remotePort, tcb.sndNxt, tcb.rcvNxt, true, now);
      this.destroy(tcb, 'ETIMEDOUT', now);
      return;
    }
    tcb.probes++;
    this.ext.TCPKeepAlive++;
    transmit(this, tcb, seqAdd(tcb.sndUna, -1), 0, TCP_ACK, now);
    tcb.keepaliveAt = now + this.cfg.keepaliveIntvlMs;
  }

  /** Arms or disarms keepalive for `tcb`, `idleMs` after the last segment. */
  setKeepAlive(tcb: Tcb, enable: boolean, idleMs: number | undefined, now: number): void {
    tcb.keepAlive = enable;
    if (idleMs !== undefined && idleMs > 0) tcb.keepaliveIdleMs = idleMs;
    tcb.keepaliveAt = enable ? now + tcb.keepaliveIdleMs : Infinity;
    this.schedule(tcb);
  }

  // ── looking inside ───────────────────────────────────────────────────────

  /** Listeners, then connections, as `ss` rows; each connection with its tcp_info. */
  sockets(now: number): SocketRow[] {
    const rows: SocketRow[] = [];
    for (const ls of this.listeners.values()) for (const l of ls) rows.push(listenerRow(l));
    for (const tcb of this.conns.values()) rows.push(connectionRow(tcb, now));
    return rows;
  }

  // ── waking the application ───────────────────────────────────────────────

  /** Delivers the notifications of this batch: new connections first, then each socket's events. */
  wakeUsers(): void {
    if (this.wokenListeners.length > 0) {
      const ls = this.wokenListeners;
      this.wokenListeners = [];
      for (const l of ls) {
        for (let tcb = l.acceptQueue.shift(); tcb !== undefined; tcb = l.acceptQueue.shift()) {
          tcb.listener = null;
          if (tcb.state !== TcpState.CLOSED) l.onConnection(tcb);
        }
      }
    }
    if (this.woken.length === 0) return;
    const woken = this.woken;
    this.woken = [];
    for (const tcb of woken) {
      const what = tcb.wake;
      tcb.wake = 0;
      tcb.wakeQueued = false;
      const user = tcb.user;
      if (user === null) continue;
      if (what & Wake.ESTABLISHED) user.onEstablished();
      if (what & Wake.READABLE) user.onReadable();
      if (what & Wake.WRITABLE) user.onWritable();
      if (what & Wake.CLOSED) {
        tcb.user = null;
        user.onClosed(tcb.error);
      }
    }
  }

  /** An ephemeral port that `taken` does not reject (RFC 6056 §3.3.1: random search). */
  private ephemeralPort(taken: (port: number) => boolean): number | undefined {
    const [lo, hi] = this.cfg.localPortRange;
    const n = hi - lo + 1;
    const start = Math.floor(this.random() * n);
    for (let i = 0; i < n; i++) {
      const port = lo + ((start + i) % n);
      if (!taken(port)) return port;
    }
    return undefined;
  }
}

