/**
 * Addresses and routes, like Linux's two FIB tables: `local` (our addresses and the
 * broadcast addresses of our subnets) answers "is this packet for us?", `main` (the
 * connected subnets and a default gateway) answers "where does this packet go next?".
 */
import { IPV4_BROADCAST, formatIpv4, isIpv4Multicast, prefixMask, type Ipv4Addr } from '../wire/addr.js';

/** Linux route types (`rtn_type`), as far as a host needs them. */
export const RouteType = { LOCAL: 'local', BROADCAST: 'broadcast', MULTICAST: 'multicast', UNICAST: 'unicast' } as const;
export type RouteType = (typeof RouteType)[keyof typeof RouteType];

export interface InterfaceAddress {
  readonly addr: Ipv4Addr;
  readonly prefixLen: number;
  readonly mask: number;
  /** The subnet's directed broadcast address. */
  readonly broadcast: Ipv4Addr;
}

export interface Route {
  readonly dest: Ipv4Addr;
  readonly prefixLen: number;
  readonly mask: number;
  /** 0 for a connected (on-link) route. */
  readonly gateway: Ipv4Addr;
  /** Preferred source address for packets on this route. */
  readonly source: Ipv4Addr;
}

export class RouteTable {
  readonly addresses: InterfaceAddress[] = [];
  /** Kept sorted by prefix length, longest first, so the first match is the best. */
  private readonly routes: Route[] = [];
  /** Multicast groups the host belongs to (224.0.0.1 always, RFC 1112 §6.4). */
  readonly groups = new Set<Ipv4Addr>([0xe0000001]);

  /** Adds an address and the connected route of its subnet (`ip addr add A/N`). */
  addAddress(addr: Ipv4Addr, prefixLen: number): InterfaceAddress {
    const mask = prefixMask(prefixLen);
    const a: InterfaceAddress = { addr, prefixLen, mask, broadcast: (addr | ~mask) >>> 0 };
    this.addresses.push(a);
    this.addRoute((addr & mask) >>> 0, prefixLen, 0, addr);
    return a;
  }

  /** `ip route add DEST/N via GATEWAY`; a default route is 0.0.0.0/0. */
  addRoute(dest: Ipv4Addr, prefixLen: number, gateway: Ipv4Addr, source?: Ipv4Addr): void {
    const mask = prefixMask(prefixLen);
    const src = source ?? this.sourceFor(gateway);
    this.routes.push({ dest: (dest & mask) >>> 0, prefixLen, mask, gateway, source: src });
    this.routes.sort((x, y) => y.prefixLen - x.prefixLen);
  }

  /** Longest-prefix match in the main table. */
  lookup(dst: Ipv4Addr): Route | undefined {
    for (const r of this.routes) {
      if (((dst & r.mask) >>> 0) === r.dest) return r;
    }
    return undefined;
  }

  /** What a destination address means to this host (the local table). */
  classify(dst: Ipv4Addr): RouteType {
    if (dst === IPV4_BROADCAST) return RouteType.BROADCAST;
    if (isIpv4Multicast(dst)) return RouteType.MULTICAST;
    for (const a of this.addresses) {
      if (dst === a.addr) return RouteType.LOCAL;
      if (dst === a.broadcast && a.prefixLen < 31) return RouteType.BROADCAST;
    }
    return RouteType.UNICAST;
  }

  isLocal(addr: Ipv4Addr): boolean {
    for (const a of this.addresses) if (a.addr === addr) return true;
    return false;
  }

  /** The address to send from toward `dst`: the one whose subnet holds it, else the first. */
  sourceFor(dst: Ipv4Addr): Ipv4Addr {
    for (const a of this.addresses) {
      if (((dst & a.mask) >>> 0) === ((a.addr & a.mask) >>> 0)) return a.addr;
    }
    return this.addresses[0]?.addr ?? 0;
  }

  /** `ip route`-style lines. */
  describe(): string[] {
    return this.routes.map((r) =>
      r.gateway === 0
        ? `${formatIpv4(r.dest)}/${r.prefixLen} proto kernel scope link src ${formatIpv4(r.source)}`
        : `${r.prefixLen === 0 ? 'default' : `${formatIpv4(r.dest)}/${r.prefixLen}`} via ${formatIpv4(r.gateway)}`,
    );
  }
}
