import { describe, expect, it } from 'vitest';
import { VIR_DOMAIN_STATE, VIR_DOMAIN_XML_INACTIVE } from '../../src/hypervisor/libvirt/constants.js';
import { COMPUTE, DEBIAN, NETWORK, NETWORKINTERFACE, SMALL, STORAGE, STORAGELINK } from '../helpers/node.js';
import { raw, xmlResources } from '../hypervisor/libvirt-helpers.js';
import { act, attributesOf, create, useLibvirtNode } from './wiring-helpers.js';

const suite = useLibvirtNode();

const compute = (attributes: Record<string, unknown> = {}, more: Record<string, unknown> = {}) => ({ kind: COMPUTE, attributes, ...more });

describe('a compute is a libvirt domain', () => {
  it('is defined and started with the requested vCPUs, memory, architecture and title', async () => {
    const { id } = await create(suite.occi, '/compute/', compute({ 'occi.compute.cores': 2, 'occi.compute.memory': 1.5, 'occi.compute.architecture': 'x64', 'occi.core.title': 'web-1' }));
    expect(raw(suite.hv).state(id)).toBe(VIR_DOMAIN_STATE.RUNNING);
    const xml = raw(suite.hv).xml(id);
    expect(xmlResources(xml)).toEqual({ vcpus: 2, currentVcpus: 2, memoryMiB: 1536, currentMemoryMiB: 1536 });
    expect(xml).toContain(`<uuid>${id}</uuid>`);
    expect(xml).toContain("arch='x86_64'");
    expect(xml).toContain('<description>web-1</description>');
  });

  it('takes cores and memory from a resource template and boots an overlay of the os_tpl image', async () => {
    const { id } = await create(suite.occi, '/compute/', compute({}, { mixins: [SMALL, DEBIAN] }));
    const xml = raw(suite.hv).xml(id, VIR_DOMAIN_XML_INACTIVE);
    expect(xmlResources(xml)).toMatchObject({ vcpus: 1, memoryMiB: 1024 });
    expect(xml).toContain(`volume='${id}-root.qcow2'`);
    expect((await suite.hv.domainDescription(id)).image).toEqual({ path: '/var/lib/discovery/images/debian-12.qcow2', format: 'qcow2' });
  });

  it('a state given at creation is the server\'s: the domain runs; stopped, it is shut off', async () => {
    const { location, id } = await create(suite.occi, '/compute/', compute({ 'occi.compute.state': 'inactive' }));
    expect(raw(suite.hv).state(id)).toBe(VIR_DOMAIN_STATE.RUNNING);
    await act(suite.occi, location, 'stop', { method: 'poweroff' });
    expect(raw(suite.hv).state(id)).toBe(VIR_DOMAIN_STATE.SHUTOFF);
    expect((await attributesOf(suite.occi, location))['occi.compute.state']).toBe('inactive');
  });

  it('gets the devices of links created with it', async () => {
    const net = await create(suite.occi, '/network/', { kind: NETWORK, attributes: {} });
    const disk = await create(suite.occi, '/storage/', { kind: STORAGE, attributes: { 'occi.storage.size': 1 } });
    const res = await suite.occi.post('/compute/', compute({}, {
      links: [
        { kind: NETWORKINTERFACE, target: { location: net.location }, attributes: { 'occi.networkinterface.mac': '52:54:00:0a:0b:0c' } },
        { kind: STORAGELINK, target: { location: disk.location } },
      ],
    }));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const id = (res.headers.location as string).split('/').pop()!;
    const spec = await suite.hv.domainDescription(id);
    expect(spec.nics).toEqual([{ id: expect.any(String), network: `occi-${net.id}`, mac: '52:54:00:0a:0b:0c' }]);
    expect(spec.disks).toEqual([{ id: expect.any(String), volume: `occi-${disk.id}`, target: 'vda' }]);
    const links = (await suite.occi.get(res.headers.location as string)).body.links as Array<{ kind: string; attributes: Record<string, unknown> }>;
    expect(links.find((l) => l.kind === STORAGELINK)?.attributes['occi.storagelink.deviceid']).toBe('vda');
  });
});

describe('each action changes the domain\'s real state', () => {
  it('stop, start, suspend, resume, hibernate, restore, restart, save', async () => {
    const { location, id } = await create(suite.occi, '/compute/', compute());
    const state = () => raw(suite.hv).state(id);
    await act(suite.occi, location, 'stop', { method: 'acpioff' });
    expect(state()).toBe(VIR_DOMAIN_STATE.SHUTOFF);
    await act(suite.occi, location, 'start');
    expect(state()).toBe(VIR_DOMAIN_STATE.RUNNING);
    await act(suite.occi, location, 'suspend', { method: 'suspend' });
    expect(state()).toBe(VIR_DOMAIN_STATE.PAUSED);
    expect((await attributesOf(suite.occi, location))['occi.compute.state']).toBe('suspended');
    await act(suite.occi, location, 'start');
    expect(state()).toBe(VIR_DOMAIN_STATE.RUNNING);
    await act(suite.occi, location, 'suspend', { method: 'hibernate' });
    expect(state()).toBe(VIR_DOMAIN_STATE.SHUTOFF);
    expect((await suite.hv.domainInfo(id)).state).toBe('saved');
    expect((await attributesOf(suite.occi, location))['occi.compute.state']).toBe('suspended');
    await act(suite.occi, location, 'start');
    expect(state()).toBe(VIR_DOMAIN_STATE.RUNNING);
    await act(suite.occi, location, 'restart', { method: 'cold' });
    expect(state()).toBe(VIR_DOMAIN_STATE.RUNNING);
    await act(suite.occi, location, 'save', { method: 'hot', name: 'before-upgrade' });
    expect(await suite.hv.hasSnapshot(id, 'before-upgrade')).toBe(true);
    await act(suite.occi, location, 'suspend');
    await act(suite.occi, location, 'stop');
    expect(state()).toBe(VIR_DOMAIN_STATE.SHUTOFF);
    expect((await attributesOf(suite.occi, location))['occi.compute.state']).toBe('inactive');
  });

  it('an update of cores and memory resizes the domain', async () => {
    const { location, id } = await create(suite.occi, '/compute/', compute({ 'occi.compute.cores': 1, 'occi.compute.memory': 1 }));
    await act(suite.occi, location, 'stop', { method: 'poweroff' });
    expect((await suite.occi.post(location, { attributes: { 'occi.compute.cores': 3, 'occi.compute.memory': 2 } })).status).toBe(200);
    expect(xmlResources(raw(suite.hv).xml(id, VIR_DOMAIN_XML_INACTIVE))).toMatchObject({ currentVcpus: 3, currentMemoryMiB: 2048 });
  });

  it('delete stops and undefines the domain', async () => {
    const { location, id } = await create(suite.occi, '/compute/', compute({}, { mixins: [DEBIAN] }));
    expect(raw(suite.hv).exists(id)).toBe(true);
    expect((await suite.occi.delete(location)).status).toBe(200);
    expect(raw(suite.hv).exists(id)).toBe(false);
    expect(raw(suite.hv).volumeExists(`${id}-root.qcow2`)).toBe(false);
  });
});
