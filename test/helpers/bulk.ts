/**
 * What bulk end-to-end transfers are checked against: the byte count a run moves
 * (TAPSTACK_E2E_BYTES-style, `64M` suffixes accepted), the RFC 864 chargen stream's hash,
 * and a Python reader that counts and hashes what a real client received.
 */
import { createHash } from 'node:crypto';
import { chargenLine } from '../../src/services/tcp.js';

/** Parses `1073741824`, `64M`, `1G`…; throws naming `what` on anything else. */
export function parseBytes(text: string, what = 'TAPSTACK_E2E_BYTES'): number {
  const m = /^(\d+)([KMG]?)$/i.exec(text.trim());
  if (m === null) throw new Error(`${what}: expected bytes like 1073741824 or 64M, got ${JSON.stringify(text)}`);
  const scale = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * scale;
}

/**
 * How long a transfer of `bytes` may take: a floor of 8 MiB/s plus 30 s of slack for
 * process start-up. A stack slower than that fails the test rather than stalling the run.
 */
export function bulkLimitMs(bytes: number): number {
  return 30_000 + Math.ceil((bytes / (8 * 2 ** 20)) * 1000);
}

/** sha256 of the first `bytes` of the RFC 864 stream, built line by line from chargenLine. */
export function chargenSha256(bytes: number): string {
  const period = Buffer.from(Array.from({ length: 95 }, (_, i) => chargenLine(i)).join(''), 'latin1');
  const block = Buffer.concat(Array.from({ length: 150 }, () => period)); // ~1 MB, whole periods
  const hash = createHash('sha256');
  let left = bytes;
  for (; left >= block.length; left -= block.length) hash.update(block);
  hash.update(block.subarray(0, left));
  return hash.digest('hex');
}

/**
 * Python reading stdin up to argv[1] bytes, printing `count sha256`. Hashing in the
 * namespace, not here, keeps this process's event loop (the stack's) free during the transfer.
 */
export const COUNT_AND_HASH = `
import hashlib, sys
want, got, h, src = int(sys.argv[1]), 0, hashlib.sha256(), sys.stdin.buffer
while got < want:
    b = src.read1(min(1 << 20, want - got))
    if not b:
        break
    h.update(b)
    got += len(b)
print(got, h.hexdigest())
`;

export function mibps(bytes: number, ms: number): string {
  return `${(bytes / 2 ** 20 / (ms / 1000)).toFixed(1)} MiB/s`;
}
