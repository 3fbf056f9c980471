/** The mesh's wire format: JSON envelopes `{ m: method, v: payload }`, call replies and coordinates. */
import { MeshError } from './errors.js';
import { isValidCoordinate, type Coordinate } from './vivaldi/coordinate.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A call or an event: the method name and its payload. */
export interface Envelope {
  m: string;
  v: JsonValue;
}

/** The answer to a call: the handler's value, or the code and message of its failure. */
export type Reply = { ok: true; v: JsonValue } | { ok: false; code: string; message: string };

export function encode(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

export function decode(raw: Buffer | null): JsonValue {
  if (!raw) throw MeshError.BAD_MESSAGE('empty message');
  try {
    return JSON.parse(raw.toString('utf8')) as JsonValue;
  } catch (err) {
    throw MeshError.BAD_MESSAGE('malformed JSON', err);
  }
}

/** The envelope in `raw`; BAD_MESSAGE when it is not JSON or not an object. */
export function decodeEnvelope(raw: Buffer | null): Envelope {
  const value = decode(raw);
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw MeshError.BAD_MESSAGE('not an envelope');
  return value as unknown as Envelope;
}

export function coordToJson(c: Coordinate): JsonValue {
  return { vec: [...c.vec], error: c.error, adjustment: c.adjustment, height: c.height };
}

export function coordFromJson(v: JsonValue | undefined): Coordinate | null {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
  const o = v as { vec?: unknown; error?: unknown; adjustment?: unknown; height?: unknown };
  if (!Array.isArray(o.vec) || !o.vec.every((x) => typeof x === 'number')) return null;
  const c: Coordinate = {
    vec: o.vec as number[],
    error: Number(o.error),
    adjustment: Number(o.adjustment),
    height: Number(o.height),
  };
  return isValidCoordinate(c) ? c : null;
}
