/**
 * Dependency-free SVG charts: empirical CDFs (log x axis) and horizontal bar
 * charts of ratios (log axis, a line at 1 = the raw-UDP baseline), laid out
 * as panels in a grid in one SVG file.
 */

export interface CdfSeries {
  name: string;
  /** [value, fraction] ascending. */
  points: [number, number][];
}

export interface BarRow {
  label: string;
  /** One value per bar series (null = no bar). */
  values: (number | null)[];
}

export interface Panel {
  width: number;
  height: number;
  /** SVG content drawn in [0, width) x [0, height). */
  body: string;
}

const PALETTE = ["#1b1b1b", "#7f7f7f", "#1f77b4", "#17becf", "#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"];
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

export function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const f1 = (x: number): string => (Math.round(x * 10) / 10).toString();

/**
 * Vertical scale of the CDF panels: -log10(1 - f), so that p50, p90, p99 and p99.9 are evenly
 * spaced and the tail (where transports differ most) is readable; the max (f = 1) is drawn a
 * little above p99.9.
 */
const TAIL_TOP = 3.4;
export function tailScale(f: number): number {
  if (f >= 1) return TAIL_TOP;
  return f <= 0 ? 0 : Math.min(3.2, -Math.log10(1 - f));
}

/** 1-2-5 ticks between lo and hi (both > 0); powers of 10 only when the range spans more than 3 decades. */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  const mantissas = Math.log10(hi / lo) > 3.01 ? [1] : [1, 2, 5];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of mantissas) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
    }
  }
  return out;
}

export function formatTick(v: number, unit: string): string {
  if (unit === "µs" && v >= 1000) return `${v / 1000 >= 1000 ? `${v / 1e6} s` : `${v / 1000} ms`}`;
  if (unit === "µs") return `${v} µs`;
  if (unit === "x") return `${v}x`;
  return String(v);
}

/** A CDF panel: x log-scaled over all series, y 0..1, one polyline per series, a legend. */
export function cdfPanel(title: string, series: CdfSeries[], opts: { width?: number; height?: number; unit?: string } = {}): Panel {
  const width = opts.width ?? 600;
  const height = opts.height ?? 360;
  const unit = opts.unit ?? "µs";
  const left = 56;
  const right = 170;
  const top = 30;
  const bottom = 40;
  const pw = width - left - right;
  const ph = height - top - bottom;
  const xs = series.flatMap((s) => s.points.map((p) => p[0])).filter((x) => x > 0);
  const parts: string[] = [`<text x="${left}" y="18" font-size="14" font-weight="600">${escapeXml(title)}</text>`];
  if (xs.length === 0) {
    parts.push(`<text x="${left}" y="${top + 20}" font-size="12">no data</text>`);
    return { width, height, body: parts.join("") };
  }
  let lo = Math.min(...xs);
  let hi = Math.max(...xs);
  if (hi <= lo) hi = lo * 10;
  lo = 10 ** Math.floor(Math.log10(lo));
  hi = 10 ** Math.ceil(Math.log10(hi));
  const X = (v: number): number => left + ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * pw;
  const Y = (f: number): number => top + (1 - tailScale(f) / TAIL_TOP) * ph;
  parts.push(`<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#ccc"/>`);
  for (const t of logTicks(lo, hi)) {
    parts.push(`<line x1="${f1(X(t))}" y1="${top}" x2="${f1(X(t))}" y2="${top + ph}" stroke="#eee"/>`);
    parts.push(`<text x="${f1(X(t))}" y="${top + ph + 14}" font-size="10" text-anchor="middle">${escapeXml(formatTick(t, unit))}</text>`);
  }
  for (const [f, label] of [[0, "0"], [0.5, "p50"], [0.9, "p90"], [0.99, "p99"], [0.999, "p99.9"], [1, "max"]] as const) {
    parts.push(`<line x1="${left}" y1="${f1(Y(f))}" x2="${left + pw}" y2="${f1(Y(f))}" stroke="#eee"/>`);
    parts.push(`<text x="${left - 4}" y="${f1(Y(f) + 3)}" font-size="10" text-anchor="end">${label}</text>`);
  }
  parts.push(`<text x="${left + pw / 2}" y="${height - 6}" font-size="11" text-anchor="middle">${escapeXml(unit === "µs" ? "latency (log scale)" : unit)}</text>`);
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    const pts = s.points.filter((p) => p[0] > 0).map((p) => `${f1(X(p[0]))},${f1(Y(p[1]))}`).join(" ");
    if (pts.length > 0) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.6" points="${pts}"><title>${escapeXml(s.name)}</title></polyline>`);
    const ly = top + 6 + i * 16;
    parts.push(`<line x1="${left + pw + 12}" y1="${ly}" x2="${left + pw + 30}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${left + pw + 34}" y="${ly + 4}" font-size="11">${escapeXml(s.name)}</text>`);
  });
  return { width, height, body: parts.join("") };
}

/** Horizontal bars on a log axis, a reference line at 1; `seriesNames` name the bars of each row. */
export function barPanel(title: string, rows: BarRow[], seriesNames: string[], opts: { width?: number; unit?: string } = {}): Panel {
  const width = opts.width ?? 600;
  const unit = opts.unit ?? "x";
  const left = 230;
  const right = 20;
  const top = 44;
  const barH = 7;
  const rowH = seriesNames.length * barH + 6;
  const pw = width - left - right;
  const ph = Math.max(rowH, rows.length * rowH);
  const height = top + ph + 34;
  const parts: string[] = [`<text x="8" y="18" font-size="14" font-weight="600">${escapeXml(title)}</text>`];
  seriesNames.forEach((n, i) => {
    parts.push(`<rect x="${left + i * 110}" y="26" width="12" height="8" fill="${PALETTE[i + 2]}"/>`);
    parts.push(`<text x="${left + i * 110 + 16}" y="34" font-size="11">${escapeXml(n)}</text>`);
  });
  const vals = rows.flatMap((r) => r.values).filter((v): v is number => v !== null && v > 0);
  if (vals.length === 0) {
    parts.push(`<text x="${left}" y="${top + 14}" font-size="12">no data</text>`);
    return { width, height, body: parts.join("") };
  }
  const lo = 10 ** Math.floor(Math.log10(Math.min(0.5, ...vals)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(2, ...vals)));
  const X = (v: number): number => left + ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * pw;
  for (const t of logTicks(lo, hi)) {
    parts.push(`<line x1="${f1(X(t))}" y1="${top}" x2="${f1(X(t))}" y2="${top + ph}" stroke="#eee"/>`);
    parts.push(`<text x="${f1(X(t))}" y="${top + ph + 14}" font-size="10" text-anchor="middle">${escapeXml(formatTick(t, unit))}</text>`);
  }
  rows.forEach((r, i) => {
    const y0 = top + i * rowH;
    parts.push(`<text x="${left - 6}" y="${f1(y0 + rowH / 2 + 3)}" font-size="10" text-anchor="end">${escapeXml(r.label)}</text>`);
    r.values.forEach((v, j) => {
      if (v === null || !(v > 0)) return;
      const x1 = X(Math.min(v, 1));
      const x2 = X(Math.max(v, 1));
      parts.push(`<rect x="${f1(v >= 1 ? X(1) : x1)}" y="${f1(y0 + 3 + j * barH)}" width="${f1(Math.max(1, x2 - x1))}" height="${barH - 1}" fill="${PALETTE[j + 2]}"><title>${escapeXml(`${r.label} ${seriesNames[j] ?? ""}: ${v}`)}</title></rect>`);
    });
  });
  parts.push(`<line x1="${f1(X(1))}" y1="${top - 2}" x2="${f1(X(1))}" y2="${top + ph}" stroke="#000" stroke-width="1.2"/>`);
  parts.push(`<text x="${left + pw / 2}" y="${height - 6}" font-size="11" text-anchor="middle">ratio vs raw UDP of the same run (log scale; 1 = raw)</text>`);
  return { width, height, body: parts.join("") };
}

/** Lays panels out in `columns` columns (row height = tallest panel of the row) under a title. */
export function composeSvg(title: string, subtitle: string, panels: Panel[], columns = 2): string {
  const gap = 16;
  const head = 52;
  const colW = Math.max(0, ...panels.map((p) => p.width));
  const rows: Panel[][] = [];
  for (let i = 0; i < panels.length; i += columns) rows.push(panels.slice(i, i + columns));
  const width = columns * colW + (columns + 1) * gap;
  let y = head;
  const body: string[] = [];
  for (const row of rows) {
    row.forEach((p, c) => {
      body.push(`<g transform="translate(${gap + c * (colW + gap)},${y})">${p.body}</g>`);
    });
    y += Math.max(...row.map((p) => p.height)) + gap;
  }
  const height = y;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${gap}" y="24" font-size="18" font-weight="700">${escapeXml(title)}</text>`,
    `<text x="${gap}" y="42" font-size="12" fill="#444">${escapeXml(subtitle)}</text>`,
    ...body,
    "</svg>",
    "",
  ].join("\n");
}
