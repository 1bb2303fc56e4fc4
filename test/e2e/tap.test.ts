/**
 * TapLink against the real kernel: a TAP device in a namespace of its own, with the
 * kernel's ARP on the other side as a peer that needs no setup. ARP is the smallest
 * conversation the kernel will have with us: it asks (who-has) when something in the
 * namespace sends to an unknown neighbour, and it answers and learns when we ask.
 */

import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TapError, TapLink } from '../../src/dev/tap.js';
import { Netns, tapSkipReason } from '../helpers/netns.js';

const skip = tapSkipReason();
if (skip !== null) console.warn(`test/e2e/tap.test.ts: skipping TAP tests: ${skip}`);

describe('tapSkipReason', () => {
  it('gives a reason when the tun device is missing', () => {
    const reason = tapSkipReason('/nonexistent/dev/net/tun');
    expect(reason).toBeTypeOf('string');
    // As root on Linux the missing device is the only thing wrong, so the reason must name it.
    if (process.platform === 'linux' && process.getuid?.() === 0) expect(reason).toContain('/nonexistent/dev/net/tun');
  });
});

// ── frames, byte by byte (this tests the driver, not the wire module) ──────────
//
//  0     6     12  14   16   18 19 20   22     28    32     38   42
//  | dst | src |type|htype|ptype|hl|pl| op | sha  | spa | tha  | tpa |

const ETH_P_ARP = 0x0806;
const ARP_REQUEST = 1;
const ARP_REPLY = 2;
const BROADCAST = 'ff:ff:ff:ff:ff:ff';

function macBytes(mac: string): number[] {
  return mac.split(':').map((h) => parseInt(h, 16));
}
function ipBytes(ip: string): number[] {
  return ip.split('.').map(Number);
}
function macAt(f: Uint8Array, o: number): string {
  return Array.from(f.subarray(o, o + 6), (b) => b.toString(16).padStart(2, '0')).join(':');
}
function ipAt(f: Uint8Array, o: number): string {
  return Array.from(f.subarray(o, o + 4)).join('.');
}
function etherType(f: Uint8Array): number {
  return ((f[12] ?? 0) << 8) | (f[13] ?? 0);
}

interface Arp {
  op: number;
  ethDst: string;
  senderMac: string;
  senderIp: string;
  targetIp: string;
}

/** The ARP fields of `f`, or null when it is not an Ethernet/IPv4 ARP frame. */
function parseArp(f: Uint8Array): Arp | null {
  if (f.length < 42 || etherType(f) !== ETH_P_ARP) return null;
  return {
    op: ((f[20] ?? 0) << 8) | (f[21] ?? 0),
    ethDst: macAt(f, 0),
    senderMac: macAt(f, 22),
    senderIp: ipAt(f, 28),
    targetIp: ipAt(f, 38),
  };
}

/** A who-has request for `targetIp` from `senderMac`/`senderIp`, broadcast. */
function arpRequest(senderMac: string, senderIp: string, targetIp: string): Uint8Array {
  return Uint8Array.from([
    ...macBytes(BROADCAST), ...macBytes(senderMac), 0x08, 0x06,
    0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, ARP_REQUEST,
    ...macBytes(senderMac), ...ipBytes(senderIp), 0, 0, 0, 0, 0, 0, ...ipBytes(targetIp),
  ]);
}

/** Waits, a bounded time, for `cond`; returns whether it came true. */
async function waitFor(cond: () => boolean, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe.skipIf(skip !== null)('TapLink on a real TAP in a namespace', () => {
  // A per-process name, so "not in the root namespace" cannot be fooled by someone's tap0.
  const TAP = `tt${process.pid % 100_000}`;
  const KERNEL_IP = '10.77.0.1';
  const OUR_MAC = '02:00:00:00:00:02';
  const OUR_IP = '10.77.0.2';
  let ns: Netns;
  let link: TapLink;
  let kernelMac: string;

  beforeAll(() => {
    ns = Netns.create('tapt');
    link = TapLink.open({ name: TAP, netns: ns.name });
    expect(ns.exec(['ip', 'link', 'set', TAP, 'up']).code).toBe(0);
    expect(ns.exec(['ip', 'addr', 'add', `${KERNEL_IP}/24`, 'dev', TAP]).code).toBe(0);
    kernelMac = ns.exec(['cat', `/sys/class/net/${TAP}/address`]).stdout.trim();
  });

  afterAll(() => {
    link?.close();
    ns?.delete();
  });

  /** The kernel's own count for the device, read inside the namespace. */
  function kernelStat(dev: string, stat: 'rx_packets' | 'tx_packets'): number {
    return Number(ns.exec(['cat', `/sys/class/net/${dev}/statistics/${stat}`]).stdout);
  }

  it('creates the device inside the namespace and not in the root namespace', () => {
    expect(link.name).toBe(TAP);
    expect(link.netns).toBe(ns.name);
    expect(link.mtu).toBe(1500);
    expect(link.hasFcs).toBe(false);
    expect(ns.exec(['ip', 'link', 'show', TAP]).code).toBe(0);
    expect(spawnSync('ip', ['link', 'show', TAP]).status).not.toBe(0);
    expect(kernelMac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  });

  it("receives the kernel's ARP requests, several in one batch", async () => {
    const batchSizes: number[] = [];
    const arps: Arp[] = [];
    let frames = 0;
    let bytes = 0;
    const before = { ...link.stats };
    link.setReceiver((batch) => {
      batchSizes.push(batch.length);
      for (const f of batch) {
        frames++;
        bytes += f.length;
        const a = parseArp(f);
        if (a !== null) arps.push(a);
      }
    });
    // ping blocks this process's event loop until it gives up, so every ARP request it
    // triggers waits in the kernel and arrives in the same wake-up.
    ns.exec(['ping', '-c', '2', '-W', '1', '10.77.0.3']);
    expect(await waitFor(() => arps.length >= 2)).toBe(true);
    link.setReceiver(null);

    expect(Math.max(...batchSizes)).toBeGreaterThanOrEqual(2);
    for (const a of arps) {
      expect(a).toEqual({ op: ARP_REQUEST, ethDst: BROADCAST, senderMac: kernelMac, senderIp: KERNEL_IP, targetIp: '10.77.0.3' });
    }
    expect(link.stats.rx_packets - before.rx_packets).toBe(frames);
    expect(link.stats.rx_bytes - before.rx_bytes).toBe(bytes);
  });

  it('sends a frame the kernel answers and learns from', async () => {
    const replies: Arp[] = [];
    link.setReceiver((batch) => {
      for (const f of batch) {
        const a = parseArp(f);
        if (a?.op === ARP_REPLY) replies.push(a);
      }
    });
    const before = { ...link.stats };
    const frame = arpRequest(OUR_MAC, OUR_IP, KERNEL_IP);
    link.send(frame);
    link.flush();
    expect(link.stats.tx_packets - before.tx_packets).toBe(1);
    expect(link.stats.tx_bytes - before.tx_bytes).toBe(frame.length);

    expect(await waitFor(() => replies.length >= 1)).toBe(true);
    link.setReceiver(null);
    expect(replies[0]).toEqual({ op: ARP_REPLY, ethDst: OUR_MAC, senderMac: kernelMac, senderIp: KERNEL_IP, targetIp: OUR_IP });
    // Answering a request for its own address, the kernel also records who asked.
    expect(ns.exec(['ip', 'neigh', 'show', OUR_IP, 'dev', TAP]).stdout).toContain(OUR_MAC);
  });

  it('writes a batch of frames with one native call', async () => {
    const senders = [10, 11, 12, 13, 14].map((n) => ({ mac: `02:00:00:00:00:${n}`, ip: `10.77.0.${n}` }));
    const replies = new Set<string>();
    link.setReceiver((batch) => {
      for (const f of batch) {
        const a = parseArp(f);
        if (a?.op === ARP_REPLY) replies.add(a.targetIp);
      }
    });
    const dev = (link as unknown as { dev: { write(count: number): number } }).dev;
    const write = vi.spyOn(dev, 'write');
    const kernelRx = kernelStat(TAP, 'rx_packets');
    const before = { ...link.stats };

    for (const s of senders) link.send(arpRequest(s.mac, s.ip, KERNEL_IP));
    expect(write).not.toHaveBeenCalled(); // queued, not written one by one
    link.flush();
    expect(write).toHaveBeenCalledTimes(1);
    expect(write).toHaveBeenCalledWith(senders.length);
    expect(write).toHaveReturnedWith(senders.length);
    write.mockRestore();

    expect(link.stats.tx_packets - before.tx_packets).toBe(senders.length);
    expect(kernelStat(TAP, 'rx_packets') - kernelRx).toBe(senders.length);
    expect(await waitFor(() => replies.size === senders.length)).toBe(true);
    link.setReceiver(null);
    const neigh = ns.exec(['ip', 'neigh', 'show', 'dev', TAP]).stdout;
    for (const s of senders) expect(neigh).toContain(s.mac);
  });

  it('flushes a stray send at the end of the turn, and by itself when the slots are full', async () => {
    const small = TapLink.open({ name: `${TAP}b`, netns: ns.name, batch: 4 });
    try {
      const frame = arpRequest(OUR_MAC, OUR_IP, KERNEL_IP);
      // The device is still down: the kernel refuses the write (EIO), a tx error, not a throw.
      small.send(frame);
      expect(small.stats.tx_errors).toBe(0);
      await nextTurn();
      expect(small.stats.tx_errors).toBe(1);

      expect(ns.exec(['ip', 'link', 'set', `${TAP}b`, 'up']).code).toBe(0);
      const kernelRx = kernelStat(`${TAP}b`, 'rx_packets');
      for (let i = 0; i < 3; i++) small.send(frame);
      expect(small.stats.tx_packets).toBe(0);
      small.send(frame); // the 4th fills the slots and flushes at once
      expect(small.stats.tx_packets).toBe(4);
      expect(kernelStat(`${TAP}b`, 'rx_packets') - kernelRx).toBe(4);

      small.send(new Uint8Array(1500 + 18 + 1)); // bigger than MTU + Ethernet header + VLAN tag
      expect(small.stats.tx_dropped).toBe(1);
    } finally {
      small.close();
    }
    expect(small.stats.tx_dropped).toBe(1);
  });

  it('reports a device deleted under it through onError, and stops delivering', async () => {
    const name = `${TAP}d`;
    const errors: TapError[] = [];
    const doomed = TapLink.open({ name, netns: ns.name, onError: (e) => errors.push(e) });
    try {
      doomed.setReceiver(() => {});
      expect(ns.exec(['ip', 'link', 'del', name]).code).toBe(0);
      expect(await waitFor(() => errors.length > 0)).toBe(true);
      // Observed on Linux 5.x/6.x: the tun fd reports EPOLLERR once detached, which libuv
      // hands over as EBADF.
      expect(errors[0]).toBeInstanceOf(TapError);
      expect(errors[0]).toMatchObject({ code: 'EBADF', syscall: 'read', device: name });
      await nextTurn();
      expect(errors).toHaveLength(1);
    } finally {
      doomed.close();
    }
  });

  describe('errors', () => {
    it('names a missing namespace and how to create it', () => {
      const missing = `tapstack-missing-${process.pid}`;
      let err: unknown;
      try {
        TapLink.open({ netns: missing });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TapError);
      expect(err).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'setns' });
      expect((err as Error).message).toContain(`ip netns add ${missing}`);
    });

    it('refuses a second opener of a single-queue tap with EBUSY', () => {
      expect(() => TapLink.open({ name: TAP, netns: ns.name })).toThrow(
        expect.objectContaining({ code: 'EBUSY', syscall: 'ioctl', device: TAP }),
      );
    });

    it('refuses a name that is not a tap with EINVAL', () => {
      expect(() => TapLink.open({ name: 'lo', netns: ns.name })).toThrow(
        expect.objectContaining({ code: 'EINVAL', syscall: 'ioctl' }),
      );
      expect(() => TapLink.open({ name: 'x'.repeat(16), netns: ns.name })).toThrow(
        expect.objectContaining({ code: 'EINVAL' }),
      );
    });

    it('attaches without CAP_NET_ADMIN to a tap made for the user, and says how to make one', () => {
      // /dev/net/tun is often root-only, so the unprivileged user here is root with every
      // capability dropped: what the kernel checks for TUNSETIFF is CAP_NET_ADMIN.
      const addon = fileURLToPath(new URL('../../native/build/Release/tap.node', import.meta.url));
      const owned = `${TAP}u`;
      expect(ns.exec(['ip', 'tuntap', 'add', 'dev', owned, 'mode', 'tap', 'user', '0']).code).toBe(0);
      const withoutCaps = (name: string): string =>
        ns.exec([
          'setpriv', '--bounding-set=-all', '--inh-caps=-all', process.execPath, '-e',
          `const { Tap } = require(${JSON.stringify(addon)});
           try { new Tap(${JSON.stringify(name)}, undefined, 2048, 4).close(); console.log('ok'); }
           catch (e) { console.log(e.code + ' ' + e.message); }`,
        ]).stdout.trim();
      try {
        expect(withoutCaps(owned)).toBe('ok');
        const denied = withoutCaps(`${TAP}p`);
        expect(denied).toMatch(/^EPERM /);
        expect(denied).toContain(`ip tuntap add dev ${TAP}p mode tap user $USER`);
        expect(ns.exec(['ip', 'link', 'show', `${TAP}p`]).code).not.toBe(0);
      } finally {
        ns.exec(['ip', 'tuntap', 'del', 'dev', owned, 'mode', 'tap']);
      }
    });
  });

  it('opens and closes 200 times without leaking memory, descriptors or devices', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const name = `${TAP}c`;
    const frame = arpRequest(OUR_MAC, OUR_IP, KERNEL_IP);
    const cycle = (i: number): void => {
      const l = TapLink.open({ name, netns: ns.name });
      if (i % 2 === 0) l.setReceiver(() => {}); // also create and free the poll handle
      l.send(frame); // and leave a frame queued, with its flush scheduled
      l.close();
    };
    const settle = async (): Promise<void> => {
      await nextTurn(); // libuv frees closed poll handles on the next turn
      gc();
      await nextTurn();
      gc();
    };
    const fds = (): number => readdirSync('/proc/self/fd').length;

    for (let i = 0; i < 10; i++) cycle(i); // warm up code paths and allocator
    await settle();
    const base = { ...process.memoryUsage(), fds: fds() };
    for (let i = 0; i < 200; i++) cycle(i);
    await settle();
    const after = { ...process.memoryUsage(), fds: fds() };

    expect(after.fds).toBe(base.fds);
    // Each open allocates 2 × 64 slots × 1536 bytes; 200 leaked opens would hold ~40 MB.
    expect(after.arrayBuffers - base.arrayBuffers).toBeLessThan(2 * 1024 * 1024);
    expect(after.rss - base.rss).toBeLessThan(32 * 1024 * 1024);
    expect(ns.exec(['ip', 'link', 'show', name]).code).not.toBe(0);
  }, 60_000);
});
