import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { FaultyLink } from '../../src/dev/fault.js';
import { checkFcs } from '../../src/dev/fcs.js';
import { MemoryLink } from '../../src/dev/memory.js';
import { capture, LINKTYPE_ETHERNET, PCAP_SNAPLEN, PcapWriter } from '../../src/dev/pcap.js';
import { ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, frame, idOf } from './frames.js';

interface PcapRecord {
  sec: number;
  usec: number;
  origLen: number;
  bytes: Uint8Array;
}

/** A minimal reader of classic little-endian pcap files, independent of the writer. */
function readPcap(path: string): { snaplen: number; linktype: number; records: PcapRecord[] } {
  const b = readFileSync(path);
  expect(b.length).toBeGreaterThanOrEqual(24);
  expect([...b.subarray(0, 4)]).toEqual([0xd4, 0xc3, 0xb2, 0xa1]); // a1b2c3d4, little-endian
  expect([b.readUInt16LE(4), b.readUInt16LE(6), b.readInt32LE(8), b.readUInt32LE(12)]).toEqual([2, 4, 0, 0]);
  const records: PcapRecord[] = [];
  let at = 24;
  while (at < b.length) {
    expect(b.length - at).toBeGreaterThanOrEqual(16);
    const incl = b.readUInt32LE(at + 8);
    const rec = {
      sec: b.readUInt32LE(at),
      usec: b.readUInt32LE(at + 4),
      origLen: b.readUInt32LE(at + 12),
      bytes: new Uint8Array(b.subarray(at + 16, at + 16 + incl)),
    };
    expect(rec.bytes.length).toBe(incl);
    records.push(rec);
    at += 16 + incl;
  }
  return { snaplen: b.readUInt32LE(16), linktype: b.readUInt32LE(20), records };
}

const hasTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).error === undefined;
if (!hasTshark) console.warn('pcap.test: tshark is not on PATH; skipping the tshark cross-check');

const dir = mkdtempSync(join(tmpdir(), 'tapstack-pcap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('PcapWriter', () => {
  it('writes a header alone as a valid empty capture', () => {
    const path = join(dir, 'empty.pcap');
    const w = PcapWriter.open(path);
    expect(readFileSync(path).length).toBe(24); // on disk before the first frame
    w.close();
    w.close();
    const { snaplen, linktype, records } = readPcap(path);
    expect([snaplen, linktype, records.length]).toEqual([PCAP_SNAPLEN, LINKTYPE_ETHERNET, 0]);
  });

  it('keeps timestamps to the microsecond', () => {
    const path = join(dir, 'time.pcap');
    const w = PcapWriter.open(path);
    const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);
    w.write(frame(1), t0 + 123.456);
    w.write(frame(2), t0 + 999.9996); // rounds up into the next second
    w.close();
    const [a, b] = readPcap(path).records;
    expect([a!.sec, a!.usec]).toEqual([t0 / 1000, 123_456]);
    expect([b!.sec, b!.usec]).toEqual([t0 / 1000 + 1, 0]);
  });

  it('writes many frames through its buffer, and cuts frames longer than the snaplen', () => {
    const path = join(dir, 'big.pcap');
    const w = PcapWriter.open(path);
    const frames = [...Array(200).keys()].map((id) => frame(id, 60 + ((id * 97) % 1455)));
    const huge = frame(999, PCAP_SNAPLEN + 1000);
    frames.splice(100, 0, huge);
    for (const f of frames) w.write(f, 1000);
    expect(w.frames).toBe(201);
    w.close();
    w.write(frame(1000), 2000); // after close: ignored
    expect(w.frames).toBe(201);

    const { records } = readPcap(path);
    expect(records).toHaveLength(201);
    records.forEach((r, i) => {
      const f = frames[i]!;
      expect(r.origLen).toBe(f.length);
      // Buffer.equals: toEqual walks a 256 KiB array element by element, for seconds.
      expect(Buffer.from(r.bytes).equals(f.subarray(0, Math.min(f.length, PCAP_SNAPLEN))), `record ${i}`).toBe(true);
    });
    expect(records[100]!.bytes.length).toBe(PCAP_SNAPLEN);
  });
});

describe('capture', () => {
  /**
   * Runs a small exchange over an FCS-carrying pair captured on end `a`: three frames out,
   * two back. Returns what each side handled and the pcap's path.
   */
  function exchange(name: string) {
    const path = join(dir, name);
    const writer = PcapWriter.open(path);
    const clock = new ManualClock(0, Date.UTC(2026, 0, 1));
    const [memA, b] = MemoryLink.pair({ fcs: true });
    const a = capture(memA, writer, clock);
    expect([a.name, a.mtu, a.hasFcs, a.stats]).toEqual([memA.name, memA.mtu, true, memA.stats]);
    const received: Uint8Array[] = [];
    a.setReceiver((fs) => received.push(...fs.map((f) => f.slice())));

    const out = [frame(1, 98, ETH_P_IP), frame(2, 42, ETH_P_ARP), frame(3, 1514, ETH_P_IPV6)];
    for (const f of out) {
      a.send(f.slice());
      clock.advance(1.5);
    }
    a.flush();
    const back = [frame(4, 60, ETH_P_ARP), frame(5, 118, ETH_P_IPV6)];
    for (const f of back) b.send(f.slice());
    b.flush();
    clock.advance(250);
    memA.deliver();
    writer.close();
    return { path, out, back, received, epoch: Date.UTC(2026, 0, 1), atB: b.take() };
  }

  it('records sent and received frames, without FCS, and forwards them unchanged', () => {
    const { path, out, back, received, epoch, atB } = exchange('capture.pcap');
    // Forwarded: the peer got the frames with a valid FCS; the receiver got the FCS too.
    expect(atB.map((f) => checkFcs(f))).toEqual([true, true, true]);
    expect(atB.map((f) => f.subarray(0, f.length - 4))).toEqual(out);
    expect(received.map((f) => f.subarray(0, f.length - 4))).toEqual(back);

    const { records } = readPcap(path);
    expect(records.map((r) => r.bytes)).toEqual([...out, ...back]);
    expect(records.map((r) => r.origLen)).toEqual([...out, ...back].map((f) => f.length));
    const stamps = records.map((r) => (r.sec * 1000 - epoch) * 1000 + r.usec);
    expect(stamps).toEqual([0, 1500, 3000, 254_500, 254_500]);
  });

  it.skipIf(!hasTshark)('writes a file that tshark reads the same way', () => {
    const { path, out, back } = exchange('tshark.pcap');
    const text = execFileSync('tshark', ['-r', path, '-T', 'fields', '-e', 'frame.len', '-e', 'eth.type'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 20_000,
    });
    const rows = text.trim().split('\n').map((line) => line.split('\t').map((v) => Number(v)));
    const expected = [...out, ...back].map((f) => [f.length, (f[12]! << 8) | f[13]!]);
    expect(rows).toEqual(expected);
  });

  it('lets a fault injector corrupt through it, recording the damaged frame', () => {
    const path = join(dir, 'corrupt.pcap');
    const writer = PcapWriter.open(path);
    const clock = new ManualClock();
    const [memA, b] = MemoryLink.pair({ fcs: true });
    const a = new FaultyLink(capture(memA, writer, clock), { seed: 2, corrupt: 1 }, clock);
    a.send(frame(7, 64));
    a.flush();
    writer.close();
    const [wire] = b.take();
    expect(checkFcs(wire!)).toBe(false);
    const [rec] = readPcap(path).records;
    expect(rec!.bytes).toEqual(wire!.subarray(0, 64));
    expect(idOf(rec!.bytes)).toBe(7);
  });
});
