/**
 * The sending half of a connection: what may go out now (RFC 9293 §3.8.6.2.1 windows,
 * RFC 5681 congestion window, Nagle/Minshall, sender silly-window avoidance), what an
 * ACK acknowledges (RTT per RFC 6298 with Karn's rule or timestamps), and loss recovery:
 * fast retransmit on three duplicate ACKs or SACK evidence, then RFC 6675's pipe-based
 * recovery — with SACK it repairs every hole, without it behaves as NewReno (RFC 6582),
 * retransmitting the head on each partial ACK.
 */
import { TCP_ACK, TCP_FIN, TCP_PSH } from '../../wire/tcp.js';
import { currentMss, transmit, sendAck, tsNow } from './output.js';
import { segmentOffload, type SegmentOffload } from './offload.js';
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt, seqMax, type Seq } from './seq.js';
import { TcpState, Wake, type Tcb } from './tcb.js';
import type { Segment, Tcp } from './tcp.js';

/** Duplicate ACKs (or SACKed segments) that signal a loss (RFC 5681 §3.2, RFC 6675 DupThresh). */
const DUP_THRESH = 3;
/** SACK scoreboard entries kept; more is an attack or a pathological peer. */
const MAX_SACK_RANGES = 64;

function canSend(state: TcpState): boolean {
  return state === TcpState.ESTABLISHED || state === TcpState.CLOSE_WAIT ||
    state === TcpState.FIN_WAIT_1 || state === TcpState.CLOSING || state === TcpState.LAST_ACK;
}

/**
 * Sends whatever the windows allow, then an ACK if one is still owed. Called after
 * every input segment, every application write and every timer.
 */
export function output(tcp: Tcp, tcb: Tcb, now: number): void {
  if (canSend(tcb.state)) {
    if (tcb.inRecovery) recoverySend(tcp, tcb, now);
    else while (sendOne(tcp, tcb, now, false));
    armPersist(tcp, tcb, now);
  }
  if (tcb.ackNow) sendAck(tcp, tcb, now);
}

/**
 * Sends the next new segment if every rule allows; returns whether it did. With TSO (a
 * {@link SegmentOffload} path whose next hop is known) the segment may hold several MSS of new
 * data, as one Linux skb of `tcp_skb_pcount` segments: each rule then applies to the segments
 * the link will cut it into. Whole segments fill what the congestion window and the peer's
 * window allow; a last, partial segment goes along only where it could go alone (Nagle,
 * sender SWS avoidance), as Linux's tcp_mss_split_point decides.
 */
function sendOne(tcp: Tcp, tcb: Tcb, now: number, inRecovery: boolean): boolean {
  const bufEnd = seqAdd(tcb.sndBufSeq, tcb.sndBuf.length);
  const avail = Math.max(0, seqDiff(bufEnd, tcb.sndNxt));
  const finToSend = tcb.finQueued && seqLe(tcb.sndNxt, bufEnd);
  if (avail === 0 && !finToSend) return false;

  const inFlight = seqDiff(tcb.sndNxt, tcb.sndUna);
  const sndRoom = tcb.sndWnd - inFlight;
  const mss = currentMss(tcb);
  // Retransmissions (snd.nxt below snd.max after an RTO) and recovery go one MSS at a time.
  const isNew = seqGe(tcb.sndNxt, tcb.sndMax);
  const maxLen = avail > mss && isNew && !inRecovery ? superSegment(tcp, tcb, mss, now) : mss;
  let len = Math.min(avail, maxLen);
  if (len > 0) {
    // The congestion window counts whole segments (as Linux's does); recovery checked the pipe already.
    const cwndRoom = inRecovery ? Infinity : tcb.cc.cwnd - inFlight;
    if (cwndRoom < Math.min(len, mss)) return false;
    const room = Math.min(cwndRoom, sndRoom);
    if (len > room) {
      if (room >= mss) {
        len = room - (room % mss);
      } else if (sndRoom > 0 && sndRoom >= tcb.maxSndWnd >> 1) {
        // Sender-side silly window avoidance (RFC 1122 §4.2.3.4): a part of a segment only
        // when it is at least half the largest window the peer ever offered.
        len = sndRoom;
      } else {
        return false;
      }
    } else if (maxLen > mss && len < maxLen && !tcb.finQueued && inFlight >= maxLen) {
      // TSO deferral: what the application wrote so far would make a short super-segment,
      // while a whole one's worth is in flight. The next ACK will find more written and clock
      // out a bigger one, and the pipe stays full meanwhile (Linux's tcp_tso_should_defer and
      // autocorking, for a writer that hands over a few KiB at a time).
      return false;
    } else if (len % mss !== 0 && !tcb.noDelay && !tcb.finQueued && (inFlight > 0 || len > mss) &&
      seqGt(tcb.sndSml, tcb.sndUna)) {
      // Nagle, as Minshall refined it and Linux does: one small segment in flight at a time.
      len -= len % mss;
      if (len === 0) return false;
    }
  }

  const seq = tcb.sndNxt;
  const end = seqAdd(seq, len);
  let flags = TCP_ACK;
  if (len > 0 && end === bufEnd) flags |= TCP_PSH;
  if (finToSend && end === bufEnd) flags |= TCP_FIN;
  transmit(tcp, tcb, seq, len, flags, now);
  if (len > 0 && isNew) tcp.ext.TCPOrigDataSent += Math.ceil(len / mss);
  if (len === 0 || len % mss !== 0) tcb.sndSml = end;
  tcb.sndNxt = seqAdd(end, (flags & TCP_FIN) !== 0 ? 1 : 0);
  if (isNew && tcb.rttSeq === undefined && !tcb.tsOk) {
    tcb.rttSeq = seq;
    tcb.rttStart = now;
  }
  if (tcb.rtoAt === Infinity) {
    tcb.rtoAt = now + tcb.rtt.currentRto();
    tcp.schedule(tcb);
  }
  return (flags & TCP_FIN) === 0;
}

/**
 * How much new data one segment may carry: one MSS, or with TSO as many whole MSS as a
 * super-frame holds, but at most half the congestion window, so that at least two are in
 * flight and ACKs keep the pipe full (Linux tcp_tso_segs, and tcp_cwnd_test's `halfcwnd`).
 */
function superSegment(tcp: Tcp, tcb: Tcb, mss: number, now: number): number {
  const tso = segmentOffload(tcp);
  if (tso === undefined) return mss;
  const room = tso.maxPayload(tcb.remoteAddr, now);
  const segs = Math.min(Math.floor(room / mss), Math.max(1, Math.floor(tcb.cc.cwnd / mss / 2)));
  return Math.max(1, segs) * mss;
}

/** With nothing in flight and a zero (or too small) window, probe it (RFC 9293 §3.8.6.1). */
function armPersist(tcp: Tcp, tcb: Tcb, now: number): void {
  const unsent = seqDiff(seqAdd(tcb.sndBufSeq, tcb.sndBuf.length), tcb.sndNxt) > 0;
  if (unsent && tcb.sndNxt === tcb.sndUna && tcb.rtoAt === Infinity && tcb.persistAt === Infinity) {
    tcb.persistAt = now + tcb.rtt.currentRto();
    tcp.schedule(tcb);
  }
}

// ── ACK processing (RFC 9293 §3.10.7.4, fifth check, ESTABLISHED) ──────────

/**
 * Processes an acceptable ACK (snd.una − max.snd.wnd ≤ SEG.ACK ≤ snd.max): frees
 * acknowledged data, takes an RTT sample, runs congestion control and recovery, and
 * updates the send window.
 */
export function processAck(tcp: Tcp, tcb: Tcb, seg: Segment, now: number): void {
  const ack = seg.ack;
  tcb.lastAckRecvAt = now;
  tcb.sackBlocksSeen += seg.tcp.sackCount;
  if (tcb.sackOk && seg.tcp.sackCount > 0) updateScoreboard(tcb, seg);

  if (seqGt(ack, tcb.sndUna)) {
    const dataAcked = Math.min(Math.max(0, seqDiff(ack, tcb.sndBufSeq)), tcb.sndBuf.length);
    if (dataAcked > 0) {
      tcb.sndBuf.drop(dataAcked);
      tcb.sndBufSeq = seqAdd(tcb.sndBufSeq, dataAcked);
      tcb.bytesAcked += dataAcked;
      tcb.wake |= Wake.WRITABLE;
    }
    tcb.sndUna = ack;
    if (seqLt(tcb.sndNxt, ack)) tcb.sndNxt = ack;
    pruneScoreboard(tcb);

    const rtt = rttSample(tcb, seg, now);
    if (rtt !== undefined) tcb.rtt.sample(rtt);
    tcb.rtt.resetBackoff();
    tcb.retransmits = 0;
    tcb.probes = 0;

    if (tcb.inRecovery) {
      if (seqGe(ack, tcb.recoveryPoint)) {
        tcb.inRecovery = false;
        tcb.dupAcks = 0;
        tcb.cc.onRecoveryEnd(now);
      } else if (!tcb.sackOk) {
        // NewReno partial ACK (RFC 6582 §3.2 step 5): the next hole is the new head.
        tcb.dupAcks = 0;
        tcb.rtxHigh = tcb.sndUna;
        tcb.rtxHeadNow = true;
      }
    } else {
      tcb.dupAcks = 0;
      tcb.cc.onAck(dataAcked, now, rtt);
    }

    // RFC 6298 §5.2–5.3: stop the timer when all is acknowledged, else restart it.
    tcb.rtoAt = tcb.flight === 0 ? Infinity : now + tcb.rtt.currentRto();
    tcp.schedule(tcb);
    if (dataAcked > 0) sampleDeliveryRate(tcb, now);
  } else if (ack === tcb.sndUna && tcb.flight > 0) {
    const sameWindow = seg.window === tcb.sndWnd;
    const pure = seg.len === 0 && (seg.flags & TCP_FIN) === 0;
    if ((pure && sameWindow) || (tcb.sackOk && seg.tcp.sackCount > 0)) tcb.dupAcks++;
    if (!tcb.inRecovery && (tcb.dupAcks >= DUP_THRESH || sackedBytes(tcb) >= DUP_THRESH * tcb.mss)) {
      enterRecovery(tcp, tcb, now);
    }
  }
  if (tcb.timeline !== null) tcb.timeline.acked(tcb, now, ack, seg.window, seg.tcp.sackCount);
}

/**
 * The delivery rate (bytes/s) once the interval since `rateStartAt` spans a smoothed RTT, or
 * when everything sent is acknowledged: a simpler cousin of Linux's per-ACK rate sample
 * (tcp_rate.c), which needs a timestamp per segment. Then a new interval begins.
 */
function sampleDeliveryRate(tcb: Tcb, now: number): void {
  const elapsed = now - tcb.rateStartAt;
  if (elapsed <= 0 || (elapsed < tcb.rtt.srtt && tcb.flight > 0)) return;
  tcb.deliveryRate = Math.round(((tcb.bytesAcked - tcb.rateStartAcked) * 1000) / elapsed);
  tcb.rateStartAt = now;
  tcb.rateStartAcked = tcb.bytesAcked;
}

/** RTT from the echoed timestamp (RFC 7323 §4.1), else from the timed segment if never retransmitted (Karn). */
function rttSample(tcb: Tcb, seg: Segment, now: number): number | undefined {
  // Not on the first ACK after an RTO: if the peer had the data and only its ACKs were lost,
  // its duplicate ACK echoes the original's TSval (RFC 7323 §5.3 R2 drops before R3), and the
  // "sample" is the backed-off RTO itself, which would feed the RTO until it pins at maxRto.
  if (tcb.tsOk && seg.tcp.hasTimestamp && seg.tcp.tsEcr !== 0 && tcb.retransmits === 0) {
    const rtt = (tsNow(tcb, now) - seg.tcp.tsEcr) >>> 0;
    return rtt < 0x7fff_ffff ? Math.max(rtt, 1) : undefined;
  }
  if (tcb.rttSeq !== undefined && seqGt(seg.ack, tcb.rttSeq)) {
    tcb.rttSeq = undefined;
    return Math.max(now - tcb.rttStart, 1);
  }
  return undefined;
}

/** Updates the send window from a segment that is not older than the last update (RFC 9293 §3.10.7.4). */
export function updateWindow(tcb: Tcb, seg: Segment): void {
  if (seqLt(tcb.sndWl1, seg.seq) || (tcb.sndWl1 === seg.seq && seqLe(tcb.sndWl2, seg.ack))) {
    const opened = tcb.sndWnd === 0 && seg.window > 0;
    tcb.sndWnd = seg.window;
    tcb.sndWl1 = seg.seq;
    tcb.sndWl2 = seg.ack;
    if (seg.window > tcb.maxSndWnd) tcb.maxSndWnd = seg.window;
    if (opened) {
      tcb.persistAt = Infinity;
      tcb.probes = 0;
    }
  }
}

// ── loss recovery ──────────────────────────────────────────────────────────

function enterRecovery(tcp: Tcp, tcb: Tcb, now: number): void {
  tcb.inRecovery = true;
  tcb.recoveryPoint = tcb.sndMax;
  tcb.rtxHigh = tcb.sndUna;
  tcb.rtxHeadNow = true;
  tcb.cc.onLoss(now, tcb.flight);
  tcb.cc.cwnd = tcb.cc.ssthresh;
  tcb.rttSeq = undefined;
  if (tcb.sackOk) tcp.ext.TCPSackRecovery++;
  else tcp.ext.TCPRenoRecovery++;
  tcp.ext.TCPFastRetrans++;
}

/**
 * RFC 6675 §5: the head goes out at once when recovery starts (and, without SACK, on
 * each partial ACK); then, while the pipe leaves room in cwnd, repair a lost hole or
 * send new data.
 */
function recoverySend(tcp: Tcp, tcb: Tcb, now: number): void {
  if (tcb.rtxHeadNow) {
    tcb.rtxHeadNow = false;
    retransmit(tcp, tcb, tcb.sndUna, seqAdd(tcb.sndUna, tcb.mss), now);
  }
  for (let guard = 0; guard < 1024; guard++) {
    if (pipe(tcb) + tcb.mss > tcb.cc.cwnd) return;
    const hole = nextLostHole(tcb);
    if (hole !== undefined) retransmit(tcp, tcb, hole.start, hole.end, now);
    else if (!sendOne(tcp, tcb, now, true)) return;
  }
}

/** Resends up to one segment of [start, end), with the FIN if that is where it was. */
function retransmit(tcp: Tcp, tcb: Tcb, start: Seq, end: Seq, now: number): void {
  const bufEnd = seqAdd(tcb.sndBufSeq, tcb.sndBuf.length);
  const len = Math.max(0, Math.min(currentMss(tcb), seqDiff(end, start), seqDiff(bufEnd, start)));
  let flags = TCP_ACK;
  if (tcb.finQueued && seqAdd(start, len) === bufEnd && seqLt(bufEnd, tcb.sndMax)) flags |= TCP_FIN;
  if (len === 0 && flags === TCP_ACK) return;
  transmit(tcp, tcb, start, len, flags, now);
  tcb.rtxHigh = seqAdd(start, len + ((flags & TCP_FIN) !== 0 ? 1 : 0));
}

/** Bytes SACKed above snd.una. */
function sackedBytes(tcb: Tcb): number {
  if (!tcb.sackOk) return tcb.dupAcks * tcb.mss;
  let n = 0;
  for (let i = 0; i < tcb.sacked.length; i += 2) n += seqDiff(tcb.sacked[i + 1]!, tcb.sacked[i]!);
  return n;
}

/**
 * RFC 6675 SetPipe: bytes believed to be in the network — outstanding, less what was
 * SACKed, less what is deemed lost, plus what was retransmitted.
 */
export function pipe(tcb: Tcb): number {
  if (!tcb.sackOk) {
    // NewReno: each duplicate ACK means a segment left the network.
    return Math.max(0, tcb.flight - tcb.dupAcks * tcb.mss - (seqGt(tcb.rtxHigh, tcb.sndUna) ? 0 : tcb.mss));
  }
  let p = 0;
  let above = sackedBytes(tcb);
  let cur = tcb.sndUna;
  for (let i = 0; i <= tcb.sacked.length; i += 2) {
    const holeEnd = i < tcb.sacked.length ? tcb.sacked[i]! : tcb.sndMax;
    const holeLen = Math.max(0, seqDiff(holeEnd, cur));
    const lost = i < tcb.sacked.length && above >= DUP_THRESH * tcb.mss;
    if (!lost) p += holeLen;
    else if (seqGt(tcb.rtxHigh, cur)) p += Math.min(holeLen, seqDiff(tcb.rtxHigh, cur));
    if (i < tcb.sacked.length) {
      above -= seqDiff(tcb.sacked[i + 1]!, tcb.sacked[i]!);
      cur = tcb.sacked[i + 1]!;
    }
  }
  return p;
}

/** The first hole at or above rtxHigh that counts as lost (RFC 6675 IsLost), if any. */
function nextLostHole(tcb: Tcb): { start: Seq; end: Seq } | undefined {
  // Without SACK only the head is known lost, and recoverySend resends it.
  if (!tcb.sackOk) return undefined;
  let above = sackedBytes(tcb);
  let cur = tcb.sndUna;
  for (let i = 0; i < tcb.sacked.length; i += 2) {
    const start = seqMax(cur, tcb.rtxHigh);
    const holeEnd = tcb.sacked[i]!;
    if (above < DUP_THRESH * tcb.mss) return undefined;
    if (seqLt(start, holeEnd)) return { start, end: holeEnd };
    above -= seqDiff(tcb.sacked[i + 1]!, tcb.sacked[i]!);
    cur = tcb.sacked[i + 1]!;
  }
  return undefined;
}

/** Merges the segment's SACK blocks into the scoreboard (RFC 2018 §5; D-SACKs below snd.una are ignored). */
function updateScoreboard(tcb: Tcb, seg: Segment): void {
  const blocks = seg.tcp.sackBlocks;
  for (let b = 0; b < seg.tcp.sackCount; b++) {
    let l = blocks[2 * b]!;
    const r = blocks[2 * b + 1]!;
    if (!seqLt(l, r) || seqLe(r, tcb.sndUna) || seqGt(r, tcb.sndMax)) continue;
    if (seqLt(l, tcb.sndUna)) l = tcb.sndUna;
    insertRange(tcb.sacked, l, r);
  }
}

function insertRange(list: Seq[], l: Seq, r: Seq): void {
  let i = 0;
  while (i < list.length && seqLt(list[i + 1]!, l)) i += 2;
  let j = i;
  while (j < list.length && seqLe(list[j]!, r)) {
    if (seqLt(list[j]!, l)) l = list[j]!;
    if (seqGt(list[j + 1]!, r)) r = list[j + 1]!;
    j += 2;
  }
  if (i === j && list.length >= 2 * MAX_SACK_RANGES) return;
  list.splice(i, j - i, l, r);
}

function pruneScoreboard(tcb: Tcb): void {
  const list = tcb.sacked;
  let i = 0;
  while (i < list.length && seqLe(list[i + 1]!, tcb.sndUna)) i += 2;
  if (i > 0) list.splice(0, i);
  if (list.length > 0 && seqLt(list[0]!, tcb.sndUna)) list[0] = tcb.sndUna;
}

// ── timers ──────────────────────────────────────────────────────────────────

/**
 * The retransmission timer fired (RFC 6298 §5.4–5.6, RFC 5681 §3.1): back off, shrink
 * the congestion window to one segment, forget the scoreboard and resend from snd.una.
 * Returns false when the connection has given up (tcp_retries2).
 */
export function retransmitTimeout(tcp: Tcp, tcb: Tcb, now: number): boolean {
  if (tcb.retransmits >= tcp.cfg.retries2) return false;
  tcp.ext.TCPTimeouts++;
  tcb.retransmits++;
  tcb.rtt.backoff();
  tcb.cc.onTimeout(now, tcb.flight);
  tcb.inRecovery = false;
  tcb.dupAcks = 0;
  tcb.sacked.length = 0;
  tcb.rttSeq = undefined;
  tcb.sndNxt = tcb.sndUna;
  tcb.rtoAt = Infinity;
  output(tcp, tcb, now);
  if (tcb.rtoAt === Infinity && tcb.flight > 0) tcb.rtoAt = now + tcb.rtt.currentRto();
  return true;
}

/**
 * The persist timer: data waits, nothing is in flight, and the window will not take a
 * segment. If it takes anything, send that much (RFC 1122 §4.2.3.4 (d), the override
 * against silly-window deadlock; Linux tcp_write_wakeup). If it is zero, probe it with an
 * ACK one byte below the window, which the peer must answer with its current window
 * (Linux tcp_xmit_probe_skb), backing off like the RTO. False when the peer never answered.
 */
export function persistTimeout(tcp: Tcp, tcb: Tcb, now: number): boolean {
  tcb.persistAt = Infinity;
  const unsent = seqDiff(seqAdd(tcb.sndBufSeq, tcb.sndBuf.length), tcb.sndNxt);
  if (unsent <= 0) return true;
  if (tcb.probes >= tcp.cfg.retries2) return false;
  tcb.probes++;
  const len = Math.min(tcb.sndWnd - seqDiff(tcb.sndNxt, tcb.sndUna), unsent, currentMss(tcb));
  if (len > 0) {
    const isNew = seqGe(tcb.sndNxt, tcb.sndMax);
    transmit(tcp, tcb, tcb.sndNxt, len, TCP_ACK | TCP_PSH, now);
    if (isNew) tcp.ext.TCPOrigDataSent++;
    tcb.sndNxt = seqAdd(tcb.sndNxt, len);
    tcb.rtoAt = now + tcb.rtt.currentRto();
    return true;
  }
  tcp.ext.TCPWinProbe++;
  transmit(tcp, tcb, seqAdd(tcb.sndUna, -1), 0, TCP_ACK, now);
  tcb.rtt.backoff();
  tcb.persistAt = now + tcb.rtt.currentRto();
  return true;
}
