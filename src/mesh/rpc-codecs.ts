/** How each mesh method's payloads travel: a codec per method, compact-encoding structs or JSON checked by a JSON schema. */
/*
 * A method is a name (protomux-rpc routes on it) and the codecs of its request and its reply.
 * Decoding validates: bytes that do not decode, or decode to a value out of range or against
 * the method's schema, throw BAD_MESSAGE, which the server answers as an error.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import c, { type Encoder } from 'compact-encoding';
import { MeshError } from './errors.js';
import { isValidCoordinate, type Coordinate } from './vivaldi/coordinate.js';
import type { JsonValue } from './wire.js';

export type EncodingState = Parameters<Encoder['encode']>[0];

/** Bytes to a value and back; `decode` throws BAD_MESSAGE on anything malformed. */
export interface Codec<T> {
  encode(value: T): Buffer;
  decode(raw: Buffer): T;
}

/** A mesh method: its name and the codecs of its request and reply. */
export interface MethodSpec<Req, Res> {
  name: string;
  request: Codec<Req>;
  reply: Codec<Res>;
}

/** A codec from a compact encoding; `check` refuses decoded values out of range. */
export function compactCodec<T>(enc: Encoder<T>, what: string, check?: (value: T) => string | null): Codec<T> {
  return {
    encode: (value) => toBuffer(c.encode(enc, value)),
    decode: (raw) => {
      let value: T;
      try {
        const state = c.state(0, raw.length, raw);
        value = enc.decode(state);
        if (state.start !== state.end) throw new Error(`${state.end - state.start} trailing bytes`);
      } catch (err) {
        throw MeshError.BAD_MESSAGE(`malformed ${what}: ${(err as Error).message}`, err);
      }
      const problem = check?.(value) ?? null;
      if (problem) throw MeshError.BAD_MESSAGE(`malformed ${what}: ${problem}`);
      return value;
    },
  };
}

const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true });

/** JSON payloads (UTF-8 text), checked against `schema` when one is given. */
export function jsonCodec(what: string, schema?: object): Codec<JsonValue> {
  const validate: ValidateFunction | null = schema ? ajv.compile(schema) : null;
  return {
    encode: (value) => Buffer.from(JSON.stringify(value ?? null)),
    decode: (raw) => {
      let value: JsonValue;
      try {
        value = JSON.parse(raw.toString('utf8')) as JsonValue;
      } catch (err) {
        throw MeshError.BAD_MESSAGE(`malformed ${what}: not JSON`, err);
      }
      if (validate && !validate(value)) throw MeshError.BAD_MESSAGE(`malformed ${what}: ${ajv.errorsText(validate.errors, { dataVar: 'payload' })}`);
      return value;
    },
  };
}

/** A method whose request and reply are JSON, the request checked against `schema`. */
export function jsonMethod(name: string, schema?: object): MethodSpec<JsonValue, JsonValue> {
  return { name, request: jsonCodec(`${name} request`, schema), reply: jsonCodec(`${name} reply`) };
}

/** A Buffer over the same bytes (no copy). */
export function toBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** A struct codec from its fields' codecs, in order. */
export function struct<T extends object>(fields: { [K in keyof T]: Encoder<T[K]> }): Encoder<T> {
  const entries = Object.entries(fields) as Array<[keyof T, Encoder<unknown>]>;
  return {
    preencode: (s, v) => entries.forEach(([k, e]) => e.preencode(s, v[k])),
    encode: (s, v) => entries.forEach(([k, e]) => e.encode(s, v[k])),
    decode: (s) => Object.fromEntries(entries.map(([k, e]) => [k, e.decode(s)])) as T,
  };
}

/** `null` as a 0 flag, anything else as 1 then the value. */
export function nullable<T>(enc: Encoder<T>): Encoder<T | null> {
  return {
    preencode: (s, v) => {
      c.uint8.preencode(s, 0);
      if (v !== null) enc.preencode(s, v);
    },
    encode: (s, v) => {
      c.uint8.encode(s, v === null ? 0 : 1);
      if (v !== null) enc.encode(s, v);
    },
    decode: (s) => {
      const flag = c.uint8.decode(s);
      if (flag > 1) throw new Error('bad optional flag');
      return flag === 1 ? enc.decode(s) : null;
    },
  };
}

/** Bytes as a Buffer over the message (no copy). */
export const bytes: Encoder<Buffer> = {
  preencode: (s, v) => c.buffer.preencode(s, v),
  encode: (s, v) => c.buffer.encode(s, v),
  decode: (s) => toBuffer(c.buffer.decode(s) ?? new Uint8Array(0)),
};

/** A member key: 32 bytes on the wire, lower-case hex in memory. */
export const memberKey = c.hex.fixed(32) as Encoder<string>;

const MAX_DIMENSIONS = 64;
const floats = c.array(c.float64);

/** A Vivaldi coordinate; a non-finite one, or one of too many dimensions, does not decode. */
export const coordinate: Encoder<Coordinate> = {
  preencode: (s, v) => {
    floats.preencode(s, [...v.vec]);
    for (let i = 0; i < 3; i++) c.float64.preencode(s, 0);
  },
  encode: (s, v) => {
    floats.encode(s, [...v.vec]);
    c.float64.encode(s, v.error);
    c.float64.encode(s, v.adjustment);
    c.float64.encode(s, v.height);
  },
  decode: (s) => {
    const vec = floats.decode(s);
    if (vec.length > MAX_DIMENSIONS) throw new Error('coordinate of too many dimensions');
    const v: Coordinate = { vec, error: c.float64.decode(s), adjustment: c.float64.decode(s), height: c.float64.decode(s) };
    if (!isValidCoordinate(v)) throw new Error('non-finite coordinate');
    return v;
  },
};

/** The JSON schema of an object with these properties (others allowed), every one required but the `optional` ones. */
export function objectSchema(properties: Record<string, object>, optional: readonly string[] = []): object {
  return { type: 'object', required: Object.keys(properties).filter((k) => !optional.includes(k)), properties };
}

export const STRING = { type: 'string' };
export const STRINGS = { type: 'array', items: STRING };
export const NUMBER = { type: 'number' };
