/**
 * Building segments and handing them to IP (RFC 9293 §3.1, options per RFC 7323,
 * RFC 2018, RFC 6691). Every segment we send passes through `transmit`, which also
 * pays whatever ACK was owed: an outgoing segment always carries the latest ACK.
 */
import { IPPROTO_TCP } from '../../wire/ipv4.js';
import {
  TCP_ACK, TCP_FIN, TCP_HLEN, TCP_RST, TCP_SYN, emitTcpWithPseudo, tcpOptionsLen, type TcpOptionsOut,
} from '../../wire/tcp.js';
import type { IpAddr } from '../../wire/addr.js';
import { completeChecksum } from '../../dev/vnet.js';
import { segmentOffload, type SegmentOffload } from './offload.js';
import { selectWindow } from './rcv.js';
import { seqAdd, seqDiff, seqGt, seqLt, type Seq } from './seq.js';
import { TcpState, type Tcb } from './tcb.js';
import type { Tcp } from './tcp.js';

/** Bytes of the timestamps option as sent, with its two NOPs (RFC 7323 Appendix A). */
export const TCPOLEN_TSTAMP_ALIGNED = 12;
/** The SACK option's kind and length with their two NOPs, and each block (RFC 2018 §3). */
const TCPOLEN_SACK_BASE_ALIGNED = 4;
const TCPOLEN_SACK_PERBLOCK = 8;
/** Offset of the checksum field in the TCP header. */
const TCP_CSUM_OFFSET = 16;

const opts: TcpOptionsOut = {};
const timestamp = { val: 0, ecr: 0 };
const sack = { count: 0, blocks: new Uint32Array(8) };

function clearOptions(): void {
  opts.mss = undefined;
  opts.wscale = undefined;
  opts.sackPermitted = undefined;
  opts.timestamp = undefined;
  opts.sack = undefined;
}

/**
 * The payload a segment sent now may carry (Linux tcp_current_mss): the MSS less the SACK
 * option the next segment will bear while out-of-order data waits. A bound, counting each
 * held segment as a block; transmit works out the exact size for a super-segment's cut.
 */
export function currentMss(tcb: Tcb): number {
  if (!tcb.sackOk || tcb.ofo.segments.length === 0) return tcb.mss;
  const blocks = Math.min(tcb.ofo.segments.length, tcb.tsOk ? 3 : 4);
  return tcb.mss - (TCPOLEN_SACK_BASE_ALIGNED + TCPOLEN_SACK_PERBLOCK * blocks);
}

/** Our timestamp clock for `tcb` (RFC 7323 §5.4: ms ticks, a random offset per connection). */
export function tsNow(tcb: Tcb, now: number): number {
  return (Math.floor(now) + tcb.tsOffset) >>> 0;
}

/**
 * Sends one segment of `tcb`: `len` bytes of the send buffer starting at sequence
 * number `seq` (0 for a pure ACK), with `flags`. Counts OutSegs and RetransSegs.
 * More than one MSS of data makes a super-segment, which only a TCP with a
 * {@link SegmentOffload} path that just offered the room may send (sendOne sees to it).
 */
export function transmit(tcp: Tcp, tcb: Tcb, seq: Seq, len: number, flags: number, now: number): void {
  const syn = (flags & TCP_SYN) !== 0;
  clearOptions();
  if (syn) {
    opts.mss = tcb.advMss;
    if (tcp.cfg.sack && (tcb.state === TcpState.SYN_SENT || tcb.sackOk)) opts.sackPermitted = true;
    if (tcp.cfg.windowScaling && (tcb.state === TcpState.SYN_SENT || tcb.rcvWscale > 0 || tcb.sndWscale > 0)) opts.wscale = tcb.rcvWscale;
    if (tcp.cfg.timestamps && (tcb.state === TcpState.SYN_SENT || tcb.tsOk)) {
      timestamp.val = tsNow(tcb, now);
      timestamp.ecr = tcb.state === TcpState.SYN_SENT ? 0 : tcb.tsRecent;
      opts.timestamp = timestamp;
    }
  } else {
    if (tcb.tsOk) {
      timestamp.val = tsNow(tcb, now);
      timestamp.ecr = tcb.tsRecent;
      opts.timestamp = timestamp;
    }
    if (tcb.sackOk && tcb.ofo.segments.length > 0) {
      sack.count = tcb.ofo.sackBlocks(sack.blocks, tcb.tsOk ? 3 : 4);
      opts.sack = sack;
    }
  }
  const optLen = tcpOptionsLen(opts);
  const hlen = TCP_HLEN + optLen;
  const at = tcp.ip.headroom(tcb.remoteAddr);
  const frame = new Uint8Array(at + hlen + len);
  if (len > 0) tcb.sndBuf.copyOut(((seq - tcb.sndBufSeq) >>> 0), len, frame, at + hlen);

  const hasAck = (flags & TCP_ACK) !== 0;
  const window = selectWindow(tcp, tcb, syn);
  // TSO: a link with offloads takes the segment with its checksum partial and, when it holds
  // more than one MSS, cuts it into segments of `gsoSize` payload bytes each: the MSS less the
  // options beyond timestamps that this segment carries (SACK), as Linux's tcp_current_mss.
  const tso = syn ? undefined : segmentOffload(tcp);
  const segMss = tcb.mss - (optLen - (tcb.tsOk ? TCPOLEN_TSTAMP_ALIGNED : 0));
  const gsoSize = len > segMss ? segMss : 0;
  emitTcpWithPseudo(
    { srcPort: tcb.localPort, dstPort: tcb.remotePort, seq, ack: hasAck ? tcb.rcvNxt : 0, flags, window },
    opts, frame, at, len, tcb.pseudo + hlen + len, tso !== undefined,
  );
  if (tso === undefined || !tso.send(frame, hlen + len, tcb.localAddr, tcb.remoteAddr, gsoSize, now)) {
    // The next hop is not known now: ip output resolves it. sendOne sizes a super-segment only
    // right after the path said it would take it, so this is an MSS-sized segment (were it not,
    // IP would fragment it: slow, but every byte still arrives).
    if (tso !== undefined) completeChecksum(frame, at, TCP_CSUM_OFFSET);
    tcp.ip.output(frame, hlen + len, IPPROTO_TCP, tcb.localAddr, tcb.remoteAddr, { dontFragment: true }, now);
  }

  // Linux counts the segments a super-segment becomes (tcp_skb_pcount).
  const segs = gsoSize === 0 ? 1 : Math.ceil(len / gsoSize);
  const mib = tcp.mib;
  mib.OutSegs += segs;
  tcb.segsOut += segs;
  if (len > 0) {
    tcb.dataSegsOut += segs;
    tcb.bytesSent += len;
    tcb.lastDataSentAt = now;
    // Data leaving an empty pipe starts a new delivery-rate interval: the idle time before
    // it says nothing about the path (Linux tcp_rate_skb_sent).
    if (tcb.sndUna === tcb.sndMax) {
      tcb.rateStartAt = now;
      tcb.rateStartAcked = tcb.bytesAcked;
    }
  }
  const segEnd = seqAdd(seq, len + (syn ? 1 : 0) + ((flags & TCP_FIN) !== 0 ? 1 : 0));
  const rtx = segEnd !== seq && seqLt(seq, tcb.sndMax);
  if (rtx) {
    mib.RetransSegs++;
    tcb.totalRetrans++;
    tcb.bytesRetrans += len;
  }
  if (tcb.timeline !== null && segEnd !== seq) tcb.timeline.sent(tcb, now, seq, seqDiff(segEnd, seq), rtx);
  if (seqGt(segEnd, tcb.sndMax)) tcb.sndMax = segEnd;
  if (hasAck) {
    tcb.rcvWup = tcb.rcvNxt;
    tcb.ackNow = false;
    tcb.ackDelayed = false;
    tcb.delackAt = Infinity;
    tcb.unackedBytes = 0;
  }
}

/** A pure ACK (also a window update, a duplicate ACK, or a challenge ACK). */
export function sendAck(tcp: Tcp, tcb: Tcb, now: number): void {
  transmit(tcp, tcb, tcb.sndNxt, 0, TCP_ACK, now);
}

/**
 * A RST that belongs to no connection (RFC 9293 §3.10.7.1): `seq` and, with `ackFlag`,
 * `ack` are taken from the segment being answered. No options, window 0, as Linux.
 */
export function sendReset(
  tcp: Tcp, local: IpAddr, localPort: number, remote: IpAddr, remotePort: number,
  seq: Seq, ack: Seq, ackFlag: boolean, now: number,
): void {
  const at = tcp.ip.headroom(remote);
  const frame = new Uint8Array(at + TCP_HLEN);
  clearOptions();
  const flags = TCP_RST | (ackFlag ? TCP_ACK : 0);
  emitTcpWithPseudo(
    { srcPort: localPort, dstPort: remotePort, seq, ack: ackFlag ? ack : 0, flags, window: 0 },
    opts, frame, at, 0, tcp.ip.pseudo(local, remote, IPPROTO_TCP, TCP_HLEN),
  );
  tcp.ip.output(frame, TCP_HLEN, IPPROTO_TCP, local, remote, { dontFragment: true }, now);
  tcp.mib.OutSegs++;
  tcp.mib.OutRsts++;
}
