/** Per-host CSV traces, an SVG chart of violation time per host, and the bench table. */
import type { HostTrace, SimMetrics } from './simulate.js';

export const TRACE_COLUMNS: readonly (keyof HostTrace)[] = ['host', 'site', 'violation_s', 'migrations_in', 'migrations_out', 'cpu_demand', 'cpu_capacity', 'vms', 'alive'];

export function traceCsv(trace: readonly HostTrace[]): string {
  const lines = [TRACE_COLUMNS.join(',')];
  for (const t of trace) lines.push(TRACE_COLUMNS.map((c) => String(t[c])).join(','));
  return `${lines.join('\n')}\n`;
}

const COLOURS = ['#1b9e77', '#d95f02', '#7570b3', '#e7298a', '#66a61e'];
export const SVG_MAX_POINTS = 1000;

/** Violation time per host, hosts ranked from worst to best, one line per scheduler. */
export function violationSvg(series: readonly { name: string; trace: readonly HostTrace[] }[], width = 900, height = 420): string {
  const pad = { l: 70, r: 160, t: 30, b: 50 };
  const w = width - pad.l - pad.r;
  const h = height - pad.t - pad.b;
  const ranked = series.map((s) => ({ name: s.name, values: s.trace.map((t) => t.violation_s).sort((a, b) => b - a) }));
  const maxY = Math.max(1, ...ranked.flatMap((r) => r.values.slice(0, 1)));
  const n = Math.max(1, ...ranked.map((r) => r.values.length));
  const x = (i: number): number => pad.l + (n <= 1 ? 0 : (i / (n - 1)) * w);
  const y = (v: number): number => pad.t + h - (v / maxY) * h;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(`<text x="${pad.l}" y="18" font-size="14">Violation time per host (hosts ranked, worst first)</text>`);
  parts.push(`<line x1="${pad.l}" y1="${pad.t + h}" x2="${pad.l + w}" y2="${pad.t + h}" stroke="black"/>`);
  parts.push(`<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${pad.t + h}" stroke="black"/>`);
  for (let k = 0; k <= 4; k++) {
    const v = (maxY * k) / 4;
    parts.push(`<text x="${pad.l - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(0)}</text>`);
    parts.push(`<line x1="${pad.l}" y1="${y(v)}" x2="${pad.l + w}" y2="${y(v)}" stroke="#ddd"/>`);
  }
  parts.push(`<text x="${pad.l + w / 2}" y="${height - 12}" text-anchor="middle">host rank (of ${n})</text>`);
  parts.push(`<text x="16" y="${pad.t + h / 2}" transform="rotate(-90 16 ${pad.t + h / 2})" text-anchor="middle">violation (s)</text>`);
  ranked.forEach((r, si) => {
    const stride = Math.max(1, Math.ceil(r.values.length / SVG_MAX_POINTS));
    const pts: string[] = [];
    for (let i = 0; i < r.values.length; i += stride) pts.push(`${x(i).toFixed(1)},${y(r.values[i] ?? 0).toFixed(1)}`);
    const last = r.values.length - 1;
    if (last >= 0) pts.push(`${x(last).toFixed(1)},${y(r.values[last] ?? 0).toFixed(1)}`);
    const colour = COLOURS[si % COLOURS.length] ?? 'black';
    parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${pts.join(' ')}"/>`);
    parts.push(`<rect x="${pad.l + w + 15}" y="${pad.t + 20 * si}" width="12" height="12" fill="${colour}"/>`);
    parts.push(`<text x="${pad.l + w + 32}" y="${pad.t + 20 * si + 11}">${r.name}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

export const TABLE_COLUMNS: readonly (keyof SimMetrics)[] = [
  'scheduler', 'hosts', 'vms', 'duration_s', 'events', 'violation_s', 'violation_per_host_s', 'solve_ms_p50', 'solve_ms_p99',
  'solve_ms_max', 'partition_mean', 'partition_max', 'migrations', 'unsolvable', 'wall_s',
];

export function metricsTable(rows: readonly SimMetrics[]): string {
  const cells = [TABLE_COLUMNS.map(String), ...rows.map((r) => TABLE_COLUMNS.map((c) => String(r[c])))];
  const widths = TABLE_COLUMNS.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]): string => `| ${row.map((c, i) => c.padStart(widths[i] ?? 0)).join(' | ')} |`;
  return [line(cells[0] ?? []), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}
