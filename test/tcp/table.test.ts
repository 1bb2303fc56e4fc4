import { describe, expect, it } from 'vitest';
import { createCongestionControl } from '../../src/transport/tcp/congestion/index.js';
import { RttEstimator } from '../../src/transport/tcp/rtt.js';
import { TcbTable } from '../../src/transport/tcp/table.js';
import { Tcb } from '../../src/transport/tcp/tcb.js';
import type { IpAddr } from '../../src/wire/addr.js';

function tcb(local: IpAddr, localPort: number, remote: IpAddr, remotePort: number): Tcb {
  return new Tcb(local, localPort, remote, remotePort, {
    rmem: 1000, wmem: 1000, keepaliveIdleMs: 1000, rtt: new RttEstimator({ initialRto: 1000, minRto: 200, maxRto: 120_000 }),
    cc: createCongestionControl('cubic', 1460),
  });
}

describe('the TCB table', () => {
  it('finds a connection by its 4-tuple, in either family, and nothing for a tuple that differs in one field', () => {
    const t = new TcbTable();
    const a = tcb(0xc0a84502, 80, 0xc0a84501, 40000);
    const b = tcb('fd00:69::2', 80, 'fd00:69::1', 40000);
    t.set(a);
    t.set(b);
    expect(t.size).toBe(2);
    expect(t.get(0xc0a84502, 80, 0xc0a84501, 40000)).toBe(a);
    expect(t.get('fd00:69::2', 80, 'fd00:69::1', 40000)).toBe(b);
    expect(t.get(0xc0a84502, 81, 0xc0a84501, 40000)).toBeUndefined();
    expect(t.get(0xc0a84502, 80, 0xc0a84501, 40001)).toBeUndefined();
    expect(t.get(0xc0a84503, 80, 0xc0a84501, 40000)).toBeUndefined();
    expect(t.get('fd00:69::2', 80, 'fd00:69::3', 40000)).toBeUndefined();
  });

  it('keeps connections that share remote end and ports apart by local address, and deletes each alone', () => {
    const t = new TcbTable();
    const global = tcb('fd00:69::2', 80, 'fd00:69::1', 40000);
    const linkLocal = tcb('fe80::ff:fe00:2', 80, 'fd00:69::1', 40000);
    const third = tcb('fd00:69::3', 80, 'fd00:69::1', 40000);
    for (const x of [global, linkLocal, third]) t.set(x);
    expect([global, linkLocal, third].map((x) => t.get(x.localAddr, 80, 'fd00:69::1', 40000))).toEqual([global, linkLocal, third]);
    expect(new Set(t.values())).toEqual(new Set([global, linkLocal, third]));

    expect(t.delete(linkLocal)).toBe(true);
    expect(t.delete(linkLocal)).toBe(false);
    expect(t.get('fe80::ff:fe00:2', 80, 'fd00:69::1', 40000)).toBeUndefined();
    expect(t.get('fd00:69::2', 80, 'fd00:69::1', 40000)).toBe(global);
    expect(t.get('fd00:69::3', 80, 'fd00:69::1', 40000)).toBe(third);
    expect(t.delete(third)).toBe(true);
    expect(t.delete(global)).toBe(true);
    expect(t.size).toBe(0);
    expect([...t.values()]).toEqual([]);
  });

  it('replaces the connection with the same 4-tuple rather than holding two', () => {
    const t = new TcbTable();
    const old = tcb(1, 80, 2, 40000);
    const fresh = tcb(1, 80, 2, 40000);
    t.set(old);
    t.set(fresh);
    expect(t.size).toBe(1);
    expect(t.get(1, 80, 2, 40000)).toBe(fresh);
    expect(t.delete(old)).toBe(false);
  });
});
