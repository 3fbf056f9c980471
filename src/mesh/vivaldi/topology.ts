/**
 * Synthetic topologies with known answers, plus `simulate` and `evaluate`
 * (after serf's `coordinate/phantom.go`). A topology is a symmetric truth
 * matrix of RTTs in ms with a zero diagonal.
 */
import type { VivaldiConfig } from './config.js';
import type { RandomSource } from './coordinate.js';
import { VivaldiClient } from './client.js';
import { gaussian } from './random.js';

export type RttMatrix = number[][];

function square(n: number, f: (i: number, j: number) => number): RttMatrix {
  const m: RttMatrix = [];
  for (let i = 0; i < n; i++) {
    const row: number[] = [];
    for (let j = 0; j < n; j++) row.push(i === j ? 0 : f(i, j));
    m.push(row);
  }
  return m;
}

/** n nodes on a line, `spacing` ms apart. */
export function generateLine(nodes: number, spacing: number): RttMatrix {
  return square(nodes, (i, j) => spacing * Math.abs(i - j));
}

/** ⌊√n⌋² nodes on a square grid, `spacing` ms apart (Euclidean). */
export function generateGrid(nodes: number, spacing: number): RttMatrix {
  const side = Math.floor(Math.sqrt(nodes));
  return square(side * side, (i, j) => {
    const dx = (i % side) - (j % side);
    const dy = Math.floor(i / side) - Math.floor(j / side);
    return spacing * Math.sqrt(dx * dx + dy * dy);
  });
}

/** Two LANs (first half, second half) with `lan` ms inside each and `wan` ms across. */
export function generateSplit(nodes: number, lan: number, wan: number): RttMatrix {
  const half = Math.floor(nodes / 2);
  return square(nodes, (i, j) => ((i < half) === (j < half) ? lan : wan));
}

/**
 * Nodes evenly spaced on a circle of radius `radius` ms, each at the end of
 * an access link: RTT = chord + access(i) + access(j). Only the height
 * component can represent the access links.
 */
export function generateCircle(nodes: number, radius: number, access: readonly number[]): RttMatrix {
  const pos = Array.from({ length: nodes }, (_, i) => {
    const a = (2 * Math.PI * i) / nodes;
    return [radius * Math.cos(a), radius * Math.sin(a)] as const;
  });
  return square(nodes, (i, j) => {
    const [xi, yi] = pos[i]!;
    const [xj, yj] = pos[j]!;
    return Math.hypot(xi - xj, yi - yj) + access[i % access.length]! + access[j % access.length]!;
  });
}

/** Symmetric random RTTs: mean + deviation·N(0,1), at least 1 ms (no geometry at all). */
export function generateRandom(nodes: number, mean: number, deviation: number, random: RandomSource): RttMatrix {
  const m = square(nodes, () => 0);
  for (let i = 0; i < nodes; i++) {
    for (let j = i + 1; j < nodes; j++) {
      const v = Math.max(1, mean + deviation * gaussian(random));
      m[i]![j] = v;
      m[j]![i] = v;
    }
  }
  return m;
}

export function generateClients(
  nodes: number,
  random: RandomSource,
  config: Partial<VivaldiConfig> = {},
): VivaldiClient[] {
  return Array.from({ length: nodes }, () => new VivaldiClient({ config, random }));
}

export interface SimulateOptions {
  random: RandomSource;
  /** Restrict each node to a fixed random set of k peers (default: a random peer each round). */
  neighbours?: number;
  /** Multiplicative measurement jitter: sample = truth·(1 + jitter·|N(0,1)|). Default 0. */
  jitter?: number;
  /** Called after each round (e.g. progress). */
  onRound?: (round: number) => void;
}

/**
 * Run `rounds` rounds; in each, every node probes one peer and updates its
 * coordinate with the (optionally jittered) RTT from the truth matrix.
 */
export function simulate(clients: VivaldiClient[], truth: RttMatrix, rounds: number, options: SimulateOptions): void {
  const n = clients.length;
  if (n < 2) return;
  const { random, jitter = 0 } = options;
  const neighbourSets =
    options.neighbours !== undefined ? fixedNeighbours(n, Math.min(options.neighbours, n - 1), random) : undefined;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < n; i++) {
      let j: number;
      if (neighbourSets) {
        const set = neighbourSets[i]!;
        j = set[Math.floor(random() * set.length)]!;
      } else {
        j = Math.floor(random() * (n - 1));
        if (j >= i) j++;
      }
      const rtt = measure(truth[i]![j]!, jitter, random);
      clients[i]!.update(String(j), clients[j]!.getCoordinate(), rtt);
    }
    options.onRound?.(r + 1);
  }
}

/** One RTT measurement of a link whose true RTT is `rtt` ms. */
export function measure(rtt: number, jitter: number, random: RandomSource): number {
  return jitter > 0 ? rtt * (1 + jitter * Math.abs(gaussian(random))) : rtt;
}

function fixedNeighbours(n: number, k: number, random: RandomSource): number[][] {
  return Array.from({ length: n }, (_, i) => {
    const others = Array.from({ length: n - 1 }, (_, x) => (x >= i ? x + 1 : x));
    for (let x = others.length - 1; x > 0; x--) {
      const y = Math.floor(random() * (x + 1));
      [others[x], others[y]] = [others[y]!, others[x]!];
    }
    return others.slice(0, Math.max(1, k));
  });
}

export interface Evaluation {
  /** Mean relative error over all ordered off-diagonal pairs. */
  meanRelError: number;
  medianRelError: number;
  p90RelError: number;
  maxRelError: number;
}

/** Relative error |predicted − true| / true over every off-diagonal pair (i < j). */
export function evaluate(clients: VivaldiClient[], truth: RttMatrix): Evaluation {
  const errors: number[] = [];
  for (let i = 0; i < clients.length; i++) {
    for (let j = i + 1; j < clients.length; j++) {
      const t = truth[i]![j]!;
      if (!(t > 0)) continue;
      const est = clients[i]!.distanceTo(clients[j]!.getCoordinate());
      errors.push(Math.abs(est - t) / t);
    }
  }
  errors.sort((a, b) => a - b);
  const q = (p: number): number => errors[Math.min(errors.length - 1, Math.floor(p * errors.length))] ?? 0;
  return {
    meanRelError: errors.reduce((a, b) => a + b, 0) / Math.max(1, errors.length),
    medianRelError: q(0.5),
    p90RelError: q(0.9),
    maxRelError: errors[errors.length - 1] ?? 0,
  };
}
