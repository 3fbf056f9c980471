/**
 * Just enough XML for libvirt documents: an escaping builder and a parser for the
 * well-formed XML libvirt emits (elements, attributes, text, comments, entities).
 */

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function escapeXml(value: string | number): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function unescapeXml(value: string): string {
  return value.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, ent: string) => {
    if (ent.startsWith('#x')) return String.fromCodePoint(parseInt(ent.slice(2), 16));
    if (ent.startsWith('#')) return String.fromCodePoint(parseInt(ent.slice(1), 10));
    return ENTITIES[ent] ?? whole;
  });
}

/** Builds `<name a="v">children</name>`; attributes with undefined values are left out. */
export function el(
  name: string,
  attrs: Record<string, string | number | undefined> = {},
  ...children: (string | undefined)[]
): string {
  const attrText = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXml(v as string | number)}"`)
    .join('');
  const body = children.filter((c) => c !== undefined).join('');
  return body === '' ? `<${name}${attrText}/>` : `<${name}${attrText}>${body}</${name}>`;
}

/** An element holding escaped text. */
export function textEl(name: string, text: string | number, attrs: Record<string, string | number | undefined> = {}): string {
  return el(name, attrs, escapeXml(text));
}

const TOKEN = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!\[CDATA\[([\s\S]*?)\]\]>|<\/([^\s>]+)\s*>|<([^\s/>]+)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)/g;
const ATTR = /([^\s=]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

export function parseXml(xml: string): XmlElement {
  const root: XmlElement = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlElement[] = [root];
  for (const m of xml.matchAll(TOKEN)) {
    const top = stack[stack.length - 1]!;
    if (m[1] !== undefined) {
      top.text += m[1];
    } else if (m[2] !== undefined) {
      if (stack.length === 1 || top.name !== m[2]) throw new Error(`unexpected </${m[2]}>`);
      stack.pop();
    } else if (m[3] !== undefined) {
      const attrs: Record<string, string> = {};
      for (const a of (m[4] ?? '').matchAll(ATTR)) attrs[a[1]!] = unescapeXml(a[2] ?? a[3] ?? '');
      const node: XmlElement = { name: m[3], attrs, children: [], text: '' };
      top.children.push(node);
      if (m[5] !== '/') stack.push(node);
    } else if (m[6] !== undefined) {
      top.text += unescapeXml(m[6]);
    }
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`);
  const doc = root.children[0];
  if (doc === undefined) throw new Error('empty XML document');
  return doc;
}

export function child(node: XmlElement | undefined, name: string): XmlElement | undefined {
  return node?.children.find((c) => c.name === name);
}

export function children(node: XmlElement | undefined, name: string): XmlElement[] {
  return node?.children.filter((c) => c.name === name) ?? [];
}

/** Follows a path of element names: `path(dom, 'os', 'type')`. */
export function path(node: XmlElement | undefined, ...names: string[]): XmlElement | undefined {
  return names.reduce<XmlElement | undefined>((n, name) => child(n, name), node);
}

export function textOf(node: XmlElement | undefined): string | undefined {
  return node === undefined ? undefined : node.text.trim();
}

/** Serializes a parsed element back (used to hand one device of a domain back to libvirt). */
export function serialize(node: XmlElement): string {
  const inner = node.children.map(serialize).join('') + (node.text.trim() === '' ? '' : escapeXml(node.text.trim()));
  return el(node.name, node.attrs, inner === '' ? undefined : inner);
}
