import { describe, expect, it } from 'vitest';
import { CONSUMED, DropReason } from '../../src/core/drop.js';
import { NudState } from '../../src/eth/neighbor.js';
import { BROADCAST_MAC } from '../../src/wire/addr.js';
import { ARPOP_REPLY, ARPOP_REQUEST } from '../../src/wire/arp.js';
import { PEER, US, arpFrame, bytes, decode, harness, ip } from '../helpers/packets.js';

const OTHER = { mac: 0x02_00_00_00_00_33, ip: ip('192.168.69.33') };

function neighbor(h: ReturnType<typeof harness>, addr: number) {
  return h.stack.neighbors().find((n) => n.addr === addr);
}

/** Makes the stack send a UDP datagram to `dst` (so it must resolve it). */
function sendTo(h: ReturnType<typeof harness>, dst: string, size = 10): void {
  const s = h.stack.udp.createSocket('udp4');
  s.send(bytes(size), 9, dst);
}

describe('ARP', () => {
  it('answers a request for our address, and learns the asker as STALE', () => {
    const h = harness({ learnPeer: false });
    h.rx(arpFrame());
    const [reply, ...rest] = h.tx();
    expect(rest).toHaveLength(0);
    const d = decode(reply!);
    expect(d.eth.dst).toBe(PEER.mac);
    expect(d.eth.src).toBe(US.mac);
    expect(d.arp).toMatchObject({ op: ARPOP_REPLY, senderMac: US.mac, senderIp: US.ip, targetMac: PEER.mac, targetIp: PEER.ip });
    expect(neighbor(h, PEER.ip)).toMatchObject({ mac: PEER.mac, state: NudState.STALE });
    expect(h.stack.counters().Arp).toMatchObject({ InRequests: 1, OutReplies: 1 });
  });

  it('ignores requests for other addresses, without learning the sender', () => {
    const h = harness({ learnPeer: false });
    expect(h.input(arpFrame({ targetIp: ip('192.168.69.77') }))).toBe(CONSUMED);
    expect(h.tx()).toHaveLength(0);
    expect(neighbor(h, PEER.ip)).toBeUndefined();
  });

  it('answers an RFC 5227 probe (sender 0.0.0.0) for our address', () => {
    const h = harness({ learnPeer: false });
    h.rx(arpFrame({ senderIp: 0 }));
    const [reply] = h.tx();
    expect(decode(reply!).arp).toMatchObject({ op: ARPOP_REPLY, senderIp: US.ip, targetIp: 0 });
    expect(neighbor(h, 0)).toBeUndefined();
  });

  it('drops malformed ARP with a reason', () => {
    const h = harness();
    const short = arpFrame().subarray(0, 14 + 20);
    expect(h.input(short)).toBe(DropReason.PKT_TOO_SMALL);
    const badHw = arpFrame();
    badHw[14 + 1] = 6; // hardware type 6 (IEEE 802)
    expect(h.input(badHw)).toBe(DropReason.X_ARP_HEADER);
    const badOp = arpFrame();
    badOp[14 + 7] = 9;
    expect(h.input(badOp)).toBe(DropReason.X_ARP_HEADER);
  });

  it('sends a gratuitous ARP on start', () => {
    const h = harness({ learnPeer: false });
    h.stack.start(0);
    const [g] = h.tx();
    const d = decode(g!);
    expect(d.eth.dst).toBe(BROADCAST_MAC);
    expect(d.arp).toMatchObject({ op: ARPOP_REQUEST, senderIp: US.ip, targetIp: US.ip, senderMac: US.mac });
  });

  describe('resolution', () => {
    it('queues packets while INCOMPLETE and sends them when the reply comes', () => {
      const h = harness();
      sendTo(h, '192.168.69.33');
      sendTo(h, '192.168.69.33');
      const [req, ...more] = h.tx();
      expect(more).toHaveLength(0);
      expect(decode(req!).eth.dst).toBe(BROADCAST_MAC);
      expect(decode(req!).arp).toMatchObject({ op: ARPOP_REQUEST, targetIp: OTHER.ip, senderIp: US.ip });
      expect(neighbor(h, OTHER.ip)?.state).toBe(NudState.INCOMPLETE);

      h.rx(arpFrame({ op: ARPOP_REPLY, senderMac: OTHER.mac, senderIp: OTHER.ip, targetMac: US.mac, targetIp: US.ip, ethDst: US.mac }));
      const sent = h.tx();
      expect(sent).toHaveLength(2);
      for (const f of sent) expect(decode(f).eth.dst).toBe(OTHER.mac);
      expect(neighbor(h, OTHER.ip)?.state).toBe(NudState.REACHABLE);
    });

    it('retries mcast_solicit times a second apart, then fails and drops the queue as NEIGH_FAILED', () => {
      const h = harness();
      sendTo(h, '192.168.69.33');
      expect(h.tx()).toHaveLength(1);
      h.advance(999);
      expect(h.tx()).toHaveLength(0);
      h.advance(1);
      expect(h.tx()).toHaveLength(1);
      h.advance(1000);
      expect(h.tx()).toHaveLength(1);
      h.advance(1000);
      expect(h.tx()).toHaveLength(0);
      expect(neighbor(h, OTHER.ip)?.state).toBe(NudState.FAILED);
      expect(h.stack.drops()[DropReason.NEIGH_FAILED]).toBe(1);
      expect(h.stack.counters().Neigh.res_failed).toBe(1);
    });

    it('bounds the queue of an unresolved neighbour, dropping the oldest (NEIGH_QUEUEFULL)', () => {
      const h = harness({ config: { neigh: { unresQlenBytes: 3000 } } });
      for (let i = 0; i < 5; i++) sendTo(h, '192.168.69.33', 1000);
      expect(h.stack.drops()[DropReason.NEIGH_QUEUEFULL]).toBe(3);
      expect(h.stack.counters().Neigh.unresolved_discards).toBe(3);
    });

    it('REACHABLE → STALE after reachable_time; use → DELAY → unicast PROBE → REACHABLE on reply', () => {
      const h = harness();
      sendTo(h, '192.168.69.33');
      h.tx();
      h.rx(arpFrame({ op: ARPOP_REPLY, senderMac: OTHER.mac, senderIp: OTHER.ip, targetMac: US.mac, ethDst: US.mac }));
      h.tx();
      h.advance(45_001); // at most 1.5 × base_reachable_time
      expect(neighbor(h, OTHER.ip)?.state).toBe(NudState.STALE);

      sendTo(h, '192.168.69.33');
      const [data] = h.tx();
      expect(decode(data!).eth.dst).toBe(OTHER.mac); // sent at once with the stale address
      expect(neighbor(h, OTHER.ip)?.state).toBe(NudState.DELAY);

      h.advance(5_000);
      const [probe] = h.tx();
      expect(decode(probe!).eth.dst).toBe(OTHER.mac); // unicast probe
      expect(decode(probe!).arp?.targetIp).toBe(OTHER.ip);
      expect(neighbor(h, OTHER.ip)?.state).toBe(NudState.PROBE);

      h.rx(arpFrame({ op: ARPOP_REPLY, senderMac: OTHER.mac, senderIp: OTHER.ip, targetMac: US.mac, ethDst: US.mac }));
      expect(neighbor(h, OTHER.ip)?.state).toBe(NudState.REACHABLE);
    });

    it('removes STALE entries nobody used for gc_stale_time', () => {
      const h = harness();
      expect(neighbor(h, PEER.ip)?.state).toBe(NudState.STALE);
      h.advance(60_000);
      expect(neighbor(h, PEER.ip)).toBeUndefined();
    });

    it('never holds more than gc_thresh3 entries', () => {
      const h = harness({ config: { neigh: { gcThresh3: 8 } }, learnPeer: false });
      for (let i = 1; i <= 20; i++) h.rx(arpFrame({ senderIp: ip(`192.168.69.${100 + i}`), senderMac: 0x02_00_00_00_01_00 + i }));
      expect(h.stack.neighbors().length).toBeLessThanOrEqual(8);
      // All STALE, so the least recently used made room each time.
      expect(neighbor(h, ip('192.168.69.120'))).toBeDefined();
      for (let i = 1; i <= 20; i++) sendTo(h, `192.168.69.${200 + i}`);
      expect(h.stack.neighbors().length).toBeLessThanOrEqual(8);
      expect(h.stack.counters().Neigh.table_fulls).toBeGreaterThan(0);
      expect(h.stack.drops()[DropReason.NEIGH_CREATEFAIL]).toBeGreaterThan(0);
    });
  });
});
