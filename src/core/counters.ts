/**
 * SNMP/netstat counters with Linux's names and order (net/ipv4/proc.c), so that the
 * habits people built around `/proc/net/snmp` and `nstat` carry over. Counters we do
 * not produce stay at an honest 0.
 */

function mib<const K extends string>(names: readonly K[]): Record<K, number> {
  const m = {} as Record<K, number>;
  for (const n of names) m[n] = 0;
  return m;
}

const IP = [
  'Forwarding', 'DefaultTTL', 'InReceives', 'InHdrErrors', 'InAddrErrors', 'ForwDatagrams',
  'InUnknownProtos', 'InDiscards', 'InDelivers', 'OutRequests', 'OutDiscards', 'OutNoRoutes',
  'ReasmTimeout', 'ReasmReqds', 'ReasmOKs', 'ReasmFails', 'FragOKs', 'FragFails', 'FragCreates',
  // Linux 6.3+: packets handed to the link, counted after fragmentation.
  'OutTransmits',
] as const;

const IP_EXT = [
  'InNoRoutes', 'InTruncatedPkts', 'InMcastPkts', 'OutMcastPkts', 'InBcastPkts', 'OutBcastPkts',
  'InOctets', 'OutOctets', 'InMcastOctets', 'OutMcastOctets', 'InBcastOctets', 'OutBcastOctets',
  'InCsumErrors', 'InNoECTPkts', 'InECT1Pkts', 'InECT0Pkts', 'InCEPkts', 'ReasmOverlaps',
] as const;

const ICMP = [
  'InMsgs', 'InErrors', 'InCsumErrors', 'InDestUnreachs', 'InTimeExcds', 'InParmProbs',
  'InSrcQuenchs', 'InRedirects', 'InEchos', 'InEchoReps', 'InTimestamps', 'InTimestampReps',
  'InAddrMasks', 'InAddrMaskReps', 'OutMsgs', 'OutErrors', 'OutRateLimitGlobal',
  'OutRateLimitHost', 'OutDestUnreachs', 'OutTimeExcds', 'OutParmProbs', 'OutSrcQuenchs',
  'OutRedirects', 'OutEchos', 'OutEchoReps', 'OutTimestamps', 'OutTimestampReps',
  'OutAddrMasks', 'OutAddrMaskReps',
] as const;

const UDP = [
  'InDatagrams', 'NoPorts', 'InErrors', 'OutDatagrams', 'RcvbufErrors', 'SndbufErrors',
  'InCsumErrors', 'IgnoredMulti', 'MemErrors',
] as const;

const TCP = [
  'RtoAlgorithm', 'RtoMin', 'RtoMax', 'MaxConn', 'ActiveOpens', 'PassiveOpens', 'AttemptFails',
  'EstabResets', 'CurrEstab', 'InSegs', 'OutSegs', 'RetransSegs', 'InErrs', 'OutRsts', 'InCsumErrors',
] as const;

/** /proc/net/snmp6's Ip6 rows (net/ipv6/proc.c snmp6_ipstats_list), names without the `Ip6` prefix. */
const IP6 = [
  'InReceives', 'InHdrErrors', 'InTooBigErrors', 'InNoRoutes', 'InAddrErrors', 'InUnknownProtos',
  'InTruncatedPkts', 'InDiscards', 'InDelivers', 'OutForwDatagrams', 'OutRequests', 'OutDiscards',
  'OutNoRoutes', 'ReasmTimeout', 'ReasmReqds', 'ReasmOKs', 'ReasmFails', 'FragOKs', 'FragFails',
  'FragCreates', 'InMcastPkts', 'OutMcastPkts', 'InOctets', 'OutOctets', 'InMcastOctets',
  'OutMcastOctets', 'InBcastOctets', 'OutBcastOctets', 'InNoECTPkts', 'InECT1Pkts', 'InECT0Pkts',
  'InCEPkts', 'OutTransmits',
] as const;

/** /proc/net/snmp6's Icmp6 rows (snmp6_icmp6_list, then the per-type names of icmp6type2name). */
const ICMP6 = [
  'InMsgs', 'InErrors', 'OutMsgs', 'OutErrors', 'InCsumErrors', 'OutRateLimitHost',
  'InDestUnreachs', 'InPktTooBigs', 'InTimeExcds', 'InParmProblems', 'InEchos', 'InEchoReplies',
  'InGroupMembQueries', 'InGroupMembResponses', 'InGroupMembReductions', 'InRouterSolicits',
  'InRouterAdvertisements', 'InNeighborSolicits', 'InNeighborAdvertisements', 'InRedirects',
  'InMLDv2Reports', 'OutDestUnreachs', 'OutPktTooBigs', 'OutTimeExcds', 'OutParmProblems',
  'OutEchos', 'OutEchoReplies', 'OutGroupMembQueries', 'OutGroupMembResponses',
  'OutGroupMembReductions', 'OutRouterSolicits', 'OutRouterAdvertisements', 'OutNeighborSolicits',
  'OutNeighborAdvertisements', 'OutRedirects', 'OutMLDv2Reports',
] as const;

/**
 * Every TcpExt counter of /proc/net/netstat, in Linux's order (`snmp4_net_list`, as
 * Linux 6.18 prints it), so that our file lines up with the kernel's column for
 * column. The ones this stack has no mechanism for (MD5, TCP-AO, Fast Open, …) stay 0.
 */
const TCP_EXT = [
  'SyncookiesSent', 'SyncookiesRecv', 'SyncookiesFailed', 'EmbryonicRsts', 'PruneCalled',
  'RcvPruned', 'OfoPruned', 'OutOfWindowIcmps', 'LockDroppedIcmps', 'ArpFilter', 'TW', 'TWRecycled',
  'TWKilled', 'PAWSActive', 'PAWSEstab', 'BeyondWindow', 'TSEcrRejected', 'PAWSOldAck',
  'PAWSTimewait', 'DelayedACKs', 'DelayedACKLocked', 'DelayedACKLost', 'ListenOverflows',
  'ListenDrops', 'TCPHPHits', 'TCPPureAcks', 'TCPHPAcks', 'TCPRenoRecovery', 'TCPSackRecovery',
  'TCPSACKReneging', 'TCPSACKReorder', 'TCPRenoReorder', 'TCPTSReorder', 'TCPFullUndo',
  'TCPPartialUndo', 'TCPDSACKUndo', 'TCPLossUndo', 'TCPLostRetransmit', 'TCPRenoFailures',
  'TCPSackFailures', 'TCPLossFailures', 'TCPFastRetrans', 'TCPSlowStartRetrans', 'TCPTimeouts',
  'TCPLossProbes', 'TCPLossProbeRecovery', 'TCPRenoRecoveryFail', 'TCPSackRecoveryFail',
  'TCPRcvCollapsed', 'TCPBacklogCoalesce', 'TCPDSACKOldSent', 'TCPDSACKOfoSent', 'TCPDSACKRecv',
  'TCPDSACKOfoRecv', 'TCPAbortOnData', 'TCPAbortOnClose', 'TCPAbortOnMemory', 'TCPAbortOnTimeout',
  'TCPAbortOnLinger', 'TCPAbortFailed', 'TCPMemoryPressures', 'TCPMemoryPressuresChrono',
  'TCPSACKDiscard', 'TCPDSACKIgnoredOld', 'TCPDSACKIgnoredNoUndo', 'TCPSpuriousRTOs',
  'TCPMD5NotFound', 'TCPMD5Unexpected', 'TCPMD5Failure', 'TCPSackShifted', 'TCPSackMerged',
  'TCPSackShiftFallback', 'TCPBacklogDrop', 'PFMemallocDrop', 'TCPMinTTLDrop', 'TCPDeferAcceptDrop',
  'IPReversePathFilter', 'TCPTimeWaitOverflow', 'TCPReqQFullDoCookies', 'TCPReqQFullDrop',
  'TCPRetransFail', 'TCPRcvCoalesce', 'TCPOFOQueue', 'TCPOFODrop', 'TCPOFOMerge', 'TCPChallengeACK',
  'TCPSYNChallenge', 'TCPFastOpenActive', 'TCPFastOpenActiveFail', 'TCPFastOpenPassive',
  'TCPFastOpenPassiveFail', 'TCPFastOpenListenOverflow', 'TCPFastOpenCookieReqd',
  'TCPFastOpenBlackhole', 'TCPSpuriousRtxHostQueues', 'BusyPollRxPackets', 'TCPAutoCorking',
  'TCPFromZeroWindowAdv', 'TCPToZeroWindowAdv', 'TCPWantZeroWindowAdv', 'TCPSynRetrans',
  'TCPOrigDataSent', 'TCPHystartTrainDetect', 'TCPHystartTrainCwnd', 'TCPHystartDelayDetect',
  'TCPHystartDelayCwnd', 'TCPACKSkippedSynRecv', 'TCPACKSkippedPAWS', 'TCPACKSkippedSeq',
  'TCPACKSkippedFinWait2', 'TCPACKSkippedTimeWait', 'TCPACKSkippedChallenge', 'TCPWinProbe',
  'TCPKeepAlive', 'TCPMTUPFail', 'TCPMTUPSuccess', 'TCPDelivered', 'TCPDeliveredCE',
  'TCPAckCompressed', 'TCPZeroWindowDrop', 'TCPRcvQDrop', 'TCPWqueueTooBig',
  'TCPFastOpenPassiveAltKey', 'TcpTimeoutRehash', 'TcpDuplicateDataRehash', 'TCPDSACKRecvSegs',
  'TCPDSACKIgnoredDubious', 'TCPMigrateReqSuccess', 'TCPMigrateReqFailure', 'TCPPLBRehash',
  'TCPAORequired', 'TCPAOBad', 'TCPAOKeyNotFound', 'TCPAOGood', 'TCPAODroppedIcmps',
] as const;

/** The columns of /proc/net/stat/arp_cache (net/core/neighbour.c); Linux has no ARP MIB. */
const NEIGH = [
  'entries', 'allocs', 'destroys', 'hash_grows', 'lookups', 'hits', 'res_failed',
  'rcv_probes_mcast', 'rcv_probes_ucast', 'periodic_gc_runs', 'forced_gc_runs',
  'unresolved_discards', 'table_fulls',
] as const;

/** ARP message counts; Linux keeps none, these are ours and named plainly. */
const ARP = ['InRequests', 'InReplies', 'OutRequests', 'OutReplies'] as const;

/**
 * The names of each MIB group in Linux's order: the order the kernel prints them in
 * `/proc/net/snmp` and `/proc/net/netstat`. Formatters walk these lists rather than a
 * snapshot's keys, so the output keeps Linux's column order whatever order a snapshot
 * was built in.
 */
export const MIB_NAMES = {
  Ip: IP, IpExt: IP_EXT, Icmp: ICMP, Tcp: TCP, TcpExt: TCP_EXT, Udp: UDP, Ip6: IP6, Icmp6: ICMP6, Udp6: UDP,
} as const;

export type IpMib = Record<(typeof IP)[number], number>;
export type TcpMib = Record<(typeof TCP)[number], number>;
export type TcpExtMib = Record<(typeof TCP_EXT)[number], number>;
export type IpExtMib = Record<(typeof IP_EXT)[number], number>;
export type IcmpMib = Record<(typeof ICMP)[number], number>;
export type UdpMib = Record<(typeof UDP)[number], number>;
export type Ip6Mib = Record<(typeof IP6)[number], number>;
export type Icmp6Mib = Record<(typeof ICMP6)[number], number>;
export type NeighStats = Record<(typeof NEIGH)[number], number>;
export type ArpMib = Record<(typeof ARP)[number], number>;

/** Per-type ICMP counts, printed as `IcmpMsg: InType8 OutType0 …` like Linux. */
export interface IcmpMsgMib {
  in: number[];
  out: number[];
}

export class Counters {
  readonly Ip: IpMib = mib(IP);
  readonly IpExt: IpExtMib = mib(IP_EXT);
  readonly Icmp: IcmpMib = mib(ICMP);
  readonly IcmpMsg: IcmpMsgMib = { in: new Array<number>(256).fill(0), out: new Array<number>(256).fill(0) };
  readonly Tcp: TcpMib = mib(TCP);
  readonly TcpExt: TcpExtMib = mib(TCP_EXT);
  readonly Udp: UdpMib = mib(UDP);
  readonly Ip6: Ip6Mib = mib(IP6);
  readonly Icmp6: Icmp6Mib = mib(ICMP6);
  /** Per-type ICMPv6 counts (`Icmp6InType135 …` in /proc/net/snmp6). */
  readonly Icmp6Msg: IcmpMsgMib = { in: new Array<number>(256).fill(0), out: new Array<number>(256).fill(0) };
  /** UDP over IPv6 counts apart from UDP over IPv4, as in Linux. */
  readonly Udp6: UdpMib = mib(UDP);
  readonly Neigh6: NeighStats = mib(NEIGH);
  readonly Arp: ArpMib = mib(ARP);
  readonly Neigh: NeighStats = mib(NEIGH);

  constructor(defaultTtl: number) {
    this.Ip.Forwarding = 2; // 2 = not forwarding (RFC 1213 ipForwarding)
    this.Ip.DefaultTTL = defaultTtl;
    this.Tcp.RtoAlgorithm = 1; // RFC 2988/6298
    this.Tcp.RtoMin = 200;
    this.Tcp.RtoMax = 120_000;
    this.Tcp.MaxConn = -1; // no fixed limit
  }

  /** A plain-object snapshot, safe to keep and compare. */
  snapshot(): CountersSnapshot {
    return {
      Ip: { ...this.Ip }, IpExt: { ...this.IpExt }, Icmp: { ...this.Icmp }, IcmpMsg: perType(this.IcmpMsg),
      Tcp: { ...this.Tcp }, TcpExt: { ...this.TcpExt },
      Udp: { ...this.Udp }, Arp: { ...this.Arp }, Neigh: { ...this.Neigh },
      Ip6: { ...this.Ip6 }, Icmp6: { ...this.Icmp6 }, Icmp6Msg: perType(this.Icmp6Msg), Udp6: { ...this.Udp6 },
      Neigh6: { ...this.Neigh6 },
    };
  }
}

/** The types seen, as `InType8`, `OutType0`, …: the kernel prints only those. */
function perType(m: IcmpMsgMib): Record<string, number> {
  const out: Record<string, number> = {};
  for (let t = 0; t < 256; t++) {
    if (m.in[t]) out[`InType${t}`] = m.in[t]!;
    if (m.out[t]) out[`OutType${t}`] = m.out[t]!;
  }
  return out;
}

export interface CountersSnapshot {
  Ip: IpMib;
  IpExt: IpExtMib;
  Icmp: IcmpMib;
  IcmpMsg: Record<string, number>;
  Tcp: TcpMib;
  TcpExt: TcpExtMib;
  Udp: UdpMib;
  Arp: ArpMib;
  Neigh: NeighStats;
  Ip6: Ip6Mib;
  Icmp6: Icmp6Mib;
  Icmp6Msg: Record<string, number>;
  Udp6: UdpMib;
  Neigh6: NeighStats;
}
