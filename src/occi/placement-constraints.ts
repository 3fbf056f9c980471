/**
 * Placement constraints expressed with ordinary OCCI (the mixins of placement-model.ts), read and
 * validated into plain rules; src/cloud/placement.ts hands them to the scheduler.
 *
 * A compute states a rule in one of two ways:
 *
 * - with the mixin itself: `placement#spread`, `placement#gather` or `placement#latency` and the
 *   attribute `discovery.placement.group` (a group name, per tenant; plus
 *   `discovery.placement.max_rtt` in ms for latency); `placement#ban` or `placement#fence` and
 *   `discovery.placement.nodes` (node names separated by commas or spaces);
 * - with a user mixin (a group created through the query interface) that depends on
 *   `placement#spread`, `#gather` or `#latency`: every compute tagged with it belongs to the group
 *   named by the user mixin's id (latency still reads `discovery.placement.max_rtt` from the
 *   compute). A user mixin depending on `#ban` or `#fence` applies it with the compute's
 *   `discovery.placement.nodes`.
 *
 * Node names become scheduler node ids (mesh keys) through the caller's resolver. Groups named by
 * the attribute are scoped to the compute's owner (`<owner>/<name>`), so two tenants' groups of the
 * same name are distinct; user mixin ids are unique already.
 */
import type { AttributeValue } from './attribute.js';
import { categoryId } from './category.js';
import type { Entity } from './entity.js';
import { OcciError } from './errors.js';
import { COMPUTE } from './infrastructure-model.js';
import { BAN, FENCE, GATHER, LATENCY, PLACEMENT_GROUP, PLACEMENT_MAX_RTT, PLACEMENT_NODES, SPREAD } from './placement-model.js';
import type { CategoryRegistry } from './registry.js';

/** The rules a compute states, with node names resolved to node ids (the scheduler's `VmPlacement`). */
export interface PlacementRules {
  /** Node ids the compute must never run on. */
  readonly ban?: readonly string[];
  /** Node ids the compute may only run on. */
  readonly fence?: readonly string[];
  /** Group names: computes sharing one never share a node. */
  readonly spread?: readonly string[];
  /** Group names: computes sharing one run on one node. */
  readonly gather?: readonly string[];
  /** Computes of the group stay on nodes pairwise within maxRttMs. */
  readonly latency?: readonly { group: string; maxRttMs: number }[];
}

/** Node name → scheduler node id (the mesh key), undefined for a name no node has. */
export type NodeResolver = (name: string) => string | undefined;

export const CONSTRAINT_MIXINS: readonly string[] = [SPREAD, GATHER, LATENCY, BAN, FENCE];

/** The id given to a node name no node has, in lenient mode: it matches no node. */
export const UNRESOLVED_NODE_PREFIX = 'unresolved:';

export interface PlacementOfOptions {
  /**
   * true (default): a rule that cannot be read (missing or bad attribute, unknown node name,
   * contradiction) throws an OcciError (a 400). false, for entities already stored: such a rule is
   * skipped, except unknown node names, which a fence keeps as ids that match no node (the compute
   * is then placed only on the names that still resolve) and a ban drops.
   */
  strict?: boolean;
}

/**
 * The placement rules of a compute, or undefined when it has none (or is not a compute).
 * Throws OcciError.invalidAttribute / missingAttribute / badRequest when `strict` (the default).
 */
export function readPlacement(entity: Entity, registry: CategoryRegistry, resolveNode: NodeResolver, options: PlacementOfOptions = {}): PlacementRules | undefined {
  const strict = options.strict ?? true;
  const sources = constraintSources(entity, registry);
  if (sources.size === 0) return undefined;
  if (entity.kind !== COMPUTE) {
    if (strict) throw OcciError.badRequest(`placement constraints apply to computes only, not to ${entity.kind}`);
    return undefined;
  }
  const skip = (err: OcciError): undefined => {
    if (strict) throw err;
    return undefined;
  };
  const attr = entity.attributes;

  /** The groups of one kind of rule: the attribute's (when the mixin is applied) and the user mixins'. */
  const groupsOf = (mixin: string): string[] => {
    const out: string[] = [];
    for (const via of sources.get(mixin) ?? []) {
      if (via !== mixin) {
        out.push(via);
        continue;
      }
      const name = attr[PLACEMENT_GROUP];
      if (typeof name !== 'string' || name === '') {
        skip(OcciError.missingAttribute(PLACEMENT_GROUP));
        continue;
      }
      out.push(`${encodeURIComponent(entity.owner)}/${name}`);
    }
    return [...new Set(out)];
  };

  const placement: { -readonly [K in keyof PlacementRules]: PlacementRules[K] } = {};
  const spread = groupsOf(SPREAD);
  const gather = groupsOf(GATHER);
  const both = spread.filter((g) => gather.includes(g));
  if (both.length > 0) skip(OcciError.badRequest(`group ${both[0]} cannot be both spread and gathered`));
  if (spread.length > 0) placement.spread = spread;
  if (gather.length > 0) placement.gather = gather;

  const latencyGroups = groupsOf(LATENCY);
  if (latencyGroups.length > 0) {
    const rtt = maxRtt(attr[PLACEMENT_MAX_RTT]);
    if (typeof rtt === 'number') placement.latency = latencyGroups.map((group) => ({ group, maxRttMs: rtt }));
    else skip(rtt);
  }

  const ban = sources.has(BAN);
  const fence = sources.has(FENCE);
  if (ban && fence) skip(OcciError.badRequest(`ban and fence both read ${PLACEMENT_NODES}: apply only one of them`));
  if (ban || fence) {
    const names = nodeNames(attr[PLACEMENT_NODES]);
    if (names instanceof OcciError) skip(names);
    else {
      const ids: string[] = [];
      for (const name of names) {
        const id = resolveNode(name);
        if (id !== undefined) ids.push(id);
        else if (strict) throw OcciError.invalidAttribute(PLACEMENT_NODES, `no node is named ${JSON.stringify(name)}`);
        else if (fence) ids.push(UNRESOLVED_NODE_PREFIX + name);
      }
      const unique = [...new Set(ids)];
      if (fence) placement.fence = unique;
      else if (unique.length > 0) placement.ban = unique;
    }
  }
  return Object.keys(placement).length > 0 ? placement : undefined;
}

/** Refuses (with an OcciError) a compute whose placement constraints cannot be honoured as written. */
export function checkPlacement(entity: Entity, registry: CategoryRegistry, resolveNode: NodeResolver): void {
  readPlacement(entity, registry, resolveNode, { strict: true });
}

/**
 * For each constraint mixin in the closure of the entity's mixins, the mixins applied to the
 * entity that bring it: the constraint mixin itself, or a user mixin (a group) depending on it.
 */
function constraintSources(entity: Entity, registry: CategoryRegistry): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const applied of entity.mixins) {
    for (const m of registry.mixinClosure([applied])) {
      const id = categoryId(m);
      if (!CONSTRAINT_MIXINS.includes(id)) continue;
      const list = out.get(id);
      if (list) list.push(applied);
      else out.set(id, [applied]);
    }
  }
  return out;
}

function maxRtt(value: AttributeValue | undefined): number | OcciError {
  if (value === undefined) return OcciError.missingAttribute(PLACEMENT_MAX_RTT);
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) return OcciError.invalidAttribute(PLACEMENT_MAX_RTT, 'must be a number of ms greater than 0');
  return n;
}

/** `a,b c` → ['a', 'b', 'c']; at least one name. */
export function nodeNames(value: AttributeValue | undefined): string[] | OcciError {
  if (value === undefined) return OcciError.missingAttribute(PLACEMENT_NODES);
  if (typeof value !== 'string') return OcciError.invalidAttribute(PLACEMENT_NODES, 'must be a string of node names');
  const names = value.split(/[\s,]+/).filter((n) => n !== '');
  if (names.length === 0) return OcciError.invalidAttribute(PLACEMENT_NODES, 'must name at least one node');
  return names;
}
