/**
 * A 3-node in-process cluster for the console's tests: FR, DE and JP with the countries' RTTs
 * injected into the mesh, simulated hosts of 2 cores (three busy small computes overload one),
 * token authentication (the first node issues, every node verifies), optional CORS origins.
 *
 * @example
 *   const cc = await startConsoleCluster({ corsOrigins: ['http://127.0.0.1:5555'] });
 *   const acme = cc.tenant('acme');
 *   await cc.create(cc.admin, 0, 'web', 'JP');   // POST /compute/ through node 0, near JP
 *   await cc.close();
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import createTestnet, { type Testnet } from 'hyperdht/testnet.js';
import type { SimulatedHypervisor } from '../../src/hypervisor/simulated/simulated-hypervisor.js';
import { COUNTRIES_RTT_MATRIX } from '../../src/mesh/rtt-matrix.js';
import { issuerKeyFiles, type SecureNode, startSecureNode } from '../security/security-helpers.js';
import { COMPUTE, SMALL } from '../helpers/node.js';

export const NAMES = ['node-fr', 'node-de', 'node-jp'] as const;
export const SITES = ['FR', 'DE', 'JP'] as const;
export const LOCALITY = 'http://schemas.discovery-cloud.org/occi/placement#locality';
const HOST = 'sim:///?cores=2&memoryMiB=4096&cpuOvercommit=4';

export interface ConsoleCluster {
  nodes: SecureNode[];
  testnet: Testnet;
  /** The first node's admin token, valid on every node. */
  admin: string;
  /** A token of this tenant, valid on every node. */
  tenant(name: string): string;
  sim(i: number): SimulatedHypervisor;
  /** Creates a small compute through node `through` (near a site or node when given); returns its id. */
  create(token: string, through: number, title: string, near?: string): Promise<string>;
  close(): Promise<void>;
}

export async function startConsoleCluster(opts: { corsOrigins?: string[]; metricsPort?: number } = {}): Promise<ConsoleCluster> {
  const testnet = await createTestnet(3, { host: '127.0.0.1' });
  const keys = issuerKeyFiles();
  const secret = `console-${randomBytes(6).toString('hex')}`;
  const nodes: SecureNode[] = [];
  const close = async () => {
    await Promise.allSettled(nodes.map((n) => n.dispose()));
    await testnet.destroy();
    rmSync(keys.dir, { recursive: true, force: true });
  };
  try {
    for (const [i, name] of NAMES.entries()) {
      const node = await startSecureNode(
        {
          name,
          backend: undefined,
          hypervisor: HOST,
          corsOrigins: opts.corsOrigins,
          ...(opts.metricsPort !== undefined ? { metricsPort: opts.metricsPort } : {}),
          tokenKeys: { trustedKeysFile: keys.trustedKeysFile, ...(i === 0 ? { issuerKeyFile: keys.issuerKeyFile } : {}) },
          mesh: {
            secret,
            bootstrap: testnet.bootstrap,
            site: SITES[i],
            rttMatrix: COUNTRIES_RTT_MATRIX,
            forwardTimeoutMs: 8000,
            tuning: { connectionTimeoutMs: 2000, heartbeatTimeoutMs: 2500, requestTimeoutMs: 4000 },
            cloud: {
              samplingMs: 300,
              admissionTimeoutMs: 10_000,
              agent: { unsolvableBackoffMs: 200, leaseMs: 3000, keepaliveMs: 1000 },
              failures: { recoveryRetryMs: 1000, claimTtlMs: 5000, fenceWaitMs: 5000, restartCheckMs: 500, replicationTimeoutMs: 3000, drainRetryMs: 2000 },
            },
          },
        },
        nodes[0]?.adminToken,
      );
      nodes.push(node);
    }
    await Promise.all(nodes.map((n) => n.mesh!.waitForMembers(NAMES.length - 1, 30_000)));
    await Promise.all(nodes.map((n) => n.auth.replication?.flushed()));
  } catch (err) {
    await close();
    throw err;
  }
  const tokens = new Map<string, string>();
  return {
    nodes,
    testnet,
    admin: nodes[0]!.adminToken,
    tenant: (name) => {
      if (!tokens.has(name)) tokens.set(name, nodes[0]!.auth.issue({ tenant: name, admin: false }).token);
      return tokens.get(name)!;
    },
    sim: (i) => nodes[i]!.hypervisor as SimulatedHypervisor,
    create: async (token, through, title, near) => {
      const res = await fetch(`${nodes[through]!.url}/compute/`, {
        method: 'POST',
        headers: { 'X-Auth-Token': token, 'Content-Type': 'application/occi+json', Accept: 'application/occi+json' },
        body: JSON.stringify({ kind: COMPUTE, mixins: [SMALL, ...(near ? [LOCALITY] : [])], attributes: { 'occi.core.title': title, ...(near ? { 'discovery.locality.near': near } : {}) } }),
      });
      const text = await res.text();
      if (res.status !== 201) throw new Error(`creation of ${title}: ${res.status} ${text}`);
      return (JSON.parse(text) as { id: string }).id;
    },
    close,
  };
}
