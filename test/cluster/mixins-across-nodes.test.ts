/**
 * User mixins are unique mesh-wide and live on the node they were created on; any node deletes
 * one: three node processes (FR, DE, JP), simulated hosts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProcessCluster, startProcessCluster } from '../helpers/process-cluster.js';

let pc: ProcessCluster;
const SITES = ['FR', 'DE', 'JP'] as const;

beforeAll(async () => {
  pc = await startProcessCluster({ sites: [...SITES] });
}, 240_000);

afterAll(async () => {
  await pc?.close();
}, 60_000);

// pOCCI's CORE/CREATE/006 mixin, in text/plain.
const MIXIN = 'Category: stufik; scheme="http://example.com/occi/my_stuff#"; class="mixin"';
const DEFINITION = `${MIXIN}; location="/mixin/resource_tpl/extra_large/"; rel="http://schemas.ogf.org/occi/infrastructure#resource_tpl"`;
const TEXT = { 'Content-Type': 'text/plain', Accept: 'text/plain' };
const listed = async (site: string) => (await pc.client(site).get('/-/', { Accept: 'text/plain' })).text.includes('stufik;');

describe('a user mixin through every node', () => {
  it('is deleted through a node that does not have it, then can be defined again anywhere', async () => {
    expect((await pc.client('FR').post('/-/', DEFINITION, TEXT)).status).toBe(200);
    for (const site of SITES) expect(await listed(site)).toBe(true);
    expect((await pc.client('JP').post('/-/', DEFINITION, TEXT)).status).toBe(409);
    const removed = await pc.client('DE').delete('/-/', MIXIN, TEXT);
    expect(removed.status, removed.text).toBe(200);
    for (const site of SITES) expect(await listed(site)).toBe(false);
    expect((await pc.client('JP').post('/-/', DEFINITION, TEXT)).status).toBe(200);
    expect((await pc.client('FR').delete('/-/', MIXIN, TEXT)).status).toBe(200);
    // A mixin no node has is still unknown, wherever it is deleted.
    const unknown = await pc.client('DE').delete('/-/', MIXIN, TEXT);
    expect(unknown.status).toBe(400);
    expect(unknown.text).toContain('UNKNOWN_CATEGORY');
  }, 120_000);
});
