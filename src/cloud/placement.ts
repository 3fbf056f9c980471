/** The placement rules of OCCI computes (src/occi/placement-constraints.ts) as the scheduler's per-VM rules. */
import type { Entity } from '../occi/entity.js';
import { type NodeResolver, type PlacementOfOptions, readPlacement } from '../occi/placement-constraints.js';
import type { CategoryRegistry } from '../occi/registry.js';
import type { VmPlacement } from '../scheduler/placement.js';

/**
 * The scheduler's placement of a compute, or undefined when it states none. The OCCI rules and
 * `VmPlacement` have one shape; this is where the two vocabularies meet.
 */
export function placementOf(entity: Entity, registry: CategoryRegistry, resolveNode: NodeResolver, options: PlacementOfOptions = {}): VmPlacement | undefined {
  return readPlacement(entity, registry, resolveNode, options);
}
