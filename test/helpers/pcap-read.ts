/**
 * A reader for classic libpcap files (the `.pcap` format tcpdump writes; not pcapng), in
 * either byte order and with micro- or nanosecond timestamps. Test-only: it reads the whole
 * file and throws on a malformed one.
 *
 * ```text
 * global header (24 bytes): magic, version 2.4, thiszone, sigfigs, snaplen, linktype
 * per record   (16 bytes): ts_sec, ts_frac, incl_len, orig_len — then incl_len bytes
 * ```
 */
import { readFileSync } from 'node:fs';

/** One captured frame. */
export interface PcapRecord {
  /** Capture time in seconds since the epoch, fraction included. */
  ts: number;
  /** The captured bytes (a copy, `incl_len` long). */
  data: Uint8Array;
}

const MAGIC_USEC = 0xa1b2c3d4;
const MAGIC_NSEC = 0xa1b23c4d;
const GLOBAL_HLEN = 24;
const RECORD_HLEN = 16;

/** Reads every record of the classic pcap file at `path`. */
export function readPcap(path: string): PcapRecord[] {
  const file = readFileSync(path);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (file.length < GLOBAL_HLEN) throw new Error(`${path}: too short for a pcap header`);

  // The writer's byte order shows in how the magic number reads back.
  let little: boolean;
  let fracPerSec: number;
  const magicLe = view.getUint32(0, true);
  const magicBe = view.getUint32(0, false);
  if (magicLe === MAGIC_USEC || magicLe === MAGIC_NSEC) {
    little = true;
    fracPerSec = magicLe === MAGIC_NSEC ? 1e9 : 1e6;
  } else if (magicBe === MAGIC_USEC || magicBe === MAGIC_NSEC) {
    little = false;
    fracPerSec = magicBe === MAGIC_NSEC ? 1e9 : 1e6;
  } else {
    throw new Error(`${path}: not a classic pcap file (magic 0x${magicBe.toString(16)})`);
  }

  const records: PcapRecord[] = [];
  let off = GLOBAL_HLEN;
  while (off < file.length) {
    if (off + RECORD_HLEN > file.length) throw new Error(`${path}: truncated record header at ${off}`);
    const sec = view.getUint32(off, little);
    const frac = view.getUint32(off + 4, little);
    const inclLen = view.getUint32(off + 8, little);
    off += RECORD_HLEN;
    if (off + inclLen > file.length) throw new Error(`${path}: truncated record data at ${off}`);
    records.push({ ts: sec + frac / fracPerSec, data: new Uint8Array(file.subarray(off, off + inclLen)) });
    off += inclLen;
  }
  return records;
}
