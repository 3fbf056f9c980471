/** quarantine(nodes): no VM migrates onto or away from the nodes (running VMs stay; starts allowed). */
import type { Model } from '../model.js';
import type { MigrateVm } from '../plan.js';
import { AllowAllChecker, requireIds, type ConstraintDeclaration } from './checker.js';

export interface QuarantineConstraint extends ConstraintDeclaration {
  readonly kind: 'quarantine';
  readonly nodes: readonly string[];
}

export function quarantine(nodes: readonly string[]): QuarantineConstraint {
  return { kind: 'quarantine', nodes: requireIds('quarantine', 'nodes', nodes), continuous: true };
}

export class QuarantineChecker extends AllowAllChecker<QuarantineConstraint> {
  private readonly set = new Set(this.constraint.nodes);
  override onMigrate(_model: Model, action: MigrateVm): string | null {
    if (this.set.has(action.from)) return `${action.vm} leaves quarantined ${action.from}`;
    if (this.set.has(action.to)) return `${action.vm} enters quarantined ${action.to}`;
    return null;
  }
}
