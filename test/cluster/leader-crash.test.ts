import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from '../../src/node.js';
import { occiClient } from '../helpers/client.js';
import { type Cluster, holdersOf, small, startCluster, until } from '../helpers/mesh-cluster.js';

/** Five nodes: losing the holder and a partition leader leaves three of its replica set of five, a majority. */
const NAMES = ['lc-a', 'lc-b', 'lc-c', 'lc-d', 'lc-e'];
/** Every mesh message waits 150 ms: a partition that grows lasts long enough to lose its leader. */
const RTT_MS = 300;
const LEASE_MS = 3000;
let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster('leader-crash-test', NAMES, { agent: { leaseMs: LEASE_MS, keepaliveMs: 1000 } }, { rttMs: RTT_MS });
}, 60_000);

afterAll(async () => {
  await cluster?.close();
});

async function fill(node: RunningNode, title: string, n: number): Promise<string[]> {
  const ids = [];
  for (let i = 0; i < n; i++) {
    const res = await occiClient(node.url).post('/compute/', small(`${title}-${i}`));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.attributes['discovery.placement.node']).toBe(node.mesh!.self().name);
    ids.push(res.body.id);
  }
  return ids;
}

describe('a partition whose leader dies', () => {
  it('is released by the lease and its node-loss event is raised again until the computes run', async () => {
    const a = cluster.nodes[0]!;
    const lost = await fill(a, 'lost', 2);
    // The heir of a's computes is full: its partition must grow to a neighbour, which then leads.
    const heirKey = a.resilience!.replicator.holders()[0]!;
    const heir = cluster.nodes.find((n) => n?.mesh?.key === heirKey)!;
    await fill(heir, 'heir', 2);
    await Promise.all(cluster.nodes.map((n) => n!.cloud!.sample()));

    await cluster.crash(0);
    // The first partition raised by the heir, led by another node: crash that leader mid-way.
    const leaderIndex = await until(
      'a leader of the heir\'s partition other than the heir',
      () => {
        const i = cluster.nodes.findIndex((n) => n && n !== heir && n.cloud!.agent.isLeader && n.cloud!.agent.partition?.startsWith(`${heirKey}#`));
        return i >= 0 ? i : undefined;
      },
      20_000,
      5,
    );
    const pid = cluster.nodes[leaderIndex]!.cloud!.agent.partition;
    expect(lost.every((id) => holdersOf(cluster, id).length === 0)).toBe(true);
    const crashedAt = Date.now();
    await cluster.crash(leaderIndex);
    // The heir, a member of that partition, frees itself once the leader stays silent for a lease
    // (bounded wait: a few leases, for a loaded machine).
    await until('the heir to leave the dead partition', () => heir.cloud!.agent.partition !== pid, 4 * LEASE_MS, 20);
    const freedMs = Date.now() - crashedAt;
    // The event is raised again, and the computes run once each on the nodes left with room.
    await until('the lost computes to run again', () => lost.every((id) => holdersOf(cluster, id).length === 1), 40_000);
    for (const id of lost) {
      const [holder] = holdersOf(cluster, id);
      const node = cluster.nodes.find((n) => n?.mesh?.self().name === holder)!;
      expect(node).not.toBe(heir);
      expect((await node.hypervisor!.listDomains()).find((d) => d.id === id)?.state).toBe('running');
    }
    console.log(`leader crash: heir freed ${freedMs} ms after the leader's crash; computes running ${Date.now() - crashedAt} ms after it`);
  }, 60_000);
});
