import { describe, expect, it } from 'vitest';
import { CONSUMED, DropReason } from '../../src/core/drop.js';
import { ETH_HLEN } from '../../src/wire/ethernet.js';
import {
  ICMP_DEST_UNREACH, ICMP_ECHOREPLY, ICMP_PORT_UNREACH, ICMP_TIMESTAMP, ICMP_TIMESTAMPREPLY,
} from '../../src/wire/icmpv4.js';
import { PEER, US, bytes, decode, echoRequest, harness, icmpMessage, ip, ipv4Frame, udpFrame } from '../helpers/packets.js';

describe('ICMP echo', () => {
  it('answers with the same id, sequence and data, from the address asked, with its TOS and no DF', () => {
    const h = harness();
    expect(h.input(ipv4Frame(echoRequest(0x2112, 1, bytes(56)), { tos: 0x10, dontFrag: true }))).toBe(CONSUMED);
    const [reply] = h.tx();
    const d = decode(reply!);
    expect(d.eth).toMatchObject({ dst: PEER.mac, src: US.mac });
    expect(d.ip).toMatchObject({ src: US.ip, dst: PEER.ip, ttl: 64, tos: 0x10, dontFrag: false });
    expect(d.icmp).toMatchObject({ type: ICMP_ECHOREPLY, code: 0, rest: (0x2112 << 16) | 1 });
    expect(d.payload).toEqual(bytes(56));
    const c = h.stack.counters();
    expect(c.Icmp).toMatchObject({ InMsgs: 1, InEchos: 1, OutMsgs: 1, OutEchoReps: 1 });
    expect(c.IcmpMsg).toMatchObject({ InType8: 1, OutType0: 1 });
  });

  it('returns record route and timestamp options with this host recorded on arrival and departure (RFC 1122 §3.2.2.6)', () => {
    const h = harness();
    // ping -R: record route with room for 9 addresses, the sender's already in (pointer 8).
    const rr = new Uint8Array(40);
    rr.set([7, 39, 8, 192, 168, 69, 1]);
    h.input(ipv4Frame(echoRequest(1, 1, bytes(8)), { options: rr }));
    const d = decode(h.tx()[0]!);
    const o = d.ip!.options;
    expect([...o.subarray(0, 3)]).toEqual([7, 39, 16]);
    expect([...o.subarray(3, 15)]).toEqual([192, 168, 69, 1, 192, 168, 69, 2, 192, 168, 69, 2]);
    expect(d.payload).toEqual(bytes(8));

    // ping -T tsandaddr: address + timestamp pairs.
    const ts = new Uint8Array(40);
    ts.set([68, 36, 5, 1]);
    h.input(ipv4Frame(echoRequest(1, 2, bytes(8)), { options: ts }));
    const t = decode(h.tx()[0]!).ip!.options;
    expect([...t.subarray(0, 4)]).toEqual([68, 36, 21, 1]);
    expect([...t.subarray(4, 8)]).toEqual([192, 168, 69, 2]);
    expect([...t.subarray(12, 16)]).toEqual([192, 168, 69, 2]);
  });

  it('drops a bad ICMP checksum as ICMP_CSUM (InCsumErrors, InErrors)', () => {
    const h = harness();
    const f = ipv4Frame(echoRequest(1, 1, bytes(8)));
    f[ETH_HLEN + 20 + 2]! ^= 1;
    expect(h.input(f)).toBe(DropReason.ICMP_CSUM);
    expect(h.stack.counters().Icmp).toMatchObject({ InMsgs: 1, InCsumErrors: 1, InErrors: 1 });
    expect(h.tx()).toHaveLength(0);
  });

  it('ignores echo requests to broadcast and multicast (icmp_echo_ignore_broadcasts)', () => {
    const h = harness();
    expect(h.input(ipv4Frame(echoRequest(1, 1, bytes(8)), { dst: ip('192.168.69.255') }, 0xffff_ffff_ffff))).toBe(DropReason.INVALID_PROTO);
    expect(h.input(ipv4Frame(echoRequest(1, 1, bytes(8)), { dst: ip('255.255.255.255') }, 0xffff_ffff_ffff))).toBe(DropReason.INVALID_PROTO);
    expect(h.tx()).toHaveLength(0);
  });

  it('answers a timestamp request with milliseconds since midnight UT', () => {
    const h = harness();
    const body = new Uint8Array(12);
    body.set([0, 0, 0x12, 0x34], 0); // originate
    expect(h.input(ipv4Frame(icmpMessage(ICMP_TIMESTAMP, 0, 0x00070001, body)))).toBe(CONSUMED);
    const d = decode(h.tx()[0]!);
    expect(d.icmp).toMatchObject({ type: ICMP_TIMESTAMPREPLY, rest: 0x00070001 });
    const view = new DataView(d.payload!.buffer, d.payload!.byteOffset);
    expect(view.getUint32(0)).toBe(0x1234);
    const ms = Date.UTC(2026, 0, 1) % 86_400_000; // the ManualClock's wall time at t=0
    expect(view.getUint32(4)).toBe(ms);
    expect(view.getUint32(8)).toBe(ms);
  });

  it('drops an echo reply nobody asked for (no ping sockets) as NO_SOCKET, counting InEchoReps', () => {
    const h = harness();
    expect(h.input(ipv4Frame(icmpMessage(ICMP_ECHOREPLY, 0, 1, bytes(8))))).toBe(DropReason.NO_SOCKET);
    expect(h.stack.counters().Icmp.InEchoReps).toBe(1);
  });

  it('drops unknown types above 18 as UNHANDLED_PROTO', () => {
    const h = harness();
    expect(h.input(ipv4Frame(icmpMessage(42, 0, 0)))).toBe(DropReason.UNHANDLED_PROTO);
    expect(h.stack.counters().Icmp.InErrors).toBe(1);
  });
});

describe('ICMP errors', () => {
  it('port unreachable quotes the whole offending datagram when it fits in 576 bytes', () => {
    const h = harness();
    const f = udpFrame(57658, 9, bytes(3));
    expect(h.input(f)).toBe(DropReason.NO_SOCKET);
    const d = decode(h.tx()[0]!);
    expect(d.icmp).toMatchObject({ type: ICMP_DEST_UNREACH, code: ICMP_PORT_UNREACH, rest: 0 });
    expect(d.ip!.totalLength).toBe(20 + 8 + 31);
    expect(d.payload).toEqual(f.subarray(ETH_HLEN));
  });

  it('quotes at most 548 bytes so the error fits in 576', () => {
    const h = harness();
    h.input(udpFrame(1, 9, bytes(1000)));
    const d = decode(h.tx()[0]!);
    expect(d.ip!.totalLength).toBe(576);
  });

  it('is not sent about a datagram to a broadcast address, nor about a link-layer broadcast', () => {
    const h = harness();
    expect(h.input(udpFrame(1, 9, bytes(3), { dst: ip('192.168.69.255') }))).toBe(CONSUMED); // IgnoredMulti
    expect(h.stack.counters().Udp.IgnoredMulti).toBe(1);
    const l2bcast = udpFrame(1, 9, bytes(3));
    l2bcast.fill(0xff, 0, 6);
    expect(h.input(l2bcast)).toBe(DropReason.NO_SOCKET);
    expect(h.tx()).toHaveLength(0);
  });

  it('is never sent about an ICMP error', () => {
    const h = harness();
    const err = icmpMessage(ICMP_DEST_UNREACH, 3, 0, bytes(28));
    expect(h.input(ipv4Frame(err, { protocol: 99 }))).toBe(DropReason.IP_NOPROTO); // a protocol error is fine…
    expect(h.tx()).toHaveLength(1);
    const notAnswerable = ipv4Frame(icmpMessage(ICMP_DEST_UNREACH, 3, 0, bytes(28)));
    expect(h.input(notAnswerable)).toBe(CONSUMED); // …an ICMP error is consumed quietly
    expect(h.tx()).toHaveLength(0);
    expect(h.stack.counters().Icmp.InDestUnreachs).toBe(1);
  });

  it('is rate limited per destination: a burst of 6, then one a second (icmp_ratelimit)', () => {
    const h = harness();
    const sent = (): number => h.tx().length;
    for (let i = 0; i < 20; i++) h.input(udpFrame(1000 + i, 9, bytes(3)));
    expect(sent()).toBe(6);
    expect(h.stack.counters().Icmp.OutRateLimitHost).toBe(14);
    expect(h.stack.drops()[DropReason.X_ICMP_RATELIMIT]).toBe(14);
    h.advance(999);
    h.input(udpFrame(2000, 9, bytes(3)));
    expect(sent()).toBe(0);
    h.advance(1);
    h.input(udpFrame(2001, 9, bytes(3)));
    expect(sent()).toBe(1);
  });

  it('rate limits globally too, across destinations (icmp_msgs_per_sec, icmp_msgs_burst)', () => {
    const h = harness({ config: { icmp: { msgsBurst: 10, msgsPerSec: 100 } } });
    for (let i = 0; i < 30; i++) {
      // Different sources on our subnet; learn each so errors need no ARP.
      h.input(udpFrame(1, 9, bytes(3), { src: ip(`192.168.69.${100 + i}`) }));
    }
    expect(h.stack.counters().Icmp.OutRateLimitGlobal).toBe(20);
    h.advance(100); // 100/s → 10 more tokens
    for (let i = 0; i < 30; i++) h.input(udpFrame(1, 9, bytes(3), { src: ip(`192.168.69.${100 + i}`) }));
    expect(h.stack.counters().Icmp.OutRateLimitGlobal).toBe(40);
  });

  it('does not rate limit echo replies', () => {
    const h = harness();
    for (let i = 0; i < 100; i++) h.input(ipv4Frame(echoRequest(1, i, bytes(8))));
    expect(h.tx()).toHaveLength(100);
  });
});
