/**
 * Nodes whose mesh runs the overlay (partial views) find entities, and sum tenants' usage, on the
 * ring directory: every compute is reachable through every node, its holder is on record, and a
 * deletion through another node removes it everywhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { occiClient } from '../helpers/client.js';
import { NETWORK } from '../helpers/node.js';
import { startCluster, small, until, type Cluster } from '../helpers/mesh-cluster.js';

const NAMES = ['ov-a', 'ov-b', 'ov-c', 'ov-d', 'ov-e'];
let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster('overlay-nodes', NAMES, {}, { membership: 'overlay' });
}, 90_000);

afterAll(async () => {
  await cluster?.close();
});

const node = (i: number) => cluster.nodes[i]!;
const idOf = (location: string) => location.split('/').pop()!;

describe('a cloud over the overlay', () => {
  const locations: string[] = [];

  it('creates a compute through each node; each is found through every node, its holder on the ring directory', async () => {
    for (const [i] of NAMES.entries()) {
      const res = await occiClient(node(i).url).post('/compute/', small(`ov-${i}`));
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      locations.push(res.headers.location as string);
    }
    for (const location of locations) {
      const id = idOf(location);
      const holder = cluster.nodes.find((n) => n!.service.holds(id))!;
      const records = await until(`the holder record of ${id}`, async () => {
        const r = await node(0).mesh!.directory().find(`holder:${id}`);
        return r.ok && r.records.length > 0 && r.records;
      }, 20_000);
      expect(records.map((r) => r.by)).toEqual([holder.mesh!.key]);
      for (const [i] of NAMES.entries()) {
        const read = await occiClient(node(i).url).get(location);
        expect(read.status, `${location} through ${NAMES[i]}`).toBe(200);
        expect(read.body.id).toBe(id);
      }
    }
  }, 120_000);

  it('acknowledges a creation once its holder is on the ring: read at once through another node, it is found', async () => {
    const misses: string[] = [];
    for (let k = 0; k < 20; k++) {
      // Networks: created where asked, they need no host capacity.
      const made = await occiClient(node(k % NAMES.length).url).post('/network/', { kind: NETWORK, attributes: { 'occi.core.title': `ryw-${k}` } });
      expect(made.status, JSON.stringify(made.body)).toBe(201);
      const location = made.headers.location as string;
      const read = await occiClient(node((k + 1) % NAMES.length).url).get(location);
      if (read.status !== 200) misses.push(`${location}: ${read.status}`);
      expect((await occiClient(node(k % NAMES.length).url).delete(location)).status).toBe(200);
    }
    expect(misses).toEqual([]);
  }, 120_000);

  it('sums the tenant’s usage from the parts its nodes publish', async () => {
    const owner = cluster.nodes.map((n) => n!.service.core.store.get(idOf(locations[0]!))).find(Boolean)!.owner;
    const total = await until('every usage part', async () => {
      const r = await node(2).mesh!.directory().find(`usage:${owner}`);
      const instances = r.records.reduce((sum, rec) => sum + (JSON.parse(rec.value) as { instances: number }).instances, 0);
      return r.ok && instances === locations.length && instances;
    }, 20_000);
    expect(total).toBe(NAMES.length);
  }, 60_000);

  it('deletes a compute through a node that does not hold it: gone through every node and off the directory', async () => {
    const location = locations[0]!;
    const id = idOf(location);
    const other = cluster.nodes.findIndex((n) => !n!.service.holds(id));
    expect((await occiClient(node(other).url).delete(location)).status).toBe(200);
    for (const [i] of NAMES.entries()) expect((await occiClient(node(i).url).get(location)).status, NAMES[i]).toBe(404);
    await until(`the holder record of ${id} withdrawn`, async () => {
      const r = await node(4).mesh!.directory().find(`holder:${id}`);
      return r.ok && r.records.length === 0;
    }, 20_000);
  }, 60_000);
});
