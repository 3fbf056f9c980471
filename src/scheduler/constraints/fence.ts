/** fence(vms, nodes): the VMs run only on the nodes. */
import type { Model } from '../model.js';
import { AllowAllChecker, requireIds, type ConstraintDeclaration } from './checker.js';

export interface FenceConstraint extends ConstraintDeclaration {
  readonly kind: 'fence';
  readonly vms: readonly string[];
  readonly nodes: readonly string[];
}

export function fence(vms: readonly string[], nodes: readonly string[], options: { continuous?: boolean } = {}): FenceConstraint {
  return { kind: 'fence', vms: requireIds('fence', 'vms', vms), nodes: requireIds('fence', 'nodes', nodes), continuous: options.continuous ?? false };
}

export class FenceChecker extends AllowAllChecker<FenceConstraint> {
  private readonly allowed = new Set(this.constraint.nodes);
  override state(model: Model): string | null {
    for (const vm of this.constraint.vms) {
      const h = model.host.get(vm);
      if (h !== undefined && !this.allowed.has(h)) return `${vm} runs on ${h}, outside its fence`;
    }
    return null;
  }
}
