import { OcciError } from './errors.js';

/** The value types of GFD.221 attributes, with `integer` as a refinement of number. */
export type AttributeType = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array';

export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [key: string]: AttributeValue };

export interface AttributeDefinition {
  readonly name: string;
  readonly type: AttributeType;
  readonly mutable: boolean;
  readonly required: boolean;
  readonly default?: AttributeValue;
  /** A regular expression that string values must match entirely. */
  readonly pattern?: string;
  /** The closed set of allowed values (GFD.224 enumerations). */
  readonly enum?: readonly string[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly description?: string;
}

type Definition = Omit<AttributeDefinition, 'name' | 'mutable' | 'required'> & {
  mutable?: boolean;
  required?: boolean;
};

/** Attribute definition with the GFD.221 defaults: mutable, optional. */
export function attribute(name: string, definition: Definition): AttributeDefinition {
  return { name, mutable: true, required: false, ...definition };
}

const patternCache = new Map<string, RegExp>();

function anchored(pattern: string): RegExp {
  let re = patternCache.get(pattern);
  if (!re) {
    re = new RegExp(`^(?:${pattern})$`, 'u');
    patternCache.set(pattern, re);
  }
  return re;
}

/**
 * Checks a value against its definition and returns it in canonical form (numbers given as
 * numeric strings by text renderings are accepted for numeric attributes).
 */
export function checkAttributeValue(def: AttributeDefinition, value: unknown): AttributeValue {
  const fail = (why: string): never => {
    throw OcciError.invalidAttribute(def.name, why);
  };
  switch (def.type) {
    case 'string': {
      if (typeof value !== 'string') fail(`expected a string, got ${describe(value)}`);
      const s = value as string;
      if (def.enum && !def.enum.includes(s)) fail(`must be one of ${def.enum.join(', ')}`);
      if (def.pattern && !anchored(def.pattern).test(s)) fail(`does not match the pattern ${def.pattern}`);
      return s;
    }
    case 'number':
    case 'integer': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isFinite(n)) fail(`expected a number, got ${describe(value)}`);
      const num = n as number;
      if (def.type === 'integer' && !Number.isInteger(num)) fail(`expected an integer, got ${num}`);
      if (def.minimum !== undefined && num < def.minimum) fail(`must be at least ${def.minimum}`);
      if (def.maximum !== undefined && num > def.maximum) fail(`must be at most ${def.maximum}`);
      return num;
    }
    case 'boolean': {
      if (value === 'true') return true;
      if (value === 'false') return false;
      if (typeof value !== 'boolean') fail(`expected a boolean, got ${describe(value)}`);
      return value as boolean;
    }
    case 'array':
      if (!Array.isArray(value)) fail(`expected an array, got ${describe(value)}`);
      return value as AttributeValue[];
    case 'object':
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`expected an object, got ${describe(value)}`);
      return value as { [key: string]: AttributeValue };
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return `a ${typeof value}`;
}
