import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import createTestnet, { type Testnet } from 'hyperdht/testnet.js';
import { pino } from 'pino';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StateOnlyBackend } from '../../src/occi/backend.js';
import { startNode, type RunningNode } from '../../src/node.js';
import { occiClient } from '../helpers/client.js';
import { entityPath } from '../helpers/occi-json.js';
import { COMPUTE, NETWORK, OCCI_JSON, SMALL } from '../helpers/node.js';

const P = 'http://schemas.discovery-cloud.org/occi/placement#';
const NAMES = ['edge-fr', 'edge-de', 'edge-jp'];

let testnet: Testnet;
const nodes: RunningNode[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  testnet = await createTestnet(3, { host: '127.0.0.1' });
  // Started one after another: peers that join at the same instant may miss each other.
  for (const [i, name] of NAMES.entries()) {
    const dataDir = mkdtempSync(join(tmpdir(), `mesh-node-${i}-`));
    dirs.push(dataDir);
    nodes.push(
      await startNode({
        port: 0,
        dataDir,
        name,
        backend: new StateOnlyBackend(),
        logger: pino({ level: 'silent' }),
        auth: 'none',
        mesh: { secret: 'forwarding-test', bootstrap: testnet.bootstrap, site: ['FR', 'DE', 'JP'][i], forwardTimeoutMs: 2000, tuning: { connectionTimeoutMs: 1500, heartbeatTimeoutMs: 1500, requestTimeoutMs: 1500 } },
      }),
    );
  }
  await Promise.all(nodes.map((n) => n.mesh!.waitForMembers(NAMES.length - 1, 20_000)));
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(nodes.map((n) => n.close()));
  await testnet.destroy();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

describe('a request at any node is served where it belongs', () => {
  let vm: string;

  it('a compute created through node 1 with a locality near node 3 is held by node 3', async () => {
    const res = await occiClient(nodes[0]!.url).post('/compute/', {
      kind: COMPUTE,
      mixins: [SMALL, `${P}locality`],
      attributes: { 'occi.core.title': 'near-jp', 'discovery.locality.near': 'JP' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    vm = res.headers.location;
    expect(res.body.attributes['discovery.placement.node']).toBe('edge-jp');
    expect(res.body.mixins).toContain(`${P}placement`);
    expect(nodes[2]!.service.holds(vm.split('/').pop()!)).toBe(true);
    expect(nodes[0]!.service.holds(vm.split('/').pop()!)).toBe(false);
  });

  it('is read, updated, actioned and deleted through node 2', async () => {
    const via2 = occiClient(nodes[1]!.url);
    const read = await via2.get(vm);
    expect(read.status).toBe(200);
    expect(read.body.attributes['discovery.placement.node']).toBe('edge-jp');
    const updated = await via2.post(vm, { attributes: { 'occi.core.title': 'renamed' } });
    expect(updated.status).toBe(200);
    expect(updated.body.title).toBe('renamed');
    const stopped = await via2.post(`${vm}?action=stop`);
    expect(stopped.status).toBe(200);
    expect(stopped.body.attributes['occi.compute.state']).toBe('inactive');
    expect((await occiClient(nodes[2]!.url).get(vm)).body.attributes['occi.compute.state']).toBe('inactive');
    expect((await via2.delete(vm)).status).toBe(200);
    expect((await via2.get(vm)).status).toBe(404);
    expect((await occiClient(nodes[2]!.url).get(vm)).status).toBe(404);
  });

  it('a creation without locality stays on the entry node, and any node lists every member\'s entities', async () => {
    const created = await Promise.all(nodes.map((n, i) => occiClient(n.url).post('/network/', { kind: NETWORK, attributes: { 'occi.core.title': `net-${i}` } })));
    const locations = created.map((r) => r.headers.location as string);
    created.forEach((r, i) => expect(nodes[i]!.service.holds((r.headers.location as string).split('/').pop()!)).toBe(true));
    for (const n of nodes) {
      const res = await occiClient(n.url).get('/network/');
      expect(res.status).toBe(200);
      expect(res.headers['x-discovery-partial']).toBeUndefined();
      expect(res.body.resources.map(entityPath).sort()).toEqual([...locations].sort());
    }
  });

  it('names an unknown locality with a 400, and creates nothing', async () => {
    const res = await occiClient(nodes[0]!.url).post('/compute/', { kind: COMPUTE, mixins: [`${P}locality`], attributes: { 'discovery.locality.near': 'Atlantis' } });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('Atlantis');
  });

  it('a request for an entity held by a stopped member gets a clear 503/504, not a hang', async () => {
    const res = await occiClient(nodes[0]!.url).post('/compute/', { kind: COMPUTE, mixins: [`${P}locality`], attributes: { 'discovery.locality.near': 'edge-jp' } });
    const location = res.headers.location as string;
    const via2 = occiClient(nodes[1]!.url);
    expect((await via2.get(location)).status).toBe(200); // cached at node 2
    await nodes[2]!.close();
    const started = Date.now();
    const answer = await supertest(nodes[1]!.url).get(location).set('Accept', OCCI_JSON);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect([503, 504, 404]).toContain(answer.status);
    if (answer.status !== 404) expect(JSON.parse(answer.text).error.message).toContain('edge-jp');
    // Once the member is gone, collections answer from the others.
    const list = await supertest(nodes[0]!.url).get('/compute/').set('Accept', OCCI_JSON);
    expect(list.status).toBe(200);
    expect(JSON.parse(list.text).resources.map(entityPath)).not.toContain(location);
  }, 20_000);
});
