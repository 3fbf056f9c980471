/**
 * Groups of nodes that share a latency class: from a node → site map, or computed from an RTT
 * function (a matrix) or from network coordinates with a threshold. Within a computed group every
 * pair of nodes is at most `thresholdMs` apart.
 */
import { SchedulerError } from '../errors.js';

/** Named latency classes and their round-trip threshold in ms. */
export const LATENCY_CLASSES: Readonly<Record<string, number>> = {
  rack: 1,
  metro: 5,
  region: 30,
  continent: 100,
};

export type Rtt = (a: string, b: string) => number;

/** Coordinates as [x..., height] (Vivaldi with height vectors): distance = ‖x_a − x_b‖ + h_a + h_b. */
export function coordinateDistance(a: readonly number[], b: readonly number[]): number {
  const dims = Math.min(a.length, b.length) - 1;
  let sum = 0;
  for (let i = 0; i < dims; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    sum += d * d;
  }
  return Math.sqrt(sum) + (a[dims] ?? 0) + (b[dims] ?? 0);
}

export function thresholdOf(latencyClass: string | number): number {
  if (typeof latencyClass === 'number') return latencyClass;
  const t = LATENCY_CLASSES[latencyClass];
  if (t === undefined) throw SchedulerError.INVALID_CONSTRAINT(`unknown latency class ${latencyClass}`);
  return t;
}

export function groupsFromSites(siteOf: Readonly<Record<string, string>> | ReadonlyMap<string, string>): string[][] {
  const entries = siteOf instanceof Map ? [...siteOf.entries()] : Object.entries(siteOf as Record<string, string>);
  const bySite = new Map<string, string[]>();
  for (const [node, site] of entries) {
    const g = bySite.get(site);
    if (g) g.push(node);
    else bySite.set(site, [node]);
  }
  return [...bySite.values()];
}

/** Greedy clique cover: a node joins the first group whose members are all within the threshold. */
export function groupsFromRtt(nodes: readonly string[], rtt: Rtt, thresholdMs: number): string[][] {
  const groups: string[][] = [];
  for (const n of nodes) {
    let placed = false;
    for (const g of groups) {
      if (g.every((m) => rtt(n, m) <= thresholdMs)) {
        g.push(n);
        placed = true;
        break;
      }
    }
    if (!placed) groups.push([n]);
  }
  return groups;
}

export function groupsFromCoordinates(coords: Readonly<Record<string, readonly number[]>>, thresholdMs: number): string[][] {
  const nodes = Object.keys(coords);
  return groupsFromRtt(nodes, (a, b) => coordinateDistance(coords[a] ?? [0], coords[b] ?? [0]), thresholdMs);
}
