/** What the simulator's modules share: the clock and event queue, the hosts, the topology, and the agent ports on them. */
import { SchedulerError } from '../errors.js';
import type { AgentEnvironment, HostActuator } from '../protocol/transport.js';
import type { RandomSource } from '../random.js';
import { SimCluster } from './cluster.js';
import { EventQueue, type SimEvent } from './event-queue.js';
import { SimNetwork } from './network.js';
import type { SimOptions } from './options.js';
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
 * agents run on (solver runs charged as `options.solveTime` says), and the actuator: a migration
 * lasts the VM's memory over the bandwidth plus the link latency, a start 1 ms.
 */
export function createSimContext(options: SimOptions, topologyRng: RandomSource): SimContext {
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
  return { options, queue, cluster, topology, env, actuator, stats, lost, alive };
}
