/**
 * SEGMENT ARRIVES — RFC 9293 §3.10.7, in the RFC's order, so that this file reads beside
 * it: first the demultiplexing (§3.10.7.1 CLOSED, §3.10.7.2 LISTEN, §3.10.7.3 SYN-SENT),
 * then for every other state the eight checks of §3.10.7.4 — sequence number, RST,
 * security, SYN, ACK, URG, segment text, FIN — with RFC 5961's challenge ACKs and
 * RFC 7323's PAWS where they amend the original text.
 */
import { CONSUMED, DropReason, Stage, walk, type Verdict } from '../../core/drop.js';
import { enter } from '../../core/trace.js';
import { PacketType } from '../../eth/ethernet.js';
import type { IpRx } from '../../ip/ip.js';
import { RouteType } from '../../ip/route.js';
import { isIpv4, type IpAddr } from '../../wire/addr.js';
import { IPPROTO_TCP } from '../../wire/ipv4.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, newTcpRepr, parseTcpWithPseudo } from '../../wire/tcp.js';
import { sendAck, sendReset, transmit } from './output.js';
import { receiveText, receiveWindow } from './rcv.js';
import { seqAdd, seqGe, seqGt, seqLe, seqLt } from './seq.js';
import { output, processAck, updateWindow } from './snd.js';
import { cookieTsVal, decodeTsOptions, encodeTsOptions } from './syncookies.js';
import { TcpState, Wake, type Tcb } from './tcb.js';
import type { Listener, Segment, Tcp } from './tcp.js';

const seg: Segment = {
  src: 0, dst: 0, seq: 0, ack: 0, flags: 0, window: 0, len: 0, pkt: new Uint8Array(0), dataOff: 0, tcp: newTcpRepr(),
};

/** The MSS a peer that sent no option accepts: 536 for IPv4 (RFC 9293 §3.7.1), 1220 for IPv6 (RFC 8200 §5). */
function defaultMss(peer: IpAddr): number {
  return isIpv4(peer) ? 536 : 1220;
}

/** Linux tcp_invalid_ratelimit. */
const OOW_ACK_INTERVAL_MS = 500;

/** PAWS: timestamps older than 24 days are no longer compared (RFC 7323 §5.5). */
const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;

export function segmentArrives(tcp: Tcp, rx: IpRx, now: number): Verdict {
  enter(Stage.TCP);
  const mib = tcp.mib;
  // TCP is unicast only: a broadcast or multicast segment is never answered (RFC 1122 §4.2.3.10).
  if (rx.rtype !== RouteType.LOCAL || (rx.pktType !== PacketType.HOST && rx.pktType !== PacketType.LOOPBACK)) {
    return DropReason.NOT_SPECIFIED;
  }
  mib.InSegs++;
  const { pkt, off, len } = rx;
  const th = seg.tcp;
  const bad = parseTcpWithPseudo(pkt, off, len, rx.addrSum + IPPROTO_TCP + len, th, walk.csumValid !== pkt);
  if (bad !== undefined) {
    if (bad === DropReason.TCP_CSUM) mib.InCsumErrors++;
    mib.InErrs++;
    return bad;
  }
  seg.src = rx.src;
  seg.dst = rx.dst;
  seg.seq = th.seq;
  seg.ack = th.ack;
  seg.flags = th.flags;
  seg.window = th.window;
  seg.pkt = pkt;
  seg.dataOff = off + th.headerLen;
  seg.len = len - th.headerLen;

  const tcb = tcp.lookup(rx.dst, th.dstPort, rx.src, th.srcPort);
  if (tcb !== undefined) {
    tcb.segsIn++;
    if (seg.len > 0) tcb.dataSegsIn++;
  }
  let verdict: Verdict;
  if (tcb === undefined) {
    const l = tcp.listener(rx.dst, th.dstPort);
    verdict = l !== undefined && !l.closed ? listenState(tcp, l, now) : closedState(tcp, now);
  } else if (tcb.state === TcpState.SYN_SENT) {
    verdict = synSentState(tcp, tcb, now);
  } else if (tcb.state === TcpState.TIME_WAIT) {
    verdict = timeWaitState(tcp, tcb, now);
  } else {
    verdict = otherStates(tcp, tcb, now);
  }
  if (tcb !== undefined) {
    if (tcb.state !== TcpState.CLOSED) tcp.schedule(tcb);
    tcp.enqueueWake(tcb);
  }
  return verdict;
}

/** SEG.LEN: payload plus one for each of SYN and FIN. */
function segLen(): number {
  return seg.len + ((seg.flags & TCP_SYN) !== 0 ? 1 : 0) + ((seg.flags & TCP_FIN) !== 0 ? 1 : 0);
}

function payload(): Uint8Array {
  return seg.pkt.subarray(seg.dataOff, seg.dataOff + seg.len);
}

// ── §3.10.7.1 CLOSED: no TCB ────────────────────────────────────────────────

/** Answers with a RST (unless it is one), shaped so the sender accepts it. */
function closedState(tcp: Tcp, now: number): Verdict {
  replyReset(tcp, now);
  return DropReason.NO_SOCKET;
}

function replyReset(tcp: Tcp, now: number): void {
  if ((seg.flags & TCP_RST) !== 0) return;
  const th = seg.tcp;
  if ((seg.flags & TCP_ACK) !== 0) {
    sendReset(tcp, seg.dst, th.dstPort, seg.src, th.srcPort, seg.ack, 0, false, now);
  } else {
    sendReset(tcp, seg.dst, th.dstPort, seg.src, th.srcPort, 0, seqAdd(seg.seq, segLen()), true, now);
  }
}

// ── §3.10.7.2 LISTEN ────────────────────────────────────────────────────────

function listenState(tcp: Tcp, l: Listener, now: number): Verdict {
  const flags = seg.flags;
  if ((flags & TCP_RST) !== 0) return DropReason.TCP_RESET;
  if ((flags & TCP_ACK) !== 0) {
    // An ACK with no half-open connection: the third segment of a SYN-cookie handshake?
    if ((flags & (TCP_SYN | TCP_FIN)) === 0 && tcp.cfg.syncookies && now - l.overflowAt < 2 * 60_000) {
      return cookieAck(tcp, l, now);
    }
    replyReset(tcp, now);
    return DropReason.NO_SOCKET;
  }
  // A SYN that also says FIN is nonsense (and a scanner's trick): Linux discards it.
  if ((flags & TCP_SYN) === 0 || (flags & TCP_FIN) !== 0) return DropReason.TCP_FLAGS;

  const ext = tcp.ext;
  if (l.acceptQueue.length >= l.backlog) {
    ext.ListenOverflows++;
    ext.ListenDrops++;
    return DropReason.X_TCP_LISTEN_OVERFLOW;
  }
  if (l.pendingCount >= Math.min(l.backlog, tcp.cfg.maxSynBacklog)) {
    l.overflowAt = now;
    if (!tcp.cfg.syncookies) {
      ext.TCPReqQFullDrop++;
      ext.ListenDrops++;
      return DropReason.X_TCP_LISTEN_OVERFLOW;
    }
    ext.TCPReqQFullDoCookies++;
    sendCookie(tcp, now);
    return CONSUMED;
  }

  const th = seg.tcp;
  const tcb = tcp.newTcb(seg.dst, th.dstPort, seg.src, th.srcPort, now);
  tcb.listener = l;
  tcb.segsIn = 1; // the SYN, which found the listener rather than this TCB
  l.pendingCount++;
  tcb.irs = seg.seq;
  tcb.rcvNxt = tcb.rcvAdvEdge = tcb.rcvWup = seqAdd(seg.seq, 1);
  negotiate(tcp, tcb, now);
  tcb.sndWnd = seg.window; // a SYN's window is never scaled (RFC 7323 §2.2)
  tcb.maxSndWnd = seg.window;
  tcb.sndWl1 = seg.seq;
  tcp.setState(tcb, TcpState.SYN_RECEIVED);
  tcp.conns.set(tcb);
  transmit(tcp, tcb, tcb.iss, 0, TCP_SYN | TCP_ACK, now);
  tcb.sndNxt = seqAdd(tcb.iss, 1);
  tcb.rtoAt = now + tcb.rtt.currentRto();
  tcp.schedule(tcb);
  return CONSUMED;
}

/** Records the options of a SYN (RFC 9293 §3.7.1 MSS, RFC 7323 window scale and timestamps, RFC 2018 SACK). */
function negotiate(tcp: Tcp, tcb: Tcb, now: number): void {
  const th = seg.tcp;
  const cfg = tcp.cfg;
  const peerMss = th.mss > 0 ? th.mss : defaultMss(seg.src);
  tcb.sackOk = cfg.sack && th.sackPermitted;
  tcb.tsOk = cfg.timestamps && th.hasTimestamp;
  if (cfg.windowScaling && th.wscale >= 0) {
    tcb.sndWscale = Math.min(th.wscale, 14);
  } else {
    tcb.sndWscale = 0;
    tcb.rcvWscale = 0;
  }
  if (tcb.tsOk) {
    tcb.tsRecent = th.tsVal;
    tcb.tsRecentStamp = now;
  }
  // RFC 6691: the MSS counts payload only; our options come out of it.
  tcb.mss = Math.max(Math.min(peerMss, tcb.advMss) - (tcb.tsOk ? 12 : 0), 64);
  tcb.cc.setMss(tcb.mss);
}

function sendCookie(tcp: Tcp, now: number): void {
  const th = seg.tcp;
  const cookie = tcp.cookies.encode(seg.src, th.srcPort, seg.dst, th.dstPort, seg.seq, th.mss > 0 ? th.mss : defaultMss(seg.src), now);
  // A TCB that lives only for this one segment: its state is in the cookie.
  const tcb = tcp.newTcb(seg.dst, th.dstPort, seg.src, th.srcPort, now);
  tcb.iss = cookie.isn;
  tcb.rcvNxt = tcb.rcvAdvEdge = tcb.rcvWup = seqAdd(seg.seq, 1);
  negotiate(tcp, tcb, now);
  if (tcb.tsOk) {
    // The options we would have kept in the TCB travel in our timestamp's low bits (Linux cookie_init_timestamp).
    const raw = Math.floor(now);
    const options = encodeTsOptions(th.wscale >= 0 ? th.wscale : null, th.sackPermitted, false);
    tcb.tsOffset = (cookieTsVal(raw, options) - raw + tcb.tsOffset) >>> 0;
  }
  tcb.state = TcpState.SYN_RECEIVED;
  transmit(tcp, tcb, cookie.isn, 0, TCP_SYN | TCP_ACK, now);
  tcp.ext.SyncookiesSent++;
}

/** The ACK completing a SYN-cookie handshake: rebuild the connection from the cookie (Linux cookie_v4_check). */
function cookieAck(tcp: Tcp, l: Listener, now: number): Verdict {
  const th = seg.tcp;
  const mss = tcp.cookies.decode(seg.src, th.srcPort, seg.dst, th.dstPort, seqAdd(seg.seq, -1), seqAdd(seg.ack, -1), now);
  if (mss === 0) {
    tcp.ext.SyncookiesFailed++;
    replyReset(tcp, now);
    return DropReason.X_TCP_SYNCOOKIE;
  }
  if (l.acceptQueue.length >= l.backlog) {
    tcp.ext.ListenOverflows++;
    tcp.ext.ListenDrops++;
    return DropReason.X_TCP_LISTEN_OVERFLOW;
  }
  tcp.ext.SyncookiesRecv++;
  const tcb = tcp.newTcb(seg.dst, th.dstPort, seg.src, th.srcPort, now);
  tcb.segsIn = 1; // this ACK, which found the listener rather than this TCB
  if (seg.len > 0) tcb.dataSegsIn = 1;
  tcb.iss = seqAdd(seg.ack, -1);
  tcb.sndUna = tcb.sndNxt = tcb.sndMax = tcb.sndSml = seg.ack;
  tcb.sndBufSeq = seg.ack;
  tcb.irs = seqAdd(seg.seq, -1);
  tcb.rcvNxt = tcb.rcvAdvEdge = tcb.rcvWup = seg.seq;
  // Options survive only in the timestamp our SYN-ACK carried (Linux cookie_timestamp_decode).
  if (th.hasTimestamp && tcp.cfg.timestamps) {
    const o = decodeTsOptions((th.tsEcr - tcb.tsOffset) >>> 0);
    tcb.tsOk = true;
    tcb.tsRecent = th.tsVal;
    tcb.tsRecentStamp = now;
    tcb.sackOk = o.sackOk && tcp.cfg.sack;
    if (o.wscale !== null && tcp.cfg.windowScaling) tcb.sndWscale = o.wscale;
    else tcb.rcvWscale = 0;
  } else {
    tcb.rcvWscale = 0;
  }
  tcb.mss = Math.min(mss, tcb.advMss) - (tcb.tsOk ? 12 : 0);
  tcb.cc.setMss(tcb.mss);
  tcb.sndWnd = tcb.maxSndWnd = th.window * 2 ** tcb.sndWscale;
  tcb.sndWl1 = seg.seq;
  tcb.sndWl2 = seg.ack;
  tcp.setState(tcb, TcpState.ESTABLISHED);
  tcp.conns.set(tcb);
  tcp.mib.PassiveOpens++;
  l.acceptQueue.push(tcb);
  tcp.accepted(l);
  if (seg.len > 0 || (seg.flags & TCP_FIN) !== 0) {
    receiveText(tcp, tcb, seg.seq, payload(), (seg.flags & TCP_FIN) !== 0, now);
    afterFin(tcp, tcb, now);
  }
  output(tcp, tcb, now);
  return CONSUMED;
}

// ── §3.10.7.3 SYN-SENT ──────────────────────────────────────────────────────

function synSentState(tcp: Tcp, tcb: Tcb, now: number): Verdict {
  const flags = seg.flags;
  const hasAck = (flags & TCP_ACK) !== 0;
  // First: the ACK must acknowledge our SYN.
  if (hasAck && (seqLe(seg.ack, tcb.iss) || seqGt(seg.ack, tcb.sndNxt))) {
    replyReset(tcp, now);
    return DropReason.TCP_ACK_UNSENT_DATA;
  }
  // Second: a RST is believed only with an acceptable ACK (then: connection refused).
  if ((flags & TCP_RST) !== 0) {
    if (!hasAck) return DropReason.TCP_RESET;
    tcp.destroy(tcb, 'ECONNREFUSED', now);
    return CONSUMED;
  }
  // Fourth: the SYN.
  if ((flags & TCP_SYN) === 0) return DropReason.TCP_FLAGS;
  tcb.irs = seg.seq;
  tcb.rcvNxt = tcb.rcvWup = seqAdd(seg.seq, 1);
  // Our SYN offered a window before we knew where it starts: it starts here (unscaled, RFC 7323 §2.2).
  tcb.rcvAdvEdge = seqAdd(tcb.rcvNxt, Math.min(tcb.rcvBufLimit, 0xffff));
  negotiate(tcp, tcb, now);
  tcb.sndWnd = tcb.maxSndWnd = seg.window;
  tcb.sndWl1 = seg.seq;
  tcb.sndWl2 = seg.ack;
  if (!hasAck) {
    // Simultaneous open (RFC 9293 §3.5, Figure 8): answer SYN with SYN-ACK.
    tcp.setState(tcb, TcpState.SYN_RECEIVED);
    transmit(tcp, tcb, tcb.iss, 0, TCP_SYN | TCP_ACK, now);
    return CONSUMED;
  }
  handshakeRtt(tcb, now);
  tcb.sndUna = seg.ack;
  tcp.setState(tcb, TcpState.ESTABLISHED);
  tcp.notify(tcb, Wake.ESTABLISHED);
  if (seg.len > 0 || (flags & TCP_FIN) !== 0) {
    receiveText(tcp, tcb, seqAdd(seg.seq, 1), payload(), (flags & TCP_FIN) !== 0, now);
    afterFin(tcp, tcb, now);
  }
  tcb.ackNow = true;
  output(tcp, tcb, now);
  return CONSUMED;
}

// ── §3.10.7.4 all other states ──────────────────────────────────────────────

function otherStates(tcp: Tcp, tcb: Tcb, now: number): Verdict {
  const flags = seg.flags;
  const th = seg.tcp;
  const ext = tcp.ext;
  tcb.lastActivity = now;
  if (tcb.keepAlive) {
    tcb.probes = 0;
    tcb.keepaliveAt = now + tcb.keepaliveIdleMs;
  }
  // Every segment after the SYNs carries a scaled window (RFC 7323 §2.2), the handshake's last ACK included.
  if ((flags & TCP_SYN) === 0) seg.window = th.window << tcb.sndWscale; // ≤ 65535 << 14: no overflow

  // RFC 7323 §5.3 PAWS, before the sequence check: a timestamp older than TS.Recent is a
  // segment from an earlier incarnation of the sequence space.
  if (tcb.tsOk && th.hasTimestamp && (flags & TCP_RST) === 0 &&
      seqLt(th.tsVal, tcb.tsRecent) && now - tcb.tsRecentStamp < PAWS_IDLE_MS) {
    ext.PAWSEstab++;
    if (!oowRateLimited(tcb, now)) sendAck(tcp, tcb, now);
    else ext.TCPACKSkippedPAWS++;
    return DropReason.TCP_RFC7323_PAWS;
  }

  if (tcb.state === TcpState.SYN_RECEIVED && (flags & TCP_SYN) !== 0 && seg.seq === tcb.irs) {
    if ((flags & TCP_ACK) === 0) {
      // The peer did not hear our SYN-ACK and sent its SYN again: answer it again (Linux tcp_check_req).
      if (tcb.listener !== null) transmit(tcp, tcb, tcb.iss, 0, TCP_SYN | TCP_ACK, now);
      return CONSUMED;
    }
    // Simultaneous open (RFC 9293 Figure 8, line 6): the peer's SYN-ACK acknowledges our SYN;
    // its SYN we have already. Take it as the ACK it also is.
    seg.seq = seqAdd(seg.seq, 1);
    seg.flags = flags & ~TCP_SYN;
    return otherStates(tcp, tcb, now);
  }

  // First: check the sequence number. RFC 9293 §3.10.7.4's four cases, in Linux's form
  // (tcp_sequence): a segment is acceptable unless it ends before the last window
  // update we sent (rcv.wup) or starts beyond the window. Data between rcv.wup and
  // rcv.nxt thus reaches the text step, which drops it as old data and re-ACKs.
  const slen = segLen();
  const wnd = receiveWindow(tcb);
  if (seqLt(seqAdd(seg.seq, slen), tcb.rcvWup) || seqGt(seg.seq, seqAdd(tcb.rcvNxt, wnd))) {
    if ((flags & TCP_RST) === 0) {
      if (seqLt(seg.seq, tcb.rcvNxt)) ext.DelayedACKLost++;
      if (!oowRateLimited(tcb, now)) sendAck(tcp, tcb, now);
      else ext.TCPACKSkippedSeq++;
    }
    if (seqLt(seg.seq, tcb.rcvNxt)) return DropReason.TCP_OLD_SEQUENCE;
    return wnd === 0 ? DropReason.TCP_ZEROWINDOW : DropReason.TCP_INVALID_SEQUENCE;
  }

  // Second: the RST bit (RFC 5961 §3.2: only a RST exactly at rcv.nxt resets; others get a challenge ACK).
  if ((flags & TCP_RST) !== 0) {
    if (seg.seq !== tcb.rcvNxt) {
      challengeAck(tcp, tcb, now);
      return DropReason.TCP_RESET;
    }
    switch (tcb.state) {
      case TcpState.SYN_RECEIVED:
        // A passive open goes back to LISTEN (we just forget it); an active one was refused.
        tcp.destroy(tcb, tcb.listener !== null ? null : 'ECONNREFUSED', now);
        break;
      case TcpState.ESTABLISHED:
      case TcpState.FIN_WAIT_1:
      case TcpState.FIN_WAIT_2:
      case TcpState.CLOSE_WAIT:
        tcp.destroy(tcb, 'ECONNRESET', now);
        break;
      default: // CLOSING, LAST-ACK
        tcp.destroy(tcb, null, now);
    }
    return CONSUMED;
  }

  // Third: security and precedence (RFC 9293 drops the precedence check; nothing to do).

  // Fourth: a SYN in a synchronized state (RFC 5961 §4: challenge ACK, never a reset).
  if ((flags & TCP_SYN) !== 0) {
    ext.TCPSYNChallenge++;
    challengeAck(tcp, tcb, now);
    return DropReason.TCP_INVALID_SYN;
  }

  // Fifth: the ACK field. A segment without ACK is dropped.
  if ((flags & TCP_ACK) === 0) return DropReason.TCP_FLAGS;

  if (tcb.state === TcpState.SYN_RECEIVED) {
    if (seqLe(seg.ack, tcb.sndUna) || seqGt(seg.ack, tcb.sndNxt)) {
      replyReset(tcp, now);
      return DropReason.TCP_ACK_UNSENT_DATA;
    }
    if (!established(tcp, tcb, now)) return DropReason.X_TCP_LISTEN_OVERFLOW;
  }

  // RFC 5961 §5.2: an ACK of data not yet sent, or older than any window we could have used.
  if (seqGt(seg.ack, tcb.sndMax)) {
    challengeAck(tcp, tcb, now);
    return DropReason.TCP_ACK_UNSENT_DATA;
  }
  if (seqLt(seg.ack, seqAdd(tcb.sndUna, -Math.max(tcb.maxSndWnd, 1)))) {
    challengeAck(tcp, tcb, now);
    return DropReason.TCP_TOO_OLD_ACK;
  }

  // RFC 7323 §4.3: remember the timestamp of a segment that covers the last ACK we sent.
  if (tcb.tsOk && th.hasTimestamp && seqLe(seg.seq, tcb.rcvNxt)) {
    tcb.tsRecent = th.tsVal;
    tcb.tsRecentStamp = now;
  }

  const finWasSent = tcb.finQueued && seqGt(tcb.sndMax, tcb.finSeq);
  processAck(tcp, tcb, seg, now);
  updateWindow(tcb, seg);
  const finAcked = finWasSent && seqGt(tcb.sndUna, tcb.finSeq);

  switch (tcb.state) {
    case TcpState.FIN_WAIT_1:
      if (finAcked) {
        tcp.setState(tcb, TcpState.FIN_WAIT_2);
        if (tcb.orphan) {
          tcb.closeAt = now + tcp.cfg.finTimeoutMs;
          tcp.schedule(tcb);
        }
      }
      break;
    case TcpState.CLOSING:
      if (finAcked) {
        tcp.timeWait(tcb, now);
        return CONSUMED;
      }
      break;
    case TcpState.LAST_ACK:
      if (finAcked) {
        tcp.destroy(tcb, null, now);
        return CONSUMED;
      }
      break;
  }

  // Sixth: the URG bit. Urgent data is delivered in line (as with SO_OOBINLINE); nothing to do.

  // Seventh: the segment text.
  let verdict: Verdict = CONSUMED;
  const fin = (flags & TCP_FIN) !== 0;
  if (seg.len > 0 || fin) {
    switch (tcb.state) {
      case TcpState.ESTABLISHED:
      case TcpState.FIN_WAIT_1:
      case TcpState.FIN_WAIT_2:
        if (tcb.orphan && seg.len > 0) {
          // Nobody will ever read it: reset (RFC 9293 §3.10.7.4 leaves it to us; Linux does).
          ext.TCPAbortOnData++;
          tcp.abort(tcb, now);
          return DropReason.TCP_ABORT_ON_DATA;
        }
        verdict = receiveText(tcp, tcb, seg.seq, payload(), fin, now);
        // Eighth: the FIN bit.
        afterFin(tcp, tcb, now);
        break;
      default:
        // CLOSE-WAIT, CLOSING, LAST-ACK: the peer's FIN came already; re-acknowledge.
        tcb.ackNow = true;
        verdict = seg.len > 0 ? DropReason.TCP_CLOSE : CONSUMED;
    }
  } else if (seg.len === 0 && slen === 0) {
    ext.TCPPureAcks++;
  }

  output(tcp, tcb, now);
  return verdict;
}

/** SYN-RECEIVED → ESTABLISHED on the ACK of our SYN; false if the accept queue is full. */
function established(tcp: Tcp, tcb: Tcb, now: number): boolean {
  const l = tcb.listener;
  if (l !== null && l.acceptQueue.length >= l.backlog) {
    // Linux drops the ACK and keeps the request: the SYN-ACK retransmission asks again.
    tcp.ext.ListenOverflows++;
    tcp.ext.ListenDrops++;
    return false;
  }
  handshakeRtt(tcb, now);
  tcb.sndWnd = tcb.maxSndWnd = seg.window;
  tcb.sndWl1 = seg.seq;
  tcb.sndWl2 = seg.ack;
  tcp.setState(tcb, TcpState.ESTABLISHED);
  if (l !== null) {
    l.pendingCount--;
    tcp.mib.PassiveOpens++;
    l.acceptQueue.push(tcb);
    tcp.accepted(l);
  } else {
    tcp.notify(tcb, Wake.ESTABLISHED);
  }
  return true;
}

/**
 * The handshake's RTT: timed from our SYN (or SYN-ACK) if it went out once (Karn); with
 * timestamps the ACK's TSecr gives it in processAck instead, so it is not taken twice.
 * After a retransmitted SYN and no sample, RFC 6298 §5.7 sets the RTO to 3 s.
 */
function handshakeRtt(tcb: Tcb, now: number): void {
  const sentAt = tcb.rtoAt - tcb.rtt.currentRto();
  if (tcb.retransmits === 0) {
    if (!tcb.tsOk) tcb.rtt.sample(Math.max(1, now - sentAt));
    tcb.rtt.resetBackoff();
  } else if (!tcb.tsOk) {
    tcb.rtt.synFallback();
  } else {
    tcb.rtt.resetBackoff();
  }
  tcb.retransmits = 0;
  tcb.rtoAt = Infinity;
}

/** The eighth check: what our state becomes when the peer's FIN has arrived in order. */
function afterFin(tcp: Tcp, tcb: Tcb, now: number): void {
  if (!tcb.finReceived) return;
  switch (tcb.state) {
    case TcpState.SYN_RECEIVED:
    case TcpState.ESTABLISHED:
      tcp.setState(tcb, TcpState.CLOSE_WAIT);
      break;
    case TcpState.FIN_WAIT_1:
      if (seqGt(tcb.sndUna, tcb.finSeq)) tcp.timeWait(tcb, now);
      else tcp.setState(tcb, TcpState.CLOSING);
      break;
    case TcpState.FIN_WAIT_2:
      tcp.timeWait(tcb, now);
      break;
  }
}

/**
 * Duplicate ACKs answering out-of-window or PAWS-failed segments without data are sent at
 * most once per 500 ms per connection (Linux tcp_oow_rate_limited, tcp_invalid_ratelimit),
 * so that two peers cannot keep each other in an ACK loop. Data segments are always answered.
 */
function oowRateLimited(tcb: Tcb, now: number): boolean {
  if (seg.len > 0 && (seg.flags & TCP_SYN) === 0) return false;
  if (now - tcb.lastOowAck < OOW_ACK_INTERVAL_MS) return true;
  tcb.lastOowAck = now;
  return false;
}

/** RFC 5961 §7: challenge ACKs are rate limited (tcp_challenge_ack_limit per second). */
function challengeAck(tcp: Tcp, tcb: Tcb, now: number): void {
  if (!tcp.challengeAcks.take(now)) return;
  tcp.ext.TCPChallengeACK++;
  sendAck(tcp, tcb, now);
}

// ── TIME-WAIT (RFC 9293 §3.10.7.4, RFC 1337, RFC 6191; Linux tcp_timewait_state_process) ─

function timeWaitState(tcp: Tcp, tcb: Tcb, now: number): Verdict {
  const flags = seg.flags;
  const th = seg.tcp;
  const paws = tcb.tsOk && th.hasTimestamp && seqLt(th.tsVal, tcb.tsRecent);

  if ((flags & TCP_RST) !== 0) {
    // RFC 1337: a RST must not cut TIME-WAIT short (TIME-WAIT assassination).
    if (tcp.cfg.rfc1337 || paws) return DropReason.TCP_RESET;
    tcp.destroy(tcb, null, now);
    return CONSUMED;
  }
  // A new SYN beyond the old connection's sequence space (or with a newer timestamp) may
  // reopen it at once (RFC 9293 §3.10.7.4 note, RFC 6191).
  if ((flags & TCP_SYN) !== 0 && (flags & TCP_ACK) === 0) {
    const newer = tcb.tsOk && th.hasTimestamp ? seqGt(th.tsVal, tcb.tsRecent) : seqGt(seg.seq, tcb.rcvNxt);
    if (newer) {
      tcp.destroy(tcb, null, now);
      const l = tcp.listener(seg.dst, th.dstPort);
      if (l !== undefined && !l.closed) return listenState(tcp, l, now);
      return closedState(tcp, now);
    }
  }
  if (paws) {
    tcp.ext.PAWSEstab++;
    sendAck(tcp, tcb, now);
    return DropReason.TCP_RFC7323_PAWS;
  }
  // The peer's FIN again: our last ACK was lost. ACK it and restart 2·MSL.
  if ((flags & TCP_FIN) !== 0 && seqAdd(seg.seq, seg.len + 1) === tcb.rcvNxt) {
    tcb.closeAt = now + tcp.cfg.timeWaitMs;
    sendAck(tcp, tcb, now);
    return CONSUMED;
  }
  if (segLen() > 0 || (flags & TCP_SYN) !== 0) {
    sendAck(tcp, tcb, now);
    return DropReason.TCP_CLOSE;
  }
  tcp.ext.TCPACKSkippedTimeWait++;
  return CONSUMED;
}

