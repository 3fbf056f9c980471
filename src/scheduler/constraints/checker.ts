/**
 * Constraint checker base: allows everything. Each constraint's checker overrides only the plan
 * events it cares about. `state` judges a configuration: discrete constraints are judged on the
 * final configuration only, continuous ones also after every step of a plan.
 */
import { SchedulerError } from '../errors.js';
import type { Model } from '../model.js';
import type { BootNode, MigrateVm, ShutdownNode, StartVm } from '../plan.js';

export interface ConstraintDeclaration {
  readonly kind: string;
  /** Continuous: must hold at every step of a plan (once it holds); discrete: on the final state. */
  readonly continuous: boolean;
}

export class AllowAllChecker<C extends ConstraintDeclaration = ConstraintDeclaration> {
  constructor(readonly constraint: C) {}
  /** null when `model` satisfies the constraint, else a reason. */
  state(_model: Model): string | null {
    return null;
  }
  onMigrate(_model: Model, _action: MigrateVm): string | null {
    return null;
  }
  onStart(_model: Model, _action: StartVm): string | null {
    return null;
  }
  onBoot(_model: Model, _action: BootNode): string | null {
    return null;
  }
  onShutdown(_model: Model, _action: ShutdownNode): string | null {
    return null;
  }
}

export function requireIds(kind: string, what: string, ids: readonly string[]): string[] {
  if (!Array.isArray(ids) || ids.length === 0) throw SchedulerError.INVALID_CONSTRAINT(`${kind}: ${what} must be a non-empty list`);
  return [...new Set(ids)];
}

export function requireGroups(kind: string, what: string, groups: readonly (readonly string[])[]): string[][] {
  if (!Array.isArray(groups) || groups.length === 0) throw SchedulerError.INVALID_CONSTRAINT(`${kind}: ${what} must be a non-empty list`);
  return groups.map((g) => requireIds(kind, what, g));
}

export function requireAmount(kind: string, amount: number): number {
  if (!Number.isFinite(amount) || amount < 0) throw SchedulerError.INVALID_CONSTRAINT(`${kind}: amount must be a finite number >= 0`);
  return amount;
}

/** Running hosts of the given VMs (VMs not running are skipped). */
export function hostsOf(model: Model, vms: readonly string[]): string[] {
  const out: string[] = [];
  for (const vm of vms) {
    const h = model.host.get(vm);
    if (h !== undefined) out.push(h);
  }
  return out;
}
