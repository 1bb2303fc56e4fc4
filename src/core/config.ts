/**
 * Every limit and knob of the stack in one place. Names follow the Linux sysctl each
 * one mirrors (Documentation/networking/ip-sysctl.rst), defaults are Linux's.
 */
export interface StackConfig {
  ipv4: {
    /** net.ipv4.ip_default_ttl */
    defaultTtl: number;
  };
  ipv6: {
    /** net.ipv6.conf.default.hop_limit */
    hopLimit: number;
    /** net.ipv6.conf.default.dad_transmits: Neighbor Solicitations sent to check an address is unique. */
    dadTransmits: number;
    /** net.ipv6.conf.default.router_solicitations, _interval and _delay (RFC 4861 §10). */
    routerSolicitations: number;
    routerSolicitationIntervalMs: number;
    routerSolicitationDelayMs: number;
    /** net.ipv6.conf.default.accept_ra: learn default routers (and prefixes) from advertisements. */
    acceptRa: boolean;
    /** net.ipv6.conf.default.autoconf: form addresses from advertised prefixes (SLAAC, RFC 4862). */
    autoconf: boolean;
    /** net.ipv6.ip6frag_time: reassembly timeout (RFC 8200 §4.5: 60 s). */
    fragTimeoutMs: number;
    /** Extension headers walked per packet at most (Linux bounds hop-by-hop/destination options likewise). */
    maxExtHeaders: number;
    /** net.ipv6.icmp.ratelimit: ms between errors to one /128 destination (halved per 32 bits of shorter prefix). */
    icmpRatelimitMs: number;
  };
  neigh: {
    /** gc_thresh3: hard cap on neighbour entries. */
    gcThresh3: number;
    /** base_reachable_time_ms: REACHABLE lasts a random 0.5–1.5 times this. */
    baseReachableTimeMs: number;
    /** retrans_time_ms: interval between solicitations. */
    retransTimeMs: number;
    /** delay_first_probe_time: STALE entry used → wait this long in DELAY before probing. */
    delayFirstProbeTimeMs: number;
    /** mcast_solicit: broadcast requests while INCOMPLETE. */
    mcastSolicit: number;
    /** ucast_solicit: unicast probes in PROBE. */
    ucastSolicit: number;
    /** gc_stale_time: unused STALE entries are removed after this long. */
    gcStaleTimeMs: number;
    /** unres_qlen_bytes: packets queued per unresolved neighbour. */
    unresQlenBytes: number;
  };
  frag: {
    /** net.ipv4.ipfrag_time */
    timeoutMs: number;
    /** net.ipv4.ipfrag_high_thresh: memory for all datagrams being reassembled. */
    highThreshBytes: number;
    /** Memory one datagram may take (ours; Linux bounds it only by the global limit). */
    maxDatagramBytes: number;
    /** net.ipv4.ipfrag_max_dist: fragments from a source between two of one datagram. 0 = off. */
    maxDist: number;
    /** Accounted cost of one fragment beyond its payload (Linux charges skb truesize). */
    perFragmentOverhead: number;
  };
  icmp: {
    /** net.ipv4.icmp_ratelimit: minimum ms between errors to one destination (token refill). */
    ratelimitMs: number;
    /** Burst of errors to one destination (Linux XRLIM_BURST_FACTOR). */
    ratelimitBurst: number;
    /** net.ipv4.icmp_msgs_per_sec: global error rate. */
    msgsPerSec: number;
    /** net.ipv4.icmp_msgs_burst */
    msgsBurst: number;
    /** net.ipv4.icmp_echo_ignore_broadcasts */
    echoIgnoreBroadcasts: boolean;
    /** Destinations tracked by the per-host limiter (Linux: the inetpeer cache). */
    maxPeers: number;
  };
  tcp: {
    /** Receive buffer of a connection, bytes (tcp_rmem; the advertised window follows it). */
    rmem: number;
    /** Send buffer of a connection, bytes (tcp_wmem): `write()` returns false beyond it. */
    wmem: number;
    /** net.ipv4.tcp_syn_retries */
    synRetries: number;
    /** net.ipv4.tcp_synack_retries */
    synackRetries: number;
    /** net.ipv4.tcp_retries2: RTO expirations before a connection is given up (ETIMEDOUT). */
    retries2: number;
    /** How long TIME-WAIT lasts: 2·MSL (Linux TCP_TIMEWAIT_LEN, 60 s). */
    timeWaitMs: number;
    /** net.ipv4.tcp_max_tw_buckets: TIME-WAIT connections kept at most. */
    maxTwBuckets: number;
    /** net.ipv4.tcp_fin_timeout: FIN-WAIT-2 of a closed socket. */
    finTimeoutMs: number;
    /** Delayed ACK timer (Linux TCP_DELACK_MIN; RFC 1122 allows up to 500 ms). */
    delackMs: number;
    /** net.ipv4.tcp_keepalive_time, _intvl, _probes */
    keepaliveTimeMs: number;
    keepaliveIntvlMs: number;
    keepaliveProbes: number;
    /** net.ipv4.tcp_max_syn_backlog: half-open connections per listener. */
    maxSynBacklog: number;
    /** net.core.somaxconn: cap on a listener's accept backlog. */
    somaxconn: number;
    /** net.ipv4.tcp_syncookies = 1: cookies when the SYN queue overflows. */
    syncookies: boolean;
    /** net.ipv4.tcp_timestamps, tcp_sack, tcp_window_scaling */
    timestamps: boolean;
    sack: boolean;
    windowScaling: boolean;
    /** net.ipv4.tcp_congestion_control */
    congestion: 'cubic' | 'newreno';
    /** net.ipv4.tcp_rfc1337: ignore RSTs in TIME-WAIT (RFC 1337 assassination protection). */
    rfc1337: boolean;
    /** net.ipv4.tcp_challenge_ack_limit: challenge ACKs per second (RFC 5961 §7). */
    challengeAckLimit: number;
    /** RFC 6298 bounds (Linux TCP_TIMEOUT_INIT, TCP_RTO_MIN, TCP_RTO_MAX). */
    initialRtoMs: number;
    minRtoMs: number;
    maxRtoMs: number;
    /** net.ipv4.ip_local_port_range, for connect(). */
    localPortRange: [number, number];
  };
  udp: {
    /** net.core.rmem_default: bytes a socket may hold before it drops (RcvbufErrors). */
    rmemDefault: number;
    /** Accounted cost of one queued datagram beyond its payload. */
    perDatagramOverhead: number;
    /** net.ipv4.ip_local_port_range */
    localPortRange: [number, number];
  };
}

export const DEFAULT_CONFIG: StackConfig = {
  ipv4: { defaultTtl: 64 },
  ipv6: {
    hopLimit: 64,
    dadTransmits: 1,
    routerSolicitations: 3,
    routerSolicitationIntervalMs: 4_000,
    routerSolicitationDelayMs: 1_000,
    acceptRa: true,
    autoconf: true,
    fragTimeoutMs: 60_000,
    maxExtHeaders: 16,
    icmpRatelimitMs: 1_000,
  },
  neigh: {
    gcThresh3: 1024,
    baseReachableTimeMs: 30_000,
    retransTimeMs: 1_000,
    delayFirstProbeTimeMs: 5_000,
    mcastSolicit: 3,
    ucastSolicit: 3,
    gcStaleTimeMs: 60_000,
    unresQlenBytes: 212_992,
  },
  frag: {
    timeoutMs: 30_000,
    highThreshBytes: 4 * 1024 * 1024,
    maxDatagramBytes: 256 * 1024,
    maxDist: 64,
    perFragmentOverhead: 256,
  },
  icmp: {
    ratelimitMs: 1_000,
    ratelimitBurst: 6,
    msgsPerSec: 1_000,
    msgsBurst: 50,
    echoIgnoreBroadcasts: true,
    maxPeers: 1024,
  },
  tcp: {
    rmem: 262_144,
    wmem: 262_144,
    synRetries: 6,
    synackRetries: 5,
    retries2: 15,
    timeWaitMs: 60_000,
    maxTwBuckets: 262_144,
    finTimeoutMs: 60_000,
    delackMs: 40,
    keepaliveTimeMs: 7_200_000,
    keepaliveIntvlMs: 75_000,
    keepaliveProbes: 9,
    maxSynBacklog: 256,
    somaxconn: 4096,
    syncookies: true,
    timestamps: true,
    sack: true,
    windowScaling: true,
    congestion: 'cubic',
    rfc1337: true,
    challengeAckLimit: 1000,
    initialRtoMs: 1_000,
    minRtoMs: 200,
    maxRtoMs: 120_000,
    localPortRange: [32_768, 60_999],
  },
  udp: {
    rmemDefault: 212_992,
    perDatagramOverhead: 256,
    localPortRange: [32_768, 60_999],
  },
};

/** Deep-merges `partial` over the defaults. */
export function makeConfig(partial: DeepPartial<StackConfig> = {}): StackConfig {
  const out = structuredClone(DEFAULT_CONFIG) as unknown as Record<string, Record<string, unknown>>;
  for (const [group, values] of Object.entries(partial)) {
    if (values) Object.assign(out[group]!, values);
  }
  return out as unknown as StackConfig;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? Partial<T[K]> : T[K] };
