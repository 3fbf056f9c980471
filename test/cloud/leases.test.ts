import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Custody } from '../../src/cloud/custody.js';
import { LeaseGrants } from '../../src/cloud/lease-grants.js';
import { LeaseHolder } from '../../src/cloud/lease-holder.js';
import { majority, ReplicaStore } from '../../src/cloud/replica-store.js';
import { SimulatedHypervisor } from '../../src/hypervisor/simulated/index.js';
import { monotonicMs } from '../../src/lib/monotonic.js';
import type { Mesh } from '../../src/mesh/mesh.js';
import { HypervisorBackend } from '../../src/occi/hypervisor-backend.js';
import type { Entity } from '../../src/occi/entity.js';
import { openOcciService } from '../../src/occi/occi-node.js';

const COMPUTE = 'http://schemas.ogf.org/occi/infrastructure#compute';
const logger = pino({ level: 'silent' });

function compute(id: string, generation = 1): Entity {
  return { id, kind: COMPUTE, mixins: [], owner: 'default', attributes: { 'occi.core.id': id, 'occi.compute.state': 'active', 'discovery.placement.generation': generation } };
}

/** A mesh of named members whose calls to `handlers` reach them, unless cut. */
function fakeMesh(self: string, members: string[], handlers: Map<string, (payload: unknown, from: string) => unknown>, cut = new Set<string>()): Mesh {
  return {
    key: self,
    member: (k: string) => (members.includes(k) ? { key: k, name: k } : undefined),
    request: async (k: string, _method: string, payload: unknown) => {
      if (cut.has(k) || !handlers.has(k)) throw new Error(`${k} unreachable`);
      return handlers.get(k)!(payload, self);
    },
  } as unknown as Mesh;
}

describe('lease grants (replica side)', () => {
  it('grant renewals of the computes they keep, refuse votes until the lease has surely ended, then vote once per generation', () => {
    let now = 0;
    const replicas = new ReplicaStore(':memory:');
    replicas.put('H', { id: 'vm', generation: 3, version: 1, order: ['R1', 'R2'], records: [compute('vm', 3)] });
    const grants = new LeaseGrants({ mesh: fakeMesh('R1', ['C1', 'C2'], new Map()), replicas, leaseMs: 1000, now: () => now });
    expect(grants.renew('H', { vm: 3, other: 1 })).toEqual({ vm: 'granted', other: 'unknown' });
    now = 1000; // the holder's own lease ends here, but this side allows for clock rates and delivery
    expect(grants.vote('H', 'vm', 3, 'C1')).toMatchObject({ yes: false, why: expect.stringMatching(/lease may still run/) });
    now = 1000 + 1100 + 501;
    expect(grants.vote('H', 'vm', 2, 'C1')).toMatchObject({ yes: false, why: expect.stringMatching(/generation 3/) });
    expect(grants.vote('H', 'vm', 3, 'C1')).toMatchObject({ yes: true });
    expect(grants.vote('H', 'vm', 3, 'C2')).toMatchObject({ yes: false, why: 'claimed by another node' });
    // The old holder comes back: its renewal says the compute is claimed (not yet moved: the claimant may give up).
    expect(grants.renew('H', { vm: 3 })).toEqual({ vm: 'claimed' });
    // The claimant gave up: another may claim, and the holder may renew again.
    grants.withdraw('H', 'vm', 'C1');
    expect(grants.renew('H', { vm: 3 })).toEqual({ vm: 'granted' });
    // Restarted elsewhere at generation 4: every copy of an older generation is stale.
    replicas.supersede('vm', 4);
    expect(grants.renew('H', { vm: 3 })).toEqual({ vm: 'moved' });
    replicas.close();
  });

  it('count a lease from their own start (a holder may have renewed just before a restart)', () => {
    let now = 5000;
    const replicas = new ReplicaStore(':memory:');
    replicas.put('H', { id: 'vm', generation: 1, version: 1, order: ['R1'], records: [compute('vm')] });
    const grants = new LeaseGrants({ mesh: fakeMesh('R1', ['C'], new Map()), replicas, leaseMs: 1000, now: () => now });
    expect(grants.vote('H', 'vm', 1, 'C').yes).toBe(false);
    now += 2000;
    expect(grants.vote('H', 'vm', 1, 'C').yes).toBe(true);
    replicas.close();
  });

  it('majorities of one set always share a member', () => {
    for (let n = 1; n <= 9; n++) expect(2 * majority(n)).toBeGreaterThan(n);
  });
});

describe('lease holder', () => {
  const dirs: string[] = [];
  const open: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of open.splice(0)) await close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function holder(leaseMs: number, heldElsewhere?: (ids: string[]) => Promise<Set<string>>) {
    const dir = mkdtempSync(join(tmpdir(), 'lease-'));
    dirs.push(dir);
    const events = join(dir, 'events.jsonl');
    const hypervisor = new SimulatedHypervisor({ loadFile: null, eventLog: events });
    const { service, store } = openOcciService({ dataDir: ':memory:', backend: new HypervisorBackend(hypervisor) });
    const replicas = new ReplicaStore(':memory:');
    const grantors = ['R1', 'R2', 'R3', 'R4'].map((k) => {
      const r = new ReplicaStore(':memory:');
      return { key: k, replicas: r, grants: new LeaseGrants({ mesh: fakeMesh(k, ['H', 'C'], new Map()), replicas: r, leaseMs }) };
    });
    // How long the replica holders take to answer (ms).
    const delay = { ms: 0 };
    const handlers = new Map(
      grantors.map((g) => [
        g.key,
        async (p: unknown, from: string) => {
          if (delay.ms > 0) await new Promise((r) => setTimeout(r, delay.ms));
          return g.grants.renew(from, (p as { generations: Record<string, number> }).generations);
        },
      ]),
    );
    const cut = new Set<string>();
    const mesh = fakeMesh('H', grantors.map((g) => g.key), handlers, cut);
    const vm = compute('0f6c1c3e-0000-4000-8000-000000000001');
    await hypervisor.defineDomain({ id: vm.id, name: 'vm', cores: 1, memoryMiB: 256, nics: [], disks: [] });
    await hypervisor.startDomain(vm.id);
    store.apply({ put: [vm] });
    replicas.sent(vm.id, grantors.map((g) => g.key));
    for (const g of grantors) g.replicas.put('H', { id: vm.id, generation: 1, version: 1, order: grantors.map((x) => x.key), records: [vm] });
    const leases = new LeaseHolder({ mesh, store, replicas, custody: new Custody(service.core), hypervisor, logger, leaseMs, renewMs: 100_000, fenceMarginMs: leaseMs / 4, heldElsewhere });
    open.push(async () => (leases.close(), await hypervisor.close()));
    return { leases, hypervisor, vm, cut, grantors, store, events, delay };
  }
  const state = async (hv: SimulatedHypervisor, id: string) => (await hv.domainInfo(id)).state;

  it('keeps running with a majority (itself and two of four), pauses before the lease ends without one, runs again once renewed', async () => {
    const { leases, hypervisor, vm, cut } = await holder(400);
    await leases.tick();
    expect(await state(hypervisor, vm.id)).toBe('running');
    cut.add('R1').add('R2'); // 3 of 5 still renew: a majority
    await leases.tick();
    expect(leases.isFenced(vm.id)).toBe(false);
    cut.add('R3'); // 2 of 5
    const renewedAt = monotonicMs();
    await leases.tick();
    await new Promise((r) => setTimeout(r, 320));
    await leases.tick();
    expect(leases.isFenced(vm.id)).toBe(true);
    expect(await state(hypervisor, vm.id)).toBe('paused');
    expect(monotonicMs() - renewedAt).toBeLessThan(400 + 200);
    cut.clear();
    await leases.tick();
    expect(leases.isFenced(vm.id)).toBe(false);
    expect(await state(hypervisor, vm.id)).toBe('running');
  });

  it('has the hypervisor pause the guest at the deadline by itself, even when the node does nothing more', async () => {
    const { leases, hypervisor, vm, cut, events } = await holder(300);
    await leases.tick();
    cut.add('R1').add('R2').add('R3').add('R4');
    const renewed = monotonicMs();
    await new Promise((r) => setTimeout(r, 400)); // no tick: only the driver's own deadline acts
    expect(await state(hypervisor, vm.id)).toBe('paused');
    const paused = readFileSync(events, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).find((e) => e.state === 'paused');
    expect(paused.t - renewed).toBeLessThanOrEqual(300);
  });

  it('has the driver hold the lease of a compute from its arrival, before its first renewal', async () => {
    const { leases, hypervisor, store } = await holder(300);
    leases.start();
    await leases.tick();
    const late = compute('0f6c1c3e-0000-4000-8000-000000000002');
    await hypervisor.defineDomain({ id: late.id, name: 'late', cores: 1, memoryMiB: 256, nics: [], disks: [] });
    await hypervisor.startDomain(late.id);
    store.apply({ put: [late] });
    await new Promise((r) => setTimeout(r, 400)); // no renewal of it yet: only the driver acts
    expect(await state(hypervisor, late.id)).toBe('paused');
  });

  it('resumes a guest the driver paused at the deadline while a renewal was on its way, once that renewal is granted', async () => {
    const { leases, hypervisor, vm, delay } = await holder(400);
    await leases.tick();
    await new Promise((r) => setTimeout(r, 250));
    // The renewal leaves before the driver's deadline (300 ms after the first) and is answered after it.
    delay.ms = 150;
    const round = leases.tick();
    await new Promise((r) => setTimeout(r, 100));
    expect(await state(hypervisor, vm.id)).toBe('paused');
    await round;
    expect(await state(hypervisor, vm.id)).toBe('running');
    expect(leases.isFenced(vm.id)).toBe(false);
  });

  it('resumes a guest the driver paused at the deadline when the lease comes back, even once a read observed it suspended and it was started after its last renewal', async () => {
    const { leases, hypervisor, vm, cut, store } = await holder(400);
    const withState = (state: string) => store.apply({ put: [{ ...store.get(vm.id)!, attributes: { ...store.get(vm.id)!.attributes, 'occi.compute.state': state } }] });
    withState('inactive'); // the last renewal saw it stopped; the user starts it right after
    await leases.tick();
    withState('active');
    cut.add('R1').add('R2').add('R3').add('R4');
    await new Promise((r) => setTimeout(r, 350)); // the node froze: only the driver acts, at 300 ms
    expect(await state(hypervisor, vm.id)).toBe('paused');
    withState('suspended'); // a read reconciled the driver's pause before the node looked
    await leases.tick();
    expect(leases.isFenced(vm.id)).toBe(true);
    cut.clear();
    await leases.tick();
    expect(leases.isFenced(vm.id)).toBe(false);
    expect(await state(hypervisor, vm.id)).toBe('running');
  });

  it('does not run the guest again on a grant that arrives after the lease it renews would end (the node froze while it was on its way)', async () => {
    const { leases, hypervisor, vm, delay, events } = await holder(400);
    const log = () => readFileSync(events, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { state: string; t: number });
    await leases.tick();
    const before = log().length;
    delay.ms = 450; // answered past this renewal's own fence point (300 ms after it was sent)
    await leases.tick();
    const round = log().slice(before);
    const pausedAt = round.find((e) => e.state === 'paused')!.t;
    expect(round.filter((e) => e.state === 'running' && e.t >= pausedAt), JSON.stringify(round)).toEqual([]);
    expect(leases.isFenced(vm.id)).toBe(true);
    delay.ms = 0;
    await leases.tick();
    expect(await state(hypervisor, vm.id)).toBe('running');
  });

  it('keeps a compute whose restart is claimed fenced, not dropped: it runs again when the claim is withdrawn, and goes once the claimant holds it', async () => {
    const held = new Set<string>();
    const { leases, hypervisor, vm, grantors, store } = await holder(400, async (ids) => new Set(ids.filter((id) => held.has(id))));
    await leases.tick();
    for (const g of grantors) g.replicas.claim('H', vm.id, 'C');
    await new Promise((r) => setTimeout(r, 350));
    await leases.tick();
    expect(store.get(vm.id)).toBeDefined();
    expect(leases.isFenced(vm.id)).toBe(true);
    expect(await state(hypervisor, vm.id)).toBe('paused');
    for (const g of grantors) g.grants.withdraw('H', vm.id, 'C');
    await leases.tick();
    expect(leases.isFenced(vm.id)).toBe(false);
    expect(await state(hypervisor, vm.id)).toBe('running');
    for (const g of grantors) g.replicas.claim('H', vm.id, 'C');
    held.add(vm.id);
    await leases.tick();
    expect(store.get(vm.id)).toBeUndefined();
    expect(await state(hypervisor, vm.id)).toBe('absent');
  });

  it('drops its copy when the replica set says another node took the compute over', async () => {
    const { leases, hypervisor, vm, grantors, store } = await holder(400);
    for (const g of grantors) g.replicas.supersede(vm.id, 2);
    await leases.tick();
    expect(store.get(vm.id)).toBeUndefined();
    expect(await state(hypervisor, vm.id)).toBe('absent');
  });

  it('lets a change wait for the renewal after the lease lapsed (a frozen node): it goes on once renewed, or finds the copy gone once another node holds it', async () => {
    const { leases, vm, grantors, store } = await holder(300);
    await leases.tick();
    expect(leases.holdsLease(vm.id)).toBe(true);
    await new Promise((r) => setTimeout(r, 250)); // past the fence point: as after a freeze
    expect(leases.holdsLease(vm.id)).toBe(false);
    await leases.whenLeased(vm.id, 1_000);
    expect(leases.holdsLease(vm.id)).toBe(true);
    await new Promise((r) => setTimeout(r, 250));
    for (const g of grantors) g.replicas.supersede(vm.id, 2); // restarted elsewhere meanwhile
    await leases.whenLeased(vm.id, 1_000);
    expect(store.get(vm.id)).toBeUndefined();
  });

  it('answers 503 to a change of a compute whose lease stays lost (cut off from its replica set)', async () => {
    const { leases, vm, cut } = await holder(300);
    await leases.tick();
    cut.add('R1').add('R2').add('R3');
    await new Promise((r) => setTimeout(r, 250));
    const started = monotonicMs();
    await expect(leases.whenLeased(vm.id, 500)).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/could not renew its lease/) });
    expect(monotonicMs() - started).toBeGreaterThanOrEqual(500);
  });
});
