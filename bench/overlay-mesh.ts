/**
 * The overlay part of `npm run bench:mesh`: `nodes` real meshes in overlay mode on a loopback
 * testnet, spread over `processes` child processes (bench/overlay-mesh-worker.ts), started at
 * once. Measures the simulator's figures (src/mesh/sim/scenario.ts) on them: join convergence,
 * messages and bytes per node once converged, the largest link counts, lookups of records put by
 * several nodes from every node, detection of destroyed nodes, and false deaths. Every child
 * process and the testnet are cleaned up, also when `abort` is called (the watchdog).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import createTestnet from 'hyperdht/testnet.js';
import { forkWorker, type IpcWorker } from './ipc-worker.js';
import type { Command, Left, Lookup, Published, Status } from './overlay-mesh-worker.js';

export interface OverlayBenchOptions {
  nodes: number;
  processes: number;
  /** maxConnections of each node; the views are a third of it nearest, 2 random, a third from others. */
  bound: number;
  staggerMs: number;
  /** Overrides LAN_OVERLAY's push-pull sync interval (ms). */
  syncMs?: number;
  /** Full membership is waited for this long at most (s). */
  convergeS: number;
  /** Nodes putting a record each, and nodes destroyed one after the other. */
  publishers: number;
  victims: number;
  log(msg: string): void;
}

/** Messages and bytes are counted over this window once converged (ms). */
const STEADY_WINDOW_MS = 20_000;
/** A destroyed node is waited for this long to be reported lost by every other (ms). */
const DETECTION_BOUND_MS = 60_000;
/** Lookup attempts per node and record (the first one counts for lookup_success), and the window the lookups are spread over (ms). */
const LOOKUP_ATTEMPTS = 3;
const LOOKUP_SPREAD_MS = 30_000;

type Worker = IpcWorker<Command> & { keys: string[] };

const round = (x: number, digits = 3): number => Math.round(x * 10 ** digits) / 10 ** digits;
const quantile = (xs: number[], q: number): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const WORKER_FILE = join(dirname(fileURLToPath(import.meta.url)), 'overlay-mesh-worker.ts');

function startWorker(index: number, count: number, env: object, onLeft: (m: Left) => void, log: (s: string) => void): Promise<Worker> {
  return forkWorker<Command>(WORKER_FILE, 'OVERLAY_BENCH', { ...env, count, index }, ['left', 'error'], (m) => {
    if (m.t === 'left') onLeft(m as unknown as Left);
    else log(`worker ${index}: ${String(m.message)}`);
  }).then((w) => Object.assign(w, { keys: [] as string[] }));
}

/** Live runs, so that a watchdog can end them: their child processes, and testnets. */
const running = new Set<{ workers: Worker[]; testnet: { destroy(): Promise<void> } }>();

/** Kills every child process of the runs under way and destroys their testnets. */
export async function abortOverlayRuns(): Promise<void> {
  for (const run of running) for (const w of run.workers) w.child.kill('SIGKILL');
  await Promise.allSettled([...running].map((r) => r.testnet.destroy()));
}

export async function measureOverlay(o: OverlayBenchOptions) {
  const { nodes, processes, log } = o;
  const overlay = { maxConnections: o.bound, viewNearest: Math.max(2, Math.floor(o.bound / 3)), viewRandom: 2, maxViewIn: Math.max(2, Math.floor(o.bound / 3)), ...(o.syncMs !== undefined ? { syncIntervalMs: o.syncMs } : {}) };
  const testnet = await createTestnet(3, { host: '127.0.0.1' });
  const run = { workers: [] as Worker[], testnet };
  running.add(run);
  const { workers } = run;
  const left: Left[] = [];
  try {
    const per = Math.ceil(nodes / processes);
    for (let i = 0; i * per < nodes; i++) workers.push(await startWorker(i, Math.min(per, nodes - i * per), { bootstrap: testnet.bootstrap, overlay }, (m) => left.push(m), log));
    const status = (): Promise<Status[]> => Promise.all(workers.map((w) => (w.send({ t: 'status' }), w.next<Status>('status'))));
    const t0 = Date.now();
    await Promise.all(workers.map(async (w) => (w.send({ t: 'start', staggerMs: o.staggerMs }), (w.keys = (await w.next<{ keys: string[] }>('started')).keys))));
    log(`${nodes} nodes: started in ${workers.length} processes in ${Date.now() - t0} ms`);

    // Join convergence: until every node knows every other, or the bound.
    let s = await status();
    let halfMs: number | null = null;
    let lagMaxMs = 0;
    for (;;) {
      const counts = s.flatMap((x) => x.members);
      const complete = counts.filter((c) => c === nodes - 1).length;
      const lagMs = Math.max(...s.map((x) => x.lagP99Ms));
      lagMaxMs = Math.max(lagMaxMs, lagMs);
      if (halfMs === null && complete >= nodes / 2) halfMs = Date.now() - t0;
      log(`${nodes} nodes, ${((Date.now() - t0) / 1000).toFixed(1)} s: ${complete}/${nodes} know every other (least ${Math.min(...counts)}), event-loop delay p99 ${lagMs} ms`);
      if (complete === nodes || Date.now() - t0 > o.convergeS * 1000) break;
      await sleep(1000);
      s = await status();
    }
    const convergedMs = Date.now() - t0;
    const converged = s.flatMap((x) => x.members).every((c) => c === nodes - 1);
    const membersMin = Math.min(...s.flatMap((x) => x.members));
    if (!converged) {
      const knownBy = new Map<string, number>();
      for (const x of s) for (const [k, n] of Object.entries(x.known)) knownBy.set(k, (knownBy.get(k) ?? 0) + n);
      const least = workers.flatMap((w) => w.keys.map((k) => k.slice(0, 8))).map((k) => knownBy.get(k) ?? 0).sort((a, b) => a - b);
      log(`${nodes} nodes: not converged; the least known members are known by ${least.slice(0, 5).join(', ')} of ${nodes - 1} others`);
    }

    // Steady state: the overlay's traffic over a window.
    const sum = (xs: Status[], f: (x: Status) => number): number => xs.reduce((a, x) => a + f(x), 0);
    const before = { msgs: sum(s, (x) => x.sent + x.received), bytes: sum(s, (x) => x.bytesSent), at: Date.now() };
    await sleep(STEADY_WINDOW_MS);
    s = await status();
    const nodeSeconds = (nodes * (Date.now() - before.at)) / 1000;
    const msgsPerNodeS = (sum(s, (x) => x.sent + x.received) - before.msgs) / nodeSeconds;
    // Each byte sent by one node is received by another (as the simulator counts).
    const bytesPerNodeS = (2 * (sum(s, (x) => x.bytesSent) - before.bytes)) / nodeSeconds;
    const steadyLinks = { overlay: Math.max(...s.map((x) => x.maxLinks)), swarm: Math.max(...s.map((x) => x.maxConnections)) };
    log(`${nodes} nodes: ${round(msgsPerNodeS, 1)} msgs/s and ${Math.round(bytesPerNodeS)} bytes/s per node; at most ${steadyLinks.overlay} overlay links, ${steadyLinks.swarm} connections`);

    // Lookups: records put by `publishers` nodes (spread over the processes), looked up from every node.
    const published: Published[] = [];
    for (let i = 0; i < Math.min(o.publishers, nodes); i++) {
      const w = workers[i % workers.length]!;
      w.send({ t: 'put', node: Math.floor(i / workers.length) % w.keys.length, key: `bench:record-${i}` });
      published.push(await w.next<Published>('put'));
    }
    await sleep(3000);
    const lookupsFrom = Date.now();
    const looked = await Promise.all(workers.map((w) => (w.send({ t: 'lookup', records: published, attempts: LOOKUP_ATTEMPTS, spreadMs: LOOKUP_SPREAD_MS }), w.next<{ results: Lookup[] }>('looked-up'))));
    const lookups = looked.flatMap((r) => r.results);
    log(`${nodes} nodes: ${lookups.filter((l) => l.firstOk).length}/${lookups.length} lookups found the publisher at the first attempt, ${lookups.filter((l) => l.foundAt > 0).length} within ${LOOKUP_ATTEMPTS}`);

    const lookupsUntil = Date.now();
    // Detection: victims destroyed one after the other (not the publishers), each until every other reports it lost.
    const detections: number[] = [];
    const lastReports: number[] = [];
    const victims: Array<{ key: string; at: number }> = [];
    let undetected = 0;
    for (let v = 0; v < Math.min(o.victims, nodes - 2); v++) {
      const w = workers[v % workers.length]!;
      w.send({ t: 'kill', node: w.keys.length - 1 - Math.floor(v / workers.length) });
      const killed = await w.next<{ key: string; at: number }>('killed');
      victims.push(killed);
      const others = nodes - victims.length;
      const reports = (): Left[] => left.filter((l) => l.key === killed.key && l.at >= killed.at && !victims.some((x) => x.key === l.by));
      const until = Date.now() + DETECTION_BOUND_MS;
      while (new Set(reports().map((l) => l.by)).size < others && Date.now() < until) await sleep(200);
      const byReporter = new Map<string, number>();
      for (const l of reports()) if (!byReporter.has(l.by)) byReporter.set(l.by, (l.at - killed.at) / 1000);
      detections.push(...byReporter.values());
      lastReports.push(Math.max(...byReporter.values()));
      undetected += others - byReporter.size;
      log(`${nodes} nodes: victim ${v + 1} reported lost by ${byReporter.size}/${others} within ${quantile([...byReporter.values()], 1)} s`);
    }
    s = await status();
    const endedAt = Date.now();
    // A false death: a live member reported gone by a node (a victim only after it was destroyed counts as detected).
    const falseDeaths = left.filter((l) => !victims.some((x) => x.key === l.key && l.at >= x.at));
    const falseAfter = falseDeaths.filter((l) => l.at >= t0 + convergedMs);
    const between = (from: number, until: number): number => falseDeaths.filter((l) => l.at >= from && l.at < until).length;
    return {
      nodes,
      processes: workers.length,
      bound: o.bound,
      overlay,
      join_convergence_s: converged ? round(convergedMs / 1000, 1) : null,
      join_convergence_half_s: halfMs === null ? null : round(halfMs / 1000, 1),
      members_min: membersMin,
      event_loop_delay_p99_max_ms: lagMaxMs,
      detection_p50_s: quantile(detections, 0.5),
      detection_p99_s: quantile(detections, 0.99),
      detection_all_max_s: quantile(lastReports, 1),
      victims: victims.length,
      undetected,
      false_deaths: falseDeaths.length,
      false_deaths_members: new Set(falseDeaths.map((l) => l.key)).size,
      false_deaths_by_phase: { join: falseDeaths.length - falseAfter.length, steady: between(t0 + convergedMs, lookupsFrom), lookups: between(lookupsFrom, lookupsUntil), detection: between(lookupsUntil, endedAt + 1) },
      false_positives_per_node_hour: round(falseAfter.length / ((nodes * (endedAt - t0 - convergedMs)) / 3_600_000), 2),
      msgs_per_node_s: round(msgsPerNodeS, 2),
      bytes_per_node_s: Math.round(bytesPerNodeS),
      connections_max: Math.max(...s.map((x) => x.maxLinks)),
      swarm_connections_max: Math.max(...s.map((x) => x.maxConnections)),
      steady_connections_max: steadyLinks,
      lookups: lookups.length,
      lookup_hops_p99: quantile(lookups.filter((l) => l.firstOk).map((l) => l.hops), 0.99),
      lookup_success: round(lookups.filter((l) => l.firstOk).length / Math.max(1, lookups.length), 4),
      lookup_found_within_attempts: round(lookups.filter((l) => l.foundAt > 0).length / Math.max(1, lookups.length), 4),
      lookup_ms_p99: quantile(lookups.map((l) => l.ms), 0.99),
    };
  } finally {
    for (const w of workers) if (w.child.connected) w.send({ t: 'exit' });
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.child.exitCode !== null || w.child.signalCode !== null) return resolve();
            const t = setTimeout(() => (w.child.kill('SIGKILL'), resolve()), 15_000);
            w.child.once('exit', () => (clearTimeout(t), resolve()));
          }),
      ),
    );
    await testnet.destroy();
    running.delete(run);
  }
}
