/** Actions (GFD.223 §3.6): on one entity, and on every entity of a kind collection whose state allows it. */
import { type AttributeValue, checkAttributeValue } from '../attribute.js';
import type { Kind } from '../category.js';
import type { Entity } from '../entity.js';
import { OcciError } from '../errors.js';
import type { ActionInput, Principal } from '../request.js';
import { nextState, transitions } from '../state-machine.js';
import { type ServiceCore, stateOf, withAttributes } from './core.js';
import { requireAll } from './entity-builder.js';
import type { EntityReads } from './entity-reads.js';

export class Actions {
  constructor(
    private readonly core: ServiceCore,
    private readonly reads: EntityReads,
  ) {}

  /** Trigger an action on an entity (POST ?action=term). */
  async act(principal: Principal, kind: Kind, id: string, term: string, input: ActionInput): Promise<Entity> {
    return this.core.lock([id], async () => {
      const e = this.reads.get(principal, kind, id);
      const actionId = this.actionId(e, term, input);
      const action = this.core.registry.action(actionId)!;
      const attributes: Record<string, AttributeValue> = {};
      const defs = new Map(action.attributes.map((a) => [a.name, a]));
      for (const [name, raw] of Object.entries(input.attributes)) {
        const def = defs.get(name);
        if (!def) throw OcciError.invalidAttribute(name, `not an attribute of action ${actionId}`);
        attributes[name] = checkAttributeValue(def, raw);
      }
      requireAll(defs, attributes);
      const t = transitions[actionId];
      const state = t ? stateOf(e, t.stateAttribute) : undefined;
      const next = t ? nextState(actionId, state) : undefined;
      if (t && next === undefined) {
        throw OcciError.stateConflict(`action ${term} is not allowed in state ${state ?? 'unknown'} of ${this.core.locationOf(e)}`);
      }
      const patch = await this.core.backend.acted(e, actionId, attributes, next ?? '', this.core.context());
      const newAttributes: Record<string, AttributeValue> = { ...e.attributes };
      if (t) {
        newAttributes[t.stateAttribute] = next!;
        delete newAttributes[`${t.stateAttribute}.message`];
      }
      if (actionId.endsWith('storage/action#resize')) newAttributes['occi.storage.size'] = attributes['size']!;
      const stored = withAttributes({ ...e, attributes: newAttributes }, patch);
      this.core.store.apply({ put: [stored] });
      return stored;
    });
  }

  /**
   * POST ?action= on a kind collection: the action on every entity whose state allows it; the
   * others are left as they are. Answers the entities it changed.
   */
  async actOnCollection(principal: Principal, kind: Kind, term: string, input: ActionInput): Promise<Entity[]> {
    const done: Entity[] = [];
    for (const e of this.reads.list(principal, kind)) {
      const actionId = this.actionId(e, term, input);
      const t = transitions[actionId];
      if (t && nextState(actionId, stateOf(e, t.stateAttribute)) === undefined) continue;
      try {
        done.push(await this.act(principal, this.core.registry.kind(e.kind)!, e.id, term, input));
      } catch (err) {
        // Gone since it was listed (deleted, or moved to another node, which acts on it there).
        if (!(err instanceof OcciError && err.code === 'NOT_FOUND')) throw err;
      }
    }
    return done;
  }

  private actionId(e: Entity, term: string, input: ActionInput): string {
    const { registry } = this.core;
    const applicable = registry.actionsOf(e.kind, e.mixins);
    const byTerm = applicable.filter((a) => a.slice(a.lastIndexOf('#') + 1) === term);
    if (input.action !== undefined) {
      if (!registry.action(input.action)) throw OcciError.unknownCategory(input.action);
      if (!byTerm.includes(input.action)) throw OcciError.badRequest(`action ${input.action} does not match ?action=${term} on kind ${e.kind}`);
      return input.action;
    }
    if (byTerm.length === 0) throw OcciError.badRequest(`kind ${e.kind} has no action ${JSON.stringify(term)}`);
    return byTerm[0]!;
  }
}
