/**
 * Where a node's computes are: the mesh-wide question "who holds these, and what do the replica
 * holders know of them", and the fencing a node does when it starts (a compute that runs elsewhere
 * now, or that a replica holder knows under a newer generation, is dropped here before anything
 * restarts it).
 */
import type { Logger } from 'pino';
import type { JsonValue, Mesh } from '../mesh/mesh.js';
import { COMPUTE } from '../occi/infrastructure-model.js';
import type { EntityStore } from '../occi/store.js';
import type { Custody } from './custody.js';
import { generationOf, type ReplicaStore } from './replica-store.js';
import { objectSchema, STRINGS } from '../mesh/rpc-codecs.js';

export const WHEREIS_METHOD = 'cloud/whereis';

/** What a member says about some compute ids. */
interface WhereIs {
  held: Record<string, number>;
  replicas: Record<string, Array<{ holder: string; generation: number; claimedBy: string | null }>>;
}

export interface Where {
  held: Map<string, { key: string; generation: number }>;
  replicas: Map<string, Array<{ holder: string; generation: number; claimedBy: string | null }>>;
}

export class Whereabouts {
  constructor(private readonly opts: { mesh: Mesh; replicas: ReplicaStore; custody: Custody; gatherMs?: number }) {
    opts.mesh.handle(WHEREIS_METHOD, (payload) => this.whereIs((payload as { ids: string[] }).ids) as unknown as JsonValue, objectSchema({ ids: STRINGS }));
  }

  private whereIs(ids: string[]): WhereIs {
    const { custody, replicas } = this.opts;
    const out: WhereIs = { held: {}, replicas: {} };
    for (const id of ids.slice(0, 10_000)) {
      if (typeof id !== 'string') continue;
      const records = custody.records(id);
      if (records?.[0]?.kind === COMPUTE) out.held[id] = generationOf(records[0]);
      const rows = replicas.rowsFor(id);
      if (rows.length > 0) out.replicas[id] = rows.map((r) => ({ holder: r.holder, generation: r.generation, claimedBy: r.claimedBy }));
    }
    return out;
  }

  /** Who holds these computes (members only), and what the replica holders know of them. */
  async ask(ids: string[]): Promise<Where> {
    const { replies } = await this.opts.mesh.gather<WhereIs>(WHEREIS_METHOD, { ids }, { deadlineMs: this.opts.gatherMs ?? 3_000, includeSelf: false });
    const held = new Map<string, { key: string; generation: number }>();
    const replicas = new Map<string, Array<{ holder: string; generation: number; claimedBy: string | null }>>();
    for (const r of replies) {
      for (const [id, generation] of Object.entries(r.value.held ?? {})) held.set(id, { key: r.key, generation });
      for (const [id, rows] of Object.entries(r.value.replicas ?? {})) replicas.set(id, [...(replicas.get(id) ?? []), ...rows]);
    }
    return { held, replicas };
  }

  close(): void {
    this.opts.mesh.unhandle(WHEREIS_METHOD);
  }
}

export interface StartFencing {
  mesh: Mesh;
  store: EntityStore;
  replicas: ReplicaStore;
  cloud: { custody: Custody };
  logger: Logger;
  whereabouts: Whereabouts;
  /** How long to wait for the replica holders to be members (ms). */
  waitMs: number;
  closed(): boolean;
}

/** Drops, before anything restarts them, the computes of a starting node that run elsewhere now. */
export async function fenceAtStart(o: StartFencing): Promise<void> {
  const { mesh, store, cloud, replicas, logger } = o;
  const computes = [...store.all()].filter((e) => e.kind === COMPUTE);
  if (computes.length === 0) return;
  const outbound = replicas.outbound();
  const asked = new Set(computes.flatMap((c) => outbound.get(c.id) ?? []));
  // Wait for the replica holders of these computes (for any member if they were never replicated).
  const reachable = () => (asked.size > 0 ? [...asked].some((k) => mesh.member(k)) : mesh.members().length > 0);
  const deadline = Date.now() + (asked.size > 0 ? o.waitMs * 6 : Math.min(o.waitMs, 3_000));
  while (!reachable() && Date.now() < deadline && !o.closed()) await new Promise((r) => setTimeout(r, 200));
  if (o.closed()) return;
  if (!reachable() && asked.size > 0) logger.warn('fencing: none of the replica holders answered; computes are kept as they are');
  let pending = computes.map((c) => c.id);
  // A claimed copy may be starting elsewhere right now: ask again until it runs there or the claim lapses.
  for (let round = 0; pending.length > 0 && round < 3 && !o.closed(); round++) {
    const where = await o.whereabouts.ask(pending);
    const again: string[] = [];
    for (const id of pending) {
      const local = generationOf(store.get(id));
      const holder = where.held.get(id);
      const rows = where.replicas.get(id) ?? [];
      const newer = rows.find((r) => r.holder !== mesh.key && r.generation > local);
      const claimed = rows.find((r) => r.holder === mesh.key && r.claimedBy !== null);
      if (holder || newer) {
        const by = holder ? (mesh.member(holder.key)?.name ?? holder.key.slice(0, 8)) : 'another node';
        logger.warn({ compute: id, by }, 'fencing: the compute runs elsewhere now; dropping the copy here');
        await cloud.custody.forget(id);
      } else if (claimed && round < 2) again.push(id);
    }
    pending = again;
    if (pending.length > 0) await new Promise((r) => setTimeout(r, 5_000));
  }
}
