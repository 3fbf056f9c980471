/**
 * Every answer a suite receives, checked against openapi/occi.yaml: the status must be declared
 * for the path and method (a method the path does not declare must be answered 405), and a body's
 * media type must be one the declared response lists. Importing this module hooks supertest and
 * wraps `fetch`, for the requests sent to a node on loopback; a mismatch fails the request, so the
 * test that sent it fails.
 */
import { createRequire } from 'node:module';
import type { Operation } from 'openapi-backend';
import { createOpenApiBackend } from '../../src/http/openapi-router.js';

/** Answers written before a request reaches routing (authentication, limits, the OCCI version check, the body's charset and encoding, the transport): valid for any path and method. */
const BEFORE_ROUTING = new Set([400, 401, 408, 413, 415, 429, 431, 501, 503]);

const api = await createOpenApiBackend();

/** Why an answer does not agree with the document; undefined when it does. */
export function openApiFault(method: string, url: string, status: number, contentType: string | undefined): string | undefined {
  const { pathname, host } = new URL(url);
  if (!/^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(host)) return undefined;
  const m = method.toUpperCase() === 'HEAD' ? 'get' : method.toLowerCase();
  let op: Operation | undefined;
  try {
    op = api.router.matchOperation({ method: m, path: pathname, headers: {}, query: {} }, true) as Operation;
  } catch (err) {
    const why = String((err as Error).message);
    if (why.startsWith('404')) return undefined; // a path the document does not have: nothing to check against
    if (status === 405 || BEFORE_ROUTING.has(status)) return undefined;
    return `${method} ${pathname}: the document declares no ${method} here, so the answer must be 405, not ${status}`;
  }
  const responses = (op.responses ?? {}) as Record<string, { content?: Record<string, unknown>; $ref?: string }>;
  const declared = responses[String(status)] ?? responses['default'];
  if (!declared && BEFORE_ROUTING.has(status)) return undefined;
  if (!declared) return `${method} ${pathname} (${op.operationId}): status ${status} is not declared`;
  const media = contentType?.split(';')[0]!.trim().toLowerCase();
  if (!media) return undefined;
  const types = Object.keys(declared.content ?? {});
  if (!types.includes(media)) return `${method} ${pathname} (${op.operationId}): ${status} in ${media}, not among the declared ${types.join(', ') || '(no body)'}`;
  return undefined;
}

interface HookedTest {
  url: string;
  method: string;
  assert(err: unknown, res: { status: number; headers: Record<string, string> } | undefined, fn: (err: unknown, res: unknown) => void): void;
}

const HOOKED = Symbol.for('discovery.openapi-conformance-hook');
const Test = createRequire(import.meta.url)('supertest/lib/test.js') as { prototype: HookedTest & { [HOOKED]?: true } };
if (!Test.prototype[HOOKED]) {
  const original = Test.prototype.assert;
  Test.prototype[HOOKED] = true;
  Test.prototype.assert = function (this: HookedTest, err, res, fn) {
    const fault = res ? openApiFault(this.method, this.url, res.status, res.headers['content-type']) : undefined;
    if (fault) return fn.call(this, new Error(`the answer disagrees with openapi/occi.yaml: ${fault}`), res);
    return original.call(this, err, res, fn);
  };
  const fetched = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const res = await fetched(input, init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    const fault = openApiFault(method, url, res.status, res.headers.get('content-type') ?? undefined);
    if (fault) throw new Error(`the answer disagrees with openapi/occi.yaml: ${fault}`);
    return res;
  };
}
