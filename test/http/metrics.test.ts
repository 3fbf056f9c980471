import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from '../../src/node.js';
import { type Cluster, startCluster, until } from '../helpers/mesh-cluster.js';
import { COMPUTE, SMALL } from '../helpers/node.js';
import { type SecureNode, startSecureNode } from '../security/security-helpers.js';

/** A real Prometheus text-format parser (the format Prometheus itself scrapes). */
interface Family {
  name: string;
  type: string;
  metrics: Array<{ value?: string; count?: string; sum?: string; labels?: Record<string, string> }>;
}
const parse = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[];

const J = 'application/occi+json';

/**
 * The parsed families of a scrape. The parser merges the series of a labelled histogram into one,
 * so histograms are read a second time untyped: their `_count`, `_sum` and `_bucket` series are
 * then samples of their own, labels kept.
 */
async function scrape(url: string, token?: string): Promise<Family[]> {
  const res = await fetch(url, { headers: token ? { 'X-Auth-Token': token } : {} });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const typed = parse(text);
  const histograms = new Set(typed.filter((f) => f.type === 'HISTOGRAM').map((f) => f.name));
  const untyped = parse(text.replace(/^# (?:TYPE|HELP) (\S+) .*$/gm, (line, name: string) => (histograms.has(name) ? '' : line)));
  const series = new Map<string, Family>();
  for (const f of untyped.filter((u) => [...histograms].some((h) => u.name.startsWith(`${h}_`)))) {
    const known = series.get(f.name);
    if (known) known.metrics.push(...f.metrics);
    else series.set(f.name, { ...f, metrics: [...f.metrics] });
  }
  return [...typed.filter((f) => !histograms.has(f.name)), ...series.values()];
}

/** The value of a sample whose labels include `labels` (a histogram's: its `_count`); 0 when absent. */
function value(families: Family[], name: string, labels: Record<string, string> = {}): number {
  const family = families.find((f) => f.name === name) ?? families.find((f) => f.name === `${name}_count`);
  const sample = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return Number(sample?.value ?? 0);
}

async function call(url: string, method: string, path: string, token?: string, body?: unknown) {
  const headers: Record<string, string> = { Accept: J, ...(token ? { 'X-Auth-Token': token } : {}), ...(body ? { 'Content-Type': J } : {}) };
  const res = await fetch(`${url}${path}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? (JSON.parse(text) as { id: string }) : undefined };
}

describe('/metrics of a node with tokens and its own hypervisor', () => {
  let node: SecureNode;
  let tenant: string;

  beforeAll(async () => {
    node = await startSecureNode({ backend: undefined, hypervisor: 'sim', metricsPort: 0 });
    tenant = node.auth.issue({ tenant: 'acme', admin: false }).token;
  }, 30_000);
  afterAll(() => node?.dispose());

  it('is no open door: 401 without a token, 403 for a tenant, the text format for an admin', async () => {
    expect((await call(node.url, 'GET', '/metrics')).status).toBe(401);
    expect((await call(node.url, 'GET', '/metrics', tenant)).status).toBe(403);
    const families = await scrape(`${node.url}/metrics`, node.adminToken);
    expect(families.map((f) => f.name)).toEqual(expect.arrayContaining(['discovery_http_requests_total', 'discovery_occi_operations_total', 'discovery_mesh_members', 'discovery_node_computes', 'discovery_dvms_partition_size_count', 'process_cpu_seconds_total']));
  });

  it('moves with the operations: requests by route and status, OCCI operations, hypervisor calls and errors', async () => {
    const before = await scrape(`${node.url}/metrics`, node.adminToken);
    const made = await call(node.url, 'POST', '/compute/', tenant, { kind: COMPUTE, mixins: [SMALL] });
    expect(made.status).toBe(201);
    expect((await call(node.url, 'GET', `/compute/${made.body!.id}`, tenant)).status).toBe(200);
    expect((await call(node.url, 'GET', '/compute/00000000-0000-4000-8000-000000000000', tenant)).status).toBe(404);
    const after = await scrape(`${node.url}/metrics`, node.adminToken);
    const moved = (name: string, labels: Record<string, string>) => value(after, name, labels) - value(before, name, labels);
    expect(moved('discovery_http_requests_total', { method: 'POST', route: 'postCollection', status: '201' })).toBe(1);
    expect(moved('discovery_http_requests_total', { method: 'GET', route: 'getEntity', status: '404' })).toBe(1);
    expect(moved('discovery_http_request_duration_seconds', { method: 'POST', route: 'postCollection' })).toBe(1);
    expect(moved('discovery_occi_operations_total', { operation: 'create', kind: 'compute', outcome: 'ok' })).toBe(1);
    expect(moved('discovery_occi_operations_total', { operation: 'read', kind: 'compute', outcome: 'ok' })).toBe(1);
    expect(moved('discovery_occi_operations_total', { operation: 'read', kind: 'compute', outcome: 'client_error' })).toBe(1);
    expect(moved('discovery_hypervisor_call_duration_seconds', { method: 'defineDomain', outcome: 'ok' })).toBe(1);
    expect(moved('discovery_hypervisor_call_duration_seconds', { method: 'startDomain', outcome: 'ok' })).toBe(1);
    // A call the hypervisor refuses is an error, by its code.
    await expect(node.hypervisor!.startDomain('00000000-0000-4000-8000-000000000001')).rejects.toThrow();
    const refused = await scrape(`${node.url}/metrics`, node.adminToken);
    expect(value(refused, 'discovery_hypervisor_errors_total', { method: 'startDomain' })).toBe(1);
    expect(value(refused, 'discovery_node_computes')).toBe(1);
  });

  it('counts a request whose path is no URL (////) as unmatched, and the node stays up', async () => {
    const before = await scrape(`${node.url}/metrics`, node.adminToken);
    const res = await fetch(`${node.url}////`, { headers: { Accept: J, 'X-Auth-Token': tenant } });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    const after = await scrape(`${node.url}/metrics`, node.adminToken);
    const labels = { method: 'GET', route: 'unmatched', status: String(res.status) };
    expect(value(after, 'discovery_http_requests_total', labels) - value(before, 'discovery_http_requests_total', labels)).toBe(1);
  });

  it('is also served without a token on the --metrics-port listener, which serves nothing else', async () => {
    expect(node.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const families = await scrape(node.metricsUrl!);
    expect(value(families, 'discovery_http_requests_total', { route: 'postCollection', status: '201' })).toBe(1);
    expect((await fetch(node.metricsUrl!.replace('/metrics', '/compute/'))).status).toBe(404);
  });
});

describe('/metrics of a meshed node', () => {
  let cluster: Cluster;
  let nodes: RunningNode[];

  beforeAll(async () => {
    cluster = await startCluster('metrics-test', ['m1', 'm2']);
    nodes = cluster.nodes as RunningNode[];
  }, 60_000);
  afterAll(() => cluster?.close());

  it('counts members and connections, times calls to members, and measures the replication lag', async () => {
    const [m1, m2] = nodes as [RunningNode, RunningNode];
    const before = await scrape(`${m1.url}/metrics`);
    expect(value(before, 'discovery_mesh_members')).toBe(1);
    expect(value(before, 'discovery_mesh_connections')).toBeGreaterThanOrEqual(1);
    const made = await call(m2.url, 'POST', '/compute/', undefined, { kind: COMPUTE, mixins: [SMALL] });
    expect(made.status).toBe(201);
    // Read through m1: forwarded to m2, the holder.
    expect((await call(m1.url, 'GET', `/compute/${made.body!.id}`)).status).toBe(200);
    const after = await scrape(`${m1.url}/metrics`);
    expect(value(after, 'discovery_mesh_rpc_duration_seconds', { method: 'mesh/http-forward', outcome: 'ok' }) - value(before, 'discovery_mesh_rpc_duration_seconds', { method: 'mesh/http-forward', outcome: 'ok' })).toBe(1);
    expect(value(after, 'discovery_mesh_requests_sent_total')).toBeGreaterThan(value(before, 'discovery_mesh_requests_sent_total'));
    const holder = await scrape(`${m2.url}/metrics`);
    expect(value(holder, 'discovery_replication_lag_seconds')).toBeGreaterThanOrEqual(1);
    expect(value(holder, 'discovery_node_computes')).toBe(1);
    expect(value(holder, 'discovery_node_resources', { resource: 'cpu', measure: 'capacity' })).toBe(200);
    expect(value(holder, 'discovery_dvms_in_partition')).toBe(0);
    await until('an RTT to m2 measured by m1', async () => value(await scrape(`${m1.url}/metrics`), 'discovery_mesh_member_rtt_seconds', { member: 'm2' }) > 0, 20_000);
  });
});
