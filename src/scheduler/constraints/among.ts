/** among(vms, groups): the running VMs are all inside one of the node groups. */
import type { Model } from '../model.js';
import { AllowAllChecker, hostsOf, requireGroups, requireIds, type ConstraintDeclaration } from './checker.js';

export interface AmongConstraint extends ConstraintDeclaration {
  readonly kind: 'among';
  readonly vms: readonly string[];
  readonly groups: readonly (readonly string[])[];
}

export function among(vms: readonly string[], groups: readonly (readonly string[])[], options: { continuous?: boolean } = {}): AmongConstraint {
  return { kind: 'among', vms: requireIds('among', 'vms', vms), groups: requireGroups('among', 'groups', groups), continuous: options.continuous ?? false };
}

/** null when all hosts fit in one group. Shared by among and latency. */
export function withinOneGroup(model: Model, vms: readonly string[], groups: readonly (readonly string[])[]): string | null {
  const hosts = new Set(hostsOf(model, vms));
  if (hosts.size === 0) return null;
  for (const g of groups) {
    const set = new Set(g);
    let all = true;
    for (const h of hosts) if (!set.has(h)) all = false;
    if (all) return null;
  }
  return `hosts ${[...hosts].join(', ')} are not within one group`;
}

export class AmongChecker extends AllowAllChecker<AmongConstraint> {
  override state(model: Model): string | null {
    return withinOneGroup(model, this.constraint.vms, this.constraint.groups);
  }
}
