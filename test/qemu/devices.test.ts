import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NETWORK, NETWORKINTERFACE, STORAGE, STORAGELINK } from '../helpers/node.js';
import { create } from '../hypervisor-wiring/wiring-helpers.js';
import { createGuest, GUEST_TEST_TIMEOUT_MS, IPNETWORK, IPNETWORKINTERFACE, lastHeartbeat, useQemuNode, waitForConsole } from './qemu-helpers.js';

const STORAGE_ACTION = 'http://schemas.ogf.org/occi/infrastructure/storage/action#';

const suite = useQemuNode();

/** A subnet of this suite's own (libvirt refuses two networks on one subnet). */
const SUBNET = '10.251.17';

describe('links are the guest\'s devices', () => {
  it('a network gives the guest an address by DHCP, and the networkinterface reports it', async () => {
    const net = await create(suite.occi, '/network/', { kind: NETWORK, mixins: [IPNETWORK], attributes: { 'occi.network.address': `${SUBNET}.0/24` } });
    const { location } = await createGuest(suite, {
      links: [{ kind: NETWORKINTERFACE, mixins: [IPNETWORKINTERFACE], target: { location: net.location }, attributes: { 'occi.networkinterface.allocation': 'dynamic' } }],
    });
    const console = await waitForConsole(suite.occi, location, (c) => /discovery: address eth0 /.test(c));
    const leased = /discovery: address eth0 ([0-9.]+\/\d+)/.exec(console)![1]!;
    expect(leased.startsWith(`${SUBNET}.`)).toBe(true);
    const links = (await suite.occi.get(location)).body.links as Array<{ kind: string; id: string }>;
    const nic = `/networkinterface/${links.find((l) => l.kind === NETWORKINTERFACE)!.id}`;
    // The lease is read back from libvirt's DHCP server (virDomainInterfaceAddresses, lease source).
    let reported: unknown;
    const deadline = Date.now() + 30_000;
    while (reported === undefined && Date.now() < deadline) {
      reported = ((await suite.occi.get(nic)).body.attributes as Record<string, unknown>)['occi.networkinterface.address'];
      if (reported === undefined) await new Promise((r) => setTimeout(r, 500));
    }
    expect(reported).toBe(leased);
  }, GUEST_TEST_TIMEOUT_MS);

  it('a storage linked while the guest runs is hot-plugged, and the guest sees the disk', async () => {
    const { location } = await createGuest(suite);
    await waitForConsole(suite.occi, location, (c) => lastHeartbeat(c) >= 1);
    const disk = await create(suite.occi, '/storage/', { kind: STORAGE, attributes: { 'occi.storage.size': 1 } });
    const link = await create(suite.occi, '/storagelink/', { kind: STORAGELINK, source: { location }, target: { location: disk.location } });
    const attributes = (await suite.occi.get(link.location)).body.attributes as Record<string, unknown>;
    expect(attributes['occi.storagelink.deviceid']).toBe('vdc');
    // 1 GiB in 512-byte sectors, with the link's id as its serial (the first 20 characters virtio keeps).
    const seen = `vdc:2097152:${link.id.slice(0, 20)}`;
    const console = await waitForConsole(suite.occi, location, (c) => c.includes(seen));
    expect(console).toMatch(/discovery: disks vda:\d+:root vdb:\d+:cidata\n/);
  }, GUEST_TEST_TIMEOUT_MS);

  it('resize, snapshot and backup act on the storage\'s volume', async () => {
    const disk = await create(suite.occi, '/storage/', { kind: STORAGE, attributes: { 'occi.storage.size': 1 } });
    const volume = `occi-${disk.id}`;
    for (const [term, attributes] of [['resize', { size: 2 }], ['snapshot', {}], ['backup', {}]] as const) {
      const res = await suite.occi.post(`${disk.location}?action=${term}`, { action: `${STORAGE_ACTION}${term}`, attributes });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    expect((await suite.hv.volumeInfo(volume)).capacityGiB).toBe(2);
    const copies = readdirSync(suite.hv.layout!.volumesDir).filter((f) => f.startsWith(`${volume}-`)).sort();
    expect(copies.map((f) => f.replace(/-[a-z0-9]+$/, ''))).toEqual([`${volume}-backup`, `${volume}-snapshot`]);
    for (const copy of copies) {
      expect((await suite.hv.volumeInfo(copy)).capacityGiB).toBe(2);
      // The copies outlive the storage (they are its backups): this suite removes its own.
      await suite.hv.deleteVolume(copy);
    }
  }, GUEST_TEST_TIMEOUT_MS);
});
