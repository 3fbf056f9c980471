/**
 * Any node accepts any request, links and collection-wide requests included: three node processes
 * (FR, DE, JP) over a loopback testnet with the countries RTTs, simulated hosts. A compute created
 * through FR near JP is held by JP; links to it, a compute created with inline links to another
 * node's storage and network (held by the storage's node), actions on the whole compute collection
 * and the deletion of the collection work through every node; a storagelink to a storage another
 * node holds moves the compute there, and the moved computes still answer actions on the collection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCALITY, PLACEMENT_NODE, type ProcessCluster, startProcessCluster } from '../helpers/process-cluster.js';
import { COMPUTE, NETWORK, NETWORKINTERFACE, SMALL, STORAGE, STORAGELINK } from '../helpers/node.js';

let pc: ProcessCluster;
const SITES = ['FR', 'DE', 'JP'] as const;
const STOP = 'http://schemas.ogf.org/occi/infrastructure/compute/action#stop';
const START = 'http://schemas.ogf.org/occi/infrastructure/compute/action#start';

beforeAll(async () => {
  pc = await startProcessCluster({ sites: [...SITES] });
}, 240_000);

afterAll(async () => {
  await pc?.close();
}, 60_000);

async function computeNearJp(title: string): Promise<string> {
  const res = await pc.create('FR', { 'occi.core.title': title, 'discovery.locality.near': 'JP' }, [SMALL, LOCALITY]);
  expect(res.status, res.text).toBe(201);
  expect(res.body.attributes[PLACEMENT_NODE]).toBe(pc.node('JP').name);
  return res.body.id as string;
}

/** A GFD.226 link document from a compute to a resource. */
const link = (kind: string, vm: string, targetKind: string, target: string) => ({
  kind,
  source: { location: `/compute/${vm}`, kind: COMPUTE },
  target: { location: target, kind: targetKind },
});

async function created(through: string, path: string, body: unknown): Promise<string> {
  const res = await pc.client(through).post(path, body);
  expect(res.status, `${path} through ${through}: ${res.status} ${res.text}\n${pc.warnings()}`).toBe(201);
  return res.body.id as string;
}

describe('links and collections through every node', () => {
  it('links a compute held by a third node through every node: a storage on its node, a network held elsewhere', async () => {
    const vm = await computeNearJp('linked');
    const storage = await created('JP', '/storage/', { kind: STORAGE, attributes: { 'occi.storage.size': 1 } });
    const network = await created('DE', '/network/', { kind: NETWORK, attributes: { 'occi.core.title': 'lan' } });
    const links: string[] = [];
    for (const through of SITES) {
      links.push(await created(through, '/storagelink/', link(STORAGELINK, vm, STORAGE, `/storage/${storage}`)));
      links.push(await created(through, '/networkinterface/', link(NETWORKINTERFACE, vm, NETWORK, `/network/${network}`)));
    }
    // Every node shows the compute with its six links, held by JP.
    for (const through of SITES) {
      const res = await pc.client(through).get(`/compute/${vm}`);
      expect(res.status).toBe(200);
      expect(res.body.links.map((l: { id: string }) => l.id).sort()).toEqual([...links].sort());
      expect(res.headers['x-discovery-served-by']).toBe(pc.node('JP').name);
    }
    // A link is an entity like any other: deleted through a node that does not hold it.
    expect((await pc.client('FR').delete(`/storagelink/${links[0]}`)).status).toBe(200);
    expect((await pc.client('DE').get(`/storagelink/${links[0]}`)).status).toBe(404);
    await pc.remove([vm]);
  }, 120_000);

  it('a storagelink between a compute and a storage held by different nodes moves the compute to the storage, through every node', async () => {
    const storage = await created('DE', '/storage/', { kind: STORAGE, attributes: { 'occi.storage.size': 1 } });
    const vms: string[] = [];
    for (const through of SITES) {
      const vm = await computeNearJp(`joins-de-${through}`);
      vms.push(vm);
      const res = await pc.client(through).post('/storagelink/', link(STORAGELINK, vm, STORAGE, `/storage/${storage}`));
      expect(res.status, res.text).toBe(201);
      expect(await pc.nodeOf(vm, through)).toBe(pc.node('DE').name);
      const seen = await pc.client(through).get(`/compute/${vm}`);
      expect(seen.body.attributes['occi.compute.state']).toBe('active');
      expect(seen.body.links.map((l: { id: string }) => l.id)).toEqual([res.body.id]);
    }
    // Once moved, the computes answer actions on the whole collection through every node (404 before).
    for (const through of SITES) {
      const stop = await pc.client(through).post('/compute/?action=stop', { action: STOP });
      expect(stop.status, stop.text).toBe(200);
      expect(stop.body.resources.map((r: { id: string }) => r.id).sort()).toEqual([...vms].sort());
      for (const vm of vms) expect((await pc.client(through).get(`/compute/${vm}`)).body.attributes['occi.compute.state']).toBe('inactive');
      expect((await pc.client(through).post('/compute/?action=start', { action: START })).status).toBe(200);
    }
    await pc.remove(vms);
    expect((await pc.client('DE').delete(`/storage/${storage}`)).status).toBe(200);
  }, 180_000);

  it('a compute created through every node with inline links to a storage JP holds and a network DE holds is created on JP, with both', async () => {
    const storage = await created('JP', '/storage/', { kind: STORAGE, attributes: { 'occi.storage.size': 1 } });
    const network = await created('DE', '/network/', { kind: NETWORK, attributes: { 'occi.core.title': 'inline-lan' } });
    const vms: string[] = [];
    for (const through of SITES) {
      const links = [
        { kind: STORAGELINK, target: { location: `/storage/${storage}`, kind: STORAGE } },
        { kind: NETWORKINTERFACE, target: { location: `/network/${network}`, kind: NETWORK } },
      ];
      const vm = await created(through, '/compute/', { kind: COMPUTE, mixins: [SMALL], attributes: { 'occi.core.title': `inline-${through}` }, links });
      vms.push(vm);
      expect(await pc.nodeOf(vm, through)).toBe(pc.node('JP').name);
      for (const reader of SITES) {
        const seen = await pc.client(reader).get(`/compute/${vm}`);
        expect(seen.body.links.map((l: { target: { location: string } }) => l.target.location).sort()).toEqual([`/network/${network}`, `/storage/${storage}`]);
      }
    }
    await pc.remove(vms);
    expect((await pc.client('JP').delete(`/storage/${storage}`)).status).toBe(200);
  }, 120_000);

  it('acts on the whole compute collection through every node, the computes of every node included', async () => {
    const held = [await computeNearJp('c-jp'), await created('DE', '/compute/', { kind: COMPUTE, mixins: [SMALL] }), await created('FR', '/compute/', { kind: COMPUTE, mixins: [SMALL] })];
    const state = async (id: string) => (await pc.client('DE').get(`/compute/${id}`)).body.attributes['occi.compute.state'];
    for (const through of SITES) {
      const stop = await pc.client(through).post('/compute/?action=stop', { action: STOP });
      expect(stop.status, stop.text).toBe(200);
      expect(stop.headers['x-discovery-partial']).toBeUndefined();
      expect(stop.body.resources.map((r: { id: string }) => r.id).sort()).toEqual([...held].sort());
      for (const id of held) expect(await state(id)).toBe('inactive');
      const start = await pc.client(through).post('/compute/?action=start', { action: START });
      expect(start.status, start.text).toBe(200);
      for (const id of held) expect(await state(id)).toBe('active');
    }
    await pc.remove(held);
  }, 120_000);

  it('deletes the compute collection of every node through each node', async () => {
    for (const entry of SITES) {
      const held = [await computeNearJp(`d-jp-${entry}`), await created('DE', '/compute/', { kind: COMPUTE, mixins: [SMALL] }), await created('FR', '/compute/', { kind: COMPUTE, mixins: [SMALL] })];
      const res = await pc.client(entry).delete('/compute/');
      expect(res.status, `DELETE /compute/ through ${entry}: ${res.text}`).toBe(200);
      expect(res.headers['x-discovery-partial']).toBeUndefined();
      for (const through of SITES) {
        const list = await pc.client(through).get('/compute/');
        expect(list.body.resources ?? []).toEqual([]);
        for (const id of held) expect((await pc.client(through).get(`/compute/${id}`)).status).toBe(404);
      }
    }
  }, 180_000);
});
