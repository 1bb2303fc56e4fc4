/**
 * The byte queues of a connection: the send buffer (what the application wrote and the
 * peer has not acknowledged) and the receive buffer (what arrived in order and the
 * application has not read). Both are lists of chunks, so appending never moves old
 * bytes and dropping from the front costs nothing per byte.
 */

export class ByteQueue {
  private chunks: Uint8Array[] = [];
  /** Index of the first live chunk, and bytes already consumed from it. */
  private head = 0;
  private headOff = 0;
  private len = 0;

  get length(): number {
    return this.len;
  }

  /** Appends `data` as it is: the caller hands over a copy it will not touch again. */
  push(data: Uint8Array): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.len += data.length;
  }

  /** Copies `len` bytes starting `offset` bytes into the queue to `dst[dstOff…]`. */
  copyOut(offset: number, len: number, dst: Uint8Array, dstOff: number): void {
    let i = this.head;
    let skip = offset + this.headOff;
    while (len > 0) {
      const c = this.chunks[i]!;
      if (skip >= c.length) {
        skip -= c.length;
        i++;
        continue;
      }
      const n = Math.min(len, c.length - skip);
      dst.set(c.subarray(skip, skip + n), dstOff);
      dstOff += n;
      len -= n;
      skip = 0;
      i++;
    }
  }

  /** Removes `n` bytes from the front (acknowledged by the peer). */
  drop(n: number): void {
    this.len -= n;
    n += this.headOff;
    while (n > 0 && this.head < this.chunks.length) {
      const c = this.chunks[this.head]!;
      if (n < c.length) break;
      n -= c.length;
      this.chunks[this.head++] = EMPTY;
    }
    this.headOff = n;
    this.compact();
  }

  /** Takes up to `max` bytes from the front as a view (no copy); undefined when empty. */
  shift(max: number): Uint8Array | undefined {
    if (this.len === 0) return undefined;
    const c = this.chunks[this.head]!;
    const n = Math.min(max, c.length - this.headOff);
    const out = c.subarray(this.headOff, this.headOff + n);
    this.drop(n);
    return out;
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.headOff = 0;
    this.len = 0;
  }

  private compact(): void {
    if (this.head === this.chunks.length) {
      this.chunks.length = 0;
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}

const EMPTY = new Uint8Array(0);
