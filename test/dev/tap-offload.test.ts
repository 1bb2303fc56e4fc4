/**
 * TapLink with virtio-net offloads against the real kernel, in namespaces of its own.
 *
 * ```
 *  nsA                                                         nsB
 *  kernel TCP client ─► vnA ═► TapLink A ──relay (this test)──► TapLink B ═► vnB ─► kernel TCP server
 *  10.78.0.1            (TSO: 64 KiB super-frames, partial      (sendOffload: the kernel    10.78.0.2
 *                        checksums, as they come)                takes them as they are)
 *
 *  nsA, forwarding:  TapLink F ═► vnF ─► ip_forward ─► vnP (plain, no TSO) ═► TapLink P
 *                    one 20 KB super-frame             the kernel's software GSO: 14 segments
 * ```
 *
 * The relay is a wire between two kernels: if the headers we parse or build were wrong, the
 * kernel TCP transfer across it would fail or stall. The forwarding case checks our own
 * super-frame byte by byte, after the kernel cut it up and completed every checksum.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RX_CSUM_PARTIAL, RX_CSUM_VALID, RX_GSO } from '../../src/dev/device.js';
import { TapLink } from '../../src/dev/tap.js';
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, emitGsoSegment, newVirtioNetHdr,
} from '../../src/dev/vnet.js';
import { checksum, fold, pseudoHeaderV4, sum16 } from '../../src/wire/checksum.js';
import { Netns, tapSkipReason } from '../helpers/netns.js';

const skip = tapSkipReason();
if (skip !== null) console.warn(`test/dev/tap-offload.test.ts: skipping TAP offload tests: ${skip}`);

/** Waits, a bounded time, for `cond`; returns whether it came true. */
async function waitFor(cond: () => boolean, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

const u16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
const u32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
const macBytes = (mac: string): number[] => mac.split(':').map((h) => parseInt(h, 16));
const ipNum = (ip: string): number => ip.split('.').reduce((a, x) => a * 256 + Number(x), 0);

/**
 * An Ethernet + IPv4 + TCP (`flags`, default ACK|PSH; no options) frame carrying `payload`, with
 * the TCP checksum field holding the pseudo-header sum over the whole TCP length, as
 * `sendOffload` wants it.
 */
function tcpSuperFrame(
  dstMac: string, srcMac: string, src: string, dst: string, seq: number, payload: Uint8Array, flags = 0x18,
): Uint8Array {
  const f = new Uint8Array(54 + payload.length);
  f.set(macBytes(dstMac), 0);
  f.set(macBytes(srcMac), 6);
  f[12] = 0x08;
  const ip = 14;
  const totLen = 40 + payload.length;
  f.set([0x45, 0, totLen >> 8, totLen & 0xff, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0], ip);
  new DataView(f.buffer).setUint32(ip + 12, ipNum(src));
  new DataView(f.buffer).setUint32(ip + 16, ipNum(dst));
  const ipc = checksum(f, ip, 20);
  f[ip + 10] = ipc >> 8;
  f[ip + 11] = ipc & 0xff;
  const t = 34;
  f.set([40000 >> 8, 40000 & 0xff, 5001 >> 8, 5001 & 0xff], t);
  new DataView(f.buffer).setUint32(t + 4, seq);
  new DataView(f.buffer).setUint32(t + 8, 1);
  f[t + 12] = 5 << 4;
  f[t + 13] = flags;
  f[t + 14] = 0xff;
  f[t + 15] = 0xff;
  const pseudo = fold(pseudoHeaderV4(ipNum(src), ipNum(dst), 6, 20 + payload.length));
  f[t + 16] = pseudo >> 8;
  f[t + 17] = pseudo & 0xff;
  f.set(payload, 54);
  return f;
}

describe.skipIf(skip !== null)('TapLink with virtio-net offloads on a real TAP', () => {
  const tag = process.pid % 100_000;
  let nsA: Netns;
  let nsB: Netns;
  const links: TapLink[] = [];
  const open = (name: string, ns: Netns, offload: boolean): TapLink => {
    const l = TapLink.open({ name, netns: ns.name, offload });
    links.push(l);
    return l;
  };
  const sh = (ns: Netns, cmd: string): void => {
    const r = ns.exec(['sh', '-c', cmd]);
    if (r.code !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  };
  const kernelStat = (ns: Netns, dev: string, stat: string): number =>
    Number(ns.exec(['cat', `/sys/class/net/${dev}/statistics/${stat}`]).stdout);

  beforeAll(() => {
    nsA = Netns.create('tapo');
    nsB = Netns.create('tapo');
  });

  afterAll(() => {
    for (const l of links) l.close();
    nsA?.delete();
    nsB?.delete();
  });

  it('negotiates the header and TSO, and sizes the link for 64 KiB super-frames', () => {
    const l = open(`vo${tag}`, nsA, true);
    expect(l.offload).toBe(true);
    expect(l.offloadRefused).toBeUndefined();
    expect(l.maxFrame).toBe(65536 + 18);
    // The kernel side shows the offloads as device features.
    const features = nsA.exec(['ethtool', '-k', `vo${tag}`]).stdout;
    if (features !== '') {
      expect(features).toMatch(/tcp-segmentation-offload: on/);
      expect(features).toMatch(/tx-checksumming: on/);
    }
    const plain = open(`vp${tag}`, nsA, false);
    expect(plain.offload).toBe(false);
    expect(plain.maxFrame).toBe(1500 + 18);
    expect(Array.from(plain.rxFlags)).toEqual(new Array(plain.batch).fill(0));
  });

  it('relays kernel TCP between two namespaces: super-frames in, super-frames out, data intact', async () => {
    const A = `vnA${tag}`;
    const B = `vnB${tag}`;
    const a = open(A, nsA, true);
    const b = open(B, nsB, true);
    sh(nsA, `ip addr add 10.78.0.1/24 dev ${A} && ip link set ${A} up`);
    sh(nsB, `ip addr add 10.78.0.2/24 dev ${B} && ip link set ${B} up`);

    const hdr = newVirtioNetHdr();
    let biggest = 0;
    let gsoSeen = 0;
    let gsoSize = 0;
    let partialOnGso = true;
    const relay = (from: TapLink, to: TapLink, watch: boolean) => (frames: readonly Uint8Array[]): void => {
      for (let i = 0; i < frames.length; i++) {
        const f = frames[i]!;
        expect(from.rxHeader(i, hdr)).toBe(true);
        if (watch && (from.rxFlags[i]! & RX_GSO) !== 0) {
          gsoSeen++;
          biggest = Math.max(biggest, f.length);
          gsoSize = from.rxGsoSize[i]!;
          if ((from.rxFlags[i]! & (RX_CSUM_VALID | RX_CSUM_PARTIAL)) !== (RX_CSUM_VALID | RX_CSUM_PARTIAL)) partialOnGso = false;
          expect(hdr.gsoType).toBe(VIRTIO_NET_HDR_GSO_TCPV4);
          expect(hdr.gsoSize).toBe(gsoSize);
        }
        if ((hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0) {
          to.sendOffload(f, hdr.csumStart, hdr.csumOffset, hdr.gsoType, hdr.gsoSize, hdr.hdrLen);
        } else {
          to.send(f);
        }
      }
      to.flush();
    };
    a.setReceiver(relay(a, b, true));
    b.setReceiver(relay(b, a, false));

    const MIB = 16;
    const server = nsB.spawn([process.execPath, '-e', `
      const h = require('crypto').createHash('sha256'); let n = 0;
      require('net').createServer((s) => {
        s.on('data', (d) => { n += d.length; h.update(d); });
        s.on('end', () => { console.log(n + ' ' + h.digest('hex')); process.exit(0); });
      }).listen(5001, '10.78.0.2', () => console.log('listening'));
      setTimeout(() => process.exit(2), 20000);`]);
    let serverOut = '';
    server.stdout!.on('data', (d: Buffer) => (serverOut += String(d)));
    expect(await waitFor(() => serverOut.includes('listening'))).toBe(true);

    const client = nsA.spawn([process.execPath, '-e', `
      const data = require('crypto').randomBytes(${MIB} << 20);
      console.log(require('crypto').createHash('sha256').update(data).digest('hex'));
      require('net').connect(5001, '10.78.0.2', function () { this.end(data); });
      setTimeout(() => process.exit(2), 20000);`]);
    let clientOut = '';
    client.stdout!.on('data', (d: Buffer) => (clientOut += String(d)));
    const kernelRxB = kernelStat(nsB, B, 'rx_packets');

    expect(await waitFor(() => /^\d+ [0-9a-f]{64}\n/.test(serverOut.replace('listening\n', '')), 20_000)).toBe(true);
    const [bytes, digest] = serverOut.replace('listening\n', '').trim().split(' ');
    expect(Number(bytes)).toBe(MIB << 20);
    expect(digest).toBe(clientOut.trim());

    // The kernel's TCP sent super-frames: longer than the MTU, with the MSS as gso_size and a
    // checksum left partial because the data never left this machine.
    expect(gsoSeen).toBeGreaterThan(0);
    expect(biggest).toBeGreaterThan(1514);
    expect(biggest).toBeLessThanOrEqual(a.maxFrame);
    expect(gsoSize).toBe(1448); // 1500 - 20 (IP) - 20 (TCP) - 12 (timestamps)
    expect(partialOnGso).toBe(true);
    expect(a.stats.rx_gso_frames).toBe(gsoSeen);
    expect(a.stats.rx_csum_partial).toBeGreaterThanOrEqual(gsoSeen);
    expect(b.stats.tx_gso_frames).toBe(gsoSeen);
    expect(b.stats.tx_errors + b.stats.tx_dropped).toBe(0);
    // Far fewer frames than MSS-sized segments crossed into nsB's kernel.
    expect(kernelStat(nsB, B, 'rx_packets') - kernelRxB).toBeLessThan((MIB << 20) / 1448 / 2);
  }, 30_000);

  it("hands the kernel a TSO super-frame that it cuts into MSS segments with complete checksums", async () => {
    const F = `vnF${tag}`;
    const P = `vnP${tag}`;
    const OUR_MAC = '02:00:00:00:01:02';
    const PEER_MAC = '02:00:00:00:02:02';
    const f = open(F, nsA, true);
    const p = open(P, nsA, false);
    sh(nsA, `sysctl -qw net.ipv4.ip_forward=1 && ip addr add 10.78.1.1/24 dev ${F} && ip link set ${F} up`);
    sh(nsA, `ip addr add 10.78.2.1/24 dev ${P} && ip link set ${P} up && ip neigh replace 10.78.2.2 lladdr ${PEER_MAC} dev ${P} nud permanent`);
    // The kernel must not offload on the way out of P: it segments in software, as for a plain NIC.
    const kernelMac = nsA.exec(['cat', `/sys/class/net/${F}/address`]).stdout.trim();

    const segments: Uint8Array[] = [];
    p.setReceiver((frames) => {
      for (const fr of frames) if (fr.length > 34 && fr[23] === 6) segments.push(fr.slice());
    });
    const kernelRx = kernelStat(nsA, F, 'rx_packets');
    const payload = Uint8Array.from({ length: 20_000 }, (_, i) => (i * 7 + (i >> 8)) & 0xff);
    const SEQ = 1_000_000;
    const frame = tcpSuperFrame(kernelMac, OUR_MAC, '10.78.1.2', '10.78.2.2', SEQ, payload);
    const before = { ...f.stats };
    f.sendOffload(frame, 34, 16, VIRTIO_NET_HDR_GSO_TCPV4, 1448, 54);
    f.flush();
    expect(f.stats.tx_packets - before.tx_packets).toBe(1);
    expect(f.stats.tx_gso_frames - before.tx_gso_frames).toBe(1);
    expect(f.stats.tx_errors).toBe(0);
    expect(kernelStat(nsA, F, 'rx_packets') - kernelRx).toBe(1);

    const expected = Math.ceil(payload.length / 1448); // 14
    expect(await waitFor(() => segments.length >= expected)).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(segments).toHaveLength(expected);
    const got = new Uint8Array(payload.length);
    segments.forEach((s, k) => {
      const len = k < expected - 1 ? 1448 : payload.length - 1448 * (expected - 1);
      expect(s.length).toBe(54 + len);
      expect(s.length).toBeLessThanOrEqual(1514);
      expect(u16(s, 16)).toBe(40 + len); // IP total length
      expect(s[22]).toBe(63); // TTL: forwarded once
      expect(checksum(s, 14, 20)).toBe(0); // IP header checksum
      const src = u32(s, 26);
      const dst = u32(s, 30);
      expect(checksum(s, 34, 20 + len, pseudoHeaderV4(src, dst, 6, 20 + len))).toBe(0); // TCP checksum, completed
      expect(u32(s, 38)).toBe(SEQ + 1448 * k);
      expect(s[47]).toBe(k === expected - 1 ? 0x18 : 0x10); // PSH on the last segment only
      got.set(s.subarray(54), 1448 * k);
    });
    expect(got).toEqual(payload);
    expect(sum16(got, 0, got.length)).toBe(sum16(payload, 0, payload.length));

    // Our software segmentation (for links without TSO) makes the same segments as the
    // kernel's, but for what forwarding changed: MACs, TTL and so the IP header checksum.
    const mine = new Uint8Array(1600);
    segments.forEach((s, k) => {
      const len = emitGsoSegment(frame, frame.length, 34, VIRTIO_NET_HDR_GSO_TCPV4, 1448, k, mine, 0);
      expect(len).toBe(s.length);
      expect(mine.subarray(14, 22)).toEqual(s.subarray(14, 22)); // version … fragment field, ID included
      expect(mine[22]! - 1).toBe(s[22]);
      expect(mine.subarray(23, 24)).toEqual(s.subarray(23, 24));
      expect(mine.subarray(26, len)).toEqual(s.subarray(26));
    });
  });

  it('reads what is queued now with readNow(), before the loop polls', () => {
    const R = `vnR${tag}`;
    const r = open(R, nsB, true);
    sh(nsB, `ip addr add 10.78.3.1/24 dev ${R} && ip link set ${R} up`);
    const seen: number[] = [];
    let nested = -1;
    r.setReceiver((frames) => {
      seen.push(frames.length);
      nested = r.readNow(); // the slots are in use: refused
    });
    // ping blocks this thread, so the ARP requests it causes (one per unknown neighbour) wait in
    // the kernel: the poll cannot have delivered them when readNow() runs.
    nsB.exec(['sh', '-c', 'for h in 9 10 11; do ping -c 1 -W 0.2 10.78.3.$h; done']);
    const n = r.readNow();
    expect(n).toBeGreaterThanOrEqual(2);
    expect(seen).toEqual([n]);
    expect(nested).toBe(0);
    expect(r.readNow()).toBe(0); // drained
    // ARP from the kernel: a plain frame, no offload bits.
    expect(r.rxFlags[0]).toBe(0);
    r.setReceiver(null);
    nsB.exec(['ping', '-c', '1', '-W', '0.2', '10.78.3.12']);
    expect(r.readNow()).toBe(0); // no receiver: frames stay queued
  });

  it('drops what it cannot send and refuses inconsistent offload requests', () => {
    const l = links.find((x) => x.offload)!;
    const before = { ...l.stats };
    const f = new Uint8Array(100);
    l.sendOffload(f, 34, 16, VIRTIO_NET_HDR_GSO_TCPV4, 0, 54); // gso_size 0
    l.sendOffload(f, 90, 16, VIRTIO_NET_HDR_GSO_NONE, 0, 0); // checksum field beyond the frame
    l.sendOffload(f, 34, 6, VIRTIO_NET_HDR_GSO_TCPV4, 1448, 54); // TSO with UDP's checksum offset
    l.sendOffload(f, 34, 16, 2, 1448, 54); // no such gso_type
    expect(l.stats.tx_errors - before.tx_errors).toBe(4);
    l.sendOffload(new Uint8Array(l.maxFrame + 1), 34, 16, VIRTIO_NET_HDR_GSO_TCPV4, 1448, 54);
    l.send(new Uint8Array(1500 + 18 + 1)); // send() has no segmentation to offer: MTU-sized only
    expect(l.stats.tx_dropped - before.tx_dropped).toBe(2);
    l.flush();
    expect(l.stats.tx_packets).toBe(before.tx_packets);
  });

  it('completes the checksum and segments itself when offloads are off', async () => {
    const F = `vnQ${tag}`;
    const q = open(F, nsB, false);
    sh(nsB, `ip addr add 10.78.4.1/24 dev ${F} && ip link set ${F} up && ip neigh replace 10.78.4.2 lladdr 02:00:00:00:04:02 dev ${F} nud permanent`);
    const kernelMac = nsB.exec(['cat', `/sys/class/net/${F}/address`]).stdout.trim();
    // To a closed port: the kernel answers a TCP segment with a good checksum with a RST, and
    // drops one with a bad checksum silently (counting InCsumErrors).
    const rsts: Uint8Array[] = [];
    q.setReceiver((frames) => {
      for (const fr of frames) if (fr[23] === 6 && (fr[47]! & 0x04) !== 0) rsts.push(fr.slice());
    });
    const seg = tcpSuperFrame(kernelMac, '02:00:00:00:04:02', '10.78.4.2', '10.78.4.1', 7, new Uint8Array(100));
    q.sendOffload(seg, 34, 16, VIRTIO_NET_HDR_GSO_NONE, 0, 0);
    q.flush();
    expect(q.stats.tx_packets).toBe(1);
    expect(await waitFor(() => rsts.length > 0)).toBe(true);
    // RFC 9293 §3.10.7.1: a RST answering a segment with ACK takes its sequence number from that ACK.
    expect(u32(rsts[0]!, 38)).toBe(1);

    // A super-frame on this link is cut up here. Without ACK, each RST acknowledges the segment
    // it answers (SEQ + LEN), so the kernel's answers show every segment arrived and verified.
    rsts.length = 0;
    const big = tcpSuperFrame(kernelMac, '02:00:00:00:04:02', '10.78.4.2', '10.78.4.1', 5000, new Uint8Array(3000).fill(7), 0x08);
    const before = { ...q.stats };
    q.sendOffload(big, 34, 16, VIRTIO_NET_HDR_GSO_TCPV4, 1000, 54);
    q.flush();
    expect(q.stats.tx_packets - before.tx_packets).toBe(3);
    expect(q.stats.tx_gso_frames).toBe(0); // the device segmented nothing
    expect(await waitFor(() => rsts.length >= 3)).toBe(true);
    expect(rsts.map((r) => u32(r, 42)).sort()).toEqual([6000, 7000, 8000]);
    // A segment longer than the MTU cannot be made.
    q.sendOffload(big, 34, 16, VIRTIO_NET_HDR_GSO_TCPV4, 1500, 54);
    expect(q.stats.tx_dropped - before.tx_dropped).toBe(1);
  });
});
