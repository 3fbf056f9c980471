/** What the modules of a NodeAgent share: its options and defaults, its ports, its reservation and lead, and the inputs it reacts to. */
import type { Constraint } from '../constraints/index.js';
import { SchedulerError } from '../errors.js';
import type { Model } from '../model.js';
import { seededRandom, type RandomSource } from '../random.js';
import type { SolveOptions, SolveResult } from '../solver/solve.js';
import type { DvmsEvent, DvmsMessage, NodeSnapshot, PartitionInfo } from './messages.js';
import type { NeighbourOrder } from './neighbours.js';
import type { PlanExecution } from './plan-execution.js';
import type { AgentEnvironment, HostActuator, HostMonitor, SchedulerTransport, TimerHandle } from './transport.js';

export const DEFAULT_UNDERLOAD_THRESHOLD = 0; // fraction of CPU capacity; 0 disables consolidation
export const DEFAULT_UNDERLOAD_MAX_PARTITION = 4;
export const DEFAULT_PROBE_TIMEOUT_MS = 2_000;
export const DEFAULT_HANDOVER_TIMEOUT_MS = 2_000;
export const DEFAULT_EXEC_TIMEOUT_MS = 120_000;
export const DEFAULT_LEASE_MS = 15_000;
export const DEFAULT_KEEPALIVE_MS = 4_000;
export const DEFAULT_RETRY_MS = 1_000;
export const DEFAULT_MAX_ROUNDS = 3;
/** Rounds a partition waits for the busy partitions it met before its events are unsolvable. */
export const DEFAULT_MAX_BUSY_ROUNDS = 30;
export const DEFAULT_MIN_PARTITION_SIZE = 1;
export const DEFAULT_SOLVE_BUDGET_MS = 500;
export const DEFAULT_UNSOLVABLE_BACKOFF_MS = 5_000;
export const DEFAULT_HEADROOM = 0;
export const DEFAULT_HEADROOM_MAX_PARTITION = 8;

/** The phases of a node that leads a partition. */
export type LeaderPhase = 'probing' | 'solving' | 'applying' | 'waiting' | 'handover' | 'merging';
/** Free, member of a partition led elsewhere, one of the leader's phases, or closed (stopped for good). */
export type AgentState = 'free' | 'member' | LeaderPhase | 'closed';

export interface SolverRun {
  readonly node: string;
  readonly pid: string;
  readonly partitionSize: number;
  readonly wallMs: number;
  readonly chargedMs: number;
  readonly status: SolveResult['status'];
}

/** Hooks for metrics and invariant checks; all optional. */
export interface AgentObserver {
  reserved?(node: string, pid: string | null, at: number): void;
  eventCreated?(event: DvmsEvent): void;
  solverRun?(run: SolverRun): void;
  eventSolved?(event: DvmsEvent, partitionSize: number, at: number, migrations: number): void;
  eventUnsolvable?(event: DvmsEvent, partitionSize: number, at: number): void;
  partitionDissolved?(pid: string, size: number, at: number): void;
  partitionMerged?(into: string, from: string, at: number): void;
  migrationStarted?(pid: string, vm: string, from: string, to: string, at: number): void;
  migrationEnded?(pid: string, vm: string, ok: boolean, at: number): void;
  /** An input the transition table handles took the node from state `from` to state `to`. */
  transition?(node: string, from: AgentState, input: InputType, to: AgentState): void;
}

export interface NodeAgentOptions {
  id: string;
  transport: SchedulerTransport;
  env: AgentEnvironment;
  monitor: HostMonitor;
  actuator: HostActuator;
  neighbours: NeighbourOrder;
  constraints?: readonly Constraint[];
  observer?: AgentObserver;
  rng?: RandomSource;
  solve?: SolveOptions;
  underloadThreshold?: number;
  underloadMaxPartition?: number;
  probeTimeoutMs?: number;
  handoverTimeoutMs?: number;
  execTimeoutMs?: number;
  leaseMs?: number;
  keepaliveMs?: number;
  retryMs?: number;
  maxRounds?: number;
  /**
   * While it met busy partitions (whose nodes may soon be free, or which it may merge into), a
   * partition keeps waiting up to this many rounds rather than `maxRounds`: younger events are not
   * given up because older ones hold the neighbourhood.
   */
  maxBusyRounds?: number;
  /**
   * A partition smaller than this grows before it solves, in its first round (VMPlaceS's
   * `minimum_partition_size`: more nodes, better placements).
   */
  minPartitionSize?: number;
  /**
   * CPU fraction the solver keeps free on the nodes a plan touches while the partition is smaller
   * than `headroomMaxPartition`; bigger partitions accept plans that fill nodes to capacity.
   */
  headroom?: number;
  headroomMaxPartition?: number;
  /** After an unsolvable event, the node waits this long before raising a new one. */
  unsolvableBackoffMs?: number;
  /** Distance in ms between two nodes (e.g. coordinate distances), for the VMs' latency rules. */
  distance?: (a: string, b: string) => number;
  /**
   * Fraction of capacity a measured load may exceed it by before it is an overload: real monitors
   * measure CPU over wall-clock intervals, and a host used exactly to capacity reads a little over.
   */
  overloadMargin?: number;
}

/** The partition a node belongs to; `leader` is who it answers to (itself when it leads). */
export interface Reservation {
  pid: string;
  epoch: number;
  leader: string;
  created: number;
  /** The partition's members, as the last probe listed them. */
  members?: readonly string[];
}

/** The partition this node leads. */
export interface Lead {
  info: PartitionInfo;
  phase: LeaderPhase;
  /** Snapshots collected this probe, by member. */
  states: Map<string, NodeSnapshot>;
  /** Members whose snapshot the probe still waits for. */
  awaiting: Set<string>;
  /** The timeout or delay of the current phase. */
  timer: TimerHandle | null;
  keepalive: TimerHandle | null;
  /** The node asked to join and lead (handover). */
  candidate: string | null;
  /** The exact solver has had its say on this partition (the last resort before its events are unsolvable). */
  exactTried: boolean;
  exec: LeadExecution | null;
}

export interface LeadExecution {
  readonly run: PlanExecution;
  /** Timeout of each running step. */
  readonly timers: Map<number, TimerHandle>;
}

type MessageInputs = { [T in DvmsMessage['type']]: { readonly type: T; readonly from: string; readonly message: Extract<DvmsMessage, { type: T }> } };
export type MessageInput = MessageInputs[DvmsMessage['type']];

/** What an agent reacts to: protocol messages, calls from its host, and its own timers. */
export type AgentInput =
  | MessageInput
  | { readonly type: 'sample' }
  | { readonly type: 'event'; readonly event: DvmsEvent }
  | { readonly type: 'close' }
  | { readonly type: 'lease-expired'; readonly pid: string | undefined }
  | { readonly type: 'keepalive-due'; readonly lead: Lead }
  | { readonly type: 'probe-timeout'; readonly lead: Lead }
  | { readonly type: 'solve-done'; readonly lead: Lead; readonly result: SolveResult; readonly model: Model }
  | { readonly type: 'retry-due'; readonly lead: Lead }
  | { readonly type: 'handover-timeout'; readonly lead: Lead; readonly candidate: string }
  | { readonly type: 'merge-timeout'; readonly lead: Lead }
  | { readonly type: 'exec-timeout'; readonly lead: Lead; readonly step: number };
export type InputType = AgentInput['type'];
export type InputOf<T extends InputType> = Extract<AgentInput, { type: T }>;

export function messageInput(from: string, message: DvmsMessage): MessageInput {
  return { type: message.type, from, message } as MessageInput;
}

function hashSeed(id: string): number {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** One agent's ports, settings and state; `dispatch` feeds an input through the transition table. */
export class AgentCore {
  readonly id: string;
  readonly transport: SchedulerTransport;
  readonly env: AgentEnvironment;
  readonly monitor: HostMonitor;
  readonly actuator: HostActuator;
  readonly neighbours: NeighbourOrder;
  readonly constraints: readonly Constraint[];
  readonly observer: AgentObserver;
  readonly rng: RandomSource;
  readonly solveOptions: SolveOptions;
  readonly underloadThreshold: number;
  readonly underloadMaxPartition: number;
  readonly probeTimeoutMs: number;
  readonly handoverTimeoutMs: number;
  readonly execTimeoutMs: number;
  readonly leaseMs: number;
  readonly keepaliveMs: number;
  readonly retryMs: number;
  readonly maxRounds: number;
  readonly maxBusyRounds: number;
  readonly minPartitionSize: number;
  readonly unsolvableBackoffMs: number;
  readonly overloadMargin: number;
  readonly headroom: number;
  readonly headroomMaxPartition: number;
  readonly distance: ((a: string, b: string) => number) | undefined;

  res: Reservation | null = null;
  lead: Lead | null = null;
  lease: TimerHandle | null = null;
  backoffUntil = -Infinity;
  backoffTimer: TimerHandle | null = null;
  /** Events raised while the node was in a partition, for the next partition it starts. */
  readonly queued: DvmsEvent[] = [];
  /** VMs this node is migrating away now. */
  readonly migrating = new Set<string>();
  /** Members adopted from a merged partition, with that partition's id (their adopt names it). */
  readonly mergedFrom = new Map<string, string>();
  seq = 0;
  closed = false;
  draining = false;

  constructor(
    options: NodeAgentOptions,
    readonly dispatch: (input: AgentInput) => void,
  ) {
    this.id = options.id;
    this.transport = options.transport;
    this.env = options.env;
    this.monitor = options.monitor;
    this.actuator = options.actuator;
    this.neighbours = options.neighbours;
    this.constraints = options.constraints ?? [];
    this.observer = options.observer ?? {};
    this.rng = options.rng ?? seededRandom(hashSeed(options.id));
    this.solveOptions = { timeBudgetMs: DEFAULT_SOLVE_BUDGET_MS, ...options.solve };
    this.underloadThreshold = options.underloadThreshold ?? DEFAULT_UNDERLOAD_THRESHOLD;
    this.underloadMaxPartition = options.underloadMaxPartition ?? DEFAULT_UNDERLOAD_MAX_PARTITION;
    this.probeTimeoutMs = options.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    this.handoverTimeoutMs = options.handoverTimeoutMs ?? DEFAULT_HANDOVER_TIMEOUT_MS;
    this.execTimeoutMs = options.execTimeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.keepaliveMs = options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;
    this.retryMs = options.retryMs ?? DEFAULT_RETRY_MS;
    this.maxRounds = options.maxRounds ?? DEFAULT_MAX_ROUNDS;
    this.maxBusyRounds = Math.max(this.maxRounds, options.maxBusyRounds ?? DEFAULT_MAX_BUSY_ROUNDS);
    this.minPartitionSize = options.minPartitionSize ?? DEFAULT_MIN_PARTITION_SIZE;
    this.unsolvableBackoffMs = options.unsolvableBackoffMs ?? DEFAULT_UNSOLVABLE_BACKOFF_MS;
    this.overloadMargin = options.overloadMargin ?? 0;
    this.headroom = options.headroom ?? DEFAULT_HEADROOM;
    this.headroomMaxPartition = options.headroomMaxPartition ?? DEFAULT_HEADROOM_MAX_PARTITION;
    this.distance = options.distance;
    if (this.keepaliveMs >= this.leaseMs) throw SchedulerError.INVALID_OPTION('keepaliveMs must be below leaseMs');
  }

  get state(): AgentState {
    if (this.closed) return 'closed';
    if (this.lead) return this.lead.phase;
    return this.res ? 'member' : 'free';
  }

  updateInfo(patch: Partial<PartitionInfo>): void {
    if (this.lead) this.lead.info = { ...this.lead.info, ...patch };
  }

  clearLeadTimers(lead: Lead): void {
    if (lead.timer !== null) this.env.clearTimer(lead.timer);
    if (lead.keepalive !== null) this.env.clearTimer(lead.keepalive);
    lead.timer = null;
    lead.keepalive = null;
    if (lead.exec) for (const t of lead.exec.timers.values()) this.env.clearTimer(t);
  }

  /** Stops leading (the reservation stays as it is). */
  dropLead(): void {
    if (this.lead) this.clearLeadTimers(this.lead);
    this.lead = null;
  }
}
