/**
 * In-process meshes for the one-cloud tests: nodes with simulated hosts on a loopback testnet, fast
 * timings, and an abrupt stop that looks like a crash to the others (no clean-leave notice, the
 * mesh connections destroyed).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import createTestnet, { type Testnet } from 'hyperdht/testnet.js';
import { pino } from 'pino';
import { startNode, type NodeCloudOptions, type RunningNode } from '../../src/node.js';
import { COMPUTE, SMALL } from './node.js';

/** Each host takes two small computes (1 core, 1 GiB each). */
export const HOST = 'sim:///?cores=2&memoryMiB=2048';

export interface Cluster {
  testnet: Testnet;
  nodes: Array<RunningNode | undefined>;
  names: string[];
  dirs: string[];
  start(i: number): Promise<RunningNode>;
  /** Stops node i as a crash would: no clean-leave notice, connections cut. */
  crash(i: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * `rttMs`: every node on its own site, this RTT between sites (each mesh message waits half of it).
 * `host`: the simulated host of every node (default {@link HOST}). `membership`: the mesh's (default full).
 */
export async function startCluster(secret: string, names: string[], cloud: NodeCloudOptions = {}, net: { rttMs?: number; host?: string; eventLogs?: boolean; membership?: 'full' | 'overlay' } = {}): Promise<Cluster> {
  const testnet = await createTestnet(3, { host: '127.0.0.1' });
  const dirs = names.map((_, i) => mkdtempSync(join(tmpdir(), `failures-${i}-`)));
  let rttMatrix: string | undefined;
  if (net.rttMs !== undefined) {
    rttMatrix = join(dirs[0]!, 'rtt.csv');
    const sites = names.map((_, i) => `s${i}`);
    writeFileSync(rttMatrix, [`site,${sites.join(',')}`, ...sites.map((a) => `${a},${sites.map((b) => (a === b ? 0 : net.rttMs)).join(',')}`)].join('\n'));
  }
  const nodes: Array<RunningNode | undefined> = names.map(() => undefined);
  const start = async (i: number) => {
    const node = await startNode({
      port: 0,
      dataDir: dirs[i]!,
      name: names[i]!,
      hypervisor: net.eventLogs ? withEventLog(net.host ?? HOST, join(dirs[i]!, 'sim-events.jsonl')) : (net.host ?? HOST),
      auth: 'none',
      logger: pino({ level: process.env['TEST_LOG'] ?? 'silent' }),
      mesh: {
        secret,
        bootstrap: testnet.bootstrap,
        ...(rttMatrix ? { rttMatrix, site: `s${i}` } : {}),
        forwardTimeoutMs: 5000,
        ...(net.membership ? { membership: net.membership } : {}),
        tuning: { connectionTimeoutMs: 1500, heartbeatTimeoutMs: 1500, requestTimeoutMs: 3000 },
        cloud: {
          samplingMs: 500,
          admissionTimeoutMs: 8000,
          ...cloud,
          agent: { unsolvableBackoffMs: 200, leaseMs: 3000, keepaliveMs: 1000, ...cloud.agent },
          failures: { recoveryRetryMs: 1000, claimTtlMs: 5000, fenceWaitMs: 5000, restartCheckMs: 500, replicationTimeoutMs: 1500, drainRetryMs: 2000, ...cloud.failures },
        },
      },
    });
    nodes[i] = node;
    return node;
  };
  for (let i = 0; i < names.length; i++) await start(i);
  await Promise.all(nodes.map((n) => n!.mesh!.waitForMembers(names.length - 1, 20_000)));
  return {
    testnet,
    nodes,
    names,
    dirs,
    start,
    crash: async (i) => {
      const node = nodes[i]!;
      node.cloud!.agent.destroy();
      await node.resilience!.close(false);
      await node.mesh!.destroy();
      await node.close();
      nodes[i] = undefined;
    },
    close: async () => {
      await Promise.allSettled(nodes.map((n) => n?.close()));
      await testnet.destroy();
      dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
    },
  };
}

/** The simulated host URI with its domains' state changes logged to `file` (simulated/event-log.ts). */
function withEventLog(uri: string, file: string): string {
  const url = new URL(uri === 'sim' ? 'sim:///' : uri);
  url.searchParams.set('eventLog', file);
  return url.toString();
}

export const small = (title: string, extra: { mixins?: string[]; attributes?: Record<string, unknown> } = {}) => ({
  kind: COMPUTE,
  mixins: [SMALL, ...(extra.mixins ?? [])],
  attributes: { 'occi.core.title': title, ...extra.attributes },
});

/** Polls `check` until it returns a value other than undefined/false; bounded. */
export async function until<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** Which live nodes hold compute `id` (by name). */
export function holdersOf(cluster: Cluster, id: string): string[] {
  return cluster.nodes.filter((n): n is RunningNode => n !== undefined && n.service.holds(id)).map((n) => cluster.names[cluster.nodes.indexOf(n)]!);
}
