import { createHash } from 'node:crypto';
import { bareId, UUID_PATTERN } from '../core-model.js';
import { SOURCE, TARGET } from '../entity.js';
import { OcciError } from '../errors.js';
import { localPath } from '../location.js';
import type { ActionInput, EntityInput, Filter, LocationsInput, MixinDefinitionInput } from '../request.js';
import { parseAttribute } from './attribute-line.js';
import { parseCategory } from './category-line.js';
import { excerpt, type OcciLine } from './lexer.js';
import { isActionLink, parseLink } from './link-line.js';

/** GFD.229 requests (OCCI lines, wherever they were carried) into the service's inputs. */

const UUID = new RegExp(`^${UUID_PATTERN}$`);
/** Namespace of the name-based ids given to entities that clients name with a non-UUID id. */
const ID_NAMESPACE = '3f6c1b52-8f0e-5c1e-9a43-6d2f0c7e9b18';

/** RFC 9562 version 5 (SHA-1, name-based) UUID. */
function uuidV5(name: string): string {
  const ns = Buffer.from(ID_NAMESPACE.replaceAll('-', ''), 'hex');
  const h = createHash('sha1').update(ns).update(name, 'utf8').digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/**
 * OCCI 1.1 clients (pOCCI) name new entities with ids such as `Compute_1700000000`; this node's
 * ids are UUIDs, so such a name becomes the UUID derived from it: the same name always gives the
 * same id, and reusing it is a conflict, as with any id.
 */
function entityId(value: unknown): unknown {
  return typeof value === 'string' && value !== '' && !UUID.test(bareId(value)) ? uuidV5(value) : value;
}

function onlyLines(lines: OcciLine[], allowed: OcciLine['name'][], what: string): void {
  const bad = lines.find((l) => !allowed.includes(l.name));
  if (bad) throw OcciError.malformed(`${bad.name} is not expected in ${what}: ${excerpt(bad.value)}`);
}

function attributes(lines: OcciLine[]): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const l of lines) {
    if (l.name !== 'X-OCCI-Attribute') continue;
    const a = parseAttribute(l.value);
    if (a.name in out && out[a.name] !== a.value) throw OcciError.malformed(`attribute ${a.name} is given twice with different values`);
    out[a.name] = a.value;
  }
  return out;
}

/** Clients send back the absolute URIs they were given (`base`: where the request reached the node). */
function withPaths(attrs: Record<string, unknown>, base: string | undefined): Record<string, unknown> {
  for (const end of [SOURCE, TARGET]) if (typeof attrs[end] === 'string') attrs[end] = localPath(attrs[end] as string, base);
  if ('occi.core.id' in attrs) attrs['occi.core.id'] = entityId(attrs['occi.core.id']);
  return attrs;
}

export function parseEntity(lines: OcciLine[], base?: string): EntityInput {
  if (lines.length === 0) throw OcciError.malformed('the request carries no OCCI lines (Category, X-OCCI-Attribute, Link)');
  onlyLines(lines, ['Category', 'X-OCCI-Attribute', 'Link'], 'an entity');
  const input: EntityInput = { mixins: [], attributes: withPaths(attributes(lines), base), links: [] };
  for (const l of lines) {
    if (l.name === 'Category') {
      const c = parseCategory(l.value);
      const id = c.scheme + c.term;
      if (c.class === 'action') throw OcciError.malformed(`action ${id} is not a category of an entity; trigger it with POST ?action=${c.term}`);
      if (c.class === 'mixin') {
        if (!input.mixins.includes(id)) input.mixins.push(id);
      } else if (input.kind !== undefined && input.kind !== id) throw OcciError.malformed(`two kinds given: ${input.kind} and ${id}`);
      else input.kind = id;
    } else if (l.name === 'Link') {
      const ref = parseLink(l.value);
      if (isActionLink(ref)) continue; // actions are rendered as links; sent back, they mean nothing
      const [kind, ...mixins] = ref.categories;
      input.links.push({ kind, mixins, attributes: withPaths({ ...ref.attributes }, base), links: [], target: localPath(ref.uri, base) });
    }
  }
  return input;
}

export function parseAction(lines: OcciLine[]): ActionInput {
  onlyLines(lines, ['Category', 'X-OCCI-Attribute'], 'an action invocation');
  const actions = lines.filter((l) => l.name === 'Category').map((l) => parseCategory(l.value));
  if (actions.length > 1) throw OcciError.malformed('an action invocation names one action');
  const a = actions[0];
  if (a && a.class !== 'action') throw OcciError.malformed(`Category ${a.scheme}${a.term} is a ${a.class}, not an action`);
  return { ...(a ? { action: a.scheme + a.term } : {}), attributes: attributes(lines) };
}

export function parseMixins(lines: OcciLine[]): MixinDefinitionInput[] {
  onlyLines(lines, ['Category'], 'mixin definitions');
  return lines.map((l) => {
    const c = parseCategory(l.value);
    if (c.class !== 'mixin') throw OcciError.malformed(`only mixins can be defined; ${c.scheme}${c.term} is a ${c.class}`);
    return { term: c.term, scheme: c.scheme, title: c.title, depends: c.rel, applies: [], location: c.location };
  });
}

export function parseMixinIds(lines: OcciLine[]): string[] {
  onlyLines(lines, ['Category'], 'a mixin deletion');
  return lines.map((l) => {
    const c = parseCategory(l.value, true);
    if (c.class !== undefined && c.class !== 'mixin') throw OcciError.malformed(`only mixins can be deleted; ${c.scheme}${c.term} is a ${c.class}`);
    return c.scheme + c.term;
  });
}

export function parseLocations(lines: OcciLine[], base?: string): LocationsInput {
  onlyLines(lines, ['X-OCCI-Location'], 'a list of locations');
  return { locations: lines.map((l) => localPath(checkUri(l.value), base)) };
}

/** A text/uri-list body (RFC 2483): one URI a line, `#` comments. */
export function parseUriList(body: string, base?: string): LocationsInput {
  const uris = body.split(/\r\n|\r|\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  return { locations: uris.map((u) => localPath(checkUri(u), base)) };
}

function checkUri(uri: string): string {
  if (!/^(\/|[a-z][a-z0-9+.-]*:\/\/)[^\s<>"]*$/i.test(uri)) throw OcciError.malformed(`${excerpt(uri)} is not a location`);
  return uri;
}

/** Collection and query-interface filters: Category (any of) and X-OCCI-Attribute (all of). */
export function parseFilter(lines: OcciLine[]): Filter {
  const categories = lines.filter((l) => l.name === 'Category').map((l) => {
    const c = parseCategory(l.value, true);
    return c.scheme + c.term;
  });
  const attrs = attributes(lines);
  return { categories, attributes: Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, String(v)])) };
}
