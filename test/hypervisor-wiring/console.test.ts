import { describe, expect, it } from 'vitest';
import { COMPUTE } from '../helpers/node.js';
import { create, useLibvirtNode } from './wiring-helpers.js';

const suite = useLibvirtNode();

describe('GET /compute/{id}/console', () => {
  it('is 501 on libvirt\'s test driver, which keeps no console; 404 for an unknown compute; 400 for a bad ?lines=', async () => {
    const { location } = await create(suite.occi, '/compute/', { kind: COMPUTE, attributes: {} });
    const res = await suite.occi.get(`${location}/console`, { Accept: 'text/plain' });
    expect(res.status).toBe(501);
    expect(res.text).toMatch(/NOT_IMPLEMENTED|no console/);
    expect((await suite.occi.get('/compute/6f1d7a2e-0000-4000-8000-000000000000/console', { Accept: 'text/plain' })).status).toBe(404);
    expect((await suite.occi.get(`${location}/console?lines=many`, { Accept: 'text/plain' })).status).toBe(400);
    expect((await suite.occi.get(`${location}/console?lines=0`, { Accept: 'text/plain' })).status).toBe(400);
  });
});
