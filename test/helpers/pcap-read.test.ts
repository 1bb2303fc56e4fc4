import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readPcap } from './pcap-read.js';

const dir = mkdtempSync(join(tmpdir(), 'tapstack-pcap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A classic pcap file with the given records, written in the given byte order. */
function pcap(little: boolean, magic: number, records: { sec: number; frac: number; data: number[] }[]): string {
  const size = 24 + records.reduce((n, r) => n + 16 + r.data.length, 0);
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  v.setUint32(0, magic, little);
  v.setUint16(4, 2, little);
  v.setUint16(6, 4, little);
  v.setUint32(16, 65_535, little);
  v.setUint32(20, 1, little); // LINKTYPE_ETHERNET
  let off = 24;
  for (const r of records) {
    v.setUint32(off, r.sec, little);
    v.setUint32(off + 4, r.frac, little);
    v.setUint32(off + 8, r.data.length, little);
    v.setUint32(off + 12, r.data.length, little);
    b.set(r.data, off + 16);
    off += 16 + r.data.length;
  }
  const path = join(dir, `${little ? 'le' : 'be'}-${magic.toString(16)}.pcap`);
  writeFileSync(path, b);
  return path;
}

describe('readPcap', () => {
  const records = [{ sec: 1_700_000_000, frac: 250_000, data: [1, 2, 3] }, { sec: 1_700_000_001, frac: 0, data: [] }];

  it.each([true, false])('reads microsecond files (little-endian: %s)', (little) => {
    const out = readPcap(pcap(little, 0xa1b2c3d4, records));
    expect(out.map((r) => Array.from(r.data))).toEqual([[1, 2, 3], []]);
    expect(out[0]!.ts).toBeCloseTo(1_700_000_000.25, 6);
    expect(out[1]!.ts).toBe(1_700_000_001);
  });

  it('reads nanosecond files', () => {
    const out = readPcap(pcap(false, 0xa1b23c4d, [{ sec: 10, frac: 500_000_000, data: [9] }]));
    expect(out[0]!.ts).toBe(10.5);
  });

  it('refuses other formats and truncated files', () => {
    const path = join(dir, 'not.pcap');
    writeFileSync(path, new Uint8Array(24).fill(0x0a));
    expect(() => readPcap(path)).toThrow(/not a classic pcap/);
    const good = pcap(true, 0xa1b2c3d4, records);
    const cut = join(dir, 'cut.pcap');
    writeFileSync(cut, readFileSync(good).subarray(0, 24 + 16 + 2));
    expect(() => readPcap(cut)).toThrow(/truncated/);
  });
});
