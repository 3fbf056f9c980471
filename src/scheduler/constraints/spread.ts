/** spread(vms): the running VMs are on pairwise distinct nodes. Continuous by default, as in btrPlace. */
import type { Model } from '../model.js';
import { AllowAllChecker, requireIds, type ConstraintDeclaration } from './checker.js';

export interface SpreadConstraint extends ConstraintDeclaration {
  readonly kind: 'spread';
  readonly vms: readonly string[];
}

export function spread(vms: readonly string[], options: { continuous?: boolean } = {}): SpreadConstraint {
  return { kind: 'spread', vms: requireIds('spread', 'vms', vms), continuous: options.continuous ?? true };
}

export class SpreadChecker extends AllowAllChecker<SpreadConstraint> {
  override state(model: Model): string | null {
    const seen = new Map<string, string>();
    for (const vm of this.constraint.vms) {
      const h = model.host.get(vm);
      if (h === undefined) continue;
      const other = seen.get(h);
      if (other !== undefined) return `${vm} and ${other} share node ${h}`;
      seen.set(h, vm);
    }
    return null;
  }
}
