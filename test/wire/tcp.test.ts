import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DropReason } from '../../src/core/drop.js';
import { setU16, u16 } from '../../src/wire/bytes.js';
import { checksum, pseudoHeaderV4 } from '../../src/wire/checksum.js';
import { IPPROTO_TCP } from '../../src/wire/ipv4.js';
import {
  TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_HLEN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, emitTcp, emitTcpWithPseudo,
  flagsToString, newTcpRepr, parseTcp, parseTcpWithPseudo, tcpOptionsLen, type TcpOptionsOut, type TcpRepr, tcpOptionsOf,
} from '../../src/wire/tcp.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

/** Addresses of test/fixtures/tcp4-http-get.pcap: the client .1 and the server .2. */
const CLIENT = 0xc0a84501;
const SERVER = 0xc0a84502;

/** Frame 1 of tcp4-http-get.pcap: the client's SYN, options `mss, sackOK, TS, nop, wscale`. */
const SYN = hex(`
  aa88 0050 a0547e78 00000000 a002 faf0 56ff 0000
  020405b4 0402080a b6d66a3c 00000000 0103030a`);

/** Frame 8: the server's last data segment, "hello\n", with NOP NOP TS. */
const DATA = hex(`
  0050 aa88 96ede300 a0547ecf 8018 0040 2d38 0000
  0101080a 567e3e85 b6d66a41
  68656c6c6f0a`);

const REASONS = new Set<unknown>([undefined, ...Object.values(DropReason)]);

/**
 * A segment CLIENT → SERVER whose options part is exactly `options` (a multiple of 4 bytes),
 * with a valid checksum, so that only the options are under test.
 */
function segment(options: number[], flags = TCP_ACK): Uint8Array {
  expect(options.length % 4).toBe(0);
  const b = new Uint8Array(TCP_HLEN + options.length);
  setU16(b, 0, 40000);
  setU16(b, 2, 80);
  b[12] = (b.length / 4) << 4;
  b[13] = flags;
  setU16(b, 14, 1000);
  b.set(options, TCP_HLEN);
  setU16(b, 16, checksum(b, 0, b.length, pseudoHeaderV4(CLIENT, SERVER, IPPROTO_TCP, b.length)));
  return b;
}

/** Parses `options` in a valid segment; the segment itself must always be accepted. */
function parseOptions(options: number[], flags = TCP_ACK): TcpRepr {
  const b = segment(options, flags);
  const r = newTcpRepr();
  expect(parseTcp(b, 0, b.length, CLIENT, SERVER, r)).toBeUndefined();
  return r;
}


describe('TCP header', () => {
  it('parses a real SYN with its options', () => {
    const r = newTcpRepr();
    expect(parseTcp(SYN, 0, SYN.length, CLIENT, SERVER, r)).toBeUndefined();
    expect(r).toMatchObject({
      srcPort: 43656, dstPort: 80, seq: 2689891960, ack: 0, headerLen: 40, flags: TCP_SYN, window: 64240,
      checksum: 0x56ff, urgent: 0,
      mss: 1460, sackPermitted: true, hasTimestamp: true, tsVal: 3067505212, tsEcr: 0, wscale: 10, sackCount: 0,
    });
  });

  it('parses a real data segment: timestamps only, payload after the header', () => {
    const r = newTcpRepr();
    expect(parseTcp(DATA, 0, DATA.length, SERVER, CLIENT, r)).toBeUndefined();
    expect(r).toMatchObject({
      srcPort: 80, dstPort: 43656, seq: 0x96ede300, ack: 0xa0547ecf, headerLen: 32, flags: TCP_PSH | TCP_ACK,
      window: 64, mss: -1, wscale: -1, sackPermitted: false, hasTimestamp: true, tsVal: 0x567e3e85,
      tsEcr: 0xb6d66a41, sackCount: 0,
    });
    expect(Buffer.from(DATA.subarray(r.headerLen)).toString()).toBe('hello\n');
  });

  it('emits golden bytes: Linux\'s SYN option layout', () => {
    const b = new Uint8Array(SYN.length).fill(0xee);
    const n = emitTcp({ srcPort: 43656, dstPort: 80, seq: 2689891960, ack: 0, flags: TCP_SYN, window: 64240 },
      { mss: 1460, sackPermitted: true, timestamp: { val: 3067505212, ecr: 0 }, wscale: 10 },
      b, 0, 0, CLIENT, SERVER);
    expect(n).toBe(40);
    expect(b).toEqual(SYN);
  });

  it('emits golden bytes: a data segment, checksumming the payload already in place', () => {
    const b = new Uint8Array(DATA.length);
    b.set(DATA.subarray(32), 32);
    const n = emitTcp({ srcPort: 80, dstPort: 43656, seq: 0x96ede300, ack: 0xa0547ecf, flags: TCP_PSH | TCP_ACK,
      window: 64, urgent: 0 }, { timestamp: { val: 0x567e3e85, ecr: 0xb6d66a41 } }, b, 0, 6, SERVER, CLIENT);
    expect(n).toBe(32);
    expect(b).toEqual(DATA);
  });

  it('binds the checksum to the addresses (pseudo-header)', () => {
    expect(parseTcp(SYN, 0, SYN.length, CLIENT, SERVER + 1, newTcpRepr())).toBe(DropReason.TCP_CSUM);
    expect(parseTcp(SYN, 0, SYN.length, SERVER, CLIENT, newTcpRepr())).toBeUndefined(); // the sum is symmetric
  });

  it('refuses a damaged segment with TCP_CSUM, keeping the fixed fields but no options', () => {
    for (let i = 0; i < DATA.length; i++) {
      const b = DATA.slice();
      b[i] = b[i]! ^ 0x20;
      const r = newTcpRepr();
      if (i === 12) {
        // The data offset turns from 8 words to 10: 40 bytes of header in a 38-byte segment.
        expect(parseTcp(b, 0, b.length, SERVER, CLIENT, r)).toBe(DropReason.PKT_TOO_SMALL);
        continue;
      }
      expect(parseTcp(b, 0, b.length, SERVER, CLIENT, r), `byte ${i}`).toBe(DropReason.TCP_CSUM);
      if (i >= 4) expect([r.srcPort, r.dstPort]).toEqual([80, 43656]);
      expect(r.hasTimestamp).toBe(false);
    }
  });

  it('clears the options of a reused repr, without reallocating the SACK blocks', () => {
    const r = newTcpRepr();
    const blocks = r.sackBlocks;
    parseTcp(SYN, 0, SYN.length, CLIENT, SERVER, r);
    const ack = segment([]);
    expect(parseTcp(ack, 0, ack.length, CLIENT, SERVER, r)).toBeUndefined();
    expect(r).toMatchObject({ headerLen: 20, mss: -1, wscale: -1, sackPermitted: false, hasTimestamp: false,
      tsVal: 0, tsEcr: 0, sackCount: 0 });
    expect(r.sackBlocks).toBe(blocks);
  });

  it('checks lengths as Linux does: the segment, then the data offset both ways', () => {
    const r = newTcpRepr();
    expect(parseTcp(SYN, 0, 19, CLIENT, SERVER, r)).toBe(DropReason.PKT_TOO_SMALL);
    expect(parseTcp(SYN, 0, 39, CLIENT, SERVER, r)).toBe(DropReason.PKT_TOO_SMALL); // offset 40 > 39
    for (const doff of [0, 4]) {
      const b = SYN.slice();
      b[12] = doff << 4;
      expect(parseTcp(b, 0, b.length, CLIENT, SERVER, r)).toBe(DropReason.PKT_TOO_SMALL);
    }
    const b = SYN.slice();
    b[12] = 15 << 4; // 60 bytes of header in a 40-byte segment
    expect(parseTcp(b, 0, b.length, CLIENT, SERVER, r)).toBe(DropReason.PKT_TOO_SMALL);
  });

  it('ignores the reserved and AE bits beside the data offset', () => {
    const b = segment([]);
    b[12] = b[12]! | 0x0f;
    setU16(b, 16, 0);
    setU16(b, 16, checksum(b, 0, b.length, pseudoHeaderV4(CLIENT, SERVER, IPPROTO_TCP, b.length)));
    const r = newTcpRepr();
    expect(parseTcp(b, 0, b.length, CLIENT, SERVER, r)).toBeUndefined();
    expect(r.headerLen).toBe(20);
    expect(r.flags).toBe(TCP_ACK);
  });

  it('sends a computed checksum of 0 as 0 (TCP has no "no checksum"), and it verifies', () => {
    // Choose the payload word that makes the checksum come out 0: the checksum of the rest.
    const b = new Uint8Array(TCP_HLEN + 2);
    const h = { srcPort: 1234, dstPort: 80, seq: 1, ack: 2, flags: TCP_ACK, window: 100 };
    emitTcp(h, {}, b, 0, 2, CLIENT, SERVER);
    setU16(b, TCP_HLEN, u16(b, 16));
    emitTcp(h, {}, b, 0, 2, CLIENT, SERVER);
    expect(u16(b, 16)).toBe(0);
    expect(parseTcp(b, 0, b.length, CLIENT, SERVER, newTcpRepr())).toBeUndefined();
  });

  it('writes the urgent pointer, 0 when not given', () => {
    const b = new Uint8Array(TCP_HLEN + 3);
    emitTcp({ srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: TCP_URG | TCP_ACK, window: 5, urgent: 3 }, {}, b, 0, 3,
      CLIENT, SERVER);
    const r = newTcpRepr();
    expect(parseTcp(b, 0, b.length, CLIENT, SERVER, r)).toBeUndefined();
    expect(r.urgent).toBe(3);
    emitTcp({ srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: TCP_ACK, window: 5 }, {}, b, 0, 3, CLIENT, SERVER);
    expect(u16(b, 18)).toBe(0);
  });

  it('agrees with the pseudo-sum forms', () => {
    const pseudo = pseudoHeaderV4(CLIENT, SERVER, IPPROTO_TCP, SYN.length);
    const r = newTcpRepr();
    expect(parseTcpWithPseudo(SYN, 0, SYN.length, pseudo, r)).toBeUndefined();
    const b = new Uint8Array(SYN.length);
    expect(emitTcpWithPseudo(r, tcpOptionsOf(r), b, 0, 0, pseudo)).toBe(40);
    expect(b).toEqual(SYN);
  });

  it('prints flags as tcpdump does', () => {
    expect(flagsToString(TCP_SYN)).toBe('S');
    expect(flagsToString(TCP_SYN | TCP_ACK)).toBe('S.');
    expect(flagsToString(TCP_ACK)).toBe('.');
    expect(flagsToString(TCP_PSH | TCP_ACK)).toBe('P.');
    expect(flagsToString(TCP_FIN | TCP_ACK)).toBe('F.');
    expect(flagsToString(TCP_RST | TCP_ACK)).toBe('R.');
    expect(flagsToString(TCP_SYN | TCP_ECE | TCP_CWR)).toBe('SEW');
    expect(flagsToString(0xff)).toBe('FSRP.UEW');
    expect(flagsToString(0)).toBe('none');
  });
});

describe('TCP options out: Linux\'s layouts', () => {
  const blocks = Uint32Array.of(10, 20, 30, 40, 50, 60, 70, 80);
  const TS = { val: 0x11223344, ecr: 0x55667788 };

  /** The option bytes `emitTcp` writes for `opts`, as hex. */
  function optionBytes(opts: TcpOptionsOut): string {
    const b = new Uint8Array(60);
    const n = emitTcp({ srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: TCP_ACK, window: 0 }, opts, b, 0, 0, 1, 2);
    expect(n).toBe(TCP_HLEN + tcpOptionsLen(opts));
    expect(b[12]! >>> 4).toBe(n / 4);
    return Buffer.from(b.subarray(TCP_HLEN, n)).toString('hex');
  }

  it.each<[string, TcpOptionsOut, string]>([
    ['none', {}, ''],
    ['MSS', { mss: 1460 }, '020405b4'],
    ['timestamps', { timestamp: TS }, '0101080a 11223344 55667788'],
    ['SACK-permitted alone', { sackPermitted: true }, '01010402'],
    ['SACK-permitted with timestamps', { sackPermitted: true, timestamp: TS }, '0402080a 11223344 55667788'],
    ['window scale', { wscale: 7 }, '01030307'],
    ['SYN without timestamps', { mss: 1460, sackPermitted: true, wscale: 7 }, '020405b4 01010402 01030307'],
    ['SYN', { mss: 1460, sackPermitted: true, timestamp: TS, wscale: 7 },
      '020405b4 0402080a 11223344 55667788 01030307'],
    ['one SACK block', { sack: { count: 1, blocks } }, '0101050a 0000000a 00000014'],
    ['timestamps, then SACK', { timestamp: TS, sack: { count: 2, blocks } },
      '0101080a 11223344 55667788 01010512 0000000a 00000014 0000001e 00000028'],
    ['four SACK blocks', { sack: { count: 4, blocks } },
      '01010522 0000000a 00000014 0000001e 00000028 00000032 0000003c 00000046 00000050'],
  ])('%s', (_name, opts, want) => {
    expect(optionBytes(opts)).toBe(want.replace(/\s+/g, ''));
  });

  it('sends only the SACK blocks that fit: 3 beside a timestamp, never more than 4 or than given', () => {
    expect(tcpOptionsLen({ timestamp: TS, sack: { count: 4, blocks } })).toBe(40);
    expect(optionBytes({ timestamp: TS, sack: { count: 4, blocks } })).toMatch(/^0101080a.{16}0101051a/);
    expect(tcpOptionsLen({ sack: { count: 9, blocks: new Uint32Array(18) } })).toBe(4 + 4 * 8);
    expect(tcpOptionsLen({ sack: { count: 4, blocks: new Uint32Array(2) } })).toBe(4 + 8);
    expect(tcpOptionsLen({ sack: { count: 0, blocks } })).toBe(0);
    expect(tcpOptionsLen({ mss: 1, sackPermitted: true, wscale: 1, sack: { count: 4, blocks } })).toBe(12 + 4 + 3 * 8);
  });

  it('round-trips any header and options through parseTcp (property)', () => {
    const sack = fc.uint32Array({ minLength: 0, maxLength: 8 }).map((a) => ({ count: a.length >>> 1, blocks: a }));
    const opts = fc.record({
      mss: fc.nat(0xffff), wscale: fc.nat(14), sackPermitted: fc.boolean(),
      timestamp: fc.record({ val: fc.nat(0xffff_ffff), ecr: fc.nat(0xffff_ffff) }), sack,
    }, { requiredKeys: [] });
    const header = fc.record({
      srcPort: fc.nat(0xffff), dstPort: fc.nat(0xffff), seq: fc.nat(0xffff_ffff), ack: fc.nat(0xffff_ffff),
      flags: fc.nat(0xff), window: fc.nat(0xffff), urgent: fc.nat(0xffff),
    });
    const r = newTcpRepr();
    fc.assert(fc.property(header, opts, fc.uint8Array({ maxLength: 100 }), fc.nat(0xffff_ffff), fc.nat(0xffff_ffff),
      (h, o, payload, src, dst) => {
        const hl = TCP_HLEN + tcpOptionsLen(o);
        expect(hl % 4).toBe(0);
        expect(hl).toBeLessThanOrEqual(60);
        const b = new Uint8Array(hl + payload.length);
        b.set(payload, hl);
        expect(emitTcp(h, o, b, 0, payload.length, src, dst)).toBe(hl);
        expect(parseTcp(b, 0, b.length, src, dst, r)).toBeUndefined();
        expect(r).toMatchObject({ ...h, headerLen: hl });
        expect(r.mss).toBe(o.mss ?? -1);
        expect(r.wscale).toBe(o.wscale ?? -1);
        expect(r.sackPermitted).toBe(o.sackPermitted === true);
        expect(r.hasTimestamp).toBe(o.timestamp !== undefined);
        expect([r.tsVal, r.tsEcr]).toEqual(o.timestamp === undefined ? [0, 0] : [o.timestamp.val, o.timestamp.ecr]);
        // As many SACK blocks as were given, up to 4, as long as all options fit in 40 bytes.
        const others = tcpOptionsLen({ ...o, sack: undefined });
        const sent = Math.min(o.sack?.count ?? 0, 4, Math.floor((40 - others - 4) / 8));
        expect(hl).toBe(TCP_HLEN + others + (sent > 0 ? 4 + 8 * sent : 0));
        expect(r.sackCount).toBe(sent);
        expect([...r.sackBlocks.subarray(0, 2 * sent)]).toEqual([...(o.sack?.blocks ?? []).slice(0, 2 * sent)]);
        // And re-emitting what was parsed gives the same bytes.
        const again = b.slice();
        again.fill(0, 0, hl);
        emitTcp(r, tcpOptionsOf(r), again, 0, payload.length, src, dst);
        expect(again).toEqual(b);
      }), { numRuns: 500 });
  });
});

describe('TCP options in: malformed lists (Linux tcp_parse_options)', () => {
  const MSS = [0x02, 0x04, 0x05, 0xb4];
  const TS = [0x01, 0x01, 0x08, 0x0a, 0, 0, 0, 7, 0, 0, 0, 9];
  const WS7 = [0x01, 0x03, 0x03, 0x07];

  it('reads options regardless of the flags: the caller decides what a non-SYN MSS means', () => {
    expect(parseOptions([...MSS, ...WS7, 0x01, 0x01, 0x04, 0x02], TCP_ACK))
      .toMatchObject({ mss: 1460, wscale: 7, sackPermitted: true });
  });

  it('a length of 0 ends the walk: what came before stands', () => {
    const r = parseOptions([...MSS, 0x05, 0x00, 0x01, 0x01, ...TS]);
    expect(r).toMatchObject({ mss: 1460, hasTimestamp: false, sackCount: 0 });
  });

  it('a length of 1 ends the walk', () => {
    expect(parseOptions([...MSS, 0x03, 0x01, 0x01, 0x01, ...WS7])).toMatchObject({ mss: 1460, wscale: -1 });
    expect(parseOptions([0x03, 0x01, 0x01, 0x01, ...MSS])).toMatchObject({ mss: -1 });
  });

  it('an option running past the end of the header ends the walk', () => {
    // The timestamp claims 10 bytes where 6 are left.
    const r = parseOptions([...MSS, 0x01, 0x01, 0x08, 0x0a, 0, 0, 0, 7]);
    expect(r).toMatchObject({ mss: 1460, hasTimestamp: false, tsVal: 0 });
  });

  it('a kind in the last byte, without its length byte, ends the walk', () => {
    expect(parseOptions([0x01, 0x01, 0x01, 0x02])).toMatchObject({ mss: -1 });
  });

  it('an unknown kind is skipped by its length', () => {
    expect(parseOptions([0xfe, 0x04, 0xaa, 0xbb, ...MSS])).toMatchObject({ mss: 1460 });
    expect(parseOptions([0x1e, 0x06, 1, 2, 3, 4, 0x01, 0x01, ...WS7])).toMatchObject({ wscale: 7 });
  });

  it('a known kind with the wrong length is ignored, and skipped by that length', () => {
    expect(parseOptions([0x02, 0x03, 0x05, 0x01, ...WS7])).toMatchObject({ mss: -1, wscale: 7 });
    expect(parseOptions([0x03, 0x04, 0x07, 0x00, 0x04, 0x03, 0x00, 0x01]))
      .toMatchObject({ wscale: -1, sackPermitted: false });
    expect(parseOptions([0x08, 0x06, 0, 0, 0, 1, ...MSS, 0x01, 0x01])).toMatchObject({ hasTimestamp: false, mss: 1460 });
    // SACK lengths must be 2 + 8n with n ≥ 1.
    expect(parseOptions([0x05, 0x02, 0x01, 0x01])).toMatchObject({ sackCount: 0 });
    expect(parseOptions([0x05, 0x0b, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0x01])).toMatchObject({ sackCount: 0 });
  });

  it('reads up to 4 SACK blocks; a claim of 5 cannot fit in 40 bytes and ends the walk', () => {
    const four = [0x01, 0x01, 0x05, 0x22];
    for (let k = 1; k <= 8; k++) four.push(0, 0, 0, k);
    const r = parseOptions([...four, 0x01, 0x01, 0x01, 0x01]);
    expect(r.sackCount).toBe(4);
    expect([...r.sackBlocks]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);

    const five = four.slice();
    five[3] = 0x2a; // 2 + 5 × 8 = 42 bytes claimed, 38 left
    five.push(0, 0, 0, 9, 0, 0, 0, 10);
    expect(five.length).toBe(44);
    const back = segment(five.slice(0, 40));
    const r5 = newTcpRepr();
    expect(parseTcp(back, 0, back.length, CLIENT, SERVER, r5)).toBeUndefined();
    expect(r5.sackCount).toBe(0);
  });

  it('End of Option List in the middle ends the walk', () => {
    expect(parseOptions([...MSS, 0x00, 0x00, 0x00, 0x00, ...WS7])).toMatchObject({ mss: 1460, wscale: -1 });
    expect(parseOptions([0x00, ...MSS.slice(0, 3)])).toMatchObject({ mss: -1 });
  });

  it('reports values as sent: window scale above 14, MSS 0', () => {
    expect(parseOptions([0x01, 0x03, 0x03, 0x0f])).toMatchObject({ wscale: 15 });
    expect(parseOptions([0x02, 0x04, 0x00, 0x00])).toMatchObject({ mss: 0 });
  });

  it('lets a repeated option win over the earlier one, as Linux does', () => {
    expect(parseOptions([...MSS, 0x02, 0x04, 0x02, 0x18])).toMatchObject({ mss: 536 });
    const r = parseOptions([0x01, 0x01, 0x05, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2, 0x01, 0x01, 0x05, 0x0a, 0, 0, 0, 3, 0, 0, 0, 4]);
    expect(r.sackCount).toBe(1);
    expect([r.sackBlocks[0], r.sackBlocks[1]]).toEqual([3, 4]);
  });
});

describe('TCP parse on random input', () => {
  it('never throws, and returns a known verdict', () => {
    const r = newTcpRepr();
    const input = fc.uint8Array({ maxLength: 100 }).chain((b) =>
      fc.tuple(fc.constant(b), fc.nat(b.length), fc.nat(b.length + 8)));
    fc.assert(fc.property(input, fc.nat(0xffff_ffff), fc.nat(0xffff_ffff), ([b, o, l], src, dst) => {
      const v = parseTcp(b, o, l, src, dst, r);
      expect(REASONS.has(v)).toBe(true);
      if (v === undefined) {
        expect(r.headerLen).toBeGreaterThanOrEqual(TCP_HLEN);
        expect(r.headerLen).toBeLessThanOrEqual(l);
      }
    }), { numRuns: 2000 });
  });

  it('never rejects a segment for its options, and keeps every field in range', () => {
    const r = newTcpRepr();
    const options = fc.nat(10).chain((words) => fc.uint8Array({ minLength: 4 * words, maxLength: 4 * words }));
    fc.assert(fc.property(options, fc.nat(0xff), (opts, flags) => {
      const b = segment([...opts], flags);
      expect(parseTcp(b, 0, b.length, CLIENT, SERVER, r)).toBeUndefined();
      expect(r.sackCount).toBeGreaterThanOrEqual(0);
      expect(r.sackCount).toBeLessThanOrEqual(4);
      expect(r.mss).toBeGreaterThanOrEqual(-1);
      expect(r.mss).toBeLessThanOrEqual(0xffff);
      expect(r.wscale).toBeGreaterThanOrEqual(-1);
      expect(r.wscale).toBeLessThanOrEqual(0xff);
    }), { numRuns: 2000 });
  });
});
