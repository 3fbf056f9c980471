import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
/** The GFD.226 JSON schema this node renders to and parses from. */
export const occiJsonSchema = require('./occi-json.schema.json') as { $id: string; definitions: Record<string, { required?: string[] }> };

export type DocumentType =
  | 'resource'
  | 'link'
  | 'collection'
  | 'categories'
  | 'kind'
  | 'mixin'
  | 'action'
  | 'actionInvocation'
  | 'locations'
  | 'error';

const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true });
addFormats.default(ajv);
ajv.addSchema(occiJsonSchema);

const outputs = new Map<DocumentType, ValidateFunction>();

/** Validator of a document the server emits (all of GFD.226's required members). */
export function outputValidator(type: DocumentType): ValidateFunction {
  let v = outputs.get(type);
  if (!v) {
    v = ajv.compile({ $ref: `${occiJsonSchema.$id}#/definitions/${type}` });
    outputs.set(type, v);
  }
  return v;
}

/** Input documents may leave out what the server assigns: ids, kinds given by the collection, a user mixin's location. */
const inputAjv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true });
const inputSchema = structuredClone(occiJsonSchema);
inputSchema.$id = `${occiJsonSchema.$id}/input`;
for (const name of ['resource', 'link']) delete inputSchema.definitions[name]!.required;
inputSchema.definitions['mixin']!.required = ['term', 'scheme'];
inputAjv.addSchema(inputSchema);

const inputs = new Map<DocumentType, ValidateFunction>();

export function inputValidator(type: DocumentType): ValidateFunction {
  let v = inputs.get(type);
  if (!v) {
    v = inputAjv.compile({ $ref: `${inputSchema.$id}#/definitions/${type}` });
    inputs.set(type, v);
  }
  return v;
}

/** A short human sentence for the first schema error. */
export function describeSchemaError(errors: ErrorObject[] | null | undefined): string {
  const e = errors?.[0];
  if (!e) return 'invalid document';
  const where = e.instancePath === '' ? 'the document' : e.instancePath.replace(/^\//, '').replaceAll('/', '.');
  if (e.keyword === 'additionalProperties') return `${where} has an unknown member ${JSON.stringify((e.params as { additionalProperty: string }).additionalProperty)}`;
  return `${where} ${e.message ?? 'is invalid'}`;
}
