/** The simulator's options: every knob of a run, its defaults, and their validation. */
import { SchedulerError } from '../errors.js';

export const SCHEDULERS = ['dvms', 'dvms-ring', 'entropy', 'snooze', 'centralized', 'none'] as const;
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
  /**
   * Network bandwidth in MB/s: live migrations (pre-copy rounds at this rate) and every message
   * (its size at this rate, after the link's one-way latency).
   */
  bandwidthMBps: number;
  /** Memory a VM dirties per second at 100 % load, MB/s (pre-copy re-sends it). */
  dirtyRateMBps: number;
  /** Pre-copy stops once what is left would be copied within this downtime, ms, or after `maxPrecopyRounds`. */
  maxDowntimeMs: number;
  maxPrecopyRounds: number;
  /** Hosts report their state (and detect overloads) every `monitoringS` s; 0: at once. */
  monitoringS: number;
  /** Site of the central manager (entropy, centralized) and of the group leader (snooze); '' = the site nearest all hosts. */
  managerSite: string;
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
  /** Centralized heuristic loop: period and solver time budget. */
  centralPeriodS: number;
  centralBudgetMs: number;
  /** Entropy: a new iteration every `entropyPeriodS` (or as soon as the previous plan is applied, when longer). */
  entropyPeriodS: number;
  /** Snooze: hosts per group manager, and the period of each group manager's loop. */
  snoozeGroupSize: number;
  snoozePeriodS: number;
  /**
   * DVMS: a partition smaller than this grows before it solves (VMPlaceS's minimum_partition_size,
   * 4 there; 32 here: its plans then send VMs to emptier hosts, see docs/scheduler.md).
   */
  minPartitionSize: number;
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
  dirtyRateMBps: 20,
  maxDowntimeMs: 300,
  maxPrecopyRounds: 30,
  monitoringS: 1,
  managerSite: '',
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
  entropyPeriodS: 1,
  snoozeGroupSize: 32,
  snoozePeriodS: 1,
  minPartitionSize: 32,
  underload: 0,
  headroom: 0,
};

export function validateOptions(o: SimOptions): void {
  const positive: (keyof SimOptions)[] = ['hosts', 'vms', 'durationS', 'hostCpu', 'hostMem', 'vmCpu', 'vmMem', 'loadPeriodS', 'bandwidthMBps', 'centralPeriodS', 'solveBudgetMs', 'centralBudgetMs', 'entropyPeriodS', 'snoozeGroupSize', 'snoozePeriodS', 'maxDowntimeMs', 'maxPrecopyRounds'];
  for (const k of positive) {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw SchedulerError.INVALID_OPTION(`${k} must be a positive number`);
  }
  if (!(o.monitoringS >= 0) || !(o.dirtyRateMBps >= 0)) throw SchedulerError.INVALID_OPTION('monitoringS and dirtyRateMBps must be >= 0');
  if (o.crashes < 0 || o.crashes >= o.hosts) throw SchedulerError.INVALID_OPTION('crashes must be in [0, hosts)');
}
