/**
 * Placement rules a VM carries (`VmSpec.placement`) and their translation into the constraints of
 * the model a partition solves. Users state the rules per VM (through OCCI mixins); every partition
 * that sees the VM rebuilds the constraints from them, so admission and every later
 * reconfiguration (overload, underload, node loss, drain) keep them.
 *
 * - `ban`: node ids the VM must never run on → `ban([vm], nodes ∩ partition)`.
 * - `fence`: node ids the VM may only run on → `fence([vm], nodes ∩ partition)`. When none of them
 *   is in the partition the VM is banned from every partition node: it cannot be placed here and
 *   the partition has to grow until it reaches one of its nodes. An empty list is no restriction.
 * - `spread`: group names; the VMs sharing a group are on pairwise distinct nodes → `spread(vms)`.
 * - `gather`: group names; the VMs sharing a group run on one node → `gather(vms)`.
 * - `latency`: `{ group, maxRttMs }`; the VMs of the group run on nodes pairwise within `maxRttMs`
 *   (the smallest bound any member states) → `latency(vms, '<maxRttMs>ms', groups)` whose groups
 *   are the maximal sets of partition nodes pairwise within the bound, from the `distance`
 *   function (ms between two nodes, e.g. Vivaldi coordinate distances). Without `distance` each
 *   node is its own group (nothing is known to be close), which is a gather.
 *
 * Exactness over a partition that sees only part of the mesh: the targets of a plan are partition
 * nodes, whose VMs are all in the model, so `ban`, `fence` and `spread` (no two members on one
 * node) hold at host level even though members of a group run outside the partition. `gather` and
 * `latency` only relate the members the partition sees: a new VM whose group already runs outside
 * the partition must be admitted with a `fence` to the node(s) where its group runs (the caller that
 * admits it adds that fence); the same holds for latency (fence to the nodes within the bound).
 */
import { ban, type Constraint, fence, gather, groupsFromRtt, latency, spread } from './constraints/index.js';
import type { VmSpec } from './model.js';

export type { VmPlacement } from './model.js';

/** Beyond this many maximal cliques a latency group falls back to a greedy (stricter) cover. */
export const MAX_LATENCY_GROUPS = 256;
const MAX_CLIQUE_CALLS = 20_000;

/**
 * The constraints stated by the placements of `vms`, restricted to `nodes` (the partition's
 * nodes); `distance(a, b)` in ms between two nodes is needed by latency rules.
 */
export function placementConstraints(vms: Iterable<VmSpec>, nodes: readonly string[], distance?: (a: string, b: string) => number): Constraint[] {
  const nodeSet = new Set(nodes);
  const inPartition = (ids: readonly string[] | undefined): string[] => [...new Set(ids ?? [])].filter((n) => nodeSet.has(n));
  const out: Constraint[] = [];
  const spreads = new Map<string, Set<string>>();
  const gathers = new Map<string, Set<string>>();
  const latencies = new Map<string, { vms: Set<string>; maxRttMs: number }>();
  const join = (groups: Map<string, Set<string>>, name: string, vm: string): void => {
    const g = groups.get(name);
    if (g) g.add(vm);
    else groups.set(name, new Set([vm]));
  };
  for (const vm of vms) {
    const p = vm.placement;
    if (!p) continue;
    const banned = inPartition(p.ban);
    if (banned.length > 0) out.push(ban([vm.id], banned));
    if (p.fence && p.fence.length > 0 && nodeSet.size > 0) {
      const allowed = inPartition(p.fence);
      out.push(allowed.length > 0 ? fence([vm.id], allowed) : ban([vm.id], [...nodeSet]));
    }
    for (const name of p.spread ?? []) join(spreads, name, vm.id);
    for (const name of p.gather ?? []) join(gathers, name, vm.id);
    for (const { group, maxRttMs } of p.latency ?? []) {
      if (!(maxRttMs >= 0)) continue;
      const l = latencies.get(group);
      if (l) {
        l.vms.add(vm.id);
        l.maxRttMs = Math.min(l.maxRttMs, maxRttMs);
      } else latencies.set(group, { vms: new Set([vm.id]), maxRttMs });
    }
  }
  for (const members of spreads.values()) if (members.size > 1) out.push(spread([...members]));
  for (const members of gathers.values()) if (members.size > 1) out.push(gather([...members]));
  for (const { vms: members, maxRttMs } of latencies.values()) {
    if (members.size < 2 || nodeSet.size === 0) continue;
    out.push(latency([...members], `${maxRttMs}ms`, latencyGroups([...nodeSet], maxRttMs, distance)));
  }
  return out;
}

/**
 * Sets of nodes pairwise within `maxRttMs`: the maximal cliques of the "close enough" graph, so
 * that a set of hosts fits in one group exactly when it is pairwise close. Beyond
 * MAX_LATENCY_GROUPS cliques, the greedy cover of latency-groups.ts (every group still pairwise
 * close, but some close pairs end up in different groups).
 */
export function latencyGroups(nodes: readonly string[], maxRttMs: number, distance?: (a: string, b: string) => number): string[][] {
  if (!distance) return nodes.map((n) => [n]);
  const rtt = (a: string, b: string): number => {
    if (a === b) return 0;
    const d = distance(a, b);
    return Number.isFinite(d) ? d : Infinity;
  };
  const near: Set<number>[] = nodes.map((a, i) => new Set(nodes.flatMap((b, j) => (i !== j && rtt(a, b) <= maxRttMs ? [j] : []))));
  const cliques: number[][] = [];
  let calls = 0;
  let overflow = false;
  // Bron–Kerbosch with pivoting.
  const expand = (r: number[], p: number[], x: number[]): void => {
    if (overflow) return;
    if (++calls > MAX_CLIQUE_CALLS) {
      overflow = true;
      return;
    }
    if (p.length === 0 && x.length === 0) {
      cliques.push(r);
      if (cliques.length > MAX_LATENCY_GROUPS) overflow = true;
      return;
    }
    let pivot = -1;
    let best = -1;
    for (const u of [...p, ...x]) {
      const c = p.filter((v) => near[u]!.has(v)).length;
      if (c > best) [pivot, best] = [u, c];
    }
    let rest = [...p];
    let excluded = [...x];
    for (const v of p) {
      if (near[pivot]!.has(v)) continue;
      expand(
        [...r, v],
        rest.filter((w) => near[v]!.has(w)),
        excluded.filter((w) => near[v]!.has(w)),
      );
      rest = rest.filter((w) => w !== v);
      excluded = [...excluded, v];
    }
  };
  expand([], nodes.map((_, i) => i), []);
  if (overflow) return groupsFromRtt(nodes, rtt, maxRttMs);
  return cliques.map((c) => c.sort((a, b) => a - b).map((i) => nodes[i]!));
}
