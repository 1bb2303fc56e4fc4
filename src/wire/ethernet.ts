/**
 * Ethernet II frames (IEEE 802.3 with an EtherType), optionally with one IEEE 802.1Q tag.
 *
 * ```text
 *  0                   6                  12      14
 * +-------------------+-------------------+-------+------------------
 * | destination MAC   | source MAC        | type  | payload …
 * +-------------------+-------------------+-------+------------------
 *
 * tagged:                                 12      14      16      18
 * +-------------------+-------------------+-------+-------+-------+--
 * | destination MAC   | source MAC        |0x8100 |  TCI  | type  | …
 * +-------------------+-------------------+-------+-------+-------+--
 *                                    TCI = PCP(3) | DEI(1) | VLAN ID(12)
 * ```
 *
 * The FCS is not part of these bytes: links that carry one check and strip it (dev/fcs.ts).
 */
import { DropReason } from '../core/drop.js';
import { readMac, writeMac, type Mac } from './addr.js';
import { setU16, u16 } from './bytes.js';

/** Length of an untagged Ethernet header. */
export const ETH_HLEN = 14;
/** Length of the 802.1Q tag inserted after the source MAC. */
export const VLAN_HLEN = 4;
/** EtherType of IPv4. */
export const ETH_P_IP = 0x0800;
/** EtherType of ARP. */
export const ETH_P_ARP = 0x0806;
/** Tag protocol identifier of an 802.1Q VLAN tag. */
export const ETH_P_8021Q = 0x8100;
/** EtherType of IPv6. */
export const ETH_P_IPV6 = 0x86dd;

/** An Ethernet header as values. */
export interface EthernetRepr {
  dst: Mac;
  src: Mac;
  /** The payload's EtherType: behind the tag, if there is one. */
  etherType: number;
  /** 802.1Q VLAN ID 0–4095 (0: priority tag only), or -1 for an untagged frame. */
  vlanId: number;
  /** 802.1Q priority code point 0–7; 0 when untagged. */
  vlanPcp: number;
  /** Bytes before the payload: 14, or 18 with a tag. */
  headerLen: number;
}

/** A blank, untagged header, to be reused as the `out` of {@link parseEthernet}. */
export function newEthernetRepr(): EthernetRepr {
  return { dst: 0, src: 0, etherType: 0, vlanId: -1, vlanPcp: 0, headerLen: ETH_HLEN };
}

/**
 * Parses the Ethernet header of the `len`-byte frame at `b[o]` into `out`.
 * One 802.1Q tag is recognised (its DEI bit is not kept); a second tag is left as the
 * EtherType for the caller to refuse.
 *
 * @returns `PKT_TOO_SMALL` if the frame is shorter than its header, else `undefined`.
 */
export function parseEthernet(b: Uint8Array, o: number, len: number, out: EthernetRepr): DropReason | undefined {
  if (len < ETH_HLEN) return DropReason.PKT_TOO_SMALL;
  const type = u16(b, o + 12);
  if (type === ETH_P_8021Q) {
    if (len < ETH_HLEN + VLAN_HLEN) return DropReason.PKT_TOO_SMALL;
    const tci = u16(b, o + 14);
    out.vlanPcp = tci >>> 13;
    out.vlanId = tci & 0x0fff;
    out.etherType = u16(b, o + 16);
    out.headerLen = ETH_HLEN + VLAN_HLEN;
  } else {
    out.vlanPcp = 0;
    out.vlanId = -1;
    out.etherType = type;
    out.headerLen = ETH_HLEN;
  }
  out.dst = readMac(b, o);
  out.src = readMac(b, o + 6);
  return undefined;
}

/**
 * Writes the header `r` describes at `b[o]`: tagged when `r.vlanId >= 0` (`r.headerLen` is
 * not consulted). The buffer must have room for it.
 *
 * @returns bytes written: 14, or 18 with a tag.
 */
export function emitEthernet(r: EthernetRepr, b: Uint8Array, o: number): number {
  writeMac(b, o, r.dst);
  writeMac(b, o + 6, r.src);
  if (r.vlanId >= 0) {
    setU16(b, o + 12, ETH_P_8021Q);
    setU16(b, o + 14, ((r.vlanPcp & 7) << 13) | (r.vlanId & 0x0fff));
    setU16(b, o + 16, r.etherType);
    return ETH_HLEN + VLAN_HLEN;
  }
  setU16(b, o + 12, r.etherType);
  return ETH_HLEN;
}
