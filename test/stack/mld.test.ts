import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { seededRandom } from '../../src/core/random.js';
import { MemoryLink } from '../../src/dev/memory.js';
import { createStack } from '../../src/stack.js';
import { readIpv6, writeIpv6 } from '../../src/wire/addr.js';
import { u16 } from '../../src/wire/bytes.js';
import { checksum, pseudoHeaderV6 } from '../../src/wire/checksum.js';
import { ETH_HLEN } from '../../src/wire/ethernet.js';

/** Our MLDv2 reports among the frames: the groups they carry, after checking their framing. */
function reports(frames: Uint8Array[]): { groups: string[]; types: number[] }[] {
  const out: { groups: string[]; types: number[] }[] = [];
  for (const f of frames) {
    if (u16(f, 12) !== 0x86dd || f[ETH_HLEN + 6] !== 0) continue; // IPv6, hop-by-hop first
    const ip = ETH_HLEN;
    expect(f[ip + 7], 'hop limit').toBe(1);
    expect(readIpv6(f, ip + 24)).toBe('ff02::16');
    expect([...f.subarray(ip + 40, ip + 48)], 'router alert (MLD), PadN').toEqual([58, 0, 5, 2, 0, 0, 1, 0]);
    const icmp = ip + 48;
    const len = u16(f, ip + 4) - 8;
    expect(f[icmp]).toBe(143);
    expect(checksum(f, icmp, len, pseudoHeaderV6(readIpv6(f, ip + 8), 'ff02::16', 58, len))).toBe(0);
    const n = u16(f, icmp + 6);
    const groups: string[] = [];
    const types: number[] = [];
    for (let i = 0; i < n; i++) {
      types.push(f[icmp + 8 + 20 * i]!);
      groups.push(readIpv6(f, icmp + 8 + 20 * i + 4));
    }
    out.push({ groups, types });
  }
  return out;
}

function host() {
  const clock = new ManualClock();
  const [link, peer] = MemoryLink.pair();
  const stack = createStack({
    link, ipv4: '192.168.69.2/24', ipv6: 'fd00:69::2/64', mac: '02:00:00:00:00:0b', clock, random: seededRandom(3),
  });
  return { stack, peer, clock };
}

describe('MLDv2 (RFC 3810)', () => {
  it('reports the solicited-node groups at start and once more a second later, never ff02::1', () => {
    const { stack, peer, clock } = host();
    stack.poll(0);
    expect(reports(peer.take())).toEqual([]); // nothing before the interface is up
    stack.start(0);
    stack.poll(0);
    const first = reports(peer.take());
    expect(first).toHaveLength(1);
    expect(new Set(first[0]!.groups)).toEqual(new Set(['ff02::1:ff00:2', 'ff02::1:ff00:b']));
    expect(first[0]!.types.every((t) => t === 4)).toBe(true); // CHANGE_TO_EXCLUDE_MODE: joined
    clock.advance(1000);
    stack.poll(clock.now());
    expect(reports(peer.take())[0]?.groups).toHaveLength(2);
    clock.advance(5000);
    stack.poll(clock.now());
    expect(reports(peer.take())).toEqual([]);
  });

  it('answers a general query with every group, after a delay within its maximum response time', () => {
    const { stack, peer, clock } = host();
    stack.start(0);
    for (let t = 0; t <= 3000; t += 100) stack.poll(clock.advance(100));
    peer.take();
    // An MLDv2 general query from a router's link-local address, hop limit 1, max response 1000 ms.
    const q = new Uint8Array(ETH_HLEN + 40 + 8 + 28);
    q.set([0x33, 0x33, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 0x0a, 0x86, 0xdd], 0);
    const ip = ETH_HLEN;
    q[ip] = 0x60;
    q[ip + 5] = 8 + 28;
    q[ip + 6] = 0; // hop-by-hop
    q[ip + 7] = 1;
    writeIpv6(q, ip + 8, 'fe80::1');
    writeIpv6(q, ip + 24, 'ff02::1');
    q.set([58, 0, 5, 2, 0, 0, 1, 0], ip + 40);
    const icmp = ip + 48;
    q[icmp] = 130;
    q[icmp + 4] = 1000 >> 8;
    q[icmp + 5] = 1000 & 0xff;
    const sum = checksum(q, icmp, 28, pseudoHeaderV6('fe80::1', 'ff02::1', 58, 28));
    q[icmp + 2] = sum >> 8;
    q[icmp + 3] = sum & 0xff;
    stack.receive([q], clock.now());
    expect(stack.counters().Icmp6.InGroupMembQueries).toBe(1);
    for (let t = 0; t < 1000; t += 50) {
      clock.advance(50);
      stack.poll(clock.now());
    }
    const answer = reports(peer.take());
    expect(answer).toHaveLength(1);
    expect(new Set(answer[0]!.groups)).toEqual(new Set(['ff02::1:ff00:2', 'ff02::1:ff00:b']));
    expect(answer[0]!.types.every((t) => t === 2)).toBe(true); // MODE_IS_EXCLUDE: current state
  });
});
