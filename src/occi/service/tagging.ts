/** Mixin collections (GFD.223 §3.5): tagging entities with a mixin, replacing its members, untagging. */
import { categoryId, type Mixin } from '../category.js';
import type { Entity } from '../entity.js';
import { OcciError } from '../errors.js';
import { bareId } from '../core-model.js';
import type { EntityRef, LocationsInput, Principal } from '../request.js';
import type { ServiceCore } from './core.js';
import type { EntityBuilder } from './entity-builder.js';
import type { EntityReads } from './entity-reads.js';

export class Tagging {
  constructor(
    private readonly core: ServiceCore,
    private readonly builder: EntityBuilder,
    private readonly reads: EntityReads,
  ) {}

  /** POST (add) or PUT (replace the membership) on a mixin collection. */
  async tag(principal: Principal, mixin: Mixin, input: LocationsInput, replace: boolean): Promise<Entity[]> {
    const { store } = this.core;
    if (!this.core.visibleMixin(principal, mixin)) throw OcciError.notFound(mixin.location ?? '');
    const mixinId = categoryId(mixin);
    const targets = input.locations.map((named) => {
      const l = this.locationOf(named);
      const e = this.core.entityAt(l);
      if (!e || !this.core.visible(principal, e)) throw OcciError.badRequest(`no entity at ${l}`);
      return e;
    });
    const current = replace ? this.reads.list(principal, mixin) : [];
    return this.core.lock([...targets, ...current].map((e) => e.id), async () => {
      const wanted = new Set(targets.map((e) => e.id));
      const put: Entity[] = [];
      for (const e of targets) {
        const fresh = store.get(e.id)!;
        if (fresh.mixins.includes(mixinId)) continue;
        this.builder.checkMixins(principal, fresh.kind, [...fresh.mixins, mixinId]);
        const tagged = { ...fresh, mixins: [...fresh.mixins, mixinId] };
        this.core.options.check?.(tagged);
        put.push(tagged);
      }
      for (const e of current) {
        const fresh = store.get(e.id);
        if (fresh && !wanted.has(e.id)) put.push({ ...fresh, mixins: fresh.mixins.filter((m) => m !== mixinId) });
      }
      store.apply({ put });
      return this.reads.list(principal, mixin);
    });
  }

  /** DELETE on a mixin collection: untag the given entities (all members when none is given). */
  async untag(principal: Principal, mixin: Mixin, input: LocationsInput | undefined): Promise<void> {
    const { store } = this.core;
    const members = this.reads.list(principal, mixin);
    const chosen = input && input.locations.length > 0 ? input.locations.map((named) => {
      const l = this.locationOf(named);
      const e = members.find((m) => this.core.locationOf(m) === l);
      if (!e) throw OcciError.badRequest(`${l} is not a member of ${mixin.location}`);
      return e;
    }) : members;
    const mixinId = categoryId(mixin);
    await this.core.lock(chosen.map((e) => e.id), async () => {
      const put = chosen.map((e) => store.get(e.id)).filter((e): e is Entity => e !== undefined).map((e) => ({ ...e, mixins: e.mixins.filter((m) => m !== mixinId) }));
      store.apply({ put });
    });
  }

  /** A location as given, or that of an entity named by kind and id (an entity collection's member). */
  private locationOf(named: string | EntityRef): string {
    if (typeof named === 'string') return named;
    const kind = this.core.registry.kind(named.kind);
    if (!kind?.location) throw OcciError.unknownCategory(named.kind);
    return `${kind.location}${bareId(named.id)}`;
  }
}
