/** Per-host CSV traces, SVG line charts (violation per host, violation over time, any series), and the bench table. */
import type { HostTrace, SimMetrics, TimelinePoint } from './simulate.js';

export const TRACE_COLUMNS: readonly (keyof HostTrace)[] = ['host', 'site', 'violation_s', 'migrations_in', 'migrations_out', 'cpu_demand', 'cpu_capacity', 'vms', 'alive'];

export function traceCsv(trace: readonly HostTrace[]): string {
  const lines = [TRACE_COLUMNS.join(',')];
  for (const t of trace) lines.push(TRACE_COLUMNS.map((c) => String(t[c])).join(','));
  return `${lines.join('\n')}\n`;
}

const COLOURS = ['#1b9e77', '#d95f02', '#7570b3', '#e7298a', '#66a61e', '#e6ab02'];
export const SVG_MAX_POINTS = 1000;

export interface ChartSeries {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

export interface ChartSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly ChartSeries[];
  /** Logarithmic x axis (sizes that double). */
  readonly logX?: boolean;
  /** Labels of the x ticks (default: five even ticks). */
  readonly xTicks?: readonly number[];
  readonly width?: number;
  readonly height?: number;
}

/** A line chart, one polyline (with markers when sparse) and a legend entry per series. */
export function lineChart(spec: ChartSpec): string {
  const width = spec.width ?? 900;
  const height = spec.height ?? 420;
  const pad = { l: 80, r: 170, t: 30, b: 50 };
  const w = width - pad.l - pad.r;
  const h = height - pad.t - pad.b;
  const fx = (x: number): number => (spec.logX ? Math.log2(Math.max(x, 1e-9)) : x);
  const xs = spec.series.flatMap((s) => s.points.map((p) => fx(p[0])));
  // A linear axis starts at 0; a logarithmic one at the smallest x (log 0 has no place on it).
  const minX = spec.logX ? Math.min(...xs) : Math.min(...xs, 0);
  const maxX = Math.max(minX + 1e-9, ...xs);
  const maxY = Math.max(1e-9, ...spec.series.flatMap((s) => s.points.map((p) => p[1])));
  const x = (v: number): number => pad.l + ((fx(v) - minX) / (maxX - minX)) * w;
  const y = (v: number): number => pad.t + h - (v / maxY) * h;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(`<text x="${pad.l}" y="18" font-size="14">${spec.title}</text>`);
  parts.push(`<line x1="${pad.l}" y1="${pad.t + h}" x2="${pad.l + w}" y2="${pad.t + h}" stroke="black"/>`);
  parts.push(`<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${pad.t + h}" stroke="black"/>`);
  for (let k = 0; k <= 4; k++) {
    const v = (maxY * k) / 4;
    parts.push(`<text x="${pad.l - 6}" y="${y(v) + 4}" text-anchor="end">${v >= 100 ? v.toFixed(0) : v.toPrecision(3)}</text>`);
    parts.push(`<line x1="${pad.l}" y1="${y(v)}" x2="${pad.l + w}" y2="${y(v)}" stroke="#ddd"/>`);
  }
  const ticks = spec.xTicks ?? [0, 1, 2, 3, 4].map((k) => (spec.logX ? 2 ** (minX + ((maxX - minX) * k) / 4) : minX + ((maxX - minX) * k) / 4));
  for (const t of ticks) parts.push(`<text x="${x(t)}" y="${pad.t + h + 16}" text-anchor="middle">${Number(t.toPrecision(4))}</text>`);
  parts.push(`<text x="${pad.l + w / 2}" y="${height - 12}" text-anchor="middle">${spec.xLabel}</text>`);
  parts.push(`<text x="16" y="${pad.t + h / 2}" transform="rotate(-90 16 ${pad.t + h / 2})" text-anchor="middle">${spec.yLabel}</text>`);
  spec.series.forEach((s, si) => {
    const colour = COLOURS[si % COLOURS.length] ?? 'black';
    const stride = Math.max(1, Math.ceil(s.points.length / SVG_MAX_POINTS));
    const kept = s.points.filter((_, i) => i % stride === 0 || i === s.points.length - 1);
    parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${kept.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ')}"/>`);
    if (kept.length <= 20) for (const p of kept) parts.push(`<circle cx="${x(p[0]).toFixed(1)}" cy="${y(p[1]).toFixed(1)}" r="3" fill="${colour}"/>`);
    parts.push(`<rect x="${pad.l + w + 15}" y="${pad.t + 20 * si}" width="12" height="12" fill="${colour}"/>`);
    parts.push(`<text x="${pad.l + w + 32}" y="${pad.t + 20 * si + 11}">${s.name}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** Violation time per host, hosts ranked from worst to best, one line per scheduler. */
export function violationSvg(series: readonly { name: string; trace: readonly HostTrace[] }[]): string {
  return lineChart({
    title: 'Violation time per host (hosts ranked, worst first)',
    xLabel: 'host rank',
    yLabel: 'violation (s)',
    series: series.map((s) => ({ name: s.name, points: s.trace.map((t) => t.violation_s).sort((a, b) => b - a).map((v, i) => [i, v] as const) })),
  });
}

/** Cumulative violation time over the simulated time, one line per scheduler. */
export function timelineSvg(series: readonly { name: string; timeline: readonly TimelinePoint[] }[]): string {
  return lineChart({
    title: 'Cumulative violation time (sum over hosts) over the run',
    xLabel: 'simulated time (s)',
    yLabel: 'violation (s)',
    series: series.map((s) => ({ name: s.name, points: s.timeline.map((p) => [p.t_s, p.violation_s] as const) })),
  });
}

export const TABLE_COLUMNS: readonly (keyof SimMetrics)[] = [
  'scheduler', 'hosts', 'vms', 'events', 'violation_s', 'violation_per_event_s', 'migration_floor_s', 'floor_ratio', 'solve_ms_p50',
  'solve_ms_p99', 'partition_mean', 'migrations', 'unsolvable', 'wall_s',
];

export function metricsTable(rows: readonly SimMetrics[]): string {
  const cells = [TABLE_COLUMNS.map(String), ...rows.map((r) => TABLE_COLUMNS.map((c) => String(r[c])))];
  const widths = TABLE_COLUMNS.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]): string => `| ${row.map((c, i) => c.padStart(widths[i] ?? 0)).join(' | ')} |`;
  return [line(cells[0] ?? []), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}
