import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCluster, QEMU_HOSTS } from '../../src/cli/local-cluster.js';
import { occiClient } from '../helpers/client.js';
import { COMPUTE } from '../helpers/node.js';
import { BOOT_TIMEOUT_MS, GUEST_MEMORY_GIB, GUEST_TEST_TIMEOUT_MS, lastHeartbeat, OS_TPL, waitForConsole } from './qemu-helpers.js';

const LOCALITY = 'http://schemas.discovery-cloud.org/occi/placement#locality';
let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await LocalCluster.start({ nodes: 2, hypervisor: QEMU_HOSTS, auth: 'none' });
  await cluster.waitForMembership();
}, BOOT_TIMEOUT_MS);

afterAll(async () => {
  const daemons = cluster?.nodes.map((n) => n.daemon!) ?? [];
  await cluster?.close();
  // Every node's daemon is gone with the cluster, and its directory.
  for (const d of daemons) expect(existsSync(d.root)).toBe(false);
}, BOOT_TIMEOUT_MS);

describe('a local cluster of real hosts', () => {
  it('gives every node a libvirt daemon of its own; a guest created through one node runs on the other, and its console reads through either', async () => {
    const [first, second] = cluster.nodes;
    expect(first!.daemon!.uri).not.toBe(second!.daemon!.uri);
    const res = await occiClient(first!.url).post('/compute/', {
      kind: COMPUTE,
      mixins: [OS_TPL, LOCALITY],
      attributes: { 'occi.compute.cores': 1, 'occi.compute.memory': GUEST_MEMORY_GIB, 'discovery.locality.near': 'node-2' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.attributes['discovery.placement.node']).toBe('node-2');
    const location = res.headers.location as string;
    // Read through node-1: the edge forwards the console path to node-2, which holds the compute.
    const console = await waitForConsole(occiClient(first!.url), location, (c) => lastHeartbeat(c) >= 2);
    expect(console).toContain(`discovery: instance-id ${location.split('/').pop()}`);
    await waitForConsole(occiClient(second!.url), location, (c) => lastHeartbeat(c) >= 3);
    expect((await occiClient(first!.url).delete(location)).status).toBe(200);
  }, GUEST_TEST_TIMEOUT_MS);
});
