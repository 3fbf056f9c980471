/**
 * Discrete-event simulation of N hosts and M VMs under the seed's load injector, running one
 * scheduler: `dvms` (Vivaldi-nearest neighbours), `dvms-ring`, `entropy` (central, exact solver),
 * `snooze` (group managers), `centralized` (central, greedy search) or `none`. Every scheduler
 * sees the same loads, monitoring period, topology, message delays and migration model. Time is in
 * ms on the event queue. The wall time of every solver run is charged to the simulated clock
 * (`solveTime: 'wall'`), or a deterministic charge per solver work unit (`solveTime: 'model'`).
 */
import { exponential, gaussian, seededRandom, uniformInt } from '../random.js';
import { runCentralized } from './centralized.js';
import { runEntropy } from './entropy.js';
import { runSnooze } from './snooze.js';
import { createSimContext } from './context.js';
import { runDvms, type DvmsDriver } from './dvms.js';
import { SIM_DEFAULTS, validateOptions, type SchedulerName, type SimOptions } from './options.js';
import { loadRttCsv } from './topology.js';

export { SCHEDULERS, SIM_DEFAULTS, type SchedulerName, type SimOptions } from './options.js';

export interface SimMetrics {
  scheduler: SchedulerName;
  hosts: number;
  vms: number;
  duration_s: number;
  /** Overload episodes: a host going over capacity (the same count for every scheduler). */
  events: number;
  violation_s: number;
  violation_per_host_s: number;
  violation_per_event_s: number;
  /** Sum over the episodes that lasted long enough to need one of the shortest migration that ends them. */
  migration_floor_s: number;
  /** violation_s / migration_floor_s. */
  floor_ratio: number;
  solve_ms_p50: number;
  solve_ms_p99: number;
  solve_ms_max: number;
  partition_mean: number;
  partition_max: number;
  migrations: number;
  unsolvable: number;
  solver_runs: number;
  wall_s: number;
  /** Largest resident set of the process seen during the run, MiB. */
  peak_rss_mib: number;
}

/** The run over time: cumulative violation and hosts over capacity. */
export interface TimelinePoint {
  t_s: number;
  violation_s: number;
  overloaded: number;
}

export interface HostTrace {
  host: number;
  site: string;
  violation_s: number;
  migrations_in: number;
  migrations_out: number;
  cpu_demand: number;
  cpu_capacity: number;
  vms: number;
  alive: boolean;
}

export interface SimResult {
  metrics: SimMetrics;
  trace: HostTrace[];
  timeline: TimelinePoint[];
  /** Extra counters (messages, solver runs, charged solver time). */
  details: Record<string, number>;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i] ?? 0;
}

const TIMELINE_POINTS = 200;
const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

export function simulate(partial: Partial<SimOptions>, scheduler: SchedulerName, onProgress?: (fraction: number) => void): SimResult {
  const options: SimOptions = { ...SIM_DEFAULTS, ...partial };
  validateOptions(options);
  const wallStart = performance.now();
  const durationMs = options.durationS * 1000;
  // Independent streams so every scheduler sees the same loads, topology and crashes.
  const loadRng = seededRandom(options.seed);
  const topoRng = seededRandom(options.seed ^ 0x5bd1e995);
  const crashRng = seededRandom(options.seed ^ 0x27d4eb2f);
  const schedRng = seededRandom(options.seed ^ 0x165667b1);

  const managed = scheduler === 'entropy' || scheduler === 'snooze' || scheduler === 'centralized';
  const ctx = createSimContext(options, topoRng, managed);
  const { queue, cluster, topology, stats, lost, alive, monitoring } = ctx;
  const sites = 'siteOf' in topology ? (topology as { siteOf: Int32Array }).siteOf : null;
  const siteIds = options.topology === 'random' ? null : loadRttCsv(options.topology).ids;

  const drawLoad = (): number => {
    const raw = gaussian(loadRng, options.loadMean, options.loadSd);
    const stepped = Math.round(raw / options.loadStep) * options.loadStep;
    return (Math.min(100, Math.max(0, stepped)) / 100) * options.vmCpu;
  };
  for (let v = 0; v < options.vms; v++) {
    cluster.vmCpu[v] = drawLoad();
    cluster.place(v, v % options.hosts, 0);
  }

  let dvms: DvmsDriver | null = null;
  if (scheduler === 'dvms' || scheduler === 'dvms-ring') dvms = runDvms(ctx, scheduler, schedRng);
  else if (scheduler === 'centralized') runCentralized(ctx, schedRng);
  else if (scheduler === 'entropy') runEntropy(ctx);
  else if (scheduler === 'snooze') runSnooze(ctx);
  monitoring.start();

  // Load injector: one VM's load changes every Exp(λ = vms / loadPeriodS) seconds.
  const rate = options.vms / options.loadPeriodS;
  const injectLoad = (): void => {
    const vm = uniformInt(loadRng, options.vms);
    cluster.setLoad(vm, drawLoad(), queue.now / 1000);
    queue.after(exponential(loadRng, rate) * 1000, injectLoad);
  };
  queue.after(exponential(loadRng, rate) * 1000, injectLoad);

  // Crash injection.
  const crashHosts = new Set<number>();
  for (let tries = 0; crashHosts.size < options.crashes && tries < 100 * options.hosts; tries++) crashHosts.add(uniformInt(crashRng, options.hosts));
  for (const host of crashHosts) {
    const at = crashRng.next() * durationMs;
    queue.at(at, () => {
      if (!alive(host)) return;
      const vms = cluster.crash(host, queue.now / 1000);
      for (const v of vms) lost.add(v);
      let detector = -1;
      for (let k = 1; k < options.hosts && detector < 0; k++) if (alive((host + k) % options.hosts)) detector = (host + k) % options.hosts;
      dvms?.crashed(
        host,
        vms.map((v) => ({ id: `v${v}`, cpu: cluster.vmCpu[v] ?? 0, mem: cluster.vmMem[v] ?? 0 })),
        detector,
      );
    });
  }

  // Main loop, bounded by the simulated duration; the timeline and progress every 1/200 of it.
  const timeline: TimelinePoint[] = [];
  let peakRss = process.memoryUsage.rss();
  const record = (): void => {
    const now = queue.now / 1000;
    let open = 0;
    for (const h of cluster.over) open += now - (cluster.overSince[h] ?? now);
    timeline.push({ t_s: round(now), violation_s: round(cluster.totalViolation() + open), overloaded: cluster.over.size });
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  };
  const pointEvery = durationMs / TIMELINE_POINTS;
  for (let k = 0; k <= TIMELINE_POINTS; k++) queue.at(k * pointEvery, record);
  let nextProgress = pointEvery;
  for (let ev = queue.next(durationMs); ev; ev = queue.next(durationMs)) {
    ev.fn();
    if (onProgress && queue.now >= nextProgress) {
      onProgress(queue.now / durationMs);
      nextProgress = queue.now + pointEvery;
    }
  }
  queue.now = durationMs;
  cluster.finish(options.durationS);
  onProgress?.(1);

  const solve = [...stats.solveMs].sort((a, b) => a - b);
  const parts = stats.partitionSizes;
  const violation = cluster.totalViolation();
  const metrics: SimMetrics = {
    scheduler,
    hosts: options.hosts,
    vms: options.vms,
    duration_s: options.durationS,
    events: cluster.episodes,
    violation_s: round(violation),
    violation_per_host_s: round(violation / options.hosts),
    violation_per_event_s: round(violation / Math.max(1, cluster.episodes)),
    migration_floor_s: round(cluster.migrationFloorS),
    floor_ratio: round(violation / Math.max(1e-9, cluster.migrationFloorS)),
    solve_ms_p50: round(percentile(solve, 0.5)),
    solve_ms_p99: round(percentile(solve, 0.99)),
    solve_ms_max: round(solve[solve.length - 1] ?? 0),
    partition_mean: round(parts.length ? parts.reduce((a, b) => a + b, 0) / parts.length : 0),
    partition_max: parts.reduce((a, b) => Math.max(a, b), 0),
    migrations: stats.migrations,
    unsolvable: stats.unsolvable,
    solver_runs: stats.solverRuns,
    wall_s: round((performance.now() - wallStart) / 1000),
    peak_rss_mib: Math.round(peakRss / 2 ** 20),
  };
  const trace: HostTrace[] = Array.from({ length: options.hosts }, (_, h) => ({
    host: h,
    site: sites && siteIds ? (siteIds[sites[h] ?? 0] ?? '') : '',
    violation_s: round(cluster.violation[h] ?? 0),
    migrations_in: cluster.migIn[h] ?? 0,
    migrations_out: cluster.migOut[h] ?? 0,
    cpu_demand: round(cluster.hostCpu[h] ?? 0),
    cpu_capacity: options.hostCpu,
    vms: cluster.hostVms[h]?.size ?? 0,
    alive: cluster.alive[h] === 1,
  }));
  return {
    metrics,
    trace,
    timeline,
    details: {
      dvms_events: stats.events,
      episodes_needing_migration: cluster.episodesNeedingMigration,
      messages: dvms?.network.messages ?? 0,
      message_bytes: dvms?.network.bytes ?? 0,
      charged_solver_ms: round(stats.chargedMs),
      lost_vms: lost.size,
    },
  };
}
