import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { occiJsonSchema } from '../../src/occi/json/schema.js';
import { occiClient, type OcciClient } from '../helpers/client.js';
import { COMPUTE, NETWORK, NETWORKINTERFACE, PLACEMENT, startTestNode, STORAGE, type TestNode } from '../helpers/node.js';
import { entityPath, gfd226, gfd226Schema, schemaFault } from '../helpers/occi-json.js';

const EXAMPLES = join(import.meta.dirname, '../../vendor/occi/gfd226-examples');
const example = (file: string, adapted = false) => JSON.parse(readFileSync(join(EXAMPLES, adapted ? 'adapted' : '', file), 'utf8')) as Record<string, any>;
const IPNIC = 'http://schemas.ogf.org/occi/infrastructure/networkinterface#ipnetworkinterface';
const MEDIUM = 'http://schemas.discovery-cloud.org/occi/resource_tpl#medium';

let node: TestNode;
let occi: OcciClient;
beforeAll(async () => {
  node = await startTestNode();
  occi = occiClient(node.url);
});
afterAll(() => node.dispose());

describe('GFD.226 schema and examples (vendor/occi/)', () => {
  const definitions: Record<string, string> = {
    'resource-instance.json': 'resource',
    'link-instance.json': 'link',
    'kind-instance.json': 'kind',
    'mixin-instance.json': 'mixin',
    'action-instance.json': 'action',
    'action-invocation.json': 'action_invocation',
  };
  it.each(readdirSync(EXAMPLES).filter((f) => f.endsWith('.json')))('the specification example %s validates against its schema', (f) => {
    const validate = gfd226(definitions[f]!);
    expect(validate(example(f)), JSON.stringify(validate.errors)).toBe(true);
    if (f !== 'kind-instance.json' && f !== 'action-instance.json') expect(validate(example(f, true)), JSON.stringify(validate.errors)).toBe(true);
  });

  it('the project schema is at least as strict as GFD.226: no member GFD.226 lacks, every member GFD.226 requires', () => {
    const gfd = (gfd226Schema as unknown as { definitions: Record<string, { properties?: object; required?: string[] }> }).definitions;
    const ours = occiJsonSchema.definitions as unknown as Record<string, { properties?: object; required?: string[]; additionalProperties?: boolean }>;
    const pairs: Array<[string, string]> = [['resource', 'resource'], ['link', 'link'], ['kind', 'kind'], ['mixin', 'mixin'], ['action', 'action'], ['actionInvocation', 'action_invocation'], ['kindedLocation', 'kinded_uri']];
    for (const [mine, theirs] of pairs) {
      expect(ours[mine]!.additionalProperties, mine).toBe(false);
      expect(Object.keys(gfd[theirs]!.properties!), mine).toEqual(expect.arrayContaining(Object.keys(ours[mine]!.properties!)));
      expect(ours[mine]!.required ?? [], mine).toEqual(expect.arrayContaining(gfd[theirs]!.required ?? []));
    }
  });

  it('resources and links carry no location member (GFD.226 defines none), and every kind but core#entity has a location', async () => {
    const net = await occi.post('/network/', { kind: NETWORK, attributes: {} });
    const vm = await occi.post('/compute/', { kind: COMPUTE, attributes: {}, links: [{ kind: NETWORKINTERFACE, target: { location: net.headers.location } }] });
    expect(vm.body).not.toHaveProperty('location');
    expect(vm.body.links[0]).not.toHaveProperty('location');
    expect(entityPath(vm.body)).toBe(vm.headers.location);
    const kinds = (await occi.get('/-/')).body.kinds as Array<{ term: string; location?: string }>;
    expect(kinds.filter((k) => !k.location).map((k) => k.term)).toEqual(['entity']);
  });

  it('a document with a member GFD.226 does not define is refused (400)', async () => {
    const res = await occi.post('/compute/', { kind: COMPUTE, attributes: {}, location: '/compute/x' });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('location');
  });

  it('the schema hook catches an invalid document (a location member on a resource)', () => {
    expect(schemaFault({ kind: COMPUTE, id: 'x', attributes: {}, location: '/compute/x' })).toContain('location');
    expect(schemaFault({ kind: COMPUTE, id: 'x', attributes: {} })).toBeUndefined();
  });
});

describe("the node accepts the specification's own examples (adapted to its entities)", () => {
  const vmId = '996ad860-2a9a-504f-8861-aeafd0b2ae29';
  const nicId = '22fe83ae-a20f-54fc-b436-cec85c94c5e8';

  it('resource, action invocation and link examples, with urn:uuid ids and a server-managed interface name', async () => {
    // The network the examples link to, at the examples' own id.
    expect((await occi.put('/network/b7d55bf4-7057-5113-85c8-141871bf7635', { kind: NETWORK, attributes: {} })).status).toBe(201);
    const created = await occi.post('/compute/', example('resource-instance.json', true));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.headers.location).toBe(`/compute/${vmId}`);
    expect(created.body).toMatchObject({ id: vmId, attributes: { 'occi.compute.cores': 2, 'occi.compute.memory': 4, 'occi.compute.speed': 2 } });
    expect(created.body.links).toHaveLength(1);
    expect(created.body.links[0]).toMatchObject({ id: nicId, mixins: [IPNIC], attributes: { 'occi.networkinterface.mac': '00:80:41:ae:fd:7e', 'occi.networkinterface.address': '192.168.0.100' } });
    // occi.networkinterface.interface is the server's to set: the example's "eth0" is ignored.
    expect(created.body.links[0].attributes['occi.networkinterface.interface']).toBeUndefined();

    const stopped = await occi.post(`/compute/${vmId}?action=stop`, example('action-invocation.json', true));
    expect(stopped.status).toBe(200);
    expect(stopped.body.attributes['occi.compute.state']).toBe('inactive');

    expect((await occi.delete(`/networkinterface/${nicId}`)).status).toBe(200);
    const link = await occi.post('/networkinterface/', example('link-instance.json', true));
    expect(link.status, JSON.stringify(link.body)).toBe(201);
    expect(link.headers.location).toBe(`/networkinterface/${nicId}`);
  });

  it('mixin example: a user mixin whose attribute description sets a default', async () => {
    const res = await occi.post('/-/', example('mixin-instance.json', true));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const vm = await occi.post('/compute/', { kind: COMPUTE, mixins: ['http://example.com/template/resource#medium'], attributes: {} });
    expect(vm.status).toBe(201);
    expect(vm.body.attributes['occi.compute.speed']).toBe(2.8);
    const invented = await occi.post('/-/', { term: 'x', scheme: 'http://example.com/t#', location: '/x/', attributes: { 'com.example.colour': { type: 'string' } } });
    expect(invented.status).toBe(400);
    expect(invented.body.error.message).toContain('com.example.colour');
  });
});

describe('entity ids (GFD.221 urn:uuid)', () => {
  it('JSON: urn:uuid:<uuid> as id becomes that UUID, in POST and PUT', async () => {
    const id = '4c1a0b6e-6f0e-4c55-9d43-3f5d1e2a7b90';
    const res = await occi.post('/compute/', { kind: COMPUTE, id: `urn:uuid:${id.toUpperCase()}`, attributes: {} });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/compute/${id}`);
    const other = '5d2b1c7f-7a1f-4d66-8e54-4a6e2f3b8ca1';
    expect((await occi.put(`/compute/${other}`, { kind: COMPUTE, id: `urn:uuid:${other}`, attributes: {} })).status).toBe(201);
    expect((await occi.post('/compute/', { kind: COMPUTE, id: 'urn:uuid:not-a-uuid', attributes: {} })).status).toBe(400);
  });
});

describe('absolute URIs in JSON (link ends and mixin members)', () => {
  it('are taken when they point at this service, refused (400) when they point elsewhere', async () => {
    const base = node.url;
    const vm = (await occi.post('/compute/', { kind: COMPUTE, attributes: {} })).headers.location;
    const disk = (await occi.post('/storage/', { kind: STORAGE, attributes: { 'occi.storage.size': 1 } })).headers.location;
    const link = await occi.post('/storagelink/', { kind: 'http://schemas.ogf.org/occi/infrastructure#storagelink', source: { location: `${base}${vm}` }, target: { location: `${base}${disk}` } });
    expect(link.status, JSON.stringify(link.body)).toBe(201);
    expect(link.body).toMatchObject({ source: { location: vm }, target: { location: disk } });
    const elsewhere = await occi.post('/storagelink/', { kind: 'http://schemas.ogf.org/occi/infrastructure#storagelink', source: { location: `http://other.example:8080${vm}` }, target: { location: disk } });
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body.error.message).toContain('does not point at this service');

    expect((await occi.post('/-/', { mixins: [{ term: 'abs', scheme: 'http://example.org/tags#', location: '/abs/' }] })).status).toBe(200);
    const tagged = await occi.post('/abs/', { locations: [`${base}${vm}`] });
    expect(tagged.status).toBe(200);
    expect(tagged.body.resources.map(entityPath)).toEqual([vm]);
    expect((await occi.post('/abs/', { locations: [`https://other.example${vm}`] })).status).toBe(400);
  });
});

describe('entity collections in requests (GFD.223 §4.3)', () => {
  it('POST /compute/ with {"resources":[…]} creates each and answers the collection', async () => {
    const res = await occi.post('/compute/', { resources: [{ kind: COMPUTE, id: 'urn:uuid:6e3c2d80-8b20-4e77-9f65-5b7f304c9db2', attributes: { 'occi.core.title': 'one' } }, { kind: COMPUTE, attributes: { 'occi.core.title': 'two' } }] });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.resources.map((r: { title: string }) => r.title)).toEqual(['one', 'two']);
    for (const r of res.body.resources) expect((await occi.get(entityPath(r))).status).toBe(200);
  });

  it('all or nothing: one invalid entity and none is created', async () => {
    const before = (await occi.get('/compute/')).body.resources.length;
    const res = await occi.post('/compute/', { resources: [{ kind: COMPUTE, attributes: { 'occi.core.title': 'fine' } }, { kind: COMPUTE, attributes: { 'occi.compute.cores': 0 } }] });
    expect(res.status).toBe(400);
    expect((await occi.get('/compute/')).body.resources.length).toBe(before);
  });

  it('mixin association with an entity collection (entities named by kind and id)', async () => {
    expect((await occi.post('/-/', { mixins: [{ term: 'batch', scheme: 'http://example.org/tags#', location: '/batch/' }] })).status).toBe(200);
    const a = (await occi.post('/compute/', { kind: COMPUTE, attributes: {} })).body;
    const b = (await occi.post('/compute/', { kind: COMPUTE, attributes: {} })).body;
    const tagged = await occi.post('/batch/', { resources: [a, { kind: b.kind, id: `urn:uuid:${b.id}` }] });
    expect(tagged.status, JSON.stringify(tagged.body)).toBe(200);
    expect(tagged.body.resources.map(entityPath).sort()).toEqual([entityPath(a), entityPath(b)].sort());
    expect((await occi.delete('/batch/', { resources: [a] })).status).toBe(200);
    expect((await occi.get('/batch/')).body.resources.map(entityPath)).toEqual([entityPath(b)]);
  });
});

describe('immutable attributes are the server\'s (GFD.221)', () => {
  it('client values of server-managed attributes are ignored at creation, in every rendering', async () => {
    const json = await occi.post('/compute/', { kind: COMPUTE, mixins: [PLACEMENT], attributes: { 'occi.compute.state': 'inactive', 'occi.compute.state.message': 'hi', 'discovery.placement.node': 'elsewhere' } });
    expect(json.status).toBe(201);
    expect(json.body.attributes).toMatchObject({ 'occi.compute.state': 'active', 'discovery.placement.node': 'node' });
    expect(json.body.attributes['occi.compute.state.message']).toBeUndefined();
    const text = await occi.post('/storage/', 'Category: storage;scheme="http://schemas.ogf.org/occi/infrastructure#";class="kind"\nX-OCCI-Attribute: occi.storage.size=1\nX-OCCI-Attribute: occi.storage.state="offline"\n', { 'Content-Type': 'text/plain' });
    expect(text.status).toBe(201);
    expect((await occi.get(text.headers.location)).body.attributes['occi.storage.state']).toBe('online');
  });

  it('a resource template still sets what it sets', async () => {
    const res = await occi.post('/compute/', { kind: COMPUTE, mixins: [MEDIUM], attributes: { 'occi.compute.state': 'suspended' } });
    expect(res.body.attributes).toMatchObject({ 'occi.compute.cores': 2, 'occi.compute.state': 'active' });
  });
});
