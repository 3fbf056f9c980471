/**
 * The Local Resources Tracker of one node: monitoring, the DVMS protocol and plan application.
 *
 * A node where an event occurs creates a partition, reserves itself and solves; if no plan exists
 * it hands the partition to the next free node in its neighbour order, which joins and leads. A
 * node belongs to at most one partition (its reservation); busy nodes are skipped; a stuck
 * partition merges into the oldest busy partition it met when that one is older (the oldest never
 * waits on a younger one, so merges cannot deadlock). Plans are applied then the partition
 * dissolves. Members free themselves when their leader stays silent for a lease; epochs fence
 * out leaders that lost their role.
 */
import { ban, type Constraint } from '../constraints/index.js';
import { SchedulerError } from '../errors.js';
import type { Model, NodeSpec, VmSpec } from '../model.js';
import { placementConstraints } from '../placement.js';
import type { Action, Plan } from '../plan.js';
import { seededRandom, type RandomSource } from '../random.js';
import { solve, type SolveOptions, type SolveResult } from '../solver/solve.js';
import { olderThan, type BusyPartition, type DvmsEvent, type DvmsMessage, type PartitionInfo, type WireAction } from './messages.js';
import type { NeighbourOrder } from './neighbours.js';
import type { AgentEnvironment, HostActuator, HostMonitor, NodeSnapshot, SchedulerTransport, TimerHandle } from './transport.js';

export const DEFAULT_UNDERLOAD_THRESHOLD = 0; // fraction of CPU capacity; 0 disables consolidation
export const DEFAULT_UNDERLOAD_MAX_PARTITION = 4;
export const DEFAULT_PROBE_TIMEOUT_MS = 2_000;
export const DEFAULT_HANDOVER_TIMEOUT_MS = 2_000;
export const DEFAULT_EXEC_TIMEOUT_MS = 120_000;
export const DEFAULT_LEASE_MS = 15_000;
export const DEFAULT_KEEPALIVE_MS = 4_000;
export const DEFAULT_RETRY_MS = 1_000;
export const DEFAULT_MAX_ROUNDS = 3;
export const DEFAULT_SOLVE_BUDGET_MS = 500;
export const DEFAULT_UNSOLVABLE_BACKOFF_MS = 5_000;
export const DEFAULT_HEADROOM = 0;
export const DEFAULT_HEADROOM_MAX_PARTITION = 8;

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

interface Reservation {
  pid: string;
  epoch: number;
  leader: string;
  created: number;
}

type Phase = 'probing' | 'solving' | 'applying' | 'waiting' | 'handover' | 'merging';

interface Lead {
  info: PartitionInfo;
  phase: Phase;
  states: Map<string, NodeSnapshot>;
  awaiting: Set<string>;
  timer: TimerHandle | null;
  keepalive: TimerHandle | null;
  candidate: string | null;
  exec: ExecState | null;
  mergeTarget: BusyPartition | null;
}

interface ExecState {
  actions: WireAction[];
  deps: number[][];
  state: ('idle' | 'running' | 'done' | 'failed')[];
  timers: Map<number, TimerHandle>;
  failed: boolean;
}

function hashSeed(id: string): number {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  return h >>> 0;
}

function toWire(a: Action, vms: ReadonlyMap<string, VmSpec>): WireAction {
  switch (a.kind) {
    case 'migrate':
      return { kind: 'migrate', vm: a.vm, from: a.from, to: a.to };
    case 'start':
      return { kind: 'start', vm: vms.get(a.vm) ?? { id: a.vm, cpu: 0, mem: 0 }, host: a.host };
    case 'boot':
      return { kind: 'boot', node: a.node };
    case 'shutdown':
      return { kind: 'shutdown', node: a.node };
  }
}

function wireNodes(a: WireAction): string[] {
  switch (a.kind) {
    case 'migrate':
      return [a.from, a.to];
    case 'start':
      return [a.host];
    default:
      return [a.node];
  }
}

export class NodeAgent {
  readonly id: string;
  private readonly transport: SchedulerTransport;
  private readonly env: AgentEnvironment;
  private readonly monitor: HostMonitor;
  private readonly actuator: HostActuator;
  private readonly neighbours: NeighbourOrder;
  private readonly constraints: readonly Constraint[];
  private readonly observer: AgentObserver;
  private readonly rng: RandomSource;
  private readonly solveOptions: SolveOptions;
  private readonly underloadThreshold: number;
  private readonly underloadMaxPartition: number;
  private readonly probeTimeoutMs: number;
  private readonly handoverTimeoutMs: number;
  private readonly execTimeoutMs: number;
  private readonly leaseMs: number;
  private readonly keepaliveMs: number;
  private readonly retryMs: number;
  private readonly maxRounds: number;
  private readonly unsolvableBackoffMs: number;
  private readonly overloadMargin: number;
  private readonly headroom: number;
  private readonly headroomMaxPartition: number;
  private readonly distance: ((a: string, b: string) => number) | undefined;
  private backoffUntil = -Infinity;
  private backoffTimer: TimerHandle | null = null;

  private res: Reservation | null = null;
  private lead: Lead | null = null;
  private lease: TimerHandle | null = null;
  private readonly queued: DvmsEvent[] = [];
  private readonly migrating = new Set<string>();
  private seq = 0;
  private closed = false;
  private draining = false;

  constructor(options: NodeAgentOptions) {
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
    this.unsolvableBackoffMs = options.unsolvableBackoffMs ?? DEFAULT_UNSOLVABLE_BACKOFF_MS;
    this.overloadMargin = options.overloadMargin ?? 0;
    this.headroom = options.headroom ?? DEFAULT_HEADROOM;
    this.headroomMaxPartition = options.headroomMaxPartition ?? DEFAULT_HEADROOM_MAX_PARTITION;
    this.distance = options.distance;
    if (this.keepaliveMs >= this.leaseMs) throw SchedulerError.INVALID_OPTION('keepaliveMs must be below leaseMs');
    this.transport.onMessage((from, msg) => this.receive(from, msg));
  }

  /** The partition this node belongs to, if any. */
  get partition(): string | null {
    return this.res?.pid ?? null;
  }

  get isLeader(): boolean {
    return this.lead !== null && this.lead.phase !== 'handover' && this.lead.phase !== 'merging';
  }

  /** Monitoring sample: starts a partition on overload (or underload) when the node is free. */
  sample(): void {
    if (this.closed || this.res) return;
    const now = this.env.now();
    if (now < this.backoffUntil) {
      if (this.backoffTimer === null) {
        this.backoffTimer = this.env.setTimer(this.backoffUntil - now, () => {
          this.backoffTimer = null;
          this.sample();
        });
      }
      return;
    }
    if (this.queued.length > 0) {
      this.startPartition(this.queued.splice(0, this.queued.length));
      return;
    }
    const snap = this.monitor.snapshot();
    let cpu = 0;
    let mem = 0;
    for (const v of snap.vms) {
      cpu += v.cpu;
      mem += v.mem;
    }
    const load = this.monitor.load?.() ?? { cpu, mem };
    if (load.cpu > snap.node.cpu * (1 + this.overloadMargin) + 1e-9 || load.mem > snap.node.mem + 1e-9) {
      this.startPartition([this.event('overload')]);
    } else if (this.underloadThreshold > 0 && snap.vms.length > 0 && cpu < this.underloadThreshold * snap.node.cpu) {
      this.startPartition([this.event('underload')]);
    }
  }

  /** Admission of new VMs: they are placed by a partition started here. */
  admit(vms: readonly VmSpec[]): void {
    this.submit(this.event('admission', { vms }));
  }

  /** A neighbour was lost: its VMs are restarted by a partition started here. */
  nodeLost(node: string, vms: readonly VmSpec[]): void {
    this.submit(this.event('node-loss', { vms, lost: node }));
  }

  /**
   * An operator removes this node: a partition started here moves every VM of this node away
   * (they are banned from it), and from now on the node joins no other partition, so nothing is
   * placed here again. Call again to retry when VMs remain.
   */
  drain(): void {
    this.draining = true;
    this.submit(this.event('drain'));
  }

  /** Stops timers and releases a partition this node leads. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    if (this.lead && this.isLeader && this.lead.phase !== 'applying') this.finish(false);
    this.destroy();
  }

  /** Stops at once (a crash): timers cleared, messages ignored, nothing released. */
  destroy(): void {
    this.closed = true;
    if (this.lead) this.clearLeadTimers(this.lead);
    this.lead = null;
    if (this.lease !== null) this.env.clearTimer(this.lease);
    this.lease = null;
    if (this.backoffTimer !== null) this.env.clearTimer(this.backoffTimer);
    this.backoffTimer = null;
  }

  private submit(event: DvmsEvent): void {
    if (this.closed) return;
    if (this.res) this.queued.push(event);
    else this.startPartition([event]);
  }

  private event(kind: DvmsEvent['kind'], extra: { vms?: readonly VmSpec[]; lost?: string } = {}): DvmsEvent {
    const e: DvmsEvent = { id: `${this.id}/e${this.seq++}`, kind, origin: this.id, at: this.env.now(), ...extra };
    this.observer.eventCreated?.(e);
    return e;
  }

  // ---- reservation ---------------------------------------------------------------------------

  private reserve(r: Reservation | null): void {
    const before = this.res?.pid ?? null;
    this.res = r;
    if ((r?.pid ?? null) !== before) this.observer.reserved?.(this.id, r?.pid ?? null, this.env.now());
    if (this.lease !== null) this.env.clearTimer(this.lease);
    this.lease = null;
    if (r && r.leader !== this.id) this.renewLease();
  }

  private renewLease(): void {
    if (this.lease !== null) this.env.clearTimer(this.lease);
    const pid = this.res?.pid;
    this.lease = this.env.setTimer(this.leaseMs, () => {
      this.lease = null;
      if (this.closed || this.res?.pid !== pid || this.lead) return;
      this.reserve(null);
      this.afterFree();
    });
  }

  private afterFree(): void {
    this.env.setTimer(0, () => this.sample());
  }

  /** True when a message for (pid, epoch) comes from our partition and is not stale. */
  private ours(pid: string, epoch: number): boolean {
    return this.res !== null && this.res.pid === pid && epoch >= this.res.epoch;
  }

  // ---- leading -------------------------------------------------------------------------------

  private startPartition(events: DvmsEvent[]): void {
    const pid = `${this.id}#${this.seq++}`;
    const created = this.env.now();
    this.reserve({ pid, epoch: 1, leader: this.id, created });
    const info: PartitionInfo = { pid, created, epoch: 1, initiator: this.id, events, members: [this.id], cursor: 0, bounced: [], dead: [], busy: [], rounds: 0 };
    this.becomeLeader(info);
  }

  private becomeLeader(info: PartitionInfo): void {
    const lead: Lead = { info, phase: 'probing', states: new Map(), awaiting: new Set(), timer: null, keepalive: null, candidate: null, exec: null, mergeTarget: null };
    this.lead = lead;
    const tick = (): void => {
      if (this.lead !== lead || this.closed) return;
      if (this.isLeader) for (const m of lead.info.members) if (m !== this.id) this.transport.send(m, { type: 'keepalive', pid: lead.info.pid, epoch: lead.info.epoch });
      lead.keepalive = this.env.setTimer(this.keepaliveMs, tick);
    };
    lead.keepalive = this.env.setTimer(this.keepaliveMs, tick);
    this.probe(new Set());
  }

  private clearLeadTimers(lead: Lead): void {
    if (lead.timer !== null) this.env.clearTimer(lead.timer);
    if (lead.keepalive !== null) this.env.clearTimer(lead.keepalive);
    lead.timer = null;
    lead.keepalive = null;
    if (lead.exec) for (const t of lead.exec.timers.values()) this.env.clearTimer(t);
  }

  /** Collects fresh states of every member (adopting the nodes of a merged partition). */
  private probe(adoptees: ReadonlySet<string>): void {
    const lead = this.lead;
    if (!lead) return;
    lead.phase = 'probing';
    lead.states = new Map([[this.id, this.monitor.snapshot()]]);
    lead.awaiting = new Set(lead.info.members.filter((m) => m !== this.id));
    const { pid, epoch, created } = lead.info;
    for (const m of lead.awaiting) {
      if (adoptees.has(m)) this.transport.send(m, { type: 'adopt', pid, epoch, from: this.mergedFrom.get(m) ?? '', created });
      else this.transport.send(m, { type: 'probe', pid, epoch });
    }
    if (lead.timer !== null) this.env.clearTimer(lead.timer);
    lead.timer = null;
    if (lead.awaiting.size === 0) {
      this.solveNow();
      return;
    }
    lead.timer = this.env.setTimer(this.probeTimeoutMs, () => {
      if (this.lead !== lead || lead.phase !== 'probing') return;
      lead.timer = null;
      const silent = [...lead.awaiting];
      this.updateInfo({ members: lead.info.members.filter((m) => !lead.awaiting.has(m)), dead: [...lead.info.dead, ...silent] });
      lead.awaiting.clear();
      this.solveNow();
    });
  }

  private readonly mergedFrom = new Map<string, string>();

  private updateInfo(patch: Partial<PartitionInfo>): void {
    if (this.lead) this.lead.info = { ...this.lead.info, ...patch };
  }

  private onState(from: string, snapshot: NodeSnapshot, pid: string): void {
    const lead = this.lead;
    if (!lead || lead.phase !== 'probing' || lead.info.pid !== pid || !lead.awaiting.has(from)) return;
    lead.awaiting.delete(from);
    lead.states.set(from, snapshot);
    if (lead.awaiting.size === 0) {
      if (lead.timer !== null) this.env.clearTimer(lead.timer);
      lead.timer = null;
      this.solveNow();
    }
  }

  /** Builds the partition's model from the members' states and the events' VMs. */
  private partitionModel(lead: Lead): { model: Model; drains: Constraint[]; problem: boolean } {
    const nodes = new Map<string, NodeSpec>();
    const vms = new Map<string, VmSpec>();
    const host = new Map<string, string>();
    let problem = false;
    for (const [id, s] of lead.states) {
      nodes.set(id, s.node);
      let cpu = 0;
      let mem = 0;
      for (const v of s.vms) {
        vms.set(v.id, v);
        host.set(v.id, id);
        cpu += v.cpu;
        mem += v.mem;
      }
      if (cpu > s.node.cpu + 1e-9 || mem > s.node.mem + 1e-9) problem = true;
    }
    const ready = new Set<string>();
    const drains: Constraint[] = [];
    for (const e of lead.info.events) {
      for (const v of e.vms ?? []) {
        if (host.has(v.id)) continue;
        vms.set(v.id, v);
        ready.add(v.id);
        problem = true;
      }
      if (e.kind === 'drain') {
        const s = lead.states.get(e.origin);
        if (s && s.vms.length > 0) {
          drains.push(ban(s.vms.map((v) => v.id), [e.origin]));
          problem = true;
        }
      }
      if (e.kind === 'underload') {
        const s = lead.states.get(e.origin);
        const load = s ? s.vms.reduce((a, v) => a + v.cpu, 0) : 0;
        if (s && s.vms.length > 0 && load < this.underloadThreshold * s.node.cpu) {
          drains.push(ban(s.vms.map((v) => v.id), [e.origin]));
          problem = true;
        }
      }
    }
    return { model: { nodes, vms, host, ready, offline: new Set() }, drains, problem };
  }

  private solveNow(): void {
    const lead = this.lead;
    if (!lead) return;
    const { model, drains, problem } = this.partitionModel(lead);
    if (!problem) {
      this.solved(lead, { actions: [] }, model);
      return;
    }
    lead.phase = 'solving';
    const t0 = this.env.wallNow();
    const headroom = lead.states.size < this.headroomMaxPartition ? this.headroom : 0;
    // The placement rules the partition's VMs carry (snapshots and admissions keep VmSpec.placement).
    const placement = placementConstraints(model.vms.values(), [...model.nodes.keys()], this.distance);
    const result = solve(model, [...this.constraints, ...placement, ...drains], { ...this.solveOptions, headroom, rng: this.rng, now: () => this.env.wallNow() });
    const wallMs = this.env.wallNow() - t0;
    const chargedMs = this.env.computeDelay(wallMs, result.work);
    this.observer.solverRun?.({ node: this.id, pid: lead.info.pid, partitionSize: lead.states.size, wallMs, chargedMs, status: result.status });
    lead.timer = this.env.setTimer(chargedMs, () => {
      if (this.lead !== lead) return;
      lead.timer = null;
      if (result.status === 'solved' && result.plan) this.solved(lead, result.plan, model);
      else this.search();
    });
  }

  private solved(lead: Lead, plan: Plan, model: Model): void {
    const migrations = plan.actions.filter((a) => a.kind === 'migrate').length;
    const now = this.env.now();
    for (const e of lead.info.events) this.observer.eventSolved?.(e, lead.info.members.length, now, migrations);
    this.apply(plan.actions.map((a) => toWire(a, model.vms)));
  }

  private unsolvable(): void {
    const lead = this.lead;
    if (!lead) return;
    const now = this.env.now();
    for (const e of lead.info.events) if (e.kind !== 'underload') this.observer.eventUnsolvable?.(e, lead.info.members.length, now);
    this.backoffUntil = now + this.unsolvableBackoffMs;
    this.finish(false, this.unsolvableBackoffMs);
  }

  /** Hands the partition to the next free node of the initiator's order, or merges, or waits. */
  private search(): void {
    const lead = this.lead;
    if (!lead) return;
    const { info } = lead;
    const onlyUnderload = info.events.every((e) => e.kind === 'underload');
    if (onlyUnderload && info.members.length >= this.underloadMaxPartition) {
      this.finish(false);
      return;
    }
    const skip = new Set([...info.members, ...info.dead, ...info.bounced]);
    const size = this.neighbours.size();
    for (let i = info.cursor; i < size; i++) {
      const c = this.neighbours.at(info.initiator, i);
      if (c === undefined) break;
      if (skip.has(c) || c === this.id) continue;
      this.handover(c, i + 1);
      return;
    }
    // Each leader ranks the initiator's neighbours from its own view of the coordinates (a mesh),
    // so a node before the cursor may not have been asked yet: ask it before giving up.
    for (let i = 0; i < Math.min(info.cursor, size); i++) {
      const c = this.neighbours.at(info.initiator, i);
      if (c === undefined || skip.has(c) || c === this.id) continue;
      this.handover(c, info.cursor);
      return;
    }
    // Order exhausted.
    const oldest = info.busy.reduce<BusyPartition | null>((a, b) => (a === null || olderThan(b, a) ? b : a), null);
    if (oldest === null || info.rounds + 1 >= this.maxRounds) {
      this.unsolvable();
      return;
    }
    if (olderThan(oldest, info)) {
      this.merge(oldest);
      return;
    }
    this.wait();
  }

  private wait(): void {
    const lead = this.lead;
    if (!lead) return;
    lead.phase = 'waiting';
    this.updateInfo({ rounds: lead.info.rounds + 1 });
    lead.timer = this.env.setTimer(this.retryMs, () => {
      if (this.lead !== lead || lead.phase !== 'waiting') return;
      lead.timer = null;
      this.updateInfo({ cursor: 0, busy: [], bounced: [] });
      this.probe(new Set());
    });
  }

  private handover(candidate: string, cursor: number): void {
    const lead = this.lead;
    if (!lead) return;
    const info: PartitionInfo = { ...lead.info, epoch: lead.info.epoch + 1, members: [...lead.info.members, candidate], cursor };
    lead.phase = 'handover';
    lead.candidate = candidate;
    this.updateInfo({ cursor });
    this.transport.send(candidate, { type: 'join', info, sentAt: this.env.now() });
    lead.timer = this.env.setTimer(this.handoverTimeoutMs, () => {
      if (this.lead !== lead || lead.phase !== 'handover') return;
      lead.timer = null;
      this.resume({ dead: [...lead.info.dead, candidate] });
    });
  }

  /** Takes the lead back (after a refused or silent handover/merge) with a fencing epoch. */
  private resume(patch: Partial<PartitionInfo>, then: 'search' | 'wait' = 'search'): void {
    const lead = this.lead;
    if (!lead || !this.res) return;
    const epoch = lead.info.epoch + 2;
    this.updateInfo({ ...patch, epoch });
    this.res = { ...this.res, epoch, leader: this.id };
    lead.candidate = null;
    lead.mergeTarget = null;
    lead.phase = 'probing';
    if (then === 'search') this.search();
    else if (lead.info.rounds + 1 >= this.maxRounds) this.unsolvable();
    else this.wait();
  }

  private merge(target: BusyPartition): void {
    const lead = this.lead;
    if (!lead) return;
    lead.phase = 'merging';
    lead.mergeTarget = target;
    this.transport.send(target.leader, { type: 'merge', info: lead.info });
    lead.timer = this.env.setTimer(this.handoverTimeoutMs, () => {
      if (this.lead !== lead || lead.phase !== 'merging') return;
      lead.timer = null;
      this.resume({ busy: [] }, 'wait');
    });
  }

  /** An older partition absorbs a younger one that is stuck. */
  private onMerge(from: string, info: PartitionInfo): void {
    const lead = this.lead;
    const accept = lead !== null && (lead.phase === 'probing' || lead.phase === 'waiting') && olderThan(lead.info, info) && this.res?.leader === this.id;
    if (!accept || !lead) {
      this.transport.send(from, { type: 'merge-reject', pid: info.pid });
      return;
    }
    if (lead.timer !== null) this.env.clearTimer(lead.timer);
    lead.timer = null;
    const adoptees = new Set(info.members.filter((m) => !lead.info.members.includes(m)));
    this.observer.partitionMerged?.(lead.info.pid, info.pid, this.env.now());
    for (const m of adoptees) this.mergedFrom.set(m, info.pid);
    this.updateInfo({
      events: [...lead.info.events, ...info.events],
      members: [...lead.info.members, ...adoptees],
      dead: [...new Set([...lead.info.dead, ...info.dead])],
      busy: lead.info.busy.filter((b) => b.pid !== info.pid),
    });
    this.probe(adoptees);
  }

  // ---- applying ------------------------------------------------------------------------------

  private apply(actions: WireAction[]): void {
    const lead = this.lead;
    if (!lead) return;
    if (actions.length === 0) {
      this.finish(true);
      return;
    }
    lead.phase = 'applying';
    const last = new Map<string, number>();
    const deps = actions.map((a, i) => {
      const d = new Set<number>();
      for (const n of wireNodes(a)) {
        const j = last.get(n);
        if (j !== undefined) d.add(j);
        last.set(n, i);
      }
      return [...d];
    });
    lead.exec = { actions, deps, state: actions.map(() => 'idle'), timers: new Map(), failed: false };
    this.launch(lead);
  }

  private launch(lead: Lead): void {
    const ex = lead.exec;
    if (!ex) return;
    let running = 0;
    ex.actions.forEach((a, i) => {
      if (ex.state[i] === 'running') running++;
      if (ex.failed || ex.state[i] !== 'idle') return;
      if (!(ex.deps[i] ?? []).every((j) => ex.state[j] === 'done')) return;
      ex.state[i] = 'running';
      running++;
      const target = a.kind === 'migrate' ? a.to : a.kind === 'start' ? a.host : a.node;
      const msg: DvmsMessage = { type: 'exec', pid: lead.info.pid, epoch: lead.info.epoch, step: i, action: a, leader: this.id, verified: false };
      if (target === this.id) this.onExec(this.id, msg);
      else this.transport.send(target, msg);
      ex.timers.set(i, this.env.setTimer(this.execTimeoutMs, () => this.onDone(lead.info.pid, i, false)));
    });
    const pending = ex.state.some((s) => s === 'running' || (!ex.failed && s === 'idle'));
    if (!pending && running === 0) this.finish(!ex.failed);
  }

  private onDone(pid: string, step: number, ok: boolean): void {
    const lead = this.lead;
    const ex = lead?.exec;
    if (!lead || !ex || lead.info.pid !== pid || ex.state[step] !== 'running') return;
    const t = ex.timers.get(step);
    if (t !== undefined) this.env.clearTimer(t);
    ex.timers.delete(step);
    ex.state[step] = ok ? 'done' : 'failed';
    if (!ok) ex.failed = true;
    this.launch(lead);
  }

  /** Runs (or forwards) one plan action after checking the partition owns the nodes involved. */
  private onExec(_from: string, m: Extract<DvmsMessage, { type: 'exec' }>): void {
    const reply = (ok: boolean): void => {
      if (m.leader === this.id) this.onDone(m.pid, m.step, ok);
      else this.transport.send(m.leader, { type: 'done', pid: m.pid, epoch: m.epoch, step: m.step, ok });
    };
    if (!this.ours(m.pid, m.epoch)) {
      reply(false);
      return;
    }
    if (m.leader !== this.id) this.renewLease();
    const a = m.action;
    const run = (p: PromiseLike<void>): void => {
      p.then(
        () => reply(true),
        () => reply(false),
      );
    };
    switch (a.kind) {
      case 'migrate': {
        if (!m.verified && a.to === this.id && a.from !== this.id) {
          // Destination is ours; let the source check its side and migrate.
          this.transport.send(a.from, { ...m, verified: true });
          return;
        }
        if (!m.verified || a.from !== this.id || this.migrating.has(a.vm)) {
          reply(false);
          return;
        }
        this.migrating.add(a.vm);
        this.observer.migrationStarted?.(m.pid, a.vm, a.from, a.to, this.env.now());
        this.actuator.migrate(a.vm, a.from, a.to).then(
          () => {
            this.migrating.delete(a.vm);
            this.observer.migrationEnded?.(m.pid, a.vm, true, this.env.now());
            reply(true);
          },
          () => {
            this.migrating.delete(a.vm);
            this.observer.migrationEnded?.(m.pid, a.vm, false, this.env.now());
            reply(false);
          },
        );
        return;
      }
      case 'start':
        run(this.actuator.start(a.vm, a.host));
        return;
      case 'boot':
        run(this.actuator.boot ? this.actuator.boot(a.node) : Promise.reject(SchedulerError.ACTUATOR_FAILED('boot unsupported')));
        return;
      case 'shutdown':
        run(this.actuator.shutdown ? this.actuator.shutdown(a.node) : Promise.reject(SchedulerError.ACTUATOR_FAILED('shutdown unsupported')));
        return;
    }
  }

  /** Dissolves the partition this node leads. */
  private finish(_ok: boolean, backoffMs = 0): void {
    const lead = this.lead;
    if (!lead) return;
    this.clearLeadTimers(lead);
    const { pid, epoch, members } = lead.info;
    for (const m of members) if (m !== this.id) this.transport.send(m, { type: 'release', pid, epoch, backoffMs });
    for (const m of members) this.mergedFrom.delete(m);
    this.lead = null;
    this.observer.partitionDissolved?.(pid, members.length, this.env.now());
    if (this.res?.pid === pid) this.reserve(null);
    this.afterFree();
  }

  // ---- messages ------------------------------------------------------------------------------

  private receive(from: string, msg: DvmsMessage): void {
    if (this.closed) return;
    switch (msg.type) {
      case 'join':
        return this.onJoin(from, msg.info, msg.sentAt);
      case 'joined': {
        const lead = this.lead;
        if (!lead || lead.phase !== 'handover' || lead.candidate !== from || lead.info.pid !== msg.pid) return;
        this.clearLeadTimers(lead);
        this.lead = null;
        if (this.res) this.reserve({ ...this.res, epoch: msg.epoch, leader: from });
        return;
      }
      case 'bounce': {
        const lead = this.lead;
        if (!lead || lead.phase !== 'handover' || lead.candidate !== from || lead.info.pid !== msg.pid) return;
        if (lead.timer !== null) this.env.clearTimer(lead.timer);
        lead.timer = null;
        const other = msg.busy && msg.busy.pid !== lead.info.pid ? msg.busy : null;
        const busy = other ? [...lead.info.busy.filter((b) => b.pid !== other.pid), other] : lead.info.busy;
        this.resume(other ? { busy, bounced: [...lead.info.bounced, from] } : { dead: [...lead.info.dead, from] });
        return;
      }
      case 'probe':
        if (this.ours(msg.pid, msg.epoch)) {
          this.stepDownIfStale(msg.epoch, from);
          this.res = { ...(this.res as Reservation), epoch: msg.epoch, leader: from };
          this.renewLease();
          this.transport.send(from, { type: 'state', pid: msg.pid, epoch: msg.epoch, snapshot: this.monitor.snapshot() });
        } else this.transport.send(from, { type: 'stale', pid: msg.pid, epoch: msg.epoch });
        return;
      case 'state':
      case 'adopted':
        return this.onState(from, msg.snapshot, msg.pid);
      case 'stale': {
        const lead = this.lead;
        if (!lead || lead.phase !== 'probing' || lead.info.pid !== msg.pid || !lead.awaiting.has(from)) return;
        this.updateInfo({ members: lead.info.members.filter((m) => m !== from) });
        lead.awaiting.delete(from);
        if (lead.awaiting.size === 0) {
          if (lead.timer !== null) this.env.clearTimer(lead.timer);
          lead.timer = null;
          this.solveNow();
        }
        return;
      }
      case 'keepalive':
        if (this.ours(msg.pid, msg.epoch) && !this.lead) {
          this.res = { ...(this.res as Reservation), epoch: msg.epoch, leader: from };
          this.renewLease();
        }
        return;
      case 'exec':
        return this.onExec(from, msg);
      case 'done':
        return this.onDone(msg.pid, msg.step, msg.ok);
      case 'release':
        if (this.res?.pid === msg.pid && !this.lead) {
          if (msg.backoffMs > 0) this.backoffUntil = Math.max(this.backoffUntil, this.env.now() + msg.backoffMs);
          this.reserve(null);
          this.afterFree();
        }
        return;
      case 'merge':
        return this.onMerge(from, msg.info);
      case 'merge-reject': {
        const lead = this.lead;
        if (!lead || lead.phase !== 'merging' || lead.info.pid !== msg.pid) return;
        if (lead.timer !== null) this.env.clearTimer(lead.timer);
        lead.timer = null;
        this.resume({ busy: [] }, 'wait');
        return;
      }
      case 'adopt':
        if (this.res && this.res.pid === msg.from) {
          if (this.lead) {
            this.clearLeadTimers(this.lead);
            this.lead = null;
          }
          this.reserve({ pid: msg.pid, epoch: msg.epoch, leader: from, created: msg.created });
          this.transport.send(from, { type: 'adopted', pid: msg.pid, epoch: msg.epoch, snapshot: this.monitor.snapshot() });
        } else this.transport.send(from, { type: 'stale', pid: msg.pid, epoch: msg.epoch });
        return;
    }
  }

  /** A leader of our partition with a newer epoch exists: stop leading. */
  private stepDownIfStale(epoch: number, from: string): void {
    const lead = this.lead;
    if (lead && from !== this.id && epoch > lead.info.epoch) {
      this.clearLeadTimers(lead);
      this.lead = null;
    }
  }

  private onJoin(from: string, info: PartitionInfo, sentAt: number): void {
    const fresh = this.env.now() - sentAt <= this.handoverTimeoutMs / 2;
    if (this.res || !fresh || this.draining) {
      const busy: BusyPartition | null = this.res ? { pid: this.res.pid, created: this.res.created, leader: this.res.leader } : null;
      this.transport.send(from, { type: 'bounce', pid: info.pid, epoch: info.epoch, busy });
      return;
    }
    this.reserve({ pid: info.pid, epoch: info.epoch, leader: this.id, created: info.created });
    this.transport.send(from, { type: 'joined', pid: info.pid, epoch: info.epoch });
    this.becomeLeader(info);
  }
}
