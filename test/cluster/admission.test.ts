import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from '../../src/node.js';
import { occiClient } from '../helpers/client.js';
import { type Cluster, startCluster } from '../helpers/mesh-cluster.js';
import { COMPUTE, SMALL } from '../helpers/node.js';

const NAMES = ['edge-a', 'edge-b', 'edge-c'];
/** Each host takes two small computes (1 core, 1 GiB each): memory binds (CPU is allocated 4:1). */
const HOST = 'sim:///?cores=1&memoryMiB=2048&cpuOvercommit=4';

let cluster: Cluster;
let nodes: RunningNode[];

beforeAll(async () => {
  cluster = await startCluster('admission-test', NAMES, {}, { host: HOST });
  nodes = cluster.nodes as RunningNode[];
}, 60_000);

afterAll(() => cluster.close());

const small = (title: string) => ({ kind: COMPUTE, mixins: [SMALL], attributes: { 'occi.core.title': title } });

describe('admission across the mesh', () => {
  it('places computes on the entry node while it has room, then on a neighbour', async () => {
    const entry = occiClient(nodes[0]!.url);
    const placed: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await entry.post('/compute/', small(`vm-${i}`));
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.headers.location).toMatch(/^\/compute\/|\/compute\//);
      placed.push(res.body.attributes['discovery.placement.node']);
    }
    expect(placed.slice(0, 2)).toEqual(['edge-a', 'edge-a']);
    expect(placed.slice(2).every((n) => n !== 'edge-a')).toBe(true);
    // The spilled computes run on their node's host and are reachable through the entry node.
    for (const [i, name] of placed.entries()) {
      const node = nodes[NAMES.indexOf(name)]!;
      const listed = await node.hypervisor!.listDomains();
      expect(listed.filter((d) => d.state === 'running').length).toBeGreaterThan(0);
      const all = await entry.get('/compute/');
      expect(all.status).toBe(200);
      expect(JSON.stringify(all.body)).toContain(`vm-${i}`);
    }
  }, 60_000);

  it('answers 503 naming the missing capacity when no node has room, and creates nothing', async () => {
    const entry = occiClient(nodes[1]!.url);
    const before = (await entry.get('/compute/')).body;
    const res = await entry.post('/compute/', { kind: COMPUTE, mixins: [SMALL], attributes: { 'occi.core.title': 'too-big', 'occi.compute.cores': 8 } });
    expect(res.status, JSON.stringify(res.body)).toBe(503);
    expect(JSON.stringify(res.body)).toMatch(/no capacity/);
    const after = (await entry.get('/compute/')).body;
    expect(JSON.stringify(after)).not.toContain('too-big');
    expect(after.resources?.length ?? 0).toBe(before.resources?.length ?? 0);
  }, 60_000);
});

describe('placement constraints across nodes', () => {
  const P = 'http://schemas.discovery-cloud.org/occi/placement#';
  beforeAll(async () => {
    // Room on every node again (a collection DELETE acts on the computes of the node it reaches).
    for (const n of nodes) expect((await occiClient(n.url).delete('/compute/')).status).toBe(200);
    await Promise.all(nodes.map((n) => n.cloud!.sample()));
  });
  const tiny = (title: string, mixin: string, group: string) => ({
    kind: COMPUTE,
    mixins: [`${P}${mixin}`],
    attributes: { 'occi.core.title': title, 'occi.compute.cores': 1, 'occi.compute.memory': 0.25, 'discovery.placement.group': group },
  });

  it('spread: members of a group go to distinct nodes even where there is room', async () => {
    const entry = occiClient(nodes[2]!.url);
    const where: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await entry.post('/compute/', tiny(`spread-${i}`, 'spread', 'web'));
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      where.push(res.body.attributes['discovery.placement.node']);
    }
    expect(new Set(where).size).toBe(2);
  }, 60_000);

  it('gather: a member created through another node joins its group on its node', async () => {
    const first = await occiClient(nodes[2]!.url).post('/compute/', tiny('gather-0', 'gather', 'db'));
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    const home = first.body.attributes['discovery.placement.node'];
    const other = nodes.find((n) => !n.service.holds(first.body.id))!;
    const second = await occiClient(other.url).post('/compute/', tiny('gather-1', 'gather', 'db'));
    expect(second.status, JSON.stringify(second.body)).toBe(201);
    expect(second.body.attributes['discovery.placement.node']).toBe(home);
  }, 60_000);

  it('ban by node name keeps a compute off the entry node', async () => {
    const res = await occiClient(nodes[2]!.url).post('/compute/', {
      kind: COMPUTE,
      mixins: [`${P}ban`],
      attributes: { 'occi.core.title': 'banned', 'occi.compute.cores': 1, 'occi.compute.memory': 0.25, 'discovery.placement.nodes': 'edge-c' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.attributes['discovery.placement.node']).not.toBe('edge-c');
  }, 60_000);

  it('an unknown node name is a 400 and nothing is created', async () => {
    const res = await occiClient(nodes[2]!.url).post('/compute/', {
      kind: COMPUTE,
      mixins: [`${P}fence`],
      attributes: { 'occi.core.title': 'nowhere', 'discovery.placement.nodes': 'edge-zz' },
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify((await occiClient(nodes[0]!.url).get('/compute/')).body)).not.toContain('nowhere');
  }, 60_000);
});
