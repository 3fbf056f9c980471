/**
 * Forwarding primitives for the HTTP layer: an HTTP request/response as
 * plain serialisable data, and its transport over the mesh RPC.
 *
 * Usage (HTTP owner):
 *   mesh.serveForwarded(async (req, fromKey) => handleLocally(req));
 *   const res = await mesh.forward(targetKey, toForwarded(httpReq, body), { timeoutMs: 5000 });
 *   // on MeshError: reply forwardErrorStatus(err) (503 / 504 / 413 / 502)
 */
import { MeshError } from './errors.js';
import type { JsonValue } from './wire.js';

export const FORWARD_METHOD = 'mesh/http-forward';
export const DEFAULT_FORWARD_TIMEOUT_MS = 10_000;
/** A forwarded request is never forwarded further than this (loop guard). */
export const MAX_FORWARD_HOPS = 2;

export type HttpHeaders = Record<string, string | string[]>;

export interface ForwardedRequest {
  method: string;
  /** Path and query, e.g. `/compute/42?x=1`. */
  path: string;
  headers: HttpHeaders;
  body: Buffer;
  /** Hex keys of the nodes that forwarded it so far (the entry node first). */
  via?: string[];
}

export interface ForwardedResponse {
  status: number;
  headers: HttpHeaders;
  body: Buffer;
}

export type ForwardHandler = (req: ForwardedRequest, fromKey: string) => Promise<ForwardedResponse> | ForwardedResponse;

/** Headers that describe one hop and must not be forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
]);

export function stripHopByHop(headers: HttpHeaders): HttpHeaders {
  const out: HttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (!HOP_BY_HOP.has(k.toLowerCase())) out[k.toLowerCase()] = v;
  return out;
}

/** Idempotent HTTP methods (RFC 9110 §9.2.2): safe to retry after a lost connection. */
export function isIdempotentMethod(method: string): boolean {
  return ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'].includes(method.toUpperCase());
}

export function encodeRequest(req: ForwardedRequest): JsonValue {
  return {
    method: req.method,
    path: req.path,
    headers: stripHopByHop(req.headers),
    body: req.body.toString('base64'),
    via: req.via ?? [],
  };
}

export function decodeRequest(v: JsonValue): ForwardedRequest {
  const o = v as { method?: unknown; path?: unknown; headers?: unknown; body?: unknown; via?: unknown } | null;
  if (!o || typeof o.method !== 'string' || typeof o.path !== 'string' || typeof o.body !== 'string') {
    throw MeshError.BAD_MESSAGE('malformed forwarded request');
  }
  return {
    method: o.method,
    path: o.path,
    headers: sanitizeHeaders(o.headers),
    body: Buffer.from(o.body, 'base64'),
    via: Array.isArray(o.via) ? o.via.filter((x): x is string => typeof x === 'string') : [],
  };
}

/** The mesh handler of FORWARD_METHOD: serves forwarded requests with `handler`, refusing loops. */
export function forwardedRequestHandler(handler: ForwardHandler): (payload: JsonValue, fromKey: string) => Promise<JsonValue> {
  return async (payload, fromKey) => {
    const req = decodeRequest(payload);
    if ((req.via?.length ?? 0) > MAX_FORWARD_HOPS) {
      throw Object.assign(new Error(`forwarded more than ${MAX_FORWARD_HOPS} times`), { code: 'LOOP' });
    }
    return encodeResponse(await handler(req, fromKey));
  };
}

export function encodeResponse(res: ForwardedResponse): JsonValue {
  return { status: res.status, headers: stripHopByHop(res.headers), body: res.body.toString('base64') };
}

export function decodeResponse(v: JsonValue): ForwardedResponse {
  const o = v as { status?: unknown; headers?: unknown; body?: unknown } | null;
  if (!o || typeof o.status !== 'number' || typeof o.body !== 'string') {
    throw MeshError.BAD_MESSAGE('malformed forwarded response');
  }
  return { status: o.status, headers: sanitizeHeaders(o.headers), body: Buffer.from(o.body, 'base64') };
}

function sanitizeHeaders(h: unknown): HttpHeaders {
  const out: HttpHeaders = {};
  if (!h || typeof h !== 'object') return out;
  for (const [k, v] of Object.entries(h as Record<string, unknown>)) {
    if (typeof v === 'string') out[k] = v;
    else if (Array.isArray(v)) out[k] = v.filter((x): x is string => typeof x === 'string');
  }
  return out;
}

/**
 * HTTP status for a failed forward: 504 when the target did not answer in
 * time, 503 when it is gone or unreachable, 413 for an oversized message,
 * 502 otherwise (the target failed to produce a response).
 */
export function forwardErrorStatus(err: unknown): 502 | 503 | 504 | 413 {
  if (!(err instanceof MeshError)) return 502;
  switch (err.code) {
    case 'TIMEOUT':
      return 504;
    case 'UNREACHABLE':
    case 'NOT_MEMBER':
    case 'CLOSED':
    case 'UNAUTHORIZED':
      return 503;
    case 'TOO_LARGE':
      return 413;
    default:
      return 502;
  }
}
