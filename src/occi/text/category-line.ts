import type { AttributeDefinition } from '../attribute.js';
import { type Category, OCCI_11_TERM, TERM, termOf } from '../category.js';
import { OcciError } from '../errors.js';
import { excerpt, params, paramValue, quote } from './lexer.js';

/** GFD.229 Category values, in the order clients match them (rOCCI's regular expression). */

export type CategoryClass = 'kind' | 'mixin' | 'action';

/** A Category value as a request carries it. */
export interface CategoryRef {
  term: string;
  scheme: string;
  class?: CategoryClass;
  title?: string;
  rel: string[];
  location?: string;
  attributes: string[];
  actions: string[];
}

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s"#]*#$/;
const CLASSES: readonly string[] = ['kind', 'mixin', 'action'];

function attributeDefinition(d: AttributeDefinition): string {
  const props = [...(d.mutable ? [] : ['immutable']), ...(d.required ? ['required'] : [])];
  return props.length ? `${d.name}{${props.join(' ')}}` : d.name;
}

/**
 * `term;scheme="…";class="…";title="…";rel="…";location="…";attributes="…";actions="…"`.
 * `occi11`: for OCCI 1.1 clients, related categories whose terms they cannot read are left out.
 */
export function renderCategory(c: Category, ascii: boolean, occi11 = false): string {
  let s = `${c.term};scheme=${quote(c.scheme, ascii)};class="${c.class}"`;
  if (c.title) s += `;title=${quote(c.title, ascii)}`;
  const related = c.class === 'kind' ? (c.parent ? [c.parent] : []) : c.class === 'mixin' ? c.depends : [];
  const rel = occi11 ? related.filter((id) => OCCI_11_TERM.test(termOf(id))) : related;
  if (rel.length) s += `;rel=${quote(rel.join(' '), ascii)}`;
  if (c.class !== 'action' && c.location) s += `;location=${quote(c.location, ascii)}`;
  if (c.attributes.length) s += `;attributes=${quote(c.attributes.map(attributeDefinition).join(' '), ascii)}`;
  if (c.class !== 'action' && c.actions.length) s += `;actions=${quote(c.actions.join(' '), ascii)}`;
  return s;
}

/** The short form used inside entity renderings: term, scheme and class. */
export function renderCategoryShort(id: string, cls: CategoryClass): string {
  const hash = id.lastIndexOf('#');
  return `${id.slice(hash + 1)};scheme=${quote(id.slice(0, hash + 1))};class="${cls}"`;
}

/** Parses a Category value; class may be left out only where `classOptional` says so. */
export function parseCategory(value: string, classOptional = false): CategoryRef {
  const { head, params: ps } = params(value);
  if (!TERM.test(head)) throw OcciError.malformed(`Category ${excerpt(value)}: ${excerpt(head)} is not a valid term`);
  const ref: CategoryRef = { term: head, scheme: '', rel: [], attributes: [], actions: [] };
  for (const p of ps) {
    const v = paramValue(p);
    switch (p.key) {
      case 'scheme':
        if (!SCHEME.test(v)) throw OcciError.malformed(`Category ${head}: scheme ${excerpt(v)} is not a URI ending with #`);
        ref.scheme = v;
        break;
      case 'class':
        if (!CLASSES.includes(v)) throw OcciError.malformed(`Category ${head}: unknown class ${excerpt(v)} (kind, mixin or action)`);
        ref.class = v as CategoryClass;
        break;
      case 'title':
        ref.title = v;
        break;
      case 'rel':
        ref.rel = words(v);
        break;
      case 'location':
        ref.location = v;
        break;
      case 'attributes':
        ref.attributes = attributeDefinitions(head, v);
        break;
      case 'actions':
        ref.actions = words(v);
        break;
      default:
        throw OcciError.malformed(`Category ${head}: unknown parameter ${excerpt(p.key)}`);
    }
  }
  if (ref.scheme === '') throw OcciError.malformed(`Category ${head} has no scheme`);
  if (!ref.class && !classOptional) throw OcciError.malformed(`Category ${head} has no class`);
  return ref;
}

/** `a.b{immutable required} c.d` → each definition with its properties normalised. */
function attributeDefinitions(term: string, v: string): string[] {
  const out: string[] = [];
  const re = /\s*([a-z][a-z0-9_-]*(?:\.[a-z0-9_-]+)*)(?:\{([^}]*)\})?\s*/gy;
  let m: RegExpExecArray | null;
  while (re.lastIndex < v.length && (m = re.exec(v)) !== null) {
    const props = words(m[2] ?? '');
    if (props.some((p) => p !== 'immutable' && p !== 'required')) throw OcciError.malformed(`Category ${term}: unknown attribute property in ${excerpt(m[0])}`);
    out.push(props.length ? `${m[1]}{${props.join(' ')}}` : m[1]!);
  }
  if (re.lastIndex < v.length) throw OcciError.malformed(`Category ${term}: bad attribute definitions ${excerpt(v)}`);
  return out;
}

function words(v: string): string[] {
  return v.split(/\s+/).filter((w) => w !== '');
}
