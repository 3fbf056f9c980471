/**
 * A move of a compute between two nodes: one step of custody (prepare, move the guest, commit),
 * the compute's storage following it, its network realised on the target, and the guest never
 * running on both hosts. Three in-process nodes with simulated hosts, each logging its domains'
 * states (the simulated driver's event log).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { occiClient } from '../helpers/client.js';
import { type Cluster, holdersOf, small, startCluster } from '../helpers/mesh-cluster.js';
import { COMPUTE, NETWORK, NETWORKINTERFACE, STORAGE, STORAGELINK } from '../helpers/node.js';
import { networkName, volumeName } from '../../src/occi/domain-spec.js';

const NAMES = ['mv-a', 'mv-b', 'mv-c'];
let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster('moves-test', NAMES, { failures: { replicas: 2 } }, { host: 'sim:///?cores=4&memoryMiB=4096', eventLogs: true });
}, 60_000);

afterAll(async () => {
  await cluster?.close();
});

const link = (kind: string, vm: string, targetKind: string, target: string) => ({
  kind,
  source: { location: `/compute/${vm}`, kind: COMPUTE },
  target: { location: target, kind: targetKind },
});

describe('a move between nodes', () => {
  it('takes the compute, its links and its storage to the target in one step; the network is realised there; the guest never runs on both', async () => {
    const [a, b] = [cluster.nodes[0]!, cluster.nodes[1]!];
    const client = occiClient(a.url);
    const vm = (await client.post('/compute/', small('moving'))).body.id as string;
    const storage = (await client.post('/storage/', { kind: STORAGE, attributes: { 'occi.storage.size': 1 } })).body.id as string;
    const network = (await client.post('/network/', { kind: NETWORK, attributes: { 'occi.core.title': 'lan' } })).body.id as string;
    for (const [kind, tk, t] of [[STORAGELINK, STORAGE, `/storage/${storage}`], [NETWORKINTERFACE, NETWORK, `/network/${network}`]] as const) {
      expect((await client.post(kind === STORAGELINK ? '/storagelink/' : '/networkinterface/', link(kind, vm, tk, t))).status).toBe(201);
    }

    await a.cloud!.moves.moveTo(vm, b.mesh!.key);

    expect(holdersOf(cluster, vm)).toEqual(['mv-b']);
    expect(b.service.holds(storage)).toBe(true);
    expect(a.service.holds(storage)).toBe(false);
    expect(a.service.holds(network)).toBe(true); // the network stays; b realised it for the compute
    expect(await b.hypervisor!.networkActive(networkName(network))).toBe(true);
    const moved = b.service.entityAt(`/compute/${vm}`)!;
    expect(moved.attributes['discovery.placement.generation']).toBe(2);
    expect((await b.hypervisor!.domainInfo(vm)).state).toBe('running');
    expect((await a.hypervisor!.domainInfo(vm)).state).toBe('absent');
    expect((await b.hypervisor!.volumeInfo(volumeName(storage))).name).toBe(volumeName(storage));
    await expect(a.hypervisor!.volumeInfo(volumeName(storage))).rejects.toThrow();
    // Through every node: the compute with both links, the storage, held by b.
    for (const n of cluster.nodes) {
      const res = await occiClient(n!.url).get(`/compute/${vm}`);
      expect(res.status).toBe(200);
      expect(res.body.links).toHaveLength(2);
      expect((await occiClient(n!.url).get(`/storage/${storage}`)).headers['x-discovery-served-by']).toBe('mv-b');
    }
    // The event logs: a's guest paused before b's started, and never both running.
    const events = (name: string) =>
      readFileSync(join(cluster.dirs[NAMES.indexOf(name)]!, 'sim-events.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { t: number; id: string; state: string })
        .filter((e) => e.id === vm);
    const aLeft = events('mv-a').find((e) => e.state !== 'running' && e.t > events('mv-a').find((x) => x.state === 'running')!.t)!;
    const bStarted = events('mv-b').find((e) => e.state === 'running')!;
    expect(aLeft.t).toBeLessThanOrEqual(bStarted.t);
  }, 60_000);
});
