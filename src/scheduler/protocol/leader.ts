/** The leader of a partition: it collects its members' states, solves, and applies the plan or gives the events up. */
import type { Model } from '../model.js';
import { placementConstraints } from '../placement.js';
import type { Plan } from '../plan.js';
import type { SolveResult } from '../solver/solve-result.js';
import { solve } from '../solver/solve.js';
import type { AgentCore, InputOf, Lead } from './agent-core.js';
import type { DvmsEvent, PartitionInfo } from './messages.js';
import { partitionProblem } from './partition-model.js';
import { applyPartitionPlan } from './partition-plan.js';
import { toWire } from './plan-execution.js';
import { bounceJoin, dissolve, reserve } from './reservation.js';

/** The answer of a partition that grows before it solves. */
const NOT_SOLVED: SolveResult = { status: 'unsolvable', plan: null, target: null, cost: 0, lowerBound: 0, migrations: 0, attempts: 0, work: 0, solveMs: 0, budgetExhausted: false };

/** A partition of this node alone, for the events raised here. */
export function startPartition(core: AgentCore, events: DvmsEvent[]): void {
  const pid = `${core.id}#${core.seq++}`;
  const created = core.env.now();
  reserve(core, { pid, epoch: 1, leader: core.id, created });
  const info: PartitionInfo = { pid, created, epoch: 1, initiator: core.id, events, members: [core.id], cursor: 0, bounced: [], dead: [], busy: [], rounds: 0 };
  becomeLeader(core, info);
}

/** A free node joins the partition that asks and leads it, unless the request is stale or the node drains. */
export function acceptJoin(core: AgentCore, { from, message }: InputOf<'join'>): void {
  const { info, sentAt } = message;
  const fresh = core.env.now() - sentAt <= core.handoverTimeoutMs / 2;
  if (!fresh || core.draining) {
    bounceJoin(core, from, info);
    return;
  }
  reserve(core, { pid: info.pid, epoch: info.epoch, leader: core.id, created: info.created });
  core.transport.send(from, { type: 'joined', pid: info.pid, epoch: info.epoch });
  becomeLeader(core, info);
}

function becomeLeader(core: AgentCore, info: PartitionInfo): void {
  const lead: Lead = { info, phase: 'probing', states: new Map(), awaiting: new Set(), timer: null, keepalive: null, candidate: null, exec: null, exactTried: false };
  core.lead = lead;
  const tick = (): void => {
    if (core.lead !== lead || core.closed) return;
    core.dispatch({ type: 'keepalive-due', lead });
    lead.keepalive = core.env.setTimer(core.keepaliveMs, tick);
  };
  lead.keepalive = core.env.setTimer(core.keepaliveMs, tick);
  probe(core, new Set());
}

export function sendKeepalives(core: AgentCore, { lead }: InputOf<'keepalive-due'>): void {
  for (const m of lead.info.members) if (m !== core.id) core.transport.send(m, { type: 'keepalive', pid: lead.info.pid, epoch: lead.info.epoch });
}

/** Collects fresh states of every member (adopting the nodes of a merged partition). */
export function probe(core: AgentCore, adoptees: ReadonlySet<string>): void {
  const lead = core.lead;
  if (!lead) return;
  lead.phase = 'probing';
  lead.states = new Map([[core.id, core.monitor.snapshot()]]);
  lead.awaiting = new Set();
  if (lead.timer !== null) core.env.clearTimer(lead.timer);
  lead.timer = null;
  if (adoptees.size === 0 && growing(core, lead, lead.info.members.length)) {
    // Its members' states would not be used before it is large enough: grow on at once (each
    // leader probing every member on the way made the growth quadratic in messages).
    growFirst(core, lead, partitionProblem(lead.states, lead.info.events, core.underloadThreshold).model);
    return;
  }
  lead.awaiting = new Set(lead.info.members.filter((m) => m !== core.id));
  const { pid, epoch, created } = lead.info;
  for (const m of lead.awaiting) {
    if (adoptees.has(m)) core.transport.send(m, { type: 'adopt', pid, epoch, from: core.mergedFrom.get(m) ?? '', created });
    else core.transport.send(m, { type: 'probe', pid, epoch, members: lead.info.members });
  }
  if (lead.awaiting.size === 0) {
    solvePartition(core);
    return;
  }
  lead.timer = core.env.setTimer(core.probeTimeoutMs, () => core.dispatch({ type: 'probe-timeout', lead }));
}

/** Members that did not answer the probe are counted dead; the partition solves with the others. */
export function probeTimedOut(core: AgentCore, { lead }: InputOf<'probe-timeout'>): void {
  if (core.lead !== lead) return;
  lead.timer = null;
  const silent = [...lead.awaiting];
  core.updateInfo({ members: lead.info.members.filter((m) => !lead.awaiting.has(m)), dead: [...lead.info.dead, ...silent] });
  lead.awaiting.clear();
  solvePartition(core);
}

export function collectState(core: AgentCore, { from, message }: InputOf<'state' | 'adopted'>): void {
  const lead = core.lead;
  if (!lead || lead.info.pid !== message.pid || !lead.awaiting.has(from)) return;
  lead.awaiting.delete(from);
  lead.states.set(from, message.snapshot);
  if (lead.awaiting.size === 0) solveCollected(core, lead);
}

/** A member that no longer belongs to the partition leaves it. */
export function dropStale(core: AgentCore, { from, message }: InputOf<'stale'>): void {
  const lead = core.lead;
  if (!lead || lead.info.pid !== message.pid || !lead.awaiting.has(from)) return;
  core.updateInfo({ members: lead.info.members.filter((m) => m !== from) });
  lead.awaiting.delete(from);
  if (lead.awaiting.size === 0) solveCollected(core, lead);
}

function solveCollected(core: AgentCore, lead: Lead): void {
  if (lead.timer !== null) core.env.clearTimer(lead.timer);
  lead.timer = null;
  solvePartition(core);
}

/** In its first round a partition smaller than the minimum size grows before it solves. */
function growing(core: AgentCore, lead: Lead, size: number): boolean {
  return lead.info.rounds === 0 && size < core.minPartitionSize;
}

/** Too small to solve yet: grow first, as an unsolved partition does. */
function growFirst(core: AgentCore, lead: Lead, model: Model): void {
  lead.phase = 'solving';
  lead.timer = core.env.setTimer(0, () => core.dispatch({ type: 'solve-done', lead, result: NOT_SOLVED, model }));
}

/**
 * Solves the partition's problem; the result is used once its compute delay has passed (`solve-done`).
 * The greedy search alone while the partition may still grow (a hop costs less than an exact
 * solve); with the exact solver as its fallback once it is the last resort.
 */
function solvePartition(core: AgentCore, lastResort = false): void {
  const lead = core.lead;
  if (!lead) return;
  const { model, drains, problem } = partitionProblem(lead.states, lead.info.events, core.underloadThreshold);
  if (!problem) {
    applySolution(core, lead, { actions: [] }, model);
    return;
  }
  if (!lastResort && growing(core, lead, lead.states.size)) {
    growFirst(core, lead, model);
    return;
  }
  lead.phase = 'solving';
  const t0 = core.env.wallNow();
  const headroom = lead.states.size < core.headroomMaxPartition ? core.headroom : 0;
  // The placement rules the partition's VMs carry (snapshots and admissions keep VmSpec.placement).
  const placement = placementConstraints(model.vms.values(), [...model.nodes.keys()], core.distance);
  const exact = lastResort ? (core.solveOptions.exact ?? {}) : false;
  const result = solve(model, [...core.constraints, ...placement, ...drains], { ...core.solveOptions, exact, headroom, rng: core.rng, now: () => core.env.wallNow() });
  const wallMs = core.env.wallNow() - t0;
  const chargedMs = core.env.computeDelay(wallMs, result.work);
  core.observer.solverRun?.({ node: core.id, pid: lead.info.pid, partitionSize: lead.states.size, wallMs, chargedMs, status: result.status });
  lead.timer = core.env.setTimer(chargedMs, () => core.dispatch({ type: 'solve-done', lead, result, model }));
}

export function applySolution(core: AgentCore, lead: Lead, plan: Plan, model: Model): void {
  const migrations = plan.actions.filter((a) => a.kind === 'migrate').length;
  const now = core.env.now();
  for (const e of lead.info.events) core.observer.eventSolved?.(e, lead.info.members.length, now, migrations);
  applyPartitionPlan(
    core,
    plan.actions.map((a) => toWire(a, model.vms)),
  );
}

/**
 * No plan after every round: the exact solver decides on the last states (a feasible partition is
 * not given up); then the events are unsolvable, and the members wait a back-off before raising new ones.
 */
export function giveUp(core: AgentCore): void {
  const lead = core.lead;
  if (!lead) return;
  if (lead.info.rounds === 0 && lead.states.size < lead.info.members.length) {
    // The order ran out while the partition grew unprobed: a round with every member's state first.
    core.updateInfo({ rounds: 1 });
    probe(core, new Set());
    return;
  }
  if (!lead.exactTried && lead.states.size > 0) {
    lead.exactTried = true;
    solvePartition(core, true);
    return;
  }
  const now = core.env.now();
  for (const e of lead.info.events) if (e.kind !== 'underload') core.observer.eventUnsolvable?.(e, lead.info.members.length, now);
  core.backoffUntil = now + core.unsolvableBackoffMs;
  dissolve(core, core.unsolvableBackoffMs);
}
