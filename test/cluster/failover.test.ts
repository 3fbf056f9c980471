import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { occiClient } from '../helpers/client.js';
import { type Cluster, holdersOf, small, startCluster, until } from '../helpers/mesh-cluster.js';

const NAMES = ['fo-a', 'fo-b', 'fo-c', 'fo-d'];
const RESTART = 'http://schemas.discovery-cloud.org/occi/placement#restart';
let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster('failover-test', NAMES);
}, 60_000);

afterAll(async () => {
  await cluster?.close();
});

describe('a node that crashes', () => {
  const ids: string[] = [];
  let never = '';

  it('has its computes restarted elsewhere, each exactly once, from the replicated descriptions', async () => {
    const a = cluster.nodes[0]!;
    const client = occiClient(a.url);
    const computes: Array<[string, { mixins?: string[]; attributes?: Record<string, unknown> }]> = [
      ['survivor', {}],
      ['not-restarted', { mixins: [RESTART], attributes: { 'discovery.restart.policy': 'never' } }],
    ];
    for (const [title, extra] of computes) {
      const res = await client.post('/compute/', small(title, extra));
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body.attributes['discovery.placement.node']).toBe('fo-a');
      ids.push(res.body.id);
    }
    never = ids[1]!;
    const t0 = Date.now();
    await cluster.crash(0);
    // Every compute runs on exactly one live node again.
    await until(
      'the computes of the crashed node held elsewhere',
      () => ids.every((id) => holdersOf(cluster, id).length === 1),
      40_000,
    );
    const ms = Date.now() - t0;
    console.log(`failover: ${ids.length} computes held elsewhere ${ms} ms after the crash`);
    for (const id of ids) {
      const [holderName] = holdersOf(cluster, id);
      const holder = cluster.nodes[NAMES.indexOf(holderName!)]!;
      const compute = holder.service.entityAt(`/compute/${id}`)!;
      expect(compute.attributes['discovery.placement.generation']).toBe(2);
      expect(compute.attributes['discovery.placement.node']).toBe(holderName);
      const domains = await holder.hypervisor!.listDomains();
      const domain = domains.find((d) => d.id === id);
      if (id === never) {
        expect(compute.attributes['occi.compute.state']).toBe('inactive');
        expect(compute.attributes['occi.compute.state.message']).toMatch(/not restarted after the loss of node .* \(restart policy never\)/);
        expect(domain?.state).toBe('shutoff');
      } else {
        expect(compute.attributes['occi.compute.state']).toBe('active');
        expect(compute.attributes['occi.compute.state.message']).toMatch(/restarted on fo-[bcd] after the loss of node/);
        expect(domain?.state).toBe('running');
      }
      // No other live host has a domain for it.
      for (const n of cluster.nodes) if (n && n !== holder) expect((await n.hypervisor!.listDomains()).some((d) => d.id === id)).toBe(false);
      // Reachable through every live node.
      for (const n of cluster.nodes) if (n) expect((await occiClient(n.url).get(`/compute/${id}`)).status).toBe(200);
    }
  }, 60_000);

  it('does not run them again when it comes back: it learns they moved and forgets them', async () => {
    const a = await cluster.start(0);
    await a.mesh!.waitForMembers(NAMES.length - 1, 20_000);
    await a.resilience!.failover.fenced;
    for (const id of ids) {
      expect(a.service.holds(id)).toBe(false);
      expect(holdersOf(cluster, id)).toHaveLength(1);
    }
    expect(await a.hypervisor!.listDomains()).toEqual([]);
    // Its restart policy has nothing to restart: no domain appears later either.
    await a.resilience!.restarts.scan();
    expect(await a.hypervisor!.listDomains()).toEqual([]);
    for (const id of ids) expect((await occiClient(a.url).get(`/compute/${id}`)).status).toBe(200);
  }, 60_000);

  it('is not restarted while a majority of its replica set is lost with it, and is once one of them is back', async () => {
    const a = cluster.nodes[0]!;
    const lost: string[] = [];
    for (const t of ['orphan-1', 'orphan-2']) {
      const res = await occiClient(a.url).post('/compute/', small(t));
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body.attributes['discovery.placement.node']).toBe('fo-a');
      lost.push(res.body.id);
    }
    // fo-a's replica set is all four nodes (three replica holders): losing fo-a and its heir leaves
    // two of four, no majority. The two left cannot tell a crash from a split: they keep the computes.
    const [heirKey] = a.resilience!.replicator.holders();
    const heirIndex = cluster.nodes.findIndex((n) => n?.mesh?.key === heirKey);
    await Promise.all([cluster.crash(0), cluster.crash(heirIndex)]);
    const lease = a.resilience!.grants.leaseMs;
    await new Promise((r) => setTimeout(r, lease * 3));
    for (const id of lost) expect(holdersOf(cluster, id)).toEqual([]);
    // The heir comes back: with it, three of four vote, and the computes run again, once each.
    await cluster.start(heirIndex);
    await until('the computes held once by the live nodes', () => lost.every((id) => holdersOf(cluster, id).length === 1), 40_000);
    for (const id of lost) {
      const [holder] = holdersOf(cluster, id);
      const node = cluster.nodes[NAMES.indexOf(holder!)]!;
      expect((await node.hypervisor!.listDomains()).find((d) => d.id === id)?.state).toBe('running');
    }
  }, 90_000);
});
