import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { entityPath } from '../helpers/occi-json.js';
import { occiClient } from '../helpers/client.js';
import { COMPUTE, NETWORK, NETWORKINTERFACE, SMALL, STORAGE, startTestNode } from '../helpers/node.js';
import { startNodeProcess } from '../helpers/process-node.js';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'occi-persist-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('persistence', () => {
  it('reads back every entity and user mixin after a restart on the same data directory', async () => {
    const dataDir = tempDir();
    const first = await startTestNode({ dataDir });
    const occi = occiClient(first.url);
    await occi.post('/-/', { mixins: [{ term: 'db', scheme: 'http://example.org/tags#', location: '/tags/db/' }] });
    const net = (await occi.post('/network/', { kind: NETWORK, attributes: { 'occi.network.vlan': 7 } })).headers.location;
    const vm = (await occi.post('/compute/', { kind: COMPUTE, mixins: [SMALL], attributes: { 'occi.core.title': 'persisted' }, links: [{ kind: NETWORKINTERFACE, target: { location: net } }] })).headers.location;
    const disk = (await occi.post('/storage/', { kind: STORAGE, attributes: { 'occi.storage.size': 3 } })).headers.location;
    await occi.post(`${vm}?action=stop`);
    await occi.post('/tags/db/', { locations: [disk] });
    const before = await Promise.all([vm, net, disk].map(async (l) => (await occi.get(l)).body));
    await first.close();

    const second = await startTestNode({ dataDir });
    const again = occiClient(second.url);
    const after = await Promise.all([vm, net, disk].map(async (l) => (await again.get(l)).body));
    expect(after).toEqual(before);
    expect(after[0].attributes['occi.compute.state']).toBe('inactive');
    expect((await again.get('/tags/db/')).body.resources.map(entityPath)).toEqual([disk]);
    await second.dispose();
  });

  it('loses nothing acknowledged when the process is killed during writes', async () => {
    const dataDir = tempDir();
    const node = await startNodeProcess(['--data-dir', dataDir]);
    const occi = occiClient(node.url);
    const acknowledged: string[] = [];
    let stop = false;
    // Four writers create computes until the process dies under them.
    const writers = Array.from({ length: 4 }, async () => {
      for (let i = 0; i < 500 && !stop; i++) {
        try {
          const res = await occi.post('/compute/', { kind: COMPUTE, mixins: [SMALL], attributes: { 'occi.core.title': `w${i}` } });
          if (res.status === 201) acknowledged.push(res.headers.location);
        } catch {
          return; // connection refused or reset: the process is gone
        }
      }
    });
    while (acknowledged.length < 40) await new Promise((r) => setTimeout(r, 5));
    await node.kill('SIGKILL');
    stop = true;
    await Promise.all(writers);

    const restarted = await startNodeProcess(['--data-dir', dataDir]);
    const list = (await occiClient(restarted.url).get('/compute/')).body.resources as Array<{ kind: string; id: string; attributes: Record<string, unknown> }>;
    await restarted.kill();
    const stored = new Set(list.map(entityPath));
    for (const l of acknowledged) expect(stored.has(l), `${l} was acknowledged`).toBe(true);
    // At most the requests in flight at the kill may have landed without an answer.
    expect(list.length - acknowledged.length).toBeLessThanOrEqual(4);
    for (const r of list) expect(r.attributes).toMatchObject({ 'occi.compute.cores': 1, 'occi.compute.memory': 1 });
  }, 60_000);
});
