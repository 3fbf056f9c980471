import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { occiClient } from '../helpers/client.js';
import { type Cluster, holdersOf, small, startCluster, until } from '../helpers/mesh-cluster.js';

const NAMES = ['dr-a', 'dr-b', 'dr-c'];
let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster('drain-test', NAMES);
}, 60_000);

afterAll(async () => {
  await cluster?.close();
});

describe('drain', () => {
  it('moves every compute away through the scheduler, then the node leaves the mesh and answers 503', async () => {
    const a = cluster.nodes[0]!;
    const ids: string[] = [];
    for (const t of ['moves-1', 'moves-2']) {
      const res = await occiClient(a.url).post('/compute/', small(t));
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body.attributes['discovery.placement.node']).toBe('dr-a');
      ids.push(res.body.id);
    }
    const view = await supertest(a.url).get('/.well-known/discovery/node');
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ name: 'dr-a', key: a.mesh!.key, hypervisor: expect.stringMatching(/^simulated \(requested; 2 cores, 2048 MiB/), drain: { state: 'serving' } });
    expect(view.body.computes.sort()).toEqual([...ids].sort());
    expect(view.body.members.map((m: { name: string }) => m.name).sort()).toEqual(['dr-b', 'dr-c']);

    expect((await supertest(a.url).post('/.well-known/discovery/node?action=reboot')).status).toBe(400);
    const started = await supertest(a.url).post('/.well-known/discovery/node?action=drain');
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ state: 'draining', remaining: 2 });
    // Clients of the draining node are sent elsewhere.
    const refused = await occiClient(a.url).get('/compute/');
    expect(refused.status).toBe(503);
    expect(JSON.stringify(refused.body)).toMatch(/draining/);

    const t0 = Date.now();
    const done = await until('the drain to finish', async () => {
      const s = (await supertest(a.url).get('/.well-known/discovery/node')).body.drain;
      return s.state === 'left' || s.state === 'failed' ? s : undefined;
    }, 45_000);
    console.log(`drain: ${ids.length} computes moved and the node left in ${Date.now() - t0} ms`);
    expect(done).toMatchObject({ state: 'left', remaining: 0, moved: 2, error: null });
    for (const id of ids) {
      const [holder] = holdersOf(cluster, id);
      expect(['dr-b', 'dr-c']).toContain(holder);
      const node = cluster.nodes[NAMES.indexOf(holder!)]!;
      const compute = node.service.entityAt(`/compute/${id}`)!;
      expect(compute.attributes['occi.compute.state']).toBe('active');
      expect(compute.attributes['discovery.placement.generation']).toBe(2);
      expect((await node.hypervisor!.listDomains()).find((d) => d.id === id)?.state).toBe('running');
      for (const other of cluster.nodes.slice(1)) expect((await occiClient(other!.url).get(`/compute/${id}`)).status).toBe(200);
    }
    expect(await a.hypervisor!.listDomains()).toEqual([]);
    // It left the mesh cleanly: the others no longer list it and restarted nothing.
    for (const n of cluster.nodes.slice(1)) await until('the members to see it gone', () => n!.mesh!.member(a.mesh!.key) === undefined, 10_000);
    for (const n of cluster.nodes.slice(1)) expect(n!.resilience!.failover.recoveries).toEqual([]);
    const after = await occiClient(a.url).get(`/compute/${ids[0]}`);
    expect(after.status).toBe(503);
    expect(JSON.stringify(after.body)).toMatch(/draining: node dr-a left the mesh/);
  }, 60_000);

  it('is what `npm run drain` does, waiting for the end', async () => {
    // The first drain put two computes on dr-b and dr-c (two fit on a host): drain the one with more.
    const count = (i: number) => cluster.nodes[i]!.resilience!.drain.status().remaining;
    const [b, c] = count(1) >= count(2) ? [cluster.nodes[1]!, cluster.nodes[2]!] : [cluster.nodes[2]!, cluster.nodes[1]!];
    const held = (await supertest(b.url).get('/.well-known/discovery/node')).body.computes as string[];
    expect(held.length).toBeGreaterThan(0);
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const { stdout, stderr } = await promisify(execFile)(`${root}node_modules/.bin/tsx`, ['src/cli/drain.ts', '--node', b.url, '--timeout', '40'], { cwd: root, timeout: 50_000 });
    expect(stderr).toMatch(/draining dr-[bc] \(\d computes\)/);
    expect(JSON.parse(stdout)).toMatchObject({ state: 'left', remaining: 0, moved: held.length });
    for (const id of held) expect(c.service.holds(id)).toBe(true);
  }, 60_000);
});
