import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from '../../src/node.js';
import { occiClient } from '../helpers/client.js';
import { type Cluster, small, startCluster, until } from '../helpers/mesh-cluster.js';

const NAMES = ['rep-a', 'rep-b', 'rep-c', 'rep-d'];
let cluster: Cluster;
const node = (i: number) => cluster.nodes[i]!;

beforeAll(async () => {
  // Two replica holders of four nodes: the nearest two, and a node left out of every replica set.
  cluster = await startCluster('replication-test', NAMES, { failures: { replicas: 2 } });
}, 60_000);

afterAll(async () => {
  await cluster?.close();
});

/** The nodes (names) that keep a replica of compute `id` held by `holder`, with its generation. */
function replicasOf(holder: RunningNode, id: string): Array<{ name: string; generation: number; records: number; title: unknown }> {
  const out = [];
  for (const n of cluster.nodes) {
    const row = n?.resilience?.replicas.get(holder.mesh!.key, id);
    if (n && row) out.push({ name: n.mesh!.self().name, generation: row.generation, records: row.records.length, title: row.records[0]!.attributes['occi.core.title'] });
  }
  return out;
}

describe('replication of compute descriptions', () => {
  it('keeps every compute on two other nodes, the nearest ones, by the time the client has its answer', async () => {
    const a = node(0);
    const res = await occiClient(a.url).post('/compute/', small('replicated'));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const id = res.body.id as string;
    expect(res.body.attributes['discovery.placement.generation']).toBe(1);
    // Synchronous: already there when the client got its 201.
    const replicas = replicasOf(a, id);
    expect(replicas.map((r) => r.name).sort()).toEqual([...a.resilience!.replicator.holders()].map((k) => a.mesh!.member(k)!.name).sort());
    expect(replicas).toHaveLength(2);
    expect(replicas.every((r) => r.generation === 1 && r.title === 'replicated')).toBe(true);
    // Each replica knows the holder's replica order (who inherits the compute if the holder is lost).
    const holders = a.resilience!.replicator.holders();
    expect(new Set(holders).size).toBe(2);
    expect(holders).not.toContain(a.mesh!.key);
    for (const n of cluster.nodes) {
      const row = n?.resilience?.replicas.get(a.mesh!.key, id);
      if (row) expect(row.order).toEqual(holders);
    }
  }, 30_000);

  it('sends updates, actions and links, and forgets deleted computes', async () => {
    const a = node(0);
    const client = occiClient(a.url);
    const res = await client.post('/compute/', small('to-change'));
    expect(res.status).toBe(201);
    const id = res.body.id as string;
    const upd = await client.post(`/compute/${id}`, { kind: res.body.kind, mixins: [], attributes: { 'occi.core.title': 'changed' } });
    expect(upd.status, JSON.stringify(upd.body)).toBe(200);
    expect(replicasOf(a, id).map((r) => r.title)).toEqual(['changed', 'changed']);
    const stop = await client.post(`/compute/${id}?action=stop`, { action: 'http://schemas.ogf.org/occi/infrastructure/compute/action#stop' });
    expect(stop.status, JSON.stringify(stop.body)).toBe(200);
    for (const n of cluster.nodes) {
      const row = n?.resilience?.replicas.get(a.mesh!.key, id);
      if (row) expect(row.records[0]!.attributes['occi.compute.state']).toBe('inactive');
    }
    const del = await client.delete(`/compute/${id}`);
    expect(del.status).toBe(200);
    expect(replicasOf(a, id)).toEqual([]);
  }, 30_000);

  it('re-chooses a replica holder when one leaves, and the newcomer gets every description', async () => {
    const a = node(0);
    const client = occiClient(a.url);
    const res = await client.post('/compute/', small('keep'));
    expect(res.status).toBe(201);
    // Every compute this node holds (the hosts take two computes: others went to other nodes).
    const ids = (await client.get('/compute/')).body.resources.map((r: { id: string }) => r.id).filter((id: string) => a.service.holds(id));
    expect(ids.length).toBeGreaterThan(0);
    const before = a.resilience!.replicator.holders();
    const leaving = cluster.nodes.findIndex((n) => n?.mesh?.key === before[0]);
    await cluster.nodes[leaving]!.close();
    cluster.nodes[leaving] = undefined;
    const after = await until('a new replica holder', () => {
      const h = a.resilience!.replicator.holders();
      return h.length === 2 && !h.includes(before[0]!) ? h : undefined;
    });
    for (const id of ids) {
      await until(`replicas of ${id} on the new holders`, () => replicasOf(a, id).length === 2);
      expect(replicasOf(a, id).map((r) => r.name).sort()).toEqual(after.map((k) => a.mesh!.member(k)!.name).sort());
    }
  }, 40_000);
});
