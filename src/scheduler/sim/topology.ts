/**
 * Network topologies for the simulator: random coordinates in a plane (one-way latency = half the
 * round trip), or hosts spread over the sites of an RTT matrix such as vendor/rtt/countries.csv.
 */
import { readFileSync } from 'node:fs';
import { SchedulerError } from '../errors.js';
import { uniformInt, type RandomSource } from '../random.js';

export const DEFAULT_SPAN_MS = 100;
export const DEFAULT_HEIGHT_MS = 0.5;

export interface Topology {
  /** One-way latency in ms between two hosts. */
  latencyMs(a: number, b: number): number;
  /** Round-trip distance used to order neighbours (Vivaldi-like), in ms. */
  rttMs(a: number, b: number): number;
  /** Coordinates [x, y, height] when the topology is a coordinate space. */
  readonly coordinates: Float64Array[] | null;
  readonly describe: string;
}

export function randomTopology(hosts: number, rng: RandomSource, spanMs = DEFAULT_SPAN_MS, heightMs = DEFAULT_HEIGHT_MS): Topology {
  const side = spanMs / Math.SQRT2;
  const coords = Array.from({ length: hosts }, () => Float64Array.of(rng.next() * side, rng.next() * side, heightMs * (0.5 + rng.next())));
  const rtt = (a: number, b: number): number => {
    if (a === b) return 0;
    const p = coords[a] as Float64Array;
    const q = coords[b] as Float64Array;
    return Math.hypot((p[0] ?? 0) - (q[0] ?? 0), (p[1] ?? 0) - (q[1] ?? 0)) + (p[2] ?? 0) + (q[2] ?? 0);
  };
  return { latencyMs: (a, b) => rtt(a, b) / 2, rttMs: rtt, coordinates: coords, describe: `random plane, ${spanMs} ms span` };
}

export interface RttMatrix {
  readonly ids: string[];
  readonly rtt: Float64Array;
}

export function parseRttCsv(text: string): RttMatrix {
  const lines = text.trim().split(/\r?\n/);
  const ids = (lines[0] ?? '').split(',').slice(1);
  const n = ids.length;
  if (n === 0 || lines.length !== n + 1) throw SchedulerError.INVALID_OPTION('RTT matrix: expected a square CSV with a header row');
  const rtt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const cells = (lines[i + 1] ?? '').split(',').slice(1);
    for (let j = 0; j < n; j++) {
      const v = Number(cells[j]);
      if (!Number.isFinite(v) || v < 0) throw SchedulerError.INVALID_OPTION(`RTT matrix: bad value at ${i},${j}`);
      rtt[i * n + j] = v;
    }
  }
  return { ids, rtt };
}

export function loadRttCsv(path: string): RttMatrix {
  return parseRttCsv(readFileSync(path, 'utf8'));
}

/** Hosts placed uniformly at random on the matrix's sites; same-site pairs use the diagonal. */
export function matrixTopology(hosts: number, matrix: RttMatrix, rng: RandomSource): Topology & { readonly siteOf: Int32Array; readonly siteIds: readonly string[] } {
  const n = matrix.ids.length;
  const siteOf = Int32Array.from({ length: hosts }, () => uniformInt(rng, n));
  const rtt = (a: number, b: number): number => (a === b ? 0 : (matrix.rtt[(siteOf[a] ?? 0) * n + (siteOf[b] ?? 0)] ?? 0));
  return { latencyMs: (a, b) => rtt(a, b) / 2, rttMs: rtt, coordinates: null, siteOf, siteIds: matrix.ids, describe: `RTT matrix of ${n} sites` };
}
