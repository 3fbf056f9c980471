import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import createTestnet, { type Testnet } from 'hyperdht/testnet.js';
import { pino } from 'pino';
import { StateOnlyBackend } from '../../src/occi/backend.js';
import { startNode, type NodeOptions, type RunningNode } from '../../src/node.js';
import { generateIssuerKey, type IssuerKey, newClaims, publicJwk, signToken } from '../../src/http/auth/token.js';
import { writeIssuerKey } from '../../src/http/auth/token-keys.js';
// Every answer the suites receive is checked against openapi/occi.yaml.
import '../helpers/openapi-conformance.js';

export interface SecureNode extends RunningNode {
  dataDir: string;
  /** The admin token the node issued on its first start (in a cluster: the issuer's). */
  adminToken: string;
  dispose(): Promise<void>;
}

/** A node with `auth: 'token'` (the default), its first admin token kept instead of printed. */
export async function startSecureNode(opts: Partial<NodeOptions> = {}, adminOf?: string): Promise<SecureNode> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'secure-node-'));
  const node = await startNode({ port: 0, dataDir, backend: new StateOnlyBackend(), logger: pino({ level: 'silent' }), printAdminToken: false, ...opts });
  const adminToken = node.auth.initialAdminToken ?? adminOf;
  if (!adminToken) throw new Error('a fresh data directory of an issuer issues an admin token');
  return {
    ...node,
    dataDir,
    adminToken,
    dispose: async () => {
      await node.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** An issuer key file and the JWKS that trusts it, in a fresh directory. */
export function issuerKeyFiles(): { dir: string; issuerKeyFile: string; trustedKeysFile: string; key: IssuerKey } {
  const dir = mkdtempSync(join(tmpdir(), 'token-keys-'));
  const issuerKeyFile = join(dir, 'issuer.jwk');
  const key = writeIssuerKey(issuerKeyFile);
  const trustedKeysFile = join(dir, 'jwks.json');
  writeFileSync(trustedKeysFile, JSON.stringify({ keys: [publicJwk(key.publicKey)] }));
  return { dir, issuerKeyFile, trustedKeysFile, key };
}

/**
 * A meshed cluster of secure nodes on a loopback testnet, started one after another. The first
 * node issues tokens (it holds the issuer key); the others only verify them (they trust its
 * public key).
 */
export async function startSecureCluster(names: string[], secret = `secret-${randomBytes(6).toString('hex')}`, tuning: Record<string, number> = {}, membership: 'full' | 'overlay' = 'full'): Promise<{ nodes: SecureNode[]; testnet: Testnet; secret: string; keys: ReturnType<typeof issuerKeyFiles>; dispose(): Promise<void> }> {
  const testnet = await createTestnet(3, { host: '127.0.0.1' });
  const keys = issuerKeyFiles();
  const nodes: SecureNode[] = [];
  for (const [i, name] of names.entries()) {
    nodes.push(
      await startSecureNode(
        {
          name,
          tokenKeys: { trustedKeysFile: keys.trustedKeysFile, ...(i === 0 ? { issuerKeyFile: keys.issuerKeyFile } : {}) },
          mesh: { secret, bootstrap: testnet.bootstrap, site: name, membership, forwardTimeoutMs: 3000, tuning: { connectionTimeoutMs: 2000, heartbeatTimeoutMs: 2000, requestTimeoutMs: 2000, ...tuning } },
        },
        nodes[0]?.adminToken,
      ),
    );
  }
  await Promise.all(nodes.map((n) => n.mesh!.waitForMembers(names.length - 1, 20_000)));
  await Promise.all(nodes.map((n) => n.auth.replication?.flushed()));
  return {
    nodes,
    testnet,
    secret,
    keys,
    dispose: async () => {
      await Promise.allSettled(nodes.map((n) => n.dispose()));
      await testnet.destroy();
      rmSync(keys.dir, { recursive: true, force: true });
    },
  };
}

/** Tokens of every kind for a node: valid ones for two tenants and an admin, and broken ones. */
export async function tokenSet(node: SecureNode): Promise<Record<'acme' | 'globex' | 'admin' | 'expired' | 'revoked' | 'badSignature' | 'malformed', string>> {
  const acme = node.auth.issue({ tenant: 'acme', admin: false }).token;
  const globex = node.auth.issue({ tenant: 'globex', admin: false }).token;
  const signer = node.auth.keys!.signer!;
  const expired = signToken(signer, newClaims({ tenant: 'acme', admin: false, expiresInSec: 60, now: Date.now() - 120_000 }));
  const revoked = node.auth.issue({ tenant: 'acme', admin: false });
  await node.auth.revoke(revoked.meta.tid);
  // The kid of the node's key, the signature of another key.
  const badSignature = signToken({ kid: signer.kid, privateKey: generateIssuerKey().privateKey }, newClaims({ tenant: 'acme', admin: true }));
  return { acme, globex, admin: node.adminToken, expired, revoked: revoked.token, badSignature, malformed: 'dsc1.not-json.!!' };
}
