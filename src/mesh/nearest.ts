/**
 * Nearest-node choice, the forwarding target of a creation request.
 *
 * Coordinates alone rank the truly nearest node first for only about a third
 * of the nodes of a real RTT matrix (the median relative error is small, but
 * near neighbours differ by less than that error). So the choice is two-stage:
 * 1. shortlist the `shortlist` candidates with the smallest predicted RTT;
 * 2. re-rank the shortlist by the RTTs the choosing node measured itself
 *    (filtered: a median of recent samples), when it has them.
 * Candidates outside the shortlist follow in predicted order, so the caller
 * can fall back to the next one when a target is unreachable.
 */
import { distance, type Coordinate } from './vivaldi/coordinate.js';

/** Shortlist length: the number of candidates the entry node measures. */
export const DEFAULT_SHORTLIST = 16;

export interface NearestCandidate {
  readonly key: string;
  readonly coordinate?: Coordinate | null;
}

export interface ChooseNearestOptions {
  /** Number of coordinate-best candidates re-ranked by measured RTT. */
  shortlist?: number;
}

/** Measured (filtered) RTT in ms from the choosing node to a candidate, if known. */
export type MeasuredRtt = ((key: string) => number | undefined) | ReadonlyMap<string, number>;

export interface RankedCandidate<C extends NearestCandidate> {
  readonly candidate: C;
  /** Predicted RTT (ms) from the coordinate; Infinity without a coordinate. */
  readonly predictedMs: number;
  /** Measured RTT (ms) when the shortlist stage had one. */
  readonly measuredMs?: number;
}

/**
 * Rank `candidates` from nearest to farthest as seen from `from` (a user's
 * coordinate, or a node carrying one). Returns a new array; the first entry is
 * the target, the following ones the fallbacks.
 *
 * `measuredRtt` is only meaningful when `from` is the choosing node itself
 * (the default in forwarding: users reach the edge node nearest them).
 */
export function chooseNearest<C extends NearestCandidate>(
  from: Coordinate | { readonly coordinate?: Coordinate | null },
  candidates: readonly C[],
  measuredRtt?: MeasuredRtt,
  options: ChooseNearestOptions = {},
): RankedCandidate<C>[] {
  const k = options.shortlist ?? DEFAULT_SHORTLIST;
  const origin = 'vec' in from ? from : (from.coordinate ?? null);
  const predicted = candidates.map((candidate) => ({
    candidate,
    predictedMs:
      origin && candidate.coordinate && candidate.coordinate.vec.length === origin.vec.length
        ? distance(origin, candidate.coordinate)
        : Number.POSITIVE_INFINITY,
  }));
  predicted.sort((a, b) => a.predictedMs - b.predictedMs || a.candidate.key.localeCompare(b.candidate.key));
  if (!measuredRtt) return predicted;
  const lookup = typeof measuredRtt === 'function' ? measuredRtt : (key: string) => measuredRtt.get(key);
  const head: RankedCandidate<C>[] = predicted.slice(0, k).map((p) => {
    const m = lookup(p.candidate.key);
    return m !== undefined && Number.isFinite(m) && m >= 0 ? { ...p, measuredMs: m } : p;
  });
  const score = (r: RankedCandidate<C>): number => r.measuredMs ?? r.predictedMs;
  head.sort((a, b) => score(a) - score(b) || a.predictedMs - b.predictedMs);
  return [...head, ...predicted.slice(k)];
}
