import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatedHypervisor } from '../../src/hypervisor/simulated/simulated-hypervisor.js';
import type { RunningNode } from '../../src/node.js';
import { occiClient } from '../helpers/client.js';
import { type Cluster, small, startCluster, until } from '../helpers/mesh-cluster.js';

const RESTART = 'http://schemas.discovery-cloud.org/occi/placement#restart';
let cluster: Cluster;
let a: RunningNode;

beforeAll(async () => {
  // Two restarts within the window, then the policy gives up.
  cluster = await startCluster('restart-policy-test', ['rp-a', 'rp-b'], { failures: { maxRestarts: 2 } });
  a = cluster.nodes[0]!;
}, 60_000);

afterAll(async () => {
  await cluster?.close();
});

const host = () => (a.hypervisor as SimulatedHypervisor).host;

/** The domain crashes behind the node's back. */
function crashDomain(id: string): void {
  const vm = host().extract(id);
  vm.state = 'crashed';
  host().insert(vm);
}

async function create(title: string, policy?: string): Promise<string> {
  const extra = policy ? { mixins: [RESTART], attributes: { 'discovery.restart.policy': policy } } : {};
  const res = await occiClient(a.url).post('/compute/', small(title, extra));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body.attributes['discovery.placement.node']).toBe('rp-a');
  return res.body.id;
}

const compute = (id: string) => a.service.entityAt(`/compute/${id}`)!;
const domainState = (id: string) => host().domainInfo(id).state;

describe('restart policy', () => {
  it('restarts a crashed compute on its host by default (on-failure), then gives up after the bound', async () => {
    const id = await create('crashes');
    expect(domainState(id)).toBe('running');
    crashDomain(id);
    await until('the restart', () => domainState(id) === 'running' && compute(id).attributes['occi.compute.state'] === 'active' && /restarted/.test(String(compute(id).attributes['occi.compute.state.message'])));
    expect(compute(id).attributes['occi.compute.state.message']).toMatch(/^restarted on rp-a: its domain crashed \(restart policy on-failure \(1\/2 within 10 min\)\)$/);
    crashDomain(id);
    await until('the second restart', () => domainState(id) === 'running' && /\(2\/2/.test(String(compute(id).attributes['occi.compute.state.message'])));
    crashDomain(id);
    await until('the policy to give up', () => /gave up after 2 restarts/.test(String(compute(id).attributes['occi.compute.state.message'])));
    expect(compute(id).attributes['occi.compute.state']).toBe('error');
    expect(domainState(id)).toBe('crashed');
    const seen = await occiClient(a.url).get(`/compute/${id}`);
    expect(seen.body.attributes['occi.compute.state.message']).toMatch(/crashed; restart policy on-failure gave up/);
    await occiClient(a.url).delete(`/compute/${id}`);
  }, 40_000);

  it('defines and starts again a compute whose domain disappeared from the host', async () => {
    const id = await create('vanishes', 'always');
    host().undefineDomain(id);
    await until('the restart', () => domainState(id) === 'running' && compute(id).attributes['occi.compute.state'] === 'active' && /restarted/.test(String(compute(id).attributes['occi.compute.state.message'])));
    expect(compute(id).attributes['occi.compute.state.message']).toBe('restarted on rp-a: its domain disappeared from the host (restart policy always)');
    await occiClient(a.url).delete(`/compute/${id}`);
  }, 30_000);

  it('leaves a compute whose policy is never in state error', async () => {
    const id = await create('stays-down', 'never');
    crashDomain(id);
    await until('the compute marked', () => /restart policy never/.test(String(compute(id).attributes['occi.compute.state.message'])));
    expect(compute(id).attributes['occi.compute.state']).toBe('error');
    expect(compute(id).attributes['occi.compute.state.message']).toBe(`the domain ${id} crashed; not restarted (restart policy never)`);
    // Still down after further checks.
    await a.resilience!.restarts.scan();
    await a.resilience!.restarts.scan();
    expect(domainState(id)).toBe('crashed');
    await occiClient(a.url).delete(`/compute/${id}`);
  }, 30_000);

  it('leaves alone a compute the user stopped or deleted', async () => {
    const id = await create('stopped');
    const stop = await occiClient(a.url).post(`/compute/${id}?action=stop`, { action: 'http://schemas.ogf.org/occi/infrastructure/compute/action#stop' });
    expect(stop.status).toBe(200);
    await a.resilience!.restarts.scan();
    expect(domainState(id)).toBe('shutoff');
    expect(compute(id).attributes['occi.compute.state']).toBe('inactive');
    const before = a.resilience!.restarts.restarts;
    expect((await occiClient(a.url).delete(`/compute/${id}`)).status).toBe(200);
    await a.resilience!.restarts.scan();
    expect(domainState(id)).toBe('absent');
    expect(a.resilience!.restarts.restarts).toBe(before);
  }, 30_000);

  it('restarts the computes of a node stopped cleanly when it starts again (nobody took them over)', async () => {
    let b = cluster.nodes[1]!;
    const res = await occiClient(b.url).post('/compute/', small('waits-for-its-node'));
    expect(res.status).toBe(201);
    expect(res.body.attributes['discovery.placement.node']).toBe('rp-b');
    const id = res.body.id as string;
    await b.close();
    // A clean stop is not a loss: the other node keeps the description and starts nothing.
    await until('rp-a to see rp-b gone', () => a.mesh!.member(b.mesh!.key) === undefined, 10_000);
    expect(a.resilience!.replicas.get(b.mesh!.key, id)).toBeDefined();
    b = await cluster.start(1);
    await b.resilience!.failover.fenced;
    await until('the compute running again on rp-b', () => (b.hypervisor as SimulatedHypervisor).host.domainInfo(id).state === 'running', 20_000);
    const compute = b.service.entityAt(`/compute/${id}`)!;
    expect(compute.attributes['occi.compute.state']).toBe('active');
    expect(compute.attributes['occi.compute.state.message']).toMatch(/^restarted on rp-b: its domain disappeared from the host \(restart policy on-failure/);
    expect(compute.attributes['discovery.placement.generation']).toBe(1);
    expect(a.service.holds(id)).toBe(false);
  }, 40_000);
});
