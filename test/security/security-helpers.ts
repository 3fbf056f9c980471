import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import createTestnet, { type Testnet } from 'hyperdht/testnet.js';
import { pino } from 'pino';
import { StateOnlyBackend } from '../../src/occi/backend.js';
import { startNode, type NodeOptions, type RunningNode } from '../../src/node.js';
import { newClaims, signToken } from '../../src/http/auth/token.js';

export interface SecureNode extends RunningNode {
  dataDir: string;
  /** The admin token the node issued on its first start. */
  adminToken: string;
  dispose(): Promise<void>;
}

/** A node with `auth: 'token'` (the default), its first admin token kept instead of printed. */
export async function startSecureNode(opts: Partial<NodeOptions> = {}): Promise<SecureNode> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'secure-node-'));
  const node = await startNode({ port: 0, dataDir, backend: new StateOnlyBackend(), logger: pino({ level: 'silent' }), printAdminToken: false, ...opts });
  const adminToken = node.auth.initialAdminToken;
  if (!adminToken) throw new Error('a fresh data directory issues an admin token');
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

/** A meshed cluster of secure nodes on a loopback testnet, started one after another. */
export async function startSecureCluster(names: string[], secret = `secret-${randomBytes(6).toString('hex')}`): Promise<{ nodes: SecureNode[]; testnet: Testnet; secret: string; dispose(): Promise<void> }> {
  const testnet = await createTestnet(3, { host: '127.0.0.1' });
  const nodes: SecureNode[] = [];
  for (const name of names) {
    nodes.push(
      await startSecureNode({
        name,
        mesh: { secret, bootstrap: testnet.bootstrap, site: name, forwardTimeoutMs: 3000, tuning: { connectionTimeoutMs: 2000, heartbeatTimeoutMs: 2000, requestTimeoutMs: 2000 } },
      }),
    );
  }
  await Promise.all(nodes.map((n) => n.mesh!.waitForMembers(names.length - 1, 20_000)));
  await Promise.all(nodes.map((n) => n.auth.replication?.flushed()));
  return {
    nodes,
    testnet,
    secret,
    dispose: async () => {
      await Promise.allSettled(nodes.map((n) => n.dispose()));
      await testnet.destroy();
    },
  };
}

/** Tokens of every kind for a node: valid ones for two tenants and an admin, and broken ones. */
export async function tokenSet(node: SecureNode): Promise<Record<'acme' | 'globex' | 'admin' | 'expired' | 'revoked' | 'badSignature' | 'malformed', string>> {
  const acme = node.auth.issue({ tenant: 'acme', admin: false }).token;
  const globex = node.auth.issue({ tenant: 'globex', admin: false }).token;
  const expired = signToken(node.auth.key, newClaims({ tenant: 'acme', admin: false, expiresInSec: 60, now: Date.now() - 120_000 }));
  const revoked = node.auth.issue({ tenant: 'acme', admin: false });
  await node.auth.revoke(revoked.meta.tid);
  const badSignature = signToken(randomBytes(32), newClaims({ tenant: 'acme', admin: true }));
  return { acme, globex, admin: node.adminToken, expired, revoked: revoked.token, badSignature, malformed: 'dsc1.not-json.!!' };
}
