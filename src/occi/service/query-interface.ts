/** The query interface (GFD.223 §3.4): the categories a principal sees, and user mixins created and removed. */
import { checkAttributeValue } from '../attribute.js';
import { type Category, categoryId, type Mixin, TERM } from '../category.js';
import { OcciError } from '../errors.js';
import type { MixinDefinitionInput, Principal } from '../request.js';
import type { ServiceCore } from './core.js';

const USER_MIXIN_LOCATION = /^\/[A-Za-z0-9._~-]+\/([A-Za-z0-9._~-]+\/){0,2}$/;
const SCHEME = /^[a-z][a-z0-9+.-]*:\/\/?[^\s#"]*#$/i;
/** The lock key of the category registry (entity ids are UUIDs: no clash). */
const CATEGORIES_KEY = '#categories';

export class QueryInterface {
  constructor(private readonly core: ServiceCore) {}

  categories(principal: Principal, filter: string[] = []): Category[] {
    const all = this.core.registry.all().filter((c) => c.class !== 'mixin' || !c.user || principal.admin || c.owner === principal.tenant);
    if (filter.length === 0) return all;
    const wanted = new Set(filter);
    const found = all.filter((c) => wanted.has(categoryId(c)));
    for (const id of wanted) if (!found.some((c) => categoryId(c) === id)) throw OcciError.unknownCategory(id);
    return found;
  }

  /** The user mixins visible to the principal (the part of the query interface that differs per node). */
  userMixins(principal: Principal): Mixin[] {
    return this.core.registry.all().filter((c): c is Mixin => c.class === 'mixin' && c.user === true && this.core.visibleMixin(principal, c));
  }

  async addUserMixins(principal: Principal, inputs: MixinDefinitionInput[]): Promise<Mixin[]> {
    if (inputs.length === 0) throw OcciError.badRequest('no mixin to create');
    const { registry, store } = this.core;
    const mixins = inputs.map((input) => this.newUserMixin(principal, input));
    return this.core.lock([CATEGORIES_KEY], async () => {
      const ids = new Set<string>();
      const locations = new Set<string>();
      for (const m of mixins) {
        const id = categoryId(m);
        if (registry.get(id) || ids.has(id)) throw OcciError.conflict(`category ${id} already exists`);
        if (registry.atLocation(m.location!) || locations.has(m.location!)) throw OcciError.conflict(`location ${m.location} is already taken`);
        ids.add(id);
        locations.add(m.location!);
      }
      store.apply({ putMixins: mixins });
      for (const m of mixins) registry.add(m);
      return mixins;
    });
  }

  async removeUserMixins(principal: Principal, ids: string[]): Promise<void> {
    if (ids.length === 0) throw OcciError.badRequest('no mixin to delete');
    const { registry, store } = this.core;
    await this.core.lock([CATEGORIES_KEY], async () => {
      for (const id of ids) {
        const m = registry.mixin(id);
        if (!m || !this.core.visibleMixin(principal, m)) throw OcciError.unknownCategory(id);
        if (!m.user) throw OcciError.methodNotAllowed('DELETE', id, []);
      }
      // Untag every member in the same transaction as the mixins' removal.
      const untagged = [...store.all()]
        .filter((e) => e.mixins.some((x) => ids.includes(x)))
        .map((e) => ({ ...e, mixins: e.mixins.filter((x) => !ids.includes(x)) }));
      store.apply({ removeMixins: ids, put: untagged });
      for (const id of ids) registry.remove(id);
    });
  }

  private newUserMixin(principal: Principal, input: MixinDefinitionInput): Mixin {
    const { registry } = this.core;
    if (!TERM.test(input.term)) throw OcciError.badRequest(`mixin term ${JSON.stringify(input.term)} is not a valid term (letters, digits, then also _ - and .)`);
    if (!SCHEME.test(input.scheme)) throw OcciError.badRequest(`mixin scheme ${JSON.stringify(input.scheme)} must be a URI ending with #`);
    const location = input.location ?? `/${input.term}/`;
    if (!USER_MIXIN_LOCATION.test(location)) {
      throw OcciError.badRequest(`mixin location ${JSON.stringify(location)} must be a path of one to three segments ending with /`);
    }
    for (const d of input.depends) if (!registry.mixin(d)) throw OcciError.unknownCategory(d);
    for (const a of input.applies) if (!registry.kind(a)) throw OcciError.unknownCategory(a);
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
      ...(input.defaults ? { defaults: this.defaults(input) } : {}),
      user: true,
      owner: principal.tenant,
    };
  }

  /**
   * A user mixin's attribute descriptions (GFD.226): attributes that the kinds it applies to (and
   * the mixins it depends on) define, each with the default it sets on the entities it is applied
   * to at their creation. A user mixin defines no attribute of its own.
   */
  private defaults(input: MixinDefinitionInput): Record<string, string | number | boolean> {
    const { registry } = this.core;
    const kinds = input.applies.length > 0 ? input.applies : registry.all().filter((c) => c.class === 'kind').map(categoryId);
    const out: Record<string, string | number | boolean> = {};
    for (const [name, value] of Object.entries(input.defaults ?? {})) {
      const def = kinds.map((k) => registry.attributesOf(k, input.depends).get(name)).find((d) => d !== undefined);
      if (!def) throw OcciError.invalidAttribute(name, `user mixins define no attribute of their own; ${name} is not an attribute of ${input.applies.join(', ') || 'any kind'}`);
      if (value === undefined) continue;
      if (!def.mutable) throw OcciError.immutableAttribute(name);
      out[name] = checkAttributeValue(def, value) as string | number | boolean;
    }
    return out;
  }
}
