import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPUTE, SMALL } from '../helpers/node.js';
import { type SecureNode, startSecureNode, tokenSet } from './security-helpers.js';
import { type Body, encode, RENDERINGS, type Rendering } from './wire.js';

const STOP = 'http://schemas.ogf.org/occi/infrastructure/compute/action#stop';
const TAGS = 'http://example.com/occi/tags#';

type Who = 'none' | 'malformed' | 'badSignature' | 'expired' | 'revoked' | 'other' | 'owner' | 'admin';
const WHO: Who[] = ['none', 'malformed', 'badSignature', 'expired', 'revoked', 'other', 'owner', 'admin'];
const REFUSED = new Set<Who>(['none', 'malformed', 'badSignature', 'expired', 'revoked']);

interface Fixture {
  compute: string;
  id: string;
  mixin: { term: string; location: string };
}

interface Op {
  name: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: (f: Fixture) => string;
  body: (f: Fixture, base: string, rendering: Rendering) => Body;
  /** Status for the owner and an admin; for another tenant. */
  ok: number;
  other: number;
  /** For another tenant's 2xx: the answer must not show the fixture. */
  hidden?: (f: Fixture) => string;
}

let n = 0;
const fresh = (prefix: string) => `${prefix}${Date.now().toString(36)}${(n++).toString(36)}`;
const none = (): Body => ({ type: 'none' });

const OPS: Op[] = [
  { name: 'discovery GET /-/', method: 'GET', path: () => '/-/', body: none, ok: 200, other: 200, hidden: (f) => f.mixin.term },
  { name: 'discovery GET /.well-known/org/ogf/occi/-/', method: 'GET', path: () => '/.well-known/org/ogf/occi/-/', body: none, ok: 200, other: 200, hidden: (f) => f.mixin.term },
  { name: 'collection GET', method: 'GET', path: () => '/compute/', body: none, ok: 200, other: 200, hidden: (f) => f.id },
  { name: 'POST create', method: 'POST', path: () => '/compute/', body: () => ({ type: 'entity', kind: COMPUTE, mixins: [SMALL], attributes: { 'occi.core.title': 'made' } }), ok: 201, other: 201 },
  { name: 'entity GET', method: 'GET', path: (f) => f.compute, body: none, ok: 200, other: 404 },
  { name: 'entity PUT', method: 'PUT', path: (f) => f.compute, body: () => ({ type: 'entity', kind: COMPUTE, mixins: [SMALL], attributes: { 'occi.core.title': 'replaced' } }), ok: 200, other: 404 },
  { name: 'entity POST update', method: 'POST', path: (f) => f.compute, body: () => ({ type: 'entity', attributes: { 'occi.core.title': 'updated' } }), ok: 200, other: 404 },
  { name: 'action', method: 'POST', path: (f) => `${f.compute}?action=stop`, body: () => ({ type: 'action', action: STOP }), ok: 200, other: 404 },
  { name: 'mixin tag', method: 'POST', path: (f) => f.mixin.location, body: (f, base, r) => ({ type: 'locations', locations: [r === 'application/json' ? f.compute : `${base}${f.compute}`] }), ok: 200, other: 404 },
  { name: 'mixin untag', method: 'DELETE', path: (f) => f.mixin.location, body: (f, base, r) => ({ type: 'locations', locations: [r === 'application/json' ? f.compute : `${base}${f.compute}`] }), ok: 200, other: 404 },
  { name: 'query interface POST user mixin', method: 'POST', path: () => '/-/', body: () => { const term = fresh('t'); return { type: 'mixin', term, scheme: TAGS, location: `/tags/${term}/` }; }, ok: 200, other: 200 },
  { name: 'query interface DELETE user mixin', method: 'DELETE', path: () => '/-/', body: (f) => ({ type: 'mixin', term: f.mixin.term, scheme: TAGS }), ok: 200, other: 400 },
  { name: 'entity DELETE', method: 'DELETE', path: (f) => f.compute, body: none, ok: 200, other: 404 },
];

let node: SecureNode;
let tokens: Awaited<ReturnType<typeof tokenSet>>;

beforeAll(async () => {
  node = await startSecureNode();
  tokens = await tokenSet(node);
});
afterAll(() => node.dispose());

function credential(who: Who, style: number): Record<string, string> {
  const token = { none: undefined, malformed: tokens.malformed, badSignature: tokens.badSignature, expired: tokens.expired, revoked: tokens.revoked, other: tokens.globex, owner: tokens.acme, admin: tokens.admin }[who];
  if (token === undefined) return {};
  // Both conventions: rOCCI's X-Auth-Token and RFC 6750 Bearer.
  return style % 2 === 0 ? { 'X-Auth-Token': token } : { Authorization: `Bearer ${token}` };
}

async function call(method: string, path: string, headers: Record<string, string>, body: string) {
  const res = await fetch(`${node.url}${path}`, { method, headers, body: method === 'GET' ? undefined : body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, all: `${text}\n${JSON.stringify([...res.headers])}` };
}

/** A compute and a user mixin of tenant acme, made in JSON with acme's token. */
async function fixture(): Promise<Fixture> {
  const h = { 'X-Auth-Token': tokens.acme, 'Content-Type': 'application/json', Accept: 'application/json' };
  const made = await call('POST', '/compute/', h, JSON.stringify({ kind: COMPUTE, mixins: [SMALL], attributes: { 'occi.core.title': 'fixture' } }));
  expect(made.status, made.text).toBe(201);
  const compute = made.headers.get('location')!;
  const term = fresh('m');
  const mixin = await call('POST', '/-/', h, JSON.stringify({ mixins: [{ term, scheme: TAGS, location: `/tags/${term}/` }] }));
  expect(mixin.status, mixin.text).toBe(200);
  return { compute, id: compute.split('/').pop()!, mixin: { term, location: `/tags/${term}/` } };
}

describe('every operation × every credential × every rendering', () => {
  for (const [r, rendering] of RENDERINGS.entries()) {
    for (const who of WHO) {
      it(`${rendering}: ${who}`, async () => {
        const f = await fixture();
        for (const op of OPS) {
          const { headers, body } = encode(rendering, op.body(f, node.url, rendering));
          const res = await call(op.method, op.path(f), { ...headers, ...credential(who, r + WHO.indexOf(who)) }, body);
          const what = `${op.name} as ${who} in ${rendering}: ${res.status} ${res.text.slice(0, 200)}`;
          expect(res.headers.get('content-type') ?? '', what).toMatch(res.status === 200 && op.method === 'DELETE' ? /.*/ : new RegExp(`^${rendering}`));
          if (REFUSED.has(who)) {
            expect(res.status, what).toBe(401);
            const challenge = res.headers.get('www-authenticate') ?? '';
            expect(challenge, what).toMatch(/^Bearer realm="occi"/);
            if (who !== 'none') expect(challenge, what).toContain('error="invalid_token"');
            expect(res.text, what).toMatch(/UNAUTHORIZED/);
            continue;
          }
          expect(res.status, what).toBe(who === 'other' ? op.other : op.ok);
          if (who === 'other' && op.hidden) expect(res.all, what).not.toContain(op.hidden(f));
          if (who !== 'other' && op.hidden) expect(res.all, what).toContain(op.hidden(f));
        }
      });
    }
  }
});

describe('token details', () => {
  it('the principal is the token\'s: a compute created with acme\'s token is acme\'s, invisible to globex, visible to the admin', async () => {
    const f = await fixture();
    expect((await call('GET', f.compute, { 'X-Auth-Token': tokens.globex, Accept: 'application/json' }, '')).status).toBe(404);
    expect((await call('GET', f.compute, { Authorization: `Bearer ${tokens.admin}`, Accept: 'application/json' }, '')).status).toBe(200);
  });

  it('two different tokens in X-Auth-Token and Authorization are refused', async () => {
    const res = await call('GET', '/compute/', { 'X-Auth-Token': tokens.acme, Authorization: `Bearer ${tokens.globex}`, Accept: 'application/json' }, '');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_request"');
  });

  it('another Authorization scheme beside X-Auth-Token is ignored; alone it is no credential', async () => {
    expect((await call('GET', '/compute/', { 'X-Auth-Token': tokens.acme, Authorization: 'Basic dXNlcjpwYXNz', Accept: 'application/json' }, '')).status).toBe(200);
    const basic = await call('GET', '/compute/', { Authorization: 'Basic dXNlcjpwYXNz', Accept: 'application/json' }, '');
    expect(basic.status).toBe(401);
    expect(basic.headers.get('www-authenticate')).toBe('Bearer realm="occi"');
  });

  it('a token whose claims were edited (tenant changed, signature kept) is refused', async () => {
    const [prefix, payload, sig] = tokens.acme.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const forged = `${prefix}.${Buffer.from(JSON.stringify({ ...claims, tenant: 'globex', admin: true })).toString('base64url')}.${sig}`;
    const res = await call('GET', '/compute/', { 'X-Auth-Token': forged, Accept: 'application/json' }, '');
    expect(res.status).toBe(401);
    expect(JSON.parse(res.text).error.message).toContain('signature');
  });

  it('admin endpoints answer 403 to a tenant token and 401 without one', async () => {
    expect((await call('GET', '/.well-known/discovery/tokens/', { 'X-Auth-Token': tokens.acme, Accept: 'application/json' }, '')).status).toBe(403);
    expect((await call('PUT', '/.well-known/discovery/tenants/acme', { 'X-Auth-Token': tokens.acme, 'Content-Type': 'application/json' }, '{"cores":100}')).status).toBe(403);
    expect((await call('GET', '/.well-known/discovery/tokens/', { Accept: 'application/json' }, '')).status).toBe(401);
  });

  it('a forged loopback decision header from a client is ignored', async () => {
    const res = await call('GET', '/compute/', { 'x-discovery-auth-local': 'guess', 'x-discovery-auth-principal': JSON.stringify({ tenant: 'acme', admin: true }), Accept: 'application/json' }, '');
    expect(res.status).toBe(401);
  });

  it('the token is never stored in clear: the data directory holds its id, not the token', async () => {
    const { readFileSync, readdirSync } = await import('node:fs');
    const { join } = await import('node:path');
    const all = readdirSync(node.dataDir).map((f) => readFileSync(join(node.dataDir, f)).toString('latin1')).join('');
    const signature = tokens.acme.split('.')[2]!;
    expect(all).not.toContain(signature);
    expect(all).not.toContain(node.adminToken.split('.')[2]!);
  });
});
