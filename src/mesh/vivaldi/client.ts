/**
 * Stateful Vivaldi client: one per node. Holds the local coordinate, the
 * per-peer latency filters and the adjustment window. Hands out copies only.
 */
import { defaultConfig, type VivaldiConfig } from './config.js';
import {
  applyForce,
  cloneCoordinate,
  distance,
  isCompatible,
  isValidCoordinate,
  newCoordinate,
  rawDistance,
  ZERO_THRESHOLD,
  type Coordinate,
  type RandomSource,
} from './coordinate.js';

export interface VivaldiClientOptions {
  config?: Partial<VivaldiConfig>;
  /** Uniform [0, 1) source, injected so that simulations are deterministic. */
  random?: RandomSource;
}

export interface VivaldiStats {
  /** Times the coordinate went non-finite and was reset to the origin. */
  resets: number;
  /** Samples rejected (RTT out of range or incompatible coordinate). */
  rejected: number;
  /** Samples accepted. */
  updates: number;
}

export class VivaldiError extends Error {
  constructor(
    message: string,
    readonly code: 'RTT_OUT_OF_RANGE' | 'INCOMPATIBLE' | 'INVALID_COORDINATE',
  ) {
    super(message);
    this.name = 'VivaldiError';
  }
}

export class VivaldiClient {
  readonly config: VivaldiConfig;
  private readonly random: RandomSource;
  private coord: Coordinate;
  private readonly origin: Coordinate;
  private readonly adjustmentSamples: number[];
  private adjustmentIndex = 0;
  private readonly latencySamples = new Map<string, number[]>();
  private readonly stats: VivaldiStats = { resets: 0, rejected: 0, updates: 0 };

  constructor(options: VivaldiClientOptions = {}) {
    this.config = defaultConfig(options.config);
    this.random = options.random ?? Math.random;
    this.coord = newCoordinate(this.config);
    this.origin = newCoordinate(this.config);
    this.adjustmentSamples = new Array<number>(this.config.adjustmentWindowSize).fill(0);
  }

  /** A copy of the current coordinate. */
  getCoordinate(): Coordinate {
    return cloneCoordinate(this.coord);
  }

  /** Replace the coordinate (e.g. restored from disk); rejected when invalid or incompatible. */
  setCoordinate(c: Coordinate): void {
    this.check(c);
    this.coord = cloneCoordinate(c);
  }

  getStats(): VivaldiStats {
    return { ...this.stats };
  }

  /** Forget the latency samples of a peer that left. */
  forgetNode(node: string): void {
    this.latencySamples.delete(node);
  }

  /** Median of the filtered RTT samples to `node`, in ms, or undefined if none. */
  filteredRtt(node: string): number | undefined {
    const s = this.latencySamples.get(node);
    return s && s.length > 0 ? median(s) : undefined;
  }

  /** Predicted RTT in ms from this node to `other`. */
  distanceTo(other: Coordinate): number {
    return distance(this.coord, other);
  }

  /**
   * Feed one RTT observation (ms) to `node`, whose coordinate is `other`.
   * Returns the new coordinate (a copy). Throws VivaldiError when the sample
   * is rejected; the state is then unchanged.
   */
  update(node: string, other: Coordinate, rttMs: number): Coordinate {
    try {
      this.check(other);
    } catch (err) {
      this.stats.rejected++;
      throw err;
    }
    if (!(rttMs > 0) || rttMs > this.config.maxRttMs || !Number.isFinite(rttMs)) {
      this.stats.rejected++;
      throw new VivaldiError(`RTT ${rttMs} ms out of range (0, ${this.config.maxRttMs}]`, 'RTT_OUT_OF_RANGE');
    }
    const rtt = this.latencyFilter(node, rttMs);
    this.updateVivaldi(other, rtt);
    this.updateAdjustment(other, rtt);
    this.updateGravity();
    if (!isValidCoordinate(this.coord)) {
      this.stats.resets++;
      this.coord = newCoordinate(this.config);
    }
    this.stats.updates++;
    return this.getCoordinate();
  }

  private check(c: Coordinate): void {
    if (!isCompatible(this.coord, c)) {
      throw new VivaldiError(
        `dimensionality ${c.vec.length} differs from ${this.config.dimensionality}`,
        'INCOMPATIBLE',
      );
    }
    if (!isValidCoordinate(c)) throw new VivaldiError('non-finite coordinate', 'INVALID_COORDINATE');
  }

  /** Moving median of the last `latencyFilterSize` samples of this peer. */
  private latencyFilter(node: string, rttMs: number): number {
    let s = this.latencySamples.get(node);
    if (!s) {
      s = [];
      this.latencySamples.set(node, s);
    }
    s.push(rttMs);
    if (s.length > this.config.latencyFilterSize) s.splice(0, s.length - this.config.latencyFilterSize);
    return median(s);
  }

  /** The update rule of Fig. 3 (adaptive timestep), with heights (§5.4). */
  private updateVivaldi(other: Coordinate, rttMs: number): void {
    const { ce, cc, errorMax } = this.config;
    const rtt = Math.max(rttMs, ZERO_THRESHOLD);
    const dist = distance(this.coord, other);
    // Relative error of this sample (es in the paper).
    const wrongness = Math.abs(dist - rtt) / rtt;
    // Sample weight w = ei / (ei + ej).
    const totalError = Math.max(this.coord.error + other.error, ZERO_THRESHOLD);
    const weight = this.coord.error / totalError;
    // ei = es·ce·w + ei·(1 − ce·w), capped.
    const error = Math.min(ce * weight * wrongness + this.coord.error * (1 - ce * weight), errorMax);
    // δ = cc·w; xi = xi + δ·(rtt − ‖xi − xj‖)·u(xi − xj).
    const delta = cc * weight;
    const force = delta * (rtt - dist);
    this.coord = { ...applyForce(this.config, this.coord, force, other, this.random), error };
  }

  /** Adjustment: half the mean residual over a sliding window (serf). */
  private updateAdjustment(other: Coordinate, rttMs: number): void {
    const n = this.config.adjustmentWindowSize;
    if (n === 0) return;
    this.adjustmentSamples[this.adjustmentIndex] = rttMs - rawDistance(this.coord, other);
    this.adjustmentIndex = (this.adjustmentIndex + 1) % n;
    let sum = 0;
    for (const s of this.adjustmentSamples) sum += s;
    this.coord = { ...this.coord, adjustment: sum / (2 * n) };
  }

  /** Gravity towards the origin keeps the coordinate system from drifting. */
  private updateGravity(): void {
    const dist = distance(this.origin, this.coord);
    const force = -1 * (dist / this.config.gravityRho) ** 2;
    this.coord = applyForce(this.config, this.coord, force, this.origin, this.random);
  }
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}
