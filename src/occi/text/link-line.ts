import { RESOURCE } from '../core-model.js';
import { SOURCE, TARGET } from '../entity.js';
import { OcciError } from '../errors.js';
import type { EntityView } from '../view.js';
import { inRenderingOrder, isAttributeName, parseValue, renderAttribute } from './attribute-line.js';
import { excerpt, params, paramValue, quote } from './lexer.js';

/** GFD.229 Link values: action links and resource links with their own attributes. */

export interface LinkRef {
  uri: string;
  rel: string[];
  self?: string;
  /** The link's kind first, then its mixins. */
  categories: string[];
  attributes: Record<string, string | number | boolean>;
}

/** `</compute/ID?action=stop>;rel="…/compute/action#stop"` */
export function renderActionLink(location: string, actionId: string): string {
  return `<${location}?action=${actionId.slice(actionId.lastIndexOf('#') + 1)}>;rel=${quote(actionId)}`;
}

/** `</storage/ID>;rel="…#storage";self="/storagelink/LID";category="…#storagelink";attr=value…` (the mixins a client can read). */
export function renderResourceLink(link: EntityView, ascii: boolean, readable: (id: string) => boolean = () => true): string {
  const e = link.entity;
  const target = String(e.attributes[TARGET]);
  let s = `<${target}>;rel=${quote(link.targetKind ?? RESOURCE, ascii)};self=${quote(link.location, ascii)}`;
  s += `;category=${quote([e.kind, ...e.mixins.filter(readable)].join(' '), ascii)}`;
  for (const [name, v] of inRenderingOrder(e.attributes)) {
    if (name !== SOURCE && name !== TARGET) s += `;${renderAttribute(name, v, ascii)}`;
  }
  return s;
}

export function parseLink(value: string): LinkRef {
  const { head, params: ps } = params(value);
  const m = /^<([^<>\s]+)>$/.exec(head);
  if (!m) throw OcciError.malformed(`Link ${excerpt(value)}: the target must be a URI in <…>`);
  const ref: LinkRef = { uri: m[1]!, rel: [], categories: [], attributes: {} };
  for (const p of ps) {
    if (p.key === 'rel') ref.rel = paramValue(p).split(/\s+/).filter(Boolean);
    else if (p.key === 'self') ref.self = paramValue(p);
    else if (p.key === 'category') ref.categories = paramValue(p).split(/\s+/).filter(Boolean);
    else {
      // Attribute names are lower case (GFD.221), so the lexer's lower-cased key is the name.
      if (!isAttributeName(p.key)) throw OcciError.malformed(`Link <${ref.uri}>: unknown parameter ${excerpt(p.key)}`);
      ref.attributes[p.key] = parseValue(p.key, p.raw);
    }
  }
  if (ref.rel.length === 0) throw OcciError.malformed(`Link <${ref.uri}> has no rel`);
  return ref;
}

export function isActionLink(ref: LinkRef): boolean {
  return ref.uri.includes('?action=');
}
