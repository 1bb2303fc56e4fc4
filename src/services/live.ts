/**
 * The live page: the demo host shows its own insides over its own TCP. Every route is
 * served by Node's `http` module on tapstack's sockets, so looking at the page is itself
 * traffic the page then counts.
 *
 *   GET /               HTML that reads well in curl too: counters (`netstat -s`), the drop
 *                       table (`dropwatch`), the sockets (`ss -tuanoi`), link stats
 *                       (`ethtool -S`), and a small script that keeps them fresh from /events
 *   GET /events         text/event-stream: a JSON LiveSnapshot every second, a comment ping
 *   GET /metrics        Prometheus text exposition, built by prom-client
 *   GET /api/stats      { counters, link }              JSON
 *   GET /api/sockets    SocketRow[]                     JSON
 *   GET /api/drops      DropRow[]                       JSON
 *   GET /tcp/L/R.svg    time-sequence graph of the open connection L (local) ↔ R (remote),
 *   GET /tcp/L/R-cwnd.svg  and its cwnd/RTT graph, when the stack records timelines
 *                       (`stack.recordTimelines(true)`; off by default, as it costs memory)
 *
 * Metric names (see `metricsRegistry`) follow node_exporter's netstat collector, which
 * already maps Linux's /proc/net/snmp and /proc/net/netstat into Prometheus: a counter
 * `Tcp: InSegs` becomes `tapstack_netstat_Tcp_InSegs_total`, so the names people know from
 * `nstat` stay greppable, and dashboards written for node_exporter translate by prefix.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import type { CountersSnapshot } from '../core/counters.js';
import { MIB_NAMES } from '../core/counters.js';
import type { DropRow } from '../core/drop.js';
import { formatEthtoolS, formatNetstatS } from '../core/report.js';
import { formatSockets, type SocketRow } from '../core/ss.js';
import type { LinkStats } from '../dev/device.js';
import type { Stack } from '../stack.js';

/** How often /events sends a snapshot. */
const EVENT_INTERVAL_MS = 1000;

/** What /events sends each second and what the page's blocks are made from. */
export interface LiveSnapshot {
  /** Wall time of the snapshot, ISO 8601. */
  at: string;
  counters: CountersSnapshot;
  link: LinkStats;
  drops: DropRow[];
  sockets: SocketRow[];
  /** TCP connections with the addresses of their graphs (empty strings when there are none). */
  connections: ConnectionLinks[];
  /** The same data as the text blocks of the page, preformatted. */
  text: { netstat: string; drops: string; sockets: string; link: string };
}

/** One TCP connection and where its graphs are served. */
export interface ConnectionLinks {
  /** `address:port` */
  local: string;
  remote: string;
  state: string;
  /** `/tcp/<local>/<remote>.svg`, or '' when the stack keeps no timelines. */
  seqSvg: string;
  /** `/tcp/<local>/<remote>-cwnd.svg`, or ''. */
  cwndSvg: string;
}

/**
 * The part of the stack that draws time-sequence graphs. It is looked up at run time
 * rather than imported, so the live page works (without graphs) on a stack that lacks it.
 */
interface TimelineSource {
  tcpTimeline(local: string, remote: string): { svg: string; cwndSvg: string } | undefined;
}

function timelines(stack: Stack): TimelineSource | null {
  const s = stack as unknown as Partial<TimelineSource>;
  return typeof s.tcpTimeline === 'function' ? (s as TimelineSource) : null;
}

/** The drop table as `tapstack drops` prints it. */
export function formatDropTable(rows: readonly DropRow[]): string {
  const head = `${'Stage'.padEnd(8)}${'Reason'.padEnd(26)}${'Count'.padStart(10)}  Last packet\n`;
  if (rows.length === 0) return `${head}(no drops)\n`;
  return head + rows.map((r) =>
    `${r.stage.padEnd(8)}${r.reason.padEnd(26)}${String(r.count).padStart(10)}  ${r.lastPacket ?? ''}\n`).join('');
}

/** Everything the page shows, read from the stack now. */
export function liveSnapshot(stack: Stack): LiveSnapshot {
  const counters = stack.counters();
  const link = stack.linkStats();
  const drops = stack.dropTable();
  const sockets = stack.sockets();
  const graphs = timelines(stack) !== null;
  const connections = sockets
    .filter((s) => s.netid === 'tcp' && s.state !== 'LISTEN')
    .map((s) => {
      const local = `${s.localAddress}:${s.localPort}`;
      const remote = `${s.remoteAddress}:${s.remotePort}`;
      const base = `/tcp/${local}/${remote}`;
      return { local, remote, state: s.state, seqSvg: graphs ? `${base}.svg` : '', cwndSvg: graphs ? `${base}-cwnd.svg` : '' };
    });
  return {
    at: new Date().toISOString(),
    counters, link, drops, sockets, connections,
    text: {
      netstat: formatNetstatS(counters),
      drops: formatDropTable(drops),
      sockets: formatSockets(sockets, { timers: true, info: true }),
      link: formatEthtoolS(stack.link.name, link),
    },
  };
}

/**
 * Counters whose value can go down (configuration and current state, not events); they
 * are gauges, everything else in the MIBs only ever counts up.
 */
const MIB_GAUGES = new Set([
  'Ip.Forwarding', 'Ip.DefaultTTL', 'Tcp.RtoAlgorithm', 'Tcp.RtoMin', 'Tcp.RtoMax', 'Tcp.MaxConn',
  'Tcp.CurrEstab', 'Neigh.entries',
]);

/**
 * A prom-client Registry of its own (not the global one, so two stacks in one process do
 * not mix) whose collectors read the stack when scraped — nothing is copied per packet:
 *
 *   tapstack_netstat_<Group>_<Name>_total     every MIB counter (Ip, IpExt, Icmp, Tcp, TcpExt,
 *                                             Udp, Arp, Neigh), Linux's names; the 8 that are
 *                                             state, not events (CurrEstab, …), are gauges
 *                                             without `_total`
 *   tapstack_icmp_msgs_total{direction,type}  IcmpMsg: per ICMP type, `in` or `out`
 *   tapstack_drops_total{stage,reason}        the drop table
 *   tapstack_link_<stat>_total                ethtool -S counters of the link (rx_bytes, …)
 *   tapstack_sockets{netid,state}             how many sockets are in each state
 */
export function metricsRegistry(stack: Stack): Registry {
  const registry = new Registry();
  // All collectors of one scrape run in the same tick: one snapshot serves them all.
  let snap: CountersSnapshot | undefined;
  const counters = (): CountersSnapshot => {
    if (snap === undefined) {
      snap = stack.counters();
      setImmediate(() => (snap = undefined));
    }
    return snap;
  };

  const groups = { ...MIB_NAMES, Arp: Object.keys(stack.counters().Arp), Neigh: Object.keys(stack.counters().Neigh) };
  for (const [group, names] of Object.entries(groups)) {
    for (const name of names) {
      const read = (): number => (counters() as unknown as Record<string, Record<string, number>>)[group]?.[name] ?? 0;
      const help = `${group}: ${name}, as in /proc/net/${group === 'Neigh' ? 'stat/arp_cache' : 'snmp or netstat'}`;
      if (MIB_GAUGES.has(`${group}.${name}`)) {
        new Gauge({ name: `tapstack_netstat_${group}_${name}`, help, registers: [registry], collect() { this.set(read()); } });
      } else {
        new Counter({ name: `tapstack_netstat_${group}_${name}_total`, help, registers: [registry], collect() { this.reset(); this.inc(read()); } });
      }
    }
  }

  new Counter({
    name: 'tapstack_icmp_msgs_total', help: 'ICMP messages by type and direction (IcmpMsg)',
    labelNames: ['direction', 'type'] as const, registers: [registry],
    collect() {
      this.reset();
      for (const [key, n] of Object.entries(counters().IcmpMsg)) {
        const m = /^(In|Out)Type(\d+)$/.exec(key);
        if (m !== null) this.inc({ direction: m[1]!.toLowerCase(), type: m[2]! }, n);
      }
    },
  });

  new Counter({
    name: 'tapstack_drops_total', help: 'Packets dropped, by stage and reason',
    labelNames: ['stage', 'reason'] as const, registers: [registry],
    collect() {
      this.reset();
      for (const r of stack.dropTable()) this.inc({ stage: r.stage, reason: r.reason }, r.count);
    },
  });

  for (const stat of Object.keys(stack.linkStats()) as (keyof LinkStats)[]) {
    new Counter({
      name: `tapstack_link_${stat}_total`, help: `Link counter ${stat}, as in ethtool -S`, registers: [registry],
      collect() { this.reset(); this.inc(stack.link.stats[stat]); },
    });
  }

  new Gauge({
    name: 'tapstack_sockets', help: 'Sockets by protocol and state, as ss shows them',
    labelNames: ['netid', 'state'] as const, registers: [registry],
    collect() {
      this.reset();
      for (const s of stack.sockets()) this.inc({ netid: s.netid, state: s.state });
    },
  });
  return registry;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/** The headline numbers, shown in a table the page's script keeps current (`data-counter`). */
const HEADLINE: readonly [group: keyof CountersSnapshot, name: string, label: string][] = [
  ['Ip', 'InReceives', 'IP packets received'],
  ['Ip', 'OutRequests', 'IP packets sent'],
  ['Icmp', 'InEchos', 'pings answered'],
  ['Tcp', 'InSegs', 'TCP segments in'],
  ['Tcp', 'OutSegs', 'TCP segments out'],
  ['Tcp', 'RetransSegs', 'TCP retransmits'],
  ['Tcp', 'CurrEstab', 'TCP connections open'],
  ['Udp', 'InDatagrams', 'UDP datagrams in'],
];

function connectionsHtml(conns: readonly ConnectionLinks[]): string {
  if (conns.length === 0) return '<li>(no TCP connections)</li>';
  return conns.map((c) => {
    const graphs = c.seqSvg === '' ? '' : ` <a href="${escapeHtml(c.seqSvg)}">sequence</a> <a href="${escapeHtml(c.cwndSvg)}">cwnd</a>`;
    return `<li>${escapeHtml(`${c.state} ${c.local} ↔ ${c.remote}`)}${graphs}</li>`;
  }).join('\n');
}

/**
 * The browser side, kept small and dependency-free: every snapshot replaces the text of
 * the blocks; without JavaScript (curl) the page is the same data, one snapshot old.
 */
const SCRIPT = `
const $ = (id) => document.getElementById(id);
const esc = (s) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const events = new EventSource('/events');
events.onopen = () => { $('status').textContent = 'live'; };
events.onerror = () => { $('status').textContent = 'reconnecting'; };
events.onmessage = (e) => {
  const s = JSON.parse(e.data);
  for (const el of document.querySelectorAll('[data-counter]')) {
    const [group, name] = el.dataset.counter.split('.');
    el.textContent = String(s.counters[group][name]);
  }
  $('netstat').textContent = s.text.netstat;
  $('drops').textContent = s.text.drops;
  $('sockets').textContent = s.text.sockets;
  $('link').textContent = s.text.link;
  $('at').textContent = s.at;
  $('connections').innerHTML = s.connections.length === 0 ? '<li>(no TCP connections)</li>' : s.connections.map((c) =>
    '<li>' + esc(c.state + ' ' + c.local + ' \\u2194 ' + c.remote) + (c.seqSvg === '' ? '' :
      ' <a href="' + esc(c.seqSvg) + '">sequence</a> <a href="' + esc(c.cwndSvg) + '">cwnd</a>') + '</li>').join('');
};
`;

/** The page: a snapshot rendered as HTML, plus the script that keeps it live. */
export function livePage(s: LiveSnapshot): string {
  const rows = HEADLINE.map(([g, n, label]) =>
    `<tr><td>${label}</td><td>${g}.${n}</td><td data-counter="${g}.${n}" align="right">${(s.counters[g] as unknown as Record<string, number>)[n] ?? 0}</td></tr>`).join('\n');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>tapstack</title>
<style>body{font-family:sans-serif;margin:1em 2em}pre{background:#f4f4f4;padding:.5em;overflow-x:auto}td{padding:0 .6em}</style>
</head>
<body>
<h1>Hello from tapstack</h1>
<p>This page came to you over a TCP/IP stack written in TypeScript, running in a Node.js
process on a TAP device. It shows that stack's own counters, updated every second
(<span id="status">snapshot</span>, <span id="at">${escapeHtml(s.at)}</span>).
Also: <a href="/metrics">/metrics</a> (Prometheus), <a href="/api/stats">/api/stats</a>,
<a href="/api/sockets">/api/sockets</a>, <a href="/api/drops">/api/drops</a>.</p>
<table>
${rows}
</table>
<h2>TCP connections</h2>
<ul id="connections">
${connectionsHtml(s.connections)}
</ul>
<h2>Sockets (ss -tuanoi)</h2>
<pre id="sockets">${escapeHtml(s.text.sockets)}</pre>
<h2>Drops (dropwatch)</h2>
<pre id="drops">${escapeHtml(s.text.drops)}</pre>
<h2>Link (ethtool -S)</h2>
<pre id="link">${escapeHtml(s.text.link)}</pre>
<h2>Counters (netstat -s)</h2>
<pre id="netstat">${escapeHtml(s.text.netstat)}</pre>
<script>${SCRIPT}</script>
</body></html>
`;
}

/** Answers one request of the live page's routes. */
export type LiveHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** The live routes of one stack, and a way to end the event streams it has open. */
export interface LiveRoutes {
  handle: LiveHandler;
  /** The registry /metrics reads, for whoever wants to add metrics of their own. */
  registry: Registry;
  /** Ends every open /events stream (for shutting the server down). */
  close(): void;
}

function send(res: ServerResponse, status: number, type: string, body: string, head: boolean): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(head ? undefined : body);
}

/** The routes listed at the top of this file, for `stack`. */
/** Bytes a slow event-stream client may have waiting before snapshots are skipped. */
const MAX_UNSENT = 1 << 20;

export function liveRoutes(stack: Stack): LiveRoutes {
  const registry = metricsRegistry(stack);
  const streams = new Set<() => void>();

  const events = (req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    const push = (): void => {
      // A client that does not read gets no more snapshots until it catches up: bounded memory.
      if (res.writableLength > MAX_UNSENT) return;
      // The comment line is a keep-alive that proxies and EventSource both ignore.
      res.write(`: ping\n\ndata: ${JSON.stringify(liveSnapshot(stack))}\n\n`);
    };
    res.write('retry: 2000\n\n');
    push();
    const timer = setInterval(push, EVENT_INTERVAL_MS);
    const stop = (): void => {
      clearInterval(timer);
      streams.delete(stop);
      if (!res.writableEnded) res.end();
    };
    streams.add(stop);
    // 'close' comes both when the client goes and when we end the response ourselves.
    req.on('close', stop);
    res.on('close', stop);
    res.on('error', stop);
  };

  const handle: LiveHandler = (req, res) => {
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      res.setHeader('allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', head);
    }
    const path = new URL(req.url ?? '/', 'http://host').pathname;
    const json = (v: unknown): void => send(res, 200, 'application/json', `${JSON.stringify(v)}\n`, head);
    switch (path) {
      case '/':
      case '/index.html':
        return send(res, 200, 'text/html; charset=utf-8', livePage(liveSnapshot(stack)), head);
      case '/events':
        return events(req, res);
      case '/metrics':
        registry.metrics().then(
          (text) => send(res, 200, registry.contentType, text, head),
          (err: unknown) => send(res, 500, 'text/plain; charset=utf-8', `${String(err)}\n`, head),
        );
        return;
      case '/api/stats':
        return json({ counters: stack.counters(), link: stack.linkStats() });
      case '/api/sockets':
        return json(stack.sockets());
      case '/api/drops':
        return json(stack.dropTable());
    }
    const graph = /^\/tcp\/([^/]+)\/([^/]+?)(-cwnd)?\.svg$/.exec(path);
    const source = timelines(stack);
    if (graph !== null && source !== null) {
      const t = source.tcpTimeline(decodeURIComponent(graph[1]!), decodeURIComponent(graph[2]!));
      if (t !== undefined) return send(res, 200, 'image/svg+xml', graph[3] === undefined ? t.svg : t.cwndSvg, head);
      // Recording is off by default (it keeps every segment of every connection).
      return send(res, 404, 'text/plain; charset=utf-8',
        'no such open connection, or it was not recorded: graphs need stack.recordTimelines(true)\n', head);
    }
    send(res, 404, 'text/plain; charset=utf-8', 'not found\n', head);
  };

  return { handle, registry, close: () => { for (const stop of [...streams]) stop(); } };
}
