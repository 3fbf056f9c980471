/** lonely(vms): the VMs' nodes host no VM outside the set. */
import type { Model } from '../model.js';
import { AllowAllChecker, hostsOf, requireIds, type ConstraintDeclaration } from './checker.js';

export interface LonelyConstraint extends ConstraintDeclaration {
  readonly kind: 'lonely';
  readonly vms: readonly string[];
}

export function lonely(vms: readonly string[], options: { continuous?: boolean } = {}): LonelyConstraint {
  return { kind: 'lonely', vms: requireIds('lonely', 'vms', vms), continuous: options.continuous ?? false };
}

export class LonelyChecker extends AllowAllChecker<LonelyConstraint> {
  private readonly members = new Set(this.constraint.vms);
  override state(model: Model): string | null {
    const hosts = new Set(hostsOf(model, this.constraint.vms));
    for (const [vm, h] of model.host) {
      if (hosts.has(h) && !this.members.has(vm)) return `${vm} shares ${h} with lonely VMs`;
    }
    return null;
  }
}
