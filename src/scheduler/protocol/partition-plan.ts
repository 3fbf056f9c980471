/** A partition's plan across its members: the leader sends each step to the node it targets, which checks that the partition owns it and applies it. */
import type { AgentCore, InputOf } from './agent-core.js';
import type { DvmsMessage, WireAction } from './messages.js';
import { actionTarget, performAction, PlanExecution } from './plan-execution.js';
import { dissolve, ours, renewLease } from './reservation.js';
import type { TimerHandle } from './transport.js';

type ExecMessage = Extract<DvmsMessage, { type: 'exec' }>;

/**
 * The leader runs the plan in order (a failed step stops it), then dissolves the partition. The
 * members the plan does not touch are released at once: a migration lasts seconds, and they would
 * otherwise turn other partitions away for nothing all that time.
 */
export function applyPartitionPlan(core: AgentCore, actions: readonly WireAction[]): void {
  const lead = core.lead;
  if (!lead) return;
  lead.phase = 'applying';
  releaseUntouched(core, actions);
  const timers = new Map<number, TimerHandle>();
  const run = new PlanExecution(actions, {
    afterFailure: 'stop',
    launch: (action, step) => {
      const msg: ExecMessage = { type: 'exec', pid: lead.info.pid, epoch: lead.info.epoch, step, action, leader: core.id, verified: false };
      const target = actionTarget(action);
      if (target === core.id) runStep(core, msg);
      else core.transport.send(target, msg);
      timers.set(step, core.env.setTimer(core.execTimeoutMs, () => core.dispatch({ type: 'exec-timeout', lead, step })));
    },
    finished: () => dissolve(core),
  });
  lead.exec = { run, timers };
  run.start();
}

function releaseUntouched(core: AgentCore, actions: readonly WireAction[]): void {
  const lead = core.lead;
  if (!lead) return;
  const touched = new Set<string>([core.id]);
  for (const a of actions) {
    if (a.kind === 'migrate') touched.add(a.from).add(a.to);
    else touched.add(actionTarget(a));
  }
  const { pid, epoch, members } = lead.info;
  for (const m of members) {
    if (touched.has(m)) continue;
    core.transport.send(m, { type: 'release', pid, epoch, backoffMs: 0 });
    core.mergedFrom.delete(m);
  }
  core.updateInfo({ members: members.filter((m) => touched.has(m)) });
}

/** The outcome of a step at the leader: a done message, a step it ran itself, or the step's timeout. */
export function stepDone(core: AgentCore, pid: string, step: number, ok: boolean): void {
  const lead = core.lead;
  const ex = lead?.exec;
  if (!lead || !ex || lead.info.pid !== pid || !ex.run.isRunning(step)) return;
  const t = ex.timers.get(step);
  if (t !== undefined) core.env.clearTimer(t);
  ex.timers.delete(step);
  ex.run.complete(step, ok);
}

export function doneReceived(core: AgentCore, { message }: InputOf<'done'>): void {
  stepDone(core, message.pid, message.step, message.ok);
}

export function execTimedOut(core: AgentCore, { lead, step }: InputOf<'exec-timeout'>): void {
  stepDone(core, lead.info.pid, step, false);
}

export function execReceived(core: AgentCore, { message }: InputOf<'exec'>): void {
  runStep(core, message);
}

/**
 * Runs (or forwards) one step after checking the partition owns the nodes involved. A migration's
 * destination checks its side, then asks the source, which checks its own and migrates.
 */
function runStep(core: AgentCore, m: ExecMessage): void {
  const reply = (ok: boolean): void => {
    if (m.leader === core.id) stepDone(core, m.pid, m.step, ok);
    else core.transport.send(m.leader, { type: 'done', pid: m.pid, epoch: m.epoch, step: m.step, ok });
  };
  if (!ours(core, m.pid, m.epoch)) {
    reply(false);
    return;
  }
  if (m.leader !== core.id) renewLease(core);
  const a = m.action;
  if (a.kind === 'migrate') {
    if (!m.verified && a.to === core.id && a.from !== core.id) {
      core.transport.send(a.from, { ...m, verified: true });
      return;
    }
    if (!m.verified || a.from !== core.id || core.migrating.has(a.vm)) {
      reply(false);
      return;
    }
    core.migrating.add(a.vm);
    core.observer.migrationStarted?.(m.pid, a.vm, a.from, a.to, core.env.now());
  }
  const settle = (ok: boolean): void => {
    if (a.kind === 'migrate') {
      core.migrating.delete(a.vm);
      core.observer.migrationEnded?.(m.pid, a.vm, ok, core.env.now());
    }
    reply(ok);
  };
  performAction(core.actuator, a).then(
    () => settle(true),
    () => settle(false),
  );
}
