/**
 * Replays a plan on a source model and reports typed violations: an action that cannot apply, a
 * step whose destination goes over capacity, a step that breaks a continuous constraint that held,
 * an action a constraint forbids, and a final configuration that is not viable.
 */
import { checkerFor, type Constraint } from './constraints/index.js';
import { SchedulerError } from './errors.js';
import { cloneModel, RESOURCES, usage, type Model, type Resource } from './model.js';
import { actionError, applyAction, type Action, type Plan } from './plan.js';

export type PlanViolation =
  | { type: 'invalid-action'; step: number; action: string; message: string }
  | { type: 'capacity'; step: number; node: string; resource: Resource; used: number; capacity: number }
  | { type: 'action-denied'; step: number; constraint: string; message: string }
  | { type: 'continuous'; step: number; constraint: string; message: string }
  | { type: 'final'; constraint: string; message: string }
  | { type: 'final-capacity'; node: string; resource: Resource; used: number; capacity: number };

function denied(checker: ReturnType<typeof checkerFor>, model: Model, action: Action): string | null {
  switch (action.kind) {
    case 'migrate':
      return checker.onMigrate(model, action);
    case 'start':
      return checker.onStart(model, action);
    case 'boot':
      return checker.onBoot(model, action);
    case 'shutdown':
      return checker.onShutdown(model, action);
  }
}

export function checkPlan(source: Model, plan: Plan, constraints: readonly Constraint[] = []): PlanViolation[] {
  const out: PlanViolation[] = [];
  const model = cloneModel(source);
  const checkers = constraints.map((c) => checkerFor(c));
  const used: Record<Resource, Map<string, number>> = { cpu: usage(model, 'cpu'), mem: usage(model, 'mem') };
  let held = checkers.map((k) => k.constraint.continuous && k.state(model) === null);
  plan.actions.forEach((action, step) => {
    const err = actionError(model, action);
    if (err) {
      out.push({ type: 'invalid-action', step, action: action.toString(), message: err });
      return;
    }
    for (const k of checkers) {
      const reason = denied(k, model, action);
      if (reason) out.push({ type: 'action-denied', step, constraint: k.constraint.kind, message: reason });
    }
    applyAction(model, action);
    if (action.kind === 'migrate' || action.kind === 'start') {
      const vm = model.vms.get(action.vm);
      const to = action.kind === 'migrate' ? action.to : action.host;
      for (const r of RESOURCES) {
        const d = vm ? vm[r] : 0;
        if (action.kind === 'migrate') used[r].set(action.from, (used[r].get(action.from) ?? 0) - d);
        const u = (used[r].get(to) ?? 0) + d;
        used[r].set(to, u);
        const cap = model.nodes.get(to)?.[r] ?? 0;
        if (u > cap + 1e-9) out.push({ type: 'capacity', step, node: to, resource: r, used: u, capacity: cap });
      }
    }
    held = checkers.map((k, i) => {
      if (!k.constraint.continuous) return false;
      const ok = k.state(model) === null;
      if (held[i] && !ok) out.push({ type: 'continuous', step, constraint: k.constraint.kind, message: k.state(model) ?? '' });
      return ok;
    });
  });
  for (const k of checkers) {
    const reason = k.state(model);
    if (reason) out.push({ type: 'final', constraint: k.constraint.kind, message: reason });
  }
  for (const [id, spec] of model.nodes) {
    for (const r of RESOURCES) {
      const u = used[r].get(id) ?? 0;
      if (u > spec[r] + 1e-9) out.push({ type: 'final-capacity', node: id, resource: r, used: u, capacity: spec[r] });
    }
  }
  return out;
}

export function assertPlan(source: Model, plan: Plan, constraints: readonly Constraint[] = []): void {
  const violations = checkPlan(source, plan, constraints);
  if (violations.length > 0) {
    throw SchedulerError.PLAN_VIOLATION(`${violations.length} violation(s), first: ${JSON.stringify(violations[0])}`, violations);
  }
}

/** The configuration a plan leads to (throws on an inapplicable action). */
export function replay(source: Model, plan: Plan): Model {
  const model = cloneModel(source);
  for (const a of plan.actions) applyAction(model, a);
  return model;
}
