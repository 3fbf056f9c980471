/**
 * Overlay membership benchmark on a loopback testnet (no injected delay):
 *   npm run bench:overlay [-- --nodes 100 --processes 4 --bound 12 --stagger-ms 200 --sync-ms 5000]
 * `nodes` meshes in overlay mode, spread over `processes` child processes
 * (bench/overlay-mesh-worker.ts), started at once. Measures: time to full
 * membership (every node knows every other), the largest link count any node
 * reached (overlay links, and Hyperswarm connections), overlay messages per
 * second per node once converged, every node finding a record on the ring and
 * calling its publisher, and the time every other node takes to report a
 * destroyed node lost. Prints one JSON object on stdout, progress on stderr.
 * Bounded by a watchdog; every child process and the testnet are cleaned up.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import createTestnet from 'hyperdht/testnet.js';
import type { Command as WorkerCommand, Status } from './overlay-mesh-worker.js';

const WATCHDOG_MS = 15 * 60_000;
const STEADY_WINDOW_MS = 10_000;
/** Full membership is waited for this long at most (ms). */
const CONVERGENCE_MS = 180_000;
const log = (msg: string): void => void process.stderr.write(`${msg}\n`);

interface Worker {
  child: ChildProcess;
  keys: string[];
  next(t: string): Promise<Record<string, unknown>>;
  send(cmd: WorkerCommand): void;
}

function startWorker(index: number, count: number, env: object, onLeft: (m: { key: string; by: string; reason: string; at: number }) => void): Promise<Worker> {
  const child = fork(join(dirname(fileURLToPath(import.meta.url)), 'overlay-mesh-worker.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, OVERLAY_BENCH: JSON.stringify({ ...env, count, index }) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<string, Array<(m: Record<string, unknown>) => void>>();
  child.on('message', (m: Record<string, unknown>) => {
    if (m.t === 'left') return onLeft(m as never);
    if (m.t === 'error') log(`worker ${index}: ${String(m.message)}`);
    waiting.get(m.t as string)?.shift()?.(m);
  });
  const worker: Worker = {
    child,
    keys: [],
    next: (t) => new Promise((resolve) => waiting.set(t, [...(waiting.get(t) ?? []), resolve])),
    send: (cmd) => void child.send(cmd),
  };
  return worker.next('ready').then(() => worker);
}

async function main(): Promise<void> {
  const o = new Command()
    .option('--nodes <n>', 'meshes', '100')
    .option('--processes <n>', 'child processes', '4')
    .option('--bound <n>', 'maxConnections of each node', '12')
    .option('--stagger-ms <n>', 'delay between the starts of the nodes of one process', '0')
    .option('--sync-ms <n>', "the overlay's push-pull sync interval (default LAN_OVERLAY's)")
    .parse()
    .opts<{ nodes: string; processes: string; bound: string; staggerMs: string; syncMs?: string }>();
  const staggerMs = Number(o.staggerMs);
  const nodes = Number(o.nodes);
  const processes = Number(o.processes);
  const bound = Number(o.bound);
  const overlay = { maxConnections: bound, viewNearest: Math.max(2, Math.floor(bound / 3)), viewRandom: 2, maxViewIn: Math.max(2, Math.floor(bound / 3)), ...(o.syncMs !== undefined ? { syncIntervalMs: Number(o.syncMs) } : {}) };
  const testnet = await createTestnet(3, { host: '127.0.0.1' });
  const workers: Worker[] = [];
  const left: Array<{ key: string; by: string; reason: string; at: number }> = [];
  const watchdog = setTimeout(() => {
    log('watchdog: giving up');
    for (const w of workers) w.child.kill('SIGKILL');
    void testnet.destroy().finally(() => process.exit(1));
  }, WATCHDOG_MS);
  try {
    const per = Math.ceil(nodes / processes);
    for (let i = 0; i < processes; i++) {
      const count = Math.min(per, nodes - i * per);
      if (count > 0) workers.push(await startWorker(i, count, { bootstrap: testnet.bootstrap, overlay }, (m) => left.push(m)));
    }
    const status = async (): Promise<Status[]> => Promise.all(workers.map((w) => (w.send({ t: 'status' }), w.next('status') as Promise<unknown> as Promise<Status>)));
    const t0 = Date.now();
    await Promise.all(workers.map(async (w) => (w.send({ t: 'start', staggerMs }), (w.keys = (await w.next('started')).keys as string[]))));
    log(`started ${nodes} nodes in ${processes} processes in ${Date.now() - t0} ms`);
    let s = await status();
    const lags: number[] = [];
    for (;;) {
      const counts = s.flatMap((x) => x.members);
      const complete = counts.filter((c) => c === nodes - 1).length;
      const lagMs = Math.max(...s.map((x) => x.lagP99Ms));
      log(`${Date.now() - t0} ms: ${complete}/${nodes} nodes know every other (min ${Math.min(...counts)}), event-loop delay p99 ${lagMs} ms`);
      lags.push(lagMs);
      if (complete === nodes || Date.now() - t0 > CONVERGENCE_MS) break;
      await new Promise((r) => setTimeout(r, 1000));
      s = await status();
    }
    const fullMs = Date.now() - t0;
    const knownBy = new Map<string, number>();
    for (const x of s) for (const [k, n] of Object.entries(x.known)) knownBy.set(k, (knownBy.get(k) ?? 0) + n);
    const allKeys = workers.flatMap((w) => w.keys.map((k) => k.slice(0, 8)));
    const leastKnown = allKeys.map((k) => [k, knownBy.get(k) ?? 0] as const).sort((a, b) => a[1] - b[1]).slice(0, 5);
    log(`least known members (of ${nodes - 1} others): ${leastKnown.map(([k, n]) => `${k}:${n}`).join(' ')}; start order ${leastKnown.map(([k]) => allKeys.indexOf(k)).join(' ')}`);
    const complete = s.flatMap((x) => x.members).every((c) => c === nodes - 1);
    const sent0 = s.reduce((a, x) => a + x.sent, 0);
    await new Promise((r) => setTimeout(r, STEADY_WINDOW_MS));
    s = await status();
    const msgsPerNodePerSecond = (s.reduce((a, x) => a + x.sent, 0) - sent0) / nodes / (STEADY_WINDOW_MS / 1000);
    const steady = { maxOverlayLinks: Math.max(...s.map((x) => x.maxLinks)), maxSwarmConnections: Math.max(...s.map((x) => x.maxConnections)), falseLeaves: left.length, eventLoopDelayP99Ms: Math.max(...s.map((x) => x.lagP99Ms)) };
    const minMembers = Math.min(...s.flatMap((x) => x.members));

    workers[0]!.send({ t: 'put', node: 0, key: 'vm:bench', value: '{}' });
    await workers[0]!.next('put');
    const tReach = Date.now();
    const reached = await Promise.all(workers.map((w) => (w.send({ t: 'reach', key: 'vm:bench', timeoutMs: 60_000 }), w.next('reached'))));
    const results = reached.flatMap((r) => r.results as Array<{ ok: boolean; ms: number; attempts: number; hops: number }>);
    const reach = { nodes: results.length, reached: results.filter((r) => r.ok).length, firstAttempt: results.filter((r) => r.attempts === 1).length, maxMs: Math.max(...results.map((r) => r.ms)), maxHops: Math.max(...results.map((r) => r.hops)), wallMs: Date.now() - tReach };
    log(`reach: ${JSON.stringify(reach)}`);

    const victimWorker = workers[1 % workers.length]!;
    victimWorker.send({ t: 'kill', node: 3 });
    const killed = await victimWorker.next('killed');
    const victim = killed.key as string;
    const others = nodes - 1;
    const until = Date.now() + 60_000;
    // Reports after the kill only (a false death of the victim before it does not count).
    const reports = (): typeof left => left.filter((l) => l.key === victim && l.at >= (killed.at as number));
    while (new Set(reports().map((l) => l.by)).size < others && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    const detections = reports().map((l) => l.at - (killed.at as number)).sort((a, b) => a - b);
    const pct = (p: number): number => detections[Math.min(detections.length - 1, Math.floor(p * detections.length))] ?? Number.NaN;
    s = await status();
    const result = {
      nodes,
      processes,
      bound,
      staggerMs,
      overlay,
      fullMembershipMs: complete ? fullMs : null,
      minMembersAfterConvergence: minMembers,
      leastKnownMembers: leastKnown.map(([, n]) => n),
      eventLoopDelayP99MsDuringJoin: Math.max(...lags),
      beforeReach: steady,
      maxOverlayLinks: Math.max(...s.map((x) => x.maxLinks)),
      maxSwarmConnections: Math.max(...s.map((x) => x.maxConnections)),
      msgsPerNodePerSecond: Math.round(msgsPerNodePerSecond * 10) / 10,
      reach,
      detection: { reportedBy: new Set(reports().map((l) => l.by)).size, of: others, reasons: [...new Set(reports().map((l) => l.reason))], firstMs: pct(0), medianMs: pct(0.5), p99Ms: pct(0.99), lastMs: detections[detections.length - 1] ?? null },
      falseLeaves: left.length - reports().length,
      falseLeavesByReason: Object.fromEntries(['lost', 'left'].map((r) => [r, left.filter((l) => l.reason === r).length - reports().filter((l) => l.reason === r).length])),
      falseLeavesFirstMinute: left.filter((l) => l.at - t0 < 60_000).length,
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    clearTimeout(watchdog);
    for (const w of workers) w.send({ t: 'exit' });
    await Promise.all(workers.map((w) => new Promise<void>((resolve) => {
      if (w.child.exitCode !== null) return resolve();
      const t = setTimeout(() => (w.child.kill('SIGKILL'), resolve()), 15_000);
      w.child.once('exit', () => (clearTimeout(t), resolve()));
    })));
    await testnet.destroy();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(String((err as Error)?.stack ?? err));
    process.exit(1);
  },
);
