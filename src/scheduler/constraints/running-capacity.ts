/** runningCapacity(nodes, amount): at most `amount` VMs run on the nodes in total. */
import type { Model } from '../model.js';
import { AllowAllChecker, requireAmount, requireIds, type ConstraintDeclaration } from './checker.js';

export interface RunningCapacityConstraint extends ConstraintDeclaration {
  readonly kind: 'runningCapacity';
  readonly nodes: readonly string[];
  readonly amount: number;
}

export function runningCapacity(nodes: readonly string[], amount: number, options: { continuous?: boolean } = {}): RunningCapacityConstraint {
  return {
    kind: 'runningCapacity',
    nodes: requireIds('runningCapacity', 'nodes', nodes),
    amount: Math.floor(requireAmount('runningCapacity', amount)),
    continuous: options.continuous ?? false,
  };
}

export class RunningCapacityChecker extends AllowAllChecker<RunningCapacityConstraint> {
  private readonly set = new Set(this.constraint.nodes);
  override state(model: Model): string | null {
    let n = 0;
    for (const h of model.host.values()) if (this.set.has(h)) n++;
    return n > this.constraint.amount ? `${n} VMs running > ${this.constraint.amount}` : null;
  }
}
