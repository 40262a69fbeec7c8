/**
 * Dependency-free SVG charts for reports: line charts (several series, markers, optional log
 * axes, vertical event lines), grouped bar charts and histograms, each with axes, ticks,
 * axis labels, a title and a legend. Every function returns a complete standalone SVG
 * document as a string; write it to a .svg file and link it from Markdown.
 *
 *   lineChart({ title, xLabel, yLabel, series: [{ name, points: [{ x, y }] }] })
 *   barChart({ title, yLabel, categories: ['n=3', ...], groups: [{ name, values: [...] }] })
 *   histogram({ title, xLabel, values: [...], bins: 30 })
 *
 * Output is deterministic (same input, same bytes), so generated charts diff cleanly.
 */

export interface Point {
  x: number;
  y: number;
}

export type Marker = 'circle' | 'square' | 'triangle' | 'none';

export interface LineSeries {
  name: string;
  points: readonly Point[];
  /** CSS color; defaults to the palette in order. */
  color?: string;
  marker?: Marker;
  dashed?: boolean;
}

/** A vertical line at x with a label (e.g. "leader killed"). */
export interface EventLine {
  x: number;
  label: string;
  color?: string;
}

export type Scale = 'linear' | 'log';

export interface ChartFrame {
  title: string;
  /** Pixel size of the whole image (default 720 x 420). */
  width?: number;
  height?: number;
}

export interface LineChartOptions extends ChartFrame {
  xLabel: string;
  yLabel: string;
  series: readonly LineSeries[];
  events?: readonly EventLine[];
  xScale?: Scale;
  yScale?: Scale;
  /** Force axis ranges (otherwise taken from the data, with y starting at 0 on linear axes). */
  xMin?: number;
  xMax?: number;
  yMin?: number;
  yMax?: number;
  /** Put a tick at exactly these x values (e.g. the cluster sizes measured). */
  xTicks?: readonly number[];
}

export interface BarGroup {
  name: string;
  values: readonly number[];
  color?: string;
}

export interface BarChartOptions extends ChartFrame {
  categories: readonly string[];
  groups: readonly BarGroup[];
  xLabel?: string;
  yLabel: string;
  yScale?: Scale;
  /** Print each bar's value above it. */
  showValues?: boolean;
}

export interface HistogramOptions extends ChartFrame {
  values: readonly number[];
  xLabel: string;
  yLabel?: string;
  bins?: number;
  color?: string;
  /** Vertical lines, e.g. percentiles. */
  events?: readonly EventLine[];
}

/** Colour-blind-friendly palette (Okabe-Ito). */
export const PALETTE: readonly string[] = [
  '#0072B2',
  '#D55E00',
  '#009E73',
  '#CC79A7',
  '#E69F00',
  '#56B4E9',
  '#F0E442',
  '#000000',
];

const MARGIN = { top: 48, right: 24, bottom: 56, left: 72 };
const FONT = 'font-family="sans-serif"';

export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** "Nice" round tick values covering [min, max] (about `count` of them). */
export function niceTicks(min: number, max: number, count = 6): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (max === min) return [min];
  const span = max - min;
  const raw = span / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step =
    [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => span / s <= count) ?? 10 * magnitude;
  const first = Math.ceil(min / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = first; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** Powers of ten covering [min, max] for a log axis. */
export function logTicks(min: number, max: number): number[] {
  const lo = Math.floor(Math.log10(Math.max(min, Number.MIN_VALUE)));
  const hi = Math.ceil(Math.log10(Math.max(max, Number.MIN_VALUE)));
  const ticks: number[] = [];
  for (let e = lo; e <= hi; e++) ticks.push(10 ** e);
  return ticks;
}

/** Short label for a tick value: 1500 -> "1500", 25000 -> "25k", 0.25 -> "0.25". */
export function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${trim(v / 1e6)}M`;
  if (a >= 1e4) return `${trim(v / 1e3)}k`;
  return trim(v);
}

function trim(v: number): string {
  return String(Number(v.toPrecision(4)));
}

interface Axis {
  scale: Scale;
  min: number;
  max: number;
  pixelMin: number;
  pixelMax: number;
}

function project(axis: Axis, v: number): number {
  const t =
    axis.scale === 'log'
      ? (Math.log10(Math.max(v, Number.MIN_VALUE)) - Math.log10(axis.min)) /
        (Math.log10(axis.max) - Math.log10(axis.min))
      : (v - axis.min) / (axis.max - axis.min);
  return axis.pixelMin + (Number.isFinite(t) ? t : 0) * (axis.pixelMax - axis.pixelMin);
}

function fmt(v: number): string {
  return Number(v.toFixed(2)).toString();
}

function rangeOf(
  values: readonly number[],
  scale: Scale,
  forceMin?: number,
  forceMax?: number,
  zeroBased = false,
) {
  const finite = values.filter((v) => Number.isFinite(v) && (scale === 'linear' || v > 0));
  const [dataMin, dataMax] = extent(finite);
  let min = forceMin ?? (finite.length === 0 ? 0 : dataMin);
  let max = forceMax ?? (finite.length === 0 ? 1 : dataMax);
  if (scale === 'log') {
    min = forceMin ?? 10 ** Math.floor(Math.log10(Math.max(min, Number.MIN_VALUE)));
    max = forceMax ?? 10 ** Math.ceil(Math.log10(Math.max(max, Number.MIN_VALUE)));
    if (max <= min) max = min * 10;
  } else {
    if (zeroBased && forceMin === undefined) min = Math.min(0, min);
    if (max <= min) max = min + 1;
    if (forceMax === undefined) {
      // End the axis on a round tick at or above the data.
      const ticks = niceTicks(min, max);
      const last = ticks[ticks.length - 1] ?? max;
      const step = ticks.length > 1 ? last - (ticks[ticks.length - 2] ?? last) : 0;
      max = last >= max ? last : last + step;
    }
  }
  return { min, max };
}

/** [min, max] without spreading (safe for arrays of any length). */
function extent(values: readonly number[]): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

function svgOpen(width: number, height: number, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="26" ${FONT} font-size="16" font-weight="bold" text-anchor="middle">${escapeXml(title)}</text>`,
  ];
}

function axes(
  out: string[],
  x: Axis,
  y: Axis,
  xTicks: readonly number[],
  yTicks: readonly number[],
  xLabel: string,
  yLabel: string,
  height: number,
): void {
  const left = x.pixelMin;
  const right = x.pixelMax;
  const bottom = y.pixelMin;
  const top = y.pixelMax;
  for (const t of yTicks) {
    const py = fmt(project(y, t));
    out.push(`<line x1="${left}" y1="${py}" x2="${right}" y2="${py}" stroke="#e6e6e6"/>`);
    out.push(
      `<text x="${left - 8}" y="${py}" ${FONT} font-size="11" text-anchor="end" dominant-baseline="middle">${formatTick(t)}</text>`,
    );
  }
  for (const t of xTicks) {
    const px = fmt(project(x, t));
    out.push(`<line x1="${px}" y1="${bottom}" x2="${px}" y2="${bottom + 5}" stroke="#333"/>`);
    out.push(
      `<text x="${px}" y="${bottom + 18}" ${FONT} font-size="11" text-anchor="middle">${formatTick(t)}</text>`,
    );
  }
  out.push(`<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="#333"/>`);
  out.push(`<line x1="${left}" y1="${bottom}" x2="${left}" y2="${top}" stroke="#333"/>`);
  out.push(
    `<text x="${(left + right) / 2}" y="${height - 14}" ${FONT} font-size="12" text-anchor="middle">${escapeXml(xLabel)}</text>`,
  );
  const cy = (top + bottom) / 2;
  out.push(
    `<text x="18" y="${cy}" ${FONT} font-size="12" text-anchor="middle" transform="rotate(-90 18 ${cy})">${escapeXml(yLabel)}</text>`,
  );
}

function marker(kind: Marker, x: number, y: number, color: string): string {
  switch (kind) {
    case 'circle':
      return `<circle cx="${fmt(x)}" cy="${fmt(y)}" r="3.5" fill="${color}"/>`;
    case 'square':
      return `<rect x="${fmt(x - 3.5)}" y="${fmt(y - 3.5)}" width="7" height="7" fill="${color}"/>`;
    case 'triangle':
      return `<path d="M${fmt(x)} ${fmt(y - 4.5)} L${fmt(x + 4)} ${fmt(y + 3)} L${fmt(x - 4)} ${fmt(y + 3)} Z" fill="${color}"/>`;
    case 'none':
      return '';
  }
}

function legend(
  out: string[],
  items: readonly { name: string; color: string; dashed?: boolean; box?: boolean }[],
  left: number,
  top: number,
): void {
  items.forEach((item, i) => {
    const y = top + 14 + i * 16;
    if (item.box) {
      out.push(`<rect x="${left + 8}" y="${y - 5}" width="14" height="10" fill="${item.color}"/>`);
    } else {
      const dash = item.dashed ? ' stroke-dasharray="5 3"' : '';
      out.push(
        `<line x1="${left + 6}" y1="${y}" x2="${left + 26}" y2="${y}" stroke="${item.color}" stroke-width="2"${dash}/>`,
      );
    }
    out.push(
      `<text x="${left + 32}" y="${y}" ${FONT} font-size="11" dominant-baseline="middle">${escapeXml(item.name)}</text>`,
    );
  });
}

function eventLines(out: string[], events: readonly EventLine[], x: Axis, y: Axis): void {
  events.forEach((e, i) => {
    if (!Number.isFinite(e.x) || e.x < x.min || e.x > x.max) return;
    const px = fmt(project(x, e.x));
    const color = e.color ?? '#999999';
    out.push(
      `<line x1="${px}" y1="${y.pixelMin}" x2="${px}" y2="${y.pixelMax}" stroke="${color}" stroke-dasharray="4 3"/>`,
    );
    out.push(
      `<text x="${Number(px) + 4}" y="${y.pixelMax + 12 + (i % 3) * 13}" ${FONT} font-size="10" fill="${color}">${escapeXml(e.label)}</text>`,
    );
  });
}

export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 720;
  const height = o.height ?? 420;
  const xScale = o.xScale ?? 'linear';
  const yScale = o.yScale ?? 'linear';
  const xs = o.series
    .flatMap((s) => s.points.map((p) => p.x))
    .concat((o.events ?? []).map((e) => e.x));
  const ys = o.series.flatMap((s) => s.points.map((p) => p.y));
  const xr = rangeOf(xs, xScale, o.xMin, o.xMax);
  const yr = rangeOf(ys, yScale, o.yMin, o.yMax, true);
  const x: Axis = { scale: xScale, ...xr, pixelMin: MARGIN.left, pixelMax: width - MARGIN.right };
  const y: Axis = { scale: yScale, ...yr, pixelMin: height - MARGIN.bottom, pixelMax: MARGIN.top };
  const out = svgOpen(width, height, o.title);
  const xTicks =
    o.xTicks ?? (xScale === 'log' ? logTicks(xr.min, xr.max) : niceTicks(xr.min, xr.max));
  const yTicks = yScale === 'log' ? logTicks(yr.min, yr.max) : niceTicks(yr.min, yr.max);
  axes(out, x, y, xTicks, yTicks, o.xLabel, o.yLabel, height);
  eventLines(out, o.events ?? [], x, y);
  const items = o.series.map((s, i) => ({
    ...s,
    color: s.color ?? PALETTE[i % PALETTE.length] ?? '#000',
  }));
  for (const s of items) {
    const pts = s.points.filter(
      (p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (yScale === 'linear' || p.y > 0),
    );
    if (pts.length === 0) continue;
    const d = pts
      .map((p, k) => `${k === 0 ? 'M' : 'L'}${fmt(project(x, p.x))} ${fmt(project(y, p.y))}`)
      .join(' ');
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
    for (const p of pts)
      out.push(marker(s.marker ?? 'circle', project(x, p.x), project(y, p.y), s.color));
  }
  legend(out, items, MARGIN.left, MARGIN.top);
  out.push('</svg>');
  return `${out.filter((l) => l !== '').join('\n')}\n`;
}

export function barChart(o: BarChartOptions): string {
  const width = o.width ?? 720;
  const height = o.height ?? 420;
  const yScale = o.yScale ?? 'linear';
  const values = o.groups.flatMap((g) => g.values);
  const yr = rangeOf(values, yScale, undefined, undefined, true);
  const left = MARGIN.left;
  const right = width - MARGIN.right;
  const y: Axis = { scale: yScale, ...yr, pixelMin: height - MARGIN.bottom, pixelMax: MARGIN.top };
  const out = svgOpen(width, height, o.title);
  const yTicks = yScale === 'log' ? logTicks(yr.min, yr.max) : niceTicks(yr.min, yr.max);
  // Categories are placed at x = 0.5, 1.5, ... on a linear axis without numeric ticks.
  const x: Axis = {
    scale: 'linear',
    min: 0,
    max: Math.max(1, o.categories.length),
    pixelMin: left,
    pixelMax: right,
  };
  axes(out, x, y, [], yTicks, o.xLabel ?? '', o.yLabel, height);
  const slot = (right - left) / Math.max(1, o.categories.length);
  const barWidth = (slot * 0.8) / Math.max(1, o.groups.length);
  const colors = o.groups.map((g, i) => g.color ?? PALETTE[i % PALETTE.length] ?? '#000');
  o.categories.forEach((category, c) => {
    const x0 = left + c * slot + slot * 0.1;
    out.push(
      `<text x="${fmt(left + (c + 0.5) * slot)}" y="${y.pixelMin + 18}" ${FONT} font-size="11" text-anchor="middle">${escapeXml(category)}</text>`,
    );
    o.groups.forEach((g, k) => {
      const v = g.values[c];
      if (v === undefined || !Number.isFinite(v) || (yScale === 'log' && v <= 0)) return;
      const base = yScale === 'log' ? y.pixelMin : project(y, Math.max(0, y.min));
      const top = project(y, v);
      const bx = x0 + k * barWidth;
      out.push(
        `<rect x="${fmt(bx)}" y="${fmt(Math.min(top, base))}" width="${fmt(barWidth * 0.92)}" height="${fmt(Math.abs(base - top))}" fill="${colors[k]}"/>`,
      );
      if (o.showValues) {
        out.push(
          `<text x="${fmt(bx + barWidth * 0.46)}" y="${fmt(Math.min(top, base) - 4)}" ${FONT} font-size="10" text-anchor="middle">${formatTick(v)}</text>`,
        );
      }
    });
  });
  legend(
    out,
    o.groups.map((g, i) => ({ name: g.name, color: colors[i] ?? '#000', box: true })),
    left,
    MARGIN.top,
  );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Counts of `values` in `bins` equal-width bins over [min, max]. */
export function binValues(
  values: readonly number[],
  bins: number,
): { start: number; end: number; count: number }[] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0 || bins < 1) return [];
  const [min, max] = extent(finite);
  // A range so small that the bin width underflows to 0 is treated as one value.
  const raw = (max - min) / bins;
  const width = raw > 0 && Number.isFinite(raw) ? raw : 1;
  const out = Array.from({ length: bins }, (_, i) => ({
    start: min + i * width,
    end: min + (i + 1) * width,
    count: 0,
  }));
  for (const v of finite) {
    const index = Math.floor((v - min) / width);
    const i = Number.isFinite(index) ? Math.max(0, Math.min(bins - 1, index)) : 0;
    const bin = out[i];
    if (bin !== undefined) bin.count++;
  }
  return out;
}

export function histogram(o: HistogramOptions): string {
  const width = o.width ?? 720;
  const height = o.height ?? 420;
  const bins = binValues(o.values, o.bins ?? 30);
  const first = bins[0];
  const last = bins[bins.length - 1];
  const xr =
    first === undefined || last === undefined
      ? { min: 0, max: 1 }
      : { min: first.start, max: last.end };
  const yr = rangeOf(
    bins.map((b) => b.count),
    'linear',
    0,
  );
  const x: Axis = { scale: 'linear', ...xr, pixelMin: MARGIN.left, pixelMax: width - MARGIN.right };
  const y: Axis = {
    scale: 'linear',
    ...yr,
    pixelMin: height - MARGIN.bottom,
    pixelMax: MARGIN.top,
  };
  const out = svgOpen(width, height, o.title);
  axes(
    out,
    x,
    y,
    niceTicks(xr.min, xr.max),
    niceTicks(yr.min, yr.max),
    o.xLabel,
    o.yLabel ?? 'count',
    height,
  );
  const color = o.color ?? PALETTE[0] ?? '#000';
  for (const b of bins) {
    if (b.count === 0) continue;
    const x0 = project(x, b.start);
    const x1 = project(x, b.end);
    const top = project(y, b.count);
    out.push(
      `<rect x="${fmt(x0)}" y="${fmt(top)}" width="${fmt(Math.max(1, x1 - x0 - 1))}" height="${fmt(y.pixelMin - top)}" fill="${color}"/>`,
    );
  }
  eventLines(out, o.events ?? [], x, y);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
