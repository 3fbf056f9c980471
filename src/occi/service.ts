/**
 * The OCCI operations of one node (GFD.221/223/224): validation against the category registry,
 * state diagrams, the backend's effects, and durable storage. A request either completes or
 * changes nothing. Each group of operations lives in its own module under `service/`; this class
 * is the one door the HTTP surface and the control plane use.
 */
import type { Backend } from './backend.js';
import type { Category, Kind, Mixin } from './category.js';
import { withContextAliases } from './context-aliases.js';
import type { Entity } from './entity.js';
import type { CategoryRegistry } from './registry.js';
import type { ActionInput, EntityInput, Filter, LocationsInput, MixinDefinitionInput, Principal } from './request.js';
import { Actions } from './service/actions.js';
import { ServiceCore, type ServiceOptions, type Target } from './service/core.js';
import { EntityBuilder } from './service/entity-builder.js';
import { EntityReads } from './service/entity-reads.js';
import { EntityWrites } from './service/entity-writes.js';
import { QueryInterface } from './service/query-interface.js';
import { Reconciliation } from './service/reconciliation.js';
import { Tagging } from './service/tagging.js';
import type { EntityStore } from './store.js';
import type { EntityView } from './view.js';

export type { Target } from './service/core.js';
export type { EntityView } from './view.js';

export class OcciService {
  /** The primitives the operations are made of; the control plane's custody builds on them. */
  readonly core: ServiceCore;
  private readonly query: QueryInterface;
  private readonly reads: EntityReads;
  private readonly writes: EntityWrites;
  private readonly actions: Actions;
  private readonly tagging: Tagging;
  private readonly reconciliation: Reconciliation;

  constructor(registry: CategoryRegistry, store: EntityStore, backend: Backend, options: ServiceOptions = {}) {
    this.core = new ServiceCore(registry, store, backend, options);
    const builder = new EntityBuilder(this.core);
    this.query = new QueryInterface(this.core);
    this.reads = new EntityReads(this.core);
    this.writes = new EntityWrites(this.core, builder, this.reads);
    this.actions = new Actions(this.core, this.reads);
    this.tagging = new Tagging(this.core, builder, this.reads);
    this.reconciliation = new Reconciliation(this.core);
  }

  get registry(): CategoryRegistry {
    return this.core.registry;
  }

  get backendDescription(): string {
    return this.core.backend.description;
  }

  // ---- paths and visibility

  resolve(path: string): Target | undefined {
    return this.core.resolve(path);
  }

  locationOf(e: Entity): string {
    return this.core.locationOf(e);
  }

  /** The entity at a location such as `/compute/<uuid>`, if it exists. */
  entityAt(location: string): Entity | undefined {
    return this.core.entityAt(location);
  }

  /** Whether this node holds the entity. */
  holds(id: string): boolean {
    return this.core.store.get(id) !== undefined;
  }

  visible(principal: Principal, e: Entity): boolean {
    return this.core.visible(principal, e);
  }

  // ---- query interface

  categories(principal: Principal, filter: string[] = []): Category[] {
    return this.query.categories(principal, filter);
  }

  /** The user mixins visible to the principal (the part of the query interface that differs per node). */
  userMixins(principal: Principal): Mixin[] {
    return this.query.userMixins(principal);
  }

  addUserMixins(principal: Principal, inputs: MixinDefinitionInput[]): Promise<Mixin[]> {
    return this.query.addUserMixins(principal, inputs);
  }

  removeUserMixins(principal: Principal, ids: string[]): Promise<void> {
    return this.query.removeUserMixins(principal, ids);
  }

  // ---- reads

  get(principal: Principal, kind: Kind, id: string): Entity {
    return this.reads.get(principal, kind, id);
  }

  /** Entities of a kind collection (the kind and its descendants) or members of a mixin collection. */
  list(principal: Principal, collection: Kind | Mixin, filter?: Filter): Entity[] {
    return this.reads.list(principal, collection, filter);
  }

  /** A collection's entities with their links, as a member sends them to the node that gathers. */
  listWithLinks(principal: Principal, collection: Kind | Mixin, filter?: Filter): Array<{ entity: Entity; links: Entity[] }> {
    return this.reads.listWithLinks(principal, collection, filter);
  }

  /** The view of an entity; `links` replaces the local lookup for entities another member sent. */
  view(principal: Principal, e: Entity, links?: Entity[]): EntityView {
    return this.reads.view(principal, e, links);
  }

  // ---- writes

  /** POST on a kind collection: a new entity with a fresh id (and inline links). */
  create(principal: Principal, kind: Kind, input: EntityInput): Promise<Entity> {
    return this.writes.create(principal, kind, withContextAliases(input));
  }

  /** PUT on an entity: create it with this id, or replace it (mixins and mutable attributes). */
  put(principal: Principal, kind: Kind, id: string, input: EntityInput, opts?: { mustBeNew?: boolean }): Promise<{ entity: Entity; created: boolean }> {
    return this.writes.put(principal, kind, id, withContextAliases(input), opts);
  }

  /** What creating this input would store, validated, with nothing stored and no backend called. */
  preview(principal: Principal, kind: Kind, input: EntityInput, id?: string): Entity {
    return this.writes.preview(principal, kind, withContextAliases(input), id);
  }

  /** POST on an entity: partial update; mixins are added, given attributes set. */
  update(principal: Principal, kind: Kind, id: string, input: EntityInput): Promise<Entity> {
    return this.writes.update(principal, kind, id, withContextAliases(input));
  }

  /** DELETE on an entity; a resource takes its links with it. */
  delete(principal: Principal, kind: Kind, id: string): Promise<void> {
    return this.writes.delete(principal, kind, id);
  }

  /** DELETE on a kind collection: every visible entity of the kind. */
  deleteCollection(principal: Principal, kind: Kind): Promise<number> {
    return this.writes.deleteCollection(principal, kind);
  }

  // ---- actions and tagging

  act(principal: Principal, kind: Kind, id: string, term: string, input: ActionInput): Promise<Entity> {
    return this.actions.act(principal, kind, id, term, input);
  }

  actOnCollection(principal: Principal, kind: Kind, term: string, input: ActionInput): Promise<Entity[]> {
    return this.actions.actOnCollection(principal, kind, term, input);
  }

  tag(principal: Principal, mixin: Mixin, input: LocationsInput, replace: boolean): Promise<Entity[]> {
    return this.tagging.tag(principal, mixin, input, replace);
  }

  untag(principal: Principal, mixin: Mixin, input: LocationsInput | undefined): Promise<void> {
    return this.tagging.untag(principal, mixin, input);
  }

  // ---- reconciliation with the infrastructure

  /** Reconciliation on read: the entity as the backend observes it now (stored when it changed). */
  observe(e: Entity): Promise<Entity> {
    return this.reconciliation.observe(e);
  }

  /** Re-observes an entity through the backend under its lock and stores what changed. */
  reconcile(id: string): Promise<Entity | undefined> {
    return this.reconciliation.reconcile(id);
  }
}
