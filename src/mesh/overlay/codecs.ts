/**
 * Compact encodings of the overlay's messages: one codec per message type, which is also the
 * method name the message travels under (protomux-rpc's own routing). Decoding validates: a
 * message that does not decode, or decodes to a value out of range, is refused.
 */
import c, { type Encoder } from 'compact-encoding';
import type { Coordinate } from '../vivaldi/coordinate.js';
import type { JsonValue } from '../wire.js';
import type { DirectoryRecord, Liveness, MemberInfo, MessageType, OverlayMessage, Update } from './types.js';

type State = Parameters<Encoder['encode']>[0];

/** A struct codec from its fields' codecs, in order. */
function struct<T extends object>(fields: { [K in keyof T]: Encoder<T[K]> }): Encoder<T> {
  const entries = Object.entries(fields) as Array<[keyof T, Encoder<unknown>]>;
  return {
    preencode: (s, v) => entries.forEach(([k, e]) => e.preencode(s, v[k])),
    encode: (s, v) => entries.forEach(([k, e]) => e.encode(s, v[k])),
    decode: (s) => Object.fromEntries(entries.map(([k, e]) => [k, e.decode(s)])) as T,
  };
}

/** `null`/`undefined` as a 0 flag, anything else as 1 then the value. */
function optional<T>(enc: Encoder<T>): Encoder<T | null | undefined, T | null> {
  return {
    preencode: (s, v) => {
      c.uint8.preencode(s, 0);
      if (v !== null && v !== undefined) enc.preencode(s, v);
    },
    encode: (s, v) => {
      const has = v !== null && v !== undefined;
      c.uint8.encode(s, has ? 1 : 0);
      if (has) enc.encode(s, v);
    },
    decode: (s) => {
      const flag = c.uint8.decode(s);
      if (flag > 1) throw new Error('bad optional flag');
      return flag === 1 ? enc.decode(s) : null;
    },
  };
}

/** A member key: 32 bytes on the wire, lower-case hex in memory. */
export const key = c.hex.fixed(32) as Encoder<string>;

const floats = c.array(c.float64);
const coordinate: Encoder<Coordinate> = sizedOnce({
  preencode: (s, v) => {
    floats.preencode(s, v.vec as number[]);
    c.float64.preencode(s, 0);
    c.float64.preencode(s, 0);
    c.float64.preencode(s, 0);
  },
  encode: (s, v) => {
    floats.encode(s, v.vec as number[]);
    c.float64.encode(s, v.error);
    c.float64.encode(s, v.adjustment);
    c.float64.encode(s, v.height);
  },
  decode: (s) => {
    const vec = floats.decode(s);
    if (vec.length > 64) throw new Error('coordinate too long');
    const v = { vec, error: c.float64.decode(s), adjustment: c.float64.decode(s), height: c.float64.decode(s) };
    if (![...vec, v.error, v.adjustment, v.height].every(Number.isFinite)) throw new Error('non-finite coordinate');
    return v;
  },
});

const jsonValue = c.json as Encoder<JsonValue>;

/**
 * The encoded size of an object measured once: a member's info and coordinate travel in many
 * messages, unchanged (a change replaces the object), and measuring info means JSON-stringifying
 * its capacity.
 */
function sizedOnce<T extends object>(enc: Encoder<T>): Encoder<T> {
  const sizes = new WeakMap<T, number>();
  return {
    preencode: (s, v) => {
      let size = sizes.get(v);
      if (size === undefined) {
        const own = c.state();
        enc.preencode(own, v);
        sizes.set(v, (size = own.end));
      }
      s.end += size;
    },
    encode: enc.encode,
    decode: enc.decode,
  };
}

const info: Encoder<MemberInfo> = sizedOnce(
  struct<MemberInfo>({
    name: c.string,
    httpAddress: optional(c.string) as Encoder<string | null>,
    site: optional(c.string) as Encoder<string | null>,
    capacity: jsonValue,
    seq: c.uint,
  }),
);

const LIVENESS: readonly Liveness[] = ['alive', 'suspect', 'dead', 'left'];
const liveness: Encoder<Liveness> = {
  preencode: (s) => c.uint8.preencode(s, 0),
  encode: (s, v) => c.uint8.encode(s, LIVENESS.indexOf(v)),
  decode: (s) => {
    const v = LIVENESS[c.uint8.decode(s)];
    if (!v) throw new Error('bad liveness');
    return v;
  },
};

const optionalKey = optional(key);
const optionalInfo = optional(info);
const optionalCoordinate = optional(coordinate);

const update: Encoder<Update> = {
  preencode: (s, u) => encodeUpdate(s, u, 'preencode'),
  encode: (s, u) => encodeUpdate(s, u, 'encode'),
  decode: (s) => {
    const u: Update = { key: key.decode(s), s: liveness.decode(s), inc: c.uint.decode(s) };
    const by = optionalKey.decode(s);
    const i = optionalInfo.decode(s);
    const co = optionalCoordinate.decode(s);
    if (by) u.by = by;
    if (i) u.info = i;
    if (co) u.c = co;
    return u;
  },
};

function encodeUpdate(s: State, u: Update, op: 'preencode' | 'encode'): void {
  key[op](s, u.key);
  liveness[op](s, u.s);
  c.uint[op](s, u.inc);
  optionalKey[op](s, u.by);
  optionalInfo[op](s, u.info);
  optionalCoordinate[op](s, u.c);
}

const updates = c.array(update);
const record = struct<DirectoryRecord>({ key: c.string, by: key, value: c.string, ttl: c.uint });
const records = c.array(record);
const maybeCoordinate = optionalCoordinate as Encoder<Coordinate | null>;

/** The body codec of each message type (the `t` field is the method, not part of the body). */
const BODIES: { [T in MessageType]: Encoder<Omit<Extract<OverlayMessage, { t: T }>, 't'>> } = {
  ping: struct({ seq: c.uint, inc: c.uint, c: maybeCoordinate, g: updates }),
  ack: struct({ seq: c.uint, inc: c.uint, c: maybeCoordinate, g: updates }),
  'ping-req': struct({ seq: c.uint, target: key, g: updates }),
  nack: struct({ seq: c.uint, tried: c.bool, g: updates }),
  sync: struct({ reply: c.bool, join: c.bool, members: updates }),
  view: struct({ want: c.bool, busy: c.bool, bye: c.bool, neighbours: c.array(key) }),
  put: struct({ qid: c.uint, hops: c.uint, records }),
  find: struct({ qid: c.uint, hops: c.uint, key: c.string, after: c.string, limit: c.uint }),
  found: struct({ qid: c.uint, hops: c.uint, ok: c.bool, more: c.bool, records }),
  near: struct({ qid: c.uint, c: coordinate, n: c.uint }),
  'near-found': struct({ qid: c.uint, members: updates }),
};

/** The message types, which are the overlay's method names. */
export const MESSAGE_TYPES = Object.keys(BODIES) as MessageType[];

export function encodeMessage(m: OverlayMessage): Uint8Array {
  const { t, ...body } = m;
  return c.encode(BODIES[t] as Encoder<typeof body>, body);
}

/** Decodes the body of a message of type `t`; throws when it is malformed. */
export function decodeMessage(t: MessageType, raw: Uint8Array): OverlayMessage {
  return { t, ...(c.decode(BODIES[t] as Encoder<object>, raw) as object) } as OverlayMessage;
}

/** Bytes of a message on the wire (its body plus the method name and a request id, as protomux-rpc frames it). */
export function messageBytes(m: OverlayMessage): number {
  const { t, ...body } = m;
  const state = c.state();
  (BODIES[t] as Encoder<typeof body>).preencode(state, body);
  return state.end + t.length + 3;
}
