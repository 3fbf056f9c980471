/** What every part of the OCCI service shares: the registry, the store, the backend, the per-entity locks, paths and visibility. */
import type { AttributeValue } from '../attribute.js';
import type { Backend, BackendContext } from '../backend.js';
import { categoryId, type Kind, type Mixin } from '../category.js';
import { type Entity, linkEnds } from '../entity.js';
import { COMPUTE } from '../infrastructure-model.js';
import { KeyedMutex } from '../keyed-mutex.js';
import { PLACEMENT, PLACEMENT_GENERATION, PLACEMENT_NODE } from '../placement-model.js';
import type { CategoryRegistry } from '../registry.js';
import type { Principal } from '../request.js';
import type { EntityStore } from '../store.js';

/** Where a path points. */
export type Target =
  | { type: 'query' }
  | { type: 'collection'; category: Kind | Mixin }
  | { type: 'entity'; kind: Kind; id: string };

export interface ServiceOptions {
  nodeName?: string;
  /** Further checks of an entity about to be created, replaced or tagged (placement constraints); throws an OcciError to refuse. */
  check?: (entity: Entity) => void;
  /**
   * A resource another node holds, by id, that a request here links to (fetched for that request
   * by the mesh edge): a link's end and the backend's view of it, never stored here.
   */
  foreign?: (id: string) => Entity | undefined;
}

/**
 * The state of one node's OCCI service and the primitives its operations are made of. Custody
 * (src/cloud/custody.ts) builds moves and restarts from the same primitives.
 */
export class ServiceCore {
  readonly mutex: KeyedMutex;

  constructor(
    readonly registry: CategoryRegistry,
    readonly store: EntityStore,
    readonly backend: Backend,
    readonly options: ServiceOptions = {},
  ) {
    // A write answers once the store's listeners (replication of computes) are done with it.
    this.mutex = new KeyedMutex((keys) => store.settled(keys));
    for (const m of store.userMixins()) registry.add(m);
  }

  /** Runs `work` holding the locks of these entity ids (sorted, so that two requests never deadlock). */
  lock<T>(ids: Iterable<string>, work: () => Promise<T>): Promise<T> {
    return this.mutex.run(ids, work);
  }

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

  /** The entity at a location such as `/compute/<uuid>`, if it exists. */
  entityAt(location: string): Entity | undefined {
    const t = this.resolve(location);
    if (t?.type !== 'entity') return undefined;
    const e = this.store.get(t.id);
    return e && e.kind === categoryId(t.kind) ? e : undefined;
  }

  /** The entity at a location here, else the one another node holds that a request here links to. */
  linkable(location: string): Entity | undefined {
    const here = this.entityAt(location);
    if (here) return here;
    const t = this.resolve(location);
    const e = t?.type === 'entity' ? this.options.foreign?.(t.id) : undefined;
    return e && t?.type === 'entity' && e.kind === categoryId(t.kind) ? e : undefined;
  }

  visible(principal: Principal, e: Entity): boolean {
    return principal.admin || e.owner === principal.tenant;
  }

  visibleMixin(principal: Principal, m: Mixin): boolean {
    return !m.user || principal.admin || m.owner === principal.tenant;
  }

  /** Links whose source is the resource with this id. */
  linksOf(id: string): Entity[] {
    const e = this.store.get(id);
    if (!e) return [];
    const location = this.locationOf(e);
    return this.store.linksAt(location).filter((l) => linkEnds(l)!.source === location);
  }

  /** Links that start or end at a resource. */
  related(e: Entity): Entity[] {
    return linkEnds(e) ? [] : this.store.linksAt(this.locationOf(e));
  }

  /** What the backend may look up while it acts: the store, plus entities about to be stored. */
  context(pending: Entity[] = []): BackendContext {
    return {
      entity: (id) => pending.find((e) => e.id === id) ?? this.store.get(id) ?? this.options.foreign?.(id),
      foreign: (id) => !pending.some((e) => e.id === id) && this.store.get(id) === undefined && this.options.foreign?.(id) !== undefined,
      linksOf: (id) => [...this.linksOf(id), ...pending.filter((l) => linkEnds(l) && this.endId(linkEnds(l)!.source, pending) === id)],
    };
  }

  private endId(location: string, pending: Entity[]): string | undefined {
    const t = this.resolve(location);
    if (t?.type !== 'entity') return undefined;
    return this.store.get(t.id)?.id ?? pending.find((e) => e.id === t.id)?.id;
  }

  /** A compute names the node that holds it, in the placement mixin (kept across replacements). */
  placed(e: Entity): Entity {
    const name = this.options.nodeName;
    if (!name || e.kind !== COMPUTE || !this.registry.mixin(PLACEMENT)) return e;
    const mixins = e.mixins.includes(PLACEMENT) ? e.mixins : [...e.mixins, PLACEMENT];
    return { ...e, mixins, attributes: { ...e.attributes, [PLACEMENT_NODE]: name, [PLACEMENT_GENERATION]: e.attributes[PLACEMENT_GENERATION] ?? 1 } };
  }

  /** Best effort: remove what the backend created for a request that then failed. */
  async undo(created: Entity[], ctx: BackendContext): Promise<void> {
    for (const e of created) await this.backend.deleted(e, ctx).catch(() => undefined);
  }
}

export function withAttributes(e: Entity, patch: Record<string, AttributeValue>): Entity {
  return Object.keys(patch).length === 0 ? e : { ...e, attributes: { ...e.attributes, ...patch } };
}

export function sameValue(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

export function stateOf(e: Entity, attribute: string): string | undefined {
  const s = e.attributes[attribute];
  return typeof s === 'string' ? s : undefined;
}
