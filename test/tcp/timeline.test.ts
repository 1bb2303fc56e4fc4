/**
 * Time-sequence graphs: a Timeline records what a connection sent and what was
 * acknowledged, and core/tsg.ts draws it as tcptrace would. Checked on a real 1 MB
 * transfer over a lossy link between two stacks in virtual time: the segments drawn are
 * the segments tcp_info counted, the red ones its retransmissions, and the SVG is XML.
 */
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cwndRttSvg, timeSequenceSvg, type TsgAck, type TsgEvent, type TsgSend } from '../../src/core/tsg.js';
import { Timeline } from '../../src/transport/tcp/timeline.js';
import type { Tcb } from '../../src/transport/tcp/tcb.js';
import type { Tcp } from '../../src/transport/tcp/tcp.js';
import type { Stack } from '../../src/stack.js';
import type { TcpSocket } from '../../src/user/net.js';
import { pair, settle, type Pair } from './pair.js';

const PORT = 5001;
const DELAY_MS = 5;

/** The stack's TCP (a private field): to reach the TCBs and their timelines. */
const tcpOf = (s: Stack): Tcp => (s as unknown as { tcpLayer: Tcp }).tcpLayer;

/**
 * A well-formedness check, enough for what an SVG writer can get wrong: every `<` starts
 * a tag, tags nest and close, attributes are quoted, and `&` only starts an entity.
 * Returns the problems found (none for well-formed XML).
 */
function xmlProblems(xml: string): string[] {
  const problems: string[] = [];
  const stack: string[] = [];
  let roots = 0;
  const badAmp = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;
  const token = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[A-Za-z][\w:.-]*="[^"<]*")*)\s*(\/?)>|([^<]+)/y;
  let pos = 0;
  while (pos < xml.length && problems.length < 5) {
    token.lastIndex = pos;
    const m = token.exec(xml);
    if (m === null) {
      problems.push(`not a tag at ${pos}: ${xml.slice(pos, pos + 40)}`);
      break;
    }
    pos = token.lastIndex;
    const [, close, name, attrs, selfClose, text] = m;
    if (text !== undefined) {
      if (badAmp.test(text)) problems.push(`bare & in text: ${text.slice(0, 40)}`);
      if (stack.length === 0 && text.trim() !== '') problems.push(`text outside the root: ${text.slice(0, 40)}`);
      continue;
    }
    if (attrs !== undefined && badAmp.test(attrs)) problems.push(`bare & in attributes of <${name}>`);
    if (close === '/') {
      if (stack.pop() !== name) problems.push(`</${name}> closes nothing open`);
    } else {
      if (stack.length === 0) roots++;
      if (selfClose !== '/') stack.push(name!);
    }
  }
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(' ')}`);
  if (roots !== 1) problems.push(`${roots} root elements`);
  return problems;
}

/** Elements with `class="name"`. */
function countClass(svg: string, name: string): number {
  return svg.split(`class="${name}"`).length - 1;
}

/** Lets the socket layer react, then advances virtual time 1 ms at a time until `done()`. */
async function drive(p: Pair, done: () => boolean, maxMs: number): Promise<void> {
  for (let i = 0; i < maxMs; i++) {
    await settle(p);
    if (done()) return;
    p.advance(1);
  }
  throw new Error(`not done after ${maxMs} virtual ms`);
}

interface Transfer {
  p: Pair;
  client: TcpSocket;
  local: string;
  remote: string;
}

/** A sends `size` bytes to B over a link with `loss`, optionally recording timelines; returns once B has them all and A has its ACKs. */
async function transfer(size: number, loss: number, record: boolean): Promise<Transfer> {
  const p = pair({ faults: { delayMs: DELAY_MS, loss, seed: 5 } });
  if (record) {
    p.a.recordTimelines(true);
    p.b.recordTimelines(true);
  }
  let received = 0;
  p.b.tcp.createServer((s) => s.on('data', (d: Buffer) => (received += d.length))).listen(PORT);
  await settle(p);
  const client = p.a.tcp.connect({ port: PORT, host: '192.168.69.2' });
  const payload = Buffer.alloc(size, 0x5a);
  client.on('connect', () => client.write(payload));
  const local = (): string => `${client.localAddress}:${client.localPort}`;
  const remote = `192.168.69.2:${PORT}`;
  await drive(p, () => received === size && p.a.tcpInfo(local(), remote)?.unacked === 0, 120_000);
  return { p, client, local: local(), remote };
}

function tcbOf(s: Stack, localPort: number): Tcb {
  const tcb = [...tcpOf(s).conns.values()].find((t) => t.localPort === localPort);
  if (tcb === undefined) throw new Error(`no connection on port ${localPort}`);
  return tcb;
}

describe('time-sequence graph of a lossy 1 MB transfer', () => {
  const SIZE = 1 << 20;

  it('records every segment, retransmission and ACK, and draws them as tcptrace does', async () => {
    const t = await transfer(SIZE, 0.02, true);
    const info = t.p.a.tcpInfo(t.local, t.remote)!;
    const tl = tcbOf(t.p.a, t.client.localPort!).timeline!;
    expect(tl.overwritten).toBe(0);
    const events = tl.events();
    const sends = events.filter((e): e is TsgSend => e.type === 'send');
    const acks = events.filter((e): e is TsgAck => e.type === 'ack');

    // The loss shows: retransmissions happened, and each one is in the timeline.
    expect(info.total_retrans).toBeGreaterThan(0);
    expect(sends.filter((e) => e.rtx).length).toBe(info.total_retrans);
    // Every segment that left: the data segments tcp_info counted, and the SYN.
    expect(sends.length).toBe(info.data_segs_out + 1);
    // Relative to the ISS: the SYN is at 0, and the data ends one past the megabyte.
    expect(sends[0]).toMatchObject({ seq: 0, len: 1, rtx: false });
    expect(Math.max(...sends.map((e) => e.seq + e.len))).toBe(1 + SIZE);
    // Acceptable ACKs never move back on a link that does not reorder, and the last covers everything.
    for (let i = 1; i < acks.length; i++) expect(acks[i]!.ack).toBeGreaterThanOrEqual(acks[i - 1]!.ack);
    expect(acks.at(-1)!.ack).toBe(1 + SIZE);
    for (const a of acks) expect(a.win).toBeGreaterThanOrEqual(a.ack);
    // The samples are what the sender believed: a positive cwnd, and an srtt near the link's RTT.
    for (const a of acks) expect(a.cwnd).toBeGreaterThan(0);
    const lastSrtt = acks.at(-1)!.srtt;
    expect(lastSrtt).toBeGreaterThanOrEqual(2 * DELAY_MS);
    expect(lastSrtt).toBeLessThan(20 * DELAY_MS);
    for (let i = 1; i < events.length; i++) expect(events[i]!.t).toBeGreaterThanOrEqual(events[i - 1]!.t);

    const g = t.p.a.tcpTimeline(t.local, t.remote)!;
    expect(countClass(g.svg, 'seg') + countClass(g.svg, 'rtx')).toBe(sends.length);
    expect(countClass(g.svg, 'rtx')).toBe(info.total_retrans);
    expect(countClass(g.svg, 'ack')).toBe(1);
    expect(countClass(g.svg, 'win')).toBe(1);
    expect(xmlProblems(g.svg)).toEqual([]);
    expect(g.svg).toContain('-&gt; 192.168.69.2:5001');
    expect(countClass(g.cwndSvg, 'cwnd')).toBe(1);
    expect(countClass(g.cwndSvg, 'srtt')).toBe(1);
    expect(xmlProblems(g.cwndSvg)).toEqual([]);
    writeFileSync('/tmp/tsg-sample.svg', g.svg);
    // Zoomed on the first retransmission, as one would in tcptrace: only the segments of those 60 ms.
    const firstRtx = sends.find((e) => e.rtx)!.t;
    const zoomed = timeSequenceSvg(events, { from: firstRtx - 30, to: firstRtx + 30 });
    const inWindow = sends.filter((e) => e.t >= firstRtx - 30 && e.t <= firstRtx + 30);
    expect(countClass(zoomed, 'seg') + countClass(zoomed, 'rtx')).toBe(inWindow.length);
    expect(countClass(zoomed, 'rtx')).toBe(inWindow.filter((e) => e.rtx).length);
    expect(countClass(zoomed, 'rtx')).toBeGreaterThan(0);
    expect(xmlProblems(zoomed)).toEqual([]);
    writeFileSync('/tmp/tsg-zoom-sample.svg', zoomed);
    writeFileSync('/tmp/tsg-cwnd-sample.svg', g.cwndSvg);

    // The receiver's own timeline holds its SYN-ACK and the ACK of it, not the data.
    const rx = tcbOf(t.p.b, PORT).timeline!.events();
    expect(rx.filter((e) => e.type === 'send')).toEqual([expect.objectContaining({ seq: 0, len: 1 })]);
    expect(t.p.b.tcpTimeline(t.remote, t.local)).toBeDefined();
  }, 120_000);

  it('allocates nothing and draws nothing when recording is off (the default)', async () => {
    const t = await transfer(64 * 1024, 0, false);
    for (const s of [t.p.a, t.p.b]) {
      expect(tcpOf(s).conns.size).toBeGreaterThan(0);
      for (const tcb of tcpOf(s).conns.values()) expect(tcb.timeline).toBeNull();
    }
    expect(t.p.a.tcpTimeline(t.local, t.remote)).toBeUndefined();

    // Switched on mid-connection, the open connection starts recording; switched off, it stops.
    t.p.a.recordTimelines(true);
    t.client.write(Buffer.alloc(10_000));
    await drive(t.p, () => t.p.a.tcpInfo(t.local, t.remote)?.unacked === 0, 10_000);
    const events = tcbOf(t.p.a, t.client.localPort!).timeline!.events();
    const sends = events.filter((e): e is TsgSend => e.type === 'send');
    expect(sends.reduce((n, e) => n + e.len, 0)).toBe(10_000);
    // Still relative to the ISS: the new data follows the SYN and the first 64 KiB.
    expect(sends[0]!.seq).toBe(1 + 64 * 1024);
    expect(t.p.a.tcpTimeline(t.local, t.remote)).toBeDefined();
    t.p.a.recordTimelines(false);
    expect(t.p.a.tcpTimeline(t.local, t.remote)).toBeUndefined();
  }, 60_000);
});

describe('Timeline', () => {
  /** Just what a Timeline reads from its TCB. */
  const fakeTcb = (iss: number): Tcb => ({ iss, cc: { cwnd: 14_600 }, rtt: { srtt: 12.5 } }) as unknown as Tcb;

  it('keeps sequence numbers climbing across the 2^32 wrap', () => {
    const tcb = fakeTcb(0xffff_fc00);
    const tl = new Timeline();
    tl.sent(tcb, 0, 0xffff_fc00, 1, false);
    tl.sent(tcb, 1, 0xffff_fc01, 1460, false);
    tl.sent(tcb, 2, (0xffff_fc01 + 1460) >>> 0, 1460, false);
    tl.acked(tcb, 3, (0xffff_fc01 + 2920) >>> 0, 65_535, 2);
    tl.sent(tcb, 4, 0xffff_fc01, 1460, true);
    expect(tl.events()).toEqual([
      { type: 'send', t: 0, seq: 0, len: 1, rtx: false },
      { type: 'send', t: 1, seq: 1, len: 1460, rtx: false },
      { type: 'send', t: 2, seq: 1461, len: 1460, rtx: false },
      { type: 'ack', t: 3, ack: 2921, win: 2921 + 65_535, sacks: 2, cwnd: 14_600, srtt: 12.5 },
      { type: 'send', t: 4, seq: 1, len: 1460, rtx: true },
    ]);
  });

  it('is a bounded ring: the newest events stay, the oldest are counted as overwritten', () => {
    const tcb = fakeTcb(1000);
    const tl = new Timeline(100);
    for (let i = 0; i < 250; i++) tl.sent(tcb, i, 1000 + i * 10, 10, false);
    expect(tl.length).toBe(100);
    expect(tl.overwritten).toBe(150);
    const ev = tl.events() as TsgSend[];
    expect(ev.map((e) => e.t)).toEqual(Array.from({ length: 100 }, (_, i) => 150 + i));
    expect(ev[0]!.seq).toBe(1500);
    expect(() => new Timeline(0)).toThrow(RangeError);
  });
});

describe('tsg rendering', () => {
  const events: TsgEvent[] = [
    { type: 'send', t: 1000, seq: 0, len: 1, rtx: false },
    { type: 'ack', t: 1010, ack: 1, win: 65_536, sacks: 0, cwnd: 14_600, srtt: 10 },
    { type: 'send', t: 1010, seq: 1, len: 1460, rtx: false },
    { type: 'send', t: 1011, seq: 1461, len: 1460, rtx: false },
    { type: 'send', t: 1250, seq: 1, len: 1460, rtx: true },
    { type: 'ack', t: 1260, ack: 2921, win: 68_456, sacks: 1, cwnd: 2920, srtt: 40 },
  ];

  it('draws one element per segment, red for retransmissions, at the requested size', () => {
    const svg = timeSequenceSvg(events, { width: 640, height: 400 });
    expect(countClass(svg, 'seg')).toBe(3);
    expect(countClass(svg, 'rtx')).toBe(1);
    expect(svg).toMatch(/class="rtx"[^>]*stroke="#d00000"/);
    expect(svg).toContain('width="640" height="400"');
    expect(svg).toContain('time (s)');
    expect(svg).toContain('KiB');
    expect(xmlProblems(svg)).toEqual([]);
    const two = cwndRttSvg(events, { width: 500, height: 300 });
    expect(two).toContain('width="500" height="300"');
    expect(two).toContain('srtt (ms)');
    expect(xmlProblems(two)).toEqual([]);
  });

  it('escapes the title and stays valid XML with nothing to draw', () => {
    const svg = timeSequenceSvg([], { title: 'a<b & "c"' });
    expect(svg).toContain('a&lt;b &amp; &quot;c&quot;');
    expect(xmlProblems(svg)).toEqual([]);
    expect(countClass(svg, 'seg')).toBe(0);
    expect(xmlProblems(cwndRttSvg([], { title: '<>' }))).toEqual([]);
    // The checker itself catches what it is for.
    expect(xmlProblems('<svg><g></svg>')).not.toEqual([]);
    expect(xmlProblems('<svg>a & b</svg>')).not.toEqual([]);
  });
});
