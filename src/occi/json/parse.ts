import { OcciError } from '../errors.js';
import type { ActionInput, EntityInput, LocationsInput, MixinDefinitionInput } from '../request.js';
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

function toInput(doc: JsonEntity): EntityInput {
  const attributes: Record<string, unknown> = { ...(doc.attributes ?? {}) };
  if (doc.id !== undefined) attributes['occi.core.id'] = doc.id;
  if (doc.title !== undefined) attributes['occi.core.title'] = doc.title;
  if (doc.summary !== undefined) attributes['occi.core.summary'] = doc.summary;
  return {
    kind: doc.kind,
    mixins: doc.mixins ?? [],
    attributes,
    links: (doc.links ?? []).map(toInput),
    source: doc.source?.location,
    target: doc.target?.location,
  };
}

/** A resource or a link: links are recognised by their `source`/`target` members. */
export function parseEntity(body: string): EntityInput {
  const doc = parseJson(body);
  const isLink = typeof doc === 'object' && doc !== null && ('source' in doc || 'target' in doc);
  return toInput(check<JsonEntity>(doc, isLink ? 'link' : 'resource'));
}

export function parseAction(body: string): ActionInput {
  if (body.trim() === '') return { attributes: {} };
  const doc = check<{ action: string; attributes?: Record<string, unknown> }>(parseJson(body), 'actionInvocation');
  return { action: doc.action, attributes: doc.attributes ?? {} };
}

/** Query interface POST/DELETE: `{"mixins":[…]}` (a single mixin object is accepted too). */
export function parseMixins(body: string): MixinDefinitionInput[] {
  const doc = parseJson(body);
  const list = typeof doc === 'object' && doc !== null && 'mixins' in doc ? check<{ mixins?: unknown[] }>(doc, 'categories').mixins ?? [] : [check(doc, 'mixin')];
  return (list as Array<{ term: string; scheme: string; title?: string; depends?: string[]; applies?: string[]; location?: string }>).map((m) => ({
    term: m.term,
    scheme: m.scheme,
    title: m.title,
    depends: m.depends ?? [],
    applies: m.applies ?? [],
    location: m.location,
  }));
}

/** Mixin collection bodies: `{"locations":[…]}` or a collection of entities with locations. */
export function parseLocations(body: string): LocationsInput {
  const doc = parseJson(body);
  if (typeof doc === 'object' && doc !== null && 'locations' in doc) return check<LocationsInput>(doc, 'locations');
  const collection = check<{ resources?: Array<{ location?: string; id?: string }>; links?: Array<{ location?: string }> }>(doc, 'collection');
  const entries = [...(collection.resources ?? []), ...(collection.links ?? [])];
  return {
    locations: entries.map((e, i) => {
      if (typeof e.location !== 'string') throw OcciError.malformed(`collection entry ${i} has no location`);
      return e.location;
    }),
  };
}
