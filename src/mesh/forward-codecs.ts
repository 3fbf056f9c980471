/** The methods that carry a forwarded HTTP request: the request and its answer, and the chunks of bodies too large for one message. */
/*
 * mesh/http-forward      { method, path, headers, via, body, upload } → { status, headers, body, download }
 * mesh/http-forward-chunk { id, size, offset, bytes } → (empty)    a part of a request body sent ahead
 * mesh/http-forward-pull  { id, offset } → { bytes }               a part of an answer's body
 * Bodies are bytes. A body larger than a chunk travels in chunks: the request's first parts ahead
 * of it (`upload` names them), the answer's first part in the answer (`download` names the rest).
 */
import c, { type Encoder } from 'compact-encoding';
import { FORWARD_METHOD, type HttpHeaders } from './http-forwarding.js';
import { bytes, compactCodec, memberKey, nullable, struct, type Codec, type MethodSpec } from './rpc-codecs.js';

/** A body sent or kept in chunks: its transfer id and its whole size. */
export interface TransferRef {
  id: number;
  size: number;
}

export interface ForwardMessage {
  method: string;
  path: string;
  headers: HttpHeaders;
  /** Hex keys of the nodes that forwarded it so far (the entry node first). */
  via: string[];
  /** The whole body, or its last part when `upload` names the parts sent ahead. */
  body: Buffer;
  upload: TransferRef | null;
}

export interface ForwardReplyMessage {
  status: number;
  headers: HttpHeaders;
  /** The whole body, or its first part when `download` names the rest. */
  body: Buffer;
  download: TransferRef | null;
}

export interface ChunkMessage {
  id: number;
  size: number;
  offset: number;
  bytes: Buffer;
}

export interface PullMessage {
  id: number;
  offset: number;
}

const MAX_VIA = 8;
const MAX_HEADERS = 1000;

/** Headers as a list of (name, values, whether the value was a list). */
const headers: Encoder<HttpHeaders> = (() => {
  const field = struct<{ name: string; list: boolean; values: string[] }>({ name: c.string, list: c.bool, values: c.array(c.string) });
  const fields = c.array(field);
  const toFields = (h: HttpHeaders) =>
    Object.entries(h).flatMap(([name, v]) =>
      typeof v === 'string' ? [{ name, list: false, values: [v] }] : Array.isArray(v) ? [{ name, list: true, values: v.map(String) }] : [],
    );
  return {
    preencode: (s, h) => fields.preencode(s, toFields(h)),
    encode: (s, h) => fields.encode(s, toFields(h)),
    decode: (s) => {
      const list = fields.decode(s);
      if (list.length > MAX_HEADERS) throw new Error('too many headers');
      const out: HttpHeaders = {};
      for (const f of list) {
        if (!f.list && f.values.length !== 1) throw new Error(`header ${f.name}: one value expected`);
        out[f.name] = f.list ? f.values : f.values[0]!;
      }
      return out;
    },
  };
})();

const transfer = nullable(struct<TransferRef>({ id: c.uint, size: c.uint }));

const forwardRequest = compactCodec(
  struct<ForwardMessage>({ method: c.string, path: c.string, headers, via: c.array(memberKey), body: bytes, upload: transfer }),
  'forwarded request',
  (m) => {
    if (!/^[A-Z]{1,16}$/.test(m.method)) return `method ${JSON.stringify(m.method.slice(0, 20))}`;
    if (!m.path.startsWith('/')) return 'path must start with /';
    if (m.via.length > MAX_VIA) return 'too many hops';
    if (m.upload && m.body.length > m.upload.size) return 'last part larger than the body';
    return null;
  },
);

const forwardReply = compactCodec(
  struct<ForwardReplyMessage>({ status: c.uint, headers, body: bytes, download: transfer }),
  'forwarded response',
  (m) => {
    if (m.status < 100 || m.status > 999) return `status ${m.status}`;
    if (m.download && (m.body.length === 0 || m.body.length >= m.download.size)) return 'first part does not fit the body';
    return null;
  },
);

/** No payload. */
const empty: Codec<null> = {
  encode: () => Buffer.alloc(0),
  decode: () => null,
};

export const FORWARD: MethodSpec<ForwardMessage, ForwardReplyMessage> = { name: FORWARD_METHOD, request: forwardRequest, reply: forwardReply };

export const FORWARD_CHUNK: MethodSpec<ChunkMessage, null> = {
  name: 'mesh/http-forward-chunk',
  request: compactCodec(struct<ChunkMessage>({ id: c.uint, size: c.uint, offset: c.uint, bytes }), 'body chunk', (m) =>
    m.bytes.length === 0 || m.offset + m.bytes.length > m.size ? 'chunk outside its body' : null,
  ),
  reply: empty,
};

export const FORWARD_PULL: MethodSpec<PullMessage, { bytes: Buffer }> = {
  name: 'mesh/http-forward-pull',
  request: compactCodec(struct<PullMessage>({ id: c.uint, offset: c.uint }), 'body pull'),
  reply: compactCodec(struct<{ bytes: Buffer }>({ bytes }), 'body part'),
};
