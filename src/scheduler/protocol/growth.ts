/** Growth and merge: a partition without a plan hands its lead to the next free node of the initiator's order, merges into an older partition, or waits for a new round. */
import type { AgentCore, InputOf } from './agent-core.js';
import { applySolution, giveUp, probe } from './leader.js';
import { olderThan, type BusyPartition, type PartitionInfo } from './messages.js';
import { dissolve, reserve } from './reservation.js';

/** The solver's answer, once its compute delay has passed: apply the plan, or grow. */
export function afterSolve(core: AgentCore, { lead, result, model }: InputOf<'solve-done'>): void {
  if (core.lead !== lead) return;
  lead.timer = null;
  if (result.status === 'solved' && result.plan) applySolution(core, lead, result.plan, model);
  else search(core);
}

/** Hands the partition to the next free node of the initiator's order, or merges, or waits. */
function search(core: AgentCore): void {
  const lead = core.lead;
  if (!lead) return;
  const { info } = lead;
  const onlyUnderload = info.events.every((e) => e.kind === 'underload');
  if (onlyUnderload && info.members.length >= core.underloadMaxPartition) {
    dissolve(core);
    return;
  }
  const skip = new Set([...info.members, ...info.dead, ...info.bounced]);
  const size = core.neighbours.size();
  for (let i = info.cursor; i < size; i++) {
    const c = core.neighbours.at(info.initiator, i);
    if (c === undefined) break;
    if (skip.has(c) || c === core.id) continue;
    handover(core, c, i + 1);
    return;
  }
  // Each leader ranks the initiator's neighbours from its own view of the coordinates (a mesh),
  // so a node before the cursor may not have been asked yet: ask it before giving up.
  for (let i = 0; i < Math.min(info.cursor, size); i++) {
    const c = core.neighbours.at(info.initiator, i);
    if (c === undefined || skip.has(c) || c === core.id) continue;
    handover(core, c, info.cursor);
    return;
  }
  // Order exhausted.
  const oldest = info.busy.reduce<BusyPartition | null>((a, b) => (a === null || olderThan(b, a) ? b : a), null);
  if (oldest === null || info.rounds + 1 >= core.maxBusyRounds) {
    giveUp(core);
    return;
  }
  if (olderThan(oldest, info)) {
    merge(core, oldest);
    return;
  }
  wait(core);
}

function wait(core: AgentCore): void {
  const lead = core.lead;
  if (!lead) return;
  lead.phase = 'waiting';
  core.updateInfo({ rounds: lead.info.rounds + 1 });
  lead.timer = core.env.setTimer(core.retryMs, () => core.dispatch({ type: 'retry-due', lead }));
}

/** A new round over the initiator's order, with fresh states. */
export function retry(core: AgentCore, { lead }: InputOf<'retry-due'>): void {
  if (core.lead !== lead) return;
  lead.timer = null;
  core.updateInfo({ cursor: 0, busy: [], bounced: [] });
  probe(core, new Set());
}

function handover(core: AgentCore, candidate: string, cursor: number): void {
  const lead = core.lead;
  if (!lead) return;
  const info: PartitionInfo = { ...lead.info, epoch: lead.info.epoch + 1, members: [...lead.info.members, candidate], cursor };
  lead.phase = 'handover';
  lead.candidate = candidate;
  core.updateInfo({ cursor });
  core.transport.send(candidate, { type: 'join', info, sentAt: core.env.now() });
  lead.timer = core.env.setTimer(core.handoverTimeoutMs, () => core.dispatch({ type: 'handover-timeout', lead, candidate }));
}

/** The candidate joined and leads: this node is a member now. */
export function handedOver(core: AgentCore, { from, message }: InputOf<'joined'>): void {
  const lead = core.lead;
  if (!lead || lead.candidate !== from || lead.info.pid !== message.pid) return;
  core.dropLead();
  if (core.res) reserve(core, { ...core.res, epoch: message.epoch, leader: from });
}

/** The candidate is in another partition (remembered for a merge) or may not join (skipped). */
export function bounced(core: AgentCore, { from, message }: InputOf<'bounce'>): void {
  const lead = core.lead;
  if (!lead || lead.candidate !== from || lead.info.pid !== message.pid) return;
  if (lead.timer !== null) core.env.clearTimer(lead.timer);
  lead.timer = null;
  const other = message.busy && message.busy.pid !== lead.info.pid ? message.busy : null;
  const busy = other ? [...lead.info.busy.filter((b) => b.pid !== other.pid), other] : lead.info.busy;
  // Every member of the partition that holds the candidate would bounce too: skip them all at once.
  const through = other ? (message.members ?? []).filter((m) => !lead.info.members.includes(m)) : [];
  resume(core, other ? { busy, bounced: [...new Set([...lead.info.bounced, from, ...through])] } : { dead: [...lead.info.dead, from] });
}

export function handoverTimedOut(core: AgentCore, { lead, candidate }: InputOf<'handover-timeout'>): void {
  if (core.lead !== lead) return;
  lead.timer = null;
  resume(core, { dead: [...lead.info.dead, candidate] });
}

/** Takes the lead back (after a refused or silent handover/merge) with a fencing epoch. */
function resume(core: AgentCore, patch: Partial<PartitionInfo>, then: 'search' | 'wait' = 'search'): void {
  const lead = core.lead;
  if (!lead || !core.res) return;
  const epoch = lead.info.epoch + 2;
  core.updateInfo({ ...patch, epoch });
  core.res = { ...core.res, epoch, leader: core.id };
  lead.candidate = null;
  lead.phase = 'probing';
  if (then === 'search') search(core);
  else if (lead.info.rounds + 1 >= core.maxBusyRounds) giveUp(core);
  else wait(core);
}

function merge(core: AgentCore, target: BusyPartition): void {
  const lead = core.lead;
  if (!lead) return;
  lead.phase = 'merging';
  core.transport.send(target.leader, { type: 'merge', info: lead.info });
  lead.timer = core.env.setTimer(core.handoverTimeoutMs, () => core.dispatch({ type: 'merge-timeout', lead }));
}

export function mergeRejected(core: AgentCore, { message }: InputOf<'merge-reject'>): void {
  const lead = core.lead;
  if (!lead || lead.info.pid !== message.pid) return;
  if (lead.timer !== null) core.env.clearTimer(lead.timer);
  lead.timer = null;
  resume(core, { busy: [] }, 'wait');
}

export function mergeTimedOut(core: AgentCore, { lead }: InputOf<'merge-timeout'>): void {
  if (core.lead !== lead) return;
  lead.timer = null;
  resume(core, { busy: [] }, 'wait');
}

export function rejectMerge(core: AgentCore, { from, message }: InputOf<'merge'>): void {
  core.transport.send(from, { type: 'merge-reject', pid: message.info.pid });
}

/** An older partition absorbs a younger one that is stuck, and probes (adopts) its members. */
export function absorbMerge(core: AgentCore, input: InputOf<'merge'>): void {
  const lead = core.lead;
  const { info } = input.message;
  if (!lead || !olderThan(lead.info, info) || core.res?.leader !== core.id) {
    rejectMerge(core, input);
    return;
  }
  if (lead.timer !== null) core.env.clearTimer(lead.timer);
  lead.timer = null;
  const adoptees = new Set(info.members.filter((m) => !lead.info.members.includes(m)));
  core.observer.partitionMerged?.(lead.info.pid, info.pid, core.env.now());
  for (const m of adoptees) core.mergedFrom.set(m, info.pid);
  core.updateInfo({
    events: [...lead.info.events, ...info.events],
    members: [...lead.info.members, ...adoptees],
    dead: [...new Set([...lead.info.dead, ...info.dead])],
    busy: lead.info.busy.filter((b) => b.pid !== info.pid),
  });
  probe(core, adoptees);
}
