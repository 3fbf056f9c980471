import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entityPath } from '../helpers/occi-json.js';
import { occiClient, type OcciClient } from '../helpers/client.js';
import { COMPUTE, NETWORK, NETWORKINTERFACE, STORAGE, STORAGELINK, startTestNode, type TestNode } from '../helpers/node.js';

let node: TestNode;
let occi: OcciClient;
beforeAll(async () => {
  node = await startTestNode();
  occi = occiClient(node.url);
});
afterAll(() => node.dispose());

const IPNETWORK = 'http://schemas.ogf.org/occi/infrastructure/network#ipnetwork';
const IPNIC = 'http://schemas.ogf.org/occi/infrastructure/networkinterface#ipnetworkinterface';

async function post(path: string, body: unknown): Promise<string> {
  const res = await occi.post(path, body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.headers.location as string;
}

describe('networks, storage and links', () => {
  it('creates a network with ipnetwork, a storage, and links them to a compute', async () => {
    const net = await post('/network/', { kind: NETWORK, mixins: [IPNETWORK], attributes: { 'occi.network.vlan': 12, 'occi.network.address': '10.1.0.0/24', 'occi.network.gateway': '10.1.0.1', 'occi.network.allocation': 'static' } });
    const disk = await post('/storage/', { kind: STORAGE, attributes: { 'occi.storage.size': 20 } });
    const vm = await post('/compute/', { kind: COMPUTE, attributes: {} });
    const nic = await occi.post('/networkinterface/', { kind: NETWORKINTERFACE, mixins: [IPNIC], source: { location: vm }, target: { location: net }, attributes: { 'occi.networkinterface.address': '10.1.0.5', 'occi.networkinterface.mac': '52:54:00:12:34:56' } });
    expect(nic.status, JSON.stringify(nic.body)).toBe(201);
    expect(nic.body).toMatchObject({ kind: NETWORKINTERFACE, source: { location: vm, kind: COMPUTE }, target: { location: net, kind: NETWORK } });
    const sl = await occi.post('/storagelink/', { kind: STORAGELINK, source: { location: vm }, target: { location: disk }, attributes: { 'occi.storagelink.deviceid': 'vdb' } });
    expect(sl.status).toBe(201);

    const rendered = (await occi.get(vm)).body;
    expect(rendered.links.map(entityPath).sort()).toEqual([nic.headers.location, sl.headers.location].sort());
    expect((await occi.get('/networkinterface/')).body.links.map(entityPath)).toContain(nic.headers.location);

    // A resource takes its links with it.
    expect((await occi.delete(vm)).status).toBe(200);
    expect((await occi.get(nic.headers.location)).status).toBe(404);
    expect((await occi.get(sl.headers.location)).status).toBe(404);
    expect((await occi.get(net)).status).toBe(200);
  });

  it('creates inline links with the resource', async () => {
    const net = await post('/network/', { kind: NETWORK, attributes: {} });
    const res = await occi.post('/compute/', { kind: COMPUTE, attributes: {}, links: [{ kind: NETWORKINTERFACE, target: { location: net, kind: NETWORK }, attributes: {} }] });
    expect(res.status).toBe(201);
    expect(res.body.links).toHaveLength(1);
    expect(res.body.links[0]).toMatchObject({ kind: NETWORKINTERFACE, source: { location: res.headers.location }, target: { location: net } });
  });

  it('refuses links to missing or wrong-kind targets, creating nothing', async () => {
    const vm = await post('/compute/', { kind: COMPUTE, attributes: {} });
    const before = (await occi.get('/networkinterface/')).body;
    const missing = await occi.post('/networkinterface/', { kind: NETWORKINTERFACE, source: { location: vm }, target: { location: '/network/1b4e28ba-2fa1-11d2-883f-0016d3cca427' } });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toContain('/network/1b4e28ba-2fa1-11d2-883f-0016d3cca427');
    const disk = await post('/storage/', { kind: STORAGE, attributes: { 'occi.storage.size': 1 } });
    const wrong = await occi.post('/networkinterface/', { kind: NETWORKINTERFACE, source: { location: vm }, target: { location: disk } });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.message).toContain('network');
    const inline = await occi.post('/compute/', { kind: COMPUTE, attributes: {}, links: [{ kind: STORAGELINK, target: { location: '/storage/1b4e28ba-2fa1-11d2-883f-0016d3cca427' } }] });
    expect(inline.status).toBe(400);
    expect((await occi.get('/networkinterface/')).body).toEqual(before);
  });
});

describe('user mixins (tags) through the query interface', () => {
  const TAG = { term: 'web', scheme: 'http://example.org/tags#', title: 'Web servers', location: '/tags/web/', applies: [COMPUTE] };
  const TAG_ID = 'http://example.org/tags#web';

  it('lives through create, tag, list, replace, untag, delete', async () => {
    const created = await occi.post('/-/', { mixins: [TAG] });
    expect(created.status).toBe(200);
    expect(created.body.mixins[0]).toMatchObject({ term: 'web', location: '/tags/web/' });
    expect((await occi.get('/-/')).body.mixins.map((m: { scheme: string; term: string }) => m.scheme + m.term)).toContain(TAG_ID);
    expect((await occi.post('/-/', { mixins: [TAG] })).status).toBe(409);

    const a = await post('/compute/', { kind: COMPUTE, attributes: { 'occi.core.title': 'a' } });
    const b = await post('/compute/', { kind: COMPUTE, attributes: { 'occi.core.title': 'b' } });
    const tagged = await occi.post('/tags/web/', { locations: [a] });
    expect(tagged.status).toBe(200);
    expect(tagged.body.resources.map(entityPath)).toEqual([a]);
    expect((await occi.get(a)).body.mixins).toContain(TAG_ID);

    const replaced = await occi.put('/tags/web', { locations: [b] });
    expect(replaced.body.resources.map(entityPath)).toEqual([b]);
    expect((await occi.get(a)).body.mixins ?? []).not.toContain(TAG_ID);

    await occi.post('/tags/web/', { locations: [a] });
    expect((await occi.delete('/tags/web/', { locations: [a] })).status).toBe(200);
    expect((await occi.get('/tags/web/')).body.resources.map(entityPath)).toEqual([b]);

    const bad = await occi.post('/tags/web/', { locations: ['/network/1b4e28ba-2fa1-11d2-883f-0016d3cca427'] });
    expect(bad.status).toBe(400);

    expect((await occi.delete('/-/', { mixins: [{ scheme: TAG.scheme, term: TAG.term }] })).status).toBe(200);
    expect((await occi.get('/tags/web/')).status).toBe(404);
    expect((await occi.get(b)).body.mixins ?? []).not.toContain(TAG_ID);
  });

  it('cannot delete a standard mixin or a missing one', async () => {
    const standard = await occi.delete('/-/', { mixins: [{ scheme: 'http://schemas.ogf.org/occi/infrastructure#', term: 'os_tpl' }] });
    expect(standard.status).toBe(405);
    const missing = await occi.delete('/-/', { mixins: [{ scheme: 'http://example.org/tags#', term: 'ghost' }] });
    expect(missing.status).toBe(400);
  });

  it('takes locations of up to three segments, with and without the trailing slash', async () => {
    const created = await occi.post('/-/', { mixins: [{ term: 'extra_large', scheme: 'http://example.org/tpl#', location: '/mixin/resource_tpl/extra_large/', applies: [COMPUTE] }] });
    expect(created.status).toBe(200);
    const vm = await post('/compute/', { kind: COMPUTE, attributes: {} });
    expect((await occi.post('/mixin/resource_tpl/extra_large', { locations: [vm] })).status).toBe(200);
    expect((await occi.get('/mixin/resource_tpl/extra_large/')).body.resources.map(entityPath)).toEqual([vm]);
    const deep = await occi.post('/-/', { mixins: [{ term: 'deep', scheme: 'http://example.org/tpl#', location: '/a/b/c/d/' }] });
    expect(deep.status).toBe(400);
    expect(deep.body.error.message).toContain('three segments');
  });

  it('refuses a location already taken by a kind', async () => {
    const res = await occi.post('/-/', { mixins: [{ term: 'clash', scheme: 'http://example.org/tags#', location: '/compute/' }] });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toContain('/compute/');
  });

  it('a template mixin location lists its members', async () => {
    const res = await occi.post('/compute/', { kind: COMPUTE, mixins: ['http://schemas.discovery-cloud.org/occi/resource_tpl#medium'], attributes: {} });
    const members = await occi.get('/resource_tpl/medium/');
    expect(members.body.resources.map(entityPath)).toContain(res.headers.location);
  });
});
