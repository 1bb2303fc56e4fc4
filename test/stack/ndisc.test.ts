/**
 * Neighbor Discovery on the virtual clock (RFC 4861), duplicate address detection and
 * SLAAC (RFC 4862), asserting what Linux does: DAD's probes and verdicts, answering and
 * validating solicitations, resolving a neighbour and the NUD state machine through
 * REACHABLE, STALE, DELAY, PROBE and FAILED, advertisements that may or may not override a
 * cache entry, router advertisements (default router, prefixes, MTU, hop limit) and the
 * router solicitations that look for them.
 */
import { describe, expect, it } from 'vitest';
import { CONSUMED, DropReason } from '../../src/core/drop.js';
import type { NeighborEntry } from '../../src/eth/neighbor.js';
import { ipv6MulticastMac, solicitedNodeAddr, type Mac } from '../../src/wire/addr.js';
import {
  ICMPV6_ECHO_REPLY, ICMPV6_NEIGHBOUR_ADVERT, ICMPV6_NEIGHBOUR_SOLICIT, ICMPV6_ROUTER_SOLICIT,
} from '../../src/wire/icmpv6.js';
import { NEXTHDR_UDP } from '../../src/wire/ipv6.js';
import { PEER, US, bytes, type Harness } from '../helpers/packets.js';
import {
  PEER6, ROUTER, US6, counters6, dadTime, decode6, drain, echoFrame6, fragmentHeader, frame6, harness6, ipv6Packet,
  naFrame, nsFrame, raFrame, slaacAddr, withoutNdp, type Decoded6,
} from '../helpers/packets6.js';

const OTHER = { ip: 'fd00:69::7', mac: 0x02_00_00_00_00_07 as Mac };

/** Every IPv6 frame the stack sent, decoded (ARP and MLD reports left out). */
function sent(h: Harness): Decoded6[] {
  return h.tx().filter((f) => ((f[12]! << 8) | f[13]!) === 0x86dd).map(decode6).filter((d) => d.icmp?.type !== 143);
}

const ofType = (frames: Decoded6[], type: number): Decoded6[] => frames.filter((d) => d.icmp?.type === type);

function entry(h: Harness, addr: string): NeighborEntry | undefined {
  return h.stack.neighbors().find((n) => n.addr === addr);
}

function address(h: Harness, addr: string): { tentative: boolean; dadFailed: boolean } | undefined {
  return h.stack.ipv6Addresses().find((a) => a.addr === addr);
}

/** Runs the clock to the stack's next timer, returning what that sent. */
function nextTimer(h: Harness): Decoded6[] {
  const at = Math.max(h.stack.pollAt(), h.clock.now());
  expect(at).toBeLessThan(Infinity);
  h.advance(at - h.clock.now());
  return sent(h);
}

describe('duplicate address detection (RFC 4862 §5.4)', () => {
  it('starts with every address tentative and probes each from :: to its solicited-node group with a nonce', () => {
    const h = harness6({ ready: false });
    h.stack.start(0);
    expect(h.stack.ipv6Addresses().map((a) => [a.addr, a.tentative])).toEqual([[US6.ll, true], [US6.ip, true]]);
    h.advance(h.stack.config.ipv6.routerSolicitationDelayMs); // the random start delay is at most this
    const probes = ofType(sent(h), ICMPV6_NEIGHBOUR_SOLICIT);
    expect(probes.map((d) => d.ndp!.target).sort()).toEqual([US6.ip, US6.ll].sort());
    for (const d of probes) {
      const target = d.ndp!.target;
      expect(d.eth).toMatchObject({ src: US.mac, dst: ipv6MulticastMac(solicitedNodeAddr(target)) });
      expect(d.ip).toMatchObject({ src: '::', dst: solicitedNodeAddr(target), hopLimit: 255 });
      expect(d.ndpOpts!.sourceLinkAddr).toBe(-1); // none from :: (RFC 4861 §4.3)
      expect(d.ndpOpts!.nonce).not.toBe(-1); // RFC 7527, as Linux's enhanced_dad
    }
    expect(h.stack.ipv6Addresses().every((a) => a.tentative)).toBe(true);
  });

  it('does not answer packets to a tentative address, and makes it usable DupAddrDetectTransmits × RetransTimer after its probes', () => {
    const h = harness6({ ready: false, config: { ipv6: { dadTransmits: 3 } } });
    h.stack.start(0);
    expect(h.input(echoFrame6(1, 1, bytes(8)))).toBe(DropReason.IP_INADDRERRORS);
    const probeTimes: number[] = [];
    for (let i = 0; i < 20 && address(h, US6.ip)!.tentative; i++) {
      const out = nextTimer(h);
      if (out.some((d) => d.ndp?.target === US6.ip)) probeTimes.push(h.clock.now());
      if (address(h, US6.ip)!.tentative) expect(h.input(echoFrame6(1, i, bytes(8)))).toBe(DropReason.IP_INADDRERRORS);
    }
    const retrans = h.stack.config.neigh.retransTimeMs;
    expect(probeTimes).toHaveLength(3);
    expect([probeTimes[1]! - probeTimes[0]!, probeTimes[2]! - probeTimes[1]!]).toEqual([retrans, retrans]);
    expect(h.clock.now()).toBe(probeTimes[2]! + retrans);
    expect(address(h, US6.ip)).toMatchObject({ tentative: false, dadFailed: false });
    // Usable now: the peer resolves us, and we answer.
    h.rx(nsFrame(US6.ip));
    expect(h.input(echoFrame6(1, 99, bytes(8)))).toBe(CONSUMED);
    expect(drain(h).map((f) => decode6(f).icmp?.type)).toEqual([ICMPV6_ECHO_REPLY]);
  });

  it('with dad_transmits 0, addresses are usable at once and nothing is probed', () => {
    const h = harness6({ ready: false, config: { ipv6: { dadTransmits: 0 } } });
    expect(h.stack.ipv6Addresses().every((a) => !a.tentative)).toBe(true);
    h.stack.start(0);
    h.advance(h.stack.config.ipv6.routerSolicitationDelayMs);
    expect(ofType(sent(h), ICMPV6_NEIGHBOUR_SOLICIT)).toHaveLength(0);
    h.rx(nsFrame(US6.ip));
    expect(h.input(echoFrame6(1, 1, bytes(8)))).toBe(CONSUMED);
  });

  it('does not take its own probe, looped back, for a duplicate (the nonce)', () => {
    const h = harness6({ ready: false });
    h.stack.start(0);
    h.advance(h.stack.config.ipv6.routerSolicitationDelayMs);
    const probe = ofType(sent(h), ICMPV6_NEIGHBOUR_SOLICIT).find((d) => d.ndp!.target === US6.ip)!;
    h.input(probe.frame);
    h.advance(dadTime(h.stack.config));
    expect(address(h, US6.ip)).toMatchObject({ tentative: false, dadFailed: false });
  });

  it.each([
    ['a Neighbor Advertisement for it', () => naFrame(US6.ip, { src: PEER6.ll, dst: 'ff02::1', solicited: false })],
    ["another node's probe for it", () => nsFrame(US6.ip, { src: '::', nonce: 0x1234_5678_9abc })],
    ["another node's probe for it without a nonce", () => nsFrame(US6.ip, { src: '::' })],
  ])('gives the address up for good on %s (dadfailed)', (_name, frame) => {
    const h = harness6({ ready: false });
    h.stack.start(0);
    h.input(frame());
    h.advance(10 * dadTime(h.stack.config));
    expect(address(h, US6.ip)).toEqual(expect.objectContaining({ tentative: true, dadFailed: true }));
    expect(address(h, US6.ll)).toMatchObject({ tentative: false, dadFailed: false });
    h.tx();
    // Never used: not answered, not defended, not chosen as a source.
    expect(h.input(echoFrame6(1, 1, bytes(8)))).toBe(DropReason.IP_INADDRERRORS);
    expect(h.input(nsFrame(US6.ip))).toBe(DropReason.IPV6_NDISC_NS_OTHERHOST);
    expect(h.tx()).toHaveLength(0);
    const sock = h.stack.udp.createSocket('udp6');
    sock.send(bytes(4), 9, PEER6.ll);
    h.rx(naFrame(PEER6.ll, { dst: US6.ll }));
    expect(drain(h).map((f) => decode6(f).ip.src)).toEqual([US6.ll]);
  });

  it("defends an address it owns against another node's probe: NA to all nodes, S=0, O=1, with its MAC", () => {
    const h = harness6();
    expect(h.input(nsFrame(US6.ip, { src: '::', nonce: 42 }))).toBe(CONSUMED);
    const [na, ...rest] = sent(h);
    expect(rest).toHaveLength(0);
    expect(na!.eth.dst).toBe(ipv6MulticastMac('ff02::1'));
    expect(na!.ip).toMatchObject({ src: US6.ip, dst: 'ff02::1', hopLimit: 255 });
    expect(na!.ndp).toMatchObject({ target: US6.ip, solicited: false, override: true, router: false });
    expect(na!.ndpOpts!.targetLinkAddr).toBe(US.mac);
    expect(address(h, US6.ip)).toMatchObject({ tentative: false, dadFailed: false });
    expect(entry(h, '::')).toBeUndefined();
  });

  it('ignores a solicitation from a unicast source for a tentative address', () => {
    const h = harness6({ ready: false });
    h.stack.start(0);
    expect(h.input(nsFrame(US6.ip))).toBe(DropReason.NOT_SPECIFIED);
    expect(ofType(sent(h), ICMPV6_NEIGHBOUR_ADVERT)).toHaveLength(0);
    expect(entry(h, PEER6.ip)).toBeUndefined();
  });
});

describe('Neighbor Solicitation in (RFC 4861 §7.2.3)', () => {
  it('answers a multicast one for our address with a solicited NA (S=1, O=1, our MAC) and learns the asker', () => {
    const h = harness6({ learnPeer: false });
    const delta = counters6(h);
    expect(h.input(nsFrame(US6.ip))).toBe(CONSUMED);
    const [na, ...rest] = sent(h);
    expect(rest).toHaveLength(0);
    expect(na!.eth).toMatchObject({ src: US.mac, dst: PEER.mac });
    expect(na!.ip).toMatchObject({ src: US6.ip, dst: PEER6.ip, hopLimit: 255 });
    expect(na!.ndp).toMatchObject({ target: US6.ip, solicited: true, override: true, router: false });
    expect(na!.ndpOpts!.targetLinkAddr).toBe(US.mac);
    // STALE with the asker's MAC; used at once for the answer, so DELAY (as `ip -6 neigh` shows on Linux).
    expect(entry(h, PEER6.ip)).toMatchObject({ mac: PEER.mac, state: 'DELAY' });
    const c = delta();
    expect(c.Icmp6).toEqual({ InMsgs: 1, InNeighborSolicits: 1, OutMsgs: 1, OutNeighborAdvertisements: 1 });
    expect(c.Icmp6Msg).toEqual({ InType135: 1, OutType136: 1 });
  });

  it('answers a unicast one (a neighbour checking its entry) with S=1, O=0 and no address option, as Linux', () => {
    const h = harness6();
    expect(h.input(nsFrame(US6.ip, { dst: US6.ip }))).toBe(CONSUMED);
    const [na] = sent(h);
    expect(na!.ip).toMatchObject({ src: US6.ip, dst: PEER6.ip, hopLimit: 255 });
    expect(na!.ndp).toMatchObject({ target: US6.ip, solicited: true, override: false });
    expect(na!.ndpOpts!.targetLinkAddr).toBe(-1);
    expect(na!.frame.length).toBe(14 + 40 + 24);
  });

  it('answers for the link-local address from the link-local address', () => {
    const h = harness6({ learnPeer: false });
    h.input(nsFrame(US6.ll, { src: PEER6.ll }));
    const [na] = sent(h);
    expect(na!.ip).toMatchObject({ src: US6.ll, dst: PEER6.ll });
    expect(na!.ndp!.target).toBe(US6.ll);
  });

  it.each([
    ['a hop limit other than 255 (it crossed a router)', () => nsFrame(US6.ip, { hopLimit: 254 }), DropReason.IPV6_NDISC_HOP_LIMIT],
    ['a target that is not ours', () => nsFrame('fd00:69::99', { dst: US6.ip }), DropReason.IPV6_NDISC_NS_OTHERHOST],
    ['a multicast target', () => nsFrame('ff02::1', { dst: US6.ip }), DropReason.IPV6_NDISC_BAD_OPTIONS],
    ['a multicast one without the source address option (RFC 4861 §7.1.1)', () => nsFrame(US6.ip, { slla: null }), DropReason.NOT_SPECIFIED],
    ['a DAD probe with a source address option', () => nsFrame(US6.ip, { src: '::', slla: PEER.mac }), DropReason.IPV6_NDISC_BAD_OPTIONS],
    ['a DAD probe not sent to a solicited-node group', () => nsFrame(US6.ip, { src: '::', dst: US6.ip }), DropReason.IPV6_NDISC_BAD_OPTIONS],
  ])('drops one with %s', (_name, frame, reason) => {
    const h = harness6({ learnPeer: false });
    expect(h.input(frame())).toBe(reason);
    expect(h.tx()).toHaveLength(0);
    expect(entry(h, PEER6.ip)).toBeUndefined();
  });

  it('drops one with a code other than 0, or an option of length 0', () => {
    const h = harness6({ learnPeer: false });
    const icmp = 14 + 40;
    const g = nsFrame(US6.ip);
    g[icmp + 1] = 1;
    fixChecksum(g);
    expect(h.input(g)).toBe(DropReason.IPV6_NDISC_BAD_CODE);
    const z = nsFrame(US6.ip);
    z[icmp + 24 + 1] = 0; // the source address option's length
    fixChecksum(z);
    expect(h.input(z)).toBe(DropReason.IPV6_NDISC_BAD_OPTIONS);
    expect(h.tx()).toHaveLength(0);
  });

  it('drops Neighbor Discovery in a fragmented packet, even an atomic fragment (RFC 6980 §5)', () => {
    const h = harness6({ learnPeer: false });
    const ns = nsFrame(US6.ip).subarray(14);
    const atomic = frame6(ipv6Packet(ns.subarray(40), { dst: solicitedNodeAddr(US6.ip), hopLimit: 255, exts: [fragmentHeader(0, false, 1)] }));
    expect(h.input(atomic)).toBe(DropReason.IPV6_NDISC_FRAG);
    expect(h.tx()).toHaveLength(0);
    expect(entry(h, PEER6.ip)).toBeUndefined();
  });
});

/** Recomputes the ICMPv6 checksum of a frame with a 40-byte IPv6 header and no extension headers. */
function fixChecksum(f: Uint8Array): void {
  const d = { src: f.subarray(22, 38), dst: f.subarray(38, 54) };
  const icmp = f.subarray(54, 54 + ((f[18]! << 8) | f[19]!));
  icmp[2] = 0;
  icmp[3] = 0;
  let s = 0;
  const add = (b: Uint8Array): void => {
    for (let i = 0; i < b.length; i += 2) s += (b[i]! << 8) | (b[i + 1] ?? 0);
  };
  add(d.src);
  add(d.dst);
  s += icmp.length + 58;
  add(icmp);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  const c = ~s & 0xffff;
  icmp[2] = c >>> 8;
  icmp[3] = c & 0xff;
}

describe('address resolution and neighbour unreachability detection (RFC 4861 §7.2, §7.3)', () => {
  it("solicits an unknown on-link neighbour's solicited-node group with our MAC, queues, and sends once it answers", () => {
    const h = harness6();
    const sock = h.stack.udp.createSocket('udp6');
    sock.send(bytes(10), 9, OTHER.ip);
    const [ns, ...rest] = sent(h);
    expect(rest).toHaveLength(0); // the datagram waits
    expect(ns!.eth).toMatchObject({ src: US.mac, dst: ipv6MulticastMac(solicitedNodeAddr(OTHER.ip)) });
    expect(ns!.ip).toMatchObject({ src: US6.ip, dst: solicitedNodeAddr(OTHER.ip), hopLimit: 255 });
    expect(ns!.ndp!.target).toBe(OTHER.ip);
    expect(ns!.ndpOpts).toMatchObject({ sourceLinkAddr: US.mac, nonce: -1 });
    expect(entry(h, OTHER.ip)).toMatchObject({ state: 'INCOMPLETE' });

    expect(h.input(naFrame(OTHER.ip, { ethSrc: OTHER.mac }))).toBe(CONSUMED);
    const [udp] = sent(h);
    expect(udp!.eth.dst).toBe(OTHER.mac);
    expect(udp!.ip).toMatchObject({ src: US6.ip, dst: OTHER.ip, nextHeader: NEXTHDR_UDP });
    expect(udp!.payload).toEqual(bytes(10));
    expect(entry(h, OTHER.ip)).toMatchObject({ state: 'REACHABLE', mac: OTHER.mac });
  });

  it('gives up after mcast_solicit solicitations one RetransTimer apart: FAILED, the queued packets dropped as NEIGH_FAILED', () => {
    const h = harness6();
    const delta = counters6(h);
    const sock = h.stack.udp.createSocket('udp6');
    sock.send(bytes(10), 9, OTHER.ip);
    sock.send(bytes(11), 9, OTHER.ip);
    const times = [h.clock.now()];
    expect(ofType(sent(h), ICMPV6_NEIGHBOUR_SOLICIT)).toHaveLength(1);
    for (let i = 1; i < h.stack.config.neigh.mcastSolicit; i++) {
      const out = nextTimer(h);
      expect(out.map((d) => [d.ip.dst, d.ndp?.target])).toEqual([[solicitedNodeAddr(OTHER.ip), OTHER.ip]]);
      times.push(h.clock.now());
    }
    expect(times.map((t) => t - times[0]!)).toEqual([0, 1000, 2000]);
    expect(nextTimer(h)).toHaveLength(0);
    expect(h.clock.now() - times[0]!).toBe(3000);
    expect(entry(h, OTHER.ip)).toMatchObject({ state: 'FAILED' });
    const c = delta();
    expect(c.drops[DropReason.NEIGH_FAILED]).toBe(2);
    expect(c.Neigh6).toMatchObject({ res_failed: 1 });
  });

  it('REACHABLE → STALE after the reachable time, DELAY when used, then unicast probes from the link-local address, then FAILED', () => {
    const h = harness6();
    const base = h.stack.config.neigh.baseReachableTimeMs;
    expect(entry(h, PEER6.ip)).toMatchObject({ state: 'REACHABLE' });
    h.advance(base * 1.5); // reachable time is a random 0.5–1.5 × base
    expect(entry(h, PEER6.ip)).toMatchObject({ state: 'STALE', mac: PEER.mac });
    expect(sent(h)).toHaveLength(0);

    // Used while STALE: sent at once to the MAC we have, and checked in a while (RFC 4861 §7.3.3).
    h.input(echoFrame6(1, 1, bytes(8)));
    const [reply] = sent(h);
    expect(reply!.eth.dst).toBe(PEER.mac);
    expect(entry(h, PEER6.ip)).toMatchObject({ state: 'DELAY' });

    h.advance(h.stack.config.neigh.delayFirstProbeTimeMs - 1);
    expect(sent(h)).toHaveLength(0);
    h.advance(1);
    expect(entry(h, PEER6.ip)).toMatchObject({ state: 'PROBE' });
    const probes = [...sent(h)];
    for (let i = 1; i < h.stack.config.neigh.ucastSolicit; i++) probes.push(...nextTimer(h));
    expect(probes).toHaveLength(3);
    for (const p of probes) {
      // As Linux (ndisc_solicit with no packet waiting): from the link-local address, straight to the neighbour.
      expect(p.eth).toMatchObject({ src: US.mac, dst: PEER.mac });
      expect(p.ip).toMatchObject({ src: US6.ll, dst: PEER6.ip, hopLimit: 255 });
      expect(p.ndp!.target).toBe(PEER6.ip);
      expect(p.ndpOpts!.sourceLinkAddr).toBe(US.mac);
    }
    nextTimer(h);
    expect(entry(h, PEER6.ip)).toMatchObject({ state: 'FAILED' });

    // Used again: resolution starts over, by multicast.
    h.input(echoFrame6(1, 2, bytes(8)));
    const again = sent(h);
    expect(again.map((d) => [d.icmp?.type, d.ip.dst])).toEqual([[ICMPV6_NEIGHBOUR_SOLICIT, solicitedNodeAddr(PEER6.ip)]]);
  });

  it('a probe answered (S=1, no address option, as Linux answers a unicast solicitation) makes the entry REACHABLE again', () => {
    const h = harness6();
    h.advance(h.stack.config.neigh.baseReachableTimeMs * 1.5);
    h.input(echoFrame6(1, 1, bytes(8)));
    h.advance(h.stack.config.neigh.delayFirstProbeTimeMs);
    expect(ofType(sent(h), ICMPV6_NEIGHBOUR_SOLICIT)).toHaveLength(1);
    expect(h.input(naFrame(PEER6.ip, { dst: US6.ll, override: false, tlla: null }))).toBe(CONSUMED);
    expect(entry(h, PEER6.ip)).toMatchObject({ state: 'REACHABLE', mac: PEER.mac });
    h.advance(10_000);
    expect(sent(h)).toHaveLength(0);
  });

  it('an NA with O=0 and another MAC does not override: a REACHABLE entry goes STALE, its MAC kept (RFC 4861 §7.2.5)', () => {
    const h = harness6();
    const intruder = 0x02_00_00_00_00_99;
    expect(h.input(naFrame(PEER6.ip, { override: false, solicited: true, ethSrc: intruder }))).toBe(CONSUMED);
    expect(entry(h, PEER6.ip)).toMatchObject({ state: 'STALE', mac: PEER.mac });
    // Not REACHABLE any more: the same again is ignored.
    h.input(naFrame(PEER6.ip, { override: false, solicited: false, ethSrc: intruder }));
    expect(entry(h, PEER6.ip)).toMatchObject({ state: 'STALE', mac: PEER.mac });
    // With O=1 it does override: STALE with the new MAC unsolicited, REACHABLE solicited.
    h.input(naFrame(PEER6.ip, { override: true, solicited: false, ethSrc: intruder }));
    expect(entry(h, PEER6.ip)).toMatchObject({ state: 'STALE', mac: intruder });
    h.input(naFrame(PEER6.ip, { override: true, solicited: true }));
    expect(entry(h, PEER6.ip)).toMatchObject({ state: 'REACHABLE', mac: PEER.mac });
  });

  it('an NA for an address it is not resolving creates nothing; a solicited one to a group is dropped', () => {
    const h = harness6();
    expect(h.input(naFrame(OTHER.ip, { ethSrc: OTHER.mac, solicited: false }))).toBe(CONSUMED);
    expect(entry(h, OTHER.ip)).toBeUndefined();
    expect(h.input(naFrame(PEER6.ip, { dst: 'ff02::1', solicited: true }))).toBe(DropReason.IPV6_NDISC_BAD_OPTIONS);
  });

  it('an NA after resolution failed changes nothing (Linux ignores a FAILED entry; RFC 4861 has none)', () => {
    const h = harness6();
    h.stack.udp.createSocket('udp6').send(bytes(10), 9, OTHER.ip);
    h.advance(3 * h.stack.config.neigh.retransTimeMs);
    expect(entry(h, OTHER.ip)).toMatchObject({ state: 'FAILED' });
    h.tx();
    h.input(naFrame(OTHER.ip, { ethSrc: OTHER.mac }));
    expect(entry(h, OTHER.ip)?.state).not.toBe('REACHABLE');
    expect(h.tx()).toHaveLength(0);
  });
});

describe('router advertisements (RFC 4861 §6.3.4, RFC 4862 §5.5)', () => {
  const PREFIX = '2001:db8:1::';
  const FAR = '2001:db8:99::1';

  it('learns a default router, a SLAAC address (tentative, then usable) and the MTU from a valid one', () => {
    const h = harness6();
    const delta = counters6(h);
    expect(h.input(raFrame({ mtu: 1400, prefixes: [{ prefix: PREFIX }] }))).toBe(CONSUMED);
    expect(delta().Icmp6).toMatchObject({ InRouterAdvertisements: 1 });
    expect(h.stack.ipv6Routes()).toContain(`default via ${ROUTER.ll} proto ra`);
    expect(h.stack.ipv6Routes()).toContain(`${PREFIX}/64 proto kernel`);
    const addr = slaacAddr(PREFIX);
    expect(addr).toBe('2001:db8:1::ff:fe00:b');
    expect(address(h, addr)).toMatchObject({ tentative: true, dadFailed: false });
    expect(h.input(echoFrame6(1, 1, bytes(8), { dst: addr }))).toBe(DropReason.IP_INADDRERRORS);

    h.advance(dadTime(h.stack.config));
    const dad = ofType(sent(h), ICMPV6_NEIGHBOUR_SOLICIT);
    expect(dad.map((d) => [d.ip.src, d.ip.dst, d.ndp!.target])).toEqual([['::', solicitedNodeAddr(addr), addr]]);
    expect(address(h, addr)).toMatchObject({ tentative: false });
    expect(h.input(echoFrame6(1, 2, bytes(8), { dst: addr }))).toBe(CONSUMED);
    expect(drain(h).map((f) => decode6(f).ip.src)).toEqual([addr]);

    // Off-link destinations go to the router's MAC, from the address sharing the longest prefix.
    const sock = h.stack.udp.createSocket('udp6');
    sock.send(bytes(20), 9, FAR);
    const [out] = withoutNdp(h.tx()).map(decode6);
    expect(out!.eth.dst).toBe(ROUTER.mac);
    expect(out!.ip).toMatchObject({ src: addr, dst: FAR });

    // The advertised MTU: a 1400-byte echo reply no longer fits in one packet.
    h.input(echoFrame6(1, 3, bytes(1400)));
    const frags = drain(h);
    expect(frags.length).toBe(2);
    for (const f of frags) expect(f.length - 14).toBeLessThanOrEqual(1400);
  });

  it("keeps a SLAAC address its valid lifetime, and lets a later RA shorten it to no less than two hours (RFC 4862 §5.5.3 e)", () => {
    const h = harness6();
    const addr = slaacAddr(PREFIX);
    h.input(raFrame({ prefixes: [{ prefix: PREFIX, valid: 30, preferred: 20 }] }));
    h.advance(29_999);
    expect(address(h, addr)).toBeDefined();
    h.advance(1);
    expect(address(h, addr)).toBeUndefined();

    h.input(raFrame({ prefixes: [{ prefix: PREFIX, valid: 86_400 }] }));
    const t = h.clock.now();
    expect(h.stack.ipv6Addresses().find((a) => a.addr === addr)?.validUntil).toBe(t + 86_400_000);
    // A spoofed RA cannot cut it short: at most down to two hours.
    h.input(raFrame({ prefixes: [{ prefix: PREFIX, valid: 60, preferred: 60 }] }));
    expect(h.stack.ipv6Addresses().find((a) => a.addr === addr)?.validUntil).toBe(t + 7_200_000);
  });

  it('takes the hop limit it advertises for what we send', () => {
    const h = harness6();
    h.input(raFrame({ curHopLimit: 32 }));
    h.input(echoFrame6(1, 1, bytes(8)));
    expect(decode6(drain(h)[0]!).ip.hopLimit).toBe(32);
  });

  it.each([
    ['from a global source', () => raFrame({ src: 'fd00:69::1' }), DropReason.NOT_SPECIFIED],
    ['with a hop limit other than 255', () => raFrame({ hopLimit: 64 }), DropReason.IPV6_NDISC_HOP_LIMIT],
  ])('ignores one %s', (_name, frame, reason) => {
    const h = harness6();
    expect(h.input(frame())).toBe(reason);
    expect(h.stack.ipv6Routes().some((r) => r.startsWith('default'))).toBe(false);
    const sock = h.stack.udp.createSocket('udp6');
    sock.on('error', () => {});
    sock.send(bytes(4), 9, FAR);
    expect(h.tx()).toHaveLength(0);
    expect(h.stack.counters().Ip6.OutNoRoutes).toBe(1);
  });

  it('drops the router when it says lifetime 0, or when its lifetime runs out', () => {
    const h = harness6();
    h.input(raFrame({ routerLifetime: 30 }));
    expect(h.stack.ipv6Routes()).toContain(`default via ${ROUTER.ll} proto ra`);
    h.input(raFrame({ routerLifetime: 0 }));
    expect(h.stack.ipv6Routes().some((r) => r.startsWith('default'))).toBe(false);

    h.input(raFrame({ routerLifetime: 30 }));
    h.advance(29_999);
    expect(h.stack.ipv6Routes()).toContain(`default via ${ROUTER.ll} proto ra`);
    h.advance(1);
    expect(h.stack.ipv6Routes().some((r) => r.startsWith('default'))).toBe(false);
  });

  it('forms no address from a prefix that is not /64, nor without the A flag; ignores an MTU below 1280 or above the link', () => {
    const h = harness6();
    h.input(raFrame({ prefixes: [{ prefix: '2001:db8:2::', prefixLen: 48 }, { prefix: '2001:db8:3::', autonomous: false }], mtu: 1200 }));
    expect(h.stack.ipv6Addresses().map((a) => a.addr)).toEqual([US6.ll, US6.ip]);
    expect(h.stack.ipv6Routes()).toEqual(expect.arrayContaining(['2001:db8:2::/48 proto kernel', '2001:db8:3::/64 proto kernel']));
    h.input(raFrame({ mtu: 9000 }));
    h.input(echoFrame6(1, 1, bytes(1400)));
    expect(drain(h)).toHaveLength(1);
  });
});

describe('router solicitations (RFC 4861 §6.3.7)', () => {
  function rsTimes(h: Harness, until: number): { t: number; d: Decoded6 }[] {
    const out: { t: number; d: Decoded6 }[] = [];
    for (let i = 0; i < 100 && h.stack.pollAt() <= until; i++) {
      for (const d of ofType(nextTimer(h), ICMPV6_ROUTER_SOLICIT)) out.push({ t: h.clock.now(), d });
    }
    return out;
  }

  it('sends three from the link-local address once it passed DAD, four seconds apart, then stops', () => {
    const h = harness6({ ready: false, config: { ipv6: { routerSolicitations: 3 } } });
    h.stack.start(0);
    const rs = rsTimes(h, 60_000);
    expect(rs).toHaveLength(3);
    const llReady = rs[0]!.t;
    expect(llReady).toBeLessThanOrEqual(dadTime(h.stack.config));
    expect(rs.map((r) => r.t - llReady)).toEqual([0, 4000, 8000]);
    for (const { d } of rs) {
      expect(d.eth).toMatchObject({ src: US.mac, dst: ipv6MulticastMac('ff02::2') });
      expect(d.ip).toMatchObject({ src: US6.ll, dst: 'ff02::2', hopLimit: 255 });
      expect(d.ndpOpts!.sourceLinkAddr).toBe(US.mac);
    }
    expect(h.stack.counters().Icmp6.OutRouterSolicits).toBe(3);
  });

  it('stops once a router has advertised', () => {
    const h = harness6({ ready: false, config: { ipv6: { routerSolicitations: 3 } } });
    h.stack.start(0);
    const first = rsTimes(h, dadTime(h.stack.config));
    expect(first).toHaveLength(1);
    h.input(raFrame());
    expect(rsTimes(h, 60_000)).toHaveLength(0);
  });
});
