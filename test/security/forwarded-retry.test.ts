/**
 * A forwarded request retried after its reply was lost, through two secure nodes: the body (beyond
 * one message, so in chunks) is sent again with a new envelope, which the holder accepts as new.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ForwardHandler } from '../../src/mesh/http-forwarding.js';
import { COMPUTE, SMALL } from './cluster-fixtures.js';
import { type SecureNode, startSecureCluster } from './security-helpers.js';

const J = 'application/json';
let cluster: Awaited<ReturnType<typeof startSecureCluster>>;
let nodes: SecureNode[];
let token: string;
let compute: string;

beforeAll(async () => {
  // Members stay members while a connection is replaced.
  cluster = await startSecureCluster(['f1', 'f2'], undefined, { reconnectGraceMs: 5000, requestTimeoutMs: 10_000 });
  nodes = cluster.nodes;
  token = nodes[0]!.auth.issue({ tenant: 'acme', admin: false }).token;
  const made = await call(nodes[0]!, 'POST', '/compute/', { kind: COMPUTE, mixins: [SMALL], attributes: { 'occi.core.title': 'first' } });
  expect(made.status).toBe(201);
  compute = made.headers.get('location')!;
}, 90_000);
afterAll(() => cluster?.dispose());

function call(node: SecureNode, method: string, path: string, body?: unknown) {
  return fetch(`${node.url}${path}`, {
    method,
    headers: { Accept: J, 'X-Auth-Token': token, ...(body === undefined ? {} : { 'Content-Type': J }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

describe('a forwarded request whose reply was lost', () => {
  it('a chunked PUT through the other node is repeated with a new envelope and served (200), the holder keeping the new state', async () => {
    const holder = nodes[0]!.mesh! as unknown as { forwarding: { handler: ForwardHandler }; swarm: { connections: Set<{ destroy(): void }> } };
    const serve = holder.forwarding.handler;
    const statuses: number[] = [];
    holder.forwarding.handler = async (req, fromKey) => {
      const res = await serve(req, fromKey);
      statuses.push(res.status);
      // The first answer is lost with the connection it would have travelled on.
      if (statuses.length === 1) {
        for (const conn of holder.swarm.connections) conn.destroy();
        await new Promise((r) => setTimeout(r, 50));
      }
      return res;
    };
    try {
      const summary = 'x'.repeat(700 * 1024);
      const res = await call(nodes[1]!, 'PUT', compute, { kind: COMPUTE, mixins: [SMALL], attributes: { 'occi.core.title': 'second', 'occi.core.summary': summary } });
      expect(res.status).toBe(200);
      // Served twice, each time with an envelope the holder had not seen.
      expect(statuses).toEqual([200, 200]);
      const read = await call(nodes[0]!, 'GET', compute);
      const entity = (await read.json()) as { title?: string; summary?: string };
      expect(entity.title).toBe('second');
      expect(entity.summary).toHaveLength(summary.length);
    } finally {
      holder.forwarding.handler = serve;
    }
  }, 60_000);
});
