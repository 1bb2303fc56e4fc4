#!/usr/bin/env node
// Trims a `tshark -T json` capture decoding down to the fields the wire tests compare, so
// that fixtures stay small and readable.
//
//   node scripts/trim-tshark.mjs [--only LAYER,...] [--compact] IN.tshark.json OUT.json
//
// Output: one object per frame, `{ protocols, len, layers }`, where `layers` keeps tshark's
// own layer and field names (eth, arp, ip, icmp, udp, tcp, and the IP/UDP headers quoted
// inside an ICMP error) with everything else removed.
//
// --only tcp   keeps only the named layers (for a long capture whose other layers add nothing).
// --compact    writes one frame per line instead of indenting every field.
//
// A field tshark repeats within one object (a SACK option's edges) is a duplicate key in
// plain `-T json`, which JSON.parse collapses to the last one: decode such captures with
// `tshark -T json --no-duplicate-keys`, which turns the repeats into arrays, kept here as is.
import { readFileSync, writeFileSync } from 'node:fs';

const FIELDS = new Set([
  'eth.dst', 'eth.src', 'eth.type',
  'arp.hw.type', 'arp.proto.type', 'arp.hw.size', 'arp.proto.size', 'arp.opcode',
  'arp.src.hw_mac', 'arp.src.proto_ipv4', 'arp.dst.hw_mac', 'arp.dst.proto_ipv4',
  'ip.version', 'ip.hdr_len', 'ip.dsfield', 'ip.len', 'ip.id', 'ip.flags', 'ip.flags.df', 'ip.flags.mf',
  'ip.frag_offset', 'ip.ttl', 'ip.proto', 'ip.checksum', 'ip.checksum.status', 'ip.src', 'ip.dst',
  'icmp.type', 'icmp.code', 'icmp.checksum', 'icmp.checksum.status', 'icmp.ident', 'icmp.seq',
  'udp.srcport', 'udp.dstport', 'udp.length', 'udp.checksum', 'udp.checksum.status',
  'tcp.srcport', 'tcp.dstport', 'tcp.seq_raw', 'tcp.ack_raw', 'tcp.hdr_len', 'tcp.flags',
  'tcp.window_size_value', 'tcp.checksum', 'tcp.checksum.status', 'tcp.urgent_pointer',
  'tcp.options.mss_val', 'tcp.options.wscale.shift', 'tcp.options.sack_perm',
  'tcp.options.timestamp.tsval', 'tcp.options.timestamp.tsecr',
  'tcp.options.sack_le', 'tcp.options.sack_re', 'tcp.options.sack.count',
]);
const CONTAINERS = new Set([
  'eth', 'arp', 'ip', 'icmp', 'udp', 'tcp', 'ip.flags_tree',
  'tcp.options_tree', 'tcp.options.mss_tree', 'tcp.options.wscale_tree', 'tcp.options.timestamp_tree',
  'tcp.options.sack_tree',
]);

const isStrings = (v) => typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'));

function trim(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) {
    if (FIELDS.has(k) && isStrings(v)) out[k] = v;
    else if (v !== null && typeof v === 'object' && !Array.isArray(v) && CONTAINERS.has(k)) out[k] = trim(v);
  }
  return out;
}

const args = process.argv.slice(2);
let only = null;
let compact = false;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--only') only = new Set(String(args[++i]).split(','));
  else if (args[i] === '--compact') compact = true;
  else files.push(args[i]);
}
const [input, output] = files;
if (!input || !output || files.length !== 2) {
  console.error('usage: trim-tshark.mjs [--only LAYER,...] [--compact] IN.tshark.json OUT.json');
  process.exit(2);
}
const frames = JSON.parse(readFileSync(input, 'utf8')).map((f) => {
  const all = f._source.layers;
  const layers = only === null
    ? all
    : Object.fromEntries(Object.entries(all).filter(([k]) => only.has(k)));
  return { protocols: all.frame['frame.protocols'], len: Number(all.frame['frame.len']), layers: trim(layers) };
});
const text = compact
  ? `[\n${frames.map((f) => JSON.stringify(f)).join(',\n')}\n]`
  : JSON.stringify(frames, null, 1);
writeFileSync(output, text + '\n');
