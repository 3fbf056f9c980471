/**
 * Whole nodes over the overlay, at the scale of a hundred points of presence, on a loopback
 * testnet (no injected delay):
 *   npm run bench:occi-overlay [-- --nodes 100 --processes 4 --stagger-ms 100 --concurrency 8]
 * `nodes` nodes (HTTP, OCCI service, store, mesh in overlay mode; no hypervisor) spread over
 * `processes` child processes (bench/occi-overlay-worker.ts). Measures: time to full membership;
 * one compute created through each node, then read through every node (N² reads; a 503 tried
 * again twice, as its "try again" asks, and counted); an action
 * (stop, then start) on each compute through another node, its state read through a third; the
 * compute collection listed through every node, complete or flagged partial (X-Discovery-Partial),
 * never silently partial; a node crashed (its mesh destroyed without a goodbye) reported lost by
 * every other; the most links and connections any node had. Prints one JSON object on stdout,
 * progress on stderr. Bounded by a watchdog; the child processes and the testnet are cleaned up.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import createTestnet from 'hyperdht/testnet.js';
import { terminalProgress } from '../src/cli/progress.js';
import { forkWorker, type IpcWorker } from './ipc-worker.js';
import { call } from './occi-call.js';
import type { StartedNode, WorkerCommand, WorkerStatus } from './occi-overlay-worker.js';

const WATCHDOG_MS = 30 * 60_000;
const CONVERGENCE_MS = 300_000;
const DETECTION_WAIT_MS = 60_000;
const READ_ATTEMPTS = 3;
const COMPUTE = 'http://schemas.ogf.org/occi/infrastructure#compute';
const SMALL = 'http://schemas.discovery-cloud.org/occi/resource_tpl#small';
const ACTION = 'http://schemas.ogf.org/occi/infrastructure/compute/action#';
const progress = terminalProgress('bench:occi-overlay');

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : Number.NaN;
};
const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** Runs `fn` on every item, `concurrency` at a time. */
async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

async function statuses(workers: Array<IpcWorker<WorkerCommand>>): Promise<WorkerStatus[]> {
  return Promise.all(workers.map((w) => (w.send({ t: 'status' }), w.next<WorkerStatus>('status'))));
}

async function main(): Promise<void> {
  const o = new Command()
    .option('--nodes <n>', 'nodes', '100')
    .option('--processes <n>', 'child processes', '4')
    .option('--stagger-ms <n>', 'delay between the starts of the nodes of one process', '100')
    .option('--concurrency <n>', 'HTTP requests in flight', '8')
    .parse()
    .opts<{ nodes: string; processes: string; staggerMs: string; concurrency: string }>();
  const n = Number(o.nodes);
  const processes = Math.min(n, Number(o.processes));
  const concurrency = Number(o.concurrency);
  const testnet = await createTestnet(3, { host: '127.0.0.1' });
  const left: Array<{ key: string; by: string; reason: string; at: number }> = [];
  const file = join(dirname(fileURLToPath(import.meta.url)), 'occi-overlay-worker.ts');
  const counts = Array.from({ length: processes }, (_, i) => Math.floor(n / processes) + (i < n % processes ? 1 : 0));
  const workers = await Promise.all(
    counts.map((count, index) =>
      forkWorker<WorkerCommand>(file, 'OCCI_OVERLAY_BENCH', { bootstrap: testnet.bootstrap, count, index, secret: 'occi-overlay-bench' }, ['left', 'error'], (m) => {
        if (m['t'] === 'error') progress.log(`worker ${index}: ${String(m['message'])}`);
        else left.push(m as never);
      }),
    ),
  );
  const cleanup = async (): Promise<void> => {
    for (const w of workers) w.send({ t: 'exit' });
    await Promise.all(workers.map((w) => new Promise((r) => (w.child.exitCode !== null ? r(null) : (w.child.once('exit', r), setTimeout(() => (w.child.kill('SIGKILL'), r(null)), 20_000))))));
    await testnet.destroy();
  };
  const watchdog = setTimeout(() => {
    progress.log(`watchdog: ${WATCHDOG_MS / 60_000} min passed`);
    for (const w of workers) w.child.kill('SIGKILL');
    process.exit(2);
  }, WATCHDOG_MS);

  try {
    progress.log(`starting ${n} nodes in ${processes} processes`);
    const t0 = Date.now();
    for (const w of workers) w.send({ t: 'start', staggerMs: Number(o.staggerMs) });
    const started = await Promise.all(workers.map((w) => w.next<{ nodes: StartedNode[] }>('started')));
    const nodes = started.flatMap((s) => s.nodes);
    progress.log(`${nodes.length} nodes started in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const workerOf = (i: number): { worker: IpcWorker<WorkerCommand>; index: number } => {
      let rest = i;
      for (const [w, count] of counts.entries()) {
        if (rest < count) return { worker: workers[w]!, index: rest };
        rest -= count;
      }
      throw new Error(`no node ${i}`);
    };

    // 1. Membership.
    const membership = progress.bar('membership', n);
    let joinS: number | null = null;
    let knowAll = 0;
    while (Date.now() - t0 < CONVERGENCE_MS) {
      const members = (await statuses(workers)).flatMap((s) => s.members);
      knowAll = members.filter((m) => m >= n - 1).length;
      membership.set(knowAll, 'nodes knowing every other');
      if (!progress.drawn && (Date.now() - t0) % 5000 < 1000) progress.log(`${Math.round((Date.now() - t0) / 1000)} s: ${knowAll}/${n} nodes know every other; members known ${Math.min(...members)}–${Math.max(...members)}`);
      if (knowAll === n) {
        joinS = (Date.now() - t0) / 1000;
        break;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    progress.log(joinS === null ? `full membership not reached in ${CONVERGENCE_MS / 1000} s: ${knowAll}/${n} nodes know every other` : `full membership after ${joinS} s`);

    // 2. One compute created through each node.
    const computes: Array<{ path: string; id: string; at: number }> = [];
    const creates = progress.bar('creates', n);
    let createFailures = 0;
    await pool([...nodes.keys()], concurrency, async (i) => {
      const res = await call('POST', `${nodes[i]!.url}/compute/`, { kind: COMPUTE, mixins: [SMALL], attributes: { 'occi.core.title': `c-${i}` } });
      if (res.status !== 201 || typeof res.body?.id !== 'string') createFailures++;
      else computes.push({ path: `/compute/${res.body.id}`, id: res.body.id, at: i });
      creates.advance();
    });

    // 3. Every compute read through every node.
    const reads = progress.bar('reads', computes.length * n);
    const readMs: number[] = [];
    const readFailures: Array<{ status: number; through: string; message: string }> = [];
    const pairs = computes.flatMap((c) => nodes.map((node) => ({ c, node })));
    let retried = 0;
    await pool(pairs, concurrency, async ({ c, node }) => {
      // A 503 says "try again" (a link refused at the bound, a lookup unanswered): a client does, twice.
      for (let attempt = 1; ; attempt++) {
        const t = performance.now();
        const res = await call('GET', `${node.url}${c.path}`);
        readMs.push(performance.now() - t);
        if (res.status === 200 && res.body?.id === c.id) break;
        if (res.status === 503 && attempt < READ_ATTEMPTS) {
          retried++;
          await new Promise((r) => setTimeout(r, 500 * attempt));
          continue;
        }
        readFailures.push({ status: res.status, through: node.name, message: String(res.body?.error?.message ?? res.text.slice(0, 200)) });
        break;
      }
      reads.advance();
    });

    // 4. Acted on through another node (stop, then start), the state read through a third.
    const acts = progress.bar('actions', computes.length);
    const actionFailures: string[] = [];
    await pool([...computes.keys()], concurrency, async (k) => {
      const c = computes[k]!;
      const through = nodes[(c.at + 1) % n]!;
      const reader = nodes[(c.at + 2) % n]!;
      for (const [term, state] of [['stop', 'inactive'], ['start', 'active']] as const) {
        const res = await call('POST', `${through.url}${c.path}?action=${term}`, { action: `${ACTION}${term}` });
        const read = await call('GET', `${reader.url}${c.path}`);
        const seen = read.body?.attributes?.['occi.compute.state'];
        if (res.status !== 200 || seen !== state) actionFailures.push(`${term} of ${c.id} through ${through.name}: ${res.status}, read ${String(seen)} through ${reader.name}`);
      }
      acts.advance();
    });

    // 5. The collection through every node: complete, or flagged partial.
    const lists = await listThroughEvery(nodes, computes.length, concurrency);

    // 6. A node crashed: reported lost by every other.
    const victim = nodes.length - 1;
    const { worker, index } = workerOf(victim);
    worker.send({ t: 'kill', node: index });
    const killed = await worker.next<{ key: string; at: number }>('killed');
    const deadline = Date.now() + DETECTION_WAIT_MS;
    while (Date.now() < deadline && new Set(left.filter((l) => l.key === killed.key && l.reason === 'lost').map((l) => l.by)).size < n - 1) await new Promise((r) => setTimeout(r, 250));
    const reports = [...new Map(left.filter((l) => l.key === killed.key).map((l) => [l.by, l])).values()];
    const detection = reports.map((l) => (l.at - killed.at) / 1000);
    const final = await statuses(workers);
    progress.stop();
    console.log(
      JSON.stringify({
        nodes: n,
        processes,
        join_convergence_s: joinS,
        nodes_knowing_every_other: knowAll,
        computes: computes.length,
        create_failures: createFailures,
        reads: pairs.length,
        reads_retried: retried,
        read_failures: readFailures.length,
        read_failure_sample: readFailures.slice(0, 5),
        read_ms_p50: round(quantile(readMs, 0.5)),
        read_ms_p99: round(quantile(readMs, 0.99)),
        actions: computes.length * 2,
        action_failures: actionFailures.length,
        action_failure_sample: actionFailures.slice(0, 5),
        ...lists,
        killed_reported_by: reports.length,
        killed_reported_lost_by: reports.filter((l) => l.reason === 'lost').length,
        detection_first_s: round(quantile(detection, 0)),
        detection_p50_s: round(quantile(detection, 0.5)),
        detection_last_s: round(Math.max(...detection)),
        links_max: Math.max(...final.map((s) => s.maxLinks)),
        connections_max: Math.max(...final.map((s) => s.maxConnections)),
      }),
    );
  } finally {
    clearTimeout(watchdog);
    await cleanup();
  }
}

/** The compute collection through every node: how many lists were complete, flagged partial, or silently partial. */
async function listThroughEvery(nodes: StartedNode[], expected: number, concurrency: number) {
  const bar = progress.bar('lists', nodes.length);
  const counts = { lists_complete: 0, lists_flagged_partial: 0, lists_silently_partial: 0, lists_failed: 0 };
  const partial: string[] = [];
  const listMs: number[] = [];
  await pool(nodes, concurrency, async (node) => {
    const t = performance.now();
    const res = await fetch(`${node.url}/compute/`, { headers: { Accept: 'application/occi+json' }, signal: AbortSignal.timeout(60_000) });
    const body = (await res.json().catch(() => undefined)) as { resources?: unknown[] } | undefined;
    listMs.push(performance.now() - t);
    const listed = body?.resources?.length ?? 0;
    if (res.status !== 200) counts.lists_failed++;
    else if (res.headers.get('x-discovery-partial')) {
      counts.lists_flagged_partial++;
      partial.push(`${node.name}: ${res.headers.get('x-discovery-partial')}`);
    }
    else if (listed === expected) counts.lists_complete++;
    else counts.lists_silently_partial++;
    bar.advance(node.name);
  });
  return { ...counts, partial_sample: partial.slice(0, 5), list_ms_p50: round(quantile(listMs, 0.5)), list_ms_p99: round(quantile(listMs, 0.99)) };
}

void main().catch((err: unknown) => {
  progress.stop();
  process.stderr.write(`bench:occi-overlay: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
