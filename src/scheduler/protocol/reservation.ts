/** Reservation and lease: a node belongs to at most one partition, answers its leader, and frees itself when that leader stays silent for a lease. */
import type { AgentCore, InputOf, Reservation } from './agent-core.js';
import type { BusyPartition, PartitionInfo } from './messages.js';

export function reserve(core: AgentCore, r: Reservation | null): void {
  const before = core.res?.pid ?? null;
  core.res = r;
  if ((r?.pid ?? null) !== before) core.observer.reserved?.(core.id, r?.pid ?? null, core.env.now());
  if (core.lease !== null) core.env.clearTimer(core.lease);
  core.lease = null;
  if (r && r.leader !== core.id) renewLease(core);
}

export function renewLease(core: AgentCore): void {
  if (core.lease !== null) core.env.clearTimer(core.lease);
  const pid = core.res?.pid;
  core.lease = core.env.setTimer(core.leaseMs, () => {
    core.lease = null;
    core.dispatch({ type: 'lease-expired', pid });
  });
}

/** Once free, the node samples again (events queued meanwhile start a partition). */
export function afterFree(core: AgentCore): void {
  core.env.setTimer(0, () => core.dispatch({ type: 'sample' }));
}

/** True when a message for (pid, epoch) comes from our partition and is not stale. */
export function ours(core: AgentCore, pid: string, epoch: number): boolean {
  return core.res !== null && core.res.pid === pid && epoch >= core.res.epoch;
}

/** Dissolves the partition this node leads: every member is released. */
export function dissolve(core: AgentCore, backoffMs = 0): void {
  const lead = core.lead;
  if (!lead) return;
  core.clearLeadTimers(lead);
  const { pid, epoch, members } = lead.info;
  for (const m of members) if (m !== core.id) core.transport.send(m, { type: 'release', pid, epoch, backoffMs });
  for (const m of members) core.mergedFrom.delete(m);
  core.lead = null;
  core.observer.partitionDissolved?.(pid, members.length, core.env.now());
  if (core.res?.pid === pid) reserve(core, null);
  afterFree(core);
}

/** Tells a partition asking this node to join which partition holds it (or none, when it may not join now). */
export function bounceJoin(core: AgentCore, to: string, info: PartitionInfo): void {
  const busy: BusyPartition | null = core.res ? { pid: core.res.pid, created: core.res.created, leader: core.res.leader } : null;
  const members = core.lead?.info.members ?? core.res?.members ?? [];
  core.transport.send(to, { type: 'bounce', pid: info.pid, epoch: info.epoch, busy, members });
}

export function refuseJoin(core: AgentCore, input: InputOf<'join'>): void {
  bounceJoin(core, input.from, input.message.info);
}

export function leaseExpired(core: AgentCore, input: InputOf<'lease-expired'>): void {
  if (core.res?.pid !== input.pid) return;
  reserve(core, null);
  afterFree(core);
}

export function keepalive(core: AgentCore, { from, message }: InputOf<'keepalive'>): void {
  if (!ours(core, message.pid, message.epoch) || core.lead) return;
  core.res = { ...(core.res as Reservation), epoch: message.epoch, leader: from };
  renewLease(core);
}

export function release(core: AgentCore, { message }: InputOf<'release'>): void {
  if (core.res?.pid !== message.pid || core.lead) return;
  if (message.backoffMs > 0) core.backoffUntil = Math.max(core.backoffUntil, core.env.now() + message.backoffMs);
  reserve(core, null);
  afterFree(core);
}

/** A leader of our partition collects states; a newer epoch from another node means ours lost the lead. */
export function answerProbe(core: AgentCore, { from, message }: InputOf<'probe'>): void {
  if (!ours(core, message.pid, message.epoch)) {
    core.transport.send(from, { type: 'stale', pid: message.pid, epoch: message.epoch });
    return;
  }
  if (core.lead && from !== core.id && message.epoch > core.lead.info.epoch) core.dropLead();
  core.res = { ...(core.res as Reservation), epoch: message.epoch, leader: from, ...(message.members ? { members: message.members } : {}) };
  renewLease(core);
  core.transport.send(from, { type: 'state', pid: message.pid, epoch: message.epoch, snapshot: core.monitor.snapshot() });
}

/** The partition this node belongs to was merged into an older one, whose leader now holds the node. */
export function adopt(core: AgentCore, { from, message }: InputOf<'adopt'>): void {
  if (!core.res || core.res.pid !== message.from) {
    core.transport.send(from, { type: 'stale', pid: message.pid, epoch: message.epoch });
    return;
  }
  core.dropLead();
  reserve(core, { pid: message.pid, epoch: message.epoch, leader: from, created: message.created });
  core.transport.send(from, { type: 'adopted', pid: message.pid, epoch: message.epoch, snapshot: core.monitor.snapshot() });
}

/** Closing while it leads (and applies no plan) the node releases its members rather than leave them to their lease. */
export function releaseOnClose(core: AgentCore): void {
  dissolve(core);
}
