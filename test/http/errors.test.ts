import supertest from 'supertest';
// Its JSON answers are checked against GFD.226's schema by the hook this import installs.
import '../helpers/occi-json.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_STATUS } from '../../src/http/error-status.js';
import { occiClient, type OcciClient } from '../helpers/client.js';
import { COMPUTE, OCCI_JSON, STORAGE, startTestNode, type TestNode } from '../helpers/node.js';

let node: TestNode;
let occi: OcciClient;
let vm: string;
beforeAll(async () => {
  node = await startTestNode();
  occi = occiClient(node.url);
  vm = (await occi.post('/compute/', { kind: COMPUTE, attributes: { 'occi.core.title': 'keep' } })).headers.location;
});
afterAll(() => node.dispose());

describe('errors name their cause with the right status', () => {
  it('406 for an Accept the node cannot render', async () => {
    const res = await supertest(node.url).get(vm).set('Accept', 'application/xml');
    expect(res.status).toBe(406);
    expect(JSON.parse(res.text).error.message).toContain('application/xml');
  });

  it('415 for an unsupported Content-Type', async () => {
    const res = await supertest(node.url).post('/compute/').set('Content-Type', 'application/xml').send('<compute/>');
    expect(res.status).toBe(415);
    expect(JSON.parse(res.text).error.message).toContain('application/xml');
  });

  it.each([
    ['not JSON', '{"kind":', 'not valid JSON'],
    ['empty', '', 'empty'],
    ['wrong shape', '{"kind": 5}', 'kind'],
    ['unknown member', '{"kind":"http://schemas.ogf.org/occi/infrastructure#compute","colour":"red"}', 'colour'],
  ])('400 for a malformed body (%s)', async (_name, body, cause) => {
    const res = await occi.post('/compute/', body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('MALFORMED_BODY');
    expect(res.body.error.message).toContain(cause);
  });

  it.each([
    ['wrong type', { 'occi.compute.cores': 'many' }, 'occi.compute.cores', 'INVALID_ATTRIBUTE'],
    ['out of range', { 'occi.compute.cores': 0 }, 'occi.compute.cores', 'INVALID_ATTRIBUTE'],
    ['pattern', { 'occi.compute.hostname': 'bad host!' }, 'occi.compute.hostname', 'INVALID_ATTRIBUTE'],
    ['enum', { 'occi.compute.architecture': 'arm' }, 'occi.compute.architecture', 'INVALID_ATTRIBUTE'],
    ['unknown attribute', { 'occi.compute.colour': 'red' }, 'occi.compute.colour', 'INVALID_ATTRIBUTE'],
  ])('400 for an attribute fault (%s)', async (_name, attributes, name, code) => {
    const res = await occi.post('/compute/', { kind: COMPUTE, attributes });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code, attribute: name });
    expect(res.body.error.message).toContain(name);
  });

  it('400 for a missing required attribute', async () => {
    const res = await occi.post('/storage/', { kind: STORAGE, attributes: {} });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'MISSING_ATTRIBUTE', attribute: 'occi.storage.size' });
  });

  it('400 for an unknown kind or mixin, or a kind that does not match the collection', async () => {
    const unknownMixin = await occi.post('/compute/', { kind: COMPUTE, mixins: ['http://example.org/x#nope'] });
    expect(unknownMixin.status).toBe(400);
    expect(unknownMixin.body.error.message).toContain('http://example.org/x#nope');
    const wrongKind = await occi.post('/compute/', { kind: STORAGE, attributes: { 'occi.storage.size': 1 } });
    expect(wrongKind.status).toBe(400);
    const misapplied = await occi.post('/storage/', { kind: STORAGE, mixins: ['http://schemas.discovery-cloud.org/occi/resource_tpl#small'], attributes: { 'occi.storage.size': 1 } });
    expect(misapplied.status).toBe(400);
    expect(misapplied.body.error.message).toContain('does not apply');
  });

  it('400 when an update changes an immutable attribute, and nothing changes', async () => {
    const before = (await occi.get(vm)).body;
    const res = await occi.post(vm, { attributes: { 'occi.core.title': 'changed', 'occi.compute.state': 'inactive' } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('IMMUTABLE_ATTRIBUTE');
    expect((await occi.get(vm)).body).toEqual(before);
    const id = await occi.post(vm, { attributes: { 'occi.core.id': '1b4e28ba-2fa1-11d2-883f-0016d3cca427' } });
    expect(id.status).toBe(400);
    const message = await occi.post(vm, { attributes: { 'occi.compute.state.message': 'hi' } });
    expect(message.status).toBe(400);
    expect(message.body.error).toMatchObject({ code: 'IMMUTABLE_ATTRIBUTE', attribute: 'occi.compute.state.message' });
  });

  it('400 for a PUT id that is not a UUID', async () => {
    const res = await occi.put('/compute/not-a-uuid', { kind: COMPUTE });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('UUID');
  });

  it('404 for an unknown id or path', async () => {
    for (const path of ['/compute/1b4e28ba-2fa1-11d2-883f-0016d3cca427', '/nowhere/', '/a/b/c/d']) {
      const res = await occi.get(path);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('NOT_FOUND');
    }
  });

  it('405 with Allow for a method the path does not take', async () => {
    const patch = await supertest(node.url).patch(vm).set('Accept', OCCI_JSON);
    expect(patch.status).toBe(405);
    expect(patch.headers.allow).toBe('GET, PUT, POST, DELETE');
    const putKind = await occi.put('/compute/', { locations: [] });
    expect(putKind.status).toBe(405);
    expect(putKind.headers.allow).toContain('GET');
  });

  it('409 when creating an id that exists', async () => {
    const id = vm.split('/').pop();
    const res = await occi.post('/compute/', { kind: COMPUTE, id });
    expect(res.status).toBe(409);
  });

  it('413 for an oversized body', async () => {
    const res = await occi.post('/compute/', { kind: COMPUTE, attributes: { 'occi.core.title': 'x'.repeat(2 * 1024 * 1024) } });
    expect(res.status).toBe(413);
  });

  it('every error code is documented in the OpenAPI document with its status', async () => {
    const doc = (await occi.get('/openapi.json', { Accept: 'application/json' })).body as { 'x-error-codes': Record<string, { status: number }> };
    for (const [code, status] of Object.entries(ERROR_STATUS)) expect(doc['x-error-codes'][code]?.status, code).toBe(status);
  });
});
