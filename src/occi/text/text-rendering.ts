import { OcciError } from '../errors.js';
import type { Rendered, Rendering, RequestMessage } from '../rendering.js';
import { bodyLines, headerLines, type OcciLine } from './lexer.js';
import * as parse from './parse.js';
import { absolute, categoryLines, entityLines, errorText, locationLines } from './render.js';

/**
 * GFD.229 text renderings (OCCI 1.1 compatible): text/plain carries OCCI lines in the body,
 * text/occi in headers with an empty body; text/uri-list carries locations only.
 */

/**
 * Requests are read from headers and body alike, whichever the Content-Type says: clients
 * mix them (rOCCI-cli sends `Content-Type: text/plain,text/occi` with a body; pOCCI sends
 * text/occi filters with `Accept: text/plain`).
 */
function requestLines(msg: RequestMessage): OcciLine[] {
  return [...headerLines(msg), ...bodyLines(msg.body)];
}

const parsers = {
  parseEntity: (msg: RequestMessage) => parse.parseEntity(requestLines(msg), msg.base),
  parseCreation: (msg: RequestMessage) => parse.parseEntity(requestLines(msg), msg.base),
  parseAction: (msg: RequestMessage) => parse.parseAction(requestLines(msg)),
  parseMixins: (msg: RequestMessage) => parse.parseMixins(requestLines(msg)),
  parseMixinIds: (msg: RequestMessage) => parse.parseMixinIds(requestLines(msg)),
  parseLocations: (msg: RequestMessage) => parse.parseLocations(requestLines(msg), msg.base),
  parseFilter: (msg: RequestMessage) => parse.parseFilter(requestLines(msg)),
};

/**
 * The most a text/occi collection puts in its one X-OCCI-Location header line. HTTP clients cap
 * a header section (Node's at 16 KiB, others at 64 KiB); a longer collection is answered 413 with
 * a pointer to the renderings that carry locations in the body.
 */
export const MAX_LOCATIONS_HEADER_BYTES = 8 * 1024;

function locationsInHeaders(lines: OcciLine[]): Rendered {
  const size = lines.reduce((n, l) => n + Buffer.byteLength(l.value) + 2, 0);
  if (size > MAX_LOCATIONS_HEADER_BYTES) {
    throw new OcciError('PAYLOAD_TOO_LARGE', `the collection's ${lines.length} locations take ${size} bytes, more than one text/occi header line carries (${MAX_LOCATIONS_HEADER_BYTES}): ask for text/plain or text/uri-list, which list them in the body, or filter the collection`);
  }
  return inHeaders(lines);
}

function inBody(lines: OcciLine[], headers?: Record<string, string>): Rendered {
  return { body: lines.map((l) => `${l.name}: ${l.value}\n`).join(''), ...(headers ? { headers } : {}) };
}

/**
 * One header per field, its values comma-joined (RFC 9110 list syntax): rOCCI-api reads only the
 * first of repeated header lines, so separate lines would lose all but one value.
 */
function inHeaders(lines: OcciLine[], extra: Record<string, string> = {}): Rendered {
  const values = new Map<string, string[]>();
  for (const l of lines) values.set(l.name, [...(values.get(l.name) ?? []), l.value]);
  return { body: '', headers: { ...extra, ...Object.fromEntries([...values].map(([name, vs]) => [name, vs.join(', ')])) } };
}

export const textPlainRendering: Rendering = {
  mediaTypes: ['text/plain'],
  rendersEntities: true,
  categories: (cs, ctx) => inBody(categoryLines(cs, false, ctx?.occi11)),
  entity: (v, ctx) => inBody(entityLines(v, false, ctx?.occi11)),
  collection: (vs, ctx) => inBody(locationLines(vs, ctx)),
  created: (v, ctx) => inBody(locationLines([v], ctx), { Location: absolute(v.location, ctx) }),
  error: (status, err) => ({ body: errorText(status, err) }),
  ...parsers,
};

export const textOcciRendering: Rendering = {
  mediaTypes: ['text/occi'],
  rendersEntities: true,
  categories: (cs, ctx) => inHeaders(categoryLines(cs, true, ctx?.occi11)),
  entity: (v, ctx) => inHeaders(entityLines(v, true, ctx?.occi11)),
  collection: (vs, ctx) => locationsInHeaders(locationLines(vs, ctx)),
  created: (v, ctx) => inHeaders(locationLines([v], ctx), { Location: absolute(v.location, ctx) }),
  // The cause goes in the body too: an error is not OCCI data, and clients print the body.
  error: (status, err) => ({ body: errorText(status, err) }),
  ...parsers,
};

const locationsOnly = () => {
  throw OcciError.malformed('text/uri-list carries locations only; send entities and categories as text/plain, text/occi or application/occi+json');
};

export const uriListRendering: Rendering = {
  mediaTypes: ['text/uri-list'],
  rendersEntities: false,
  categories: (cs) => ({ body: cs.flatMap((c) => (c.class !== 'action' && c.location ? [`${c.location}\n`] : [])).join('') }),
  entity: (v) => ({ body: `${v.location}\n` }),
  collection: (vs, ctx) => ({ body: vs.map((v) => `${absolute(v.location, ctx)}\n`).join('') }),
  created: (v, ctx) => ({ body: `${absolute(v.location, ctx)}\n`, headers: { Location: absolute(v.location, ctx) } }),
  error: (status, err) => ({ body: `# ${errorText(status, err)}` }),
  parseEntity: locationsOnly,
  parseCreation: locationsOnly,
  parseAction: locationsOnly,
  parseMixins: locationsOnly,
  parseMixinIds: locationsOnly,
  parseLocations: (msg) => parse.parseUriList(msg.body, msg.base),
  parseFilter: (msg) => parse.parseFilter(headerLines(msg)),
};
