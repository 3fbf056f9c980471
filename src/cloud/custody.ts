/** Custody of resources between nodes: moved out, adopted, restarted, forgotten; each under the entity's lock. */
import type { AttributeValue } from '../occi/attribute.js';
import { OcciError } from '../occi/errors.js';
import { type Entity, linkEnds } from '../occi/entity.js';
import { COMPUTE, NETWORK, NETWORKINTERFACE, STORAGE, STORAGELINK } from '../occi/infrastructure-model.js';
import { PLACEMENT_GENERATION } from '../occi/placement-model.js';
import { type ServiceCore, withAttributes } from '../occi/service/core.js';

/** What moves with a compute (Custody.bundle). */
export interface MoveBundle {
  records: Entity[];
  storages: Entity[];
  networks: Entity[];
}

const START_ACTION = 'http://schemas.ogf.org/occi/infrastructure/compute/action#start';

export class Custody {
  /** Computes leaving the store because they run elsewhere now (moved out, forgotten), while they leave. */
  private readonly leaving = new Set<string>();

  constructor(private readonly core: ServiceCore) {}

  /** Whether compute `id` is leaving this node's store because it runs elsewhere (not a user's deletion). */
  isLeaving(id: string): boolean {
    return this.leaving.has(id);
  }

  /** Removes records of resources that run elsewhere now, marked as leaving while the store tells its listeners. */
  private release(ids: string[]): void {
    for (const id of ids) this.leaving.add(id);
    const forgetMark = () => ids.forEach((id) => this.leaving.delete(id));
    try {
      this.core.store.apply({ remove: ids });
    } finally {
      // The listeners run after the change (replication): the mark stays until they are done.
      void this.core.store.settled().then(forgetMark, forgetMark);
    }
  }

  /**
   * A resource's records as a replica carries them: the resource, then its links; for a compute,
   * then the storages that follow it and the networks it joins (a restart elsewhere brings them).
   */
  records(id: string): Entity[] | undefined {
    const e = this.core.store.get(id);
    if (!e) return undefined;
    const b = this.bundle(id);
    return b ? [...b.records, ...b.storages, ...b.networks] : [e, ...this.core.related(e)];
  }

  /**
   * What moves with a compute: the compute and its links (`records`), the storages linked to it
   * that this node holds and no other compute links to (their volumes go with the guest), and the
   * networks it joins (the target realises them; they are not moved). Undefined when not here.
   */
  bundle(id: string): MoveBundle | undefined {
    const { store } = this.core;
    const compute = store.get(id);
    if (!compute || compute.kind !== COMPUTE) return undefined;
    const links = this.core.related(compute);
    const ends = (kind: string) =>
      links.filter((l) => l.kind === kind).map((l) => this.core.entityAt(linkEnds(l)!.target)).filter((e): e is Entity => e !== undefined);
    const location = this.core.locationOf(compute);
    const storages = ends(STORAGELINK).filter((s) => this.core.related(s).every((l) => linkEnds(l)!.source === location));
    return { records: [compute, ...links], storages: [...new Map(storages.map((s) => [s.id, s])).values()], networks: ends(NETWORKINTERFACE) };
  }

  /**
   * Moves a compute away: with it, its links and the storages that follow it locked, `transfer`
   * gets the bundle and makes another node take it in; once it resolves, this node's copies go
   * (what the hypervisor moved already is gone; `released` says whether the domain and volumes
   * left this host with the transfer) and the records leave the store. Requests on the compute
   * wait for the move, then find it gone. Undefined when the compute is not here.
   */
  async moveOut<T>(id: string, transfer: (bundle: MoveBundle) => Promise<T>): Promise<T | undefined> {
    const known = this.bundle(id);
    if (!known) return undefined;
    const keys = [...known.records, ...known.storages].map((e) => e.id);
    return this.core.lock(keys, async () => {
      const bundle = this.bundle(id);
      if (!bundle) return undefined;
      const result = await transfer(bundle);
      const [compute, ...links] = bundle.records;
      try {
        // Gone already after a live migration (the driver then answers that nothing is there).
        await this.core.backend.deleted(compute!, this.core.context());
        for (const s of bundle.storages) await this.core.backend.deleted(s, this.core.context());
      } finally {
        this.release([...links.map((l) => l.id), compute!.id, ...bundle.storages.map((s) => s.id)]);
      }
      return result;
    });
  }

  /**
   * Takes in a resource moved or restarted from another node: its records are stored as they were
   * (placed on this node) and the backend creates it here, with the devices of the link targets
   * this node holds. A resource already here is left as it is. A compute's generation increases:
   * it has a new holder (fencing: a node that comes back after a crash drops older copies).
   * `arrived`: the hypervisor moved the domain and its volumes here already (a live migration):
   * nothing is created, the state is read from the host. `storages` come first, as they came.
   */
  async adopt(records: Entity[], opts: { arrived?: boolean; storages?: Entity[] } = {}): Promise<Entity> {
    const [resource, ...rest] = records;
    if (!resource) throw OcciError.badRequest('nothing to adopt');
    const { store, backend } = this.core;
    // Records as a replica carries them (Custody.records): links, then storages and networks.
    const links = rest.filter((e) => linkEnds(e) !== undefined);
    const storages = [...(opts.storages ?? []), ...rest.filter((e) => e.kind === STORAGE)];
    await this.realise(rest.filter((e) => e.kind === NETWORK));
    return this.core.lock([resource.id, ...links.map((l) => l.id), ...storages.map((s) => s.id)], async () => {
      const existing = store.get(resource.id);
      if (existing) return existing;
      for (const s of storages) {
        if (store.get(s.id)) continue;
        const stored = opts.arrived ? s : withAttributes(s, await backend.created(s, this.core.context()));
        store.apply({ put: [stored] });
      }
      const generation = Number(resource.attributes[PLACEMENT_GENERATION] ?? 1);
      const entity = this.core.placed(resource.kind === COMPUTE ? { ...resource, attributes: { ...resource.attributes, [PLACEMENT_GENERATION]: generation + 1 } } : resource);
      const ctx = this.core.context([entity, ...links]);
      const stored = opts.arrived ? entity : withAttributes(entity, await backend.created(entity, ctx));
      try {
        store.apply({ put: [stored, ...links] });
      } catch (err) {
        if (!opts.arrived) await this.core.undo([stored], ctx);
        throw err;
      }
      return stored;
    });
  }

  /** Networks a compute arriving here joins: realised on this host when missing (their custody stays where it is). */
  async realise(networks: Entity[]): Promise<void> {
    for (const n of networks) {
      if (this.core.store.get(n.id)) continue; // held here: defined here already
      await this.core.backend.created({ ...n, attributes: { ...n.attributes, 'occi.network.state': 'active' } }, this.core.context()).catch((err: unknown) => {
        // Defined already (realised for another compute): fine.
        if (!(err instanceof OcciError && err.code === 'CONFLICT')) throw err;
      });
    }
  }

  /**
   * Restarts a compute on this node's host after its domain crashed or disappeared (restart
   * policy): a domain still defined is started, a missing one is defined again from the compute.
   * The compute becomes active with `message`. Undefined when the compute is not here.
   */
  async restart(id: string, message: string): Promise<Entity | undefined> {
    const { store, backend } = this.core;
    return this.core.lock([id], async () => {
      const e = store.get(id);
      if (!e || e.kind !== COMPUTE) return undefined;
      const active = { ...e, attributes: { ...e.attributes, 'occi.compute.state': 'active' } };
      const ctx = this.core.context();
      let patch: Record<string, AttributeValue>;
      try {
        patch = await backend.acted(e, START_ACTION, {}, 'active', ctx);
      } catch {
        // No domain any more (or it cannot start as it is): define it again.
        await backend.deleted(e, ctx).catch(() => undefined);
        patch = await backend.created(active, this.core.context([active]));
      }
      const stored = withAttributes({ ...active, attributes: { ...active.attributes, 'occi.compute.state.message': message } }, patch);
      store.apply({ put: [stored] });
      return stored;
    });
  }

  /** Sets the message of a compute's state (what the node did about it); nothing else changes. */
  async annotate(id: string, message: string): Promise<void> {
    const { store } = this.core;
    await this.core.lock([id], async () => {
      const e = store.get(id);
      if (!e || e.kind !== COMPUTE || e.attributes['occi.compute.state.message'] === message) return;
      store.apply({ put: [{ ...e, attributes: { ...e.attributes, 'occi.compute.state.message': message } }] });
    });
  }

  /**
   * Forgets a resource that now runs elsewhere (moved or restarted after this node was lost): the
   * backend releases it here (already gone is fine) and its records and links leave the store,
   * with nothing sent anywhere. False when it is not here.
   */
  async forget(id: string): Promise<boolean> {
    const { store } = this.core;
    const known = store.get(id);
    if (!known) return false;
    return this.core.lock([id, ...this.core.related(known).map((l) => l.id)], async () => {
      const e = store.get(id);
      if (!e) return false;
      const links = this.core.related(e);
      try {
        await this.core.backend.deleted(e, this.core.context());
      } finally {
        this.release([...links.map((l) => l.id), e.id]);
      }
      return true;
    });
  }
}
