import type { AttributeValue } from '../attribute.js';
import type { Category } from '../category.js';
import type { OcciError } from '../errors.js';
import type { RenderContext } from '../rendering.js';
import type { EntityView } from '../view.js';
import { renderAttribute } from './attribute-line.js';
import { renderCategory, renderCategoryShort } from './category-line.js';
import type { OcciLine } from './lexer.js';
import { renderActionLink, renderResourceLink } from './link-line.js';

/**
 * What the server emits, as OCCI lines; text/plain writes them in the body, text/occi in
 * headers. `ascii` escapes what a header cannot carry.
 */

export function categoryLines(categories: Category[], ascii: boolean): OcciLine[] {
  return categories.map((c) => ({ name: 'Category', value: renderCategory(c, ascii) }));
}

export function entityLines(v: EntityView, ascii: boolean): OcciLine[] {
  const e = v.entity;
  const out: OcciLine[] = [{ name: 'Category', value: renderCategoryShort(e.kind, 'kind') }];
  for (const m of e.mixins) out.push({ name: 'Category', value: renderCategoryShort(m, 'mixin') });
  for (const [name, value] of Object.entries(e.attributes) as Array<[string, AttributeValue]>) {
    out.push({ name: 'X-OCCI-Attribute', value: renderAttribute(name, value, ascii) });
  }
  for (const l of v.links) out.push({ name: 'Link', value: renderResourceLink(l, ascii) });
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
