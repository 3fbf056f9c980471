/** Reconciliation with the infrastructure: an entity re-observed through the backend, and what changed stored. */
import type { AttributeValue } from '../attribute.js';
import type { Entity } from '../entity.js';
import { sameValue, type ServiceCore } from './core.js';

export class Reconciliation {
  constructor(private readonly core: ServiceCore) {}

  /** Reconciliation on read: the entity as the backend observes it now (stored when it changed). */
  async observe(e: Entity): Promise<Entity> {
    if (!this.core.backend.observe) return e;
    return (await this.reconcile(e.id)) ?? e;
  }

  /**
   * Re-observes an entity through the backend under the entity's lock, so that it never reads the
   * infrastructure halfway through a request's backend calls, and stores what changed. Called on
   * read and when the infrastructure reports a change. Undefined when there is no such entity.
   */
  async reconcile(id: string): Promise<Entity | undefined> {
    const { backend, store } = this.core;
    if (!backend.observe) return store.get(id);
    return this.core.lock([id], async () => {
      const fresh = store.get(id);
      if (!fresh) return undefined;
      const patch = await backend.observe!(fresh);
      // A stored message that extends the observed one (what the node did about it) is kept.
      const same = (k: string, v: unknown) => sameValue(v, fresh.attributes[k]) || (k.endsWith('.message') && typeof v === 'string' && String(fresh.attributes[k] ?? '').startsWith(v));
      if (!patch || Object.entries(patch).every(([k, v]) => same(k, v))) return fresh;
      const stored = withObserved(fresh, patch);
      store.apply({ put: [stored] });
      return stored;
    });
  }
}

/** The patch applied; a state that changes without a message loses the previous state's message. */
function withObserved(e: Entity, patch: Record<string, AttributeValue>): Entity {
  const attributes = { ...e.attributes, ...patch };
  for (const [name, value] of Object.entries(patch)) {
    const message = `${name}.message`;
    if (name.endsWith('.state') && value !== e.attributes[name] && !(message in patch)) delete attributes[message];
  }
  return { ...e, attributes };
}
