import { type Category, OCCI_11_TERM, termOf } from '../category.js';
import type { OcciError } from '../errors.js';
import type { RenderContext } from '../rendering.js';
import type { EntityView } from '../view.js';
import { inRenderingOrder, renderAttribute } from './attribute-line.js';
import { renderCategory, renderCategoryShort } from './category-line.js';
import type { OcciLine } from './lexer.js';
import { renderActionLink, renderResourceLink } from './link-line.js';

/**
 * What the server emits, as OCCI lines; text/plain writes them in the body, text/occi in
 * headers. `ascii` escapes what a header cannot carry.
 */

/**
 * What an OCCI 1.1 client (User-Agent `OCCI/1.1`) can read: its term syntax has no dot, and
 * rOCCI-cli 4.3 refuses a whole model or entity over one such Category line.
 */
const readable = (occi11: boolean) => (id: string) => !occi11 || OCCI_11_TERM.test(termOf(id));

export function categoryLines(categories: Category[], ascii: boolean, occi11 = false): OcciLine[] {
  return categories.filter((c) => readable(occi11)(c.term)).map((c) => ({ name: 'Category', value: renderCategory(c, ascii, occi11) }));
}

export function entityLines(v: EntityView, ascii: boolean, occi11 = false): OcciLine[] {
  const e = v.entity;
  const out: OcciLine[] = [{ name: 'Category', value: renderCategoryShort(e.kind, 'kind') }];
  for (const m of e.mixins.filter(readable(occi11))) out.push({ name: 'Category', value: renderCategoryShort(m, 'mixin') });
  for (const [name, value] of inRenderingOrder(e.attributes)) {
    out.push({ name: 'X-OCCI-Attribute', value: renderAttribute(name, value, ascii) });
  }
  for (const l of v.links) out.push({ name: 'Link', value: renderResourceLink(l, ascii, readable(occi11)) });
  for (const a of v.actions) out.push({ name: 'Link', value: renderActionLink(v.location, a) });
  return out;
}

/** Absolute when the node's base is known: clients such as pOCCI require it in locations. */
export function absolute(location: string, ctx: RenderContext | undefined): string {
  return ctx ? ctx.base.replace(/\/+$/, '') + location : location;
}

export function locationLines(views: EntityView[], ctx: RenderContext | undefined): OcciLine[] {
  return views.map((v) => ({ name: 'X-OCCI-Location', value: absolute(v.location, ctx) }));
}

export function errorText(status: number, err: OcciError): string {
  return `${status} ${err.code}: ${err.message}\n`;
}
