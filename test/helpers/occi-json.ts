/**
 * Every JSON document an OCCI answer carries, checked against GFD.226's own published schema
 * (vendor/occi/gfd226-schema.json) and against the project's schema, which must be at least as
 * strict. Importing this module hooks supertest: every answer any suite of the worker receives
 * through supertest is checked before the test sees it.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import Ajv04, { type ValidateFunction } from 'ajv-draft-04';
import { expect } from 'vitest';
import { type DocumentType, outputValidator } from '../../src/occi/json/schema.js';
import { standardRegistry } from '../../src/occi/occi-node.js';

const VENDOR = join(import.meta.dirname, '../../vendor/occi');

/** The appendix writes some references as `#definitions/x`; JSON pointers (draft-04 §7) need `#/definitions/x`. */
function withPointerRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withPointerRefs);
  if (typeof node !== 'object' || node === null) return node;
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' ? v.replace(/^#definitions\//, '#/definitions/') : withPointerRefs(v)]));
}

export const gfd226Schema = withPointerRefs(JSON.parse(readFileSync(join(VENDOR, 'gfd226-schema.json'), 'utf8'))) as { id: string };
const ajv = new Ajv04.default({ allErrors: true, strict: false });
ajv.addSchema(gfd226Schema as object);

/** A definition of GFD.226's schema (`resource`, `link_collection`…), or the whole schema (`''`: any OCCI document). */
export function gfd226(definition: string): ValidateFunction {
  const ref = definition === '' ? gfd226Schema.id : `${gfd226Schema.id}#/definitions/${definition}`;
  return ajv.getSchema(ref)!;
}

/** Which document a body is, by its shape: the project's schema definition and GFD.226's. */
export function documentType(doc: Record<string, unknown>): { ours: DocumentType; gfd226: string } {
  if ('error' in doc) return { ours: 'error', gfd226: '' };
  if ('kind' in doc) return 'source' in doc ? { ours: 'link', gfd226: 'link' } : { ours: 'resource', gfd226: 'resource' };
  if ('kinds' in doc || 'mixins' in doc || 'actions' in doc) return { ours: 'categories', gfd226: 'model' };
  const only = (key: string) => Object.keys(doc).length === 1 && key in doc;
  return { ours: 'collection', gfd226: only('resources') ? 'resource_collection' : only('links') ? 'link_collection' : 'model' };
}

/** Why a document the server emitted is not valid GFD.226 (or not valid for the project's schema); undefined when it is. */
export function schemaFault(doc: unknown): string | undefined {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return `not a JSON object: ${JSON.stringify(doc)}`;
  const type = documentType(doc as Record<string, unknown>);
  const faults: string[] = [];
  for (const [name, validate] of [[`GFD.226 ${type.gfd226 || 'schema'}`, gfd226(type.gfd226)], [`project ${type.ours}`, outputValidator(type.ours)]] as const) {
    if (!validate(doc)) faults.push(`${name}: ${ajv.errorsText(validate.errors)}`);
  }
  return faults.length ? `${faults.join('; ')} in ${JSON.stringify(doc).slice(0, 400)}` : undefined;
}

/** Asserts that a JSON body the server emitted validates against GFD.226's schema and the project's. */
export function expectValidOcciJson(body: unknown): void {
  expect(schemaFault(body)).toBeUndefined();
}

/** Paths whose JSON answers are not OCCI documents (the OpenAPI document, token and node administration). */
const NOT_OCCI = /^\/(openapi\.json|\.well-known\/discovery\/)/;

const registry = standardRegistry();

/** The location of an entity in a GFD.226 rendering (which carries none): its kind's location and its id. */
export function entityPath(doc: { kind: string; id: string }): string {
  return `${registry.kind(doc.kind)!.location}${doc.id}`;
}

interface HookedTest {
  url: string;
  assert(err: unknown, res: { headers: Record<string, string>; text: string } | undefined, fn: (err: unknown, res: unknown) => void): void;
}

const HOOKED = Symbol.for('discovery.occi-json-hook');
const Test = createRequire(import.meta.url)('supertest/lib/test.js') as { prototype: HookedTest & { [HOOKED]?: true } };
if (!Test.prototype[HOOKED]) {
  const original = Test.prototype.assert;
  Test.prototype[HOOKED] = true;
  Test.prototype.assert = function (this: HookedTest, err, res, fn) {
    const json = res && /json/.test(res.headers['content-type'] ?? '') && res.text && !NOT_OCCI.test(new URL(this.url).pathname);
    const fault = json ? schemaFault(JSON.parse(res.text)) : undefined;
    if (fault) return fn.call(this, new Error(`the server emitted an invalid OCCI JSON document: ${fault}`), res);
    return original.call(this, err, res, fn);
  };
}
