#!/usr/bin/env node
// Trims a `tshark -T json` capture decoding down to the fields the wire tests compare, so
// that fixtures stay small and readable.
//
//   node scripts/trim-tshark.mjs IN.tshark.json OUT.json
//
// Output: one object per frame, `{ protocols, len, layers }`, where `layers` keeps tshark's
// own layer and field names (eth, arp, ip, icmp, udp, tcp, and the IP/UDP headers quoted
// inside an ICMP error) with everything else removed.
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
  'tcp.window_size_value', 'tcp.checksum', 'tcp.checksum.status',
]);
const CONTAINERS = new Set(['eth', 'arp', 'ip', 'icmp', 'udp', 'tcp', 'ip.flags_tree']);

function trim(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v === 'string' && FIELDS.has(k)) out[k] = v;
    else if (v !== null && typeof v === 'object' && !Array.isArray(v) && CONTAINERS.has(k)) out[k] = trim(v);
  }
  return out;
}

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: trim-tshark.mjs IN.tshark.json OUT.json');
  process.exit(2);
}
const frames = JSON.parse(readFileSync(input, 'utf8')).map((f) => {
  const layers = f._source.layers;
  return { protocols: layers.frame['frame.protocols'], len: Number(layers.frame['frame.len']), layers: trim(layers) };
});
writeFileSync(output, JSON.stringify(frames, null, 1) + '\n');
