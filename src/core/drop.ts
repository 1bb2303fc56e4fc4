/**
 * Why a packet was dropped: one list, with Linux's names where Linux has one
 * (include/net/dropreason-core.h, `SKB_DROP_REASON_<NAME>`), so that what tapstack
 * reports reads like `dropwatch` or `perf trace -e skb:kfree_skb` on Linux.
 * Reasons Linux lacks carry an `X_` prefix. Numeric values are private to us.
 *
 * Every stage that drops a packet returns one of these; the stage bumps its own
 * MIB counter (named in the comment) and `Stack` counts the reason once.
 */
export const DropReason = {
  // dev
  /** The link's receive ring was full (rx_dropped, rx_over_errors). */
  FULL_RING: 'FULL_RING',
  // eth
  /** Shorter than a header of its layer (rx_length_errors; Udp InErrors…). */
  PKT_TOO_SMALL: 'PKT_TOO_SMALL',
  /** Ethernet FCS mismatch on a link that carries one (rx_crc_errors). */
  X_FCS: 'X_FCS',
  /** Destination MAC is not ours, broadcast or a joined group (rx_otherhost_dropped). */
  OTHERHOST: 'OTHERHOST',
  /** Source MAC is multicast or broadcast. */
  MAC_INVALID_SOURCE: 'MAC_INVALID_SOURCE',
  /** No handler for this ethertype, or a VLAN we are not on (rx_nohandler). */
  UNHANDLED_PROTO: 'UNHANDLED_PROTO',
  // arp / neighbour
  /** ARP header for another hardware or protocol type. */
  X_ARP_HEADER: 'X_ARP_HEADER',
  /** Pending queue of an unresolved neighbour overflowed (unresolved_discards). */
  NEIGH_QUEUEFULL: 'NEIGH_QUEUEFULL',
  /** Neighbour resolution failed (res_failed). */
  NEIGH_FAILED: 'NEIGH_FAILED',
  /** Neighbour table full, no entry could be created (table_fulls). */
  NEIGH_CREATEFAIL: 'NEIGH_CREATEFAIL',
  // ipv4
  /** Bad version, IHL, total length or options (Ip InHdrErrors). */
  IP_INHDR: 'IP_INHDR',
  /** Header checksum mismatch (Ip InHdrErrors, IpExt InCsumErrors). */
  IP_CSUM: 'IP_CSUM',
  /** Addressed to a host that is not us; we do not forward (Ip InAddrErrors). */
  IP_INADDRERRORS: 'IP_INADDRERRORS',
  /** Martian source: multicast, limited broadcast or 0.0.0.0. */
  IP_INVALID_SOURCE: 'IP_INVALID_SOURCE',
  /** Destination 0.0.0.0 (a martian destination). */
  IP_INVALID_DEST: 'IP_INVALID_DEST',
  /** Source address is one of ours, arriving from the wire. */
  IP_LOCAL_SOURCE: 'IP_LOCAL_SOURCE',
  /** Upper protocol not handled (Ip InUnknownProtos). */
  IP_NOPROTO: 'IP_NOPROTO',
  /** No route to send a packet (Ip OutNoRoutes). */
  IP_OUTNOROUTES: 'IP_OUTNOROUTES',
  /** Datagram too large to build or reassemble. */
  PKT_TOO_BIG: 'PKT_TOO_BIG',
  // ipv6
  /** IPv6 is disabled on the interface (Ip6 InDiscards). */
  IPV6DISABLED: 'IPV6DISABLED',
  /** An extension header that is truncated or invalid (Ip6 InHdrErrors). */
  IPV6_BAD_EXTHDR: 'IPV6_BAD_EXTHDR',
  // ndisc
  /** A Neighbor Discovery message in a fragmented packet (RFC 6980 §5). */
  IPV6_NDISC_FRAG: 'IPV6_NDISC_FRAG',
  /** A Neighbor Discovery message whose hop limit is not 255: it crossed a router (RFC 4861 §6.1). */
  IPV6_NDISC_HOP_LIMIT: 'IPV6_NDISC_HOP_LIMIT',
  /** A Neighbor Discovery message with an ICMPv6 code other than 0. */
  IPV6_NDISC_BAD_CODE: 'IPV6_NDISC_BAD_CODE',
  /** A Neighbor Discovery option of length 0, overrunning the message, or malformed. */
  IPV6_NDISC_BAD_OPTIONS: 'IPV6_NDISC_BAD_OPTIONS',
  /** A neighbour solicitation for an address that is not ours. */
  IPV6_NDISC_NS_OTHERHOST: 'IPV6_NDISC_NS_OTHERHOST',
  /** The loopback backlog (packets we sent to ourselves) was full. */
  CPU_BACKLOG: 'CPU_BACKLOG',
  // fragments
  /** A fragment wholly inside one we hold. */
  DUP_FRAG: 'DUP_FRAG',
  /** A fragment partially overlapping another: the datagram is discarded (IpExt ReasmOverlaps). */
  X_FRAG_OVERLAP: 'X_FRAG_OVERLAP',
  /** Reassembly did not complete in time (Ip ReasmTimeout). */
  FRAG_REASM_TIMEOUT: 'FRAG_REASM_TIMEOUT',
  /** Reassembly memory limit reached (Ip ReasmFails). */
  X_FRAG_MEM_LIMIT: 'X_FRAG_MEM_LIMIT',
  // icmp
  /** ICMP checksum mismatch (Icmp InCsumErrors, InErrors). */
  ICMP_CSUM: 'ICMP_CSUM',
  /** ICMP we do not answer: echo to broadcast, unknown type. */
  INVALID_PROTO: 'INVALID_PROTO',
  /** ICMP error suppressed by the rate limit (Icmp OutRateLimitGlobal/Host). */
  X_ICMP_RATELIMIT: 'X_ICMP_RATELIMIT',
  // udp
  /** UDP checksum mismatch (Udp InCsumErrors, InErrors). */
  UDP_CSUM: 'UDP_CSUM',
  /** No socket bound to the destination port (Udp NoPorts). */
  NO_SOCKET: 'NO_SOCKET',
  /** Socket receive queue full (Udp RcvbufErrors, InErrors). */
  SOCKET_RCVBUFF: 'SOCKET_RCVBUFF',
  /** Socket closed with datagrams still queued. */
  QUEUE_PURGE: 'QUEUE_PURGE',
  // tcp
  /** TCP checksum mismatch (Tcp InCsumErrors and InErrs). */
  TCP_CSUM: 'TCP_CSUM',
  /** Not addressed to one of our unicast addresses (TCP never answers a broadcast). */
  NOT_SPECIFIED: 'NOT_SPECIFIED',
  /** Sequence number before the receive window (a retransmission we already have). */
  TCP_OLD_SEQUENCE: 'TCP_OLD_SEQUENCE',
  /** Sequence number beyond the receive window. */
  TCP_INVALID_SEQUENCE: 'TCP_INVALID_SEQUENCE',
  /** Data wholly before rcv.nxt: already received (TcpExt DelayedACKLost). */
  TCP_OLD_DATA: 'TCP_OLD_DATA',
  /** Data while our receive window is zero (TcpExt TCPZeroWindowDrop). */
  TCP_ZEROWINDOW: 'TCP_ZEROWINDOW',
  /** Receive buffer full (TcpExt TCPRcvQDrop). */
  PROTO_MEM: 'PROTO_MEM',
  /** Out-of-order data we already hold (TcpExt TCPOFOMerge). */
  TCP_OFOMERGE: 'TCP_OFOMERGE',
  /** Out-of-order queue full (TcpExt TCPOFODrop). */
  TCP_OFO_DROP: 'TCP_OFO_DROP',
  /** PAWS: a timestamp older than the last one seen (TcpExt PAWSEstab). */
  TCP_RFC7323_PAWS: 'TCP_RFC7323_PAWS',
  /** A RST that is not exactly at rcv.nxt: answered with a challenge ACK (RFC 5961 §3). */
  TCP_RESET: 'TCP_RESET',
  /** A SYN in a synchronized state: answered with a challenge ACK (RFC 5961 §4). */
  TCP_INVALID_SYN: 'TCP_INVALID_SYN',
  /** ACK of data we never sent (RFC 5961 §5). */
  TCP_ACK_UNSENT_DATA: 'TCP_ACK_UNSENT_DATA',
  /** ACK older than the window we could have sent (RFC 5961 §5). */
  TCP_TOO_OLD_ACK: 'TCP_TOO_OLD_ACK',
  /** A segment without ACK in a state that needs one, or another invalid flag combination. */
  TCP_FLAGS: 'TCP_FLAGS',
  /** Data after the application closed its side (TcpExt TCPAbortOnData). */
  TCP_ABORT_ON_DATA: 'TCP_ABORT_ON_DATA',
  /** A segment for a connection that is closing and takes no more (e.g. data after FIN). */
  TCP_CLOSE: 'TCP_CLOSE',
  /** Accept or SYN queue of a listener full (TcpExt ListenOverflows, ListenDrops). */
  X_TCP_LISTEN_OVERFLOW: 'X_TCP_LISTEN_OVERFLOW',
  /** A SYN cookie that did not validate (TcpExt SyncookiesFailed). */
  X_TCP_SYNCOOKIE: 'X_TCP_SYNCOOKIE',
} as const;

export type DropReason = (typeof DropReason)[keyof typeof DropReason];

/** A packet handled without error: delivered, answered, queued or snooped (Linux `consume_skb`). */
export const CONSUMED = 'CONSUMED';
export type Verdict = DropReason | typeof CONSUMED;

/** The stages of the walk, named as in the layout of src/ (and in `tapstack drops`). */
export const Stage = {
  LINK: 'link',
  ETH: 'eth',
  ARP: 'arp',
  NEIGH: 'neigh',
  IPV4: 'ipv4',
  IPV6: 'ipv6',
  NDISC: 'ndisc',
  FRAG: 'frag',
  ICMP: 'icmp',
  ICMPV6: 'icmpv6',
  UDP: 'udp',
  TCP: 'tcp',
  SOCKET: 'socket',
} as const;
export type Stage = (typeof Stage)[keyof typeof Stage];

/**
 * How deep each stage lies on the receive walk: ARP, IPv4 and IPv6 side by side, then the
 * transports (neighbour discovery is ICMPv6's, so it sits one deeper).
 */
export const STAGE_DEPTH: Readonly<Record<Stage, number>> = {
  link: 0, eth: 1, arp: 2, neigh: 2, ipv4: 2, ipv6: 2, frag: 3, icmp: 4, icmpv6: 4, ndisc: 5, udp: 4, tcp: 4, socket: 5,
};

/**
 * How far the packet being processed has come. The receive walk is synchronous, so one
 * variable serves every stack in the process: each stage sets it as the packet enters,
 * and a drop reason returned up the chain is charged to the deepest stage reached.
 * One assignment per stage: cheap enough to be always on.
 */
export const walk: {
  stage: Stage;
  tracer: WalkTracer | null;
  sink: Describable | null;
  /**
   * The frame being walked, when its link vouched for its TCP or UDP checksum (`RX_CSUM_VALID`:
   * verified by the kernel, or never computed because it never left this machine's memory);
   * otherwise null. UDP and TCP skip their check when the packet they are handed is this very
   * frame, so a packet reassembled from fragments, or looped back, is still verified.
   */
  csumValid: Uint8Array | null;
} = {
  stage: Stage.ETH, tracer: null, sink: null, csumValid: null,
};

/** A socket that says what it is ("udp 0.0.0.0:7"), asked only when someone looks. */
export interface Describable {
  describe(): string;
}

/** What a tracer (core/trace.ts) does at each stage boundary. */
export interface WalkTracer {
  /** The packet reached a receive stage, or one of the transmit steps of an answer. */
  step(stage: Stage | TxStep): void;
  /** A frame the stack sends while the traced packet is being handled. */
  sent(frame: Uint8Array): void;
  /** The id of the packet being traced, to tag what it leaves in a socket queue. */
  current(): number;
}

/** The transmit path back out, as a trace shows it. */
export type TxStep = 'ip out' | 'neigh' | 'eth out';

/** One row of the drop table: where, why, how often, and when last. */
export interface DropRow {
  stage: Stage;
  reason: DropReason;
  count: number;
  /** Time of the last one, on the stack's clock. */
  lastAt: number;
  /** One line about the last packet dropped here, when someone asked for it (`describe`). */
  lastPacket?: string;
}

/**
 * Counts drops by reason, and by stage and reason (Linux has only the first; the second
 * answers "where" as well as "why").
 */
export class DropCounts {
  /** Stage → reason → row. Nested maps: counting a drop allocates nothing once its row exists. */
  private readonly rows = new Map<Stage, Map<DropReason, DropRow>>();
  /** The clock of the last `receive` or `poll`, for `lastAt`. */
  now = 0;

  /** Counts one drop for `reason`, charged to `stage` (by default, where the walk is). */
  count(reason: DropReason, stage: Stage = walk.stage): DropRow {
    let byReason = this.rows.get(stage);
    if (byReason === undefined) {
      byReason = new Map();
      this.rows.set(stage, byReason);
    }
    let row = byReason.get(reason);
    if (row === undefined) {
      row = { stage, reason, count: 0, lastAt: this.now };
      byReason.set(reason, row);
    }
    row.count++;
    row.lastAt = this.now;
    return row;
  }

  /** A snapshot: reason → count (all stages together), only reasons seen. */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const byReason of this.rows.values()) {
      for (const r of byReason.values()) out[r.reason] = (out[r.reason] ?? 0) + r.count;
    }
    return out;
  }

  /** Every (stage, reason) seen, most frequent first: a `dropwatch`-like table. */
  table(): DropRow[] {
    const out: DropRow[] = [];
    for (const byReason of this.rows.values()) for (const r of byReason.values()) out.push({ ...r });
    return out.sort((a, b) => b.count - a.count);
  }
}
