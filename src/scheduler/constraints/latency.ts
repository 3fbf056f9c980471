/**
 * latency(vms, class, groups): the running VMs are hosted within one group of nodes of the given
 * latency class (see latency-groups.ts to build the groups from sites, an RTT matrix or coordinates).
 */
import type { Model } from '../model.js';
import { withinOneGroup } from './among.js';
import { AllowAllChecker, requireGroups, requireIds, type ConstraintDeclaration } from './checker.js';

export interface LatencyConstraint extends ConstraintDeclaration {
  readonly kind: 'latency';
  readonly vms: readonly string[];
  readonly latencyClass: string;
  readonly groups: readonly (readonly string[])[];
}

export function latency(
  vms: readonly string[],
  latencyClass: string,
  groups: readonly (readonly string[])[],
  options: { continuous?: boolean } = {},
): LatencyConstraint {
  return {
    kind: 'latency',
    vms: requireIds('latency', 'vms', vms),
    latencyClass,
    groups: requireGroups('latency', 'groups', groups),
    continuous: options.continuous ?? false,
  };
}

export class LatencyChecker extends AllowAllChecker<LatencyConstraint> {
  override state(model: Model): string | null {
    const r = withinOneGroup(model, this.constraint.vms, this.constraint.groups);
    return r ? `${this.constraint.latencyClass}: ${r}` : null;
  }
}
