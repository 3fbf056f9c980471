import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AttributeValue } from '../../../src/occi/attribute.js';
import type { Mixin } from '../../../src/occi/category.js';
import { OcciError } from '../../../src/occi/errors.js';
import { jsonRendering } from '../../../src/occi/json/json-rendering.js';
import { standardRegistry } from '../../../src/occi/occi-node.js';
import type { EntityInput } from '../../../src/occi/request.js';
import type { EntityView } from '../../../src/occi/view.js';
import { renderAttribute } from '../../../src/occi/text/attribute-line.js';
import { parseCategory, renderCategory, renderCategoryShort } from '../../../src/occi/text/category-line.js';
import { bodyLines, type OcciLine } from '../../../src/occi/text/lexer.js';
import * as parse from '../../../src/occi/text/parse.js';
import { categoryLines, entityLines, locationLines } from '../../../src/occi/text/render.js';
import { textOcciRendering, textPlainRendering } from '../../../src/occi/text/text-rendering.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/text');
const files = (dir: string) => readdirSync(join(FIXTURES, dir)).filter((f) => f.endsWith('.txt')).sort();
const read = (dir: string, f: string) => readFileSync(join(FIXTURES, dir, f), 'utf8');
const asBody = (lines: OcciLine[]) => lines.map((l) => `${l.name}: ${l.value}\n`).join('');

const ID = '0b0d6d3a-3c1e-4f64-9a59-2b1b5f9b0b8e';

/** A view of what an entity input describes, as the service would hand it to a rendering. */
function viewOf(input: EntityInput, location = `/compute/${ID}`): EntityView {
  const kind = standardRegistry().kind(input.kind ?? 'http://schemas.ogf.org/occi/infrastructure#compute')!;
  const links = input.links.map((l, i) => viewOf({ ...l, attributes: { ...l.attributes, 'occi.core.source': location, 'occi.core.target': l.target! } }, `/storagelink/${i}`));
  return {
    entity: { id: String(input.attributes['occi.core.id'] ?? ID), kind: input.kind!, mixins: input.mixins, attributes: input.attributes as Record<string, AttributeValue>, owner: 'default' },
    location,
    kind,
    mixins: [],
    actions: [],
    links,
  };
}

/** What a rendered entity says again once parsed (links lose their id, which the server assigns). */
function reparsed(input: EntityInput): EntityInput {
  return parse.parseEntity(bodyLines(asBody(entityLines(viewOf(input), false))));
}

const parsers: Record<string, (lines: OcciLine[]) => unknown> = {
  entity: parse.parseEntity,
  action: parse.parseAction,
  mixins: parse.parseMixins,
  locations: parse.parseLocations,
  filter: parse.parseFilter,
};

/** Renders what a parser produced back to lines, with the rendering's own line renderers. */
const renderers: Record<string, (parsed: never) => OcciLine[]> = {
  entity: (input: EntityInput) => entityLines(viewOf(input), false),
  action: (a: { action?: string; attributes: Record<string, AttributeValue> }) => [
    ...(a.action ? [{ name: 'Category' as const, value: renderCategoryShort(a.action, 'action') }] : []),
    ...Object.entries(a.attributes).map(([k, v]) => ({ name: 'X-OCCI-Attribute' as const, value: renderAttribute(k, v, false) })),
  ],
  mixins: (ms: Array<{ term: string; scheme: string; title?: string; depends: string[]; location?: string }>) =>
    categoryLines(ms.map((m) => ({ class: 'mixin', term: m.term, scheme: m.scheme, title: m.title, depends: m.depends, applies: [], location: m.location, actions: [], attributes: [] }) as Mixin), false),
  locations: (l: { locations: string[] }) => locationLines(l.locations.map((location) => ({ location }) as EntityView), undefined),
  filter: (f: { categories: string[]; attributes: Record<string, string> }) => [
    ...f.categories.map((c) => ({ name: 'Category' as const, value: renderCategoryShort(c, 'kind') })),
    ...Object.entries(f.attributes).map(([k, v]) => ({ name: 'X-OCCI-Attribute' as const, value: renderAttribute(k, v, false) })),
  ],
};

describe('valid fixtures: parse → render → parse', () => {
  it.each(files('valid'))('%s', (f) => {
    const kind = f.slice(0, f.indexOf('-'));
    const first = parsers[kind]!(bodyLines(read('valid', f)));
    const rendered = renderers[kind]!(first as never);
    expect(parsers[kind]!(bodyLines(asBody(rendered)))).toEqual(first);
  });
});

describe('invalid fixtures: a 400 that names the fault', () => {
  it.each(files('invalid'))('%s', (f) => {
    const text = read('invalid', f);
    const fault = /^# fault: (.*)$/m.exec(text)![1]!;
    const kind = f.slice(0, f.indexOf('-'));
    let error: unknown;
    try {
      parsers[kind]!(bodyLines(text));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(OcciError);
    expect((error as OcciError).code).toBe('MALFORMED_BODY');
    expect((error as OcciError).message).toContain(fault);
  });
});

describe('the model rendered as categories', () => {
  const all = standardRegistry().all();

  it.each(all.map((c) => [c.scheme + c.term, c] as const))('%s parses back to itself', (_id, c) => {
    const ref = parseCategory(renderCategory(c, false));
    expect(ref).toMatchObject({ term: c.term, scheme: c.scheme, class: c.class, title: c.title });
    expect(ref.attributes.map((a) => a.replace(/\{.*$/, ''))).toEqual(c.attributes.map((a) => a.name));
    if (c.class !== 'action') {
      expect(ref.location).toBe(c.location);
      expect(ref.actions).toEqual(c.actions);
      expect(ref.rel).toEqual(c.class === 'kind' ? (c.parent ? [c.parent] : []) : c.depends);
    }
  });

  it('renders the exact form clients match: term, scheme, class, title, rel, location, attributes, actions', () => {
    const compute = all.find((c) => c.term === 'compute')!;
    const line = renderCategory(compute, false);
    expect(line).toMatch(/^compute;scheme="http:\/\/schemas\.ogf\.org\/occi\/infrastructure#";class="kind";title="Compute Resource";rel="http:\/\/schemas\.ogf\.org\/occi\/core#resource";location="\/compute\/";attributes="[^"]*occi\.compute\.state\{immutable required\}[^"]*";actions="[^"]*#stop[^"]*"$/);
    expect(renderCategory(all.find((c) => c.term === 'entity')!, false)).toContain('attributes="occi.core.id{immutable required} occi.core.title"');
  });

  it('text/occi escapes what a header cannot carry and parses it back', () => {
    const title = 'Überraschung ✓ "quoted"\nnext line';
    const mixin = { class: 'mixin', term: 'x', scheme: 'http://example.com/t#', title, depends: [], applies: [], actions: [], attributes: [], location: '/x/' } as Mixin;
    const rendered = textOcciRendering.categories([mixin]);
    const header = rendered.headers!['Category'] as string;
    expect(header).toMatch(/^[\x20-\x7e]*$/);
    expect(parseCategory(header).title).toBe(title);
  });
});

describe('text and JSON renderings of the same entity say the same thing', () => {
  const compute: EntityInput = {
    kind: 'http://schemas.ogf.org/occi/infrastructure#compute',
    mixins: ['http://schemas.discovery-cloud.org/occi/resource_tpl#small'],
    attributes: { 'occi.core.id': ID, 'occi.core.title': 'web, "one"', 'occi.core.summary': 'a; summary', 'occi.compute.cores': 2, 'occi.compute.memory': 1.5, 'occi.compute.state': 'active' },
    links: [
      {
        kind: 'http://schemas.ogf.org/occi/infrastructure#storagelink',
        mixins: [],
        attributes: { 'occi.core.id': '5f9b0b8e-3c1e-4f64-9a59-2b1b0d6d3a01', 'occi.storagelink.deviceid': '/dev/vdb', 'occi.storagelink.state': 'active' },
        links: [],
        target: '/storage/1b5f9b0b-3c1e-4f64-9a59-2b1b0d6d3a01',
      },
    ],
  };

  it('resource with a link', () => {
    const view = viewOf(compute);
    const fromJson = jsonRendering.parseEntity({ body: jsonRendering.entity(view).body, headers: {} });
    for (const rendering of [textPlainRendering, textOcciRendering]) {
      const rendered = rendering.entity(view);
      const headers = Object.fromEntries(Object.entries(rendered.headers ?? {}).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(', ') : v]));
      const fromText = rendering.parseEntity({ body: rendered.body, headers });
      expect(fromText.kind).toBe(fromJson.kind);
      expect(fromText.mixins).toEqual(fromJson.mixins);
      expect(fromText.attributes).toEqual(fromJson.attributes);
      expect(fromText.links.map((l) => ({ kind: l.kind, attributes: l.attributes, target: l.target }))).toEqual(
        fromJson.links.map((l) => ({ kind: l.kind, attributes: l.attributes, target: l.target })),
      );
    }
  });

  it('a rendered entity parses back to the same input', () => {
    expect(reparsed(compute)).toEqual(compute);
  });
});

describe('OCCI 1.1 ids', () => {
  it('a non-UUID occi.core.id becomes the same name-based UUID every time', () => {
    const body = 'Category: compute;scheme="http://schemas.ogf.org/occi/infrastructure#";class="kind"\nX-OCCI-Attribute: occi.core.id="Compute_1700000000"\n';
    const a = parse.parseEntity(bodyLines(body)).attributes['occi.core.id'];
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parse.parseEntity(bodyLines(body)).attributes['occi.core.id']).toBe(a);
  });
});
