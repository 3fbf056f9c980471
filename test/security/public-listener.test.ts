/**
 * What the mesh verified is a mark on the request object (src/http/forwarded-request.ts): no
 * header sent to a node's public listener claims it, and a forwarded request captured as members
 * exchange it, replayed to the public port, is only what its headers say to any client.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ForwardOptions } from '../../src/mesh/forwarding.js';
import { stripHopByHop, type ForwardedRequest } from '../../src/mesh/http-forwarding.js';
import { COMPUTE, SMALL } from './cluster-fixtures.js';
import { type SecureNode, startSecureCluster } from './security-helpers.js';

const J = 'application/json';
let cluster: Awaited<ReturnType<typeof startSecureCluster>>;
let nodes: SecureNode[];
let acme: string;
let globexCompute: string;
/** Every request node 2 forwarded to a member, as the mesh carried it. */
const captured: ForwardedRequest[] = [];
type Forward = (key: string, req: ForwardedRequest, options?: ForwardOptions) => Promise<unknown>;

/** The headers the internal paths once used, or use now on the request object's side. */
const INTERNAL = (id: string, envelope: string) => ({
  'x-discovery-dispatch': randomUUID(),
  'x-discovery-principal': envelope,
  'x-discovery-admitted': id,
  'x-discovery-local': 'f'.repeat(64),
  'x-discovery-auth-tenant': 'admin',
  'x-discovery-auth-admin': 'true',
  'x-discovery-auth-token-id': 'abcdefghijkl',
  'x-discovery-forwarded-from': 'n1',
});

beforeAll(async () => {
  cluster = await startSecureCluster(['p1', 'p2', 'p3']);
  nodes = cluster.nodes;
  acme = nodes[0]!.auth.issue({ tenant: 'acme', admin: false }).token;
  const globex = nodes[0]!.auth.issue({ tenant: 'globex', admin: false }).token;
  const made = await call(nodes[0]!, 'POST', '/compute/', { 'X-Auth-Token': globex }, { kind: COMPUTE, mixins: [SMALL], attributes: { 'occi.core.title': 'globex-secret' } });
  expect(made.status).toBe(201);
  globexCompute = made.headers.get('location')!;
  // The mesh RPC of node 2, where a forwarded request is what the wire between members carries.
  const forwarding = (nodes[1]!.mesh! as unknown as { forwarding: { forward: Forward } }).forwarding;
  const forward = forwarding.forward.bind(forwarding);
  forwarding.forward = (key, req, o = {}) => {
    // What the mesh carries: the request without its hop-by-hop headers, with the envelope sealed for the attempt.
    const carried: ForwardedRequest = { ...req, headers: stripHopByHop(req.headers) };
    captured.push(carried);
    const seal = o.attemptHeaders;
    const attemptHeaders = seal ? () => (carried.headers = stripHopByHop({ ...req.headers, ...seal() })) : undefined;
    return forward(key, req, { ...o, ...(attemptHeaders ? { attemptHeaders } : {}) });
  };
  // Requests node 2 forwards to node 1, which holds the compute: the admin's and a tenant's.
  expect((await call(nodes[1]!, 'GET', globexCompute, { 'X-Auth-Token': nodes[0]!.adminToken })).status).toBe(200);
  expect((await call(nodes[1]!, 'DELETE', `/compute/${randomUUID()}`, { 'X-Auth-Token': nodes[0]!.adminToken })).status).toBe(404);
  expect((await call(nodes[1]!, 'POST', globexCompute, { 'X-Auth-Token': globex }, { attributes: { 'occi.core.title': 'renamed' } })).status).toBe(200);
  expect(captured.length).toBeGreaterThanOrEqual(2);
}, 90_000);
afterAll(() => cluster?.dispose());

async function call(node: SecureNode, method: string, path: string, headers: Record<string, string>, body?: unknown) {
  const res = await fetch(`${node.url}${path}`, { method, headers: { Accept: J, ...(body === undefined ? {} : { 'Content-Type': J }), ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe('regression: internal headers sent to the public listener give no privilege', () => {
  it('without a token: 401 everywhere, whatever internal header comes with it', async () => {
    const envelope = String(captured.find((c) => c.headers['x-discovery-principal'])?.headers['x-discovery-principal']);
    for (const n of nodes) {
      for (const [name, value] of Object.entries(INTERNAL(randomUUID(), envelope))) {
        for (const [method, path] of [['GET', '/.well-known/discovery/tokens/'], ['POST', '/.well-known/discovery/tokens/'], ['DELETE', globexCompute], ['GET', '/compute/']] as const) {
          const res = await call(n, method, path, { [name]: value }, method === 'POST' ? { tenant: 'admin', admin: true } : undefined);
          expect(res.status, `${method} ${path} with ${name} at ${n.url}`).toBe(401);
        }
      }
      // All of them at once.
      expect((await call(n, 'GET', '/.well-known/discovery/tokens/', INTERNAL(randomUUID(), envelope))).status).toBe(401);
    }
    expect(nodes[0]!.service.holds(globexCompute.split('/').pop()!)).toBe(true);
  });

  it("with a tenant's token: still that tenant only (no admin endpoint, no other tenant's entity, no chosen id)", async () => {
    const envelope = String(captured.find((c) => c.headers['x-discovery-principal'])?.headers['x-discovery-principal']);
    for (const n of nodes) {
      const headers = { 'X-Auth-Token': acme, ...INTERNAL(globexCompute.split('/').pop()!, envelope) };
      expect((await call(n, 'GET', '/.well-known/discovery/tokens/', headers)).status).toBe(403);
      expect((await call(n, 'GET', globexCompute, headers)).status).toBe(404);
      expect((await call(n, 'DELETE', globexCompute, headers)).status).toBe(404);
      // x-discovery-admitted names a compute id: a creation still gets an id of its own.
      const made = await call(n, 'POST', '/compute/', headers, { kind: COMPUTE, mixins: [SMALL], attributes: {} });
      expect(made.status).toBe(201);
      expect(made.headers.get('location')).not.toBe(globexCompute);
    }
    expect(nodes[0]!.service.holds(globexCompute.split('/').pop()!)).toBe(true);
  });

  it('a captured forwarded request replayed to the public port of its target and of every node: an unauthenticated request', async () => {
    for (const req of captured) {
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['x-auth-token', 'authorization', 'host', 'content-length', 'connection'].includes(k)).map(([k, v]) => [k, String(v)]));
      for (const n of nodes) {
        const res = await fetch(`${n.url}${req.path}`, { method: req.method, headers, body: req.body.length ? new Uint8Array(req.body) : undefined });
        expect(res.status, `${req.method} ${req.path} replayed at ${n.url}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer realm="occi"');
      }
    }
    expect(nodes[0]!.service.holds(globexCompute.split('/').pop()!)).toBe(true);
  });

  it("replayed with the client's own token it is that client's request, nothing more: the envelope is ignored", async () => {
    const tenantCall = captured.find((c) => c.method === 'POST')!;
    const headers = Object.fromEntries(Object.entries(tenantCall.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k)).map(([k, v]) => [k, String(v)]));
    // The globex request, replayed at an admin endpoint: the envelope named no admin, nor does the token.
    expect((await fetch(`${nodes[0]!.url}/.well-known/discovery/tokens/`, { headers })).status).toBe(403);
  });
});
