/** split(groups): VMs of different groups never share a node. */
import type { Model } from '../model.js';
import { AllowAllChecker, requireGroups, type ConstraintDeclaration } from './checker.js';

export interface SplitConstraint extends ConstraintDeclaration {
  readonly kind: 'split';
  readonly groups: readonly (readonly string[])[];
}

export function split(groups: readonly (readonly string[])[], options: { continuous?: boolean } = {}): SplitConstraint {
  return { kind: 'split', groups: requireGroups('split', 'groups', groups), continuous: options.continuous ?? false };
}

export class SplitChecker extends AllowAllChecker<SplitConstraint> {
  override state(model: Model): string | null {
    const owner = new Map<string, number>();
    for (let g = 0; g < this.constraint.groups.length; g++) {
      for (const vm of this.constraint.groups[g] ?? []) {
        const h = model.host.get(vm);
        if (h === undefined) continue;
        const o = owner.get(h);
        if (o !== undefined && o !== g) return `groups ${o} and ${g} share node ${h}`;
        owner.set(h, g);
      }
    }
    return null;
  }
}
