import { randomUUID } from 'node:crypto';
import { type AttributeDefinition, type AttributeValue, checkAttributeValue } from './attribute.js';
import type { Backend, BackendContext } from './backend.js';
import { type Category, categoryId, type Kind, type Mixin } from './category.js';
import { LINK, RESOURCE, UUID_PATTERN } from './core-model.js';
import { type Entity, linkEnds, SOURCE, TARGET } from './entity.js';
import { OcciError } from './errors.js';
import { COMPUTE, NETWORK, NETWORKINTERFACE, OS_TPL, RESOURCE_TPL, STORAGE, STORAGELINK } from './infrastructure-model.js';
import { KeyedMutex } from './keyed-mutex.js';
import type { CategoryRegistry } from './registry.js';
import type { ActionInput, EntityInput, Filter, LocationsInput, MixinDefinitionInput, Principal } from './request.js';
import { PLACEMENT, PLACEMENT_GENERATION, PLACEMENT_NODE } from './placement-model.js';
import { nextState, transitions } from './state-machine.js';
import type { EntityStore } from './store.js';

/** Where a path points. */
export type Target =
  | { type: 'query' }
  | { type: 'collection'; category: Kind | Mixin }
  | { type: 'entity'; kind: Kind; id: string };

/** An entity with everything its renderings need. */
export interface EntityView {
  entity: Entity;
  location: string;
  kind: Kind;
  mixins: Mixin[];
  /** Actions applicable in the entity's current state. */
  actions: string[];
  /** For resources: the links whose source it is. */
  links: EntityView[];
  /** For links: the kinds of the ends, when known. */
  sourceKind?: string;
  targetKind?: string;
}

const START_ACTION = 'http://schemas.ogf.org/occi/infrastructure/compute/action#start';
const UUID = new RegExp(`^${UUID_PATTERN}$`);
const CORE_ID = 'occi.core.id';
const USER_MIXIN_LOCATION = /^\/[A-Za-z0-9._~-]+\/([A-Za-z0-9._~-]+\/){0,2}$/;
const TERM = /^[a-z][a-z0-9_.-]*$/i;
const SCHEME = /^[a-z][a-z0-9+.-]*:\/\/?[^\s#"]*#$/i;

/** Which kinds a link may join (GFD.224: networkinterface compute→network, storagelink compute→storage). */
const LINK_ENDS: Record<string, { source: string; target: string }> = {
  [NETWORKINTERFACE]: { source: COMPUTE, target: NETWORK },
  [STORAGELINK]: { source: COMPUTE, target: STORAGE },
};

/**
 * The OCCI operations of one node (GFD.221/223/224): validation against the category registry,
 * state diagrams, the backend's effects, and durable storage. A request either completes or
 * changes nothing.
 */
export class OcciService {
  private readonly mutex: KeyedMutex;

  constructor(
    readonly registry: CategoryRegistry,
    private readonly store: EntityStore,
    private readonly backend: Backend,
    private readonly options: {
      nodeName?: string;
      /** Further checks of an entity about to be created, replaced or tagged (placement constraints); throws an OcciError to refuse. */
      check?: (entity: Entity) => void;
    } = {},
  ) {
    // A write answers once the store's listeners (replication of computes) are done with it.
    this.mutex = new KeyedMutex(() => store.settled());
    for (const m of store.userMixins()) registry.add(m);
  }

  get backendDescription(): string {
    return this.backend.description;
  }

  // ---- paths ------------------------------------------------------------------------------

  resolve(path: string): Target | undefined {
    if (path === '/-/' || path === '/.well-known/org/ogf/occi/-/') return { type: 'query' };
    const asCollection = this.registry.atLocation(path.endsWith('/') ? path : `${path}/`);
    if (asCollection) return { type: 'collection', category: asCollection };
    if (path.endsWith('/')) return undefined;
    const slash = path.lastIndexOf('/');
    const kind = this.registry.atLocation(path.slice(0, slash + 1));
    if (kind?.class !== 'kind') return undefined;
    return { type: 'entity', kind, id: path.slice(slash + 1) };
  }

  locationOf(e: Entity): string {
    return `${this.registry.kind(e.kind)?.location ?? '/'}${e.id}`;
  }

  // ---- query interface --------------------------------------------------------------------

  categories(principal: Principal, filter: string[] = []): Category[] {
    const all = this.registry.all().filter((c) => c.class !== 'mixin' || !c.user || principal.admin || c.owner === principal.tenant);
    if (filter.length === 0) return all;
    const wanted = new Set(filter);
    const found = all.filter((c) => wanted.has(categoryId(c)));
    for (const id of wanted) if (!found.some((c) => categoryId(c) === id)) throw OcciError.unknownCategory(id);
    return found;
  }

  async addUserMixins(principal: Principal, inputs: MixinDefinitionInput[]): Promise<Mixin[]> {
    if (inputs.length === 0) throw OcciError.badRequest('no mixin to create');
    const mixins = inputs.map((input) => this.newUserMixin(principal, input));
    return this.mutex.run(['#categories'], async () => {
      const ids = new Set<string>();
      const locations = new Set<string>();
      for (const m of mixins) {
        const id = categoryId(m);
        if (this.registry.get(id) || ids.has(id)) throw OcciError.conflict(`category ${id} already exists`);
        if (this.registry.atLocation(m.location!) || locations.has(m.location!)) throw OcciError.conflict(`location ${m.location} is already taken`);
        ids.add(id);
        locations.add(m.location!);
      }
      this.store.apply({ putMixins: mixins });
      for (const m of mixins) this.registry.add(m);
      return mixins;
    });
  }

  private newUserMixin(principal: Principal, input: MixinDefinitionInput): Mixin {
    if (!TERM.test(input.term)) throw OcciError.badRequest(`mixin term ${JSON.stringify(input.term)} is not a valid term`);
    if (!SCHEME.test(input.scheme)) throw OcciError.badRequest(`mixin scheme ${JSON.stringify(input.scheme)} must be a URI ending with #`);
    const location = input.location ?? `/${input.term}/`;
    if (!USER_MIXIN_LOCATION.test(location)) {
      throw OcciError.badRequest(`mixin location ${JSON.stringify(location)} must be a path of one to three segments ending with /`);
    }
    for (const d of input.depends) if (!this.registry.mixin(d)) throw OcciError.unknownCategory(d);
    for (const a of input.applies) if (!this.registry.kind(a)) throw OcciError.unknownCategory(a);
    return {
      class: 'mixin',
      term: input.term,
      scheme: input.scheme,
      title: input.title,
      depends: input.depends,
      applies: input.applies,
      location,
      actions: [],
      attributes: [],
      user: true,
      owner: principal.tenant,
    };
  }

  async removeUserMixins(principal: Principal, ids: string[]): Promise<void> {
    if (ids.length === 0) throw OcciError.badRequest('no mixin to delete');
    await this.mutex.run(['#categories'], async () => {
      for (const id of ids) {
        const m = this.registry.mixin(id);
        if (!m || !this.visibleMixin(principal, m)) throw OcciError.unknownCategory(id);
        if (!m.user) throw OcciError.methodNotAllowed('DELETE', id, []);
      }
      // Untag every member in the same transaction as the mixins' removal.
      const untagged = [...this.store.all()]
        .filter((e) => e.mixins.some((x) => ids.includes(x)))
        .map((e) => ({ ...e, mixins: e.mixins.filter((x) => !ids.includes(x)) }));
      this.store.apply({ removeMixins: ids, put: untagged });
      for (const id of ids) this.registry.remove(id);
    });
  }

  private visibleMixin(principal: Principal, m: Mixin): boolean {
    return !m.user || principal.admin || m.owner === principal.tenant;
  }

  // ---- reads --------------------------------------------------------------------------------

  visible(principal: Principal, e: Entity): boolean {
    return principal.admin || e.owner === principal.tenant;
  }

  get(principal: Principal, kind: Kind, id: string): Entity {
    const e = this.store.get(id);
    if (!e || e.kind !== categoryId(kind) || !this.visible(principal, e)) throw OcciError.notFound(`${kind.location}${id}`);
    return e;
  }

  /** Entities of a kind collection (the kind and its descendants) or members of a mixin collection. */
  list(principal: Principal, collection: Kind | Mixin, filter: Filter = { categories: [], attributes: {} }): Entity[] {
    if (collection.class === 'mixin' && !this.visibleMixin(principal, collection)) throw OcciError.notFound(collection.location ?? '');
    for (const c of filter.categories) if (!this.registry.get(c)) throw OcciError.unknownCategory(c);
    const id = categoryId(collection);
    const out: Entity[] = [];
    for (const e of this.store.all()) {
      if (!this.visible(principal, e)) continue;
      const member = collection.class === 'kind' ? this.registry.isA(e.kind, id) : this.registry.mixinClosure(e.mixins).some((m) => categoryId(m) === id);
      if (member && matches(e, filter)) out.push(e);
    }
    return out;
  }

  /** A collection's entities with their links, as a member sends them to the node that gathers. */
  listWithLinks(principal: Principal, collection: Kind | Mixin, filter?: Filter): Array<{ entity: Entity; links: Entity[] }> {
    return this.list(principal, collection, filter).map((entity) => ({ entity, links: this.linksOf(entity.id).filter((l) => this.visible(principal, l)) }));
  }

  /** The user mixins visible to the principal (the part of the query interface that differs per node). */
  userMixins(principal: Principal): Mixin[] {
    return this.registry.all().filter((c): c is Mixin => c.class === 'mixin' && c.user === true && this.visibleMixin(principal, c));
  }

  /** Whether this node holds the entity. */
  holds(id: string): boolean {
    return this.store.get(id) !== undefined;
  }

  /**
   * The view of an entity; `links` replaces the local lookup for entities another member sent
   * (their links live there too).
   */
  view(principal: Principal, e: Entity, links?: Entity[]): EntityView {
    const kind = this.registry.kind(e.kind)!;
    const mixins = e.mixins.map((m) => this.registry.mixin(m)).filter((m): m is Mixin => m !== undefined);
    const location = `${kind.location ?? '/'}${e.id}`;
    const actions = this.registry.actionsOf(e.kind, e.mixins).filter((a) => {
      const t = transitions[a];
      return !t || nextState(a, stateOf(e, t.stateAttribute)) !== undefined;
    });
    const view: EntityView = { entity: e, location, kind, mixins, actions, links: [] };
    const ends = linkEnds(e);
    if (ends) {
      view.sourceKind = this.entityAt(ends.source)?.kind;
      view.targetKind = this.entityAt(ends.target)?.kind;
    } else {
      view.links = (links ?? this.linksOf(e.id)).filter((l) => this.visible(principal, l)).map((l) => this.view(principal, l));
    }
    return view;
  }

  /** The entity at a location such as `/compute/<uuid>`, if it exists. */
  entityAt(location: string): Entity | undefined {
    const t = this.resolve(location);
    if (t?.type !== 'entity') return undefined;
    const e = this.store.get(t.id);
    return e && e.kind === categoryId(t.kind) ? e : undefined;
  }

  /** Links whose source is the resource with this id. */
  private linksOf(id: string): Entity[] {
    const e = this.store.get(id);
    if (!e) return [];
    const location = this.locationOf(e);
    return this.store.linksAt(location).filter((l) => linkEnds(l)!.source === location);
  }

  private context(pending: Entity[] = []): BackendContext {
    return {
      entity: (id) => pending.find((e) => e.id === id) ?? this.store.get(id),
      linksOf: (id) => [...this.linksOf(id), ...pending.filter((l) => linkEnds(l) && this.endId(linkEnds(l)!.source, pending) === id)],
    };
  }

  private endId(location: string, pending: Entity[]): string | undefined {
    const t = this.resolve(location);
    if (t?.type !== 'entity') return undefined;
    return this.store.get(t.id)?.id ?? pending.find((e) => e.id === t.id)?.id;
  }

  // ---- writes -------------------------------------------------------------------------------

  /** POST on a kind collection: a new entity with a fresh id (and inline links). */
  async create(principal: Principal, kind: Kind, input: EntityInput): Promise<Entity> {
    const id = this.newId(input);
    const { entity } = await this.put(principal, kind, id, input, { mustBeNew: true });
    return entity;
  }

  private newId(input: EntityInput): string {
    const given = input.attributes[CORE_ID];
    if (given === undefined) return randomUUID();
    if (typeof given !== 'string' || !UUID.test(given)) throw OcciError.invalidAttribute(CORE_ID, 'must be a UUID');
    return given.toLowerCase();
  }

  /** PUT on an entity: create it with this id, or replace it (mixins and mutable attributes). */
  async put(principal: Principal, kind: Kind, id: string, input: EntityInput, opts: { mustBeNew?: boolean } = {}): Promise<{ entity: Entity; created: boolean }> {
    if (!UUID.test(id)) throw OcciError.badRequest(`entity ids are UUIDs; ${JSON.stringify(id)} is not one`);
    id = id.toLowerCase();
    if (input.kind !== undefined && input.kind !== categoryId(kind)) {
      throw OcciError.badRequest(`kind ${input.kind} does not match the collection of kind ${categoryId(kind)}`);
    }
    const given = input.attributes[CORE_ID];
    if (given !== undefined && (typeof given !== 'string' || given.toLowerCase() !== id)) throw OcciError.immutableAttribute(CORE_ID);
    const lockKeys = [id, ...this.endKeys(input), ...input.links.flatMap((l) => this.endKeys(l))];
    return this.mutex.run(lockKeys, async () => {
      const existing = this.store.get(id);
      if (existing && (opts.mustBeNew || existing.kind !== categoryId(kind) || !this.visible(principal, existing))) {
        throw existing.kind === categoryId(kind) && this.visible(principal, existing) ? OcciError.conflict(`${kind.location}${id} already exists`) : OcciError.conflict(`id ${id} is already in use`);
      }
      if (existing) return { entity: await this.replace(principal, existing, input), created: false };
      return { entity: await this.insert(principal, kind, id, input), created: true };
    });
  }

  private endKeys(input: EntityInput): string[] {
    return [input.source ?? input.attributes[SOURCE], input.target ?? input.attributes[TARGET]]
      .filter((l): l is string => typeof l === 'string')
      .map((l) => l.slice(l.lastIndexOf('/') + 1));
  }

  private async insert(principal: Principal, kind: Kind, id: string, input: EntityInput): Promise<Entity> {
    const entity = this.build(principal, kind, id, input);
    const links = this.buildInlineLinks(principal, entity, input.links);
    const ctx = this.context([entity, ...links]);
    const patch = await this.backend.created(entity, ctx);
    const stored = withAttributes(entity, patch);
    const storedLinks: Entity[] = [];
    try {
      for (const l of links) storedLinks.push(withAttributes(l, await this.backend.created(l, ctx)));
      this.store.apply({ put: [stored, ...storedLinks] });
    } catch (err) {
      await this.undo([...storedLinks.reverse(), stored], ctx);
      throw err;
    }
    return stored;
  }

  /** Best effort: remove what the backend created for a request that then failed. */
  private async undo(created: Entity[], ctx: BackendContext): Promise<void> {
    for (const e of created) await this.backend.deleted(e, ctx).catch(() => undefined);
  }

  private buildInlineLinks(principal: Principal, source: Entity, inputs: EntityInput[]): Entity[] {
    return inputs.map((l) => {
      const kindId = l.kind ?? (linkKindFor(this.entityAt(l.target ?? String(l.attributes[TARGET] ?? ''))?.kind) ?? LINK);
      const kind = this.registry.kind(kindId);
      if (!kind) throw OcciError.unknownCategory(kindId);
      return this.build(principal, kind, this.newId(l), { ...l, source: this.locationOf(source) }, [source]);
    });
  }

  /** A complete, validated entity from an input: defaults, templates, required attributes, link ends. */
  private build(principal: Principal, kind: Kind, id: string, input: EntityInput, pending: Entity[] = []): Entity {
    const kindId = categoryId(kind);
    if (!kind.location) throw OcciError.badRequest(`kind ${kindId} is abstract: entities are created with one of its sub-kinds`);
    const isLink = this.registry.isA(kindId, LINK);
    if (!isLink && !this.registry.isA(kindId, RESOURCE)) throw OcciError.badRequest(`kind ${kindId} is not a resource or link kind`);
    const mixins = this.checkMixins(principal, kindId, input.mixins);
    const defs = this.registry.attributesOf(kindId, mixins);
    const attributes: Record<string, AttributeValue> = {};
    for (const d of defs.values()) if (d.default !== undefined) attributes[d.name] = d.default;
    for (const m of this.registry.mixinClosure(mixins)) Object.assign(attributes, m.defaults ?? {});
    const given = { ...input.attributes };
    if (isLink) {
      if (input.source !== undefined) given[SOURCE] = input.source;
      if (input.target !== undefined) given[TARGET] = input.target;
    }
    for (const [name, raw] of Object.entries(given)) {
      const def = defs.get(name);
      if (!def) throw OcciError.invalidAttribute(name, `not defined by kind ${kindId} or its mixins`);
      const value = checkAttributeValue(def, raw);
      if (!def.mutable && name !== CORE_ID && !isInitialState(def, value)) throw OcciError.immutableAttribute(name);
      attributes[name] = value;
    }
    attributes[CORE_ID] = id;
    requireAll(defs, attributes);
    const entity: Entity = this.placed({ id, kind: kindId, mixins, attributes, owner: principal.tenant });
    this.options.check?.(entity);
    if (isLink) this.checkLinkEnds(principal, entity, pending);
    return entity;
  }

  /** A compute names the node that holds it, in the placement mixin (kept across replacements). */
  private placed(e: Entity): Entity {
    const name = this.options.nodeName;
    if (!name || e.kind !== COMPUTE || !this.registry.mixin(PLACEMENT)) return e;
    const mixins = e.mixins.includes(PLACEMENT) ? e.mixins : [...e.mixins, PLACEMENT];
    return { ...e, mixins, attributes: { ...e.attributes, [PLACEMENT_NODE]: name, [PLACEMENT_GENERATION]: e.attributes[PLACEMENT_GENERATION] ?? 1 } };
  }

  private checkMixins(principal: Principal, kindId: string, ids: readonly string[]): string[] {
    const unique = [...new Set(ids)];
    const templates = new Map<string, string>();
    for (const id of unique) {
      const m = this.registry.mixin(id);
      if (!m || !this.visibleMixin(principal, m)) throw OcciError.unknownCategory(id);
      if (m.applies.length > 0 && !m.applies.some((a) => this.registry.isA(kindId, a))) {
        throw OcciError.badRequest(`mixin ${id} does not apply to kind ${kindId}`);
      }
      for (const tpl of [OS_TPL, RESOURCE_TPL]) {
        if (!m.depends.includes(tpl)) continue;
        const other = templates.get(tpl);
        if (other) throw OcciError.badRequest(`only one ${tpl.slice(tpl.indexOf('#') + 1)} mixin may be applied; got ${other} and ${id}`);
        templates.set(tpl, id);
      }
    }
    return unique;
  }

  private checkLinkEnds(principal: Principal, link: Entity, pending: Entity[]): void {
    const ends = linkEnds(link)!;
    const find = (location: string) => {
      const t = this.resolve(location);
      const e = t?.type === 'entity' ? (pending.find((p) => p.id === t.id) ?? this.store.get(t.id)) : undefined;
      return e && this.visible(principal, e) ? e : undefined;
    };
    const source = find(ends.source);
    if (!source) throw OcciError.invalidAttribute(SOURCE, `no resource at ${ends.source}`);
    const target = find(ends.target);
    if (!target) throw OcciError.invalidAttribute(TARGET, `no resource at ${ends.target}`);
    const rule = LINK_ENDS[link.kind];
    if (rule && !this.registry.isA(source.kind, rule.source)) throw OcciError.invalidAttribute(SOURCE, `a ${link.kind} link starts at a ${rule.source}`);
    if (rule && !this.registry.isA(target.kind, rule.target)) throw OcciError.invalidAttribute(TARGET, `a ${link.kind} link ends at a ${rule.target}`);
  }

  /** PUT on an existing entity: the given mixins and attributes replace the current ones. */
  private async replace(principal: Principal, before: Entity, input: EntityInput): Promise<Entity> {
    const mixins = this.checkMixins(principal, before.kind, input.mixins);
    const defs = this.registry.attributesOf(before.kind, mixins);
    const attributes: Record<string, AttributeValue> = {};
    for (const d of defs.values()) {
      if (!d.mutable && before.attributes[d.name] !== undefined) attributes[d.name] = before.attributes[d.name]!;
      else if (d.default !== undefined) attributes[d.name] = d.default;
    }
    for (const m of this.registry.mixinClosure(mixins)) Object.assign(attributes, m.defaults ?? {});
    this.mergeGiven(before, defs, attributes, withEnds(input));
    requireAll(defs, attributes);
    const after = this.placed({ ...before, mixins, attributes });
    return this.commitUpdate(principal, before, after);
  }

  /** POST on an entity: partial update; mixins are added, given attributes set. */
  async update(principal: Principal, kind: Kind, id: string, input: EntityInput): Promise<Entity> {
    return this.mutex.run([id, ...this.endKeys(input)], async () => {
      const before = this.get(principal, kind, id);
      if (input.kind !== undefined && input.kind !== before.kind) throw OcciError.badRequest(`the kind of an entity cannot change (${before.kind})`);
      const mixins = this.checkMixins(principal, before.kind, [...before.mixins, ...input.mixins]);
      const defs = this.registry.attributesOf(before.kind, mixins);
      const attributes: Record<string, AttributeValue> = { ...before.attributes };
      const added = this.registry.mixinClosure(input.mixins).filter((m) => !before.mixins.includes(categoryId(m)));
      for (const m of added) {
        for (const a of m.attributes) if (a.default !== undefined && attributes[a.name] === undefined) attributes[a.name] = a.default;
        Object.assign(attributes, m.defaults ?? {});
      }
      this.mergeGiven(before, defs, attributes, withEnds(input));
      requireAll(defs, attributes);
      return this.commitUpdate(principal, before, { ...before, mixins, attributes });
    });
  }

  private mergeGiven(before: Entity, defs: Map<string, AttributeDefinition>, attributes: Record<string, AttributeValue>, given: Record<string, unknown>): void {
    for (const [name, raw] of Object.entries(given)) {
      const def = defs.get(name);
      if (!def) throw OcciError.invalidAttribute(name, `not defined by kind ${before.kind} or its mixins`);
      const value = checkAttributeValue(def, raw);
      if (!def.mutable && !sameValue(value, before.attributes[name])) throw OcciError.immutableAttribute(name);
      attributes[name] = value;
    }
  }

  private async commitUpdate(principal: Principal, before: Entity, after: Entity): Promise<Entity> {
    this.options.check?.(after);
    if (linkEnds(after)) this.checkLinkEnds(principal, after, []);
    const patch = await this.backend.updated(before, after, this.context());
    const stored = withAttributes(after, patch);
    this.store.apply({ put: [stored] });
    return stored;
  }

  /** DELETE on an entity; a resource takes its links with it. */
  async delete(principal: Principal, kind: Kind, id: string): Promise<void> {
    const known = this.store.get(id);
    const related = known ? this.related(known).map((l) => l.id) : [];
    await this.mutex.run([id, ...related], async () => {
      const e = this.get(principal, kind, id);
      await this.removeAll(this.related(e), e);
    });
  }

  /** Links that start or end at a resource. */
  private related(e: Entity): Entity[] {
    return linkEnds(e) ? [] : this.store.linksAt(this.locationOf(e));
  }

  private async removeAll(links: Entity[], e: Entity): Promise<void> {
    const ctx = this.context();
    const removed: string[] = [];
    try {
      for (const l of links) {
        await this.backend.deleted(l, ctx);
        removed.push(l.id);
      }
      await this.backend.deleted(e, ctx);
      removed.push(e.id);
    } finally {
      // What the backend removed is removed from the store too, even if a later step failed.
      if (removed.length > 0) this.store.apply({ remove: removed });
    }
  }

  /** DELETE on a kind collection: every visible entity of the kind. */
  async deleteCollection(principal: Principal, kind: Kind): Promise<number> {
    const entities = this.list(principal, kind);
    for (const e of entities) {
      if (!this.store.get(e.id)) continue; // already gone with its resource
      await this.delete(principal, this.registry.kind(e.kind)!, e.id);
    }
    return entities.length;
  }

  /** Trigger an action on an entity (POST ?action=term). */
  async act(principal: Principal, kind: Kind, id: string, term: string, input: ActionInput): Promise<Entity> {
    return this.mutex.run([id], async () => {
      const e = this.get(principal, kind, id);
      const actionId = this.actionId(e, term, input);
      const action = this.registry.action(actionId)!;
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
        throw OcciError.stateConflict(`action ${term} is not allowed in state ${state ?? 'unknown'} of ${this.locationOf(e)}`);
      }
      const patch = await this.backend.acted(e, actionId, attributes, next ?? '', this.context());
      const newAttributes: Record<string, AttributeValue> = { ...e.attributes };
      if (t) {
        newAttributes[t.stateAttribute] = next!;
        delete newAttributes[`${t.stateAttribute}.message`];
      }
      if (actionId.endsWith('storage/action#resize')) newAttributes['occi.storage.size'] = attributes['size']!;
      const stored = withAttributes({ ...e, attributes: newAttributes }, patch);
      this.store.apply({ put: [stored] });
      return stored;
    });
  }

  private actionId(e: Entity, term: string, input: ActionInput): string {
    const applicable = this.registry.actionsOf(e.kind, e.mixins);
    const byTerm = applicable.filter((a) => a.slice(a.lastIndexOf('#') + 1) === term);
    if (input.action !== undefined) {
      if (!this.registry.action(input.action)) throw OcciError.unknownCategory(input.action);
      if (!byTerm.includes(input.action)) throw OcciError.badRequest(`action ${input.action} does not match ?action=${term} on kind ${e.kind}`);
      return input.action;
    }
    if (byTerm.length === 0) throw OcciError.badRequest(`kind ${e.kind} has no action ${JSON.stringify(term)}`);
    return byTerm[0]!;
  }

  /**
   * POST ?action= on a kind collection: the action on every entity whose state allows it; the
   * others are left as they are. Answers the entities it changed.
   */
  async actOnCollection(principal: Principal, kind: Kind, term: string, input: ActionInput): Promise<Entity[]> {
    const done: Entity[] = [];
    for (const e of this.list(principal, kind)) {
      const actionId = this.actionId(e, term, input);
      const t = transitions[actionId];
      if (t && nextState(actionId, stateOf(e, t.stateAttribute)) === undefined) continue;
      done.push(await this.act(principal, this.registry.kind(e.kind)!, e.id, term, input));
    }
    return done;
  }

  /** POST (add) or PUT (replace the membership) on a mixin collection. */
  async tag(principal: Principal, mixin: Mixin, input: LocationsInput, replace: boolean): Promise<Entity[]> {
    if (!this.visibleMixin(principal, mixin)) throw OcciError.notFound(mixin.location ?? '');
    const mixinId = categoryId(mixin);
    const targets = input.locations.map((l) => {
      const e = this.entityAt(l);
      if (!e || !this.visible(principal, e)) throw OcciError.badRequest(`no entity at ${l}`);
      return e;
    });
    const current = replace ? this.list(principal, mixin) : [];
    return this.mutex.run([...targets, ...current].map((e) => e.id), async () => {
      const wanted = new Set(targets.map((e) => e.id));
      const put: Entity[] = [];
      for (const e of targets) {
        const fresh = this.store.get(e.id)!;
        if (fresh.mixins.includes(mixinId)) continue;
        this.checkMixins(principal, fresh.kind, [...fresh.mixins, mixinId]);
        const tagged = { ...fresh, mixins: [...fresh.mixins, mixinId] };
        this.options.check?.(tagged);
        put.push(tagged);
      }
      for (const e of current) {
        const fresh = this.store.get(e.id);
        if (fresh && !wanted.has(e.id)) put.push({ ...fresh, mixins: fresh.mixins.filter((m) => m !== mixinId) });
      }
      this.store.apply({ put });
      return this.list(principal, mixin);
    });
  }

  /** DELETE on a mixin collection: untag the given entities (all members when none is given). */
  async untag(principal: Principal, mixin: Mixin, input: LocationsInput | undefined): Promise<void> {
    const members = this.list(principal, mixin);
    const chosen = input && input.locations.length > 0 ? input.locations.map((l) => {
      const e = members.find((m) => this.locationOf(m) === l);
      if (!e) throw OcciError.badRequest(`${l} is not a member of ${mixin.location}`);
      return e;
    }) : members;
    const mixinId = categoryId(mixin);
    await this.mutex.run(chosen.map((e) => e.id), async () => {
      const put = chosen.map((e) => this.store.get(e.id)).filter((e): e is Entity => e !== undefined).map((e) => ({ ...e, mixins: e.mixins.filter((m) => m !== mixinId) }));
      this.store.apply({ put });
    });
  }

  /** Reconciliation on read: the entity as the backend observes it now (stored when it changed). */
  async observe(e: Entity): Promise<Entity> {
    if (!this.backend.observe) return e;
    return (await this.reconcile(e.id)) ?? e;
  }

  // ---- moves between nodes ------------------------------------------------------------------

  /**
   * What creating this input would store, validated, with nothing stored and no backend called:
   * an admission decides where the entity goes before it is created there.
   */
  preview(principal: Principal, kind: Kind, input: EntityInput, id?: string): Entity {
    const entity = this.build(principal, kind, id ?? this.newId(input), input);
    this.buildInlineLinks(principal, entity, input.links);
    return entity;
  }

  /**
   * Moves a resource away: with it and its links locked, `transfer` gets their records and makes
   * another node take them in; once it resolves, the backend releases the resource here and the
   * records leave the store. Requests on the resource wait for the move, then find it gone.
   * Undefined when the resource is not here.
   */
  async moveOut<T>(id: string, transfer: (records: Entity[]) => Promise<T>): Promise<T | undefined> {
    const known = this.store.get(id);
    if (!known) return undefined;
    const related = this.related(known);
    return this.mutex.run([id, ...related.map((l) => l.id)], async () => {
      const e = this.store.get(id);
      if (!e) return undefined;
      const links = this.related(e);
      const result = await transfer([e, ...links]);
      try {
        await this.backend.deleted(e, this.context());
      } finally {
        this.store.apply({ remove: [...links.map((l) => l.id), e.id] });
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
    return this.mutex.run([resource.id, ...links.map((l) => l.id)], async () => {
      const existing = this.store.get(resource.id);
      if (existing) return existing;
      const generation = Number(resource.attributes[PLACEMENT_GENERATION] ?? 1);
      const entity = this.placed(resource.kind === COMPUTE ? { ...resource, attributes: { ...resource.attributes, [PLACEMENT_GENERATION]: generation + 1 } } : resource);
      const ctx = this.context([entity, ...links]);
      const stored = withAttributes(entity, await this.backend.created(entity, ctx));
      try {
        this.store.apply({ put: [stored, ...links] });
      } catch (err) {
        await this.undo([stored], ctx);
        throw err;
      }
      return stored;
    });
  }

  /** A resource's records as a move or a replica carries them: the resource, then its links. */
  records(id: string): Entity[] | undefined {
    const e = this.store.get(id);
    return e ? [e, ...this.related(e)] : undefined;
  }

  /**
   * Restarts a compute on this node's host after its domain crashed or disappeared (restart
   * policy): a domain still defined is started, a missing one is defined again from the compute.
   * The compute becomes active with `message`. Undefined when the compute is not here.
   */
  async restart(id: string, message: string): Promise<Entity | undefined> {
    return this.mutex.run([id], async () => {
      const e = this.store.get(id);
      if (!e || e.kind !== COMPUTE) return undefined;
      const active = { ...e, attributes: { ...e.attributes, 'occi.compute.state': 'active' } };
      const ctx = this.context();
      let patch: Record<string, AttributeValue>;
      try {
        patch = await this.backend.acted(e, START_ACTION, {}, 'active', ctx);
      } catch {
        // No domain any more (or it cannot start as it is): define it again.
        await this.backend.deleted(e, ctx).catch(() => undefined);
        patch = await this.backend.created(active, this.context([active]));
      }
      const stored = withAttributes({ ...active, attributes: { ...active.attributes, 'occi.compute.state.message': message } }, patch);
      this.store.apply({ put: [stored] });
      return stored;
    });
  }

  /** Sets the message of a compute's state (what the node did about it); nothing else changes. */
  async annotate(id: string, message: string): Promise<void> {
    await this.mutex.run([id], async () => {
      const e = this.store.get(id);
      if (!e || e.kind !== COMPUTE || e.attributes['occi.compute.state.message'] === message) return;
      this.store.apply({ put: [{ ...e, attributes: { ...e.attributes, 'occi.compute.state.message': message } }] });
    });
  }

  /**
   * Forgets a resource that now runs elsewhere (moved or restarted after this node was lost): the
   * backend releases it here (already gone is fine) and its records and links leave the store,
   * with nothing sent anywhere. False when it is not here.
   */
  async forget(id: string): Promise<boolean> {
    const known = this.store.get(id);
    if (!known) return false;
    return this.mutex.run([id, ...this.related(known).map((l) => l.id)], async () => {
      const e = this.store.get(id);
      if (!e) return false;
      const links = this.related(e);
      try {
        await this.backend.deleted(e, this.context());
      } finally {
        this.store.apply({ remove: [...links.map((l) => l.id), e.id] });
      }
      return true;
    });
  }

  /**
   * Re-observes an entity through the backend under the entity's lock, so that it never reads the
   * infrastructure halfway through a request's backend calls, and stores what changed. Called on
   * read and when the infrastructure reports a change. Undefined when there is no such entity.
   */
  async reconcile(id: string): Promise<Entity | undefined> {
    const backend = this.backend;
    if (!backend.observe) return this.store.get(id);
    return this.mutex.run([id], async () => {
      const fresh = this.store.get(id);
      if (!fresh) return undefined;
      const patch = await backend.observe!(fresh);
      // A stored message that extends the observed one (what the node did about it) is kept.
      const same = (k: string, v: unknown) => sameValue(v, fresh.attributes[k]) || (k.endsWith('.message') && typeof v === 'string' && String(fresh.attributes[k] ?? '').startsWith(v));
      if (!patch || Object.entries(patch).every(([k, v]) => same(k, v))) return fresh;
      const stored = withObserved(fresh, patch);
      this.store.apply({ put: [stored] });
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

function withAttributes(e: Entity, patch: Record<string, AttributeValue>): Entity {
  return Object.keys(patch).length === 0 ? e : { ...e, attributes: { ...e.attributes, ...patch } };
}

function withEnds(input: EntityInput): Record<string, unknown> {
  const given: Record<string, unknown> = { ...input.attributes };
  if (input.source !== undefined) given[SOURCE] = input.source;
  if (input.target !== undefined) given[TARGET] = input.target;
  return given;
}

function requireAll(defs: Map<string, AttributeDefinition>, attributes: Record<string, AttributeValue>): void {
  for (const d of defs.values()) if (d.required && attributes[d.name] === undefined) throw OcciError.missingAttribute(d.name);
}

/** A client may name the initial state at creation (e.g. create a compute `inactive`). */
function isInitialState(def: AttributeDefinition, value: AttributeValue): boolean {
  return def.name.endsWith('.state') && def.enum !== undefined && value !== 'error';
}

function stateOf(e: Entity, attribute: string): string | undefined {
  const s = e.attributes[attribute];
  return typeof s === 'string' ? s : undefined;
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

function matches(e: Entity, filter: Filter): boolean {
  if (filter.categories.length > 0 && !filter.categories.some((c) => c === e.kind || e.mixins.includes(c))) return false;
  return Object.entries(filter.attributes).every(([k, v]) => e.attributes[k] !== undefined && String(e.attributes[k]) === v);
}

function linkKindFor(targetKind: string | undefined): string | undefined {
  if (targetKind === NETWORK) return NETWORKINTERFACE;
  if (targetKind === STORAGE) return STORAGELINK;
  return undefined;
}
