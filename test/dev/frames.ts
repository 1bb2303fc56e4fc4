/**
 * Test frames for the link tests: an Ethernet header, then a 4-byte id (big-endian) and a
 * filler derived from it, so that a frame can be recognised after it went through a link.
 */

export const SRC_MAC = [0x02, 0, 0, 0, 0, 0x01] as const;
export const DST_MAC = [0x02, 0, 0, 0, 0, 0x02] as const;
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;

/** A frame of `len` bytes (at least 18) with ethertype `type`, carrying `id`. */
export function frame(id: number, len = 64, type = ETH_P_IP): Uint8Array {
  const f = new Uint8Array(len);
  f.set(DST_MAC, 0);
  f.set(SRC_MAC, 6);
  f[12] = type >>> 8;
  f[13] = type & 0xff;
  new DataView(f.buffer).setUint32(14, id);
  for (let i = 18; i < len; i++) f[i] = (id * 31 + i) & 0xff;
  return f;
}

/** The id `frame()` put in `f`. */
export function idOf(f: Uint8Array): number {
  return new DataView(f.buffer, f.byteOffset, f.byteLength).getUint32(14);
}

/** Number of bits that differ between two arrays of the same length. */
export function bitDistance(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    let x = a[i]! ^ b[i]!;
    while (x !== 0) {
      n += x & 1;
      x >>>= 1;
    }
  }
  return n;
}
