/** ban(vms, nodes): the VMs never run on the nodes. */
import type { Model } from '../model.js';
import { AllowAllChecker, requireIds, type ConstraintDeclaration } from './checker.js';

export interface BanConstraint extends ConstraintDeclaration {
  readonly kind: 'ban';
  readonly vms: readonly string[];
  readonly nodes: readonly string[];
}

export function ban(vms: readonly string[], nodes: readonly string[], options: { continuous?: boolean } = {}): BanConstraint {
  return { kind: 'ban', vms: requireIds('ban', 'vms', vms), nodes: requireIds('ban', 'nodes', nodes), continuous: options.continuous ?? false };
}

export class BanChecker extends AllowAllChecker<BanConstraint> {
  private readonly banned = new Set(this.constraint.nodes);
  override state(model: Model): string | null {
    for (const vm of this.constraint.vms) {
      const h = model.host.get(vm);
      if (h !== undefined && this.banned.has(h)) return `${vm} runs on banned node ${h}`;
    }
    return null;
  }
}
