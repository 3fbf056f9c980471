/**
 * Mesh benchmark (loopback testnet, no injected delay):
 *   npm run bench:mesh [-- --sizes 10,50,100 --processes 4 --calls 2000 --nodes 10]
 * 1. full membership mode: time to full membership for `nodes` nodes started at once (in one
 *    process), RPC round trip p50/p99 between two members;
 * 2. GET comparisons: each scenario measures a `local` and a `forwarded` variant of the same
 *    request. The built-in one serves a forwarded request through mesh.forward/serveForwarded
 *    against calling the same handler directly; `http-get-compute` is a real GET of a compute at
 *    its node and through another node;
 * 3. overlay membership mode, for each of `sizes`: real meshes in `processes` child processes
 *    (bench/overlay-mesh.ts), measured with the simulator's figures.
 * Prints one JSON object on stdout; progress on stderr. Bounded: fixed iteration counts, bounded
 * waits and a global watchdog that also ends the child processes and the testnets.
 */
import { Command } from 'commander';
import createTestnet from 'hyperdht/testnet.js';
import { pino } from 'pino';
import type { ForwardedRequest, ForwardedResponse } from '../src/mesh/http-forwarding.js';
import { Mesh } from '../src/mesh/mesh.js';
import { terminalProgress } from '../src/cli/progress.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateOnlyBackend } from '../src/occi/backend.js';
import { startNode } from '../src/node.js';
import { abortOverlayRuns, measureOverlay } from './overlay-mesh.js';

const DEFAULT_NODES = 10;
const DEFAULT_CALLS = 2000;
const WARMUP_CALLS = 200;
/** The watchdog: this long for the full-mode part, and this long more per overlay size (ms). */
const WATCHDOG_BASE_MS = 180_000;
const WATCHDOG_PER_SIZE_MS = 420_000;

/** A GET measured locally and forwarded one mesh hop; `setup` gets the entry and target meshes. */
export interface GetScenario {
  name: string;
  setup(entry: Mesh, target: Mesh): Promise<{ local(): Promise<unknown>; forwarded(): Promise<unknown>; close(): Promise<void> }>;
}

/** Mesh-only scenario: the same handler, called directly vs. through mesh.forward. */
export const meshForwardScenario: GetScenario = {
  name: 'forward-handler',
  async setup(entry, target) {
    const body = Buffer.from(JSON.stringify({ id: 'vm-1', kind: 'compute', state: 'active' }));
    const handler = (req: ForwardedRequest): ForwardedResponse => ({
      status: 200,
      headers: { 'content-type': 'application/json', 'x-path': req.path },
      body,
    });
    target.serveForwarded(handler);
    const req: ForwardedRequest = { method: 'GET', path: '/compute/vm-1', headers: { accept: 'application/json' }, body: Buffer.alloc(0) };
    return {
      local: async () => handler(req),
      forwarded: () => entry.forward(target.key, req, { timeoutMs: 5000 }),
      close: async () => undefined,
    };
  },
};

export const scenarios: GetScenario[] = [meshForwardScenario];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

async function timeCalls(n: number, fn: () => Promise<unknown>): Promise<{ p50: number; p99: number; mean: number }> {
  for (let i = 0; i < Math.min(WARMUP_CALLS, n); i++) await fn();
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  const r = (x: number): number => Math.round(x * 1000) / 1000;
  return { p50: r(percentile(t, 0.5)), p99: r(percentile(t, 0.99)), mean: r(t.reduce((a, b) => a + b, 0) / t.length) };
}

/** Two full nodes on the testnet; the compute lives on the second. */
async function httpGetComparison(bootstrap: Array<{ host: string; port: number }>, calls: number) {
  const dirs = [0, 1].map((i) => mkdtempSync(join(tmpdir(), `bench-mesh-${i}-`)));
  const nodes = [];
  for (const [i, dataDir] of dirs.entries()) {
    nodes.push(await startNode({ port: 0, dataDir, name: `http-${i}`, backend: new StateOnlyBackend(), logger: pino({ level: 'silent' }), auth: 'none', mesh: { secret: 'bench-http', bootstrap } }));
  }
  try {
    await Promise.all(nodes.map((n) => n.mesh!.waitForMembers(1, 30_000)));
    const [entry, holder] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const created = await fetch(`${holder.url}/compute/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/occi+json' },
      body: JSON.stringify({ kind: 'http://schemas.ogf.org/occi/infrastructure#compute' }),
    });
    const location = created.headers.get('location')!;
    const get = (base: string) => async () => {
      const res = await fetch(`${base}${location}`, { headers: { Accept: 'application/occi+json' } });
      if (res.status !== 200) throw new Error(`GET ${base}${location}: ${res.status}`);
      await res.arrayBuffer();
    };
    const local = await timeCalls(calls, get(holder.url));
    const forwarded = await timeCalls(calls, get(entry.url));
    return {
      local,
      forwarded,
      p50_difference_ms: Math.round((forwarded.p50 - local.p50) * 1000) / 1000,
      p99_difference_ms: Math.round((forwarded.p99 - local.p99) * 1000) / 1000,
      goal_p50_difference_ms: 1,
    };
  } finally {
    await Promise.allSettled(nodes.map((n) => n.close()));
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  }
}

const numbers = (v: string): number[] => v.split(',').map(Number);

async function main(): Promise<void> {
  const opts = new Command()
    .option('--nodes <n>', 'nodes for the full-mode membership timing', Number, DEFAULT_NODES)
    .option('--calls <n>', 'calls per latency measurement', Number, DEFAULT_CALLS)
    .option('--sizes <list>', 'overlay mesh sizes (nodes), comma-separated', numbers, [10, 50, 100])
    .option('--processes <n>', 'child processes the overlay nodes are spread over', Number, 4)
    .option('--bound <n>', 'maxConnections of each overlay node', Number, 12)
    .option('--stagger-ms <n>', 'delay between the starts of the overlay nodes of one process', Number, 0)
    .option('--sync-ms <n>', "the overlay's push-pull sync interval (default LAN_OVERLAY's)", Number)
    .option('--converge-s <n>', 'full membership of the overlay nodes is waited for this long at most', Number, 180)
    .option('--publishers <n>', 'overlay nodes putting a record each on the ring directory', Number, 5)
    .option('--victims <n>', 'overlay nodes destroyed one after the other', Number, 3)
    .parse()
    .opts<{ nodes: number; calls: number; sizes: number[]; processes: number; bound: number; staggerMs: number; syncMs?: number; convergeS: number; publishers: number; victims: number }>();
  const progress = terminalProgress('bench:mesh');
  const log = (s: string): void => progress.log(s);
  const steps = progress.bar('steps', 3 + scenarios.length + opts.sizes.length);
  const watchdogMs = WATCHDOG_BASE_MS + WATCHDOG_PER_SIZE_MS * opts.sizes.length;
  const watchdog = setTimeout(() => {
    log(`watchdog: not done after ${watchdogMs} ms`);
    void abortOverlayRuns().finally(() => process.exit(2));
  }, watchdogMs);
  watchdog.unref();

  const full = await fullMode(opts, log, steps);
  try {
    log('GET of one compute over HTTP: at its node, and through another node (one mesh hop)');
    full.gets['http-get-compute'] = await httpGetComparison(full.bootstrap, opts.calls);
  } finally {
    await full.close();
  }
  steps.advance('overlay');
  const overlay = [];
  for (const nodes of opts.sizes) {
    log(`overlay: ${nodes} nodes in ${Math.min(opts.processes, nodes)} processes`);
    overlay.push(await measureOverlay({ ...opts, nodes, log }));
    steps.advance(`overlay ${nodes}`);
  }
  progress.stop();
  clearTimeout(watchdog);
  process.stdout.write(`${JSON.stringify({ full: full.figures, get: full.gets, overlay }, null, 2)}\n`);
}

/** Full membership mode: `nodes` meshes on a testnet, their membership time, RPC and the mesh-only GET scenarios; the testnet stays up for the HTTP GET. */
async function fullMode(opts: { nodes: number; calls: number }, log: (s: string) => void, steps: { advance(step?: string): void }) {
  const testnet = await createTestnet(3, { host: '127.0.0.1' });
  const meshes: Mesh[] = [];
  const close = async (): Promise<void> => {
    log('shutting down the full-mode meshes');
    await Promise.allSettled(meshes.map((m) => m.destroy()));
    await testnet.destroy();
  };
  try {
    log(`starting ${opts.nodes} nodes at once`);
    const t0 = performance.now();
    for (let i = 0; i < opts.nodes; i++) {
      meshes.push(new Mesh({ secret: 'bench-secret', bootstrap: testnet.bootstrap, name: `node-${i + 1}`, logger: pino({ level: 'silent' }), probesPerRound: 0 }));
    }
    meshes.forEach((m) => m.handle('echo', (p) => p));
    await Promise.all(meshes.map((m) => m.start()));
    const tJoined = performance.now();
    await Promise.all(meshes.map((m) => m.waitForMembers(opts.nodes - 1, 60_000)));
    const fullMembershipMs = Math.round(performance.now() - t0);
    steps.advance('RPC round trips');
    log(`full membership of ${opts.nodes} after ${fullMembershipMs} ms (joins flushed after ${Math.round(tJoined - t0)} ms)`);

    const [a, b] = meshes as [Mesh, Mesh];
    log(`RPC round trips: ${opts.calls} small calls`);
    const rpc = await timeCalls(opts.calls, () => a.request(b.key, 'echo', { x: 1 }));
    log(`RPC p50 ${rpc.p50} ms, p99 ${rpc.p99} ms`);
    steps.advance('GET scenarios');

    const gets: Record<string, unknown> = {};
    for (const s of scenarios) {
      log(`GET scenario ${s.name}`);
      const sc = await s.setup(a, b);
      try {
        const local = await timeCalls(opts.calls, sc.local);
        const forwarded = await timeCalls(opts.calls, sc.forwarded);
        gets[s.name] = {
          local,
          forwarded,
          p50_difference_ms: Math.round((forwarded.p50 - local.p50) * 1000) / 1000,
          p99_difference_ms: Math.round((forwarded.p99 - local.p99) * 1000) / 1000,
        };
      } finally {
        await sc.close();
      }
      steps.advance(s.name);
    }
    const figures = { nodes: opts.nodes, full_membership_ms: fullMembershipMs, rpc_calls: opts.calls, rpc_p50_ms: rpc.p50, rpc_p99_ms: rpc.p99, rpc_mean_ms: rpc.mean };
    return { figures, gets, bootstrap: testnet.bootstrap, close };
  } catch (err) {
    await close();
    throw err;
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
    void abortOverlayRuns().finally(() => process.exit(1));
  },
);
