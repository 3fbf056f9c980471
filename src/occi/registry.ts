import type { AttributeDefinition } from './attribute.js';
import { type Action, type Category, categoryId, type Kind, type Mixin } from './category.js';
import { OcciError } from './errors.js';

/** All categories a node knows: the standard ones, its templates and the users' mixins. */
export class CategoryRegistry {
  private readonly byId = new Map<string, Category>();
  private readonly byLocation = new Map<string, Kind | Mixin>();

  constructor(categories: Iterable<Category> = []) {
    for (const c of categories) this.add(c);
  }

  add(c: Category): void {
    const id = categoryId(c);
    if (this.byId.has(id)) throw OcciError.conflict(`category ${id} already exists`);
    if (c.class !== 'action' && c.location !== undefined) {
      if (this.byLocation.has(c.location)) throw OcciError.conflict(`location ${c.location} is already taken`);
      this.byLocation.set(c.location, c);
    }
    this.byId.set(id, c);
  }

  remove(id: string): void {
    const c = this.byId.get(id);
    if (!c) return;
    this.byId.delete(id);
    if (c.class !== 'action' && c.location !== undefined) this.byLocation.delete(c.location);
  }

  get(id: string): Category | undefined {
    return this.byId.get(id);
  }

  kind(id: string): Kind | undefined {
    const c = this.byId.get(id);
    return c?.class === 'kind' ? c : undefined;
  }

  mixin(id: string): Mixin | undefined {
    const c = this.byId.get(id);
    return c?.class === 'mixin' ? c : undefined;
  }

  action(id: string): Action | undefined {
    const c = this.byId.get(id);
    return c?.class === 'action' ? c : undefined;
  }

  atLocation(location: string): Kind | Mixin | undefined {
    return this.byLocation.get(location);
  }

  all(): Category[] {
    return [...this.byId.values()];
  }

  /** The kind and its ancestors, nearest first. */
  lineage(kindId: string): Kind[] {
    const out: Kind[] = [];
    for (let k = this.kind(kindId); k; k = k.parent ? this.kind(k.parent) : undefined) out.push(k);
    return out;
  }

  isA(kindId: string, ancestorId: string): boolean {
    return this.lineage(kindId).some((k) => categoryId(k) === ancestorId);
  }

  /** A mixin and every mixin it depends on, transitively. */
  mixinClosure(mixinIds: readonly string[]): Mixin[] {
    const seen = new Map<string, Mixin>();
    const visit = (id: string) => {
      if (seen.has(id)) return;
      const m = this.mixin(id);
      if (!m) return;
      seen.set(id, m);
      m.depends.forEach(visit);
    };
    mixinIds.forEach(visit);
    return [...seen.values()];
  }

  /** Every attribute an entity of this kind with these mixins may carry, by name. */
  attributesOf(kindId: string, mixinIds: readonly string[]): Map<string, AttributeDefinition> {
    const defs = new Map<string, AttributeDefinition>();
    for (const k of this.lineage(kindId).reverse()) for (const a of k.attributes) defs.set(a.name, a);
    for (const m of this.mixinClosure(mixinIds)) for (const a of m.attributes) defs.set(a.name, a);
    return defs;
  }

  /** Actions of the kind's lineage and of the mixins. */
  actionsOf(kindId: string, mixinIds: readonly string[]): string[] {
    const ids = new Set<string>();
    for (const k of this.lineage(kindId)) k.actions.forEach((a) => ids.add(a));
    for (const m of this.mixinClosure(mixinIds)) m.actions.forEach((a) => ids.add(a));
    return [...ids];
  }
}
