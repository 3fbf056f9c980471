/** online(nodes): the nodes are online at the end of the plan. */
import type { Model } from '../model.js';
import type { ShutdownNode } from '../plan.js';
import { AllowAllChecker, requireIds, type ConstraintDeclaration } from './checker.js';

export interface OnlineConstraint extends ConstraintDeclaration {
  readonly kind: 'online';
  readonly nodes: readonly string[];
}

export function online(nodes: readonly string[]): OnlineConstraint {
  return { kind: 'online', nodes: requireIds('online', 'nodes', nodes), continuous: false };
}

export class OnlineChecker extends AllowAllChecker<OnlineConstraint> {
  private readonly set = new Set(this.constraint.nodes);
  override state(model: Model): string | null {
    for (const n of this.constraint.nodes) if (model.offline.has(n)) return `${n} is offline`;
    return null;
  }
  override onShutdown(_model: Model, action: ShutdownNode): string | null {
    return this.set.has(action.node) ? `${action.node} must stay online` : null;
  }
}
