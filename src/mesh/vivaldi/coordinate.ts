/**
 * Pure coordinate arithmetic (no state, no I/O). Every function returns a
 * new object; inputs are never mutated.
 */
import type { VivaldiConfig } from './config.js';

/** A network coordinate: Euclidean part, height, error estimate and adjustment (all in ms except `error`). */
export interface Coordinate {
  readonly vec: readonly number[];
  /** Local error estimate, dimensionless (relative error). */
  readonly error: number;
  /** Adjustment term in ms (added to predicted distances when the sum stays positive). */
  readonly adjustment: number;
  /** Height in ms: the access-link part of every path (§5.4). */
  readonly height: number;
}

/** A source of uniform numbers in [0, 1). */
export type RandomSource = () => number;

/** Below this magnitude two points are considered to coincide. */
export const ZERO_THRESHOLD = 1e-6;

/** The origin: a fresh node starts there with maximal error. */
export function newCoordinate(config: VivaldiConfig): Coordinate {
  return {
    vec: new Array<number>(config.dimensionality).fill(0),
    error: config.errorMax,
    adjustment: 0,
    height: config.heightMin,
  };
}

export function isValidCoordinate(c: Coordinate): boolean {
  return (
    c.vec.every(Number.isFinite) &&
    Number.isFinite(c.error) &&
    Number.isFinite(c.adjustment) &&
    Number.isFinite(c.height)
  );
}

export function isCompatible(a: Coordinate, b: Coordinate): boolean {
  return a.vec.length === b.vec.length;
}

export function add(a: readonly number[], b: readonly number[]): number[] {
  return a.map((x, i) => x + (b[i] as number));
}

export function diff(a: readonly number[], b: readonly number[]): number[] {
  return a.map((x, i) => x - (b[i] as number));
}

export function mul(a: readonly number[], f: number): number[] {
  return a.map((x) => x * f);
}

export function magnitude(a: readonly number[]): number {
  let s = 0;
  for (const x of a) s += x * x;
  return Math.sqrt(s);
}

/**
 * Unit vector pointing from `b` to `a`, and the distance between them. When
 * the points coincide, a random direction is chosen (§3.3: nodes at the same
 * place must be pushed apart in some direction).
 */
export function unitVectorAt(
  a: readonly number[],
  b: readonly number[],
  random: RandomSource,
): { unit: number[]; mag: number } {
  const d = diff(a, b);
  const mag = magnitude(d);
  if (mag > ZERO_THRESHOLD) return { unit: mul(d, 1 / mag), mag };
  const r = d.map(() => random() - 0.5);
  const rm = magnitude(r);
  if (rm > ZERO_THRESHOLD) return { unit: mul(r, 1 / rm), mag: 0 };
  // Degenerate random draw: fall back to the first axis.
  return { unit: d.map((_, i) => (i === 0 ? 1 : 0)), mag: 0 };
}

/** Predicted RTT without the adjustment terms: ‖a − b‖ + ha + hb (§5.4). */
export function rawDistance(a: Coordinate, b: Coordinate): number {
  // magnitude(diff(a, b)) without the intermediate array: ranked against every known member.
  let s = 0;
  for (let i = 0; i < a.vec.length; i++) {
    const d = a.vec[i]! - (b.vec[i] as number);
    s += d * d;
  }
  return Math.sqrt(s) + a.height + b.height;
}

/** Predicted RTT in ms, with adjustments when their sum keeps it positive (serf `DistanceTo`). */
export function distance(a: Coordinate, b: Coordinate): number {
  const dist = rawDistance(a, b);
  const adjusted = dist + a.adjustment + b.adjustment;
  return adjusted > 0 ? adjusted : dist;
}

/**
 * Move `c` by `force` (ms) along the direction from `other` to `c`
 * (positive pushes away, negative pulls closer). The height moves in
 * proportion to the share it has in the distance (§5.4), never below the minimum.
 */
export function applyForce(
  config: VivaldiConfig,
  c: Coordinate,
  force: number,
  other: Coordinate,
  random: RandomSource,
): Coordinate {
  const { unit, mag } = unitVectorAt(c.vec, other.vec, random);
  let height = c.height;
  if (mag > ZERO_THRESHOLD) height = ((c.height + other.height) * force) / mag + c.height;
  return {
    vec: add(c.vec, mul(unit, force)),
    error: c.error,
    adjustment: c.adjustment,
    height: Math.max(height, config.heightMin),
  };
}

/** A deep copy safe to hand out. */
export function cloneCoordinate(c: Coordinate): Coordinate {
  return { vec: [...c.vec], error: c.error, adjustment: c.adjustment, height: c.height };
}
