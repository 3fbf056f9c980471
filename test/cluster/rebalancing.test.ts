import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatedHypervisor } from '../../src/hypervisor/simulated/simulated-hypervisor.js';
import type { RunningNode } from '../../src/node.js';
import { occiClient } from '../helpers/client.js';
import { type Cluster, startCluster, until } from '../helpers/mesh-cluster.js';
import { COMPUTE, SMALL } from '../helpers/node.js';

const NAMES = ['edge-a', 'edge-b', 'edge-c'];
/** Two cores: three idle small computes fit by measured use; three busy ones overload the host. */
const HOST = 'sim:///?cores=2&memoryMiB=4096&cpuOvercommit=4';

let cluster: Cluster;
let nodes: RunningNode[];

beforeAll(async () => {
  cluster = await startCluster('rebalancing-test', NAMES, { samplingMs: 300 }, { host: HOST });
  nodes = cluster.nodes as RunningNode[];
}, 60_000);

afterAll(() => cluster.close());

describe('rebalancing from monitoring', () => {
  it('an overloaded node migrates a compute away; the compute keeps its id and stays reachable through every node', async () => {
    const a = nodes[0]!;
    const entry = occiClient(a.url);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      // Let monitoring see the previous computes idle (a CPU-time delta) before the next admission.
      await until('idle computes', async () => {
        await a.cloud!.sample();
        // Idle: each compute counts its share of the host only (1 core at 4 vCPUs per core).
        return a.cloud!.monitor.usage().cpu <= ids.length * 25 + 5;
      });
      const res = await entry.post('/compute/', { kind: COMPUTE, mixins: [SMALL], attributes: { 'occi.core.title': `busy-${i}` } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body.attributes['discovery.placement.node']).toBe('edge-a');
      ids.push(res.headers.location.split('/').pop()!);
    }
    const sim = a.hypervisor as SimulatedHypervisor;
    for (const id of ids) sim.setLoad(id, 100, 512);

    // Reads through another node never fail while the plan is applied.
    const reader = occiClient(nodes[2]!.url);
    const statuses = new Set<number>();
    const moved = await until('a migration away from edge-a', async () => {
      for (const id of ids) statuses.add((await reader.get(`/compute/${id}`)).status);
      const away = ids.filter((id) => !a.service.holds(id));
      return away.length > 0 ? away : undefined;
    }, 30_000, 100);
    expect([...statuses]).toEqual([200]);
    for (const id of moved) {
      const res = await occiClient(nodes[1]!.url).get(`/compute/${id}`);
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(id);
      expect(res.body.attributes['discovery.placement.node']).not.toBe('edge-a');
      const holder = nodes.find((n) => n.service.holds(id))!;
      expect((await holder.hypervisor!.domainInfo(id)).state).toBe('running');
      expect((await a.hypervisor!.listDomains()).some((d) => d.id === id)).toBe(false);
    }
    // edge-a is within capacity again (CPU measured over wall-clock intervals: within 1 %).
    await a.cloud!.sample();
    expect(a.cloud!.monitor.load().cpu).toBeLessThanOrEqual(200 * 1.01);
  }, 60_000);
});
