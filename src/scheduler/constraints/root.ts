/** root(vms): the running VMs are never migrated. */
import type { Model } from '../model.js';
import type { MigrateVm } from '../plan.js';
import { AllowAllChecker, requireIds, type ConstraintDeclaration } from './checker.js';

export interface RootConstraint extends ConstraintDeclaration {
  readonly kind: 'root';
  readonly vms: readonly string[];
}

export function root(vms: readonly string[]): RootConstraint {
  return { kind: 'root', vms: requireIds('root', 'vms', vms), continuous: true };
}

export class RootChecker extends AllowAllChecker<RootConstraint> {
  private readonly members = new Set(this.constraint.vms);
  override onMigrate(_model: Model, action: MigrateVm): string | null {
    return this.members.has(action.vm) ? `${action.vm} is rooted and cannot migrate` : null;
  }
}
