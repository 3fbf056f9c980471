import type { AttributeDefinition } from '../attribute.js';
import type { Action, Category, Kind, Mixin } from '../category.js';
import type { EntityView } from '../view.js';

/** GFD.226 renderings of what the server emits: every document validates against GFD.226's own schema (vendor/occi/). */

type Json = Record<string, unknown>;

function attributeDefinitions(defs: readonly AttributeDefinition[]): Json | undefined {
  if (defs.length === 0) return undefined;
  const out: Json = {};
  for (const d of defs) {
    const pattern: Json = { type: d.type === 'integer' ? 'integer' : d.type };
    if (d.pattern) pattern['pattern'] = `^(?:${d.pattern})$`;
    if (d.enum) pattern['enum'] = [...d.enum];
    if (d.minimum !== undefined) pattern['minimum'] = d.minimum;
    if (d.maximum !== undefined) pattern['maximum'] = d.maximum;
    out[d.name] = {
      mutable: d.mutable,
      required: d.required,
      type: d.type === 'integer' ? 'number' : d.type,
      pattern,
      ...(d.default !== undefined ? { default: d.default } : {}),
      ...(d.description ? { description: d.description } : {}),
    };
  }
  return out;
}

function common(c: Category): Json {
  const out: Json = { term: c.term, scheme: c.scheme };
  if (c.title) out['title'] = c.title;
  const attributes = attributeDefinitions(c.attributes);
  if (attributes) out['attributes'] = attributes;
  return out;
}

export function renderKind(k: Kind): Json {
  const out = common(k);
  if (k.actions.length) out['actions'] = [...k.actions];
  if (k.parent) out['parent'] = k.parent;
  if (k.location) out['location'] = k.location;
  return out;
}

export function renderMixin(m: Mixin): Json {
  const out = common(m);
  if (m.actions.length) out['actions'] = [...m.actions];
  if (m.depends.length) out['depends'] = [...m.depends];
  if (m.applies.length) out['applies'] = [...m.applies];
  if (m.location) out['location'] = m.location;
  return out;
}

export function renderAction(a: Action): Json {
  return common(a);
}

export function renderCategories(categories: Category[]): Json {
  const out: { kinds: Json[]; mixins: Json[]; actions: Json[] } = { kinds: [], mixins: [], actions: [] };
  for (const c of categories) {
    if (c.class === 'kind') out.kinds.push(renderKind(c));
    else if (c.class === 'mixin') out.mixins.push(renderMixin(c));
    else out.actions.push(renderAction(c));
  }
  return out;
}

export function renderEntity(v: EntityView): Json {
  const e = v.entity;
  const { 'occi.core.title': title, 'occi.core.summary': summary, 'occi.core.source': source, 'occi.core.target': target, ...attributes } = e.attributes;
  const out: Json = { kind: e.kind };
  if (e.mixins.length) out['mixins'] = [...e.mixins];
  out['attributes'] = attributes;
  if (v.actions.length) out['actions'] = v.actions;
  out['id'] = e.id;
  if (typeof title === 'string') out['title'] = title;
  if (typeof source === 'string' && typeof target === 'string') {
    out['source'] = { location: source, ...(v.sourceKind ? { kind: v.sourceKind } : {}) };
    out['target'] = { location: target, ...(v.targetKind ? { kind: v.targetKind } : {}) };
  } else {
    if (typeof summary === 'string') out['summary'] = summary;
    out['links'] = v.links.map(renderEntity);
  }
  // No `location` member: GFD.226 defines none (a location is the kind's location and the id).
  return out;
}

export function renderCollection(views: EntityView[]): Json {
  const resources = views.filter((v) => !v.entity.attributes['occi.core.source']).map(renderEntity);
  const links = views.filter((v) => v.entity.attributes['occi.core.source']).map(renderEntity);
  return { ...(resources.length || !links.length ? { resources } : {}), ...(links.length ? { links } : {}) };
}

