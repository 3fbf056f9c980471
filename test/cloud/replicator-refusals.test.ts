/**
 * What replica holders refuse (src/cloud/replicas.ts): a change from a copy older than the
 * generation its compute was restarted at elsewhere (its holder was frozen or cut off meanwhile).
 * Such a user's delete is not acknowledged (503), while the copy leaving because it runs
 * elsewhere (a move's cleanup, a dropped copy) and a move's cleanup at the replica holders are taken.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Custody } from '../../src/cloud/custody.js';
import { ReplicaStore } from '../../src/cloud/replica-store.js';
import { Replicator } from '../../src/cloud/replicas.js';
import { SimulatedHypervisor } from '../../src/hypervisor/simulated/index.js';
import type { Mesh } from '../../src/mesh/mesh.js';
import type { Entity } from '../../src/occi/entity.js';
import { HypervisorBackend } from '../../src/occi/hypervisor-backend.js';
import { openOcciService } from '../../src/occi/occi-node.js';
import { LOCAL_ADMIN } from '../../src/occi/request.js';

const COMPUTE = 'http://schemas.ogf.org/occi/infrastructure#compute';
const ID = '0f6c1c3e-0000-4000-8000-0000000000aa';
const logger = pino({ level: 'silent' });
type Handler = (payload: unknown, from: string) => unknown;

function compute(generation: number, title = 'vm'): Entity {
  return { id: ID, kind: COMPUTE, mixins: [], owner: 'default', attributes: { 'occi.core.id': ID, 'occi.core.title': title, 'occi.compute.state': 'active', 'discovery.placement.generation': generation } };
}

/** Members H, R1, R2, R3 whose calls reach each other's handlers. */
function fakeMesh(self: string, handlers: Map<string, Handler>): Mesh {
  const others = ['H', 'R1', 'R2', 'R3'].filter((k) => k !== self);
  return {
    key: self,
    member: (k: string) => ({ key: k, name: k }),
    handle: (_method: string, fn: Handler) => handlers.set(self, fn),
    unhandle: () => handlers.delete(self),
    on: () => undefined,
    off: () => undefined,
    nearest: async () => others.map((key) => ({ candidate: { key } })),
    request: async (k: string, _method: string, payload: unknown) => {
      const h = handlers.get(k);
      if (!h) throw new Error(`${k} unreachable`);
      return h(JSON.parse(JSON.stringify(payload)), self);
    },
  } as unknown as Mesh;
}

describe('replica holders', () => {
  const closing: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const close of closing.splice(0)) await close();
  });

  async function cluster() {
    const handlers = new Map<string, Handler>();
    const holders = ['R1', 'R2', 'R3'].map((key) => {
      const replicas = new ReplicaStore(':memory:');
      const r = new Replicator({ mesh: fakeMesh(key, handlers), replicas, custody: {} as Custody, store: {} as never, logger });
      closing.push(() => (r.close(), replicas.close()));
      return { key, replicas };
    });
    const hypervisor = new SimulatedHypervisor({ loadFile: null });
    const { service, store } = openOcciService({ dataDir: ':memory:', backend: new HypervisorBackend(hypervisor) });
    const custody = new Custody(service.core);
    const replicas = new ReplicaStore(':memory:');
    const replicator = new Replicator({ mesh: fakeMesh('H', handlers), replicas, custody, store, logger });
    closing.push(async () => (replicator.close(), replicas.close(), await hypervisor.close()));
    await replicator.ready();
    replicator.start();
    await hypervisor.defineDomain({ id: ID, name: 'vm', cores: 1, memoryMiB: 256, nics: [], disks: [] });
    await hypervisor.startDomain(ID);
    store.apply({ put: [compute(1)] });
    await store.settled([ID]);
    const kind = service.registry.kind(COMPUTE)!;
    return { holders, service, store, custody, kind };
  }

  it('take a holder changes and its deletion at the newest generation', async () => {
    const { holders, service, kind } = await cluster();
    for (const h of holders) expect(h.replicas.get('H', ID)?.generation).toBe(1);
    await service.delete(LOCAL_ADMIN, kind, ID);
    for (const h of holders) expect(h.replicas.get('H', ID)).toBeUndefined();
  });

  it("refuse a stale copy's deletion as an acknowledgement: the user's delete answers 503", async () => {
    const { holders, service, kind } = await cluster();
    // Restarted at generation 2 by another node while H was frozen: two of three holders know it.
    for (const h of holders.slice(0, 2)) h.replicas.supersede(ID, 2);
    await expect(service.delete(LOCAL_ADMIN, kind, ID)).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/runs on another node now/) });
    // The stale rows go all the same.
    for (const h of holders) expect(h.replicas.get('H', ID)).toBeUndefined();
  });

  it("refuse a stale copy's update, and keep the description they had", async () => {
    const { holders, store } = await cluster();
    for (const h of holders) h.replicas.supersede(ID, 2);
    store.apply({ put: [compute(1, 'late')] }); // an update committed here, as the service does it
    await expect(store.settled([ID])).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    for (const h of holders) expect(h.replicas.get('H', ID)?.records[0]?.attributes['occi.core.title']).toBe('vm');
  });

  it('take the copy leaving because it runs elsewhere (dropped after a restart elsewhere) without an error', async () => {
    const { holders, custody, store } = await cluster();
    for (const h of holders) h.replicas.supersede(ID, 2);
    await expect(custody.forget(ID)).resolves.toBe(true);
    expect(store.get(ID)).toBeUndefined();
  });

  it("take a move's cleanup: the source's deletion while the target holds a newer generation", async () => {
    const { holders, service, kind } = await cluster();
    // The target of a live move replicated generation 2 (a move supersedes nothing).
    for (const h of holders) h.replicas.put('T', { id: ID, generation: 2, version: Date.now() * 1000, order: [], records: [compute(2)] });
    await service.delete(LOCAL_ADMIN, kind, ID);
    for (const h of holders) {
      expect(h.replicas.get('H', ID)).toBeUndefined();
      expect(h.replicas.get('T', ID)?.generation).toBe(2);
    }
  });
});
