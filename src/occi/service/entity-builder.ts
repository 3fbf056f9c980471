/** Complete, validated entities from clients' inputs: ids, defaults, templates, attributes, mixins and link ends. */
import { randomUUID } from 'node:crypto';
import { type AttributeDefinition, type AttributeValue, checkAttributeValue } from '../attribute.js';
import { categoryId, type Kind } from '../category.js';
import { bareId, isCoreKind, LINK, RESOURCE, UUID_PATTERN } from '../core-model.js';
import { type Entity, linkEnds, SOURCE, TARGET } from '../entity.js';
import { OcciError } from '../errors.js';
import { COMPUTE, NETWORK, NETWORKINTERFACE, OS_TPL, RESOURCE_TPL, STORAGE, STORAGELINK } from '../infrastructure-model.js';
import type { EntityInput, Principal } from '../request.js';
import { sameValue, type ServiceCore } from './core.js';

export const CORE_ID = 'occi.core.id';
export const UUID = new RegExp(`^${UUID_PATTERN}$`);

/** Which kinds a link may join (GFD.224: networkinterface compute→network, storagelink compute→storage). */
const LINK_ENDS: Record<string, { source: string; target: string }> = {
  [NETWORKINTERFACE]: { source: COMPUTE, target: NETWORK },
  [STORAGELINK]: { source: COMPUTE, target: STORAGE },
};

export class EntityBuilder {
  constructor(private readonly core: ServiceCore) {}

  /** The id a creation gets: the client's `occi.core.id` (a UUID or `urn:uuid:<uuid>`) when it gives a valid one, else a fresh UUID. */
  newId(input: EntityInput): string {
    const given = input.attributes[CORE_ID];
    if (given === undefined) return randomUUID();
    if (typeof given !== 'string' || !UUID.test(bareId(given))) throw OcciError.invalidAttribute(CORE_ID, 'must be a UUID or urn:uuid:<uuid>');
    return bareId(given).toLowerCase();
  }

  /** A complete, validated entity from an input: defaults, templates, required attributes, link ends. */
  build(principal: Principal, kind: Kind, id: string, input: EntityInput, pending: Entity[] = []): Entity {
    const { registry } = this.core;
    const kindId = categoryId(kind);
    if (!kind.location || isCoreKind(kindId)) throw OcciError.badRequest(`kind ${kindId} is abstract: entities are created with one of its sub-kinds`);
    const isLink = registry.isA(kindId, LINK);
    if (!isLink && !registry.isA(kindId, RESOURCE)) throw OcciError.badRequest(`kind ${kindId} is not a resource or link kind`);
    const mixins = this.checkMixins(principal, kindId, input.mixins);
    const defs = registry.attributesOf(kindId, mixins);
    const attributes: Record<string, AttributeValue> = {};
    for (const d of defs.values()) if (d.default !== undefined) attributes[d.name] = d.default;
    for (const m of registry.mixinClosure(mixins)) Object.assign(attributes, m.defaults ?? {});
    const given = { ...input.attributes };
    if (isLink) {
      if (input.source !== undefined) given[SOURCE] = input.source;
      if (input.target !== undefined) given[TARGET] = input.target;
    }
    for (const [name, raw] of Object.entries(given)) {
      const def = defs.get(name);
      if (!def) throw OcciError.invalidAttribute(name, `not defined by kind ${kindId} or its mixins`);
      // The server alone manages immutable attributes (GFD.221: states, interfaces, placement):
      // what a client says of them at creation is ignored. The id was checked when it was chosen.
      if (!def.mutable) continue;
      attributes[name] = checkAttributeValue(def, raw);
    }
    attributes[CORE_ID] = id;
    requireAll(defs, attributes);
    const entity: Entity = this.core.placed({ id, kind: kindId, mixins, attributes, owner: principal.tenant });
    this.core.options.check?.(entity);
    if (isLink) this.checkLinkEnds(principal, entity, pending);
    return entity;
  }

  /** The links given inline in a resource's creation, built with the resource as their source. */
  buildInlineLinks(principal: Principal, source: Entity, inputs: EntityInput[]): Entity[] {
    const { registry } = this.core;
    return inputs.map((l) => {
      const kindId = l.kind ?? (linkKindFor(this.core.linkable(l.target ?? String(l.attributes[TARGET] ?? ''))?.kind) ?? LINK);
      const kind = registry.kind(kindId);
      if (!kind) throw OcciError.unknownCategory(kindId);
      return this.build(principal, kind, this.newId(l), { ...l, source: this.core.locationOf(source) }, [source]);
    });
  }

  /** The mixins as applied: known, visible, applicable to the kind, at most one template of each sort. */
  checkMixins(principal: Principal, kindId: string, ids: readonly string[]): string[] {
    const { registry } = this.core;
    const unique = [...new Set(ids)];
    const templates = new Map<string, string>();
    for (const id of unique) {
      const m = registry.mixin(id);
      if (!m || !this.core.visibleMixin(principal, m)) throw OcciError.unknownCategory(id);
      if (m.applies.length > 0 && !m.applies.some((a) => registry.isA(kindId, a))) {
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

  checkLinkEnds(principal: Principal, link: Entity, pending: Entity[]): void {
    const { registry } = this.core;
    const ends = linkEnds(link)!;
    const find = (location: string) => {
      const t = this.core.resolve(location);
      const e = t?.type === 'entity' ? (pending.find((p) => p.id === t.id) ?? this.core.linkable(location)) : undefined;
      return e && this.core.visible(principal, e) ? e : undefined;
    };
    const source = find(ends.source);
    if (!source) throw OcciError.invalidAttribute(SOURCE, `no resource at ${ends.source}`);
    const target = find(ends.target);
    if (!target) throw OcciError.invalidAttribute(TARGET, `no resource at ${ends.target}`);
    const rule = LINK_ENDS[link.kind];
    if (rule && !registry.isA(source.kind, rule.source)) throw OcciError.invalidAttribute(SOURCE, `a ${link.kind} link starts at a ${rule.source}`);
    if (rule && !registry.isA(target.kind, rule.target)) throw OcciError.invalidAttribute(TARGET, `a ${link.kind} link ends at a ${rule.target}`);
  }

  /** The given attributes set on `attributes`, checked against their definitions; immutable ones may only repeat their value. */
  mergeGiven(before: Entity, defs: Map<string, AttributeDefinition>, attributes: Record<string, AttributeValue>, given: Record<string, unknown>): void {
    for (const [name, raw] of Object.entries(given)) {
      const def = defs.get(name);
      if (!def) throw OcciError.invalidAttribute(name, `not defined by kind ${before.kind} or its mixins`);
      const value = checkAttributeValue(def, raw);
      if (!def.mutable && !sameValue(value, before.attributes[name])) throw OcciError.immutableAttribute(name);
      attributes[name] = value;
    }
  }
}

/** The ids of the entities a link input names as its ends (locked with the link). */
export function endKeys(input: EntityInput): string[] {
  return [input.source ?? input.attributes[SOURCE], input.target ?? input.attributes[TARGET]]
    .filter((l): l is string => typeof l === 'string')
    .map((l) => l.slice(l.lastIndexOf('/') + 1));
}

/** The input's attributes with its link ends as attributes. */
export function withEnds(input: EntityInput): Record<string, unknown> {
  const given: Record<string, unknown> = { ...input.attributes };
  if (input.source !== undefined) given[SOURCE] = input.source;
  if (input.target !== undefined) given[TARGET] = input.target;
  return given;
}

export function requireAll(defs: Map<string, AttributeDefinition>, attributes: Record<string, AttributeValue>): void {
  for (const d of defs.values()) if (d.required && attributes[d.name] === undefined) throw OcciError.missingAttribute(d.name);
}

function linkKindFor(targetKind: string | undefined): string | undefined {
  if (targetKind === NETWORK) return NETWORKINTERFACE;
  if (targetKind === STORAGE) return STORAGELINK;
  return undefined;
}
