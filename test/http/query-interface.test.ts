import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { occiClient, type OcciClient } from '../helpers/client.js';
import { COMPUTE, NETWORK, NETWORKINTERFACE, SMALL, startTestNode, type TestNode } from '../helpers/node.js';
import { entityPath } from '../helpers/occi-json.js';

const CORE = 'http://schemas.ogf.org/occi/core#';

let node: TestNode;
let occi: OcciClient;
beforeAll(async () => {
  node = await startTestNode();
  occi = occiClient(node.url);
});
afterAll(() => node.dispose());

describe('query interface', () => {
  it.each(['/-/', '/.well-known/org/ogf/occi/-/', '/-'])('%s lists kinds, mixins and actions', async (path) => {
    const res = await occi.get(path);
    expect(res.status).toBe(200);
    const kinds = res.body.kinds.map((k: { scheme: string; term: string }) => k.scheme + k.term);
    expect(kinds).toEqual(expect.arrayContaining([COMPUTE, 'http://schemas.ogf.org/occi/core#link', 'http://schemas.ogf.org/occi/infrastructure#storagelink']));
    const compute = res.body.kinds.find((k: { term: string }) => k.term === 'compute');
    expect(compute.location).toBe('/compute/');
    expect(compute.parent).toBe('http://schemas.ogf.org/occi/core#resource');
    expect(compute.actions).toContain('http://schemas.ogf.org/occi/infrastructure/compute/action#stop');
    expect(compute.attributes['occi.compute.state']).toMatchObject({ mutable: false, required: true, type: 'string' });
    const small = res.body.mixins.find((m: { scheme: string; term: string }) => m.scheme + m.term === SMALL);
    expect(small.depends).toEqual(['http://schemas.ogf.org/occi/infrastructure#resource_tpl']);
    const stop = res.body.actions.find((a: { scheme: string; term: string }) => a.term === 'stop' && a.scheme.includes('compute'));
    expect(stop.attributes.method.pattern.enum).toEqual(['graceful', 'acpioff', 'poweroff']);
  });

  it('filters by category', async () => {
    const res = await occi.get(`/-/?category=${encodeURIComponent(COMPUTE)}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ kinds: [expect.objectContaining({ term: 'compute' })], mixins: [], actions: [] });
  });

  it('names an unknown category in the filter (400)', async () => {
    const res = await occi.get(`/-/?category=${encodeURIComponent('http://example.org/x#nope')}`);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('http://example.org/x#nope');
  });

  it('core#resource and core#link have locations that list every resource and every link the principal sees, read-only', async () => {
    const kinds = (await occi.get('/-/')).body.kinds as Array<{ term: string; scheme: string; location?: string }>;
    expect(kinds.find((k) => k.term === 'resource' && k.scheme === CORE)?.location).toBe('/resource/');
    expect(kinds.find((k) => k.term === 'link' && k.scheme === CORE)?.location).toBe('/link/');
    const net = (await occi.post('/network/', { kind: NETWORK, attributes: {} })).headers.location;
    const vm = await occi.post('/compute/', { kind: COMPUTE, attributes: {}, links: [{ kind: NETWORKINTERFACE, target: { location: net } }] });
    const resources = (await occi.get('/resource/')).body.resources.map(entityPath);
    expect(resources).toEqual(expect.arrayContaining([net, vm.headers.location]));
    expect((await occi.get('/link')).body.links.map(entityPath)).toContain(entityPath(vm.body.links[0]));
    for (const res of [await occi.post('/resource/', { kind: COMPUTE, attributes: {} }), await occi.delete('/resource/'), await occi.post('/link/?action=down')]) {
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('GET');
    }
    expect((await occi.get(vm.headers.location)).status).toBe(200);
  });

  it('serves its OpenAPI document', async () => {
    const res = await occi.get('/openapi.json', { Accept: 'application/json' });
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    expect(Object.keys(res.body.paths)).toContain('/{collection}/{id}');
  });
});
