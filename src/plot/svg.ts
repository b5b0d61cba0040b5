// Minimal SVG charts for experiment results: a heat map and a log-scale scatter/line plot.
// Self-contained strings (no fonts or scripts to fetch), so they render offline and in READMEs.

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export interface HeatMapSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  xTicks: string[];
  yTicks: string[];
  /** values[y][x] in [0, 1] */
  values: number[][];
  legend: string;
}

/** A heat map, white (0) to dark blue (1), with each cell's value printed. */
export function heatMap(s: HeatMapSpec): string {
  const cw = 56, ch = 30, left = 80, top = 40;
  const w = left + cw * s.xTicks.length + 30, h = top + ch * s.yTicks.length + 60;
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="11">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${w / 2}" y="20" text-anchor="middle" font-size="14">${esc(s.title)}</text>`];
  s.values.forEach((row, yi) => row.forEach((v, xi) => {
    const x = left + xi * cw, y = top + (s.yTicks.length - 1 - yi) * ch;
    const c = Math.round(255 * (1 - v));
    out.push(`<rect x="${x}" y="${y}" width="${cw}" height="${ch}" fill="rgb(${c},${c},255)" stroke="#ccc"/>`);
    out.push(`<text x="${x + cw / 2}" y="${y + ch / 2 + 4}" text-anchor="middle" fill="${v > 0.5 ? "white" : "black"}">${v.toFixed(2)}</text>`);
  }));
  s.xTicks.forEach((t, i) => out.push(`<text x="${left + i * cw + cw / 2}" y="${top + ch * s.yTicks.length + 14}" text-anchor="middle">${esc(t)}</text>`));
  s.yTicks.forEach((t, i) => out.push(`<text x="${left - 6}" y="${top + (s.yTicks.length - 1 - i) * ch + ch / 2 + 4}" text-anchor="end">${esc(t)}</text>`));
  out.push(`<text x="${left + (cw * s.xTicks.length) / 2}" y="${top + ch * s.yTicks.length + 32}" text-anchor="middle">${esc(s.xLabel)}</text>`);
  out.push(`<text x="16" y="${top + (ch * s.yTicks.length) / 2}" text-anchor="middle" transform="rotate(-90 16 ${top + (ch * s.yTicks.length) / 2})">${esc(s.yLabel)}</text>`);
  out.push(`<text x="${left}" y="${h - 8}">${esc(s.legend)}</text>`);
  out.push("</svg>");
  return out.join("\n");
}

export interface Series { name: string; points: Array<[number, number]>; color: string }

export interface LinePlotSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  logX?: boolean;
  logY?: boolean;
  /** Optional horizontal reference line (e.g. the 1e-9 exactness bar). */
  hLine?: { y: number; label: string };
}

/** Points joined by lines, per series, with optional log axes (values <= 0 are clamped on log axes). */
export function linePlot(s: LinePlotSpec): string {
  const w = 640, h = 400, left = 70, right = 150, top = 40, bottom = 50;
  const fx = (v: number) => (s.logX ? Math.log10(Math.max(v, 1e-300)) : v);
  const fy = (v: number) => (s.logY ? Math.log10(Math.max(v, 1e-17)) : v);
  const xs = s.series.flatMap((q) => q.points.map((p) => fx(p[0])));
  const ys = s.series.flatMap((q) => q.points.map((p) => fy(p[1]))).concat(s.hLine ? [fy(s.hLine.y)] : []);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  if (y0 === y1) { y0 -= 1; y1 += 1; }
  const px = (v: number) => left + ((fx(v) - x0) / (x1 - x0)) * (w - left - right);
  const py = (v: number) => top + (1 - (fy(v) - y0) / (y1 - y0)) * (h - top - bottom);
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="11">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${(w - right + left) / 2}" y="20" text-anchor="middle" font-size="14">${esc(s.title)}</text>`,
    `<rect x="${left}" y="${top}" width="${w - left - right}" height="${h - top - bottom}" fill="none" stroke="#444"/>`];
  const ticks = (a: number, b: number) => { const n = 5; return Array.from({ length: n + 1 }, (_, i) => a + ((b - a) * i) / n); };
  for (const t of ticks(x0, x1)) {
    const X = left + ((t - x0) / (x1 - x0)) * (w - left - right);
    out.push(`<text x="${X}" y="${h - bottom + 14}" text-anchor="middle">${s.logX ? tickLabel(10 ** t) : t.toPrecision(3)}</text>`);
  }
  for (const t of ticks(y0, y1)) {
    const Y = top + (1 - (t - y0) / (y1 - y0)) * (h - top - bottom);
    out.push(`<text x="${left - 6}" y="${Y + 4}" text-anchor="end">${s.logY ? tickLabel(10 ** t) : t.toPrecision(3)}</text>`);
    out.push(`<line x1="${left}" x2="${w - right}" y1="${Y}" y2="${Y}" stroke="#eee"/>`);
  }
  if (s.hLine) {
    const Y = py(s.hLine.y);
    out.push(`<line x1="${left}" x2="${w - right}" y1="${Y}" y2="${Y}" stroke="#c00" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${w - right + 4}" y="${Y + 4}" fill="#c00">${esc(s.hLine.label)}</text>`);
  }
  s.series.forEach((q, i) => {
    const pts = [...q.points].sort((a, b) => a[0] - b[0]).map((p) => `${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(" ");
    out.push(`<polyline points="${pts}" fill="none" stroke="${q.color}" stroke-width="1.5"/>`);
    for (const p of q.points) out.push(`<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="3" fill="${q.color}"/>`);
    out.push(`<rect x="${w - right + 10}" y="${top + 10 + i * 18}" width="10" height="10" fill="${q.color}"/>`);
    out.push(`<text x="${w - right + 24}" y="${top + 19 + i * 18}">${esc(q.name)}</text>`);
  });
  out.push(`<text x="${(w - right + left) / 2}" y="${h - 12}" text-anchor="middle">${esc(s.xLabel)}</text>`);
  out.push(`<text x="16" y="${(h - bottom + top) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(h - bottom + top) / 2})">${esc(s.yLabel)}</text>`);
  out.push("</svg>");
  return out.join("\n");
}

function tickLabel(v: number): string {
  return v >= 0.01 && v < 1000 ? String(Number(v.toPrecision(2))) : v.toExponential(0);
}

export interface ScatterSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Array<{ name: string; color: string; points: Array<[number, number]> }>;
  /** Clamp the axes to this symmetric range (outliers are drawn on the border). */
  limit?: number;
  /** Draw y = x. */
  diagonal?: boolean;
}

/** A scatter plot on linear axes, e.g. recovered against clean weights. */
export function scatterPlot(s: ScatterSpec): string {
  const w = 420, h = 420, left = 60, right = 20, top = 40, bottom = 70;
  const all = s.series.flatMap((q) => q.points).filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]));
  const span = s.limit ?? Math.max(1e-12, ...all.map((p) => Math.max(Math.abs(p[0]), Math.abs(p[1]))));
  const clamp = (v: number) => (Number.isFinite(v) ? Math.max(-span, Math.min(span, v)) : span);
  const px = (v: number) => left + ((clamp(v) + span) / (2 * span)) * (w - left - right);
  const py = (v: number) => top + (1 - (clamp(v) + span) / (2 * span)) * (h - top - bottom);
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="11">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${w / 2}" y="20" text-anchor="middle" font-size="13">${esc(s.title)}</text>`,
    `<rect x="${left}" y="${top}" width="${w - left - right}" height="${h - top - bottom}" fill="none" stroke="#444"/>`];
  if (s.diagonal) out.push(`<line x1="${px(-span)}" y1="${py(-span)}" x2="${px(span)}" y2="${py(span)}" stroke="#bbb"/>`);
  for (const t of [-span, 0, span]) {
    out.push(`<text x="${px(t)}" y="${h - bottom + 14}" text-anchor="middle">${Number(t.toPrecision(2))}</text>`);
    out.push(`<text x="${left - 6}" y="${py(t) + 4}" text-anchor="end">${Number(t.toPrecision(2))}</text>`);
  }
  s.series.forEach((q, i) => {
    for (const p of q.points) out.push(`<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="1.6" fill="${q.color}" fill-opacity="0.6"/>`);
    out.push(`<rect x="${left + i * 150}" y="${h - 30}" width="10" height="10" fill="${q.color}"/><text x="${left + 14 + i * 150}" y="${h - 21}">${esc(q.name)}</text>`);
  });
  out.push(`<text x="${(w + left - right) / 2}" y="${h - bottom + 30}" text-anchor="middle">${esc(s.xLabel)}</text>`);
  out.push(`<text x="14" y="${(h - bottom + top) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(h - bottom + top) / 2})">${esc(s.yLabel)}</text>`);
  out.push("</svg>");
  return out.join("\n");
}

export interface BarChartSpec {
  title: string;
  yLabel: string;
  bars: Array<{ label: string; value: number }>;
  color?: string;
}

/** Vertical bars with their values written on top (e.g. suspects per tensor). */
export function barChart(s: BarChartSpec): string {
  const bw = 56, gap = 18, left = 60, top = 40, plotH = 220, bottom = 70;
  const w = left + s.bars.length * (bw + gap) + gap, h = top + plotH + bottom;
  const max = Math.max(1, ...s.bars.map((b) => b.value));
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="11">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${w / 2}" y="20" text-anchor="middle" font-size="14">${esc(s.title)}</text>`,
    `<text x="14" y="${top + plotH / 2}" text-anchor="middle" transform="rotate(-90 14 ${top + plotH / 2})">${esc(s.yLabel)}</text>`,
    `<line x1="${left}" y1="${top + plotH}" x2="${w - gap / 2}" y2="${top + plotH}" stroke="#333"/>`];
  s.bars.forEach((b, i) => {
    const x = left + gap + i * (bw + gap), bh = (b.value / max) * plotH, y = top + plotH - bh;
    out.push(`<rect x="${x}" y="${y}" width="${bw}" height="${bh}" fill="${s.color ?? "#d62728"}"/>`,
      `<text x="${x + bw / 2}" y="${y - 4}" text-anchor="middle">${b.value}</text>`,
      `<text x="${x + bw / 2}" y="${top + plotH + 16}" text-anchor="middle">${esc(b.label)}</text>`);
  });
  out.push("</svg>");
  return out.join("");
}
