/**
 * The TCB table: connections by 4-tuple, looked up once per segment without building a key.
 *
 * Two levels of `Map`: the remote address (a number for IPv4, the interned RFC 5952 text for
 * IPv6, so neither allocates), then both ports as one 32-bit number. The local address is
 * almost always the same for a given remote end; when it is not (a peer reaching us on two of
 * our addresses from the same port), the TCBs that share remote end and ports are chained.
 */
import type { IpAddr } from '../../wire/addr.js';
import type { Tcb } from './tcb.js';

export class TcbTable {
  private readonly byRemote = new Map<IpAddr, Map<number, Tcb>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(local: IpAddr, localPort: number, remote: IpAddr, remotePort: number): Tcb | undefined {
    let t = this.byRemote.get(remote)?.get(ports(localPort, remotePort));
    while (t !== undefined && t.localAddr !== local) t = t.sameEnds ?? undefined;
    return t;
  }

  has(local: IpAddr, localPort: number, remote: IpAddr, remotePort: number): boolean {
    return this.get(local, localPort, remote, remotePort) !== undefined;
  }

  /** Adds `tcb`, or replaces the connection with the same 4-tuple. */
  set(tcb: Tcb): void {
    let byPorts = this.byRemote.get(tcb.remoteAddr);
    if (byPorts === undefined) {
      byPorts = new Map();
      this.byRemote.set(tcb.remoteAddr, byPorts);
    }
    const key = ports(tcb.localPort, tcb.remotePort);
    const head = byPorts.get(key);
    this.unlink(byPorts, key, head, tcb.localAddr);
    tcb.sameEnds = byPorts.get(key) ?? null;
    byPorts.set(key, tcb);
    this.count++;
  }

  delete(tcb: Tcb): boolean {
    const byPorts = this.byRemote.get(tcb.remoteAddr);
    if (byPorts === undefined) return false;
    const key = ports(tcb.localPort, tcb.remotePort);
    let t = byPorts.get(key);
    while (t !== undefined && t !== tcb) t = t.sameEnds ?? undefined;
    if (t === undefined) return false;
    this.unlink(byPorts, key, byPorts.get(key), tcb.localAddr);
    if (byPorts.size === 0) this.byRemote.delete(tcb.remoteAddr);
    return true;
  }

  /** Every connection. */
  *values(): IterableIterator<Tcb> {
    for (const byPorts of this.byRemote.values()) {
      for (const head of byPorts.values()) {
        for (let t: Tcb | null = head; t !== null; t = t.sameEnds) yield t;
      }
    }
  }

  /** Takes the TCB with local address `local` out of the chain at `key`, if there is one. */
  private unlink(byPorts: Map<number, Tcb>, key: number, head: Tcb | undefined, local: IpAddr): void {
    let prev: Tcb | null = null;
    for (let t = head ?? null; t !== null; prev = t, t = t.sameEnds) {
      if (t.localAddr !== local) continue;
      if (prev === null) {
        if (t.sameEnds === null) byPorts.delete(key);
        else byPorts.set(key, t.sameEnds);
      } else {
        prev.sameEnds = t.sameEnds;
      }
      t.sameEnds = null;
      this.count--;
      return;
    }
  }
}

function ports(localPort: number, remotePort: number): number {
  return localPort * 0x1_0000 + remotePort;
}
