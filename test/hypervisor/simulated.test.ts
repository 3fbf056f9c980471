import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HypervisorError } from '../../src/hypervisor/errors.js';
import type { DomainSpec } from '../../src/hypervisor/hypervisor.js';
import { SimHost, SimulatedHypervisor } from '../../src/hypervisor/simulated/index.js';

function spec(n: number, over: Partial<DomainSpec> = {}): DomainSpec {
  return {
    id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    name: `vm-${n}`,
    cores: 2,
    memoryMiB: 1024,
    nics: [],
    disks: [],
    ...over,
  };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(HypervisorError);
    return (err as HypervisorError).code;
  }
  return 'resolved';
}

describe('simulated hypervisor', () => {
  it('walks a domain through its life cycle and accounts allocation', async () => {
    const hv = new SimulatedHypervisor({ cores: 4, memoryMiB: 4096 });
    const a = spec(1);
    await hv.defineDomain(a);
    expect((await hv.domainInfo(a.id)).state).toBe('shutoff');
    await hv.startDomain(a.id);
    expect(await hv.usage()).toMatchObject({ cores: 2, memoryMiB: 1024 });
    expect(await code(hv.startDomain(a.id))).toBe('INVALID_STATE');
    await hv.suspendDomain(a.id, 'suspend');
    expect((await hv.domainInfo(a.id)).state).toBe('paused');
    await hv.resumeDomain(a.id);
    await hv.suspendDomain(a.id, 'hibernate');
    expect((await hv.domainInfo(a.id)).state).toBe('saved');
    expect((await hv.usage()).cores).toBe(0);
    await hv.resumeDomain(a.id);
    await hv.stopDomain(a.id, 'acpioff');
    expect((await hv.domainInfo(a.id)).state).toBe('shutoff');
    await hv.undefineDomain(a.id);
    expect((await hv.domainInfo(a.id)).state).toBe('absent');
    expect(await code(hv.startDomain(a.id))).toBe('NO_DOMAIN');
    await hv.close();
    await hv.close();
    expect(await code(hv.listDomains())).toBe('CLOSED');
  });

  it('refuses to start a domain that does not fit', async () => {
    const hv = new SimulatedHypervisor({ cores: 4, memoryMiB: 1500 });
    await hv.defineDomain(spec(1));
    await hv.defineDomain(spec(2));
    await hv.startDomain(spec(1).id);
    expect(await code(hv.startDomain(spec(2).id))).toBe('INSUFFICIENT_CAPACITY');
  });

  it('accounts CPU time from the load set through setLoad', async () => {
    let now = 0;
    const hv = new SimulatedHypervisor({ now: () => now });
    const a = spec(1);
    await hv.defineDomain(a);
    await hv.startDomain(a.id);
    hv.setLoad(a.id, 150, 512);
    now += 1000;
    const info = await hv.domainInfo(a.id);
    expect(info.cpuTimeNs).toBe(1.5e9);
    expect(info.memoryUsedMiB).toBe(512);
    expect(hv.host.load()).toEqual({ cpuPercentOfCore: 150, memoryMiB: 512 });
    expect(() => hv.setLoad(a.id, 201, 0)).toThrow(HypervisorError);
  });

  it('checks networks and volumes referenced by links', async () => {
    const hv = new SimulatedHypervisor();
    const a = spec(1);
    await hv.defineDomain(a);
    expect(await code(hv.attachInterface(a.id, { id: 'n1', network: 'lan' }))).toBe('NO_NETWORK');
    await hv.defineNetwork({ name: 'lan' });
    await hv.networkUp('lan');
    expect(await hv.networkActive('lan')).toBe(true);
    await hv.attachInterface(a.id, { id: 'n1', network: 'lan' });
    await hv.createVolume({ name: 'data', sizeGiB: 2 });
    await hv.attachDisk(a.id, { id: 'd1', volume: 'data' });
    expect(await hv.resizeVolume('data', 4)).toMatchObject({ capacityGiB: 4 });
    expect(await hv.snapshotVolume('data', 'data-snap')).toMatchObject({ name: 'data-snap', capacityGiB: 4 });
    const desc = await hv.domainDescription(a.id);
    expect(desc.nics).toEqual([{ id: 'n1', network: 'lan' }]);
    expect(desc.disks).toEqual([{ id: 'd1', volume: 'data' }]);
    await hv.detachDisk(a.id, 'd1');
    expect((await hv.domainDescription(a.id)).disks).toEqual([]);
  });

  it('takes deferred saves when the domain stops', async () => {
    const host = new SimHost();
    const a = spec(1);
    host.defineDomain(a);
    host.startDomain(a.id);
    expect(host.saveDomain(a.id, 'deferred', 'later')).toBe('later');
    expect(host.snapshots(a.id)).toEqual([]);
    host.stopDomain(a.id, 'graceful');
    expect(host.snapshots(a.id)).toEqual(['later']);
  });

  it('migrates between simulated hosts keeping identity, state and load', async () => {
    const src = new SimulatedHypervisor();
    const dst = new SimulatedHypervisor();
    const a = spec(1, { description: 'web' });
    await src.defineDomain(a);
    await src.startDomain(a.id);
    src.setLoad(a.id, 80, 300);
    const moved = await src.migrate(a.id, dst);
    expect(moved).toMatchObject({ id: a.id, name: a.name, state: 'running', memoryUsedMiB: 300 });
    expect(await dst.domainDescription(a.id)).toEqual(a);
    expect((await src.domainInfo(a.id)).state).toBe('absent');
    expect((await src.usage()).cores).toBe(0);
    expect((await dst.usage()).cores).toBe(2);
  });

  it('reports state changes to watchers', async () => {
    const hv = new SimulatedHypervisor();
    const seen: string[] = [];
    const stop = hv.watch((e) => seen.push(`${e.name}:${e.previous}->${e.state}`));
    await hv.poll();
    await hv.defineDomain(spec(1));
    await hv.startDomain(spec(1).id);
    await hv.poll();
    hv.host.stopDomain(spec(1).id, 'poweroff');
    await hv.poll();
    stop();
    expect(seen).toEqual(['vm-1:absent->running', 'vm-1:running->shutoff']);
  });

  it('keeps allocation equal to the sum of active domains under any operation sequence', () => {
    const ops = ['start', 'stop', 'poweroff', 'suspend', 'hibernate', 'resume', 'undefine', 'grow', 'migrate'] as const;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...ops), fc.integer({ min: 0, max: 5 })), { maxLength: 60 }),
        (steps) => {
          const hosts = [new SimHost({ cores: 8, memoryMiB: 4096 }), new SimHost({ cores: 4, memoryMiB: 2048 })];
          for (let i = 0; i < 6; i++) hosts[i % 2]!.defineDomain(spec(i, { cores: 1 + (i % 3), memoryMiB: 512 }));
          for (const [op, n] of steps) {
            const id = spec(n).id;
            const host = hosts.find((h) => h.has(id));
            if (host === undefined) continue;
            try {
              if (op === 'start') host.startDomain(id);
              else if (op === 'stop') host.stopDomain(id, 'graceful');
              else if (op === 'poweroff') host.stopDomain(id, 'poweroff');
              else if (op === 'suspend') host.suspendDomain(id, 'suspend');
              else if (op === 'hibernate') host.suspendDomain(id, 'hibernate');
              else if (op === 'resume') host.resumeDomain(id);
              else if (op === 'undefine') host.undefineDomain(id);
              else if (op === 'grow') host.setMemory(id, 1024);
              else host.migrate(id, hosts[0] === host ? hosts[1]! : hosts[0]!);
            } catch (err) {
              if (!(err instanceof HypervisorError)) throw err;
            }
          }
          const ids = new Set<string>();
          for (const host of hosts) {
            const active = host.listDomains().filter((d) => d.state === 'running' || d.state === 'paused');
            const usage = host.usage();
            expect(usage.cores).toBe(active.reduce((s, d) => s + d.cores, 0));
            expect(usage.memoryMiB).toBe(active.reduce((s, d) => s + d.memoryMiB, 0));
            expect(usage.memoryMiB).toBeLessThanOrEqual(host.memoryMiB);
            expect(usage.cores).toBeLessThanOrEqual(host.cores);
            for (const d of host.listDomains()) {
              expect(ids.has(d.id)).toBe(false);
              ids.add(d.id);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('holds thousands of hosts with fast synchronous operations', () => {
    const t0 = performance.now();
    const hosts = Array.from({ length: 5000 }, () => new SimHost());
    hosts.forEach((h, i) => {
      for (let v = 0; v < 4; v++) {
        const s = spec(i * 4 + v);
        h.defineDomain(s);
        h.startDomain(s.id);
      }
    });
    const used = hosts.reduce((sum, h) => sum + h.usage().cores, 0);
    expect(used).toBe(5000 * 4 * 2);
    expect(performance.now() - t0).toBeLessThan(3000);
  });
});
