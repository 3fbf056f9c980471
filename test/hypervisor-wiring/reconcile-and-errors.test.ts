import { describe, expect, it } from 'vitest';
import { HypervisorError } from '../../src/hypervisor/errors.js';
import type { Hypervisor } from '../../src/hypervisor/hypervisor.js';
import { LibvirtHypervisor } from '../../src/hypervisor/libvirt/libvirt-hypervisor.js';
import { HypervisorBackend } from '../../src/occi/hypervisor-backend.js';
import { occiClient } from '../helpers/client.js';
import { COMPUTE, NETWORK, NETWORKINTERFACE, startTestNode } from '../helpers/node.js';
import { fixtureUri, raw } from '../hypervisor/libvirt-helpers.js';
import { attributesOf, create, storedAttributesOf, trigger, useLibvirtNode } from './wiring-helpers.js';

const suite = useLibvirtNode();

const running = () => ({ kind: COMPUTE, attributes: {} });

describe('OCCI state follows the domain changed behind the gateway', () => {
  it('a domain destroyed directly in libvirt shows inactive, on read and in the store once polled', async () => {
    const a = await create(suite.occi, '/compute/', running());
    const b = await create(suite.occi, '/compute/', running());
    await suite.node.reconcile();
    expect(raw(suite.hv).destroy(a.id)).toBe(0);
    expect(raw(suite.hv).destroy(b.id)).toBe(0);
    expect((await attributesOf(suite.occi, a.location))['occi.compute.state']).toBe('inactive');
    // The store may or may not have caught up yet (the node polls its hypervisor every second); a reconciliation settles it.
    await suite.node.reconcile();
    expect((await storedAttributesOf(suite.occi, b.location))?.['occi.compute.state']).toBe('inactive');
  });

  it('a domain undefined directly in libvirt shows error with a message; actions are refused, DELETE removes it', async () => {
    const { location, id } = await create(suite.occi, '/compute/', running());
    await suite.node.reconcile();
    raw(suite.hv).destroy(id);
    expect(raw(suite.hv).undefine(id)).toBe(0);
    await suite.node.reconcile();
    const stored = await storedAttributesOf(suite.occi, location);
    expect(stored).toMatchObject({ 'occi.compute.state': 'error', 'occi.compute.state.message': expect.stringContaining('no longer exists') });
    expect(await attributesOf(suite.occi, location)).toMatchObject({ 'occi.compute.state': 'error', 'occi.compute.state.message': `the domain ${id} no longer exists on ${suite.hv.uri}` });
    const start = await trigger(suite.occi, location, 'start');
    expect(start.status).toBe(409);
    expect(start.body.error).toMatchObject({ code: 'STATE_CONFLICT', message: expect.stringContaining(`no domain ${id}`) });
    expect((await suite.occi.delete(location)).status).toBe(200);
    expect((await suite.occi.get(location)).status).toBe(404);
  });

  it('a domain started again behind the gateway comes back active without the old message', async () => {
    const { location, id } = await create(suite.occi, '/compute/', running());
    raw(suite.hv).destroy(id);
    expect((await attributesOf(suite.occi, location))['occi.compute.state']).toBe('inactive');
    await suite.hv.startDomain(id);
    const after = await attributesOf(suite.occi, location);
    expect(after['occi.compute.state']).toBe('active');
    expect(after).not.toHaveProperty('occi.compute.state.message');
  });

  it('a network removed behind the gateway shows error', async () => {
    const { location, id } = await create(suite.occi, '/network/', { kind: NETWORK, attributes: {} });
    await suite.hv.removeNetwork(`occi-${id}`);
    expect(await attributesOf(suite.occi, location)).toMatchObject({ 'occi.network.state': 'error', 'occi.network.state.message': expect.stringContaining('no longer exists') });
  });
});

describe('hypervisor errors', () => {
  it('a refused creation leaves nothing behind: a link to a network gone from libvirt is a 409', async () => {
    const net = await create(suite.occi, '/network/', { kind: NETWORK, attributes: {} });
    await suite.hv.removeNetwork(`occi-${net.id}`);
    const before = (await suite.hv.listDomains()).length;
    const res = await suite.occi.post('/compute/', { kind: COMPUTE, attributes: { 'occi.core.title': 'orphan' }, links: [{ kind: NETWORKINTERFACE, target: { location: net.location } }] });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'STATE_CONFLICT', message: expect.stringContaining(`no network with matching name 'occi-${net.id}'`) });
    expect((await suite.hv.listDomains()).length).toBe(before);
    expect((await suite.occi.get('/compute/?attribute=occi.core.title=orphan')).body.resources ?? []).toEqual([]);
  });

  it('invalid values for the hypervisor are a 400 and nothing is stored', async () => {
    const res = await suite.occi.post('/storage/', { kind: 'http://schemas.ogf.org/occi/infrastructure#storage', attributes: { 'occi.storage.size': 0, 'occi.core.title': 'empty' } });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('size 0 GiB');
    expect((await suite.occi.get('/storage/?attribute=occi.core.title=empty')).body.resources ?? []).toEqual([]);
  });

  it('a domain that cannot start is undefined again and the request refused', async () => {
    const lv = await LibvirtHypervisor.open(fixtureUri('a'));
    const full = withFailure(lv, 'startDomain', HypervisorError.INSUFFICIENT_CAPACITY('host a has no free memory'));
    const other = await startTestNode({ backend: new HypervisorBackend(full) });
    try {
      const id = '5f0c7a52-8d1e-4c3b-9a6f-0e2d4c6b8a10';
      const res = await occiClient(other.url).put(`/compute/${id}`, { kind: COMPUTE, attributes: {} });
      expect(res.status).toBe(409);
      expect(res.body.error).toMatchObject({ code: 'CONFLICT', message: `/compute/${id}: hypervisor: host a has no free memory` });
      expect(raw(lv).exists(id)).toBe(false);
      expect((await occiClient(other.url).get(`/compute/${id}`)).status).toBe(404);
    } finally {
      await other.dispose();
      await lv.close();
    }
  });

  it('an unreachable hypervisor is a 503 with a clear message and nothing is stored; reads keep the stored state', async () => {
    const other = await startTestNode({ hypervisor: 'sim' });
    try {
      const client = occiClient(other.url);
      const kept = await create(client, '/compute/', running());
      await other.hypervisor!.close();
      const res = await client.post('/compute/', { kind: COMPUTE, attributes: { 'occi.core.title': 'lost' } });
      expect(res.status).toBe(503);
      expect(res.body.error).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('simulated hypervisor is closed') });
      expect((await client.get('/compute/?attribute=occi.core.title=lost')).body.resources ?? []).toEqual([]);
      expect((await attributesOf(client, kept.location))['occi.compute.state']).toBe('active');
    } finally {
      await other.dispose();
    }
  });

  it('a node whose hypervisor cannot be reached does not start', async () => {
    const uri = 'qemu+tcp://127.0.0.1:1/system';
    await expect(startTestNode({ hypervisor: uri })).rejects.toMatchObject({ code: 'UNREACHABLE', message: expect.stringContaining(`open ${uri}: unable to connect`) });
  });
});

/** The hypervisor with one method failing with `error`. */
function withFailure(hv: Hypervisor, method: keyof Hypervisor, error: Error): Hypervisor {
  return new Proxy(hv, {
    get(target, prop) {
      if (prop === method) return () => Promise.reject(error);
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
