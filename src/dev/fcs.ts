/**
 * The Ethernet frame check sequence: a CRC-32 (IEEE 802.3) over the whole frame from the
 * destination MAC to the last payload byte, sent after it least-significant byte first.
 *
 * ```
 *  0      6      12   14                        len-4   len
 * +------+------+----+--------- ... ---------+--------+
 * | dst  | src  |type|        payload        |  FCS   |   FCS = CRC-32(bytes 0 … len-5),
 * +------+------+----+--------- ... ---------+--------+         little-endian on the wire
 * ```
 *
 * A TAP device never carries an FCS (the kernel strips it); links that do, such as a
 * `MemoryLink` made with `fcs: true`, append it here on transmit, and the ethernet stage
 * checks and strips it on receive (Linux: NETIF_F_RXFCS left on).
 */

import CRC32 from 'crc-32';
import type { Link } from './device.js';

/** Length of the FCS trailer in bytes. */
export const FCS_LEN = 4;

/** The FCS of `frame` (all of it), as an unsigned 32-bit number. */
export function fcs(frame: Uint8Array): number {
  // crc-32 returns the CRC as a signed int32; `>>> 0` reads the same bits as unsigned.
  return CRC32.buf(frame) >>> 0;
}

/** A copy of `frame` with its FCS appended, as it would travel on the wire. */
export function appendFcs(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(frame.length + FCS_LEN);
  out.set(frame, 0);
  writeFcs(out, frame.length, fcs(frame));
  return out;
}

/**
 * Whether the last four bytes of `frameWithFcs` are the FCS of the bytes before them.
 * False for anything shorter than an FCS. Does not allocate: it runs once per received
 * frame on links that carry an FCS.
 */
export function checkFcs(frameWithFcs: Uint8Array): boolean {
  const end = frameWithFcs.length - FCS_LEN;
  if (end < 0) return false;
  return fcs(frameWithFcs.subarray(0, end)) === readFcs(frameWithFcs, end);
}

function writeFcs(buf: Uint8Array, at: number, value: number): void {
  buf[at] = value & 0xff;
  buf[at + 1] = (value >>> 8) & 0xff;
  buf[at + 2] = (value >>> 16) & 0xff;
  buf[at + 3] = value >>> 24;
}

function readFcs(buf: Uint8Array, at: number): number {
  return (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24)) >>> 0;
}

/**
 * A link that can also transmit a frame whose FCS the caller has already appended, so
 * that the bytes go out exactly as given (Linux: `SO_NOFCS`, `skb->no_fcs`). The fault
 * injector uses it to damage a frame *after* its FCS was computed, as noise on a wire
 * would, so that the receiver's FCS check catches the damage.
 */
export interface FcsSender {
  /** Like `Link.send`, but `frameWithFcs` already ends with its (possibly wrong) FCS. */
  sendWithFcs(frameWithFcs: Uint8Array): void;
}

/** Whether `link` carries an FCS and accepts frames that already end with one. */
export function canSendWithFcs(link: Link): link is Link & FcsSender {
  return link.hasFcs && typeof (link as Partial<FcsSender>).sendWithFcs === 'function';
}
