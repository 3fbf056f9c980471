/**
 * Discrete-event simulation of N hosts and M VMs under the seed's load injector, running one
 * scheduler: `dvms` (Vivaldi-nearest neighbours), `dvms-ring`, `centralized` (Entropy-like loop) or
 * `none`. Time is in ms on the event queue. The wall time of every solver run is charged to the
 * simulated clock (`solveTime: 'wall'`), or a deterministic charge per solver work unit
 * (`solveTime: 'model'`) which makes a run reproducible bit for bit for a given seed.
 */
import type { VmSpec } from '../model.js';
import { NodeAgent, type AgentObserver } from '../protocol/node-agent.js';
import { RingOrder, VivaldiOrder, type NeighbourOrder } from '../protocol/neighbours.js';
import type { AgentEnvironment, HostActuator } from '../protocol/transport.js';
import { exponential, gaussian, seededRandom, uniformInt } from '../random.js';
import { SchedulerError } from '../errors.js';
import { runCentralized } from './centralized.js';
import { SimCluster } from './cluster.js';
import { EventQueue, type SimEvent } from './event-queue.js';
import { SimNetwork } from './network.js';
import { SyncThenable } from './sync-thenable.js';
import { loadRttCsv, matrixTopology, randomTopology, type Topology } from './topology.js';

export const SCHEDULERS = ['dvms', 'dvms-ring', 'centralized', 'none'] as const;
export type SchedulerName = (typeof SCHEDULERS)[number];

export interface SimOptions {
  hosts: number;
  vms: number;
  /** Simulated run length, s. */
  durationS: number;
  seed: number;
  /** Host capacity: CPU in % of a core (800 = 8 cores), memory in MiB. */
  hostCpu: number;
  hostMem: number;
  /** VM size: CPU demand at 100 % load (100 = 1 vCPU), memory in MiB. */
  vmCpu: number;
  vmMem: number;
  /** Load injector: a VM's load changes every Exp(λ = vms / loadPeriodS) s to N(mean, sd) in steps. */
  loadMean: number;
  loadSd: number;
  loadStep: number;
  loadPeriodS: number;
  /** Live-migration bandwidth in MB/s (a migration lasts mem / bandwidth + link latency). */
  bandwidthMBps: number;
  /** Number of host crashes injected at random times, and the delay before a neighbour notices. */
  crashes: number;
  crashDetectS: number;
  /** `random` (plane of `spanMs`) or the path of an RTT matrix CSV. */
  topology: string;
  spanMs: number;
  /** Extra random delay per message, ms (0 = none). */
  jitterMs: number;
  solveTime: 'wall' | 'model';
  /** Charge per solver work unit in `model` mode, ms. */
  workUnitMs: number;
  /** Solver time budget per DVMS event, ms. */
  solveBudgetMs: number;
  /** Centralized loop: period and solver time budget. */
  centralPeriodS: number;
  centralBudgetMs: number;
  /** DVMS underload threshold (fraction of CPU capacity, 0 = off). */
  underload: number;
  /** Solver headroom (fraction of CPU kept free on touched nodes), for dvms and centralized. */
  headroom: number;
}

export const SIM_DEFAULTS: SimOptions = {
  hosts: 64,
  vms: 640,
  durationS: 3600,
  seed: 1,
  hostCpu: 800,
  hostMem: 32 * 1024,
  vmCpu: 100,
  vmMem: 1024,
  loadMean: 70,
  loadSd: 30,
  loadStep: 10,
  loadPeriodS: 300,
  bandwidthMBps: 125,
  crashes: 0,
  crashDetectS: 5,
  topology: 'random',
  spanMs: 100,
  jitterMs: 0,
  solveTime: 'wall',
  workUnitMs: 0.00005,
  solveBudgetMs: 500,
  centralPeriodS: 30,
  centralBudgetMs: 10_000,
  underload: 0,
  headroom: 0,
};

export interface SimMetrics {
  scheduler: SchedulerName;
  hosts: number;
  vms: number;
  duration_s: number;
  events: number;
  violation_s: number;
  violation_per_host_s: number;
  solve_ms_p50: number;
  solve_ms_p99: number;
  solve_ms_max: number;
  partition_mean: number;
  partition_max: number;
  migrations: number;
  unsolvable: number;
  wall_s: number;
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
  /** Extra counters (messages, solver runs, charged solver time). */
  details: Record<string, number>;
}

/** Shared state handed to the scheduler drivers. */
export interface SimContext {
  readonly options: SimOptions;
  readonly queue: EventQueue;
  readonly cluster: SimCluster;
  readonly topology: Topology;
  readonly env: AgentEnvironment;
  readonly actuator: HostActuator;
  readonly stats: SimStats;
  /** VMs lost with a crashed host and not yet restarted. */
  readonly lost: Set<number>;
}

export interface SimStats {
  events: number;
  unsolvable: number;
  migrations: number;
  solveMs: number[];
  partitionSizes: number[];
  solverRuns: number;
  chargedMs: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i] ?? 0;
}

const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

export function validateOptions(o: SimOptions): void {
  const positive: (keyof SimOptions)[] = ['hosts', 'vms', 'durationS', 'hostCpu', 'hostMem', 'vmCpu', 'vmMem', 'loadPeriodS', 'bandwidthMBps', 'centralPeriodS', 'solveBudgetMs', 'centralBudgetMs'];
  for (const k of positive) {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw SchedulerError.INVALID_OPTION(`${k} must be a positive number`);
  }
  if (o.crashes < 0 || o.crashes >= o.hosts) throw SchedulerError.INVALID_OPTION('crashes must be in [0, hosts)');
}

export function simulate(partial: Partial<SimOptions>, scheduler: SchedulerName, onProgress?: (fraction: number) => void): SimResult {
  const options: SimOptions = { ...SIM_DEFAULTS, ...partial };
  validateOptions(options);
  const wallStart = performance.now();
  const queue = new EventQueue();
  const durationMs = options.durationS * 1000;
  // Independent streams so every scheduler sees the same loads, topology and crashes.
  const loadRng = seededRandom(options.seed);
  const topoRng = seededRandom(options.seed ^ 0x5bd1e995);
  const crashRng = seededRandom(options.seed ^ 0x27d4eb2f);
  const schedRng = seededRandom(options.seed ^ 0x165667b1);

  const cluster = new SimCluster({ hosts: options.hosts, vms: options.vms, hostCpu: options.hostCpu, hostMem: options.hostMem, vmMem: options.vmMem, vmCpu: options.vmCpu });
  const topology = options.topology === 'random' ? randomTopology(options.hosts, topoRng, options.spanMs) : matrixTopology(options.hosts, loadRttCsv(options.topology), topoRng);
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

  const stats: SimStats = { events: 0, unsolvable: 0, migrations: 0, solveMs: [], partitionSizes: [], solverRuns: 0, chargedMs: 0 };
  const env: AgentEnvironment = {
    now: () => queue.now,
    setTimer: (ms, fn) => queue.after(ms, fn),
    clearTimer: (h) => {
      (h as SimEvent).cancelled = true;
    },
    computeDelay: (wallMs, work) => {
      const charged = options.solveTime === 'wall' ? wallMs : work * options.workUnitMs;
      stats.solverRuns++;
      stats.chargedMs += charged;
      return charged;
    },
    wallNow: () => performance.now(),
  };
  const alive = (h: number): boolean => h >= 0 && h < options.hosts && cluster.alive[h] === 1;
  const lost = new Set<number>();
  const actuator: HostActuator = {
    migrate(vmId, fromId, toId) {
      const p = new SyncThenable();
      const vm = Number(vmId.slice(1));
      const from = SimNetwork.index(fromId);
      const to = SimNetwork.index(toId);
      const duration = ((cluster.vmMem[vm] ?? 0) / options.bandwidthMBps) * 1000 + topology.latencyMs(from, to);
      queue.after(duration, () => {
        if (alive(from) && alive(to) && cluster.vmHost[vm] === from) {
          cluster.move(vm, to, queue.now / 1000);
          stats.migrations++;
          p.resolve();
        } else p.reject(SchedulerError.ACTUATOR_FAILED(`migration of ${vmId} failed`));
      });
      return p;
    },
    start(spec, hostId) {
      const p = new SyncThenable();
      const vm = Number(spec.id.slice(1));
      const host = SimNetwork.index(hostId);
      queue.after(1, () => {
        if (alive(host) && cluster.vmHost[vm] === -1 && lost.has(vm)) {
          lost.delete(vm);
          cluster.place(vm, host, queue.now / 1000);
          p.resolve();
        } else p.reject(SchedulerError.ACTUATOR_FAILED(`start of ${spec.id} failed`));
      });
      return p;
    },
  };
  const ctx: SimContext = { options, queue, cluster, topology, env, actuator, stats, lost };

  // Scheduler drivers.
  let onCrash: (host: number, vms: VmSpec[], detector: number) => void = () => {};
  let network: SimNetwork | null = null;
  if (scheduler === 'dvms' || scheduler === 'dvms-ring') {
    const ids = Array.from({ length: options.hosts }, (_, h) => `h${h}`);
    let order: NeighbourOrder;
    if (scheduler === 'dvms-ring') order = new RingOrder(ids);
    else if (topology.coordinates) {
      const coords = new Map(ids.map((id, h) => [id, Array.from(topology.coordinates?.[h] ?? [0])] as const));
      order = new VivaldiOrder(ids, { coordinates: coords });
    } else order = new VivaldiOrder(ids, { distance: (a, b) => topology.rttMs(SimNetwork.index(a), SimNetwork.index(b)) });
    network = new SimNetwork({ queue, latencyMs: topology.latencyMs, jitterMs: options.jitterMs, rng: schedRng, isAlive: alive });
    const observer: AgentObserver = {
      eventCreated: () => {
        stats.events++;
      },
      eventSolved: (e, size, at) => {
        stats.solveMs.push(at - e.at);
        stats.partitionSizes.push(size);
      },
      eventUnsolvable: (_e, size) => {
        stats.unsolvable++;
        stats.partitionSizes.push(size);
      },
    };
    const agents = ids.map(
      (id, h) =>
        new NodeAgent({
          id,
          transport: (network as SimNetwork).transport(h),
          env,
          monitor: {
            snapshot: () => ({
              node: { id, cpu: options.hostCpu, mem: options.hostMem },
              vms: [...(cluster.hostVms[h] ?? [])].map((v) => ({ id: `v${v}`, cpu: cluster.vmCpu[v] ?? 0, mem: cluster.vmMem[v] ?? 0 })),
            }),
          },
          actuator,
          neighbours: order,
          observer,
          rng: seededRandom((options.seed * 31 + h) >>> 0),
          solve: { timeBudgetMs: options.solveBudgetMs },
          underloadThreshold: options.underload,
          headroom: options.headroom,
        }),
    );
    const under = options.underload * options.hostCpu;
    cluster.onChange = (h) => {
      if (!alive(h)) return;
      if (cluster.overloaded(h) || (under > 0 && (cluster.hostCpu[h] ?? 0) < under)) agents[h]?.sample();
    };
    onCrash = (host, vms, detector) => {
      agents[host]?.destroy();
      queue.after(options.crashDetectS * 1000, () => agents[detector]?.nodeLost(`h${host}`, vms));
    };
    queue.after(0, () => {
      for (let h = 0; h < options.hosts; h++) if (cluster.overloaded(h)) agents[h]?.sample();
    });
  } else if (scheduler === 'centralized') {
    runCentralized(ctx, schedRng);
  }

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
      onCrash(
        host,
        vms.map((v) => ({ id: `v${v}`, cpu: cluster.vmCpu[v] ?? 0, mem: cluster.vmMem[v] ?? 0 })),
        detector,
      );
    });
  }

  // Main loop, bounded by the simulated duration.
  const progressEvery = durationMs / 200;
  let nextProgress = progressEvery;
  for (let ev = queue.next(durationMs); ev; ev = queue.next(durationMs)) {
    ev.fn();
    if (onProgress && queue.now >= nextProgress) {
      onProgress(queue.now / durationMs);
      nextProgress = queue.now + progressEvery;
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
    events: stats.events,
    violation_s: round(violation),
    violation_per_host_s: round(violation / options.hosts),
    solve_ms_p50: round(percentile(solve, 0.5)),
    solve_ms_p99: round(percentile(solve, 0.99)),
    solve_ms_max: round(solve[solve.length - 1] ?? 0),
    partition_mean: round(parts.length ? parts.reduce((a, b) => a + b, 0) / parts.length : 0),
    partition_max: parts.reduce((a, b) => Math.max(a, b), 0),
    migrations: stats.migrations,
    unsolvable: stats.unsolvable,
    wall_s: round((performance.now() - wallStart) / 1000),
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
    details: { messages: network?.messages ?? 0, solver_runs: stats.solverRuns, charged_solver_ms: round(stats.chargedMs), lost_vms: lost.size },
  };
}
