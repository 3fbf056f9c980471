import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPUTE, OCCI_JSON, SMALL } from '../helpers/node.js';
import { call, type LimitedNode, type RawAnswer, rawExchange, SECURITY_HEADER_VALUES, startLimitedNode } from './limit-helpers.js';

function expectSecurityHeaders(res: RawAnswer, what: string): void {
  for (const [k, v] of Object.entries(SECURITY_HEADER_VALUES)) expect(res.headers[k], `${k} on ${what}`).toBe(v);
  // Plain HTTP: HSTS would be ignored by browsers and is not sent.
  expect(res.headers['strict-transport-security'], what).toBeUndefined();
  expect(res.headers['x-powered-by'], what).toBeUndefined();
}

describe('security headers on every answer of a node', () => {
  let node: LimitedNode;
  beforeAll(async () => {
    node = await startLimitedNode({ limits: { bodyBytes: 1024 }, rateLimit: { ratePerSecond: 1, burst: 30 } });
  });
  afterAll(() => node.dispose());

  it('on successes and on every kind of error, in every rendering', async () => {
    const json = { 'Content-Type': OCCI_JSON };
    const cases: Array<[string, number, Parameters<typeof call>[2] & { path: string }]> = [
      ['query interface', 200, { path: '/-/' }],
      ['query interface in text/plain', 200, { path: '/-/', headers: { Accept: 'text/plain' } }],
      ['creation', 201, { path: '/compute/', method: 'POST', headers: json, body: JSON.stringify({ kind: COMPUTE, mixins: [SMALL] }) }],
      ['collection as text/uri-list', 200, { path: '/compute/', headers: { Accept: 'text/uri-list' } }],
      ['OpenAPI document', 200, { path: '/openapi.json', headers: { Accept: 'application/json' } }],
      ['malformed body', 400, { path: '/compute/', method: 'POST', headers: json, body: '{' }],
      ['not found', 404, { path: '/compute/00000000-0000-0000-0000-000000000000' }],
      ['not found in text/occi', 404, { path: '/nothing/here', headers: { Accept: 'text/occi' } }],
      ['method not allowed', 405, { path: '/-/', method: 'PATCH' }],
      ['not acceptable', 406, { path: '/-/', headers: { Accept: 'image/png' } }],
      ['body too large', 413, { path: '/compute/', method: 'POST', headers: json, body: 'x'.repeat(2048) }],
      ['unsupported media type', 415, { path: '/compute/', method: 'POST', headers: { 'Content-Type': 'image/png' }, body: 'x' }],
    ];
    for (const [what, status, { path, ...opts }] of cases) {
      const res = await call(node.url, path, opts);
      expect(res.status, what).toBe(status);
      expectSecurityHeaders(res, what);
    }
  });

  it('on a 429, and on the 431 written on the socket before express', async () => {
    let res: RawAnswer;
    let i = 0;
    do res = await call(node.url, '/-/');
    while (res.status === 200 && ++i < 100);
    expect(res.status).toBe(429);
    expectSecurityHeaders(res, '429');
    const raw = await rawExchange(node.url, `GET /-/ HTTP/1.1\r\nHost: x\r\nX-Big: ${'z'.repeat(20_000)}\r\n\r\n`);
    expect(raw).toMatch(/^HTTP\/1\.1 431 /);
    for (const [k, v] of Object.entries(SECURITY_HEADER_VALUES)) expect(raw.toLowerCase(), k).toContain(`\r\n${k}: ${v.toLowerCase()}\r\n`);
  });
});

// Answers relayed from another member: tls.test.ts (a mesh of TLS nodes) checks them, HSTS included.
