import { describe, expect, it } from 'vitest';
import { CONSUMED, DropReason } from '../../src/core/drop.js';
import { ETH_HLEN, ETH_P_IP } from '../../src/wire/ethernet.js';
import { ICMP_DEST_UNREACH, ICMP_PARAMETERPROB, ICMP_PROT_UNREACH } from '../../src/wire/icmpv4.js';
import { IPPROTO_UDP } from '../../src/wire/ipv4.js';
import {
  PEER, US, bytes, decode, echoRequest, ethFrame, harness, ip, ipv4Frame, ipv4Packet, refreshIpChecksum, udpFrame,
} from '../helpers/packets.js';

const echo = () => echoRequest(0x77, 1, bytes(32));

describe('IPv4 input', () => {
  it('counts InReceives, InDelivers and InOctets for a good packet', () => {
    const h = harness();
    const f = ipv4Frame(echo());
    expect(h.input(f)).toBe(CONSUMED);
    const c = h.stack.counters();
    expect(c.Ip.InReceives).toBe(1);
    expect(c.Ip.InDelivers).toBe(1);
    expect(c.IpExt.InOctets).toBe(f.length - ETH_HLEN);
  });

  it.each([
    ['version 6', (p: Uint8Array) => { p[0] = 0x65; }],
    ['IHL 4', (p: Uint8Array) => { p[0] = 0x44; }],
    ['IHL beyond the packet', (p: Uint8Array) => { p[0] = 0x4f; }],
    ['total length below the header', (p: Uint8Array) => { p[2] = 0; p[3] = 19; }],
  ])('drops %s as IP_INHDR (InHdrErrors)', (_name, mutate) => {
    const h = harness();
    const f = ipv4Frame(echo());
    const p = f.subarray(ETH_HLEN);
    mutate(p);
    refreshIpChecksum(f, ETH_HLEN);
    expect(h.input(f)).toBe(DropReason.IP_INHDR);
    expect(h.stack.counters().Ip.InHdrErrors).toBe(1);
  });

  it('drops a bad header checksum as IP_CSUM (InHdrErrors and InCsumErrors)', () => {
    const h = harness();
    const f = ipv4Frame(echo());
    f[ETH_HLEN + 10]! ^= 0xff;
    expect(h.input(f)).toBe(DropReason.IP_CSUM);
    const c = h.stack.counters();
    expect(c.Ip.InHdrErrors).toBe(1);
    expect(c.IpExt.InCsumErrors).toBe(1);
    expect(h.tx()).toHaveLength(0);
  });

  it('drops a packet longer than its frame (InTruncatedPkts), and ignores link padding', () => {
    const h = harness();
    const f = ipv4Frame(echo());
    expect(h.input(f.subarray(0, f.length - 1))).toBe(DropReason.PKT_TOO_SMALL);
    expect(h.stack.counters().IpExt.InTruncatedPkts).toBe(1);
    const padded = new Uint8Array(f.length + 18);
    padded.set(f);
    expect(h.input(padded)).toBe(CONSUMED);
    expect(decode(h.tx().at(-1)!).payload).toEqual(bytes(32));
  });

  it('keeps a packet addressed to us whatever its TTL (RFC 1122 §3.2.1.7)', () => {
    const h = harness();
    for (const ttl of [0, 1]) expect(h.input(ipv4Frame(echo(), { ttl }))).toBe(CONSUMED);
    expect(h.tx()).toHaveLength(2);
  });

  it('drops packets for other hosts (InAddrErrors) and does not forward them', () => {
    const h = harness();
    expect(h.input(ipv4Frame(echo(), { dst: ip('192.168.69.3') }))).toBe(DropReason.IP_INADDRERRORS);
    expect(h.input(ipv4Frame(echo(), { dst: ip('8.8.8.8') }))).toBe(DropReason.IP_INADDRERRORS);
    expect(h.stack.counters().Ip.InAddrErrors).toBe(2);
    expect(h.tx()).toHaveLength(0);
  });

  it.each([
    ['a multicast source', '224.0.0.9', DropReason.IP_INVALID_SOURCE],
    ['the limited broadcast as source', '255.255.255.255', DropReason.IP_INVALID_SOURCE],
    ['our subnet broadcast as source', '192.168.69.255', DropReason.IP_INVALID_SOURCE],
    ['0.0.0.0 as source to a unicast address', '0.0.0.0', DropReason.IP_INVALID_SOURCE],
    ['our own address as source', '192.168.69.2', DropReason.IP_LOCAL_SOURCE],
  ])('drops %s', (_name, src, reason) => {
    const h = harness();
    expect(h.input(ipv4Frame(echo(), { src: ip(src) }))).toBe(reason);
    expect(h.tx()).toHaveLength(0);
  });

  it('accepts the subnet and limited broadcast as destination (and counts InBcastPkts)', () => {
    const h = harness();
    const port = h.stack.udp.createSocket('udp4');
    port.bind(5000);
    for (const dst of ['192.168.69.255', '255.255.255.255']) {
      expect(h.input(udpFrame(1, 5000, bytes(4), { dst: ip(dst) }))).toBe(CONSUMED);
    }
    expect(h.stack.counters().IpExt.InBcastPkts).toBe(2);
    expect(port.queued).toBe(2);
  });

  it('answers an unknown protocol with ICMP protocol unreachable (InUnknownProtos)', () => {
    const h = harness();
    const p = ipv4Frame(bytes(20), { protocol: 99 });
    expect(h.input(p)).toBe(DropReason.IP_NOPROTO);
    expect(h.stack.counters().Ip.InUnknownProtos).toBe(1);
    const [err] = h.tx();
    const d = decode(err!);
    expect(d.icmp).toMatchObject({ type: ICMP_DEST_UNREACH, code: ICMP_PROT_UNREACH });
    expect(d.ip).toMatchObject({ src: US.ip, dst: PEER.ip, tos: 0xc0, dontFrag: false });
    expect(d.payload).toEqual(p.subarray(ETH_HLEN)); // quotes the whole offending packet
  });

  it('accepts well-formed options and answers malformed ones with a parameter problem pointing at them', () => {
    const h = harness();
    const nops = new Uint8Array([1, 1, 1, 0]); // NOP NOP NOP EOL
    expect(h.input(ipv4Frame(echo(), { options: nops }))).toBe(CONSUMED);
    h.tx();
    const bad = new Uint8Array([1, 0x44, 1, 0]); // a timestamp option claiming length 1
    expect(h.input(ipv4Frame(echo(), { options: bad }))).toBe(DropReason.IP_INHDR);
    const [pp] = h.tx();
    const d = decode(pp!);
    expect(d.icmp?.type).toBe(ICMP_PARAMETERPROB);
    expect(d.icmp!.rest >>> 24).toBe(21); // the option's type byte, as Linux points (ip_options_compile)
  });
});

describe('IPv4 output', () => {
  it('routes off-subnet destinations through the gateway', () => {
    const h = harness();
    h.stack.udp.createSocket('udp4').send(bytes(4), 53, '10.9.8.7');
    const [f] = h.tx();
    const d = decode(f!);
    expect(d.eth.dst).toBe(PEER.mac); // the gateway's MAC
    expect(d.ip).toMatchObject({ dst: ip('10.9.8.7'), src: US.ip, ttl: 64, protocol: IPPROTO_UDP });
  });

  it('sends UDP with DF when it fits the MTU (Linux IP_PMTUDISC_WANT)', () => {
    const h = harness();
    h.stack.udp.createSocket('udp4').send(bytes(100), 53, '192.168.69.1');
    expect(decode(h.tx()[0]!).ip?.dontFrag).toBe(true);
  });

  it('delivers packets sent to our own address through loopback', async () => {
    const h = harness();
    const a = h.stack.udp.createSocket('udp4');
    a.bind(6000);
    h.stack.udp.createSocket('udp4').send(bytes(9), 6000, '192.168.69.2');
    h.advance(0);
    expect(h.tx()).toHaveLength(0);
    const m = a.recv();
    expect(m?.msg.length).toBe(9);
    expect(m?.rinfo.address).toBe('192.168.69.2');
  });

  it('reports no route when there is no gateway', async () => {
    const { createStack } = await import('../../src/stack.js');
    const { MemoryLink } = await import('../../src/dev/memory.js');
    const [link] = MemoryLink.pair();
    const stack = createStack({ link, ipv4: '192.168.69.2/24' });
    const s = stack.udp.createSocket('udp4');
    const err = await new Promise<Error & { code?: string }>((resolve) => s.send(bytes(1), 9, '10.0.0.1', (e) => resolve(e!)));
    expect(err.code).toBe('ENETUNREACH');
    expect(stack.counters().Ip.OutNoRoutes).toBe(1);
  });
});

it('frames built by tests round-trip through ethFrame', () => {
  const f = ethFrame(ipv4Packet(echo()), ETH_P_IP);
  expect(decode(f).ip?.src).toBe(PEER.ip);
});
