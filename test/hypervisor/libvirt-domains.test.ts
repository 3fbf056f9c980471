import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HypervisorError } from '../../src/hypervisor/errors.js';
import { VIR_DOMAIN_STATE, VIR_DOMAIN_XML_INACTIVE } from '../../src/hypervisor/libvirt/constants.js';
import { LibvirtHypervisor } from '../../src/hypervisor/libvirt/libvirt-hypervisor.js';
import { fixtureUri, newSpec, raw, xmlResources } from './libvirt-helpers.js';

async function failure(p: Promise<unknown>): Promise<HypervisorError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HypervisorError);
  return err as HypervisorError;
}

describe.each(['sync', 'async'] as const)('libvirt domains (%s calls)', (callMode) => {
  let hv: LibvirtHypervisor;
  beforeAll(async () => {
    hv = await LibvirtHypervisor.open('test:///default', { callMode });
  });
  afterAll(() => hv.close());

  it('defines a domain whose XML has the requested vCPUs and memory', async () => {
    const spec = newSpec({ cores: 3, memoryMiB: 768 });
    const info = await hv.defineDomain(spec);
    expect(info).toMatchObject({ id: spec.id, name: spec.name, state: 'shutoff', cores: 3, memoryMiB: 768 });
    const r = raw(hv);
    expect(r.state(spec.id)).toBe(VIR_DOMAIN_STATE.SHUTOFF);
    expect(xmlResources(r.xml(spec.id))).toEqual({ vcpus: 3, currentVcpus: 3, memoryMiB: 768, currentMemoryMiB: 768 });
    expect(r.xml(spec.id)).toContain(`<uuid>${spec.id}</uuid>`);
    await hv.undefineDomain(spec.id);
  });

  it('moves the real domain through start, each stop method, suspend, resume, hibernate and undefine', async () => {
    const spec = newSpec();
    await hv.defineDomain(spec);
    const r = raw(hv);
    for (const method of ['graceful', 'acpioff', 'poweroff'] as const) {
      await hv.startDomain(spec.id);
      expect(r.state(spec.id)).toBe(VIR_DOMAIN_STATE.RUNNING);
      await hv.stopDomain(spec.id, method);
      expect(r.state(spec.id)).toBe(VIR_DOMAIN_STATE.SHUTOFF);
      expect((await hv.domainInfo(spec.id)).state).toBe('shutoff');
    }
    await hv.startDomain(spec.id);
    await hv.suspendDomain(spec.id, 'suspend');
    expect(r.state(spec.id)).toBe(VIR_DOMAIN_STATE.PAUSED);
    expect((await hv.domainInfo(spec.id)).state).toBe('paused');
    await hv.resumeDomain(spec.id);
    expect(r.state(spec.id)).toBe(VIR_DOMAIN_STATE.RUNNING);
    await hv.suspendDomain(spec.id, 'hibernate');
    expect(r.state(spec.id)).toBe(VIR_DOMAIN_STATE.SHUTOFF);
    expect((await hv.domainInfo(spec.id)).state).toBe('saved');
    await hv.resumeDomain(spec.id);
    expect(r.state(spec.id)).toBe(VIR_DOMAIN_STATE.RUNNING);
    for (const method of ['graceful', 'warm', 'cold'] as const) {
      await hv.restartDomain(spec.id, method);
      expect(r.state(spec.id)).toBe(VIR_DOMAIN_STATE.RUNNING);
    }
    await hv.undefineDomain(spec.id);
    expect(r.exists(spec.id)).toBe(false);
    expect((await hv.domainInfo(spec.id)).state).toBe('absent');
  });

  it('takes hot snapshots now and deferred ones when the domain stops', async () => {
    const spec = newSpec();
    await hv.defineDomain(spec);
    await hv.startDomain(spec.id);
    expect(await hv.saveDomain(spec.id, 'hot', 'now')).toBe('now');
    expect(await hv.hasSnapshot(spec.id, 'now')).toBe(true);
    await hv.saveDomain(spec.id, 'deferred', 'at-stop');
    expect(await hv.hasSnapshot(spec.id, 'at-stop')).toBe(false);
    await hv.stopDomain(spec.id, 'graceful');
    expect(await hv.hasSnapshot(spec.id, 'at-stop')).toBe(true);
    await hv.undefineDomain(spec.id);
  });

  it('changes vCPUs and memory of running and stopped domains in the XML', async () => {
    const spec = newSpec({ cores: 2, memoryMiB: 1024 });
    await hv.defineDomain(spec);
    await hv.setVcpus(spec.id, 4);
    await hv.setMemory(spec.id, 2048);
    const r = raw(hv);
    expect(xmlResources(r.xml(spec.id))).toEqual({ vcpus: 4, currentVcpus: 4, memoryMiB: 2048, currentMemoryMiB: 2048 });
    await hv.startDomain(spec.id);
    await hv.setVcpus(spec.id, 1);
    await hv.setMemory(spec.id, 512);
    expect(xmlResources(r.xml(spec.id))).toMatchObject({ currentVcpus: 1, currentMemoryMiB: 512 });
    expect(xmlResources(r.xml(spec.id, VIR_DOMAIN_XML_INACTIVE))).toMatchObject({ currentVcpus: 1, currentMemoryMiB: 512 });
    expect(await hv.domainInfo(spec.id)).toMatchObject({ cores: 1, memoryMiB: 512, memoryUsedMiB: 512 });
    expect((await failure(hv.setVcpus(spec.id, 64))).code).toBe('INVALID_ARG');
    await hv.undefineDomain(spec.id);
  });

  it('reads back the description it wrote, escaping included', async () => {
    await hv.defineNetwork({ name: `lan-${callMode}` });
    await hv.createVolume({ name: `data-${callMode}`, sizeGiB: 1 });
    const spec = newSpec({
      name: `odd-<&>'"-${callMode}`,
      description: `</description><evil attr="x"> & 'quotes'`,
      hostname: 'db-1',
      architecture: 'x86',
      image: { path: `/images/debian 12 & co.qcow2`, format: 'qcow2' },
      nics: [{ id: 'nic-a', network: `lan-${callMode}`, mac: '52:54:00:12:34:56' }],
      disks: [{ id: 'disk-a', volume: `data-${callMode}`, target: 'vdc' }],
    });
    await hv.defineDomain(spec);
    expect(await hv.domainDescription(spec.id)).toEqual(spec);
    expect(raw(hv).xml(spec.id)).toContain("<type arch='i686'>hvm</type>");
    expect(raw(hv).volumeExists(`${spec.id}-root.qcow2`)).toBe(true);
    await hv.undefineDomain(spec.id);
    expect(raw(hv).volumeExists(`${spec.id}-root.qcow2`)).toBe(false);
  });

  it('attaches and detaches interfaces and disks in the domain XML', async () => {
    const net = `attach-net-${callMode}`;
    const vol = `attach-vol-${callMode}`;
    await hv.defineNetwork({ name: net });
    await hv.createVolume({ name: vol, sizeGiB: 1 });
    const spec = newSpec();
    await hv.defineDomain(spec);
    await hv.attachInterface(spec.id, { id: 'nic1', network: net, mac: '52:54:00:aa:00:01' });
    await hv.attachDisk(spec.id, { id: 'disk1', volume: vol });
    const xml = raw(hv).xml(spec.id, VIR_DOMAIN_XML_INACTIVE);
    expect(xml).toContain(`<source network='${net}'/>`);
    expect(xml).toContain("<alias name='ua-nic1'/>");
    expect(xml).toContain(`<source pool='default-pool' volume='${vol}'/>`);
    expect(xml).toContain("<target dev='vda' bus='virtio'/>");
    expect((await failure(hv.attachInterface(spec.id, { id: 'nic1', network: net }))).code).toBe('ALREADY_EXISTS');
    expect((await failure(hv.attachInterface(spec.id, { id: 'nic2', network: 'nowhere' }))).status).toBe(404);
    await hv.detachInterface(spec.id, 'nic1');
    await hv.detachDisk(spec.id, 'disk1');
    const after = raw(hv).xml(spec.id, VIR_DOMAIN_XML_INACTIVE);
    expect(after).not.toContain('ua-nic1');
    expect(after).not.toContain(vol);
    expect((await failure(hv.detachDisk(spec.id, 'disk1'))).code).toBe('NO_DEVICE');
    await hv.undefineDomain(spec.id);
  });

  it('maps libvirt errors to codes and HTTP statuses, keeping libvirt number and message', async () => {
    const unknown = newSpec().id;
    const noDomain = await failure(hv.startDomain(unknown));
    expect(noDomain).toMatchObject({ code: 'NO_DOMAIN', status: 404 });
    expect(noDomain.libvirt).toMatchObject({ number: 42, message: 'Domain not found' });

    const spec = newSpec();
    await hv.defineDomain(spec);
    await hv.startDomain(spec.id);
    expect(await failure(hv.startDomain(spec.id))).toMatchObject({ code: 'INVALID_STATE', status: 409 });
    const resume = await failure(hv.resumeDomain(spec.id));
    expect(resume.status).toBe(409);
    expect(await failure(hv.defineDomain(spec))).toMatchObject({ code: 'ALREADY_EXISTS', status: 409 });
    expect(await failure(hv.defineDomain({ ...spec, id: 'not-a-uuid' }))).toMatchObject({ code: 'INVALID_ARG', status: 400 });
    await hv.undefineDomain(spec.id);

    const suspendOff = newSpec();
    await hv.defineDomain(suspendOff);
    const invalid = await failure(hv.suspendDomain(suspendOff.id, 'suspend'));
    expect(invalid).toMatchObject({ code: 'INVALID_STATE', status: 409 });
    expect(invalid.message).toContain('shutoff');
    await hv.undefineDomain(suspendOff.id);
  });
});

describe.each(['sync', 'async'] as const)('libvirt domain handle cache (%s calls)', (callMode) => {
  it('keeps a handle in use valid while the cache evicts it', async () => {
    const hv = await LibvirtHypervisor.open('test:///default', { callMode, handleCacheSize: 1 });
    try {
      const specs = Array.from({ length: 8 }, () => newSpec());
      for (const spec of specs) await hv.defineDomain(spec);
      // Concurrent reads: each lookup evicts the handle another read still works on.
      const infos = await Promise.all(specs.map((spec) => hv.domainInfo(spec.id)));
      expect(infos.map((i) => [i.id, i.name, i.state])).toEqual(specs.map((spec) => [spec.id, spec.name, 'shutoff']));
      await Promise.all(specs.map((spec) => hv.startDomain(spec.id)));
      expect((await hv.usage()).domains.filter((d) => specs.some((spec) => spec.id === d.id))).toHaveLength(specs.length);
      for (const spec of specs) await hv.undefineDomain(spec.id);
      expect(specs.filter((spec) => raw(hv).exists(spec.id))).toEqual([]);
    } finally {
      await hv.close();
    }
  });
});

describe('libvirt connections', () => {
  it('reports an unreachable daemon as UNREACHABLE/503 with libvirt error kept', async () => {
    for (const callMode of ['sync', 'async'] as const) {
      const err = await failure(LibvirtHypervisor.open('qemu+unix:///system?socket=/nonexistent', { callMode }));
      expect(err).toMatchObject({ code: 'UNREACHABLE', status: 503 });
      expect(err.libvirt?.number).toBe(38);
      expect(err.message).toContain('/nonexistent');
    }
  });

  it('reads host capacity and usage from the fixture host', async () => {
    const hv = await LibvirtHypervisor.open(fixtureUri('a'));
    expect(await hv.capacity()).toEqual({ cores: 4, memoryMiB: 8192 });
    const usage = await hv.usage();
    expect(usage).toMatchObject({ cores: 2, memoryMiB: 1024 });
    expect(usage.domains.map((d) => d.name)).toEqual(['web']);
    await hv.close();
    await hv.close();
    expect((await failure(hv.listDomains())).code).toBe('CLOSED');
  });
});
