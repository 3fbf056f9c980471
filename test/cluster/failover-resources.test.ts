/**
 * A compute restarted after the loss of its node brings the resources it used there: the storage
 * linked only to it (its description; the volume's data was on the lost host) and the network it
 * joins (realised on the new host). Four in-process nodes with simulated hosts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { occiClient } from '../helpers/client.js';
import { type Cluster, holdersOf, small, startCluster, until } from '../helpers/mesh-cluster.js';
import { COMPUTE, NETWORK, NETWORKINTERFACE, STORAGE, STORAGELINK } from '../helpers/node.js';
import { networkName, volumeName } from '../../src/occi/domain-spec.js';

const NAMES = ['fr-a', 'fr-b', 'fr-c', 'fr-d'];
let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster('failover-resources', NAMES);
}, 60_000);

afterAll(async () => {
  await cluster?.close();
});

const link = (kind: string, vm: string, targetKind: string, target: string) => ({ kind, source: { location: `/compute/${vm}`, kind: COMPUTE }, target: { location: target, kind: targetKind } });

describe('a compute restarted after the loss of its node', () => {
  it('brings its storage and its network with it', async () => {
    const client = occiClient(cluster.nodes[0]!.url);
    const vm = (await client.post('/compute/', small('with-resources'))).body.id as string;
    const storage = (await client.post('/storage/', { kind: STORAGE, attributes: { 'occi.storage.size': 2, 'occi.core.title': 'data' } })).body.id as string;
    const network = (await client.post('/network/', { kind: NETWORK, attributes: { 'occi.core.title': 'lan' } })).body.id as string;
    expect((await client.post('/storagelink/', link(STORAGELINK, vm, STORAGE, `/storage/${storage}`))).status).toBe(201);
    expect((await client.post('/networkinterface/', link(NETWORKINTERFACE, vm, NETWORK, `/network/${network}`))).status).toBe(201);

    await cluster.crash(0);
    const [holder] = await until('the compute held elsewhere', () => (holdersOf(cluster, vm).length === 1 ? holdersOf(cluster, vm) : undefined), 40_000);
    const node = cluster.nodes[NAMES.indexOf(holder!)]!;
    expect(node.service.holds(storage)).toBe(true);
    expect(node.service.entityAt(`/storage/${storage}`)!.attributes['occi.core.title']).toBe('data');
    expect((await node.hypervisor!.volumeInfo(volumeName(storage))).capacityGiB).toBe(2);
    expect(await node.hypervisor!.networkActive(networkName(network))).toBe(true);
    const res = await occiClient(node.url).get(`/compute/${vm}`);
    expect(res.body.links.map((l: { kind: string }) => l.kind).sort()).toEqual([NETWORKINTERFACE, STORAGELINK]);
    expect((await node.hypervisor!.domainDescription(vm)).disks.map((d) => d.volume)).toEqual([volumeName(storage)]);
  }, 60_000);
});
