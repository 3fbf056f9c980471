/** Custody of resources between nodes: moved out, adopted, restarted, forgotten; each under the entity's lock. */
import type { AttributeValue } from '../occi/attribute.js';
import type { Entity } from '../occi/entity.js';
import { OcciError } from '../occi/errors.js';
import { COMPUTE } from '../occi/infrastructure-model.js';
import { PLACEMENT_GENERATION } from '../occi/placement-model.js';
import { type ServiceCore, withAttributes } from '../occi/service/core.js';

const START_ACTION = 'http://schemas.ogf.org/occi/infrastructure/compute/action#start';

export class Custody {
  constructor(private readonly core: ServiceCore) {}

  /** A resource's records as a move or a replica carries them: the resource, then its links. */
  records(id: string): Entity[] | undefined {
    const e = this.core.store.get(id);
    return e ? [e, ...this.core.related(e)] : undefined;
  }

  /**
   * Moves a resource away: with it and its links locked, `transfer` gets their records and makes
   * another node take them in; once it resolves, the backend releases the resource here and the
   * records leave the store. Requests on the resource wait for the move, then find it gone.
   * Undefined when the resource is not here.
   */
  async moveOut<T>(id: string, transfer: (records: Entity[]) => Promise<T>): Promise<T | undefined> {
    const { store } = this.core;
    const known = store.get(id);
    if (!known) return undefined;
    const related = this.core.related(known);
    return this.core.lock([id, ...related.map((l) => l.id)], async () => {
      const e = store.get(id);
      if (!e) return undefined;
      const links = this.core.related(e);
      const result = await transfer([e, ...links]);
      try {
        await this.core.backend.deleted(e, this.core.context());
      } finally {
        store.apply({ remove: [...links.map((l) => l.id), e.id] });
      }
      return result;
    });
  }

  /**
   * Takes in a resource moved or restarted from another node: its records are stored as they were
   * (placed on this node) and the backend creates it here, with the devices of the link targets
   * this node holds. A resource already here is left as it is. A compute's generation increases:
   * it has a new holder (fencing: a node that comes back after a crash drops older copies).
   */
  async adopt(records: Entity[]): Promise<Entity> {
    const [resource, ...links] = records;
    if (!resource) throw OcciError.badRequest('nothing to adopt');
    const { store, backend } = this.core;
    return this.core.lock([resource.id, ...links.map((l) => l.id)], async () => {
      const existing = store.get(resource.id);
      if (existing) return existing;
      const generation = Number(resource.attributes[PLACEMENT_GENERATION] ?? 1);
      const entity = this.core.placed(resource.kind === COMPUTE ? { ...resource, attributes: { ...resource.attributes, [PLACEMENT_GENERATION]: generation + 1 } } : resource);
      const ctx = this.core.context([entity, ...links]);
      const stored = withAttributes(entity, await backend.created(entity, ctx));
      try {
        store.apply({ put: [stored, ...links] });
      } catch (err) {
        await this.core.undo([stored], ctx);
        throw err;
      }
      return stored;
    });
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
        store.apply({ remove: [...links.map((l) => l.id), e.id] });
      }
      return true;
    });
  }
}
