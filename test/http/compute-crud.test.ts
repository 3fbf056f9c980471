import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entityPath } from '../helpers/occi-json.js';
import { occiClient, type OcciClient } from '../helpers/client.js';
import { COMPUTE, DEBIAN, LARGE, PLACEMENT, SMALL, startTestNode, type TestNode } from '../helpers/node.js';

let node: TestNode;
let occi: OcciClient;
beforeAll(async () => {
  node = await startTestNode();
  occi = occiClient(node.url);
});
afterAll(() => node.dispose());

const newCompute = (extra: Record<string, unknown> = {}) => ({
  kind: COMPUTE,
  mixins: [SMALL, DEBIAN],
  attributes: { 'occi.core.title': 'web-1', ...extra },
});

describe('compute lifecycle over OCCI JSON', () => {
  it('creates with POST: 201, relative Location, templates applied', async () => {
    const res = await occi.post('/compute/', newCompute());
    expect(res.status).toBe(201);
    expect(res.headers.location).toMatch(/^\/compute\/[0-9a-f-]{36}$/);
    expect(res.body).toMatchObject({
      kind: COMPUTE,
      title: 'web-1',
      id: res.headers.location.split('/').pop(),
      attributes: { 'occi.compute.cores': 1, 'occi.compute.memory': 1, 'occi.compute.state': 'active' },
    });
    expect(res.body).not.toHaveProperty('location');
    expect(res.body.mixins).toEqual([SMALL, DEBIAN, PLACEMENT]);
    expect(res.body.attributes['discovery.placement.node']).toBe('node');
    expect(res.body.actions).toContain('http://schemas.ogf.org/occi/infrastructure/compute/action#stop');
    expect(res.body.actions).not.toContain('http://schemas.ogf.org/occi/infrastructure/compute/action#start');
    const read = await occi.get(res.headers.location);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(res.body);
  });

  it('lists the collection with and without the trailing slash', async () => {
    const created = await occi.post('/compute/', newCompute({ 'occi.core.title': 'listed' }));
    for (const path of ['/compute/', '/compute']) {
      const res = await occi.get(path);
      expect(res.status).toBe(200);
      expect(res.body.resources.map(entityPath)).toContain(created.headers.location);
    }
  });

  it('explicit attributes win over template values', async () => {
    const res = await occi.post('/compute/', newCompute({ 'occi.compute.cores': 3 }));
    expect(res.body.attributes['occi.compute.cores']).toBe(3);
    expect(res.body.attributes['occi.compute.memory']).toBe(1);
  });

  it('PUT creates with the given id, then replaces', async () => {
    const id = 'b9ff813e-fee5-4a9d-b839-673f39746096';
    const created = await occi.put(`/compute/${id}`, newCompute());
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe(`/compute/${id}`);
    const replaced = await occi.put(`/compute/${id}`, { kind: COMPUTE, mixins: [LARGE], attributes: { 'occi.core.title': 'big' } });
    expect(replaced.status).toBe(200);
    expect(replaced.body.mixins).toEqual([LARGE, PLACEMENT]);
    expect(replaced.body.attributes).toMatchObject({ 'occi.compute.cores': 4, 'occi.compute.memory': 8, 'occi.compute.state': 'active' });
    expect(replaced.body.title).toBe('big');
  });

  it('POST on an entity updates partially and adds mixins', async () => {
    const created = await occi.post('/compute/', { kind: COMPUTE, attributes: { 'occi.core.title': 'a', 'occi.compute.hostname': 'a.example.org' } });
    const res = await occi.post(created.headers.location, { mixins: [DEBIAN], attributes: { 'occi.core.title': 'b' } });
    expect(res.status).toBe(200);
    expect(res.body.title).toBe('b');
    expect(res.body.attributes['occi.compute.hostname']).toBe('a.example.org');
    expect(res.body.mixins).toEqual([PLACEMENT, DEBIAN]);
  });

  it('DELETE removes the entity', async () => {
    const created = await occi.post('/compute/', newCompute());
    expect((await occi.delete(created.headers.location)).status).toBe(200);
    expect((await occi.get(created.headers.location)).status).toBe(404);
    expect((await occi.delete(created.headers.location)).status).toBe(404);
  });

  it('filters collections by category and by attribute value', async () => {
    const tagged = await occi.post('/compute/', { kind: COMPUTE, mixins: [LARGE], attributes: { 'occi.core.title': 'filter-me' } });
    const byMixin = await occi.get(`/compute/?category=${encodeURIComponent(LARGE)}`);
    expect(byMixin.body.resources.map(entityPath)).toContain(tagged.headers.location);
    expect(byMixin.body.resources.every((r: { mixins: string[] }) => r.mixins.includes(LARGE))).toBe(true);
    const byTitle = await occi.get(`/compute/?attribute=${encodeURIComponent('occi.core.title=filter-me')}`);
    expect(byTitle.body.resources.map(entityPath)).toEqual([tagged.headers.location]);
  });

  it('DELETE on the kind collection removes every compute', async () => {
    await occi.post('/compute/', newCompute());
    expect((await occi.delete('/compute/')).status).toBe(200);
    expect((await occi.get('/compute/')).body.resources).toEqual([]);
  });
});
