/**
 * A user mixin lives on the node it was created on; its collection answers its owner alike through
 * every node (found by its location, then forwarded), before and after it is deleted or created
 * again elsewhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSecureCluster } from './security-helpers.js';

const TAG = { term: 'acmetag', scheme: 'http://acme.example/tags#', location: '/acmetags/' };
let cluster: Awaited<ReturnType<typeof startSecureCluster>>;
let acme: string;
let globex: string;

beforeAll(async () => {
  cluster = await startSecureCluster(['m1', 'm2', 'm3']);
  acme = cluster.nodes[0]!.auth.issue({ tenant: 'acme', admin: false }).token;
  globex = cluster.nodes[0]!.auth.issue({ tenant: 'globex', admin: false }).token;
}, 60_000);
afterAll(() => cluster?.dispose());

const json = (token: string) => ({ 'X-Auth-Token': token, 'Content-Type': 'application/json', Accept: 'application/json' });
const send = (i: number, method: string, path: string, token: string, body?: unknown) =>
  fetch(`${cluster.nodes[i]!.url}${path}`, { method, headers: json(token), body: body === undefined ? undefined : JSON.stringify(body) });
const statuses = (token: string) => Promise.all(cluster.nodes.map(async (_, i) => (await send(i, 'GET', TAG.location, token)).status));

describe('user mixins through every node', () => {
  it('the tag collection answers its owner alike through every node, across deletion and re-creation elsewhere; others get 404 everywhere', async () => {
    expect((await send(0, 'POST', '/-/', acme, { mixins: [TAG] })).status).toBe(200);
    expect(await statuses(acme)).toEqual([200, 200, 200]);
    expect(await statuses(globex)).toEqual([404, 404, 404]);
    expect((await send(2, 'DELETE', '/-/', acme, { mixins: [TAG] })).status).toBe(200);
    expect(await statuses(acme)).toEqual([404, 404, 404]);
    expect((await send(1, 'POST', '/-/', acme, { mixins: [TAG] })).status).toBe(200);
    expect(await statuses(acme)).toEqual([200, 200, 200]);
  });

});
