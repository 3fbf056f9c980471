/**
 * docs/grafana-dashboard.json against the /metrics of real meshed nodes: every metric its PromQL
 * reads is one a node exposes (a histogram through its `_bucket`, `_sum` and `_count` series), every
 * label it matches or groups by is one those series carry, and every `discovery_*` family a node
 * exposes is drawn by some panel — so the dashboard and src/http/metrics.ts cannot drift apart.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from '../../src/node.js';
import { type Cluster, startCluster, until } from '../helpers/mesh-cluster.js';
import { COMPUTE, SMALL } from '../helpers/node.js';

interface Family {
  name: string;
  type: string;
  metrics: Array<{ labels?: Record<string, string> }>;
}
/** A real Prometheus text-format parser (the format Prometheus itself scrapes). */
const parse = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[];

interface Target {
  expr: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: unknown }> };
}

const DASHBOARD = JSON.parse(readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as Dashboard;
/** Labels Prometheus adds at the scrape (the target's), and a histogram's bucket bound. */
const TARGET_LABELS = new Set(['instance', 'job']);
const AGGREGATIONS = new Set(['sum', 'avg', 'min', 'max', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values', 'group']);
const KEYWORDS = new Set([...AGGREGATIONS, 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

interface Selector {
  metric: string;
  labels: string[];
}

/**
 * What a PromQL expression reads: its vector selectors (metric and matched labels) and the labels
 * its aggregations and vector matchings name. String literals (Grafana's `$instance` among them)
 * and range durations (`[$__rate_interval]`) are dropped first; a name followed by `(` is a function.
 */
function readsOf(expr: string): { selectors: Selector[]; grouping: string[] } {
  const plain = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\[[^\]]*\]/g, '');
  const selectors: Selector[] = [];
  const grouping: string[] = [];
  const matcherLabels = (body: string) => [...body.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1]!);
  for (const m of plain.matchAll(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)|([a-zA-Z_:][\w:]*)(\s*\()?(?:\s*\{([^}]*)\})?/g)) {
    if (m[1]) grouping.push(...m[2]!.split(',').map((l) => l.trim()).filter(Boolean));
    else if (m[3] && !m[4] && !KEYWORDS.has(m[3])) selectors.push({ metric: m[3], labels: matcherLabels(m[5] ?? '') });
  }
  return { selectors, grouping };
}

interface Series {
  family: Family;
  /** The labels its samples carry (none known while it has no sample). */
  labels: Set<string>;
  sampled: boolean;
}

const seriesOf = (f: Family) => (f.type === 'HISTOGRAM' ? [`${f.name}_bucket`, `${f.name}_sum`, `${f.name}_count`] : [f.name]);

/** The families a node exposes, and their series by name (a histogram's three each). */
async function scrape(url: string): Promise<{ families: Family[]; series: Map<string, Series> }> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  const text = await res.text();
  const families = parse(text);
  const series = new Map<string, Series>();
  for (const f of families) {
    for (const n of seriesOf(f)) series.set(n, { family: f, labels: new Set(n.endsWith('_bucket') ? ['le'] : []), sampled: f.metrics.length > 0 });
  }
  // Read again untyped: the parser merges a labelled histogram's series, dropping their labels.
  for (const f of parse(text.replace(/^# (?:TYPE|HELP) .*$/gm, ''))) {
    const known = series.get(f.name);
    for (const m of f.metrics) for (const l of Object.keys(m.labels ?? {})) known?.labels.add(l);
  }
  return { families, series };
}

describe('docs/grafana-dashboard.json', () => {
  let cluster: Cluster;
  let exposed: Awaited<ReturnType<typeof scrape>>;
  const targets = DASHBOARD.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

  beforeAll(async () => {
    cluster = await startCluster('grafana-dashboard-test', ['g1', 'g2']);
    const [g1, g2] = cluster.nodes as [RunningNode, RunningNode];
    // Samples for the labelled families: a creation at g2, read and stopped through g1 (forwarded), a refused hypervisor call.
    const J = 'application/occi+json';
    const made = await fetch(`${g2.url}/compute/`, { method: 'POST', headers: { 'Content-Type': J, Accept: J }, body: JSON.stringify({ kind: COMPUTE, mixins: [SMALL] }) });
    expect(made.status).toBe(201);
    const { id } = (await made.json()) as { id: string };
    expect((await fetch(`${g1.url}/compute/${id}`, { headers: { Accept: J } })).status).toBe(200);
    await expect(g1.hypervisor!.startDomain('00000000-0000-4000-8000-000000000001')).rejects.toThrow();
    await until('an RTT to g2 measured by g1', async () => (await scrape(`${g1.url}/metrics`)).series.get('discovery_mesh_member_rtt_seconds')?.labels.has('member') === true, 20_000);
    exposed = await scrape(`${g1.url}/metrics`);
  }, 60_000);
  afterAll(() => cluster?.close());

  it('is a Grafana dashboard on a Prometheus datasource variable, its panels apart on a 24-column grid', () => {
    expect(DASHBOARD.uid).toBe('discovery-nodes');
    expect(DASHBOARD.templating.list).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' })]));
    const ids = DASHBOARD.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Map<string, string>();
    for (const p of DASHBOARD.panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w, p.title).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++) for (let j = y; j < y + h; j++) {
        expect(cells.get(`${i},${j}`), `${p.title} overlaps`).toBeUndefined();
        cells.set(`${i},${j}`, p.title);
      }
      if (p.type !== 'row') expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
    }
    expect(targets.length).toBeGreaterThan(30);
  });

  it('reads only metrics a node exposes, by labels their series carry', () => {
    const unknownMetrics: string[] = [];
    const unknownLabels: string[] = [];
    const checked = new Set<string>();
    for (const { panel, expr } of targets) {
      const { selectors, grouping } = readsOf(expr);
      // The extraction itself: every expression reads some metric.
      expect(selectors.length, `${panel}: ${expr}`).toBeGreaterThan(0);
      const carried = new Set<string>(TARGET_LABELS);
      for (const { metric, labels } of selectors) {
        const known = exposed.series.get(metric);
        if (!known) {
          unknownMetrics.push(`${panel}: ${metric}`);
          continue;
        }
        for (const l of known.labels) carried.add(l);
        // A series without samples shows no labels: only those with samples can be checked.
        if (!known.sampled) continue;
        checked.add(metric);
        for (const l of labels) if (!known.labels.has(l) && !TARGET_LABELS.has(l)) unknownLabels.push(`${panel}: ${metric}{${l}}`);
      }
      if (selectors.every((s) => checked.has(s.metric))) for (const l of grouping) if (!carried.has(l)) unknownLabels.push(`${panel}: by (${l}) in ${expr}`);
    }
    expect(unknownMetrics).toEqual([]);
    expect(unknownLabels).toEqual([]);
    // The families the operations above gave samples to had their labels checked.
    expect([...checked]).toEqual(
      expect.arrayContaining([
        'discovery_http_requests_total',
        'discovery_http_request_duration_seconds_bucket',
        'discovery_occi_operations_total',
        'discovery_mesh_rpc_duration_seconds_bucket',
        'discovery_mesh_member_rtt_seconds',
        'discovery_hypervisor_call_duration_seconds_count',
        'discovery_hypervisor_errors_total',
        'discovery_node_resources',
      ]),
    );
  });

  it('draws every discovery_* family a node exposes', () => {
    const read = new Set(targets.flatMap(({ expr }) => readsOf(expr).selectors.map((s) => s.metric)));
    const undrawn = exposed.families
      .filter((f) => f.name.startsWith('discovery_'))
      .filter((f) => !seriesOf(f).some((n) => read.has(n)))
      .map((f) => f.name);
    expect(undrawn).toEqual([]);
  });
});
