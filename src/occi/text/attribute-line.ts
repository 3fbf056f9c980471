import type { AttributeValue } from '../attribute.js';
import { OcciError } from '../errors.js';
import { excerpt, quote, splitOutsideQuotes, unquote } from './lexer.js';

/** GFD.229 attribute values: strings quoted, numbers and booleans bare. */

const NAME = /^[a-zA-Z][a-zA-Z0-9_-]*(\.[a-zA-Z0-9_-]+)*$/;
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

export function renderValue(v: AttributeValue, ascii: boolean): string {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return quote(v, ascii);
  // Arrays and objects have no text form of their own; they travel as JSON in a string.
  return quote(JSON.stringify(v), ascii);
}

/**
 * The attributes in rendering order, a `*.state.message` just before its `*.state`: rOCCI's
 * attribute model nests names at their dots, so a message read after the state would replace it
 * (rOCCI-cli would show no state at all); read before, the state replaces the message.
 */
export function inRenderingOrder(attributes: Readonly<Record<string, AttributeValue>>): Array<[string, AttributeValue]> {
  const out: Array<[string, AttributeValue]> = [];
  for (const [name, value] of Object.entries(attributes)) {
    if (name.endsWith('.state.message') && name.slice(0, -'.message'.length) in attributes) continue;
    const message = `${name}.message`;
    if (name.endsWith('.state') && attributes[message] !== undefined) out.push([message, attributes[message]!]);
    out.push([name, value]);
  }
  return out;
}

/** `name=value` */
export function renderAttribute(name: string, v: AttributeValue, ascii: boolean): string {
  return `${name}=${renderValue(v, ascii)}`;
}

export function parseValue(name: string, raw: string): string | number | boolean {
  const s = unquote(raw);
  if (s !== undefined) return s;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  if (NUMBER.test(raw)) return Number(raw);
  throw OcciError.malformed(`attribute ${name}: ${excerpt(raw)} is neither a quoted string, a number nor a boolean`);
}

/** One X-OCCI-Attribute value: `name=value` (a trailing `;` is tolerated). */
export function parseAttribute(value: string): { name: string; value: string | number | boolean } {
  const [text, ...rest] = splitOutsideQuotes(value, ';');
  if (rest.some((r) => r.trim() !== '')) throw OcciError.malformed(`X-OCCI-Attribute ${excerpt(value)} carries more than one attribute`);
  const eq = text!.indexOf('=');
  if (eq <= 0) throw OcciError.malformed(`X-OCCI-Attribute ${excerpt(value)} is not name=value`);
  const name = text!.slice(0, eq).trim();
  if (!NAME.test(name)) throw OcciError.malformed(`X-OCCI-Attribute: ${excerpt(name)} is not an attribute name`);
  return { name, value: parseValue(name, text!.slice(eq + 1).trim()) };
}

export function isAttributeName(s: string): boolean {
  return NAME.test(s);
}
