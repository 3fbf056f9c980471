import { describe, expect, it, vi } from 'vitest';
import { VIR_DOMAIN_XML_INACTIVE } from '../../src/hypervisor/libvirt/constants.js';
import type { LibvirtHypervisor } from '../../src/hypervisor/libvirt/libvirt-hypervisor.js';
import { COMPUTE, NETWORK, NETWORKINTERFACE, STORAGE, STORAGELINK } from '../helpers/node.js';
import { raw } from '../hypervisor/libvirt-helpers.js';
import { act, attributesOf, create, useLibvirtNode } from './wiring-helpers.js';

const suite = useLibvirtNode();

const IPNETWORK = 'http://schemas.ogf.org/occi/infrastructure/network#ipnetwork';

describe('networks are libvirt networks', () => {
  it('defined with address, gateway and VLAN, brought up, down and removed', async () => {
    const { location, id } = await create(suite.occi, '/network/', {
      kind: NETWORK,
      mixins: [IPNETWORK],
      attributes: { 'occi.network.vlan': 30, 'occi.network.address': '10.30.0.0/24', 'occi.network.gateway': '10.30.0.1' },
    });
    const name = `occi-${id}`;
    expect(raw(suite.hv).networkActive(name)).toBe(1);
    const xml = await suite.hv.networkXml(name);
    expect(xml).toContain("<tag id='30'/>");
    expect(xml).toContain("<ip address='10.30.0.1' prefix='24'>");
    await act(suite.occi, location, 'down');
    expect(raw(suite.hv).networkActive(name)).toBe(0);
    await act(suite.occi, location, 'up');
    expect(raw(suite.hv).networkActive(name)).toBe(1);
    expect((await suite.occi.delete(location)).status).toBe(200);
    expect(raw(suite.hv).networkActive(name)).toBe(-1);
  });

  it('taken down, it is defined but not started; the host takes the first address of the network', async () => {
    const { location, id } = await create(suite.occi, '/network/', { kind: NETWORK, mixins: [IPNETWORK], attributes: { 'occi.network.address': '10.31.0.0/16' } });
    await act(suite.occi, location, 'down');
    expect(raw(suite.hv).networkActive(`occi-${id}`)).toBe(0);
    expect(await suite.hv.networkXml(`occi-${id}`)).toContain("<ip address='10.31.0.1' prefix='16'>");
  });
});

describe('storage resources are volumes', () => {
  it('created with their size, resized, snapshotted, backed up and deleted', async () => {
    const { location, id } = await create(suite.occi, '/storage/', { kind: STORAGE, attributes: { 'occi.storage.size': 2 } });
    const name = `occi-${id}`;
    expect(await suite.hv.volumeInfo(name)).toMatchObject({ capacityGiB: 2 });
    await act(suite.occi, location, 'resize', { size: 3 });
    expect(await suite.hv.volumeInfo(name)).toMatchObject({ capacityGiB: 3 });
    expect((await suite.occi.post(location, { attributes: { 'occi.storage.size': 4 } })).status).toBe(200);
    expect(await suite.hv.volumeInfo(name)).toMatchObject({ capacityGiB: 4 });
    const snapshot = vi.spyOn(suite.hv, 'snapshotVolume');
    await act(suite.occi, location, 'snapshot');
    await act(suite.occi, location, 'backup');
    const copies = await Promise.all(snapshot.mock.results.map((r) => r.value as ReturnType<LibvirtHypervisor['snapshotVolume']>));
    snapshot.mockRestore();
    expect(copies.map((c) => c.name)).toEqual([expect.stringMatching(`^${name}-snapshot-`), expect.stringMatching(`^${name}-backup-`)]);
    for (const c of copies) expect(raw(suite.hv).volumeExists(c.name)).toBe(true);
    expect((await suite.occi.delete(location)).status).toBe(200);
    expect(raw(suite.hv).volumeExists(name)).toBe(false);
  });
});

describe('links are devices of the domain', () => {
  it('a networkinterface and a storagelink attach, and detach when deleted', async () => {
    const vm = await create(suite.occi, '/compute/', { kind: COMPUTE, attributes: { 'occi.compute.state': 'inactive' } });
    const net = await create(suite.occi, '/network/', { kind: NETWORK, attributes: {} });
    const disk = await create(suite.occi, '/storage/', { kind: STORAGE, attributes: { 'occi.storage.size': 1 } });
    const nic = await create(suite.occi, '/networkinterface/', { kind: NETWORKINTERFACE, source: { location: vm.location }, target: { location: net.location }, attributes: {} });
    const link = await create(suite.occi, '/storagelink/', { kind: STORAGELINK, source: { location: vm.location }, target: { location: disk.location }, attributes: { 'occi.storagelink.deviceid': 'vdc' } });
    const xml = () => raw(suite.hv).xml(vm.id, VIR_DOMAIN_XML_INACTIVE);
    expect(xml()).toContain(`<alias name='ua-${nic.id}'/>`);
    expect(xml()).toContain(`<source network='occi-${net.id}'`);
    expect(xml()).toContain(`<alias name='ua-${link.id}'/>`);
    expect(xml()).toContain(`volume='occi-${disk.id}'`);
    expect((await attributesOf(suite.occi, link.location))['occi.storagelink.deviceid']).toBe('vdc');
    expect((await suite.hv.domainDescription(vm.id)).disks).toEqual([{ id: link.id, volume: `occi-${disk.id}`, target: 'vdc' }]);

    expect((await suite.occi.delete(nic.location)).status).toBe(200);
    expect(xml()).not.toContain(`ua-${nic.id}`);
    // Deleting the storage takes its link, and the disk, with it.
    expect((await suite.occi.delete(disk.location)).status).toBe(200);
    expect(xml()).not.toContain(`ua-${link.id}`);
    expect(raw(suite.hv).volumeExists(`occi-${disk.id}`)).toBe(false);
  });
});
