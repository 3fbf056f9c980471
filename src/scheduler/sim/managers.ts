/**
 * Where the managers sit: a central manager (Entropy, the centralized heuristic, Snooze's group
 * leader) at one site, by default the one nearest every host; Snooze's group managers each at the
 * site nearest the hosts of its group, groups being made of hosts that are close to one another.
 */
import { SchedulerError } from '../errors.js';
import type { Topology } from './topology.js';

type Sited = Topology & { readonly siteOf?: Int32Array; readonly siteIds?: readonly string[] };

/** The host (index) whose place the manager of `hosts` shares: the one with the least total latency to them, or one at the named site. */
export function managerHost(topology: Topology, hosts: readonly number[], site = ''): number {
  const t = topology as Sited;
  if (site !== '') {
    const index = t.siteIds?.indexOf(site) ?? -1;
    const at = hosts.find((h) => t.siteOf?.[h] === index);
    if (index < 0 || at === undefined) throw SchedulerError.INVALID_OPTION(`no host at manager site ${site}`);
    return at;
  }
  if (t.siteOf) {
    // One candidate per site: the latency from a site to a host is the same for all its hosts.
    const bySite = new Map<number, number>();
    for (const h of hosts) if (!bySite.has(t.siteOf[h] ?? 0)) bySite.set(t.siteOf[h] ?? 0, h);
    return argmin([...bySite.values()], (c) => hosts.reduce((sum, h) => sum + topology.latencyMs(c, h), 0));
  }
  // A coordinate plane: the host nearest the centroid.
  const coords = topology.coordinates ?? [];
  const mean = [0, 1].map((k) => hosts.reduce((sum, h) => sum + (coords[h]?.[k] ?? 0), 0) / Math.max(1, hosts.length));
  return argmin([...hosts], (h) => Math.hypot((coords[h]?.[0] ?? 0) - (mean[0] ?? 0), (coords[h]?.[1] ?? 0) - (mean[1] ?? 0)));
}

function argmin(items: readonly number[], key: (x: number) => number): number {
  let best = items[0] ?? 0;
  let bestKey = Infinity;
  for (const x of items) {
    const k = key(x);
    if (k < bestKey) [best, bestKey] = [x, k];
  }
  return best;
}

export interface HostGroup {
  /** Host whose place the group manager shares. */
  readonly manager: number;
  readonly hosts: readonly number[];
}

/** Groups of `size` hosts that are close (same sites first, or bands of the plane), each with its manager's place. */
export function hostGroups(topology: Topology, hosts: number, size: number): HostGroup[] {
  const t = topology as Sited;
  const order = Array.from({ length: hosts }, (_, h) => h);
  if (t.siteOf) {
    const siteOf = t.siteOf;
    order.sort((a, b) => (siteOf[a] ?? 0) - (siteOf[b] ?? 0) || a - b);
  } else {
    const coords = topology.coordinates ?? [];
    const bands = Math.max(1, Math.round(Math.sqrt(hosts / size)));
    const maxY = Math.max(1e-9, ...coords.map((c) => c[1] ?? 0));
    const band = (h: number): number => Math.min(bands - 1, Math.floor(((coords[h]?.[1] ?? 0) / maxY) * bands));
    order.sort((a, b) => band(a) - band(b) || (coords[a]?.[0] ?? 0) - (coords[b]?.[0] ?? 0));
  }
  const groups: HostGroup[] = [];
  for (let i = 0; i < order.length; i += size) {
    const members = order.slice(i, i + size);
    groups.push({ manager: managerHost(topology, members), hosts: members });
  }
  return groups;
}
