import { describe, expect, it } from 'vitest';
import { chooseNearest } from '../../src/mesh/nearest.js';
import { COUNTRIES_RTT_MATRIX, loadRttMatrix, parseRttMatrix, parseSites, siteDelay, zeroDiagonal } from '../../src/mesh/rtt-matrix.js';
import { evaluateVivaldi } from '../../src/mesh/vivaldi-evaluation.js';
import type { Coordinate } from '../../src/mesh/vivaldi/coordinate.js';

const COUNTRIES = COUNTRIES_RTT_MATRIX;
const at = (x: number): Coordinate => ({ vec: [x, 0], error: 0.1, adjustment: 0, height: 0 });

describe('chooseNearest', () => {
  const candidates = [
    { key: 'far', coordinate: at(100) },
    { key: 'b', coordinate: at(12) },
    { key: 'a', coordinate: at(10) },
    { key: 'none', coordinate: null },
  ];

  it('ranks by predicted RTT, candidates without coordinates last', () => {
    expect(chooseNearest(at(0), candidates).map((r) => r.candidate.key)).toEqual(['a', 'b', 'far', 'none']);
    expect(chooseNearest({ coordinate: at(90) }, candidates)[0]!.candidate.key).toBe('far');
  });

  it('re-ranks the shortlist by measured RTTs only', () => {
    const measured = new Map([
      ['b', 5],
      ['a', 9],
      ['far', 1],
    ]);
    const ranked = chooseNearest(at(0), candidates, measured, { shortlist: 2 });
    expect(ranked.map((r) => r.candidate.key)).toEqual(['b', 'a', 'far', 'none']);
    expect(ranked[0]!.measuredMs).toBe(5);
    expect(chooseNearest(at(0), candidates, (k) => (k === 'b' ? 5 : undefined), { shortlist: 2 })[0]!.candidate.key).toBe('b');
  });
});

describe('RTT matrices', () => {
  it('parses the countries format and derives per-site delays', () => {
    const m = parseRttMatrix('id,A,B\nA,1,40\nB,40,2\n');
    expect(m.ids).toEqual(['A', 'B']);
    expect(zeroDiagonal(m)).toEqual([
      [0, 40],
      [40, 0],
    ]);
    const delay = siteDelay(m, 'A', (k) => ({ p: 'B', q: 'A' })[k]);
    expect(delay('p')).toBe(20);
    expect(delay('q')).toBe(0.5);
    expect(delay('unknown')).toBe(0);
    expect(() => parseSites(m, 'A,C')).toThrow(/unknown site C/);
    expect(() => parseRttMatrix('id,A,B\nA,1\n')).toThrow();
  });
});

describe('Vivaldi and nearest choice on countries.csv (defaults)', () => {
  it('meets the goals: median error <= 0.065, hit rate >= 0.9, stretch <= 1.05', () => {
    const m = loadRttMatrix(COUNTRIES);
    const r = evaluateVivaldi(zeroDiagonal(m));
    expect(r.nodes).toBe(95);
    expect(r.rounds).toBe(2000);
    expect(r.median_rel_error).toBeLessThanOrEqual(0.065);
    expect(r.nearest_hit_rate).toBeGreaterThanOrEqual(0.9);
    expect(r.stretch_mean).toBeLessThanOrEqual(1.05);
    // The refinement is what makes it: coordinates alone do much worse.
    expect(r.coordinate_only_hit_rate).toBeLessThan(0.7);
  });
});
