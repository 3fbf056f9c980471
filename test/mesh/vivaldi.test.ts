import { describe, expect, it } from 'vitest';
import { VivaldiClient, VivaldiError } from '../../src/mesh/vivaldi/client.js';
import { defaultConfig } from '../../src/mesh/vivaldi/config.js';
import {
  applyForce,
  distance,
  magnitude,
  newCoordinate,
  unitVectorAt,
  type Coordinate,
} from '../../src/mesh/vivaldi/coordinate.js';
import { seededRandom } from '../../src/mesh/vivaldi/random.js';
import {
  evaluate,
  generateCircle,
  generateClients,
  generateGrid,
  generateLine,
  generateRandom,
  generateSplit,
  simulate,
  type RttMatrix,
} from '../../src/mesh/vivaldi/topology.js';

const config = defaultConfig();
const at = (vec: number[], height = config.heightMin): Coordinate => ({ vec, error: 1, adjustment: 0, height });

describe('coordinate arithmetic', () => {
  it('predicts Euclidean distance plus both heights', () => {
    expect(distance(at([3, 4]), at([0, 0]))).toBeCloseTo(5 + 2 * config.heightMin);
    expect(distance(at([3, 4], 2), at([0, 0], 3))).toBeCloseTo(10);
  });

  it('uses adjustments only while the sum stays positive', () => {
    const a = { ...at([10, 0], 0), adjustment: -2 };
    const b = { ...at([0, 0], 0), adjustment: -3 };
    expect(distance(a, b)).toBeCloseTo(5);
    expect(distance({ ...a, adjustment: -20 }, b)).toBeCloseTo(10);
  });

  it('pushes away with a positive force and pulls with a negative one, never below the minimum height', () => {
    const r = seededRandom(1);
    const pushed = applyForce(config, at([1, 0]), 2, at([0, 0]), r);
    expect(pushed.vec[0]).toBeCloseTo(3);
    const pulled = applyForce(config, at([5, 0], 1), -10, at([0, 0], 1), r);
    expect(pulled.vec[0]).toBeCloseTo(-5);
    expect(pulled.height).toBe(config.heightMin);
  });

  it('picks a random unit direction when two points coincide', () => {
    const { unit, mag } = unitVectorAt([0, 0, 0], [0, 0, 0], seededRandom(3));
    expect(mag).toBe(0);
    expect(magnitude(unit)).toBeCloseTo(1);
  });
});

describe('Vivaldi client', () => {
  it('rejects RTTs out of range and incompatible or non-finite coordinates', () => {
    const c = new VivaldiClient({ random: seededRandom(1) });
    const other = newCoordinate(c.config);
    for (const rtt of [0, -1, Number.NaN, c.config.maxRttMs + 1]) {
      expect(() => c.update('x', other, rtt)).toThrow(VivaldiError);
    }
    expect(() => c.update('x', { ...other, vec: [1, 2] }, 10)).toThrow(/dimensionality/);
    expect(() => c.update('x', { ...other, height: Number.POSITIVE_INFINITY }, 10)).toThrow(/non-finite/);
    expect(c.getStats()).toEqual({ resets: 0, rejected: 6, updates: 0 });
  });

  it('filters latency samples with a moving median', () => {
    const c = new VivaldiClient({ random: seededRandom(1) });
    const other = newCoordinate(c.config);
    c.update('x', other, 10);
    c.update('x', other, 1000);
    expect(c.filteredRtt('x')).toBe(1000);
    c.update('x', other, 12);
    expect(c.filteredRtt('x')).toBe(12);
    c.update('x', other, 11);
    expect(c.filteredRtt('x')).toBe(12); // window of 3: 1000, 12, 11
    c.forgetNode('x');
    expect(c.filteredRtt('x')).toBeUndefined();
  });

  it('resets a coordinate that went non-finite and counts it', () => {
    const c = new VivaldiClient({ random: seededRandom(1) });
    const far = { ...newCoordinate(c.config), vec: new Array<number>(8).fill(1e308), error: 0.01 };
    c.update('x', far, 10);
    expect(c.getStats().resets).toBe(1);
    expect(c.getCoordinate()).toEqual(newCoordinate(c.config));
  });

  it('hands out copies', () => {
    const c = new VivaldiClient({ random: seededRandom(1) });
    const copy = c.getCoordinate() as unknown as { vec: number[] };
    copy.vec[0] = 42;
    expect(c.getCoordinate().vec[0]).toBe(0);
  });

  it('is deterministic for a given random source', () => {
    const run = (): number[] => {
      const r = seededRandom(9);
      const clients = generateClients(10, r);
      simulate(clients, generateLine(10, 5), 50, { random: r });
      return clients.map((c) => c.getCoordinate().vec[0]!);
    };
    expect(run()).toEqual(run());
  });
});

describe('Vivaldi on synthetic topologies with known answers', () => {
  const run = (truth: RttMatrix, rounds: number, seed: number, cfg = {}) => {
    const r = seededRandom(seed);
    const clients = generateClients(truth.length, r, cfg);
    simulate(clients, truth, rounds, { random: r });
    return { clients, ...evaluate(clients, truth) };
  };

  it('embeds points on a line', () => {
    const e = run(generateLine(10, 10), 1000, 7);
    expect(e.medianRelError).toBeLessThan(0.01);
    expect(e.maxRelError).toBeLessThan(0.1);
  });

  it('embeds a grid', () => {
    const e = run(generateGrid(25, 10), 1000, 7);
    expect(e.medianRelError).toBeLessThan(0.01);
    expect(e.p90RelError).toBeLessThan(0.05);
  });

  it('separates two LANs joined by a WAN link', () => {
    const truth = generateSplit(20, 1, 50);
    const e = run(truth, 1000, 7);
    expect(e.medianRelError).toBeLessThan(0.02);
    // Every WAN prediction is far above every LAN one.
    const { clients } = e;
    const d = (i: number, j: number) => clients[i]!.distanceTo(clients[j]!.getCoordinate());
    expect(d(0, 15)).toBeGreaterThan(40);
    expect(d(0, 5)).toBeLessThan(5);
  });

  it('learns access links as heights on a circle (2-D + height)', () => {
    const access = [5, 20, 10, 40];
    const truth = generateCircle(16, 50, access);
    const e = run(truth, 2000, 7, { dimensionality: 2 });
    expect(e.maxRelError).toBeLessThan(0.01);
    e.clients.forEach((c, i) => expect(c.getCoordinate().height).toBeCloseTo(access[i % 4]!, 0));
    // Without heights (heightMin 0 keeps them at 0) the same topology cannot be embedded.
    const flat = run(truth, 2000, 7, { dimensionality: 2, heightMin: 0 });
    expect(flat.medianRelError).toBeGreaterThan(0.05);
  });

  it('keeps random delays within the budget', () => {
    const truth = generateRandom(25, 100, 10, seededRandom(3));
    const e = run(truth, 1000, 7);
    expect(e.medianRelError).toBeLessThan(0.1);
    expect(e.p90RelError).toBeLessThan(0.25);
  });
});
