/** preserve(vms, resource, amount): each running VM's node keeps at least `amount` of the resource for it. */
import type { Model, Resource } from '../model.js';
import { AllowAllChecker, requireAmount, requireIds, type ConstraintDeclaration } from './checker.js';

export interface PreserveConstraint extends ConstraintDeclaration {
  readonly kind: 'preserve';
  readonly vms: readonly string[];
  readonly resource: Resource;
  readonly amount: number;
}

export function preserve(vms: readonly string[], resource: Resource, amount: number): PreserveConstraint {
  return { kind: 'preserve', vms: requireIds('preserve', 'vms', vms), resource, amount: requireAmount('preserve', amount), continuous: false };
}

export class PreserveChecker extends AllowAllChecker<PreserveConstraint> {
  override state(model: Model): string | null {
    const { resource, amount } = this.constraint;
    for (const vm of this.constraint.vms) {
      const h = model.host.get(vm);
      if (h === undefined) continue;
      let others = 0;
      for (const [o, oh] of model.host) if (oh === h && o !== vm) others += model.vms.get(o)?.[resource] ?? 0;
      const cap = model.nodes.get(h)?.[resource] ?? 0;
      const own = Math.max(amount, model.vms.get(vm)?.[resource] ?? 0);
      if (others + own > cap) return `${h} cannot preserve ${amount} ${resource} for ${vm}`;
    }
    return null;
  }
}
