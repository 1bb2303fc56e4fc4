import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteQueue } from '../../src/transport/tcp/buffer.js';

const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

/** Everything `q` holds, read with shift(max). */
function drain(q: ByteQueue, max = 1 << 20): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let c = q.shift(max); c !== undefined; c = q.shift(max)) out.push(c);
  return out;
}
const concat = (cs: Uint8Array[]): number[] => cs.flatMap((c) => Array.from(c));
const same = (a: Uint8Array[], b: Uint8Array[]): boolean => Buffer.concat(a).equals(Buffer.concat(b));

describe('ByteQueue.pushCopy', () => {
  it('copies: the caller may reuse its memory at once', () => {
    const q = new ByteQueue();
    const frame = bytes(1448, 1);
    q.pushCopy(frame);
    frame.fill(0);
    expect(q.length).toBe(1448);
    expect(concat(drain(q))).toEqual(Array.from(bytes(1448, 1)));
  });

  it('reads consecutive segments back as one chunk, up to the reader\'s max', () => {
    const q = new ByteQueue();
    for (let i = 0; i < 10; i++) q.pushCopy(bytes(1000, i));
    const first = q.shift(65_536)!;
    expect(first.length).toBe(10_000);
    expect(Array.from(first.subarray(1000, 2000))).toEqual(Array.from(bytes(1000, 1)));
    for (let i = 0; i < 10; i++) q.pushCopy(bytes(1000, i));
    expect(q.shift(2500)!.length).toBe(2500);
    expect(q.length).toBe(7500);
  });

  it('never writes over a view already handed out', () => {
    const q = new ByteQueue();
    q.pushCopy(bytes(500, 7));
    const held = q.shift(300)!;
    for (let i = 0; i < 300; i++) q.pushCopy(bytes(1448, i)); // several blocks' worth
    expect(Array.from(held)).toEqual(Array.from(bytes(500, 7).subarray(0, 300)));
    const rest = drain(q, 65_536);
    // The rest of the first segment, and what followed it in its block (where it sits in the
    // shared block depends on earlier tests).
    expect(rest[0]!.length).toBeGreaterThan(200);
    expect(rest.length).toBeLessThan(300);
    expect(same(rest, [bytes(500, 7).subarray(300), ...Array.from({ length: 300 }, (_, i) => bytes(1448, i))])).toBe(true);
  });

  it('keeps each queue\'s bytes apart when queues take turns in the shared blocks', () => {
    const a = new ByteQueue();
    const b = new ByteQueue();
    for (let i = 0; i < 100; i++) {
      a.pushCopy(bytes(700, i));
      b.pushCopy(bytes(900, i + 1000));
    }
    expect(same(drain(a), Array.from({ length: 100 }, (_, i) => bytes(700, i)))).toBe(true);
    expect(same(drain(b), Array.from({ length: 100 }, (_, i) => bytes(900, i + 1000)))).toBe(true);
  });

  it('takes super-segments too, and mixes with push and drop (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(
          fc.record({ op: fc.constant('copy' as const), n: fc.integer({ min: 0, max: 70_000 }) }),
          fc.record({ op: fc.constant('push' as const), n: fc.integer({ min: 0, max: 3000 }) }),
          fc.record({ op: fc.constant('shift' as const), n: fc.integer({ min: 1, max: 70_000 }) }),
        ), { maxLength: 40 }),
        (ops) => {
          const q = new ByteQueue();
          const model: Uint8Array[] = [];
          const read: Uint8Array[] = [];
          let seed = 0;
          for (const { op, n } of ops) {
            if (op === 'shift') {
              const c = q.shift(n);
              if (c !== undefined) {
                expect(c.length).toBeLessThanOrEqual(n);
                read.push(c);
              }
              continue;
            }
            const src = bytes(n, seed++);
            if (op === 'copy') q.pushCopy(src);
            else q.push(src.slice());
            model.push(src.slice());
            src.fill(0xee);
          }
          const total = model.reduce((t, m) => t + m.length, 0);
          expect(q.length + read.reduce((t, c) => t + c.length, 0)).toBe(total);
          read.push(...drain(q));
          expect(same(read, model)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });
});
