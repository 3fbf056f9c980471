/** What the simulator's modules share: the clock and event queue, the hosts, the topology, and the agent ports on them. */
import { SchedulerError } from '../errors.js';
import type { AgentEnvironment, HostActuator } from '../protocol/transport.js';
import type { RandomSource } from '../random.js';
import { SimCluster } from './cluster.js';
import { EventQueue, type SimEvent } from './event-queue.js';
import { SimNetwork } from './network.js';
import type { SimOptions } from './options.js';
import { precopyMs } from './migration.js';
import { Monitoring } from './monitoring.js';
import { SyncThenable } from './sync-thenable.js';
import { loadRttCsv, matrixTopology, randomTopology, type Topology } from './topology.js';

/** Shared state handed to the scheduler drivers. */
export interface SimContext {
  readonly options: SimOptions;
  readonly queue: EventQueue;
  readonly cluster: SimCluster;
  readonly topology: Topology;
  readonly env: AgentEnvironment;
  readonly actuator: HostActuator;
  readonly stats: SimStats;
  readonly monitoring: Monitoring;
  /** Duration in ms of migrating a VM between two hosts now (pre-copy at the bandwidth, plus the link latency). */
  migrationMs(vm: number, from: number, to: number): number;
  /** VMs lost with a crashed host and not yet restarted. */
  readonly lost: Set<number>;
  /** True for the index of a host that exists and has not crashed. */
  alive(host: number): boolean;
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

/**
 * The hosts (no VM placed yet), the topology drawn from `topologyRng`, the simulated clock the
 * agents run on (solver runs charged as `options.solveTime` says), the monitoring, and the
 * actuator: a migration lasts its pre-copy rounds plus the link latency, a start 1 ms.
 */
export function createSimContext(options: SimOptions, topologyRng: RandomSource, reports: boolean): SimContext {
  const queue = new EventQueue();
  const cluster = new SimCluster({ hosts: options.hosts, vms: options.vms, hostCpu: options.hostCpu, hostMem: options.hostMem, vmMem: options.vmMem, vmCpu: options.vmCpu });
  const topology = options.topology === 'random' ? randomTopology(options.hosts, topologyRng, options.spanMs) : matrixTopology(options.hosts, loadRttCsv(options.topology), topologyRng);
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
    // With a modelled solve time nothing depends on the wall clock (a run is the same for a seed).
    wallNow: options.solveTime === 'wall' ? () => performance.now() : () => 0,
  };
  const migrationMs = (vm: number, from: number, to: number): number =>
    precopyMs(cluster.vmMem[vm] ?? 0, {
      bandwidthMBps: options.bandwidthMBps,
      dirtyMBps: (options.dirtyRateMBps * (cluster.vmCpu[vm] ?? 0)) / options.vmCpu,
      maxDowntimeMs: options.maxDowntimeMs,
      maxRounds: options.maxPrecopyRounds,
    }) + topology.latencyMs(from, to);
  const nearest = nearestLatencies(topology, options.hosts);
  cluster.floorOf = (h) => migrationFloorMs(cluster, h, (vm) => migrationMs(vm, h, h) + (nearest[h] ?? 0)) / 1000;
  const monitoring = new Monitoring(queue, cluster, { periodMs: options.monitoringS * 1000, reports });
  cluster.onChange = (h) => monitoring.changed(h);
  const alive = (h: number): boolean => h >= 0 && h < options.hosts && cluster.alive[h] === 1;
  const lost = new Set<number>();
  const actuator: HostActuator = {
    migrate(vmId, fromId, toId) {
      const p = new SyncThenable();
      const vm = Number(vmId.slice(1));
      const from = SimNetwork.index(fromId);
      const to = SimNetwork.index(toId);
      const duration = migrationMs(vm, from, to);
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
  return { options, queue, cluster, topology, env, actuator, stats, lost, alive, monitoring, migrationMs };
}

/** One-way latency from each host to its nearest other host (the site's own RTT when it has others). */
function nearestLatencies(topology: Topology, hosts: number): Float64Array {
  const siteOf = 'siteOf' in topology ? (topology.siteOf as Int32Array) : null;
  if (!siteOf) return new Float64Array(hosts);
  const bySite = new Map<number, number[]>();
  siteOf.forEach((s, h) => bySite.set(s, [...(bySite.get(s) ?? []).slice(0, 1), h]));
  const reps = [...bySite.values()];
  const perSite = new Map<number, number>();
  for (const [s, hs] of bySite) {
    const own = hs.length > 1 ? topology.latencyMs(hs[0] ?? 0, hs[1] ?? 0) : Infinity;
    const other = Math.min(...reps.filter((r) => siteOf[r[0] ?? 0] !== s).map((r) => topology.latencyMs(hs[0] ?? 0, r[0] ?? 0)));
    perSite.set(s, Math.min(own, other));
  }
  return Float64Array.from(siteOf, (s) => perSite.get(s) ?? 0);
}

/**
 * The shortest migrations that end host h's overload now: the quickest single VM that sheds enough
 * CPU, else the largest VMs one after the other until enough is shed.
 */
function migrationFloorMs(cluster: SimCluster, h: number, durationOf: (vm: number) => number): number {
  const excess = (cluster.hostCpu[h] ?? 0) - cluster.capCpu;
  const vms = [...(cluster.hostVms[h] ?? [])];
  let best = Infinity;
  for (const vm of vms) if ((cluster.vmCpu[vm] ?? 0) >= excess) best = Math.min(best, durationOf(vm));
  if (Number.isFinite(best)) return best;
  vms.sort((a, b) => (cluster.vmCpu[b] ?? 0) - (cluster.vmCpu[a] ?? 0));
  let shed = 0;
  let total = 0;
  for (const vm of vms) {
    if (shed >= excess) break;
    shed += cluster.vmCpu[vm] ?? 0;
    total += durationOf(vm);
  }
  return total;
}
