import { describe, expect, it } from 'vitest';
import { compileFilter, type FrameSummary } from '../../src/core/filter.js';
import { ip } from '../helpers/packets.js';

const udp: FrameSummary = { proto: 'udp', src: ip('10.0.0.1'), dst: ip('10.0.0.2'), sport: 5000, dport: 53, text: '' };
const tcp: FrameSummary = { proto: 'tcp', src: ip('10.0.0.2'), dst: ip('10.0.0.1'), sport: 80, dport: 41000, text: '' };
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
    ['host 10.0.0', /not an IPv4 address/],
    ['port 70000', /not a port/],
    ['ether', /unknown word "ether"/],
  ])('rejects %j', (expr, message) => {
    expect(() => compileFilter(expr)).toThrow(message);
  });
});
