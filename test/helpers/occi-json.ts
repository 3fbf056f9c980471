import { expect } from 'vitest';
import { type DocumentType, outputValidator } from '../../src/occi/json/schema.js';

/** Which GFD.226 document a body is, by its shape. */
export function documentType(doc: Record<string, unknown>): DocumentType {
  if ('error' in doc) return 'error';
  if ('kind' in doc) return 'source' in doc ? 'link' : 'resource';
  if ('kinds' in doc || 'mixins' in doc || 'actions' in doc) return 'categories';
  return 'collection';
}

/** Asserts that a JSON body the server emitted validates against the GFD.226 schema. */
export function expectValidOcciJson(body: unknown): void {
  expect(typeof body).toBe('object');
  const doc = body as Record<string, unknown>;
  const validate = outputValidator(documentType(doc));
  const ok = validate(doc);
  expect(ok ? [] : validate.errors, `schema errors in ${JSON.stringify(doc).slice(0, 300)}`).toEqual([]);
}
