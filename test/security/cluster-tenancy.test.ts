import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import DHT from 'hyperdht';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ed25519PrivateKey, encodeEnvelope, ENVELOPE_HEADER } from '../../src/http/auth/forwarded-principal.js';
import type { ForwardedRequest } from '../../src/mesh/http-forwarding.js';
import { COMPUTE, LARGE, MEDIUM_OR, NETWORK, NETWORKINTERFACE, SMALL, STORAGE } from './cluster-fixtures.js';
import { type SecureNode, startSecureCluster } from './security-helpers.js';
import { entityPath } from '../helpers/occi-json.js';

const J = 'application/json';
let cluster: Awaited<ReturnType<typeof startSecureCluster>>;
let nodes: SecureNode[];
let acme: string;
let globex: string;
let admin: string;

beforeAll(async () => {
  cluster = await startSecureCluster(['n1', 'n2', 'n3']);
  nodes = cluster.nodes;
  acme = nodes[0]!.auth.issue({ tenant: 'acme', admin: false }).token;
  globex = nodes[0]!.auth.issue({ tenant: 'globex', admin: false }).token;
  admin = nodes[0]!.adminToken;
}, 90_000);
afterAll(() => cluster?.dispose());

async function call(node: SecureNode, method: string, path: string, token: string | undefined, body?: unknown) {
  const headers: Record<string, string> = { Accept: J };
  if (token) headers['X-Auth-Token'] = token;
  if (body !== undefined) headers['Content-Type'] = J;
  const res = await fetch(`${node.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

describe('tenant isolation through every node of a 3-node mesh', () => {
  const computes: string[] = [];

  beforeAll(async () => {
    for (const n of nodes) {
      const made = await call(n, 'POST', '/compute/', acme, { kind: COMPUTE, mixins: [SMALL], attributes: { 'occi.core.title': `acme-${n.url}` } });
      expect(made.status, made.text).toBe(201);
      computes.push(made.headers.get('location')!);
    }
    // Each is held where it was created.
    computes.forEach((c, i) => expect(nodes[i]!.service.holds(c.split('/').pop()!)).toBe(true));
  });

  it('the owner reads every entity through every node; another tenant gets 404 everywhere', async () => {
    for (const n of nodes) {
      for (const c of computes) {
        expect((await call(n, 'GET', c, acme)).status).toBe(200);
        expect((await call(n, 'GET', c, admin)).status).toBe(200);
        const other = await call(n, 'GET', c, globex);
        expect(other.status).toBe(404);
        expect(other.text).not.toContain('acme');
      }
    }
  });

  it('collections are mesh-wide for the owner and the admin, and never show another tenant\'s entities', async () => {
    for (const n of nodes) {
      const mine = (await call(n, 'GET', '/compute/', acme)).json().resources.map(entityPath);
      expect(mine.sort()).toEqual(expect.arrayContaining(computes));
      const all = (await call(n, 'GET', '/compute/', admin)).json().resources.map(entityPath);
      expect(all).toEqual(expect.arrayContaining(computes));
      const theirs = await call(n, 'GET', '/compute/', globex);
      expect(theirs.status).toBe(200);
      for (const c of computes) expect(theirs.text).not.toContain(c.split('/').pop()!);
      const filtered = await call(n, 'GET', `/compute/?attribute=occi.core.title=acme-${encodeURIComponent(nodes[0]!.url)}`, globex);
      expect(filtered.json().resources ?? []).toEqual([]);
    }
  });

  it('another tenant cannot update, replace, act on or delete them through any node', async () => {
    for (const n of nodes) {
      for (const c of computes) {
        expect((await call(n, 'POST', c, globex, { attributes: { 'occi.core.title': 'mine now' } })).status).toBe(404);
        expect((await call(n, 'PUT', c, globex, { kind: COMPUTE, mixins: [SMALL], attributes: {} })).status).toBe(404);
        expect((await call(n, 'POST', `${c}?action=stop`, globex, { action: 'http://schemas.ogf.org/occi/infrastructure/compute/action#stop' })).status).toBe(404);
        expect((await call(n, 'DELETE', c, globex)).status).toBe(404);
      }
    }
    for (const c of computes) expect((await call(nodes[0]!, 'GET', c, acme)).json().title).toMatch(/^acme-/);
  });

  it('another tenant cannot link to them or tag them', async () => {
    for (const [i, n] of nodes.entries()) {
      const net = await call(n, 'POST', '/network/', globex, { kind: NETWORK, attributes: { 'occi.core.title': 'globex-net' } });
      expect(net.status).toBe(201);
      const link = await call(n, 'POST', '/networkinterface/', globex, { kind: NETWORKINTERFACE, attributes: {}, source: computes[i], target: net.headers.get('location') });
      expect([400, 404, 409]).toContain(link.status);
      const term = `g${i}${randomBytes(3).toString('hex')}`;
      expect((await call(n, 'POST', '/-/', globex, { mixins: [{ term, scheme: 'http://globex.example/tags#', location: `/gtags/${term}/` }] })).status).toBe(200);
      const tag = await call(n, 'POST', `/gtags/${term}/`, globex, { locations: [computes[i]] });
      expect([400, 404]).toContain(tag.status);
      expect((await call(n, 'GET', computes[i]!, acme)).json().mixins ?? []).not.toContain(`http://globex.example/tags#${term}`);
    }
  });

  it('user mixins show in the query interface of every node for their tenant only', async () => {
    const term = `acmetag${randomBytes(3).toString('hex')}`;
    expect((await call(nodes[0]!, 'POST', '/-/', acme, { mixins: [{ term, scheme: 'http://acme.example/tags#', location: `/atags/${term}/` }] })).status).toBe(200);
    for (const n of nodes) {
      expect((await call(n, 'GET', '/-/', acme)).text).toContain(term);
      expect((await call(n, 'GET', '/-/', admin)).text).toContain(term);
      expect((await call(n, 'GET', '/-/', globex)).text).not.toContain(term);
    }
  });
});

describe('revocations and quotas replicate to every member', () => {
  it('a token revoked at one node is refused by every node', async () => {
    const { token, meta } = nodes[0]!.auth.issue({ tenant: 'acme', admin: false });
    for (const n of nodes) expect((await call(n, 'GET', '/compute/', token)).status).toBe(200);
    const revoked = await call(nodes[2]!, 'DELETE', `/.well-known/discovery/tokens/${meta.tid}`, admin);
    expect(revoked.status, revoked.text).toBe(200);
    for (const n of nodes) {
      const res = await call(n, 'GET', '/compute/', token);
      expect(res.status).toBe(401);
      expect(res.json().error.message).toContain('revoked');
    }
    // The metadata of the token issued at node 1 reached every member too.
    for (const n of nodes) expect(n.auth.store.tokens().some((t) => t.tid === meta.tid)).toBe(true);
  });

  it('a member that missed a revocation refuses the token once it pulls the state (as it does when it joins)', async () => {
    const { token, meta } = nodes[0]!.auth.issue({ tenant: 'acme', admin: false });
    await nodes[0]!.auth.replication!.flushed();
    nodes[2]!.mesh!.unhandle('auth/delta');
    try {
      await nodes[0]!.auth.revoke(meta.tid);
      expect((await call(nodes[1]!, 'GET', '/compute/', token)).status).toBe(401);
      expect((await call(nodes[2]!, 'GET', '/compute/', token)).status).toBe(200); // the push did not reach it
      await nodes[2]!.auth.replication!.pull(nodes[2]!.mesh!.member(nodes[0]!.mesh!.key)!);
      expect((await call(nodes[2]!, 'GET', '/compute/', token)).status).toBe(401);
    } finally {
      nodes[2]!.mesh!.handle('auth/delta', (p) => (nodes[2]!.auth.store.merge(p as never), null));
    }
  });

  it('quotas: a 403 naming the quota, counted over the mesh, at creation, update and resize', async () => {
    const t = nodes[0]!.auth.issue({ tenant: 'quota-t', admin: false }).token;
    const set = await call(nodes[0]!, 'PUT', '/.well-known/discovery/tenants/quota-t', admin, { instances: 2, cores: 3, storageGiB: 10 });
    expect(set.status, set.text).toBe(200);
    expect(nodes[1]!.auth.store.quota('quota-t')?.quota).toEqual({ instances: 2, cores: 3, storageGiB: 10 });
    expect((await call(nodes[0]!, 'POST', '/compute/', t, { kind: COMPUTE, mixins: [SMALL], attributes: {} })).status).toBe(201);
    const second = await call(nodes[1]!, 'POST', '/compute/', t, { kind: COMPUTE, mixins: [MEDIUM_OR], attributes: {} });
    expect(second.status, second.text).toBe(201);
    // 2 instances and 3 cores used, on two different nodes.
    const third = await call(nodes[1]!, 'POST', '/compute/', t, { kind: COMPUTE, mixins: [SMALL], attributes: {} });
    expect(third.status).toBe(403);
    expect(third.json().error.code).toBe('QUOTA_EXCEEDED');
    expect(third.json().error.message).toMatch(/quota instances of tenant quota-t exceeded: 2 used \+ 1 requested > 2/);
    const grow = await call(nodes[2]!, 'POST', second.headers.get('location')!, t, { attributes: { 'occi.compute.cores': 4 } });
    expect(grow.status).toBe(403);
    expect(grow.json().error.message).toContain('quota cores of tenant quota-t exceeded: 3 used + 2 requested > 3');
    const larger = await call(nodes[2]!, 'POST', second.headers.get('location')!, t, { mixins: [LARGE], attributes: {} });
    expect([400, 403]).toContain(larger.status); // two resource templates (400), or the cores quota
    // Within the quota still works: a smaller size.
    expect((await call(nodes[2]!, 'POST', second.headers.get('location')!, t, { attributes: { 'occi.compute.cores': 1 } })).status).toBe(200);
    const disk = await call(nodes[2]!, 'POST', '/storage/', t, { kind: STORAGE, attributes: { 'occi.storage.size': 8 } });
    expect(disk.status, disk.text).toBe(201);
    const resize = await call(nodes[0]!, 'POST', `${disk.headers.get('location')}?action=resize`, t, { action: 'http://schemas.ogf.org/occi/infrastructure/storage/action#resize', attributes: { size: 20 } });
    expect(resize.status).toBe(403);
    expect(resize.json().error.message).toContain('quota storage (GiB) of tenant quota-t exceeded: 8 used + 12 requested > 10');
    const usage = await call(nodes[1]!, 'GET', '/.well-known/discovery/tenants/quota-t', admin);
    expect(usage.json().usage).toMatchObject({ instances: 2, cores: 2, storageGiB: 8 });
  });

  it('quotas: a member that does not answer counts with its last usage, or refuses when it never answered', async () => {
    const t = nodes[0]!.auth.issue({ tenant: 'quota-u', admin: false }).token;
    await call(nodes[0]!, 'PUT', '/.well-known/discovery/tenants/quota-u', admin, { instances: 1 });
    const fresh = nodes[0]!.auth.issue({ tenant: 'quota-v', admin: false }).token;
    // Set at n2, so that n1 never asked n2 for quota-v's usage.
    await call(nodes[1]!, 'PUT', '/.well-known/discovery/tenants/quota-v', admin, { instances: 5 });
    expect((await call(nodes[1]!, 'POST', '/compute/', t, { kind: COMPUTE, mixins: [SMALL], attributes: {} })).status).toBe(201);
    expect((await call(nodes[0]!, 'GET', '/.well-known/discovery/tenants/quota-u', admin)).json().usage.instances).toBe(1);
    const handler = 'auth/usage';
    nodes[1]!.mesh!.unhandle(handler);
    try {
      const over = await call(nodes[0]!, 'POST', '/compute/', t, { kind: COMPUTE, mixins: [SMALL], attributes: {} });
      expect(over.status).toBe(403);
      expect(over.json().error.message).toContain('counting the last usage reported by n2');
      const unknown = await call(nodes[0]!, 'POST', '/compute/', fresh, { kind: COMPUTE, mixins: [SMALL], attributes: {} });
      expect(unknown.status).toBe(403);
      expect(unknown.json().error.message).toMatch(/quota instances of tenant quota-v cannot be checked: member n2 did not answer/);
    } finally {
      nodes[1]!.mesh!.handle(handler, (p) => (nodes[1]!.auth.quotas.localUsage((p as { tenant: string }).tenant) as unknown as null));
    }
    expect((await call(nodes[0]!, 'POST', '/compute/', fresh, { kind: COMPUTE, mixins: [SMALL], attributes: {} })).status).toBe(201);
  });
});

describe('forwarded principals: forged and replayed envelopes are refused', () => {
  let target: string;
  let id: string;
  const privateKey = () => ed25519PrivateKey(nodes[1]!.mesh!.keyPair);

  beforeAll(async () => {
    const made = await call(nodes[0]!, 'POST', '/compute/', acme, { kind: COMPUTE, mixins: [SMALL], attributes: { 'occi.core.title': 'target' } });
    target = made.headers.get('location')!;
    id = target.split('/').pop()!;
  });

  /** What node 2 sends node 1 for a GET (or `method`) of the target, with an envelope built from `overrides`. */
  function forged(overrides: Record<string, unknown> = {}, opts: { key?: ReturnType<typeof privateKey>; token?: string; method?: string; path?: string; body?: string } = {}): ForwardedRequest {
    const method = opts.method ?? 'GET';
    const path = opts.path ?? target;
    const body = Buffer.from(opts.body ?? '');
    const envelope = { tenant: 'acme', admin: false, tid: tidOf(opts.token ?? acme), entry: nodes[1]!.mesh!.key, method, path, body: createHash('sha256').update(body).digest('hex'), ...nodes[1]!.auth.forwarding!.nextSequence(), ...overrides };
    return { method, path, headers: { accept: J, 'x-auth-token': opts.token ?? acme, [ENVELOPE_HEADER]: encodeEnvelope(envelope, opts.key ?? privateKey()) }, body };
  }
  const send = (req: ForwardedRequest) => nodes[1]!.mesh!.forward(nodes[0]!.mesh!.key, req);

  it('a well-formed envelope from the member that authenticated the client is served', async () => {
    expect((await send(forged())).status).toBe(200);
  });

  it.each([
    ['no envelope', () => { const r = forged(); delete r.headers[ENVELOPE_HEADER]; return r; }, 'no principal envelope'],
    ['a signature by another key', () => forged({}, { key: ed25519PrivateKey(DHT.keyPair()) }), 'bad envelope signature'],
    ['another entry node', () => forged({ entry: nodes[2]!.mesh!.key }), 'another entry node'],
    ['a modified path', () => ({ ...forged(), path: `/compute/${randomUUIDLike()}` }), 'another request'],
    ['a modified method', () => ({ ...forged(), method: 'DELETE' }), 'another request'],
    ['a modified body', () => ({ ...forged({}, { method: 'POST', body: '{"attributes":{"occi.core.title":"a"}}' }), body: Buffer.from('{"attributes":{"occi.core.title":"b"}}') }), 'body does not match'],
    ['an envelope of an earlier start of the entry node', () => forged({ boot: nodes[1]!.auth.forwarding!.nextSequence().boot - 1 }), 'earlier start of the entry node'],
    ['an envelope without its sequence number', () => forged({ seq: undefined }), 'malformed envelope'],
    ['another tenant than the token', () => forged({ tenant: 'globex' }), 'does not match the token'],
    ['an admin flag the token does not have', () => forged({ admin: true }), 'does not match the token'],
    ['no token with it', () => { const r = forged(); delete r.headers['x-auth-token']; return r; }, 'token missing'],
  ])('refuses %s with 401', async (_name, make, reason) => {
    const answer = await send(make() as ForwardedRequest);
    expect(answer.status).toBe(401);
    expect(answer.body.toString()).toContain(reason);
    expect(answer.headers['www-authenticate']).toMatch(/^Bearer realm="occi"/);
    expect(nodes[0]!.service.holds(id)).toBe(true);
  });

  it('a replayed envelope (same boot and sequence number) is refused', async () => {
    const once = forged();
    expect((await send(once)).status).toBe(200);
    const again = await send(once);
    expect(again.status).toBe(401);
    expect(again.body.toString()).toContain('replayed');
  });
});

describe('a revoked node', () => {
  it('is refused by the others: it leaves their view and what it forwards is not served', async () => {
    const made = await call(nodes[0]!, 'POST', '/compute/', acme, { kind: COMPUTE, mixins: [SMALL], attributes: {} });
    const location = made.headers.get('location')!;
    expect((await call(nodes[2]!, 'GET', location, acme)).status).toBe(200);
    const bad = nodes[2]!.mesh!.key;
    const left = nodes.slice(0, 2).map((n) => (n.mesh!.members().some((m) => m.key === bad) ? once(n.mesh!, 'member-left') : undefined));
    nodes[0]!.mesh!.revoke(bad);
    nodes[1]!.mesh!.revoke(bad);
    await Promise.all(left);
    expect(nodes[0]!.mesh!.members().map((m) => m.key)).not.toContain(bad);
    expect(nodes[1]!.mesh!.members().map((m) => m.key)).not.toContain(bad);
    await expect(nodes[2]!.mesh!.forward(nodes[0]!.mesh!.key, { method: 'GET', path: location, headers: { 'x-auth-token': acme }, body: Buffer.alloc(0) }, { timeoutMs: 1500 })).rejects.toThrow();
    const via = await call(nodes[2]!, 'GET', location, acme);
    expect(via.status).not.toBe(200);
    // The others still serve it.
    expect((await call(nodes[1]!, 'GET', location, acme)).status).toBe(200);
  }, 20_000);
});

function tidOf(token: string): string {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti as string;
}

function randomUUIDLike(): string {
  const h = randomBytes(16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
