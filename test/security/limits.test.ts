import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AttributePatch, StateOnlyBackend } from '../../src/occi/backend.js';
import type { Entity } from '../../src/occi/entity.js';
import { DEFAULT_ATTRIBUTES, DEFAULT_LINKS, DEFAULT_MIXINS } from '../../src/http/limits.js';
import { DEFAULT_FAILURE_BURST, DEFAULT_FAILURES_PER_SECOND, TokenBuckets } from '../../src/http/rate-limit.js';
import { COMPUTE, NETWORK, NETWORKINTERFACE, OCCI_JSON, SMALL } from '../helpers/node.js';
import { call, rawExchange, type LimitedNode, startLimitedNode } from './limit-helpers.js';

const json = (body: unknown) => ({ method: 'POST', headers: { 'Content-Type': OCCI_JSON }, body: JSON.stringify(body) });
const errorOf = (body: string) => (JSON.parse(body) as { error: { status: number; code: string; message: string } }).error;

/** A compute titled `slow` is created only once the test lets it: a handler that takes too long. */
let release: () => void = () => undefined;
const gate = new Promise<void>((r) => (release = r));
class SlowBackend extends StateOnlyBackend {
  override async created(entity?: Entity): Promise<AttributePatch> {
    if (entity?.attributes['occi.core.title'] === 'slow') await gate;
    return {};
  }
}

let node: LimitedNode;
beforeAll(async () => {
  node = await startLimitedNode({ backend: new SlowBackend(), limits: { headerCount: 40, handlerTimeoutMs: 300 } });
});
afterAll(async () => {
  release();
  await node.dispose();
});

describe('what one request may carry', () => {

  it('a body over 1 MiB is refused with 413 PAYLOAD_TOO_LARGE in OCCI JSON', async () => {
    const big = { kind: COMPUTE, attributes: { 'occi.core.title': 'x'.repeat(1024 * 1024) } };
    const res = await call(node.url, '/compute/', json(big));
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toMatch(/^application\/occi\+json/);
    expect(errorOf(res.body)).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
  });

  it('more header fields than the limit: 431 HEADERS_TOO_LARGE in OCCI JSON', async () => {
    const headers = Object.fromEntries(Array.from({ length: 45 }, (_, i) => [`X-Extra-${i}`, 'y']));
    const res = await call(node.url, '/-/', { headers });
    expect(res.status).toBe(431);
    expect(errorOf(res.body)).toMatchObject({ code: 'HEADERS_TOO_LARGE' });
    expect(errorOf(res.body).message).toContain('40');
    expect((await call(node.url, '/-/', { headers: { 'X-Extra': 'y' } })).status).toBe(200);
  });

  it('a header section over 16 KiB is answered 431 on the socket and the connection is closed', async () => {
    const answer = await rawExchange(node.url, `GET /-/ HTTP/1.1\r\nHost: x\r\nX-Big: ${'z'.repeat(20 * 1024)}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(answer).toMatch(/\r\nConnection: close\r\n/i);
    expect(answer).toMatch(/\r\nX-Content-Type-Options: nosniff\r\n/);
    expect(errorOf(answer.split('\r\n\r\n')[1]!)).toMatchObject({ status: 431, code: 'HEADERS_TOO_LARGE' });
  });

  it('the 431 to a HEAD request has no body (a client on a kept-alive connection parses it)', async () => {
    const res = await call(node.url, '/-/', { method: 'HEAD', headers: { 'X-Big': 'z'.repeat(20 * 1024) } });
    expect(res.status).toBe(431);
    expect(res.body).toBe('');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it(`more than ${DEFAULT_ATTRIBUTES} attributes, ${DEFAULT_LINKS} links or ${DEFAULT_MIXINS} mixins: 413 LIMIT_EXCEEDED, nothing created`, async () => {
    const attributes = Object.fromEntries(Array.from({ length: DEFAULT_ATTRIBUTES + 1 }, (_, i) => [`x.attr${i}`, i]));
    const tooManyAttributes = await call(node.url, '/compute/', json({ kind: COMPUTE, attributes }));
    expect(tooManyAttributes.status).toBe(413);
    expect(errorOf(tooManyAttributes.body)).toMatchObject({ code: 'LIMIT_EXCEEDED' });
    expect(errorOf(tooManyAttributes.body).message).toContain(`at most ${DEFAULT_ATTRIBUTES} attributes`);

    const links = Array.from({ length: DEFAULT_LINKS + 1 }, () => ({ kind: NETWORKINTERFACE, target: { location: '/network/x', kind: NETWORK } }));
    const tooManyLinks = await call(node.url, '/compute/', json({ kind: COMPUTE, links }));
    expect(tooManyLinks.status).toBe(413);
    expect(errorOf(tooManyLinks.body).message).toContain(`${DEFAULT_LINKS} links`);

    const mixins = Array.from({ length: DEFAULT_MIXINS + 1 }, (_, i) => `http://example.org/m#m${i}`);
    const tooManyMixins = await call(node.url, '/compute/', json({ kind: COMPUTE, mixins }));
    expect(tooManyMixins.status).toBe(413);
    expect(errorOf(tooManyMixins.body).message).toContain(`${DEFAULT_MIXINS} mixins`);

    // text/occi carries attributes in one header, comma-joined: the same limit after parsing.
    const line = Array.from({ length: DEFAULT_ATTRIBUTES + 1 }, (_, i) => `x.a${i}=${i}`).join(', ');
    const text = await call(node.url, '/compute/', {
      method: 'POST',
      headers: { 'Content-Type': 'text/occi', Accept: 'text/plain', Category: 'compute;scheme="http://schemas.ogf.org/occi/infrastructure#";class="kind"', 'X-OCCI-Attribute': line },
    });
    expect(text.status).toBe(413);
    expect(text.body).toContain('LIMIT_EXCEEDED');

    const list = await call(node.url, '/compute/');
    expect(JSON.parse(list.body).resources ?? []).toEqual([]);
    // At the limit, the request goes through to validation (which refuses unknown attributes).
    const atLimit = await call(node.url, '/compute/', json({ kind: COMPUTE, mixins: [SMALL], attributes: Object.fromEntries(Object.entries(attributes).slice(0, DEFAULT_ATTRIBUTES)) }));
    expect(errorOf(atLimit.body).code).toBe('INVALID_ATTRIBUTE');
  });
});

describe('a handler that takes too long', () => {
  it('answers 504 GATEWAY_TIMEOUT instead of hanging, and says the change may still happen', async () => {
    const t0 = performance.now();
    const res = await call(node.url, '/compute/', json({ kind: COMPUTE, mixins: [SMALL], attributes: { 'occi.core.title': 'slow' } }));
    const ms = performance.now() - t0;
    expect(res.status).toBe(504);
    expect(errorOf(res.body)).toMatchObject({ code: 'GATEWAY_TIMEOUT' });
    expect(errorOf(res.body).message).toContain('may still happen');
    expect(ms).toBeLessThan(3000);
    expect((await call(node.url, '/-/')).status).toBe(200);
  });
});

describe('rate limits', () => {
  it('token buckets: a burst, then one request per 1/rate s; Retry-After in whole seconds', () => {
    let now = 0;
    const buckets = new TokenBuckets({ ratePerSecond: 2, burst: 3, now: () => now });
    for (let i = 0; i < 3; i++) expect(buckets.take('a').ok).toBe(true);
    expect(buckets.take('a')).toEqual({ ok: false, retryAfterSec: 1 });
    expect(buckets.take('b').ok).toBe(true); // another key has its own bucket
    now += 499;
    expect(buckets.take('a').ok).toBe(false);
    now += 2;
    expect(buckets.take('a').ok).toBe(true);
    expect(buckets.take('a').ok).toBe(false);
    const slow = new TokenBuckets({ ratePerSecond: 0.2, burst: 1, now: () => now });
    expect(slow.take('c').ok).toBe(true);
    expect(slow.take('c')).toEqual({ ok: false, retryAfterSec: 5 });
  });

  it('idle buckets are dropped first when the table is full', () => {
    let now = 0;
    const buckets = new TokenBuckets({ ratePerSecond: 10, burst: 2, maxKeys: 100, now: () => now });
    for (let i = 0; i < 100; i++) buckets.take(`k${i}`);
    now += 1000; // every bucket refilled
    buckets.take('hot');
    buckets.take('hot');
    buckets.take('new');
    expect(buckets.size).toBeLessThanOrEqual(100);
    expect(buckets.take('hot').ok).toBe(false); // the busy bucket was kept, still empty
  });

  describe('per token over HTTP', () => {
    let node: LimitedNode; // its own, with authentication
    let tokenA: string;
    let tokenB: string;
    beforeAll(async () => {
      node = await startLimitedNode({ auth: 'token', rateLimit: { ratePerSecond: 2, burst: 4 } });
      tokenA = node.auth.issue({ tenant: 'acme', admin: false }).token;
      tokenB = node.auth.issue({ tenant: 'acme', admin: false }).token;
    });
    afterAll(() => node.dispose());

    it('429 RATE_LIMITED with Retry-After past the burst; other tokens unaffected; served again after Retry-After', async () => {
      const asA = { headers: { 'X-Auth-Token': tokenA } };
      for (let i = 0; i < 4; i++) expect((await call(node.url, '/compute/', asA)).status).toBe(200);
      const limited = await call(node.url, '/compute/', asA);
      expect(limited.status).toBe(429);
      expect(limited.headers['retry-after']).toBe('1');
      expect(errorOf(limited.body)).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
      // Another token of the same tenant, and Authorization: Bearer, have their own bucket.
      expect((await call(node.url, '/compute/', { headers: { Authorization: `Bearer ${tokenB}` } })).status).toBe(200);
      const t0 = Date.now();
      let status = 429;
      for (let i = 0; i < 40 && status === 429; i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await call(node.url, '/compute/', asA)).status;
      }
      expect(status).toBe(200);
      expect(Date.now() - t0).toBeLessThan(2500);
    });
  });

  describe('per client address without a token', () => {
    let node: LimitedNode; // its own, without authentication
    beforeAll(async () => {
      node = await startLimitedNode({ rateLimit: { ratePerSecond: 1, burst: 3 } });
    });
    afterAll(() => node.dispose());

    it('each address has its own bucket', async () => {
      for (let i = 0; i < 3; i++) expect((await call(node.url, '/-/', { localAddress: '127.0.0.2' })).status).toBe(200);
      const limited = await call(node.url, '/-/', { localAddress: '127.0.0.2', method: 'POST', headers: { 'Content-Type': OCCI_JSON }, body: '{}' });
      expect(limited.status).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect((await call(node.url, '/-/', { localAddress: '127.0.0.3' })).status).toBe(200);
    });
  });

  describe('regression: a flood of forged tokens from one address', () => {
    let node: LimitedNode; // its own, with authentication and the default failure limit
    let valid: string;
    beforeAll(async () => {
      node = await startLimitedNode({ auth: 'token', rateLimit: { ratePerSecond: 10_000, burst: 10_000 } });
      valid = node.auth.issue({ tenant: 'acme', admin: false }).token;
    });
    afterAll(() => node.dispose());

    it(`is answered 429 once the address failed ${DEFAULT_FAILURE_BURST} times (then ${DEFAULT_FAILURES_PER_SECOND}/s), before any token check; other addresses are served`, async () => {
      const forged = `${valid.slice(0, -4)}AAAA`;
      const started = Date.now();
      const statuses: number[] = [];
      for (let i = 0; i < 200; i++) statuses.push((await call(node.url, '/compute/', { localAddress: '127.0.0.4', headers: { 'X-Auth-Token': forged } })).status);
      const seconds = (Date.now() - started) / 1000;
      const refused = statuses.filter((s) => s === 401).length;
      expect(statuses.slice(0, DEFAULT_FAILURE_BURST).every((s) => s === 401)).toBe(true);
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(100);
      expect(refused).toBeLessThanOrEqual(DEFAULT_FAILURE_BURST + Math.ceil(seconds * DEFAULT_FAILURES_PER_SECOND) + 1);
      expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
      // A failure allowance refills every 200 ms: on a slow machine the next call may use one; of five at once, some are refused.
      const next = await Promise.all(Array.from({ length: 5 }, () => call(node.url, '/compute/', { localAddress: '127.0.0.4', headers: { 'X-Auth-Token': forged } })));
      const limited = next.find((r) => r.status === 429)!;
      expect(next.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(3);
      expect(errorOf(limited.body).message).toContain('failed authentications');
      // Another address, with a valid token, is served meanwhile.
      expect((await call(node.url, '/compute/', { localAddress: '127.0.0.5', headers: { 'X-Auth-Token': valid } })).status).toBe(200);
      console.log(`forged-token flood: ${refused} answered 401, ${statuses.length - refused} answered 429, in ${seconds.toFixed(1)} s`);
    });
  });
});
