/**
 * Disk in admission: three node processes (FR, DE, JP) on libvirt's test driver, each its own host
 * whose pool holds 100 GiB. A compute with an os_tpl needs a 20 GiB root disk: created through a
 * node whose pool is full, it is admitted on a node with room; once no node has room, the answer
 * is 507 naming each node's free space, and nothing is created.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLACEMENT_NODE, type ProcessCluster, startProcessCluster } from '../helpers/process-cluster.js';
import { DEBIAN, SMALL, STORAGE } from '../helpers/node.js';

let pc: ProcessCluster;
const SITES = ['FR', 'DE', 'JP'] as const;

beforeAll(async () => {
  pc = await startProcessCluster({ sites: [...SITES], hypervisor: 'test:///default' });
}, 240_000);

afterAll(async () => {
  await pc?.close();
}, 60_000);

/** Fills a node's pool with storages of `sizeGiB` (held where they are created) until it answers 507. */
async function fill(site: string, sizeGiB: number): Promise<void> {
  for (let i = 0; i < 200 / sizeGiB; i++) {
    const res = await pc.client(site).post('/storage/', { kind: STORAGE, attributes: { 'occi.storage.size': sizeGiB } });
    if (res.status === 507) return;
    expect(res.status, res.text).toBe(201);
  }
  throw new Error(`${site}'s pool never filled`);
}

const computeIds = async () => ((await pc.client('FR').get('/compute/')).body.resources as Array<{ id: string }>).map((r) => r.id).sort();

describe('a compute goes where its root disk fits', () => {
  it('through a node whose pool is full, a compute with an os_tpl is admitted on a node with room', async () => {
    await fill('FR', 10);
    const res = await pc.create('FR', { 'occi.core.title': 'rooted' }, [DEBIAN, SMALL]);
    expect(res.status, `${res.text}\n${pc.warnings()}`).toBe(201);
    expect(res.body.attributes[PLACEMENT_NODE]).not.toBe(pc.node('FR').name);
    expect([pc.node('DE').name, pc.node('JP').name]).toContain(res.body.attributes[PLACEMENT_NODE]);
    // A compute without an os_tpl needs no disk: still served where it is asked.
    const plain = await pc.create('FR', { 'occi.core.title': 'diskless' }, [SMALL]);
    expect(plain.status, plain.text).toBe(201);
    expect(plain.body.attributes[PLACEMENT_NODE]).toBe(pc.node('FR').name);
  }, 120_000);

  it('once no node has room, the answer is 507 naming every node and its free space', async () => {
    await fill('DE', 10);
    await fill('JP', 10);
    const before = await computeIds();
    // Each node publishes its free space at its monitoring round: until FR has heard from both, a
    // member may still be asked, and answers 507 from its own pool.
    const refused = await pc.until('a refusal by the admission', async () => {
      const res = await pc.create('FR', { 'occi.core.title': 'no-room' }, [DEBIAN, SMALL]);
      expect(res.status, res.text).toBe(507);
      return /no node has room/.test(res.body.error.message) ? res : undefined;
    });
    expect(refused.body.error.code).toBe('INSUFFICIENT_STORAGE');
    for (const site of SITES) expect(refused.body.error.message).toMatch(new RegExp(`${pc.node(site).name} \\d+(\\.\\d)? GiB free in pool default-pool`));
    expect(refused.body.error.message).toContain("the compute's 20 GiB root disk");
    expect(await computeIds()).toEqual(before);
  }, 120_000);
});
