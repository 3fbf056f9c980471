/** gather(vms): the running VMs share one node. */
import type { Model } from '../model.js';
import { AllowAllChecker, hostsOf, requireIds, type ConstraintDeclaration } from './checker.js';

export interface GatherConstraint extends ConstraintDeclaration {
  readonly kind: 'gather';
  readonly vms: readonly string[];
}

export function gather(vms: readonly string[], options: { continuous?: boolean } = {}): GatherConstraint {
  return { kind: 'gather', vms: requireIds('gather', 'vms', vms), continuous: options.continuous ?? false };
}

export class GatherChecker extends AllowAllChecker<GatherConstraint> {
  override state(model: Model): string | null {
    const hosts = new Set(hostsOf(model, this.constraint.vms));
    return hosts.size > 1 ? `VMs spread over ${[...hosts].join(', ')}` : null;
  }
}
