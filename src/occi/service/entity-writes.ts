/** Creating, replacing, updating and deleting entities: validated, applied by the backend, then stored; a failure changes nothing. */
import type { AttributeValue } from '../attribute.js';
import { categoryId, type Kind } from '../category.js';
import { type Entity, linkEnds } from '../entity.js';
import { OcciError } from '../errors.js';
import type { EntityInput, Principal } from '../request.js';
import { type ServiceCore, withAttributes } from './core.js';
import { bareId } from '../core-model.js';
import { CORE_ID, endKeys, type EntityBuilder, requireAll, UUID, withEnds } from './entity-builder.js';
import type { EntityReads } from './entity-reads.js';

export class EntityWrites {
  constructor(
    private readonly core: ServiceCore,
    private readonly builder: EntityBuilder,
    private readonly reads: EntityReads,
  ) {}

  /** POST on a kind collection: a new entity with a fresh id (and inline links). */
  async create(principal: Principal, kind: Kind, input: EntityInput): Promise<Entity> {
    const id = this.builder.newId(input);
    const { entity } = await this.put(principal, kind, id, input, { mustBeNew: true });
    return entity;
  }

  /** PUT on an entity: create it with this id, or replace it (mixins and mutable attributes). */
  async put(principal: Principal, kind: Kind, id: string, input: EntityInput, opts: { mustBeNew?: boolean } = {}): Promise<{ entity: Entity; created: boolean }> {
    if (!UUID.test(id)) throw OcciError.badRequest(`entity ids are UUIDs; ${JSON.stringify(id)} is not one`);
    id = id.toLowerCase();
    if (input.kind !== undefined && input.kind !== categoryId(kind)) {
      throw OcciError.badRequest(`kind ${input.kind} does not match the collection of kind ${categoryId(kind)}`);
    }
    const given = input.attributes[CORE_ID];
    if (given !== undefined && (typeof given !== 'string' || bareId(given).toLowerCase() !== id)) throw OcciError.immutableAttribute(CORE_ID);
    const lockKeys = [id, ...endKeys(input), ...input.links.flatMap((l) => endKeys(l))];
    return this.core.lock(lockKeys, async () => {
      const existing = this.core.store.get(id);
      // Another tenant's id: the answer for an entity one cannot see (404), not a 409 that would
      // tell that it exists. Ids are unique mesh-wide: the edge asks the other members first.
      if (existing && !this.core.visible(principal, existing)) throw OcciError.notFound(`${kind.location}${id}`);
      if (existing && (opts.mustBeNew || existing.kind !== categoryId(kind))) {
        throw existing.kind === categoryId(kind) ? OcciError.conflict(`${kind.location}${id} already exists`) : OcciError.conflict(`id ${id} is already in use`);
      }
      if (existing) return { entity: await this.replace(principal, existing, input), created: false };
      return { entity: await this.insert(principal, kind, id, input), created: true };
    });
  }

  /**
   * What creating this input would store, validated, with nothing stored and no backend called:
   * an admission decides where the entity goes before it is created there.
   */
  preview(principal: Principal, kind: Kind, input: EntityInput, id?: string): Entity {
    const entity = this.builder.build(principal, kind, id ?? this.builder.newId(input), input);
    this.builder.buildInlineLinks(principal, entity, input.links);
    return entity;
  }

  private async insert(principal: Principal, kind: Kind, id: string, input: EntityInput): Promise<Entity> {
    const { backend, store } = this.core;
    const entity = this.builder.build(principal, kind, id, input);
    const links = this.builder.buildInlineLinks(principal, entity, input.links);
    const ctx = this.core.context([entity, ...links]);
    const patch = await backend.created(entity, ctx);
    const stored = withAttributes(entity, patch);
    const storedLinks: Entity[] = [];
    try {
      for (const l of links) storedLinks.push(withAttributes(l, await backend.created(l, ctx)));
      store.apply({ put: [stored, ...storedLinks] });
    } catch (err) {
      await this.core.undo([...storedLinks.reverse(), stored], ctx);
      throw err;
    }
    return stored;
  }

  /** PUT on an existing entity: the given mixins and attributes replace the current ones. */
  private async replace(principal: Principal, before: Entity, input: EntityInput): Promise<Entity> {
    const { registry } = this.core;
    const mixins = this.builder.checkMixins(principal, before.kind, input.mixins);
    const defs = registry.attributesOf(before.kind, mixins);
    const attributes: Record<string, AttributeValue> = {};
    for (const d of defs.values()) {
      if (!d.mutable && before.attributes[d.name] !== undefined) attributes[d.name] = before.attributes[d.name]!;
      else if (d.default !== undefined) attributes[d.name] = d.default;
    }
    for (const m of registry.mixinClosure(mixins)) Object.assign(attributes, m.defaults ?? {});
    this.builder.mergeGiven(before, defs, attributes, withEnds(input));
    requireAll(defs, attributes);
    const after = this.core.placed({ ...before, mixins, attributes });
    return this.commitUpdate(principal, before, after);
  }

  /** POST on an entity: partial update; mixins are added, given attributes set. */
  async update(principal: Principal, kind: Kind, id: string, input: EntityInput): Promise<Entity> {
    const { registry } = this.core;
    return this.core.lock([id, ...endKeys(input)], async () => {
      const before = this.reads.get(principal, kind, id);
      if (input.kind !== undefined && input.kind !== before.kind) throw OcciError.badRequest(`the kind of an entity cannot change (${before.kind})`);
      const mixins = this.builder.checkMixins(principal, before.kind, [...before.mixins, ...input.mixins]);
      const defs = registry.attributesOf(before.kind, mixins);
      const attributes: Record<string, AttributeValue> = { ...before.attributes };
      const added = registry.mixinClosure(input.mixins).filter((m) => !before.mixins.includes(categoryId(m)));
      for (const m of added) {
        for (const a of m.attributes) if (a.default !== undefined && attributes[a.name] === undefined) attributes[a.name] = a.default;
        Object.assign(attributes, m.defaults ?? {});
      }
      this.builder.mergeGiven(before, defs, attributes, withEnds(input));
      requireAll(defs, attributes);
      return this.commitUpdate(principal, before, { ...before, mixins, attributes });
    });
  }

  private async commitUpdate(principal: Principal, before: Entity, after: Entity): Promise<Entity> {
    this.core.options.check?.(after);
    if (linkEnds(after)) this.builder.checkLinkEnds(principal, after, []);
    const patch = await this.core.backend.updated(before, after, this.core.context());
    const stored = withAttributes(after, patch);
    this.core.store.apply({ put: [stored] });
    return stored;
  }

  /** DELETE on an entity; a resource takes its links with it. */
  async delete(principal: Principal, kind: Kind, id: string): Promise<void> {
    const known = this.core.store.get(id);
    const related = known ? this.core.related(known).map((l) => l.id) : [];
    await this.core.lock([id, ...related], async () => {
      const e = this.reads.get(principal, kind, id);
      await this.removeAll(this.core.related(e), e);
    });
  }

  private async removeAll(links: Entity[], e: Entity): Promise<void> {
    const { backend, store } = this.core;
    const ctx = this.core.context();
    const removed: string[] = [];
    try {
      for (const l of links) {
        await backend.deleted(l, ctx);
        removed.push(l.id);
      }
      await backend.deleted(e, ctx);
      removed.push(e.id);
    } finally {
      // What the backend removed is removed from the store too, even if a later step failed.
      if (removed.length > 0) store.apply({ remove: removed });
    }
  }

  /** DELETE on a kind collection: every visible entity of the kind. */
  async deleteCollection(principal: Principal, kind: Kind): Promise<number> {
    const entities = this.reads.list(principal, kind);
    for (const e of entities) {
      if (!this.core.store.get(e.id)) continue; // already gone with its resource
      try {
        await this.delete(principal, this.core.registry.kind(e.kind)!, e.id);
      } catch (err) {
        // Gone since it was listed (deleted meanwhile, or moved to another node).
        if (!(err instanceof OcciError && err.code === 'NOT_FOUND')) throw err;
      }
    }
    return entities.length;
  }
}
