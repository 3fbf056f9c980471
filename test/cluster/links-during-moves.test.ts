/**
 * Links whose ends are not where the request arrives: a link to a compute that is moving between
 * nodes, created through the node it is leaving, waits for the move and is created where the
 * compute arrives; a compute created with a link to a storage another node holds is created
 * there; a storagelink from a compute to a storage another node holds moves the compute to the
 * storage. Two in-process nodes with simulated hosts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { occiClient } from '../helpers/client.js';
import { type Cluster, holdersOf, small, startCluster } from '../helpers/mesh-cluster.js';
import { COMPUTE, NETWORK, NETWORKINTERFACE, STORAGE, STORAGELINK } from '../helpers/node.js';

const FENCE = 'http://schemas.discovery-cloud.org/occi/placement#fence';

const NAMES = ['lm-a', 'lm-b'];
let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster('links-during-moves', NAMES, {}, { host: 'sim:///?cores=4&memoryMiB=4096' });
}, 60_000);

afterAll(async () => {
  await cluster?.close();
});

describe('a link created while its source moves', () => {
  it('through the node the compute is leaving, is created on the node it moves to', async () => {
    const [a, b] = [cluster.nodes[0]!, cluster.nodes[1]!];
    const client = occiClient(a.url);
    const vm = (await client.post('/compute/', small('leaving'))).body.id as string;
    // The network is held by the node the compute leaves: a networkinterface may end anywhere.
    const network = (await client.post('/network/', { kind: NETWORK, attributes: { 'occi.core.title': 'lan' } })).body.id as string;
    const move = a.cloud!.moves.moveTo(vm, b.mesh!.key);
    const res = await client.post('/networkinterface/', {
      kind: NETWORKINTERFACE,
      source: { location: `/compute/${vm}`, kind: COMPUTE },
      target: { location: `/network/${network}`, kind: NETWORK },
    });
    await move;
    expect(res.status, res.text).toBe(201);
    expect(res.headers['x-discovery-served-by']).toBe('lm-b');
    expect(holdersOf(cluster, vm)).toEqual(['lm-b']);
    const seen = await occiClient(b.url).get(`/compute/${vm}`);
    expect(seen.body.links.map((l: { id: string }) => l.id)).toEqual([res.body.id]);
  }, 60_000);

  it('a compute created with a link to a storage another node holds is created on that node', async () => {
    const [a, b] = [cluster.nodes[0]!, cluster.nodes[1]!];
    const storage = (await occiClient(b.url).post('/storage/', { kind: STORAGE, attributes: { 'occi.storage.size': 1 } })).body.id as string;
    const res = await occiClient(a.url).post('/compute/', { ...small('with-disk'), links: [{ kind: STORAGELINK, target: { location: `/storage/${storage}`, kind: STORAGE } }] });
    expect(res.status, res.text).toBe(201);
    expect(holdersOf(cluster, res.body.id)).toEqual(['lm-b']);
    expect(res.body.links.map((l: { target: { location: string } }) => l.target.location)).toEqual([`/storage/${storage}`]);
  }, 60_000);

  it('a storagelink from a compute to a storage another node holds moves the compute there, through either node', async () => {
    const [a, b] = [cluster.nodes[0]!, cluster.nodes[1]!];
    for (const through of [a, b]) {
      const vm = (await occiClient(a.url).post('/compute/', small('joins-its-disk'))).body.id as string;
      const storage = (await occiClient(b.url).post('/storage/', { kind: STORAGE, attributes: { 'occi.storage.size': 1 } })).body.id as string;
      expect(holdersOf(cluster, vm)).toEqual(['lm-a']);
      const res = await occiClient(through.url).post('/storagelink/', {
        kind: STORAGELINK,
        source: { location: `/compute/${vm}`, kind: COMPUTE },
        target: { location: `/storage/${storage}`, kind: STORAGE },
      });
      expect(res.status, res.text).toBe(201);
      expect(holdersOf(cluster, vm)).toEqual(['lm-b']);
      const seen = await occiClient(a.url).get(`/compute/${vm}`);
      expect(seen.body.attributes['occi.compute.state']).toBe('active');
      expect(seen.body.links.map((l: { id: string }) => l.id)).toEqual([res.body.id]);
      expect((await occiClient(a.url).delete(`/compute/${vm}`)).status).toBe(200);
    }
  }, 60_000);

  it('a compute whose placement keeps it from the storage\'s node is not moved: 409 naming the holder', async () => {
    const [a, b] = [cluster.nodes[0]!, cluster.nodes[1]!];
    const vm = (await occiClient(a.url).post('/compute/', small('fenced', { mixins: [FENCE], attributes: { 'discovery.placement.nodes': 'lm-a' } }))).body.id as string;
    const storage = (await occiClient(b.url).post('/storage/', { kind: STORAGE, attributes: { 'occi.storage.size': 1 } })).body.id as string;
    const res = await occiClient(a.url).post('/storagelink/', {
      kind: STORAGELINK,
      source: { location: `/compute/${vm}`, kind: COMPUTE },
      target: { location: `/storage/${storage}`, kind: STORAGE },
    });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toContain(`/storage/${storage} is held by lm-b, not by lm-a`);
    expect(holdersOf(cluster, vm)).toEqual(['lm-a']);
  }, 60_000);
});
