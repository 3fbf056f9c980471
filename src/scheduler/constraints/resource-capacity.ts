/** resourceCapacity(nodes, resource, amount): the VMs on the nodes use at most `amount` in total. */
import type { Model, Resource } from '../model.js';
import { AllowAllChecker, requireAmount, requireIds, type ConstraintDeclaration } from './checker.js';

export interface ResourceCapacityConstraint extends ConstraintDeclaration {
  readonly kind: 'resourceCapacity';
  readonly nodes: readonly string[];
  readonly resource: Resource;
  readonly amount: number;
}

export function resourceCapacity(nodes: readonly string[], resource: Resource, amount: number, options: { continuous?: boolean } = {}): ResourceCapacityConstraint {
  return {
    kind: 'resourceCapacity',
    nodes: requireIds('resourceCapacity', 'nodes', nodes),
    resource,
    amount: requireAmount('resourceCapacity', amount),
    continuous: options.continuous ?? false,
  };
}

export class ResourceCapacityChecker extends AllowAllChecker<ResourceCapacityConstraint> {
  private readonly set = new Set(this.constraint.nodes);
  override state(model: Model): string | null {
    let used = 0;
    for (const [vm, h] of model.host) if (this.set.has(h)) used += model.vms.get(vm)?.[this.constraint.resource] ?? 0;
    return used > this.constraint.amount ? `${used} ${this.constraint.resource} used > ${this.constraint.amount}` : null;
  }
}
