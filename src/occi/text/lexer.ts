import { OcciError } from '../errors.js';
import type { RequestMessage } from '../rendering.js';

/**
 * The lexical layer of GFD.229 (and its OCCI 1.1 predecessor): OCCI lines, their comma-joined
 * values and their `;`-separated parameters, with quoted strings that may hold `,` `;` and `=`.
 */

/** The OCCI fields, by their lower-case name. */
export const FIELDS = {
  category: 'Category',
  link: 'Link',
  'x-occi-attribute': 'X-OCCI-Attribute',
  'x-occi-location': 'X-OCCI-Location',
} as const;

export type FieldName = (typeof FIELDS)[keyof typeof FIELDS];

export interface OcciLine {
  name: FieldName;
  value: string;
}

/** Splits at `sep` outside double quotes; a backslash escapes the next character inside quotes. */
export function splitOutsideQuotes(s: string, sep: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && c === sep) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  if (quoted) throw OcciError.malformed(`unterminated quoted string in ${excerpt(s)}`);
  parts.push(s.slice(start));
  return parts;
}

/** Values of one header or body line: several may be joined with commas (RFC 9110 lists). */
function values(name: FieldName, raw: string): OcciLine[] {
  return splitOutsideQuotes(raw, ',')
    .map((v) => v.trim())
    .filter((v) => v !== '')
    .map((value) => ({ name, value }));
}

/** OCCI lines carried in request headers (text/occi), whatever the case of their names. */
export function headerLines(msg: RequestMessage): OcciLine[] {
  const out: OcciLine[] = [];
  for (const [key, raw] of Object.entries(msg.headers)) {
    const name = FIELDS[key.toLowerCase() as keyof typeof FIELDS];
    if (!name || raw === undefined) continue;
    for (const v of Array.isArray(raw) ? raw : [raw]) out.push(...values(name, v));
  }
  return out;
}

/** OCCI lines of a text/plain body: `Name: value` per line; blank lines and `#` comments skipped. */
export function bodyLines(body: string): OcciLine[] {
  const out: OcciLine[] = [];
  const lines = body.split(/\r\n|\r|\n/);
  lines.forEach((line, i) => {
    const text = line.trim();
    if (text === '' || text.startsWith('#')) return;
    const colon = text.indexOf(':');
    const name = colon > 0 ? FIELDS[text.slice(0, colon).trim().toLowerCase() as keyof typeof FIELDS] : undefined;
    if (!name) throw OcciError.malformed(`line ${i + 1} is not an OCCI line (Category, Link, X-OCCI-Attribute or X-OCCI-Location): ${excerpt(text)}`);
    out.push(...values(name, text.slice(colon + 1)));
  });
  return out;
}

/** A `"…"` string's content, or undefined when the token is not quoted. */
export function unquote(token: string): string | undefined {
  if (token.length < 2 || !token.startsWith('"') || !token.endsWith('"')) return undefined;
  const inner = token.slice(1, -1);
  let out = '';
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i]!;
    if (c === '"') throw OcciError.malformed(`stray quote in ${excerpt(token)}`);
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = inner[++i];
    if (next === undefined) throw OcciError.malformed(`dangling backslash in ${excerpt(token)}`);
    if (next === 'n') out += '\n';
    else if (next === 'r') out += '\r';
    else if (next === 't') out += '\t';
    else if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(inner.slice(i + 1, i + 5))) {
      out += String.fromCharCode(parseInt(inner.slice(i + 1, i + 5), 16));
      i += 4;
    } else out += next;
  }
  return out;
}

/**
 * A quoted string. Backslash escapes `"` and `\` (RFC 9110 quoted-pair) and, to keep a value on
 * one line, line breaks; `ascii` also escapes what an HTTP header cannot carry (text/occi).
 */
export function quote(s: string, ascii = false): string {
  let out = '"';
  for (const c of s) {
    const code = c.codePointAt(0)!;
    if (c === '"' || c === '\\') out += `\\${c}`;
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f || (ascii && code > 0x7e)) {
      for (const unit of c.split('').map((u) => u.charCodeAt(0))) out += `\\u${unit.toString(16).padStart(4, '0')}`;
    } else out += c;
  }
  return `${out}"`;
}

export interface Param {
  key: string;
  /** The raw token after `=`, quotes included. */
  raw: string;
}

/** `head;key=value;key="value"` → the head and its parameters (keys in lower case). */
export function params(value: string): { head: string; params: Param[] } {
  const [head, ...rest] = splitOutsideQuotes(value, ';');
  const out: Param[] = [];
  for (const chunk of rest) {
    const text = chunk.trim();
    if (text === '') continue; // a trailing `;`, which some clients send
    const eq = text.indexOf('=');
    if (eq <= 0) throw OcciError.malformed(`expected key=value, got ${excerpt(text)}`);
    out.push({ key: text.slice(0, eq).trim().toLowerCase(), raw: text.slice(eq + 1).trim() });
  }
  return { head: head!.trim(), params: out };
}

/** A parameter's value: quoted, or a bare token (such as `class=kind`). */
export function paramValue(p: Param): string {
  const q = unquote(p.raw);
  if (q !== undefined) return q;
  if (p.raw === '' || /["\s]/.test(p.raw)) throw OcciError.malformed(`bad quoting in ${p.key}=${excerpt(p.raw)}`);
  return p.raw;
}

export function excerpt(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}
