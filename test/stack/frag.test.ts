import { describe, expect, it } from 'vitest';
import { CONSUMED, DropReason } from '../../src/core/drop.js';
import { ETH_HLEN, ETH_P_IP } from '../../src/wire/ethernet.js';
import { ICMP_ECHOREPLY, ICMP_EXC_FRAGTIME, ICMP_TIME_EXCEEDED } from '../../src/wire/icmpv4.js';
import { IPV4_HLEN } from '../../src/wire/ipv4.js';
import { PEER, US, bytes, decode, echoRequest, ethFrame, fragments, harness, ipv4Packet } from '../helpers/packets.js';

/** A 4000-byte echo request as Linux's ping -s 4000 sends it, split into `chunk`-byte fragments. */
function fragmentedEcho(chunk = 1480, id = 0x00e2, size = 4000): Uint8Array[] {
  return fragments(ipv4Packet(echoRequest(0x2195, 1, bytes(size)), { id }), chunk).map((p) => ethFrame(p, ETH_P_IP));
}

/** Reassembles the stack's fragmented reply and returns the ICMP message. */
function reassembleReply(frames: Uint8Array[]): { icmp: Uint8Array; offsets: number[] } {
  const parts = frames.map((f) => ({ d: decode(f), f }));
  const total = Math.max(...parts.map(({ d }) => d.ip!.fragOffset + d.ip!.totalLength - IPV4_HLEN));
  const icmp = new Uint8Array(total);
  for (const { d, f } of parts) {
    icmp.set(f.subarray(ETH_HLEN + IPV4_HLEN, ETH_HLEN + d.ip!.totalLength), d.ip!.fragOffset);
  }
  return { icmp, offsets: parts.map(({ d }) => d.ip!.fragOffset) };
}

describe('IPv4 reassembly', () => {
  it.each([
    ['in order', [0, 1, 2]],
    ['reversed', [2, 1, 0]],
    ['last first', [2, 0, 1]],
  ])('reassembles fragments %s and answers the whole echo', (_name, order) => {
    const h = harness();
    const frags = fragmentedEcho();
    const verdicts = order.map((i) => h.input(frags[i]!));
    expect(verdicts).toEqual([CONSUMED, CONSUMED, CONSUMED]);
    const reply = h.tx();
    expect(reply).toHaveLength(3);
    const { icmp, offsets } = reassembleReply(reply);
    expect(offsets).toEqual([0, 1480, 2960]);
    expect(icmp[0]).toBe(ICMP_ECHOREPLY);
    expect(icmp.subarray(8)).toEqual(bytes(4000));
    const c = h.stack.counters().Ip;
    expect(c).toMatchObject({ ReasmReqds: 3, ReasmOKs: 1, ReasmFails: 0, FragOKs: 1, FragCreates: 3 });
    expect(h.stack.reassemblyMemory()).toBe(0);
  });

  it('answers echoes of any size up to 65507 bytes of payload', () => {
    const h = harness();
    for (const size of [0, 56, 1472, 1473, 20_000, 65_507 - 8]) {
      const frags = fragments(ipv4Packet(echoRequest(1, size & 0xffff, bytes(size)), { id: size & 0xffff }), 1480);
      for (const f of frags) h.input(ethFrame(f, ETH_P_IP));
      const out = h.tx();
      const { icmp } = reassembleReply(out);
      expect(icmp.length).toBe(8 + size);
      expect(icmp.subarray(8)).toEqual(bytes(size));
    }
  });

  it('drops an exact duplicate fragment (DUP_FRAG) and still completes', () => {
    const h = harness();
    const [a, b, c] = fragmentedEcho();
    expect(h.input(a!)).toBe(CONSUMED);
    expect(h.input(a!)).toBe(DropReason.DUP_FRAG);
    h.input(b!);
    h.input(c!);
    expect(h.tx()).toHaveLength(3);
  });

  it('discards the whole datagram on a partial overlap (ReasmOverlaps)', () => {
    const h = harness();
    const frags = fragmentedEcho();
    const overlapping = fragments(ipv4Packet(echoRequest(0x2195, 1, bytes(4000)), { id: 0x00e2 }), 1000);
    expect(h.input(frags[0]!)).toBe(CONSUMED); // bytes 0..1480
    expect(h.input(ethFrame(overlapping[1]!, ETH_P_IP))).toBe(DropReason.X_FRAG_OVERLAP); // 1000..2000
    const c = h.stack.counters();
    expect(c.IpExt.ReasmOverlaps).toBe(1);
    expect(c.Ip.ReasmFails).toBe(1);
    expect(h.stack.reassemblyMemory()).toBe(0);
    // What is left of the datagram starts a new one that never completes.
    h.input(frags[1]!);
    h.input(frags[2]!);
    expect(h.tx()).toHaveLength(0);
  });

  it('times out after 30 s, sends Time Exceeded (fragment reassembly) when the first fragment came', () => {
    const h = harness();
    const [first, second] = fragmentedEcho();
    h.input(first!);
    h.input(second!);
    h.advance(29_999);
    expect(h.tx()).toHaveLength(0);
    h.advance(1);
    const [err, ...more] = h.tx();
    expect(more).toHaveLength(0);
    const d = decode(err!);
    expect(d.icmp).toMatchObject({ type: ICMP_TIME_EXCEEDED, code: ICMP_EXC_FRAGTIME });
    expect(d.ip).toMatchObject({ src: US.ip, dst: PEER.ip });
    expect(d.payload!.length).toBe(IPV4_HLEN + 8); // the first fragment's header and 8 bytes
    const c = h.stack.counters().Ip;
    expect(c).toMatchObject({ ReasmTimeout: 1, ReasmFails: 1 });
    expect(h.stack.drops()[DropReason.FRAG_REASM_TIMEOUT]).toBe(2);
    expect(h.stack.reassemblyMemory()).toBe(0);
  });

  it('times out silently without the first fragment', () => {
    const h = harness();
    const [, second] = fragmentedEcho();
    h.input(second!);
    h.advance(30_000);
    expect(h.tx()).toHaveLength(0);
    expect(h.stack.counters().Ip.ReasmTimeout).toBe(1);
  });

  it('bounds memory per datagram', () => {
    const h = harness({ config: { frag: { maxDatagramBytes: 8000 } } });
    const frags = fragments(ipv4Packet(echoRequest(1, 1, bytes(20_000)), { id: 9 }), 1480);
    const verdicts = frags.map((f) => h.input(ethFrame(f, ETH_P_IP)));
    expect(verdicts).toContain(DropReason.X_FRAG_MEM_LIMIT);
    expect(h.stack.reassemblyMemory()).toBeLessThanOrEqual(8000);
  });

  it('bounds memory for all datagrams together, and recovers once they time out', () => {
    const h = harness({ config: { frag: { highThreshBytes: 50_000 } } });
    let refused = 0;
    for (let id = 0; id < 100; id++) {
      // First fragments only: each opens a datagram that never completes.
      const [first] = fragments(ipv4Packet(echoRequest(1, 1, bytes(3000)), { id }), 1480);
      if (h.input(ethFrame(first!, ETH_P_IP)) === DropReason.X_FRAG_MEM_LIMIT) refused++;
    }
    expect(refused).toBeGreaterThan(0);
    expect(h.stack.reassemblyMemory()).toBeLessThanOrEqual(50_000 + 1480 + 256);
    h.advance(30_000);
    expect(h.stack.reassemblyMemory()).toBe(0);
    for (const f of fragmentedEcho()) h.input(f);
    expect(h.tx().filter((f) => decode(f).ip?.protocol === 1 && decode(f).ip?.dst === PEER.ip).length).toBeGreaterThanOrEqual(3);
  });

  it('drops a datagram that would exceed 65535 bytes', () => {
    const h = harness();
    const last = ipv4Packet(bytes(100), { id: 5, fragOffset: 65_528 - 64, moreFrags: false });
    expect(h.input(ethFrame(last, ETH_P_IP))).toBe(DropReason.PKT_TOO_BIG);
  });

  it('drops a second last fragment that disagrees about the end', () => {
    const h = harness();
    const [, , last] = fragmentedEcho();
    h.input(last!);
    const shorter = ipv4Packet(bytes(16), { id: 0x00e2, fragOffset: 1480, moreFrags: false });
    expect(h.input(ethFrame(shorter, ETH_P_IP))).toBe(DropReason.IP_INHDR);
    expect(h.stack.counters().Ip.ReasmFails).toBe(1);
  });
});

describe('IPv4 fragmentation on send', () => {
  it('splits a datagram larger than the MTU into 8-byte aligned fragments without DF', () => {
    const h = harness({ mtu: 576 });
    h.stack.udp.createSocket('udp4').send(bytes(2000), 9, '192.168.69.1');
    const out = h.tx().map(decode);
    expect(out.length).toBe(Math.ceil(2008 / 552));
    for (const d of out) {
      expect(d.ip!.totalLength).toBeLessThanOrEqual(576);
      expect(d.ip!.fragOffset % 8).toBe(0);
      expect(d.ip!.dontFrag).toBe(false);
      expect(d.ip!.id).toBe(out[0]!.ip!.id);
    }
    expect(out.map((d) => d.ip!.moreFrags)).toEqual([...out.slice(1).map(() => true), false]);
  });
});
