import { OcciError } from '../errors.js';
import { localPath } from '../location.js';
import type { ActionInput, EntityInput, EntityRef, LocationsInput, MixinDefinitionInput } from '../request.js';
import { describeSchemaError, type DocumentType, inputValidator } from './schema.js';

/** GFD.226 parsing of request bodies into the rendering-neutral inputs of the service. */

function parseJson(body: string): unknown {
  if (body.trim() === '') throw OcciError.malformed('the request body is empty');
  try {
    return JSON.parse(body);
  } catch (err) {
    throw OcciError.malformed(`the body is not valid JSON: ${(err as Error).message}`, err);
  }
}

function check<T>(doc: unknown, type: DocumentType): T {
  const validate = inputValidator(type);
  if (!validate(doc)) throw OcciError.malformed(`invalid ${type} document: ${describeSchemaError(validate.errors)}`);
  return doc as T;
}

interface JsonEntity {
  kind?: string;
  mixins?: string[];
  attributes?: Record<string, unknown>;
  id?: string;
  title?: string;
  summary?: string;
  links?: JsonEntity[];
  source?: { location: string };
  target?: { location: string };
}

interface JsonCollection {
  resources?: JsonEntity[];
  links?: JsonEntity[];
}

const LINK_ENDS = ['occi.core.source', 'occi.core.target'];

function toInput(doc: JsonEntity, base: string | undefined): EntityInput {
  const attributes: Record<string, unknown> = { ...(doc.attributes ?? {}) };
  if (doc.id !== undefined) attributes['occi.core.id'] = doc.id;
  if (doc.title !== undefined) attributes['occi.core.title'] = doc.title;
  if (doc.summary !== undefined) attributes['occi.core.summary'] = doc.summary;
  for (const end of LINK_ENDS) if (typeof attributes[end] === 'string') attributes[end] = localPath(attributes[end] as string, base);
  return {
    kind: doc.kind,
    mixins: doc.mixins ?? [],
    attributes,
    links: (doc.links ?? []).map((l) => toInput(l, base)),
    source: doc.source && localPath(doc.source.location, base),
    target: doc.target && localPath(doc.target.location, base),
  };
}

const isObject = (doc: unknown): doc is Record<string, unknown> => typeof doc === 'object' && doc !== null && !Array.isArray(doc);
const isLink = (doc: unknown) => isObject(doc) && ('source' in doc || 'target' in doc);
/** A collection has `resources`, or `links` that are whole links (with a source, which a resource's inline links leave out). */
const isCollection = (doc: unknown) =>
  isObject(doc) && !('kind' in doc) && ('resources' in doc || (Array.isArray(doc['links']) && doc['links'].length > 0 && doc['links'].every((l) => isObject(l) && 'source' in l)));

function entity(doc: unknown, base: string | undefined): EntityInput {
  return toInput(check<JsonEntity>(doc, isLink(doc) ? 'link' : 'resource'), base);
}

/** A resource or a link: links are recognised by their `source`/`target` members. */
export function parseEntity(body: string, base?: string): EntityInput {
  const doc = parseJson(body);
  if (isCollection(doc)) throw OcciError.malformed('an entity collection is created with POST on a kind collection; here one entity is expected');
  return entity(doc, base);
}

/** A creation: one entity, or a resource or link collection (`{"resources":[…]}`, `{"links":[…]}`). */
export function parseCreation(body: string, base?: string): EntityInput | EntityInput[] {
  const doc = parseJson(body);
  if (!isCollection(doc)) return entity(doc, base);
  const collection = check<JsonCollection>(doc, 'collection');
  const entries = [...(collection.resources ?? []), ...(collection.links ?? [])];
  if (entries.length === 0) throw OcciError.malformed('the entity collection is empty: nothing to create');
  return entries.map((e) => toInput(e, base));
}

export function parseAction(body: string): ActionInput {
  if (body.trim() === '') return { attributes: {} };
  const doc = check<{ action: string; attributes?: Record<string, unknown> }>(parseJson(body), 'actionInvocation');
  return { action: doc.action, attributes: doc.attributes ?? {} };
}

interface JsonMixin {
  term: string;
  scheme: string;
  title?: string;
  depends?: string[];
  applies?: string[];
  location?: string;
  attributes?: Record<string, { default?: unknown }>;
}

/** Query interface POST/DELETE: `{"mixins":[…]}` (a single mixin object is accepted too). */
export function parseMixins(body: string): MixinDefinitionInput[] {
  const doc = parseJson(body);
  const list = isObject(doc) && 'mixins' in doc ? (check<{ mixins?: JsonMixin[] }>(doc, 'categories').mixins ?? []) : [check<JsonMixin>(doc, 'mixin')];
  return list.map((m) => ({
    term: m.term,
    scheme: m.scheme,
    title: m.title,
    depends: m.depends ?? [],
    applies: m.applies ?? [],
    location: m.location,
    ...(m.attributes ? { defaults: defaultsOf(m.attributes) } : {}),
  }));
}

/** The defaults of a mixin's attribute descriptions (GFD.226 §2.5.1); descriptions without one name the attribute only. */
function defaultsOf(descriptions: Record<string, { default?: unknown }>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(descriptions).map(([name, d]) => [name, d.default]));
}

/**
 * Mixin collection bodies: `{"locations":[…]}`, or an entity collection (GFD.223 §4.3.2) whose
 * entities are named by kind and id (absolute URIs must point at this service).
 */
export function parseLocations(body: string, base?: string): LocationsInput {
  const doc = parseJson(body);
  if (isObject(doc) && 'locations' in doc) return { locations: check<{ locations: string[] }>(doc, 'locations').locations.map((l) => localPath(l, base)) };
  const collection = check<JsonCollection>(doc, 'collection');
  const entries = [...(collection.resources ?? []), ...(collection.links ?? [])];
  return {
    locations: entries.map((e, i): EntityRef => {
      if (typeof e.kind !== 'string' || typeof e.id !== 'string') throw OcciError.malformed(`collection entry ${i} needs its kind and id`);
      return { kind: e.kind, id: e.id };
    }),
  };
}
