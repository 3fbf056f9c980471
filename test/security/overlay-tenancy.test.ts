/**
 * Tenancy over the overlay: with partial views, where an id is and who owns it, and a tenant's
 * usage (the parts its nodes publish), are read on the ring directory, not asked of every member.
 * Real tokens, three secure nodes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OWNER_METHOD } from '../../src/http/auth/mesh-names.js';
import { COMPUTE, MEDIUM_OR, SMALL, STORAGE } from './cluster-fixtures.js';
import { type SecureNode, startSecureCluster } from './security-helpers.js';

const J = 'application/json';
let cluster: Awaited<ReturnType<typeof startSecureCluster>>;
let nodes: SecureNode[];
let admin: string;

beforeAll(async () => {
  cluster = await startSecureCluster(['q1', 'q2', 'q3'], undefined, {}, 'overlay');
  nodes = cluster.nodes;
  admin = nodes[0]!.adminToken;
}, 90_000);
afterAll(() => cluster?.dispose());

async function call(node: SecureNode, method: string, path: string, token: string, body?: unknown) {
  const headers: Record<string, string> = { Accept: J, 'X-Auth-Token': token };
  if (body !== undefined) headers['Content-Type'] = J;
  const res = await fetch(`${node.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, location: res.headers.get('location'), partial: res.headers.get('x-discovery-partial'), text, json: () => JSON.parse(text) };
}

const compute = (mixin: string) => ({ kind: COMPUTE, mixins: [mixin], attributes: {} });

describe('tenant isolation over the overlay: where an id is, and its owner, read on the ring directory', () => {
  it('the owner reads each compute through every node; another tenant gets 404 through every node, as for an absent id', async () => {
    // Every member still answers the scatter-gather of the full mode, counted here.
    let asked = 0;
    for (const n of nodes) {
      n.mesh!.unhandle(OWNER_METHOD);
      n.mesh!.handle(OWNER_METHOD, (payload) => {
        asked++;
        const e = n.service.core.store.get((payload as { id: string }).id);
        return e ? { owner: e.owner ?? null, kind: e.kind } : null;
      });
    }
    const acme = nodes[0]!.auth.issue({ tenant: 'ring-acme', admin: false }).token;
    const globex = nodes[0]!.auth.issue({ tenant: 'ring-globex', admin: false }).token;
    const locations: string[] = [];
    for (const n of nodes) {
      const made = await call(n, 'POST', '/compute/', acme, compute(SMALL));
      expect(made.status, made.text).toBe(201);
      locations.push(made.location!);
    }
    for (const location of locations) {
      for (const n of nodes) {
        const own = await call(n, 'GET', location, acme);
        expect(own.status, `${location} through ${n.url}: ${own.text}`).toBe(200);
        const other = await call(n, 'GET', location, globex);
        expect(other.status, other.text).toBe(404);
        expect((await call(n, 'DELETE', location, globex)).status).toBe(404);
      }
    }
    const absent = await call(nodes[1]!, 'GET', '/compute/00000000-0000-4000-8000-000000000000', globex);
    expect(absent.status).toBe(404);
    expect(absent.json().error.message.replace(/[0-9a-f-]{36}/, 'ID')).toBe(
      (await call(nodes[1]!, 'GET', locations[0]!.replace(/^https?:\/\/[^/]+/, ''), globex)).json().error.message.replace(/[0-9a-f-]{36}/, 'ID'),
    );
    // No member was asked which node holds an id: the owner and the holder were on the ring.
    expect(asked).toBe(0);
  }, 60_000);
});

describe('a tenant\'s collections over the overlay', () => {
  it('are asked of the nodes on record as holding the tenant\'s entities only, and are complete', async () => {
    const t = nodes[0]!.auth.issue({ tenant: 'ring-list', admin: false }).token;
    const made = [];
    for (const n of [nodes[0]!, nodes[2]!]) {
      const r = await call(n, 'POST', '/compute/', t, compute(SMALL));
      expect(r.status, r.text).toBe(201);
      made.push(r.location!.split('/').pop()!);
    }
    // q2 holds none of the tenant's entities: counted if asked (its answer, empty, is the right one).
    let asked = 0;
    nodes[1]!.mesh!.unhandle('occi/list');
    nodes[1]!.mesh!.handle('occi/list', () => (asked++, []));
    for (const through of nodes) {
      const listed = await call(through, 'GET', '/compute/', t);
      expect(listed.status).toBe(200);
      expect(listed.partial).toBeNull();
      expect(listed.json().resources.map((r: { id: string }) => r.id).sort()).toEqual([...made].sort());
    }
    expect(asked).toBe(0);
    // An admin's listing still asks every member.
    expect((await call(nodes[0]!, 'GET', '/compute/', admin)).status).toBe(200);
    expect(asked).toBe(1);
  }, 60_000);
});

describe('quotas over the overlay, counted on the ring directory', () => {
  it('the mesh is the overlay: usage is not asked of every member', () => {
    for (const n of nodes) expect(n.mesh!.stats().overlay).toBeDefined();
  });

  it('refuses, naming the quota, what would exceed it counting the parts published by the other nodes', async () => {
    const t = nodes[0]!.auth.issue({ tenant: 'ring-q', admin: false }).token;
    expect((await call(nodes[0]!, 'PUT', '/.well-known/discovery/tenants/ring-q', admin, { instances: 2, cores: 3, storageGiB: 10 })).status).toBe(200);
    const first = await call(nodes[0]!, 'POST', '/compute/', t, compute(SMALL));
    expect(first.status, first.text).toBe(201);
    const second = await call(nodes[1]!, 'POST', '/compute/', t, compute(MEDIUM_OR));
    expect(second.status, second.text).toBe(201);
    // Two instances and three cores used, on two nodes: the third node holds none of them.
    const third = await call(nodes[2]!, 'POST', '/compute/', t, compute(SMALL));
    expect(third.status, third.text).toBe(403);
    expect(third.json().error.code).toBe('QUOTA_EXCEEDED');
    expect(third.json().error.message).toMatch(/quota instances of tenant ring-q exceeded: 2 used \+ 1 requested > 2/);
    const grow = await call(nodes[2]!, 'POST', second.location!, t, { attributes: { 'occi.compute.cores': 4 } });
    expect(grow.status, grow.text).toBe(403);
    expect(grow.json().error.message).toContain('quota cores of tenant ring-q exceeded: 3 used + 2 requested > 3');
    const disk = await call(nodes[2]!, 'POST', '/storage/', t, { kind: STORAGE, attributes: { 'occi.storage.size': 8 } });
    expect(disk.status, disk.text).toBe(201);
    const resize = await call(nodes[0]!, 'POST', `${disk.location}?action=resize`, t, { action: 'http://schemas.ogf.org/occi/infrastructure/storage/action#resize', attributes: { size: 20 } });
    expect(resize.status, resize.text).toBe(403);
    expect(resize.json().error.message).toContain('quota storage (GiB) of tenant ring-q exceeded: 8 used + 12 requested > 10');
    const usage = await call(nodes[1]!, 'GET', '/.well-known/discovery/tenants/ring-q', admin);
    expect(usage.json().usage).toMatchObject({ instances: 2, cores: 3, storageGiB: 8 });
  }, 60_000);

  it('frees the quota when a resource is deleted through another node: a creation elsewhere is admitted again', async () => {
    const t = nodes[0]!.auth.issue({ tenant: 'ring-r', admin: false }).token;
    expect((await call(nodes[0]!, 'PUT', '/.well-known/discovery/tenants/ring-r', admin, { instances: 1 })).status).toBe(200);
    const made = await call(nodes[1]!, 'POST', '/compute/', t, compute(SMALL));
    expect(made.status, made.text).toBe(201);
    expect((await call(nodes[2]!, 'POST', '/compute/', t, compute(SMALL))).status).toBe(403);
    expect((await call(nodes[0]!, 'DELETE', made.location!, t)).status).toBe(200);
    const again = await call(nodes[2]!, 'POST', '/compute/', t, compute(SMALL));
    expect(again.status, again.text).toBe(201);
    expect((await call(nodes[0]!, 'POST', '/compute/', t, compute(SMALL))).status).toBe(403);
  }, 60_000);
});
