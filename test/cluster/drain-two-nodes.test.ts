import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { occiClient } from '../helpers/client.js';
import { type Cluster, holdersOf, small, startCluster, until } from '../helpers/mesh-cluster.js';

/**
 * A drain that leaves one node: the member that left said so, so the last node's replica sets drop
 * it at once. (Kept as out of reach, it would be half of every set: no write of a moved compute
 * acknowledged, no lease renewed, the moved guests paused.)
 */
const NAMES = ['two-a', 'two-b'];
const LEASE_MS = 5_000;
let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster('drain-two-nodes', NAMES);
}, 60_000);

afterAll(async () => {
  await cluster?.close();
});

describe('a drain down to one node', () => {
  it('leaves the moved computes running and writable on the last node, well past a lease', async () => {
    const [a, b] = cluster.nodes;
    const created = await occiClient(a!.url).post('/compute/', small('alone'));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    expect(holdersOf(cluster, id)).toEqual(['two-a']);
    expect((await supertest(a!.url).post('/.well-known/discovery/node?action=drain')).status).toBe(202);
    await until('the drain to finish', async () => ((await supertest(a!.url).get('/.well-known/discovery/node')).body.drain.state === 'left' ? true : undefined), 30_000);
    expect(holdersOf(cluster, id)).toEqual(['two-b']);
    await new Promise((r) => setTimeout(r, LEASE_MS + 2_000));
    const updated = await occiClient(b!.url).post(`/compute/${id}`, { attributes: { 'occi.core.title': 'still here' } });
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    const read = await occiClient(b!.url).get(`/compute/${id}`);
    expect(read.body.title).toBe('still here');
    expect(read.body.attributes['occi.compute.state']).toBe('active');
    expect((await b!.hypervisor!.listDomains()).find((d) => d.id === id)?.state).toBe('running');
    expect(b!.resilience!.leases.isFenced(id)).toBe(false);
  }, 60_000);
});
