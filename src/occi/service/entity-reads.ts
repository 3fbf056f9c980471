/** Reading entities: one by id, collections with filters (GFD.223 §3.5), and the views the renderings are given. */
import { categoryId, type Kind, type Mixin } from '../category.js';
import { type Entity, linkEnds } from '../entity.js';
import { OcciError } from '../errors.js';
import type { Filter, Principal } from '../request.js';
import { nextState, transitions } from '../state-machine.js';
import type { EntityView } from '../view.js';
import { type ServiceCore, stateOf } from './core.js';

export class EntityReads {
  constructor(private readonly core: ServiceCore) {}

  get(principal: Principal, kind: Kind, id: string): Entity {
    const e = this.core.store.get(id);
    if (!e || e.kind !== categoryId(kind) || !this.core.visible(principal, e)) throw OcciError.notFound(`${kind.location}${id}`);
    return e;
  }

  /** Entities of a kind collection (the kind and its descendants) or members of a mixin collection. */
  list(principal: Principal, collection: Kind | Mixin, filter: Filter = { categories: [], attributes: {} }): Entity[] {
    const { registry, store } = this.core;
    if (collection.class === 'mixin' && !this.core.visibleMixin(principal, collection)) throw OcciError.notFound(collection.location ?? '');
    for (const c of filter.categories) if (!registry.get(c)) throw OcciError.unknownCategory(c);
    const id = categoryId(collection);
    const out: Entity[] = [];
    for (const e of store.all()) {
      if (!this.core.visible(principal, e)) continue;
      const member = collection.class === 'kind' ? registry.isA(e.kind, id) : registry.mixinClosure(e.mixins).some((m) => categoryId(m) === id);
      if (member && matches(e, filter)) out.push(e);
    }
    return out;
  }

  /** A collection's entities with their links, as a member sends them to the node that gathers. */
  listWithLinks(principal: Principal, collection: Kind | Mixin, filter?: Filter): Array<{ entity: Entity; links: Entity[] }> {
    return this.list(principal, collection, filter).map((entity) => ({ entity, links: this.core.linksOf(entity.id).filter((l) => this.core.visible(principal, l)) }));
  }

  /**
   * The view of an entity; `links` replaces the local lookup for entities another member sent
   * (their links live there too).
   */
  view(principal: Principal, e: Entity, links?: Entity[]): EntityView {
    const { registry } = this.core;
    const kind = registry.kind(e.kind)!;
    const mixins = e.mixins.map((m) => registry.mixin(m)).filter((m): m is Mixin => m !== undefined);
    const location = `${kind.location ?? '/'}${e.id}`;
    const actions = registry.actionsOf(e.kind, e.mixins).filter((a) => {
      const t = transitions[a];
      return !t || nextState(a, stateOf(e, t.stateAttribute)) !== undefined;
    });
    const view: EntityView = { entity: e, location, kind, mixins, actions, links: [] };
    const ends = linkEnds(e);
    if (ends) {
      view.sourceKind = this.core.entityAt(ends.source)?.kind;
      view.targetKind = this.core.entityAt(ends.target)?.kind;
    } else {
      view.links = (links ?? this.core.linksOf(e.id)).filter((l) => this.core.visible(principal, l)).map((l) => this.view(principal, l));
    }
    return view;
  }
}

function matches(e: Entity, filter: Filter): boolean {
  if (filter.categories.length > 0 && !filter.categories.some((c) => c === e.kind || e.mixins.includes(c))) return false;
  return Object.entries(filter.attributes).every(([k, v]) => e.attributes[k] !== undefined && String(e.attributes[k]) === v);
}
