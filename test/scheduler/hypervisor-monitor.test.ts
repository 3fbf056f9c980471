import { afterEach, describe, expect, it } from 'vitest';
import type { DomainSpec, Hypervisor } from '../../src/hypervisor/hypervisor.js';
import { LibvirtHypervisor } from '../../src/hypervisor/libvirt/libvirt-hypervisor.js';
import { SimulatedHypervisor } from '../../src/hypervisor/simulated/index.js';
import { HypervisorMonitor } from '../../src/scheduler/hypervisor-monitor.js';
import type { NodeSnapshot } from '../../src/scheduler/protocol/transport.js';
import { fixtureUri, newSpec } from '../hypervisor/libvirt-helpers.js';

function spec(n: number, over: Partial<DomainSpec> = {}): DomainSpec {
  return { id: `00000000-0000-4000-a000-${String(n).padStart(12, '0')}`, name: `mon-${n}`, cores: 2, memoryMiB: 1024, nics: [], disks: [], ...over };
}

function demand(s: NodeSnapshot): Record<string, { cpu: number; mem: number }> {
  return Object.fromEntries(s.vms.map((v) => [v.id, { cpu: Math.round(v.cpu * 1000) / 1000, mem: v.mem }]));
}

const open: Hypervisor[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((hv) => hv.close()));
});

/** A simulated host and a monitor on one fake clock, so CPU-time deltas are exact. */
function simulated(cores = 4, memoryMiB = 4096) {
  const clock = { t: 10_000 };
  const now = (): number => clock.t;
  const hv = new SimulatedHypervisor({ cores, memoryMiB, now, loadFile: null });
  open.push(hv);
  const monitor = new HypervisorMonitor(hv, { nodeId: 'n1', now });
  return { hv, monitor, clock };
}

describe('HypervisorMonitor on the simulated driver', () => {
  it('measures CPU from CPU-time deltas (first sample: allocated cores) and memory as allocated', async () => {
    const { hv, monitor, clock } = simulated();
    const a = spec(1);
    const b = spec(2, { cores: 1, memoryMiB: 512 });
    for (const s of [a, b]) {
      await hv.defineDomain(s);
      await hv.startDomain(s.id);
    }
    hv.setLoad(a.id, 150, 200);
    hv.setLoad(b.id, 50, 100);

    const first = await monitor.refresh();
    expect(first.node).toEqual({ id: 'n1', cpu: 400, mem: 4096 });
    expect(demand(first)).toEqual({ [a.id]: { cpu: 200, mem: 1024 }, [b.id]: { cpu: 100, mem: 512 } });

    clock.t += 1_000;
    expect(demand(await monitor.refresh())).toEqual({ [a.id]: { cpu: 150, mem: 1024 }, [b.id]: { cpu: 50, mem: 512 } });
    // Half of the next period at 150 %, the other half at 190 %: the delta averages them.
    clock.t += 500;
    hv.setLoad(a.id, 190, 200);
    clock.t += 500;
    expect(demand(await monitor.refresh())[a.id]).toEqual({ cpu: 170, mem: 1024 });
    expect(monitor.usage()).toEqual({ cpu: 220, mem: 1536 });
    expect(monitor.free()).toEqual({ cpu: 180, mem: 4096 - 1536 });
    // snapshot() is the last refresh, synchronously.
    expect(demand(monitor.snapshot())).toEqual(demand(await monitor.refresh()));
    // A refresh sooner than minIntervalMs (100 ms) keeps the figure; the next one measures from the older base.
    clock.t += 50;
    hv.setLoad(a.id, 10, 0);
    expect(demand(await monitor.refresh())[a.id]?.cpu).toBe(170);
    clock.t += 100;
    expect(demand(await monitor.refresh())[a.id]?.cpu).toBe((190 * 50 + 10 * 100) / 150);
  });

  it('counts paused domains with no CPU, skips stopped ones, and starts over after a restart', async () => {
    const { hv, monitor, clock } = simulated();
    const a = spec(3);
    const b = spec(4);
    for (const s of [a, b]) {
      await hv.defineDomain(s);
      await hv.startDomain(s.id);
      hv.setLoad(s.id, 100, 0);
    }
    await monitor.refresh();
    clock.t += 1_000;
    await hv.suspendDomain(a.id, 'suspend');
    await hv.stopDomain(b.id, 'poweroff');
    expect(demand(await monitor.refresh())).toEqual({ [a.id]: { cpu: 0, mem: 1024 } });
    await hv.resumeDomain(a.id);
    await hv.startDomain(b.id); // CPU time restarts from 0: no delta, allocated cores again
    hv.setLoad(b.id, 30, 0);
    clock.t += 1_000;
    expect(demand(await monitor.refresh())).toEqual({ [a.id]: { cpu: 100, mem: 1024 }, [b.id]: { cpu: 200, mem: 1024 } });
    clock.t += 1_000;
    expect(demand(await monitor.refresh())[b.id]).toEqual({ cpu: 30, mem: 1024 });
  });

  it('holds reservations until released or until the domain shows up active; its first sample is the reserved demand', async () => {
    const { hv, monitor, clock } = simulated();
    await monitor.refresh();
    monitor.reserve({ id: 'incoming', cpu: 80, mem: 1024 });
    monitor.reserve({ id: 'cancelled', cpu: 50, mem: 512 });
    expect(monitor.usage()).toEqual({ cpu: 130, mem: 1536 });
    expect(monitor.free()).toEqual({ cpu: 270, mem: 4096 - 1536 });
    monitor.release('cancelled');
    expect(monitor.reserved()).toEqual(['incoming']);

    // Defined but not started: still reserved, not double counted.
    const s = spec(5, { id: 'incoming' });
    await hv.defineDomain(s);
    expect(demand(await monitor.refresh())).toEqual({ incoming: { cpu: 80, mem: 1024 } });
    expect(monitor.reserved()).toEqual(['incoming']);

    await hv.startDomain(s.id);
    hv.setLoad(s.id, 60, 0);
    expect(demand(await monitor.refresh())).toEqual({ incoming: { cpu: 80, mem: 1024 } });
    expect(monitor.reserved()).toEqual([]);
    clock.t += 2_000;
    expect(demand(await monitor.refresh())).toEqual({ incoming: { cpu: 60, mem: 1024 } });
  });

  it('expires a reservation nobody released', async () => {
    const { monitor, clock } = simulated();
    const short = new HypervisorMonitor(new SimulatedHypervisor({ loadFile: null, now: () => clock.t }), { nodeId: 'n2', now: () => clock.t, reservationTtlMs: 5_000 });
    short.reserve({ id: 'lost', cpu: 100, mem: 512 });
    monitor.reserve({ id: 'kept', cpu: 100, mem: 512 });
    clock.t += 4_999;
    expect(short.reserved()).toEqual(['lost']);
    clock.t += 1;
    expect(short.reserved()).toEqual([]);
    expect(short.snapshot().vms).toEqual([]);
    expect(monitor.reserved()).toEqual(['kept']);
  });

  it('sees a domain leave by migration at the next refresh and attaches placement rules', async () => {
    const { hv, monitor } = simulated();
    const other = new SimulatedHypervisor({ cores: 4, memoryMiB: 4096, loadFile: null });
    open.push(other);
    const s = spec(6);
    await hv.defineDomain(s);
    await hv.startDomain(s.id);
    const placed = new HypervisorMonitor(hv, { nodeId: 'n1', capacity: { cpu: 300, mem: 2048 }, placementOf: (id) => (id === s.id ? { spread: ['web'] } : undefined) });
    const snap = await placed.refresh();
    expect(snap.node).toEqual({ id: 'n1', cpu: 300, mem: 2048 });
    expect(snap.vms).toEqual([{ id: s.id, cpu: 200, mem: 1024, placement: { spread: ['web'] } }]);
    await monitor.refresh();
    await hv.migrate(s.id, other);
    expect(monitor.snapshot().vms).toHaveLength(1);
    expect((await monitor.refresh()).vms).toEqual([]);
  });

  it('serialises concurrent refreshes', async () => {
    const { hv, monitor } = simulated();
    await hv.defineDomain(spec(7));
    await hv.startDomain(spec(7).id);
    const [x, y] = await Promise.all([monitor.refresh(), monitor.refresh()]);
    expect(x.vms).toHaveLength(1);
    expect(y.vms).toHaveLength(1);
  });
});

describe('HypervisorMonitor on the libvirt test driver', () => {
  it('reports the host capacity and the memory allocated to active domains', async () => {
    const hv = await LibvirtHypervisor.open(fixtureUri('a'));
    open.push(hv);
    const monitor = new HypervisorMonitor(hv, { nodeId: 'host-a' });
    const cap = await hv.capacity();
    const before = await monitor.refresh();
    expect(before.node).toEqual({ id: 'host-a', cpu: cap.cores * 100, mem: cap.memoryMiB });
    const usage = await hv.usage();
    expect(before.vms.reduce((a, v) => a + v.mem, 0)).toBe(usage.memoryMiB);
    expect(before.vms.map((v) => v.id).sort()).toEqual(usage.domains.map((d) => d.id).sort());

    const s = newSpec({ cores: 1, memoryMiB: 768 });
    await hv.defineDomain(s);
    expect((await monitor.refresh()).vms.find((v) => v.id === s.id)).toBeUndefined();
    await hv.startDomain(s.id);
    const started = await monitor.refresh();
    expect(started.vms.find((v) => v.id === s.id)).toEqual({ id: s.id, cpu: 100, mem: 768 });
    expect(monitor.usage().mem).toBe(usage.memoryMiB + 768);
    const again = await monitor.refresh();
    const cpu = again.vms.find((v) => v.id === s.id)?.cpu;
    expect(Number.isFinite(cpu) && (cpu ?? -1) >= 0).toBe(true);
    await hv.undefineDomain(s.id);
    expect((await monitor.refresh()).vms.find((v) => v.id === s.id)).toBeUndefined();
  });
});
