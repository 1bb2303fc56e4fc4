/**
 * Every limit and knob of the stack in one place. Names follow the Linux sysctl each
 * one mirrors (Documentation/networking/ip-sysctl.rst), defaults are Linux's.
 */
export interface StackConfig {
  ipv4: {
    /** net.ipv4.ip_default_ttl */
    defaultTtl: number;
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
