import { afterEach, describe, expect, it } from 'vitest';
import { HypervisorError } from '../../src/hypervisor/errors.js';
import type { DomainEvent } from '../../src/hypervisor/hypervisor.js';
import { VIR_DOMAIN_STATE } from '../../src/hypervisor/libvirt/constants.js';
import { LibvirtHypervisor } from '../../src/hypervisor/libvirt/libvirt-hypervisor.js';
import { openHypervisor } from '../../src/hypervisor/select-driver.js';
import { SimulatedHypervisor } from '../../src/hypervisor/simulated/simulated-hypervisor.js';
import { fixtureUri, newSpec, raw } from './libvirt-helpers.js';

const open: { close(): Promise<void> }[] = [];
async function connect(uri: string): Promise<LibvirtHypervisor> {
  const hv = await LibvirtHypervisor.open(uri);
  open.push(hv);
  return hv;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((hv) => hv.close()));
});

describe('libvirt networks and volumes', () => {
  it('defines, starts, stops and removes a real network', async () => {
    const hv = await connect(fixtureUri('a'));
    await hv.defineNetwork({ name: 'tenant', bridge: 'br-tenant', cidr: '10.20.0.0/24', gateway: '10.20.0.1', vlan: 20 });
    expect(raw(hv).networkActive('tenant')).toBe(0);
    const xml = await hv.networkXml('tenant');
    expect(xml).toContain("<bridge name='br-tenant'");
    expect(xml).toContain("<tag id='20'/>");
    expect(xml).toContain("<ip address='10.20.0.1' prefix='24'>");
    await hv.networkUp('tenant');
    expect(raw(hv).networkActive('tenant')).toBe(1);
    expect(await hv.networkActive('tenant')).toBe(true);
    await hv.networkDown('tenant');
    expect(raw(hv).networkActive('tenant')).toBe(0);
    await expect(hv.networkDown('tenant')).rejects.toMatchObject({ status: 409 });
    await hv.removeNetwork('tenant');
    expect(raw(hv).networkActive('tenant')).toBe(-1);
    await expect(hv.networkUp('tenant')).rejects.toMatchObject({ code: 'NO_NETWORK', status: 404 });
  });

  it('creates, resizes, snapshots and deletes real volumes', async () => {
    const hv = await connect(fixtureUri('a'));
    expect(await hv.createVolume({ name: 'disk1', sizeGiB: 2 })).toMatchObject({ name: 'disk1', capacityGiB: 2 });
    expect(raw(hv).volumeExists('disk1')).toBe(true);
    expect(await hv.resizeVolume('disk1', 5)).toMatchObject({ capacityGiB: 5 });
    expect(await hv.volumeInfo('disk1')).toMatchObject({ capacityGiB: 5, path: '/default-pool/disk1' });
    expect(await hv.snapshotVolume('disk1', 'disk1-snap')).toMatchObject({ name: 'disk1-snap', capacityGiB: 5 });
    expect(raw(hv).volumeExists('disk1-snap')).toBe(true);
    await expect(hv.createVolume({ name: 'disk1', sizeGiB: 1 })).rejects.toMatchObject({ status: 409 });
    await hv.deleteVolume('disk1');
    expect(raw(hv).volumeExists('disk1')).toBe(false);
    await expect(hv.volumeInfo('disk1')).rejects.toMatchObject({ code: 'NO_VOLUME', status: 404 });
  });
});

describe('migration between fixture hosts', () => {
  it('moves the running fixture domain keeping UUID, name and description', async () => {
    const a = await connect(fixtureUri('a'));
    const b = await connect(fixtureUri('b'));
    const id = '0b7c1f3e-5a8d-4c2e-9f10-6d2a4b8c9e01';
    const before = await a.domainDescription(id);
    const moved = await a.migrate(id, b);
    expect(moved).toMatchObject({ id, name: 'web', state: 'running', cores: 2, memoryMiB: 1024 });
    expect(await b.domainDescription(id)).toEqual(before);
    expect(before.description).toBe('front web server');
    expect(raw(b).state(id)).toBe(VIR_DOMAIN_STATE.RUNNING);
    expect(raw(b).xml(id)).toContain('<description>front web server</description>');
    expect(raw(a).exists(id)).toBe(false);
    expect((await a.domainInfo(id)).state).toBe('absent');
  });

  it('keeps a paused domain paused and its metadata intact', async () => {
    const a = await connect(fixtureUri('a'));
    const b = await connect(fixtureUri('b'));
    const spec = newSpec({ description: 'batch worker', hostname: 'w1', architecture: 'x64' });
    await a.defineDomain(spec);
    await a.startDomain(spec.id);
    await a.suspendDomain(spec.id, 'suspend');
    expect(await a.migrate(spec.id, b)).toMatchObject({ id: spec.id, name: spec.name, state: 'paused' });
    expect(await b.domainDescription(spec.id)).toEqual(spec);
    await expect(a.migrate(spec.id, b)).rejects.toMatchObject({ code: 'NO_DOMAIN' });
  });

  it('moves a libvirt domain to a simulated host and back by copy', async () => {
    const a = await connect(fixtureUri('a'));
    const sim = new SimulatedHypervisor();
    const spec = newSpec({ description: 'roaming' });
    await a.defineDomain(spec);
    await a.startDomain(spec.id);
    expect(await a.migrate(spec.id, sim)).toMatchObject({ id: spec.id, state: 'running' });
    expect(raw(a).exists(spec.id)).toBe(false);
    expect(await sim.migrate(spec.id, a)).toMatchObject({ id: spec.id, state: 'running' });
    expect(await a.domainDescription(spec.id)).toEqual(spec);
    await sim.close();
  });
});

describe('reconciliation with changes made behind the driver', () => {
  it('sees a domain destroyed and undefined through the raw binding', async () => {
    const hv = await connect('test:///default');
    const spec = newSpec();
    await hv.defineDomain(spec);
    await hv.startDomain(spec.id);
    const events: DomainEvent[] = [];
    const stop = hv.watch((e) => events.push(e), { intervalMs: 60_000 });
    await hv.poll();
    expect(raw(hv).destroy(spec.id)).toBe(0);
    expect((await hv.domainInfo(spec.id)).state).toBe('shutoff');
    await hv.poll();
    expect(raw(hv).undefine(spec.id)).toBe(0);
    expect((await hv.domainInfo(spec.id)).state).toBe('absent');
    await hv.poll();
    stop();
    expect(events.filter((e) => e.id === spec.id).map((e) => `${e.previous}->${e.state}`)).toEqual([
      'running->shutoff',
      'shutoff->absent',
    ]);
  });

  it('sees changes made on another connection to the same host', async () => {
    const hv = await connect('test:///default');
    const other = await connect('test:///default');
    const spec = newSpec();
    await other.defineDomain(spec);
    await other.startDomain(spec.id);
    expect(await hv.domainInfo(spec.id)).toMatchObject({ state: 'running', name: spec.name });
    await other.suspendDomain(spec.id, 'suspend');
    expect((await hv.domainInfo(spec.id)).state).toBe('paused');
    await other.undefineDomain(spec.id);
  });
});

describe('driver selection', () => {
  it('defaults to the libvirt test driver when libvirt0 loads', async () => {
    const opened = await openHypervisor(undefined);
    open.push(opened.hypervisor);
    expect(opened.kind).toBe('libvirt');
    expect(opened.hypervisor.uri).toBe('test:///default');
    expect(opened.description).toContain('test:///default');
    // The node's first log line says how to switch to real guests, whether or not qemu:///system answers.
    expect(opened.description).toMatch(/real guests: (--hypervisor qemu:\/\/\/system, whose daemon answers|\.\/scripts\/up\.sh --qemu sets up and starts a node on qemu:\/\/\/system)/);
  });

  it('falls back to the simulated driver when libvirt cannot be loaded', async () => {
    const opened = await openHypervisor(undefined, { libvirt: { library: 'libvirt-missing.so.0' } });
    open.push(opened.hypervisor);
    expect(opened.kind).toBe('simulated');
    expect(opened.description).toContain('not found');
  });

  it('opens what is asked for', async () => {
    const sim = await openHypervisor('sim');
    open.push(sim.hypervisor);
    expect(sim.hypervisor).toBeInstanceOf(SimulatedHypervisor);
    const fixture = await openHypervisor(fixtureUri('b'));
    open.push(fixture.hypervisor);
    expect(await fixture.hypervisor.capacity()).toEqual({ cores: 4, memoryMiB: 8192 });
    await expect(openHypervisor('qemu+unix:///system?socket=/nonexistent')).rejects.toBeInstanceOf(HypervisorError);
  });
});
