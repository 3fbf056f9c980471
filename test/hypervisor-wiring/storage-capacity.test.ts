import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { occiClient, type OcciClient } from '../helpers/client.js';
import { COMPUTE, DEBIAN, SMALL, STORAGE, startTestNode, type TestNode } from '../helpers/node.js';
import { fixtureUri } from '../hypervisor/libvirt-helpers.js';
import { create, libvirtOf, trigger } from './wiring-helpers.js';

// libvirt's test driver on a host whose 100 GiB pool holds a 70 GiB volume: 30 GiB free.
let node: TestNode;
let occi: OcciClient;
beforeAll(async () => {
  node = await startTestNode({ hypervisor: fixtureUri('small-pool') });
  occi = occiClient(node.url);
});
afterAll(() => node.dispose());

const withImage = { kind: COMPUTE, mixins: [DEBIAN, SMALL], attributes: {} };
const ids = async (path: string) => ((await occi.get(path)).body.resources as Array<{ id: string }>).map((r) => r.id);

describe('a full storage pool answers 507 naming the pool and the space', () => {
  it('the driver reports the pool: its size, its free space and the root disk a compute with an os_tpl takes', async () => {
    expect(await libvirtOf(node).storagePool()).toEqual({ name: 'default-pool', capacityGiB: 100, freeGiB: 30, rootDiskGiB: 20 });
  });

  it('a compute whose os_tpl root disk does not fit is a 507, and nothing of it is left', async () => {
    await create(occi, '/compute/', withImage);
    const before = await ids('/compute/');
    const res = await occi.post('/compute/', withImage);
    expect(res.status).toBe(507);
    expect(res.body.error).toEqual({
      status: 507,
      code: 'INSUFFICIENT_STORAGE',
      message: expect.stringMatching(/storage pool default-pool has no room for volume \S+: it needs 20 GiB, 10 GiB free of 100 GiB$/),
    });
    expect(await ids('/compute/')).toEqual(before);
    expect((await libvirtOf(node).storagePool()).freeGiB).toBe(10);
    // A compute without an os_tpl takes no disk: still created.
    await create(occi, '/compute/', { kind: COMPUTE, mixins: [SMALL], attributes: {} });
  });

  it('a storage, its resize and a snapshot beyond the free space are 507 in every rendering', async () => {
    const disk = await create(occi, '/storage/', { kind: STORAGE, attributes: { 'occi.storage.size': 6 } });
    const big = await occi.post('/storage/', { kind: STORAGE, attributes: { 'occi.storage.size': 5 } });
    expect(big.status).toBe(507);
    expect(big.body.error.message).toMatch(/storage pool default-pool has no room for volume \S+: it needs 5 GiB, 4 GiB free of 100 GiB$/);
    const text = await occi.post('/storage/', `Category: storage;scheme="http://schemas.ogf.org/occi/infrastructure#";class="kind"\nX-OCCI-Attribute: occi.storage.size=5\n`, { 'Content-Type': 'text/plain', Accept: 'text/plain' });
    expect(text.status).toBe(507);
    expect(text.text).toContain('INSUFFICIENT_STORAGE');
    expect(text.text).toContain('storage pool default-pool has no room');
    const resize = await trigger(occi, disk.location, 'resize', { size: 12 });
    expect(resize.status).toBe(507);
    expect(resize.body.error.message).toMatch(/storage pool default-pool has no room for volume \S+: it needs 6 GiB more, 4 GiB free of 100 GiB$/);
    expect((await occi.get(disk.location)).body.attributes['occi.storage.size']).toBe(6);
    const snapshot = await trigger(occi, disk.location, 'snapshot');
    expect(snapshot.status).toBe(507);
    expect(snapshot.body.error.message).toMatch(/needs 6 GiB, 4 GiB free of 100 GiB$/);
  });
});
