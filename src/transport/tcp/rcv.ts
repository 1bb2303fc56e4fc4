/**
 * The receiving half of a connection: in-order data into the receive buffer, data
 * beyond a gap into the out-of-order queue, the window we advertise, and when to ACK.
 *
 * ACK policy (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2, RFC 5681 §4.2, Linux's quick-ACK):
 * ACK at once for out-of-order data, for data that fills a gap, for a FIN, and for the
 * first segments of a connection; after the batch of received frames for every second
 * full-sized segment; otherwise wait up to `delackMs` (the TCB's `ato`) for data going the
 * other way to carry the ACK.
 */
import { CONSUMED, DropReason, walk, type Verdict } from '../../core/drop.js';
import { deliver } from '../../core/trace.js';
import { seqAdd, seqDiff, seqGt, seqLe, seqLt, type Seq } from './seq.js';
import { Wake, type Tcb } from './tcb.js';
import type { Tcp } from './tcp.js';

/**
 * Takes the segment text `data` at `seq` (already known to overlap the window) and a
 * FIN after it. Returns the verdict for the data.
 */
export function receiveText(tcp: Tcp, tcb: Tcb, seq: Seq, data: Uint8Array, fin: boolean, now: number): Verdict {
  const ext = tcp.ext;
  if (data.length > 0) {
    tcb.lastDataRecvAt = now;
    if (data.length > tcb.rcvMss) tcb.rcvMss = data.length;
  }
  // Bytes we already have: cut them off (a retransmission overlapping new data).
  if (seqLt(seq, tcb.rcvNxt)) {
    const skip = seqDiff(tcb.rcvNxt, seq);
    if (skip >= data.length && !(fin && seqAdd(seq, data.length) === tcb.rcvNxt)) {
      ext.DelayedACKLost++;
      tcb.ackNow = true;
      return DropReason.TCP_OLD_DATA;
    }
    data = data.subarray(Math.min(skip, data.length));
    seq = tcb.rcvNxt;
  }

  // Nothing beyond the right edge we advertised (RFC 9293 §3.10.7.4: trim to the window).
  const room = seqDiff(tcb.rcvAdvEdge, seq);
  if (data.length > 0 && room <= 0) {
    ext.TCPZeroWindowDrop++;
    tcb.ackNow = true;
    return DropReason.TCP_ZEROWINDOW;
  }
  if (data.length > room) {
    data = data.subarray(0, room);
    fin = false;
  }

  if (seq !== tcb.rcvNxt) {
    // A gap before it: hold it, and tell the peer at once with a duplicate ACK and SACK.
    tcb.ackNow = true;
    if (!tcb.ofo.insert(seq, data, fin)) {
      ext.TCPOFOMerge++;
      return DropReason.TCP_OFOMERGE;
    }
    ext.TCPOFOQueue++;
    return CONSUMED;
  }

  const hadGap = !tcb.ofo.empty;
  if (data.length > 0) {
    deliver(tcb);
    tcb.rcvBuf.pushCopy(data);
    tcb.rcvNxt = seqAdd(tcb.rcvNxt, data.length);
    if (walk.tracer !== null) markTraced(tcb, walk.tracer.current());
    tcb.bytesReceived += data.length;
    tcb.unackedBytes += data.length;
    tcb.wake |= Wake.READABLE;
  }
  // The gap is filled: what waited behind it follows.
  for (let s = tcb.ofo.takeAt(tcb.rcvNxt); s !== undefined; s = tcb.ofo.takeAt(tcb.rcvNxt)) {
    const skip = seqDiff(tcb.rcvNxt, s.seq);
    if (skip < s.data.length) {
      tcb.rcvBuf.push(skip === 0 ? s.data : s.data.subarray(skip));
      tcb.rcvNxt = seqAdd(tcb.rcvNxt, s.data.length - skip);
      tcb.bytesReceived += s.data.length - skip;
    }
  }
  if (fin || (tcb.ofo.finSeq !== undefined && tcb.ofo.finSeq === tcb.rcvNxt)) {
    tcb.ofo.finSeq = undefined;
    tcb.finReceived = true;
    tcb.rcvNxt = seqAdd(tcb.rcvNxt, 1);
    tcb.wake |= Wake.READABLE;
    tcb.ackNow = true;
  }
  if (hadGap) tcb.ackNow = true;
  scheduleAck(tcp, tcb, now);
  return CONSUMED;
}

/** Traced packets whose data waits in the receive buffer: [end seq, id] pairs, at most this many. */
const TRACE_MARKS = 32;

/** Remembers where a traced packet's data ends, so that the read of that byte can be reported. */
function markTraced(tcb: Tcb, id: number): void {
  tcb.traceMarks.push(tcb.rcvNxt, id);
  if (tcb.traceMarks.length > 2 * TRACE_MARKS) tcb.traceMarks.splice(0, 2);
}

/** Decides between an ACK now and a delayed one, after in-order data arrived. */
function scheduleAck(tcp: Tcp, tcb: Tcb, now: number): void {
  if (tcb.ackNow) return;
  if (tcb.quickAcks > 0) {
    tcb.quickAcks--;
    tcb.ackNow = true;
  } else if (tcb.unackedBytes >= 2 * (tcb.advMss - (tcb.tsOk ? 12 : 0))) {
    // Every second full-sized segment (RFC 5681 §4.2; a full segment carries the options too),
    // but once per batch of received frames: the ACK after the batch covers every segment in
    // it, as Linux's ACK for a GRO-merged packet does.
    tcp.ackAfterBatch(tcb);
  } else if (!tcb.ackDelayed) {
    tcb.ackDelayed = true;
    tcb.delackAt = now + tcb.ato;
    tcp.schedule(tcb);
  }
}

/**
 * The window field for the next segment (RFC 9293 §3.8.6.2.2 and RFC 7323 §2.3):
 * the free receive buffer, never less than what we already offered (the right edge
 * does not move left), scaled unless this is a SYN.
 */
export function selectWindow(tcp: Tcp, tcb: Tcb, syn: boolean): number {
  let free = tcb.rcvBufLimit - tcb.rcvBuf.length - tcb.ofo.bytes;
  // Receiver-side silly window avoidance: no sliver windows (RFC 1122 §4.2.3.3).
  if (free < Math.min(tcb.rcvBufLimit >> 1, tcb.advMss)) free = 0;
  const promised = Math.max(0, seqDiff(tcb.rcvAdvEdge, tcb.rcvNxt));
  const shift = syn ? 0 : tcb.rcvWscale;
  let field: number;
  if (free >= promised) {
    field = Math.min(free >>> shift, 0xffff);
  } else {
    field = Math.min(Math.ceil(promised / 2 ** shift), 0xffff);
    if (free === 0) tcp.ext.TCPWantZeroWindowAdv++;
  }
  const edge = seqAdd(tcb.rcvNxt, field * 2 ** shift);
  if (seqGt(edge, tcb.rcvAdvEdge)) tcb.rcvAdvEdge = edge;
  if (field === 0 && !tcb.zeroWindow) {
    tcp.ext.TCPToZeroWindowAdv++;
    tcb.zeroWindow = true;
  } else if (field > 0 && tcb.zeroWindow) {
    tcp.ext.TCPFromZeroWindowAdv++;
    tcb.zeroWindow = false;
  }
  return field;
}

/** The window currently offered: how far past rcv.nxt the peer may send. */
export function receiveWindow(tcb: Tcb): number {
  return Math.max(0, seqDiff(tcb.rcvAdvEdge, tcb.rcvNxt));
}

/**
 * The application read from the receive buffer. If that opened the window a lot
 * (from below one MSS, or doubled), tell the peer now rather than on the next segment
 * (Linux tcp_cleanup_rbuf) — otherwise a zero window would only reopen by a probe.
 */
export function windowAfterRead(tcb: Tcb): boolean {
  const offered = receiveWindow(tcb);
  let free = tcb.rcvBufLimit - tcb.rcvBuf.length - tcb.ofo.bytes;
  if (free < Math.min(tcb.rcvBufLimit >> 1, tcb.advMss)) free = 0;
  return free > 0 && (offered < tcb.advMss || free >= 2 * offered) && seqLe(tcb.rcvNxt, tcb.rcvAdvEdge);
}
