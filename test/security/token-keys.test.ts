/**
 * Tokens signed by issuers, verified by members (src/http/auth/token-keys.ts): a member without the
 * issuer key cannot mint a token the others accept; keys rotate without invalidating the tokens of
 * the old one; a revoked key, and the key of a revoked node, stop counting everywhere.
 */
import { createPublicKey } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ed25519PrivateKey } from '../../src/http/auth/forwarded-principal.js';
import { keyId, newClaims, publicJwk, signToken } from '../../src/http/auth/token.js';
import { writeIssuerKey } from '../../src/http/auth/token-keys.js';
import { until } from '../helpers/mesh-cluster.js';
import { type SecureNode, startSecureCluster } from './security-helpers.js';

let cluster: Awaited<ReturnType<typeof startSecureCluster>>;
let nodes: SecureNode[];

beforeAll(async () => {
  cluster = await startSecureCluster(['k1', 'k2', 'k3']);
  nodes = cluster.nodes;
}, 90_000);
afterAll(() => cluster?.dispose());

const status = async (n: SecureNode, token: string) => (await fetch(`${n.url}/compute/`, { headers: { 'X-Auth-Token': token, Accept: 'application/json' } })).status;
const statuses = (token: string) => Promise.all(nodes.map((n) => status(n, token)));

describe('issuers sign, members verify', () => {
  it('a token of the issuer verifies on every member; a member has no key to issue with', async () => {
    const { token } = nodes[0]!.auth.issue({ tenant: 'acme', admin: false });
    expect(await statuses(token)).toEqual([200, 200, 200]);
    expect(nodes[1]!.auth.issues).toBe(false);
    expect(() => nodes[1]!.auth.issue({ tenant: 'acme', admin: true })).toThrow(/does not issue/);
    const asked = await fetch(`${nodes[1]!.url}/.well-known/discovery/tokens/`, { method: 'POST', headers: { 'X-Auth-Token': nodes[0]!.adminToken, 'Content-Type': 'application/json' }, body: JSON.stringify({ tenant: 'admin', admin: true }) });
    expect(asked.status).toBe(403);
  });

  it('regression: a compromised member mints an admin token with what it holds (its mesh key, or the issuer kid): refused everywhere', async () => {
    const meshKey = ed25519PrivateKey(nodes[1]!.mesh!.keyPair);
    const claims = newClaims({ tenant: 'admin', admin: true, iss: nodes[1]!.mesh!.key });
    const ownKid = signToken({ kid: keyId(createPublicKey(meshKey)), privateKey: meshKey }, claims);
    const issuerKid = signToken({ kid: nodes[0]!.auth.keys!.signer!.kid, privateKey: meshKey }, claims);
    expect(await statuses(ownKid)).toEqual([401, 401, 401]);
    expect(await statuses(issuerKid)).toEqual([401, 401, 401]);
  });

  it('rotation: a new key added to the JWKS verifies at once on every member, and the old key\'s tokens stay valid', async () => {
    const old = nodes[0]!.auth.issue({ tenant: 'acme', admin: false }).token;
    const next = writeIssuerKey(join(cluster.keys.dir, 'next.jwk'));
    const fresh = signToken(next, newClaims({ tenant: 'acme', admin: false, iss: 'offline' }));
    expect(await statuses(fresh)).toEqual([401, 401, 401]);
    const jwks = JSON.parse(readFileSync(cluster.keys.trustedKeysFile, 'utf8')) as { keys: unknown[] };
    writeFileSync(cluster.keys.trustedKeysFile, JSON.stringify({ keys: [...jwks.keys, publicJwk(next.publicKey)] }));
    await until('every member reads the new JWKS', async () => (await statuses(fresh)).every((s) => s === 200), 10_000, 200);
    expect(await statuses(old)).toEqual([200, 200, 200]);
  });

  it('a revoked key: every token it signed is refused by every member', async () => {
    const next = writeIssuerKey(join(cluster.keys.dir, 'revoked.jwk'));
    const jwks = JSON.parse(readFileSync(cluster.keys.trustedKeysFile, 'utf8')) as { keys: unknown[] };
    writeFileSync(cluster.keys.trustedKeysFile, JSON.stringify({ keys: [...jwks.keys, publicJwk(next.publicKey)] }));
    const token = signToken(next, newClaims({ tenant: 'acme', admin: false, iss: 'offline' }));
    await until('the key is trusted', async () => (await statuses(token)).every((s) => s === 200), 10_000, 200);
    const res = await fetch(`${nodes[2]!.url}/.well-known/discovery/keys/${next.kid}`, { method: 'DELETE', headers: { 'X-Auth-Token': nodes[0]!.adminToken } });
    expect(res.status).toBe(200);
    await until('refused everywhere', async () => (await statuses(token)).every((s) => s === 401), 5_000, 100);
    const body = await (await fetch(`${nodes[1]!.url}/compute/`, { headers: { 'X-Auth-Token': token, Accept: 'application/json' } })).json();
    expect(body.error.message).toContain('revoked key');
  });

  it("a revoked node's key stops counting: once the issuer is revoked, its tokens are refused by the others", async () => {
    const { token } = nodes[0]!.auth.issue({ tenant: 'acme', admin: false });
    expect(await statuses(token)).toEqual([200, 200, 200]);
    const issuer = nodes[0]!.mesh!.key;
    const left = nodes.slice(1).map((n) => once(n.mesh!, 'member-left'));
    for (const n of nodes.slice(1)) n.mesh!.revoke(issuer);
    await Promise.all(left);
    for (const n of nodes.slice(1)) {
      await until(`${n.url} refuses the revoked node's tokens`, async () => (await status(n, token)) === 401, 5_000, 100);
      expect(n.auth.store.isKeyRevoked(nodes[0]!.auth.keys!.signer!.kid)).toBe(true);
    }
  }, 30_000);
});
