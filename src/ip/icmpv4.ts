/**
 * ICMPv4 (RFC 792, RFC 1122 §3.2.2): answer echo and timestamp requests, count what
 * arrives, and send the errors other stages ask for — under RFC 1122's rules and
 * Linux's two rate limits (a global token bucket and one per destination).
 */
import type { StackConfig } from '../core/config.js';
import type { Counters, IcmpMib } from '../core/counters.js';
import { CONSUMED, DropReason, Stage, type DropCounts, type Verdict } from '../core/drop.js';
import { enter } from '../core/trace.js';
import { KeyedTokenBuckets, TokenBucket } from '../core/ratelimit.js';
import { PacketType } from '../eth/ethernet.js';
import { isIpv4Multicast, readIpv4, writeIpv4 } from '../wire/addr.js';
import { setU32 } from '../wire/bytes.js';
import {
  ICMP_ECHO, ICMP_ECHOREPLY, ICMP_HLEN, ICMP_TIMESTAMP, ICMP_TIMESTAMPREPLY, emitIcmpv4, newIcmpRepr, parseIcmpv4,
} from '../wire/icmpv4.js';
import { IPPROTO_ICMP, IPV4_HLEN, type Ipv4Repr } from '../wire/ipv4.js';
import { TX_HEADROOM, type Ipv4 } from './ipv4.js';
import { RouteType } from './route.js';

/** Types above this are unknown to Linux (NR_ICMP_TYPES). */
const NR_ICMP_TYPES = 18;

/** ICMP error types: never answered with another error (RFC 1122 §3.2.2). */
const ERROR_TYPES = new Set([3, 4, 5, 11, 12]);

/** An ICMP error carries at most this much, like Linux: the whole reply fits in 576 bytes (RFC 1812 §4.3.2.3). */
const ERROR_MAX_LEN = 576;

/** The named Icmp counters Linux derives from the per-type IcmpMsg counts. */
const IN_NAME: Partial<Record<number, keyof IcmpMib>> = {
  0: 'InEchoReps', 3: 'InDestUnreachs', 4: 'InSrcQuenchs', 5: 'InRedirects', 8: 'InEchos',
  11: 'InTimeExcds', 12: 'InParmProbs', 13: 'InTimestamps', 14: 'InTimestampReps',
  17: 'InAddrMasks', 18: 'InAddrMaskReps',
};
const OUT_NAME: Partial<Record<number, keyof IcmpMib>> = {
  0: 'OutEchoReps', 3: 'OutDestUnreachs', 4: 'OutSrcQuenchs', 5: 'OutRedirects', 8: 'OutEchos',
  11: 'OutTimeExcds', 12: 'OutParmProbs', 13: 'OutTimestamps', 14: 'OutTimestampReps',
  17: 'OutAddrMasks', 18: 'OutAddrMaskReps',
};

const MS_PER_DAY = 86_400_000;

const IPOPT_RR = 7;
const IPOPT_TS = 68;

/**
 * The options of an echo reply (RFC 1122 §3.2.2.6: record route and timestamp SHOULD be
 * updated with this host and returned). As in Linux, this host is recorded twice: once as
 * the request arrived (ip_options_compile) and once as the reply leaves (ip_options_echo,
 * ip_options_build), so `ping -R` shows the way there and back. Other options are not echoed.
 */
function echoOptions(request: Uint8Array, addr: number, ms: number): Uint8Array | undefined {
  const out: number[] = [];
  for (let i = 0; i < request.length;) {
    const type = request[i]!;
    if (type === 0) break; // end of option list
    if (type === 1) {
      i++;
      continue;
    }
    const len = request[i + 1]!; // well formed: checked on input
    if (type === IPOPT_RR || type === IPOPT_TS) {
      const opt = request.slice(i, i + len);
      stamp(opt, addr, ms);
      stamp(opt, addr, ms);
      for (const b of opt) out.push(b);
    }
    i += len;
  }
  if (out.length === 0) return undefined;
  while (out.length % 4 !== 0) out.push(0);
  return Uint8Array.from(out);
}

/** Records `addr` (and the time) in a record-route or timestamp option, as RFC 791 §3.1 describes. */
function stamp(opt: Uint8Array, addr: number, ms: number): void {
  const ptr = opt[2]!;
  if (opt.length < 4 || ptr < 4) return;
  if (opt[0] === IPOPT_RR) {
    if (ptr + 3 <= opt.length) {
      writeIpv4(opt, ptr - 1, addr);
      opt[2] = ptr + 4;
    }
    return;
  }
  const flag = opt[3]! & 0x0f;
  const size = flag === 0 ? 4 : 8;
  if (ptr + size - 1 > opt.length) {
    // No room: count the overflow in the high four bits (at most 15).
    opt[3] = (Math.min(15, (opt[3]! >> 4) + 1) << 4) | flag;
    return;
  }
  if (flag === 0) {
    setU32(opt, ptr - 1, ms);
    opt[2] = ptr + 4;
  } else if (flag === 1 || (flag === 3 && readIpv4(opt, ptr - 1) === addr)) {
    writeIpv4(opt, ptr - 1, addr);
    setU32(opt, ptr + 3, ms);
    opt[2] = ptr + 8;
  }
}

export class Icmpv4 {
  private readonly rx = newIcmpRepr();
  private readonly tx = newIcmpRepr();
  private readonly globalLimit: TokenBucket;
  private readonly hostLimit: KeyedTokenBuckets<number>;

  constructor(
    private readonly cfg: StackConfig['icmp'],
    private readonly counters: Counters,
    private readonly drops: DropCounts,
    private readonly ip: Ipv4,
    /** Wall-clock milliseconds, for timestamp replies. */
    private readonly wall: () => number,
  ) {
    this.globalLimit = new TokenBucket(cfg.msgsPerSec, cfg.msgsBurst);
    this.hostLimit = new KeyedTokenBuckets(1000 / cfg.ratelimitMs, cfg.ratelimitBurst, cfg.maxPeers);
  }

  // ── ingress ──────────────────────────────────────────────────────────────

  input(pkt: Uint8Array, ipOff: number, ip: Ipv4Repr, rtype: RouteType, _pktType: PacketType, now: number): Verdict {
    enter(Stage.ICMP);
    const mib = this.counters.Icmp;
    mib.InMsgs++;
    const off = ipOff + ip.headerLen;
    const len = ip.totalLength - ip.headerLen;
    const icmp = this.rx;
    const bad = parseIcmpv4(pkt, off, len, icmp);
    if (bad !== undefined) {
      if (bad === DropReason.ICMP_CSUM) mib.InCsumErrors++;
      mib.InErrors++;
      return bad;
    }
    if (icmp.type > NR_ICMP_TYPES) {
      mib.InErrors++;
      return DropReason.UNHANDLED_PROTO;
    }
    this.countIn(icmp.type);

    if (rtype === RouteType.BROADCAST || rtype === RouteType.MULTICAST) {
      // RFC 1122 §3.2.2.6/§3.2.2.8: echo and timestamp to a group MAY be ignored; Linux does.
      const query = icmp.type === ICMP_ECHO || icmp.type === ICMP_TIMESTAMP;
      if (!query || this.cfg.echoIgnoreBroadcasts) {
        mib.InErrors++;
        return DropReason.INVALID_PROTO;
      }
    }

    switch (icmp.type) {
      case ICMP_ECHO:
        this.reply(pkt, off, len, ICMP_ECHOREPLY, ip, rtype, now);
        return CONSUMED;
      case ICMP_TIMESTAMP: {
        if (len < ICMP_HLEN + 12) {
          mib.InErrors++;
          return DropReason.PKT_TOO_SMALL;
        }
        this.reply(pkt, off, ICMP_HLEN + 12, ICMP_TIMESTAMPREPLY, ip, rtype, now);
        return CONSUMED;
      }
      case ICMP_ECHOREPLY:
        // No ping sockets yet: nobody asked for this reply.
        return DropReason.NO_SOCKET;
      default:
        // Errors about our own packets, redirects and the rest: counted, nothing to do yet.
        return CONSUMED;
    }
  }

  /** Echo and timestamp replies: the request's body, turned around. */
  private reply(pkt: Uint8Array, off: number, len: number, type: number, req: Ipv4Repr, rtype: RouteType, now: number): void {
    const src = rtype === RouteType.LOCAL ? req.dst : this.ip.routes.sourceFor(req.src);
    const ms = Math.floor(this.wall()) % MS_PER_DAY;
    const options = req.headerLen > IPV4_HLEN ? echoOptions(req.options, src, ms) : undefined;
    const at = TX_HEADROOM + (options?.length ?? 0);
    const frame = new Uint8Array(at + len);
    frame.set(pkt.subarray(off, off + len), at);
    if (type === ICMP_TIMESTAMPREPLY) {
      // Receive and transmit timestamps: milliseconds since midnight UT (RFC 792).
      setU32(frame, at + 12, ms);
      setU32(frame, at + 16, ms);
    }
    const icmp = this.tx;
    icmp.type = type;
    icmp.code = 0;
    icmp.rest = this.rx.rest;
    emitIcmpv4(icmp, frame, at, len);
    // Linux answers with the request's TOS and without DF (the ICMP socket is PMTUDISC_DONT).
    const sent = this.ip.output(frame, len, IPPROTO_ICMP, src, req.src, {
      tos: req.tos, ...(options !== undefined && { options }),
    }, now);
    if (sent === undefined) this.countOut(type);
  }

  // ── egress: errors ──────────────────────────────────────────────────────

  /**
   * Sends an ICMP error about the packet at `pkt[ipOff…]`, unless RFC 1122 §3.2.2 forbids
   * it or the rate limit says no. The error quotes the packet's header and as much of its
   * data as fits in 576 bytes.
   */
  error(
    type: number, code: number, rest: number, pkt: Uint8Array, ipOff: number, ip: Ipv4Repr,
    rtype: RouteType, pktType: PacketType, now: number,
  ): void {
    // Not about a link-layer or IP broadcast/multicast, nor about any but the first fragment.
    if (pktType !== PacketType.HOST && pktType !== PacketType.LOOPBACK) return;
    if (rtype === RouteType.BROADCAST || rtype === RouteType.MULTICAST) return;
    if (ip.fragOffset !== 0) return;
    // Only to a source that names a single host.
    if (ip.src === 0 || isIpv4Multicast(ip.src) || this.ip.routes.classify(ip.src) === RouteType.BROADCAST) return;
    // Never about an ICMP error (or a type we do not know).
    if (ip.protocol === IPPROTO_ICMP) {
      const innerOff = ipOff + ip.headerLen;
      if (ip.totalLength - ip.headerLen < 1) return;
      const innerType = pkt[innerOff]!;
      if (innerType > NR_ICMP_TYPES || ERROR_TYPES.has(innerType)) return;
    }

    const mib = this.counters.Icmp;
    if (!this.globalLimit.take(now)) {
      mib.OutRateLimitGlobal++;
      this.drops.count(DropReason.X_ICMP_RATELIMIT, Stage.ICMP);
      return;
    }
    if (!this.hostLimit.take(ip.src, now)) {
      mib.OutRateLimitHost++;
      this.drops.count(DropReason.X_ICMP_RATELIMIT, Stage.ICMP);
      return;
    }

    const quote = Math.min(ip.totalLength, ERROR_MAX_LEN - IPV4_HLEN - ICMP_HLEN);
    const len = ICMP_HLEN + quote;
    const frame = new Uint8Array(TX_HEADROOM + len);
    frame.set(pkt.subarray(ipOff, ipOff + quote), TX_HEADROOM + ICMP_HLEN);
    const icmp = this.tx;
    icmp.type = type;
    icmp.code = code;
    icmp.rest = rest;
    emitIcmpv4(icmp, frame, TX_HEADROOM, len);

    const src = rtype === RouteType.LOCAL ? ip.dst : this.ip.routes.sourceFor(ip.src);
    // Linux: the original TOS bits with precedence "internetwork control" (0xc0).
    const tos = (ip.tos & 0x1e) | 0xc0;
    if (this.ip.output(frame, len, IPPROTO_ICMP, src, ip.src, { tos }, now) === undefined) {
      this.countOut(type);
    } else {
      mib.OutErrors++;
    }
  }

  private countIn(type: number): void {
    this.counters.IcmpMsg.in[type]!++;
    const name = IN_NAME[type];
    if (name !== undefined) this.counters.Icmp[name]++;
  }

  private countOut(type: number): void {
    this.counters.Icmp.OutMsgs++;
    this.counters.IcmpMsg.out[type]!++;
    const name = OUT_NAME[type];
    if (name !== undefined) this.counters.Icmp[name]++;
  }
}

