/**
 * ARP for IPv4 over Ethernet (RFC 826): the only pairing this stack speaks, so the four
 * size/type fields are checked against it and not carried in the repr.
 *
 * ```text
 *  0               2               4       5       6               8
 * +---------------+---------------+-------+-------+---------------+
 * | htype = 1     | ptype = 0x0800| hlen=6| plen=4| op            |
 * +---------------+---------------+-------+-------+---------------+
 * | sender MAC (8..14)                    | sender IP (14..18)    |
 * +---------------------------------------+-----------------------+
 * | target MAC (18..24)                   | target IP (24..28)    |
 * +---------------------------------------+-----------------------+
 * ```
 */
import { DropReason } from '../core/drop.js';
import { readIpv4, readMac, writeIpv4, writeMac, type Ipv4Addr, type Mac } from './addr.js';
import { setU16, u16 } from './bytes.js';
import { ETH_P_IP } from './ethernet.js';

/** Length of an Ethernet/IPv4 ARP packet. */
export const ARP_LEN = 28;
/** ARP opcode: who has `targetIp`? */
export const ARPOP_REQUEST = 1;
/** ARP opcode: `senderIp` is at `senderMac`. */
export const ARPOP_REPLY = 2;
/** ARP hardware type of Ethernet. */
export const ARPHRD_ETHER = 1;

/** An Ethernet/IPv4 ARP packet as values. */
export interface ArpRepr {
  op: number;
  senderMac: Mac;
  senderIp: Ipv4Addr;
  targetMac: Mac;
  targetIp: Ipv4Addr;
}

/** A blank ARP repr, to be reused as the `out` of {@link parseArp}. */
export function newArpRepr(): ArpRepr {
  return { op: 0, senderMac: 0, senderIp: 0, targetMac: 0, targetIp: 0 };
}

/**
 * Parses the `len`-byte ARP packet at `b[o]` into `out`. Any opcode is returned as is;
 * deciding what to do with it is the ARP stage's business.
 *
 * @returns `PKT_TOO_SMALL` below 28 bytes, `X_ARP_HEADER` if it is not Ethernet/IPv4 ARP,
 *   else `undefined`.
 */
export function parseArp(b: Uint8Array, o: number, len: number, out: ArpRepr): DropReason | undefined {
  if (len < ARP_LEN) return DropReason.PKT_TOO_SMALL;
  if (u16(b, o) !== ARPHRD_ETHER || u16(b, o + 2) !== ETH_P_IP || b[o + 4] !== 6 || b[o + 5] !== 4) {
    return DropReason.X_ARP_HEADER;
  }
  out.op = u16(b, o + 6);
  out.senderMac = readMac(b, o + 8);
  out.senderIp = readIpv4(b, o + 14);
  out.targetMac = readMac(b, o + 18);
  out.targetIp = readIpv4(b, o + 24);
  return undefined;
}

/**
 * Writes the Ethernet/IPv4 ARP packet `r` describes at `b[o]`.
 *
 * @returns bytes written (28).
 */
export function emitArp(r: ArpRepr, b: Uint8Array, o: number): number {
  setU16(b, o, ARPHRD_ETHER);
  setU16(b, o + 2, ETH_P_IP);
  b[o + 4] = 6;
  b[o + 5] = 4;
  setU16(b, o + 6, r.op);
  writeMac(b, o + 8, r.senderMac);
  writeIpv4(b, o + 14, r.senderIp);
  writeMac(b, o + 18, r.targetMac);
  writeIpv4(b, o + 24, r.targetIp);
  return ARP_LEN;
}
