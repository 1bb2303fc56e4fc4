/**
 * Wireshark's opinion of a capture: the expert infos (malformed, bad checksum, TCP
 * sequence analysis…) tshark attaches to each frame, with every checksum verified.
 */
import { spawnSync } from 'node:child_process';

/** tshark's `_ws.expert.severity` values (Chat 2097152, Error 8388608). */
export const NOTE_SEVERITY = 4_194_304;
export const WARNING_SEVERITY = 6_291_456;

export interface Flagged {
  frame: number;
  /** The first TCP source port in the frame, NaN when it carries no TCP. */
  srcPort: number;
  info: string;
  infos: { message: string; severity: number }[];
}

/**
 * The frames of `file` matching the display filter `filter`, with their expert infos.
 * `dataPorts` are TCP and UDP ports whose payload is judged as plain data: random bytes
 * on a test port are not some protocol a heuristic dissector may guess at (and then call
 * truncated) — only the headers are ours to judge.
 */
export function expertInfos(file: string, filter: string, dataPorts: readonly number[] = []): Flagged[] {
  const r = spawnSync('tshark', [
    '-r', file,
    '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE',
    '-Y', filter,
    ...dataPorts.flatMap((port) => ['-d', `tcp.port==${port},data`, '-d', `udp.port==${port},data`]),
    '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=|',
    '-e', 'frame.number', '-e', 'tcp.srcport', '-e', '_ws.expert.message', '-e', '_ws.expert.severity', '-e', '_ws.col.Info',
  ], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`tshark -r ${file}: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l !== '').map((line) => {
    const [frame = '', ports = '', messages = '', severities = '', info = ''] = line.split('\t');
    const sev = severities.split('|');
    return {
      frame: Number(frame),
      srcPort: ports === '' ? NaN : Number(ports.split('|')[0]),
      info,
      infos: messages === '' ? [] : messages.split('|').map((message, i) => ({ message, severity: Number(sev[i] ?? 0) })),
    };
  });
}

/** The first occurrence of each of `names` in every frame of `file` matching `filter` ('' where absent). */
export function fields(file: string, filter: string, names: readonly string[]): Record<string, string>[] {
  const r = spawnSync('tshark', [
    '-r', file, '-Y', filter, '-T', 'fields', '-E', 'occurrence=f', ...names.flatMap((n) => ['-e', n]),
  ], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`tshark -r ${file}: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l !== '').map((line) => {
    const values = line.split('\t');
    return Object.fromEntries(names.map((n, i) => [n, values[i] ?? '']));
  });
}
