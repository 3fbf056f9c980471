import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import createTestnet, { type Testnet } from 'hyperdht/testnet.js';
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

describe('security headers on answers relayed from another member', () => {
  let testnet: Testnet;
  const nodes: LimitedNode[] = [];
  const dirs: string[] = [];
  beforeAll(async () => {
    testnet = await createTestnet(3, { host: '127.0.0.1' });
    for (const name of ['hdr-a', 'hdr-b']) {
      const dataDir = mkdtempSync(join(tmpdir(), 'occi-hdr-mesh-'));
      dirs.push(dataDir);
      nodes.push(
        await startLimitedNode({
          dataDir,
          name,
          mesh: { secret: 'headers-test', bootstrap: testnet.bootstrap, forwardTimeoutMs: 5000, tuning: { connectionTimeoutMs: 1500, heartbeatTimeoutMs: 1500, requestTimeoutMs: 1500 } },
        }),
      );
    }
    await Promise.all(nodes.map((n) => n.mesh!.waitForMembers(1, 20_000)));
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled(nodes.map((n) => n.dispose()));
    await testnet.destroy();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it('a forwarded 200, a forwarded 4xx and a mesh-wide collection carry them', async () => {
    const [a, b] = nodes as [LimitedNode, LimitedNode];
    const created = await call(b.url, '/compute/', { method: 'POST', headers: { 'Content-Type': OCCI_JSON }, body: JSON.stringify({ kind: COMPUTE, mixins: [SMALL] }) });
    const location = created.headers.location!;
    const read = await call(a.url, location);
    expect(read.status).toBe(200);
    expect(read.headers['x-discovery-served-by']).toBe('hdr-b');
    expectSecurityHeaders(read, 'forwarded 200');
    const refused = await call(a.url, `${location}?action=nosuchaction`, { method: 'POST', headers: { 'Content-Type': OCCI_JSON }, body: '{}' });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.status).toBeLessThan(500);
    expect(refused.headers['x-discovery-served-by']).toBe('hdr-b');
    expectSecurityHeaders(refused, 'forwarded 4xx');
    const list = await call(a.url, '/compute/');
    expect(JSON.parse(list.body).resources.map((r: { location: string }) => r.location)).toContain(location);
    expectSecurityHeaders(list, 'mesh-wide collection');
  });
});
