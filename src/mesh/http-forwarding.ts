/**
 * Forwarding primitives for the HTTP layer: an HTTP request/response as plain data (its
 * transport over the mesh: forwarding.ts).
 *
 * Usage (HTTP owner):
 *   mesh.serveForwarded(async (req, fromKey) => handleLocally(req));
 *   const res = await mesh.forward(targetKey, toForwarded(httpReq, body), { timeoutMs: 5000 });
 *   // on MeshError: reply forwardErrorStatus(err) (503 / 504 / 413 / 502)
 */
import { MeshError } from './errors.js';

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
