/**
 * Evaluation of the project's Vivaldi code and nearest-node choice over an
 * RTT matrix, in simulation. Each node in turn is the user's location (the
 * entry node); the choice is `chooseNearest` from that node's coordinate,
 * refined by RTTs the node measures to its shortlist (median of a few jittered
 * samples, as the mesh's probe filter does).
 */
import { chooseNearest, DEFAULT_SHORTLIST } from './nearest.js';
import type { VivaldiConfig } from './vivaldi/config.js';
import { median } from './vivaldi/client.js';
import { seededRandom } from './vivaldi/random.js';
import { evaluate, generateClients, measure, simulate, type RttMatrix } from './vivaldi/topology.js';

export const DEFAULT_ROUNDS = 2000;
export const DEFAULT_SEED = 1;
/** Jitter of a simulated RTT sample: truth·(1 + j·|N(0,1)|). */
export const DEFAULT_MEASURE_JITTER = 0.05;
/** Samples per shortlisted candidate; their median is used. */
export const DEFAULT_MEASURE_SAMPLES = 9;

export interface VivaldiEvaluationOptions {
  rounds?: number;
  neighbours?: number;
  seed?: number;
  shortlist?: number;
  /** Jitter of probe samples fed to Vivaldi (default 0: the truth matrix). */
  probeJitter?: number;
  measureJitter?: number;
  measureSamples?: number;
  config?: Partial<VivaldiConfig>;
  onProgress?: (round: number, rounds: number) => void;
}

export interface VivaldiEvaluationResult {
  nodes: number;
  rounds: number;
  median_rel_error: number;
  p90_rel_error: number;
  nearest_hit_rate: number;
  stretch_mean: number;
  /** Hit rate and stretch of the coordinate-only choice, for comparison. */
  coordinate_only_hit_rate: number;
  coordinate_only_stretch_mean: number;
}

export function evaluateVivaldi(truth: RttMatrix, options: VivaldiEvaluationOptions = {}): VivaldiEvaluationResult {
  const rounds = options.rounds ?? DEFAULT_ROUNDS;
  const random = seededRandom(options.seed ?? DEFAULT_SEED);
  const n = truth.length;
  const clients = generateClients(n, random, options.config);
  simulate(clients, truth, rounds, {
    random,
    ...(options.neighbours !== undefined ? { neighbours: options.neighbours } : {}),
    jitter: options.probeJitter ?? 0,
    onRound: (r) => options.onProgress?.(r, rounds),
  });
  const errors = evaluate(clients, truth);
  const jitter = options.measureJitter ?? DEFAULT_MEASURE_JITTER;
  const samples = options.measureSamples ?? DEFAULT_MEASURE_SAMPLES;
  const shortlist = options.shortlist ?? DEFAULT_SHORTLIST;

  const coords = clients.map((c) => c.getCoordinate());
  let hits = 0;
  let stretch = 0;
  let coordHits = 0;
  let coordStretch = 0;
  for (let u = 0; u < n; u++) {
    const candidates = coords.flatMap((coordinate, i) => (i === u ? [] : [{ key: String(i), coordinate }]));
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < n; i++) if (i !== u) best = Math.min(best, truth[u]![i]!);
    const measured = (key: string): number => {
      const t = truth[u]![Number(key)]!;
      return median(Array.from({ length: samples }, () => measure(t, jitter, random)));
    };
    const chosen = Number(chooseNearest(coords[u]!, candidates, measured, { shortlist })[0]!.candidate.key);
    const byCoord = Number(chooseNearest(coords[u]!, candidates)[0]!.candidate.key);
    if (truth[u]![chosen] === best) hits++;
    if (truth[u]![byCoord] === best) coordHits++;
    stretch += truth[u]![chosen]! / best;
    coordStretch += truth[u]![byCoord]! / best;
  }
  return {
    nodes: n,
    rounds,
    median_rel_error: errors.medianRelError,
    p90_rel_error: errors.p90RelError,
    nearest_hit_rate: hits / n,
    stretch_mean: stretch / n,
    coordinate_only_hit_rate: coordHits / n,
    coordinate_only_stretch_mean: coordStretch / n,
  };
}
