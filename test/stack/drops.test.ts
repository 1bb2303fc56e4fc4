/**
 * Every drop is charged to the stage where it happened, so `dropTable()` answers "where"
 * as well as "why" — even for reasons several stages share (PKT_TOO_SMALL, NO_SOCKET).
 */
import { describe, expect, it } from 'vitest';
import { DropReason, Stage } from '../../src/core/drop.js';
import { ETH_HLEN, ETH_P_IP } from '../../src/wire/ethernet.js';
import { emitTcp } from '../../src/wire/tcp.js';
import {
  PEER, US, bytes, echoRequest, ethFrame, fragments, harness, ipv4Frame, ipv4Packet, udpFrame,
} from '../helpers/packets.js';

function tcpFrame(dstPort: number, corrupt = false): Uint8Array {
  const seg = new Uint8Array(20);
  emitTcp({ srcPort: 40000, dstPort, seq: 1, ack: 0, flags: 0x02, window: 1000 }, {}, seg, 0, 0, PEER.ip, US.ip);
  if (corrupt) seg[16]! ^= 0xff;
  return ipv4Frame(seg, { protocol: 6 });
}

describe('drops by stage', () => {
  it('charges each drop to its stage, the shared reasons included', () => {
    const h = harness();
    h.input(new Uint8Array(10)); // eth: PKT_TOO_SMALL
    h.input(ipv4Frame(echoRequest(1, 1, bytes(8)), {}, 0x02_00_00_00_00_99)); // eth: OTHERHOST
    const badIp = ipv4Frame(echoRequest(1, 1, bytes(8)));
    badIp[ETH_HLEN + 10]! ^= 1;
    h.input(badIp); // ipv4: IP_CSUM
    const shortUdp = udpFrame(1, 9, bytes(4));
    shortUdp[ETH_HLEN + 25] = 200;
    h.input(shortUdp); // udp: PKT_TOO_SMALL
    h.input(udpFrame(1, 9, bytes(4))); // udp: NO_SOCKET
    h.input(tcpFrame(9)); // tcp: NO_SOCKET
    h.input(tcpFrame(9, true)); // tcp: TCP_CSUM
    const [first] = fragments(ipv4Packet(echoRequest(1, 1, bytes(3000)), { id: 7 }), 1480);
    h.input(ethFrame(first!, ETH_P_IP));
    h.input(ethFrame(first!, ETH_P_IP)); // frag: DUP_FRAG
    h.advance(30_000); // frag: FRAG_REASM_TIMEOUT (the held first fragment)

    const where = (stage: string, reason: string): number =>
      h.stack.dropTable().find((r) => r.stage === stage && r.reason === reason)?.count ?? 0;
    expect(where(Stage.ETH, DropReason.PKT_TOO_SMALL)).toBe(1);
    expect(where(Stage.ETH, DropReason.OTHERHOST)).toBe(1);
    expect(where(Stage.IPV4, DropReason.IP_CSUM)).toBe(1);
    expect(where(Stage.UDP, DropReason.PKT_TOO_SMALL)).toBe(1);
    expect(where(Stage.UDP, DropReason.NO_SOCKET)).toBe(1);
    expect(where(Stage.TCP, DropReason.NO_SOCKET)).toBe(1);
    expect(where(Stage.TCP, DropReason.TCP_CSUM)).toBe(1);
    expect(where(Stage.FRAG, DropReason.DUP_FRAG)).toBe(1);
    expect(where(Stage.FRAG, DropReason.FRAG_REASM_TIMEOUT)).toBe(1);
    // The per-reason view adds the stages up.
    expect(h.stack.drops()[DropReason.PKT_TOO_SMALL]).toBe(2);
    expect(h.stack.drops()[DropReason.NO_SOCKET]).toBe(2);
    // Each row knows when it last happened, on the stack's clock.
    const timeout = h.stack.dropTable().find((r) => r.reason === DropReason.FRAG_REASM_TIMEOUT)!;
    expect(timeout.lastAt).toBe(30_000);
  });

  it('charges neighbour failures and socket purges to their stages', async () => {
    const h = harness();
    h.stack.udp.createSocket('udp4').send(bytes(4), 9, '192.168.69.77');
    h.advance(3_000); // three unanswered requests
    const s = h.stack.udp.createSocket('udp4');
    s.bind(5000);
    h.rx(udpFrame(1, 5000, bytes(4)));
    s.close();
    const table = h.stack.dropTable();
    expect(table).toContainEqual(expect.objectContaining({ stage: Stage.NEIGH, reason: DropReason.NEIGH_FAILED, count: 1 }));
    expect(table).toContainEqual(expect.objectContaining({ stage: Stage.SOCKET, reason: DropReason.QUEUE_PURGE, count: 1 }));
  });
});
