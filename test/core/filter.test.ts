import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { compileFilter, summarize, type FrameSummary } from '../../src/core/filter.js';
import { ip } from '../helpers/packets.js';
import { readPcap } from '../helpers/pcap-read.js';

const udp: FrameSummary = { proto: 'udp', family: 4, src: ip('10.0.0.1'), dst: ip('10.0.0.2'), sport: 5000, dport: 53, text: '' };
const tcp: FrameSummary = { proto: 'tcp', family: 4, src: ip('10.0.0.2'), dst: ip('10.0.0.1'), sport: 80, dport: 41000, text: '' };
const arp: FrameSummary = { proto: 'arp', src: ip('10.0.0.1'), dst: ip('10.0.0.9'), text: '' };

describe('pcap-filter subset', () => {
  it.each([
    ['', [true, true, true]],
    ['udp', [true, false, false]],
    ['ip', [true, true, false]],
    ['not ip', [false, false, true]],
    ['host 10.0.0.1', [true, true, true]],
    ['src host 10.0.0.1', [true, false, true]],
    ['dst host 10.0.0.1', [false, true, false]],
    ['port 80', [false, true, false]],
    ['tcp port 80', [false, true, false]],
    ['udp port 80', [false, false, false]],
    ['udp or tcp', [true, true, false]],
    ['(udp or arp) and src host 10.0.0.1', [true, false, true]],
    ['! tcp && dst port 53', [true, false, false]],
    ['tcp || (udp and dst port 53)', [true, true, false]],
  ])('%j', (expr, expected) => {
    const f = compileFilter(expr);
    expect([udp, tcp, arp].map(f)).toEqual(expected);
  });

  it.each([
    ['port', /unexpected end/],
    ['(udp', /unexpected end|missing/],
    ['udp )', /unexpected "\)"/],
    ['host 10.0.0', /not an IP address/],
    ['port 70000', /not a port/],
    ['ether', /unknown word "ether"/],
  ])('rejects %j', (expr, message) => {
    expect(() => compileFilter(expr)).toThrow(message);
  });
});

describe('IPv6 frames from a Linux capture, summarized and filtered', () => {
  const frames = (name: string): Uint8Array[] =>
    readPcap(fileURLToPath(new URL(`../fixtures/${name}.pcap`, import.meta.url))).map((r) => r.data);

  it('names TCP over IPv6 with bracketed ends, and tcp, ip6, host and port match it; ip does not', () => {
    const syn = summarize(frames('tcp6-http-get').find((f) => summarize(f).proto === 'tcp')!);
    expect(syn.text).toMatch(/^TCP \[fd00:69::1\]:\d+ > \[fd00:69::2\]:80 \[S\] len 0$/);
    for (const expr of ['tcp', 'ip6', 'tcp port 80', 'dst host fd00:69::2', 'host fd00:69:0::1']) expect(compileFilter(expr)(syn)).toBe(true);
    for (const expr of ['ip', 'udp', 'icmp6', 'src host fd00:69::2']) expect(compileFilter(expr)(syn)).toBe(false);
  });

  it('names ICMPv6 (neighbour discovery and echo) and fragments past the first', () => {
    const ndp = frames('ping6-ndp').map(summarize);
    expect(ndp.some((s) => /^ICMP6 fd00:69::1 > ff02::1:ff00:2 type 135 code 0/.test(s.text))).toBe(true);
    expect(ndp.filter(compileFilter('icmp6 and dst host fd00:69::2')).length).toBeGreaterThan(0);
    const frag = frames('ping6-fragmented').map(summarize);
    expect(frag.some((s) => / frag@\d+$/.test(s.text) && !s.text.includes('frag@0'))).toBe(true);
  });
});
