import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { VIR_DOMAIN_XML_INACTIVE } from '../../src/hypervisor/libvirt/constants.js';
import type { LibvirtHypervisor } from '../../src/hypervisor/libvirt/libvirt-hypervisor.js';
import { occiClient, type OcciClient } from '../helpers/client.js';
import { COMPUTE, NETWORK, NETWORKINTERFACE, STORAGE, STORAGELINK, startTestNode, type TestNode } from '../helpers/node.js';
import { fixtureUri, raw } from '../hypervisor/libvirt-helpers.js';
import { act, attributesOf, create, libvirtOf } from './wiring-helpers.js';

let node: TestNode;
let occi: OcciClient;
let hv: LibvirtHypervisor;
beforeAll(async () => {
  node = await startTestNode({ hypervisor: fixtureUri('a') });
  occi = occiClient(node.url);
  hv = libvirtOf(node);
});
afterAll(() => node.dispose());

const IPNETWORK = 'http://schemas.ogf.org/occi/infrastructure/network#ipnetwork';

describe('networks are libvirt networks', () => {
  it('defined with address, gateway and VLAN, brought up, down and removed', async () => {
    const { location, id } = await create(occi, '/network/', {
      kind: NETWORK,
      mixins: [IPNETWORK],
      attributes: { 'occi.network.vlan': 30, 'occi.network.address': '10.30.0.0/24', 'occi.network.gateway': '10.30.0.1' },
    });
    const name = `occi-${id}`;
    expect(raw(hv).networkActive(name)).toBe(1);
    const xml = await hv.networkXml(name);
    expect(xml).toContain("<tag id='30'/>");
    expect(xml).toContain("<ip address='10.30.0.1' prefix='24'>");
    await act(occi, location, 'down');
    expect(raw(hv).networkActive(name)).toBe(0);
    await act(occi, location, 'up');
    expect(raw(hv).networkActive(name)).toBe(1);
    expect((await occi.delete(location)).status).toBe(200);
    expect(raw(hv).networkActive(name)).toBe(-1);
  });

  it('created inactive is defined but not started; the host takes the first address of the network', async () => {
    const { id } = await create(occi, '/network/', { kind: NETWORK, mixins: [IPNETWORK], attributes: { 'occi.network.state': 'inactive', 'occi.network.address': '10.31.0.0/16' } });
    expect(raw(hv).networkActive(`occi-${id}`)).toBe(0);
    expect(await hv.networkXml(`occi-${id}`)).toContain("<ip address='10.31.0.1' prefix='16'>");
  });
});

describe('storage resources are volumes', () => {
  it('created with their size, resized, snapshotted, backed up and deleted', async () => {
    const { location, id } = await create(occi, '/storage/', { kind: STORAGE, attributes: { 'occi.storage.size': 2 } });
    const name = `occi-${id}`;
    expect(await hv.volumeInfo(name)).toMatchObject({ capacityGiB: 2 });
    await act(occi, location, 'resize', { size: 3 });
    expect(await hv.volumeInfo(name)).toMatchObject({ capacityGiB: 3 });
    expect((await occi.post(location, { attributes: { 'occi.storage.size': 4 } })).status).toBe(200);
    expect(await hv.volumeInfo(name)).toMatchObject({ capacityGiB: 4 });
    const snapshot = vi.spyOn(hv, 'snapshotVolume');
    await act(occi, location, 'snapshot');
    await act(occi, location, 'backup');
    const copies = await Promise.all(snapshot.mock.results.map((r) => r.value as ReturnType<LibvirtHypervisor['snapshotVolume']>));
    snapshot.mockRestore();
    expect(copies.map((c) => c.name)).toEqual([expect.stringMatching(`^${name}-snapshot-`), expect.stringMatching(`^${name}-backup-`)]);
    for (const c of copies) expect(raw(hv).volumeExists(c.name)).toBe(true);
    expect((await occi.delete(location)).status).toBe(200);
    expect(raw(hv).volumeExists(name)).toBe(false);
  });
});

describe('links are devices of the domain', () => {
  it('a networkinterface and a storagelink attach, and detach when deleted', async () => {
    const vm = await create(occi, '/compute/', { kind: COMPUTE, attributes: { 'occi.compute.state': 'inactive' } });
    const net = await create(occi, '/network/', { kind: NETWORK, attributes: {} });
    const disk = await create(occi, '/storage/', { kind: STORAGE, attributes: { 'occi.storage.size': 1 } });
    const nic = await create(occi, '/networkinterface/', { kind: NETWORKINTERFACE, source: { location: vm.location }, target: { location: net.location }, attributes: {} });
    const link = await create(occi, '/storagelink/', { kind: STORAGELINK, source: { location: vm.location }, target: { location: disk.location }, attributes: { 'occi.storagelink.deviceid': 'vdc' } });
    const xml = () => raw(hv).xml(vm.id, VIR_DOMAIN_XML_INACTIVE);
    expect(xml()).toContain(`<alias name='ua-${nic.id}'/>`);
    expect(xml()).toContain(`<source network='occi-${net.id}'`);
    expect(xml()).toContain(`<alias name='ua-${link.id}'/>`);
    expect(xml()).toContain(`volume='occi-${disk.id}'`);
    expect((await attributesOf(occi, link.location))['occi.storagelink.deviceid']).toBe('vdc');
    expect((await hv.domainDescription(vm.id)).disks).toEqual([{ id: link.id, volume: `occi-${disk.id}`, target: 'vdc' }]);

    expect((await occi.delete(nic.location)).status).toBe(200);
    expect(xml()).not.toContain(`ua-${nic.id}`);
    // Deleting the storage takes its link, and the disk, with it.
    expect((await occi.delete(disk.location)).status).toBe(200);
    expect(xml()).not.toContain(`ua-${link.id}`);
    expect(raw(hv).volumeExists(`occi-${disk.id}`)).toBe(false);
  });
});
