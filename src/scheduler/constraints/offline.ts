/** offline(nodes): the nodes are offline (hence empty) at the end of the plan. */
import type { Model } from '../model.js';
import type { BootNode } from '../plan.js';
import { AllowAllChecker, requireIds, type ConstraintDeclaration } from './checker.js';

export interface OfflineConstraint extends ConstraintDeclaration {
  readonly kind: 'offline';
  readonly nodes: readonly string[];
}

export function offline(nodes: readonly string[]): OfflineConstraint {
  return { kind: 'offline', nodes: requireIds('offline', 'nodes', nodes), continuous: false };
}

export class OfflineChecker extends AllowAllChecker<OfflineConstraint> {
  private readonly set = new Set(this.constraint.nodes);
  override state(model: Model): string | null {
    for (const n of this.constraint.nodes) if (!model.offline.has(n)) return `${n} is online`;
    return null;
  }
  override onBoot(_model: Model, action: BootNode): string | null {
    return this.set.has(action.node) ? `${action.node} must stay offline` : null;
  }
}
