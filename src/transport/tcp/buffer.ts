/**
 * The byte queues of a connection: the send buffer (what the application wrote and the
 * peer has not acknowledged) and the receive buffer (what arrived in order and the
 * application has not read). Both are lists of chunks, so appending never moves old
 * bytes and dropping from the front costs nothing per byte.
 *
 * Received segments are copied out of the link's frame memory into shared blocks
 * ({@link ByteQueue.pushCopy}) rather than into an ArrayBuffer each: a backing store per
 * 1448-byte segment cost V8 about 3 µs (malloc, external-memory accounting, the sweeper),
 * and the profile of a bulk upload had that copy as the stack's largest cost. The blocks are
 * written once, front to back, and never reused, so every view handed out stays valid for as
 * long as its holder keeps it, as with Node's own pooled Buffers.
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

  /**
   * Appends a copy of `data`, taken from the shared blocks. A copy that lands right after the
   * last chunk in the same block extends that chunk, so a bulk transfer reads back in large
   * pieces rather than one per segment.
   */
  pushCopy(data: Uint8Array): void {
    const n = data.length;
    if (n === 0) return;
    if (n > POOL_COPY_MAX) {
      this.push(data.slice());
      return;
    }
    if (POOL_BLOCK - poolUsed < n) {
      pool = new Uint8Array(POOL_BLOCK);
      poolUsed = 0;
    }
    const at = poolUsed;
    pool.set(data, at);
    poolUsed = at + n;
    this.len += n;
    const last = this.chunks.length - 1;
    if (last >= this.head) {
      const prev = this.chunks[last]!;
      if (prev.buffer === pool.buffer && prev.byteOffset + prev.length === at) {
        this.chunks[last] = pool.subarray(prev.byteOffset, at + n);
        return;
      }
    }
    this.chunks.push(pool.subarray(at, at + n));
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

/**
 * The shared block size. A chunk keeps its whole block alive, so one small unread chunk can
 * hold at most this much; Node's pool for Buffer.allocUnsafe makes the same trade at 8 KiB.
 */
const POOL_BLOCK = 64 * 1024;
/**
 * Larger copies (super-frames from a link with offloads) get a buffer of their own: at 64 KiB the
 * allocation is small beside the copy, and taking them into 256 KiB blocks measured no faster.
 */
const POOL_COPY_MAX = 16 * 1024;
/** The block being filled (offset 0 of its own ArrayBuffer), and how much of it is taken. */
let pool = new Uint8Array(POOL_BLOCK);
let poolUsed = 0;
