import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONSUMED, DropReason } from '../../src/core/drop.js';
import { PCAP_SNAPLEN } from '../../src/dev/pcap.js';
import { COMMENT_MAX, PcapngWriter, verdictComment } from '../../src/dev/pcapng.js';
import { ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, frame } from './frames.js';

/** One option TLV as found in the file; `padding` is the bytes between the value and 32 bits. */
interface Option {
  code: number;
  value: Buffer;
  padding: Buffer;
}

interface Block {
  type: number;
  /** The block without its type and the two length fields. */
  body: Buffer;
}

interface Packet {
  interfaceId: number;
  /** Microseconds since the epoch, from the high and low words. */
  us: number;
  origLen: number;
  bytes: Buffer;
  padding: Buffer;
  options: Option[];
}

/**
 * A minimal reader of little-endian pcapng, written from the draft and not from the
 * writer: block framing, the two lengths, 32-bit alignment, option TLVs ending in
 * opt_endofopt. Numbers are literals here on purpose, so that a wrong constant in the
 * writer cannot agree with itself.
 */
function readBlocks(path: string): Block[] {
  const b = readFileSync(path);
  const blocks: Block[] = [];
  let at = 0;
  while (at < b.length) {
    expect(b.length - at, `block at ${at}`).toBeGreaterThanOrEqual(12);
    const type = b.readUInt32LE(at);
    const total = b.readUInt32LE(at + 4);
    expect(total % 4, `length of the block at ${at}`).toBe(0);
    expect(total).toBeGreaterThanOrEqual(12);
    expect(at + total).toBeLessThanOrEqual(b.length);
    expect(b.readUInt32LE(at + total - 4), `trailing length of the block at ${at}`).toBe(total);
    blocks.push({ type, body: b.subarray(at + 8, at + total - 4) });
    at += total;
  }
  return blocks;
}

function readOptions(b: Buffer, at: number): Option[] {
  const options: Option[] = [];
  for (;;) {
    expect(b.length - at).toBeGreaterThanOrEqual(4);
    const code = b.readUInt16LE(at);
    const len = b.readUInt16LE(at + 2);
    if (code === 0) {
      expect(len).toBe(0);
      expect(at + 4, 'opt_endofopt ends the block body').toBe(b.length);
      return options;
    }
    const padded = (len + 3) & ~3;
    expect(at + 4 + padded).toBeLessThanOrEqual(b.length);
    options.push({
      code,
      value: b.subarray(at + 4, at + 4 + len),
      padding: b.subarray(at + 4 + len, at + 4 + padded),
    });
    at += 4 + padded;
  }
}

function text(options: Option[], code: number): string | undefined {
  const o = options.find((x) => x.code === code);
  return o?.value.toString('utf8');
}

function readPcapng(path: string) {
  const [shb, idb, ...rest] = readBlocks(path);
  expect(shb!.type).toBe(0x0a0d0d0a);
  expect(shb!.body.readUInt32LE(0)).toBe(0x1a2b3c4d);
  expect([shb!.body.readUInt16LE(4), shb!.body.readUInt16LE(6)]).toEqual([1, 0]);
  expect(shb!.body.readBigInt64LE(8)).toBe(-1n);
  const shbOptions = readOptions(shb!.body, 16);

  expect(idb!.type).toBe(1);
  const ifOptions = readOptions(idb!.body, 8);
  const iface = {
    linktype: idb!.body.readUInt16LE(0),
    reserved: idb!.body.readUInt16LE(2),
    snaplen: idb!.body.readUInt32LE(4),
    options: ifOptions,
  };

  const packets: Packet[] = rest.map((blk) => {
    expect(blk.type).toBe(6);
    const captured = blk.body.readUInt32LE(12);
    const padded = (captured + 3) & ~3;
    return {
      interfaceId: blk.body.readUInt32LE(0),
      us: blk.body.readUInt32LE(4) * 2 ** 32 + blk.body.readUInt32LE(8),
      origLen: blk.body.readUInt32LE(16),
      bytes: blk.body.subarray(20, 20 + captured),
      padding: blk.body.subarray(20 + captured, 20 + padded),
      options: readOptions(blk.body, 20 + padded),
    };
  });
  return { shbOptions, iface, packets };
}

/** All padding the reader found in `packets`, which must be zeros. */
function paddingOf(packets: Packet[]): number[] {
  return packets.flatMap((p) => [...p.padding, ...p.options.flatMap((o) => [...o.padding])]);
}

const has = (tool: string) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).error === undefined;
const hasTshark = has('tshark');
const hasCapinfos = has('capinfos');
if (!hasTshark) console.warn('pcapng.test: tshark is not on PATH; skipping the tshark cross-check');
if (!hasCapinfos) console.warn('pcapng.test: capinfos is not on PATH; skipping the capinfos cross-check');

const dir = mkdtempSync(join(tmpdir(), 'tapstack-pcapng-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const EPOCH = Date.UTC(2026, 0, 1, 12, 0, 0);
const DROP = verdictComment(DropReason.NO_SOCKET, 'udp');
const DELIVERED = verdictComment(CONSUMED, 'udp [::]:7');

/** A few frames of every padding remainder: one inbound drop, outbound, and one with neither. */
function smallCapture(name: string) {
  const path = join(dir, name);
  const w = PcapngWriter.open(path, { interfaceName: 'tap0', comment: 'netns test' });
  const rows = [
    { f: frame(1, 61, ETH_P_IP), t: EPOCH + 0.001, comment: DROP, dir: 'in' as const },
    { f: frame(2, 62, ETH_P_ARP), t: EPOCH + 1.5, comment: undefined, dir: 'out' as const },
    { f: frame(3, 63, ETH_P_IPV6), t: EPOCH + 2.25, comment: DELIVERED, dir: 'in' as const },
    { f: frame(4, 64, ETH_P_IP), t: EPOCH + 1000.0004, comment: 'sent', dir: undefined },
  ];
  for (const r of rows) w.write(r.f, r.t, r.comment, r.dir);
  expect(w.frames).toBe(rows.length);
  w.close();
  return { path, rows };
}

describe('PcapngWriter', () => {
  it('writes a section header and an interface alone as a valid empty capture', () => {
    const path = join(dir, 'empty.pcapng');
    const w = PcapngWriter.open(path, { interfaceName: 'tap7', comment: 'an empty one' });
    const onDisk = readFileSync(path).length; // before close: the headers are flushed at once
    w.close();
    w.close();
    expect(readFileSync(path).length).toBe(onDisk);

    const { shbOptions, iface, packets } = readPcapng(path);
    expect(text(shbOptions, 4)).toBe('tapstack'); // shb_userappl
    expect(text(shbOptions, 1)).toBe('an empty one'); // shb_comment
    expect([iface.linktype, iface.reserved, iface.snaplen]).toEqual([1, 0, 262_144]);
    expect(text(iface.options, 2)).toBe('tap7'); // if_name
    expect(iface.options.find((o) => o.code === 9)?.value).toEqual(Buffer.of(6)); // if_tsresol
    expect(packets).toEqual([]);
    expect(shbOptions.concat(iface.options).flatMap((o) => [...o.padding]).every((b) => b === 0)).toBe(true);
  });

  it('leaves out the options it was not given, and names another application', () => {
    const path = join(dir, 'bare.pcapng');
    PcapngWriter.open(path, { application: 'tapstack-test 1.0' }).close();
    const { shbOptions, iface } = readPcapng(path);
    expect(shbOptions.map((o) => [o.code, o.value.toString()])).toEqual([[4, 'tapstack-test 1.0']]);
    expect(iface.options.map((o) => o.code)).toEqual([9]);
  });

  it('writes each frame in an Enhanced Packet Block with its comment, direction and time', () => {
    const { path, rows } = smallCapture('frames.pcapng');
    const { packets } = readPcapng(path);
    expect(packets).toHaveLength(rows.length);
    packets.forEach((p, i) => {
      const r = rows[i]!;
      expect(p.interfaceId).toBe(0);
      expect(p.us).toBe(Math.round(r.t * 1000));
      expect([p.bytes.length, p.origLen]).toEqual([r.f.length, r.f.length]);
      expect(Buffer.from(r.f).equals(p.bytes), `frame ${i}`).toBe(true);
      expect(p.padding.length).toBe((4 - (r.f.length % 4)) % 4);

      const expected: [number, Buffer][] = [];
      if (r.comment !== undefined) expected.push([1, Buffer.from(r.comment)]);
      if (r.dir !== undefined) expected.push([2, Buffer.of(r.dir === 'in' ? 1 : 2, 0, 0, 0)]); // epb_flags
      expect(p.options.map((o) => [o.code, o.value])).toEqual(expected);
    });
    // Real wall-clock times need more than 32 bits of microseconds: the high word is used.
    expect(packets[0]!.us).toBeGreaterThan(2 ** 32);
    expect(paddingOf(packets).every((b) => b === 0)).toBe(true);
  });

  it('pads with zeros even where the reused buffer held other bytes', () => {
    const path = join(dir, 'reuse.pcapng');
    const w = PcapngWriter.open(path);
    const ones = new Uint8Array(4000).fill(0xff);
    for (let i = 0; i < 80; i++) {
      // 0xff frames and comments of every length mod 4, so stale bytes would show in padding.
      w.write(ones.subarray(0, 60 + (i % 4) + i * 37), EPOCH + i, 'x'.repeat(i % 7), i % 2 === 0 ? 'in' : 'out');
    }
    w.close();
    const { packets } = readPcapng(path);
    expect(packets).toHaveLength(80);
    expect(packets.map((p) => text(p.options, 1))).toEqual(
      [...Array(80).keys()].map((i) => (i % 7 === 0 ? undefined : 'x'.repeat(i % 7))),
    );
    expect(paddingOf(packets).every((b) => b === 0)).toBe(true);
  });

  it('cuts a long comment at COMMENT_MAX bytes, on a character boundary', () => {
    const path = join(dir, 'long-comment.pcapng');
    const w = PcapngWriter.open(path);
    const long = `a${'é'.repeat(COMMENT_MAX)}`; // 'é' is two bytes: the cut falls inside one
    w.write(frame(1), EPOCH, long, 'in');
    w.close();
    const [p] = readPcapng(path).packets;
    const kept = text(p!.options, 1)!;
    expect(Buffer.byteLength(kept)).toBe(COMMENT_MAX - 1);
    expect(long.startsWith(kept)).toBe(true);
    expect(kept).not.toContain('\ufffd');
  });

  it('writes many frames through its buffer, cuts frames longer than the snaplen, ignores writes after close', () => {
    const path = join(dir, 'big.pcapng');
    const w = PcapngWriter.open(path, { interfaceName: 'tap0' });
    const frames = [...Array(200).keys()].map((id) => frame(id, 60 + ((id * 97) % 1455)));
    frames.splice(50, 0, frame(998, 100_000)); // larger than the write buffer, within the snaplen
    frames.splice(100, 0, frame(999, PCAP_SNAPLEN + 1001));
    frames.forEach((f, i) => w.write(f, EPOCH + i, verdictComment(`R${i}`), i % 3 === 0 ? 'out' : 'in'));
    expect(w.frames).toBe(202);
    w.close();
    w.write(frame(1000), EPOCH, 'late', 'in');
    w.flush();
    expect(w.frames).toBe(202);

    const { packets } = readPcapng(path);
    expect(packets).toHaveLength(202);
    packets.forEach((p, i) => {
      const f = frames[i]!;
      expect(p.origLen).toBe(f.length);
      // Buffer.equals: toEqual walks a 256 KiB array element by element, for seconds.
      expect(Buffer.from(f.subarray(0, PCAP_SNAPLEN)).equals(p.bytes), `frame ${i}`).toBe(true);
      expect(text(p.options, 1)).toBe(`dropped: R${i}`);
      expect(p.options.find((o) => o.code === 2)!.value.readUInt32LE(0)).toBe(i % 3 === 0 ? 2 : 1);
    });
    expect(packets[100]!.bytes.length).toBe(PCAP_SNAPLEN);
    expect(paddingOf(packets).every((b) => b === 0)).toBe(true);
  });

  it.skipIf(!hasTshark)('writes a file that tshark reads with the comments and directions', () => {
    const { path, rows } = smallCapture('tshark.pcapng');
    // The packet-comment field is frame.comment in Wireshark 4.x, pkt_comment in some older ones.
    const fields = execFileSync('tshark', ['-G', 'fields'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 256 * 1024 * 1024,
      timeout: 60_000,
    });
    const commentField = /\tframe\.comment\t/.test(fields) ? 'frame.comment' : 'pkt_comment';
    const args = ['-r', path, '-T', 'fields', '-E', 'occurrence=f'];
    for (const e of [commentField, 'frame.len', 'eth.type', 'frame.p2p_dir', 'frame.interface_name', 'frame.time_epoch']) {
      args.push('-e', e);
    }
    const out = execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 20_000 });
    const got = out.replace(/\n$/, '').split('\n').map((line) => line.split('\t'));
    const expected = rows.map((r) => [
      r.comment ?? '',
      String(r.f.length),
      `0x${((r.f[12]! << 8) | r.f[13]!).toString(16).padStart(4, '0')}`,
      r.dir === undefined ? '' : r.dir === 'in' ? '1' : '0', // p2p_dir: 1 received, 0 sent
      'tap0',
      (Math.round(r.t * 1000) / 1e6).toFixed(6),
    ]);
    expect(got.map((row) => [...row.slice(0, 5), Number(row[5]).toFixed(6)])).toEqual(expected);
  });

  it.skipIf(!hasCapinfos)('writes a file that capinfos describes as pcapng with our section and interface', () => {
    const { path, rows } = smallCapture('capinfos.pcapng');
    const out = execFileSync('capinfos', [path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 20_000 });
    const line = (key: string) => new RegExp(`^\\s*${key}\\s*[:=]\\s*(.+?)\\s*$`, 'm').exec(out)?.[1];
    expect(line('File type')).toMatch(/pcapng/);
    expect(line('File encapsulation')).toBe('Ethernet');
    expect(line('Number of packets')).toBe(String(rows.length));
    expect(line('Capture application')).toBe('tapstack');
    expect(line('Capture comment')).toBe('netns test');
    expect(line('Name')).toBe('tap0');
    expect(line('File timestamp precision')).toMatch(/microseconds/);
  });
});

describe('verdictComment', () => {
  it('says delivered for CONSUMED and names the reason of a drop, with the detail in parentheses', () => {
    expect(verdictComment(CONSUMED)).toBe('delivered');
    expect(verdictComment(CONSUMED, 'udp [::]:7')).toBe('delivered (udp [::]:7)');
    expect(verdictComment(DropReason.NO_SOCKET, 'udp')).toBe('dropped: NO_SOCKET (udp)');
    expect(verdictComment(DropReason.IP_CSUM)).toBe('dropped: IP_CSUM');
    expect(verdictComment(DropReason.OTHERHOST, '')).toBe('dropped: OTHERHOST');
  });
});
