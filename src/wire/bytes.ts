/**
 * Network byte order (big-endian) reads and writes on a `Uint8Array`.
 *
 * Plain byte arithmetic rather than a `DataView`: a `DataView` would have to be created per
 * buffer (an allocation per packet) or cached per buffer (a lookup per field), while V8
 * compiles these few shifts to the same loads. The caller guarantees the bytes exist: every
 * parser checks its lengths once, up front, and then reads fields freely.
 */

/** Reads the big-endian 16-bit unsigned integer at `b[o]`, `b[o + 1]`. */
export function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

/** Reads the big-endian 32-bit unsigned integer at `b[o]` … `b[o + 3]` (a non-negative number). */
export function u32(b: Uint8Array, o: number): number {
  // `>>> 0` because `<< 24` of a byte ≥ 0x80 makes a negative int32.
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** Writes the low 16 bits of `v` big-endian at `b[o]`. */
export function setU16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}

/** Writes the low 32 bits of `v` big-endian at `b[o]`. */
export function setU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}
