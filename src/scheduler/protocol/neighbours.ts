/**
 * Neighbour orders: the sequence of nodes a partition started at `initiator` asks to join.
 * Vivaldi order: the k nearest nodes by coordinate distance first (nearest first), then the ring.
 * Ring order: successors on the ring of sorted ids (the DVMS paper's baseline).
 */
import { LRUCache } from 'lru-cache';
import { coordinateDistance } from '../constraints/latency-groups.js';

export const DEFAULT_NEAREST = 64;
export const DEFAULT_CACHE_SIZE = 16_384;
/** Below any measurable distance (ms): only orders nodes at the same distance. */
const TIE_BREAK = 1e-6;

/** FNV-1a of a string, from a seed. */
function hash(s: string, seed = 2166136261): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

export interface NeighbourOrder {
  /** The index-th neighbour of `initiator`, or undefined past the end. May repeat a node. */
  at(initiator: string, index: number): string | undefined;
  /** Number of indices (bound of every loop over the order). */
  size(): number;
}

export class RingOrder implements NeighbourOrder {
  private readonly ids: string[];
  private readonly pos = new Map<string, number>();
  constructor(nodes: Iterable<string>) {
    this.ids = [...nodes];
    this.ids.forEach((id, i) => this.pos.set(id, i));
  }
  at(initiator: string, index: number): string | undefined {
    if (index < 0 || index >= this.ids.length - 1) return undefined;
    const p = this.pos.get(initiator) ?? 0;
    return this.ids[(p + 1 + index) % this.ids.length];
  }
  size(): number {
    return Math.max(0, this.ids.length - 1);
  }
}

export interface VivaldiOrderOptions {
  /** Coordinates [x..., height] per node, or a distance function in ms. */
  coordinates?: ReadonlyMap<string, readonly number[]>;
  distance?: (a: string, b: string) => number;
  /** How many nearest nodes come before the ring fallback. */
  nearest?: number;
  /** How many initiators' nearest lists are cached (the least recently used are forgotten first). */
  cacheSize?: number;
}

export class VivaldiOrder implements NeighbourOrder {
  private readonly ring: RingOrder;
  private readonly ids: string[];
  private readonly k: number;
  private readonly cache: LRUCache<string, string[]>;
  private readonly distance: (a: string, b: string) => number;

  constructor(nodes: Iterable<string>, options: VivaldiOrderOptions) {
    this.ids = [...nodes];
    this.ring = new RingOrder(this.ids);
    this.k = Math.min(options.nearest ?? DEFAULT_NEAREST, Math.max(0, this.ids.length - 1));
    // lru-cache needs a positive bound; a size of 0 kept the last list too.
    this.cache = new LRUCache({ max: Math.max(1, options.cacheSize ?? DEFAULT_CACHE_SIZE) });
    const coords = options.coordinates;
    if (options.distance) this.distance = options.distance;
    else if (coords) this.distance = (a, b) => coordinateDistance(coords.get(a) ?? [0], coords.get(b) ?? [0]);
    else this.distance = () => 0;
  }

  nearest(initiator: string): string[] {
    const hit = this.cache.get(initiator);
    if (hit) return hit;
    // Partial selection of the k smallest distances, bounded by the node count.
    const best: { id: string; d: number }[] = [];
    const seed = hash(initiator);
    for (const id of this.ids) {
      if (id === initiator) continue;
      // Nodes at the same distance (hosts of one site) come in an order of the initiator's own,
      // so that the neighbours of a site do not all ask the same few nodes first.
      const d = this.distance(initiator, id) + TIE_BREAK * (hash(id, seed) / 4294967296);
      if (best.length < this.k) {
        best.push({ id, d });
        if (best.length === this.k) best.sort((a, b) => a.d - b.d);
      } else if (this.k > 0 && d < (best[this.k - 1]?.d ?? Infinity)) {
        let i = this.k - 1;
        while (i > 0 && (best[i - 1]?.d ?? 0) > d) {
          best[i] = best[i - 1] as { id: string; d: number };
          i--;
        }
        best[i] = { id, d };
      }
    }
    best.sort((a, b) => a.d - b.d);
    const list = best.map((b) => b.id);
    this.cache.set(initiator, list);
    return list;
  }

  at(initiator: string, index: number): string | undefined {
    if (index < 0) return undefined;
    if (index < this.k) return this.nearest(initiator)[index];
    return this.ring.at(initiator, index - this.k);
  }

  size(): number {
    return this.k + this.ring.size();
  }
}
