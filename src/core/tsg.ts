/**
 * Time-sequence graphs, as Stevens drew them in TCP/IP Illustrated and tcptrace draws them:
 * time runs right, sequence numbers run up, and a connection's whole life is one picture.
 *
 *   bytes ▲                          ┬  a segment: an I-beam from seq to seq+len
 *         │                ┬  ┬ ┬    ┴  (black when new, red when retransmitted)
 *         │       ┬  ┬ ┬   ┴  ┴ ┴ ─────  window right edge (ack + window): what may be sent
 *         │   ┬ ┬ ┴  ┴ ┴ ┌─────┘
 *         │ ┬ ┴ ┴ ───────┘            ack line: what the peer has acknowledged
 *         └──────────────────────────► seconds
 *
 * The gap between the segments and the ack line is the data in flight; a flat ack line
 * with segments still rising is a loss being repaired; segments pressed against the
 * window edge mean the receiver, not the network, sets the pace. `cwndRttSvg` adds what
 * the sender thought of the path at each ACK: its congestion window and smoothed RTT.
 *
 * The output is a plain SVG string (no dependencies, no scripts), valid XML, with every
 * element of one kind sharing a class (`seg`, `rtx`, `ack`, `win`, `cwnd`, `srtt`) so that
 * a stylesheet or a test can find them.
 */

/** A segment that occupied sequence space left the sender (payload, SYN or FIN). */
export interface TsgSend {
  type: 'send';
  /** Time on the stack's clock, ms. */
  t: number;
  /** First sequence number, relative to the ISS (so the SYN is 0), unwrapped. */
  seq: number;
  /** Sequence space it covers: payload bytes, plus one for a SYN or a FIN. */
  len: number;
  /** It covers sequence space that had been sent before. */
  rtx: boolean;
}

/** An acceptable ACK arrived, and what the sender's state was once it had been processed. */
export interface TsgAck {
  type: 'ack';
  /** Time on the stack's clock, ms. */
  t: number;
  /** The acknowledgment number, relative to the ISS, unwrapped. */
  ack: number;
  /** Right edge of the window it offers: `ack + window`, relative to the ISS. */
  win: number;
  /** SACK blocks it carried. */
  sacks: number;
  /** Congestion window after the ACK, bytes. */
  cwnd: number;
  /** Smoothed RTT after the ACK, ms (0 before the first sample). */
  srtt: number;
}

/** One event of a connection's timeline, oldest first. */
export type TsgEvent = TsgSend | TsgAck;

/** Size and title of a graph. */
export interface TsgOptions {
  /** Width and height of the whole picture in pixels (defaults 900 × 560, and 900 × 480 for cwndRttSvg). */
  width?: number;
  height?: number;
  /** A heading, e.g. the connection's 4-tuple (escaped for XML). */
  title?: string;
  /**
   * Zoom, as in tcptrace: draw only the events from `from` to `to` (ms on the stack's
   * clock, both included), with the axes fitted to them. Defaults: everything.
   */
  from?: number;
  to?: number;
}

// ── the plotting frame ─────────────────────────────────────────────────────

/** Room for tick labels on the left and below, and for the title above. */
const MARGIN = { left: 72, right: 16, top: 30, bottom: 40 } as const;

const COLORS = {
  seg: '#000000',
  rtx: '#d00000',
  ack: '#00a000',
  win: '#b8a000',
  cwnd: '#1f5fbf',
  srtt: '#8a3fbf',
  axis: '#333333',
  grid: '#e4e4e4',
} as const;

/** A linear map of [lo, hi] onto [a, b] (b < a for y, which grows downwards in SVG). */
interface Scale {
  lo: number;
  hi: number;
  a: number;
  b: number;
}

function at(s: Scale, v: number): number {
  return s.a + ((v - s.lo) / (s.hi - s.lo)) * (s.b - s.a);
}

/** A pixel coordinate, short enough to keep the file small and exact enough to look right. */
function px(v: number): string {
  return (Math.round(v * 10) / 10).toString();
}

/** Escapes text for an XML text node or a double-quoted attribute. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** A range that is never empty, so that a single point still gets a frame around it. */
function range(lo: number, hi: number): [number, number] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (hi > lo) return [lo, hi];
  return [lo, lo + Math.max(1, Math.abs(lo) * 0.01)];
}

/**
 * Round tick positions covering [lo, hi]: steps of 1, 2 or 5 times a power of ten (in
 * units of `unit`), about `count` of them, the way a person would label an axis.
 */
function ticks(lo: number, hi: number, count: number, unit = 1): number[] {
  const raw = (hi - lo) / unit / Math.max(1, count);
  const pow = 10 ** Math.floor(Math.log10(raw));
  const f = raw / pow;
  const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * pow * unit;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step, i = 0; v <= hi + step * 1e-9 && i < 100; v += step, i++) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return out;
}

/** A number without float noise (0.30000000000000004 → 0.3). */
function num(v: number): string {
  return Number.parseFloat(v.toPrecision(6)).toString();
}

/** The unit that keeps byte labels short: bytes, KiB or MiB, by the largest value shown. */
function byteUnit(max: number): { unit: number; name: string } {
  if (max >= 4 * 1024 * 1024) return { unit: 1024 * 1024, name: 'MiB' };
  if (max >= 4 * 1024) return { unit: 1024, name: 'KiB' };
  return { unit: 1, name: 'bytes' };
}

/** Ticks, grid lines, labels and the frame of one plot. */
function axes(
  out: string[], x: Scale, y: Scale, xName: string, yName: string, yUnit: number,
): void {
  out.push(`<g class="axes" font-family="sans-serif" font-size="11" fill="${COLORS.axis}">`);
  for (const v of ticks(x.lo, x.hi, 8)) {
    const p = px(at(x, v));
    out.push(`<line class="grid" x1="${p}" y1="${px(y.a)}" x2="${p}" y2="${px(y.b)}" stroke="${COLORS.grid}"/>`);
    out.push(`<text x="${p}" y="${px(y.a + 14)}" text-anchor="middle">${escapeXml(num(v))}</text>`);
  }
  for (const v of ticks(y.lo, y.hi, 6, yUnit)) {
    const p = px(at(y, v));
    out.push(`<line class="grid" x1="${px(x.a)}" y1="${p}" x2="${px(x.b)}" y2="${p}" stroke="${COLORS.grid}"/>`);
    out.push(`<text x="${px(x.a - 5)}" y="${px(at(y, v) + 4)}" text-anchor="end">${escapeXml(num(v / yUnit))}</text>`);
  }
  out.push(`<rect x="${px(x.a)}" y="${px(y.b)}" width="${px(x.b - x.a)}" height="${px(y.a - y.b)}" fill="none" stroke="${COLORS.axis}"/>`);
  out.push(`<text x="${px((x.a + x.b) / 2)}" y="${px(y.a + 30)}" text-anchor="middle">${escapeXml(xName)}</text>`);
  const ly = (y.a + y.b) / 2;
  out.push(`<text x="${px(x.a - 58)}" y="${px(ly)}" text-anchor="middle" transform="rotate(-90 ${px(x.a - 58)} ${px(ly)})">${escapeXml(yName)}</text>`);
  out.push('</g>');
}

/**
 * A step line through (t, v) points: the value holds until the next point, then jumps —
 * how an ack number or a window really behaves — and holds on to `tEnd`.
 */
function stepPath(pts: readonly (readonly [number, number])[], x: Scale, y: Scale, tEnd: number): string {
  if (pts.length === 0) return '';
  let d = `M${px(at(x, pts[0]![0]))} ${px(at(y, pts[0]![1]))}`;
  for (let i = 1; i < pts.length; i++) {
    d += `H${px(at(x, pts[i]![0]))}V${px(at(y, pts[i]![1]))}`;
  }
  return `${d}H${px(at(x, tEnd))}`;
}

/** A polyline through (t, v) points: for a smoothed estimate, which drifts rather than jumps. */
function linePath(pts: readonly (readonly [number, number])[], x: Scale, y: Scale): string {
  return pts.map(([t, v], i) => `${i === 0 ? 'M' : 'L'}${px(at(x, t))} ${px(at(y, v))}`).join('');
}

function open(width: number, height: number, title: string | undefined): string[] {
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
  ];
  if (title !== undefined) {
    out.push(`<text class="title" x="${px(width / 2)}" y="18" text-anchor="middle" font-family="sans-serif" font-size="13">${escapeXml(title)}</text>`);
  }
  return out;
}

function dimension(v: number | undefined, dflt: number, min: number): number {
  return v !== undefined && Number.isFinite(v) ? Math.max(min, Math.round(v)) : dflt;
}

// ── the graphs ─────────────────────────────────────────────────────────────

/**
 * The tcptrace time-sequence graph of a connection's events: one I-beam per segment sent
 * (class `seg`, black, or `rtx`, red, for a retransmission), the ack line (class `ack`,
 * green) and the window's right edge (class `win`, olive) as step lines. Time on the x
 * axis in seconds from the first event recorded (zoomed or not); sequence on the y axis in bytes, KiB or MiB.
 */
export function timeSequenceSvg(all: readonly TsgEvent[], opts: TsgOptions = {}): string {
  const width = dimension(opts.width, 900, 200);
  const height = dimension(opts.height, 560, 150);
  const from = opts.from ?? -Infinity;
  const to = opts.to ?? Infinity;
  const events: TsgEvent[] = all.filter((e) => e.t >= from && e.t <= to);
  // A zoomed graph starts with the ack and window that held when it begins, as they do.
  let before: TsgAck | undefined;
  for (const e of all) if (e.type === 'ack' && e.t < from) before = e;
  if (before !== undefined && events.length > 0) events.unshift({ ...before, t: from });
  let t0 = Infinity;
  let t1 = -Infinity;
  let lo = Infinity;
  let hi = -Infinity;
  for (const e of events) {
    t0 = Math.min(t0, e.t);
    t1 = Math.max(t1, e.t);
    if (e.type === 'send') {
      lo = Math.min(lo, e.seq);
      hi = Math.max(hi, e.seq + e.len);
    } else {
      lo = Math.min(lo, e.ack);
      hi = Math.max(hi, e.ack, e.win);
    }
  }
  const [ts0, ts1] = range(t0 / 1000, t1 / 1000);
  const [y0, y1] = range(lo, hi);
  // Seconds since the first event recorded, zoomed or not, so that zooms line up with the whole.
  const origin = all.length > 0 ? all[0]!.t / 1000 : ts0;
  const x: Scale = { lo: ts0 - origin, hi: ts1 - origin, a: MARGIN.left, b: width - MARGIN.right };
  const y: Scale = { lo: y0, hi: y1, a: height - MARGIN.bottom, b: MARGIN.top };
  const unit = byteUnit(Math.max(Math.abs(y0), Math.abs(y1)));
  const sec = (t: number): number => t / 1000 - origin;

  const out = open(width, height, opts.title);
  axes(out, x, y, 'time (s)', `sequence offset (${unit.name})`, unit.unit);

  const acks: [number, number][] = [];
  const wins: [number, number][] = [];
  for (const e of events) {
    if (e.type === 'ack') {
      acks.push([sec(e.t), e.ack]);
      wins.push([sec(e.t), e.win]);
    }
  }
  out.push(`<path class="win" d="${stepPath(wins, x, y, x.hi)}" fill="none" stroke="${COLORS.win}" stroke-width="1"/>`);
  out.push(`<path class="ack" d="${stepPath(acks, x, y, x.hi)}" fill="none" stroke="${COLORS.ack}" stroke-width="1"/>`);

  // Segments last, on top: the I-beam's serifs mark where each one starts and ends, so
  // back-to-back segments stay distinguishable, as in tcptrace.
  for (const e of events) {
    if (e.type !== 'send') continue;
    const cx = at(x, sec(e.t));
    const ya = at(y, e.seq);
    const yb = at(y, e.seq + e.len);
    const d = `M${px(cx)} ${px(ya)}V${px(yb)}M${px(cx - 2)} ${px(ya)}h4M${px(cx - 2)} ${px(yb)}h4`;
    const cls = e.rtx ? 'rtx' : 'seg';
    // Retransmissions a little heavier: they are few, and what the eye looks for.
    out.push(`<path class="${cls}" d="${d}" stroke="${COLORS[cls]}" stroke-width="${e.rtx ? 1.6 : 1}"/>`);
  }

  // Top left: the graph climbs from bottom left to top right, so this corner stays empty.
  legend(out, MARGIN.left + 12, MARGIN.top + 6, [
    ['seg', 'segment'], ['rtx', 'retransmission'], ['ack', 'ack'], ['win', 'window edge'],
  ]);
  out.push('</svg>');
  return out.join('\n');
}

/**
 * Two plots over the same time axis: the congestion window in bytes (class `cwnd`, a step
 * line, since it changes only at ACKs) and the smoothed RTT in ms (class `srtt`), both as
 * the sender saw them after each ACK.
 */
export function cwndRttSvg(events: readonly TsgEvent[], opts: TsgOptions = {}): string {
  const width = dimension(opts.width, 900, 200);
  const height = dimension(opts.height, 480, 200);
  const cwnd: [number, number][] = [];
  const srtt: [number, number][] = [];
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const e of events) {
    t0 = Math.min(t0, e.t);
    t1 = Math.max(t1, e.t);
  }
  const [ts0, ts1] = range(t0 / 1000, t1 / 1000);
  for (const e of events) {
    if (e.type !== 'ack') continue;
    cwnd.push([e.t / 1000 - ts0, e.cwnd]);
    // Before the first sample there is no estimate to draw, only the absence of one.
    if (e.srtt > 0) srtt.push([e.t / 1000 - ts0, e.srtt]);
  }

  const out = open(width, height, opts.title);
  const gap = 44;
  const plotH = (height - MARGIN.top - MARGIN.bottom - gap) / 2;
  const x: Scale = { lo: 0, hi: ts1 - ts0, a: MARGIN.left, b: width - MARGIN.right };

  const cmax = cwnd.reduce((m, [, v]) => Math.max(m, v), 0);
  const unit = byteUnit(cmax);
  const [c0, c1] = range(0, cmax * 1.05);
  const yc: Scale = { lo: c0, hi: c1, a: MARGIN.top + plotH, b: MARGIN.top };
  axes(out, x, yc, 'time (s)', `cwnd (${unit.name})`, unit.unit);
  out.push(`<path class="cwnd" d="${stepPath(cwnd, x, yc, x.hi)}" fill="none" stroke="${COLORS.cwnd}" stroke-width="1.2"/>`);

  const rmax = srtt.reduce((m, [, v]) => Math.max(m, v), 0);
  const [r0, r1] = range(0, rmax * 1.05);
  const yr: Scale = { lo: r0, hi: r1, a: height - MARGIN.bottom, b: height - MARGIN.bottom - plotH };
  axes(out, x, yr, 'time (s)', 'srtt (ms)', 1);
  out.push(`<path class="srtt" d="${linePath(srtt, x, yr)}" fill="none" stroke="${COLORS.srtt}" stroke-width="1.2"/>`);
  out.push('</svg>');
  return out.join('\n');
}

function legend(out: string[], x: number, y: number, items: readonly (readonly [keyof typeof COLORS, string])[]): void {
  out.push(`<g class="legend" font-family="sans-serif" font-size="11">`);
  out.push(`<rect x="${px(x - 6)}" y="${px(y - 4)}" width="148" height="${items.length * 15 + 6}" fill="#ffffff" fill-opacity="0.85" stroke="${COLORS.grid}"/>`);
  items.forEach(([key, label], i) => {
    const ly = y + 7 + i * 15;
    out.push(`<line x1="${px(x)}" y1="${px(ly)}" x2="${px(x + 18)}" y2="${px(ly)}" stroke="${COLORS[key]}" stroke-width="2"/>`);
    out.push(`<text x="${px(x + 24)}" y="${px(ly + 4)}">${escapeXml(label)}</text>`);
  });
  out.push('</g>');
}
