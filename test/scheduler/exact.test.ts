import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ban, fence, gather, lonely, preserve, root, runningCapacity, spread, type Constraint } from '../../src/scheduler/constraints/index.js';
import { createModel } from '../../src/scheduler/model.js';
import { checkPlan } from '../../src/scheduler/plan-checker.js';
import { seededRandom } from '../../src/scheduler/random.js';
import { solveExact } from '../../src/scheduler/solver/exact.js';
import { solve } from '../../src/scheduler/solver/solve.js';
import { model } from './helpers/models.js';

describe('exact solver (HiGHS)', () => {
  it('finds the cheapest migrations and proves it', () => {
    const m = model(
      { n1: [400, 8192], n2: [400, 8192], n3: [400, 8192] },
      { big: [200, 4096, 'n1'], small: [150, 512, 'n1'], c: [100, 512, 'n1'], d: [300, 512, 'n2'] },
    );
    const r = solveExact(m);
    expect(r.status).toBe('solved');
    expect(r.cost).toBe(512);
    expect(checkPlan(m, r.plan ?? { actions: [] })).toEqual([]);
  });

  it('solves a tight fit the greedy search misses, where a VM of another node must make room first', () => {
    // n0 is 20 over; v1 fits nowhere until v3 leaves n2 for n1.
    const m = model(
      { n0: [100, 8192], n1: [100, 8192], n2: [100, 8192] },
      { v0: [60, 512, 'n0'], v1: [60, 512, 'n0'], v2: [40, 512, 'n2'], v3: [20, 512, 'n2'], v4: [50, 512, 'n1'], v5: [20, 512, 'n1'] },
    );
    const r = solveExact(m);
    expect(r.status).toBe('solved');
    expect(r.migrations).toBe(2);
    expect(checkPlan(m, r.plan ?? { actions: [] })).toEqual([]);
    expect(solve(m, [], { exact: false }).status).not.toBe('solved');
    // A limit no loaded machine reaches: the test is about the answer, not the time.
    const withFallback = solve(m, [], { exact: { timeLimitMs: 5_000 } });
    expect(withFallback.status).toBe('solved');
    expect(checkPlan(m, withFallback.plan ?? { actions: [] })).toEqual([]);
  });

  it('says unsolvable when no placement exists, and honours the constraints', () => {
    const m = model({ n1: [100, 1024], n2: [100, 1024] }, { a: [90, 512, 'n1'], b: [90, 512, 'n2'], c: [90, 512, 'n1'] });
    expect(solveExact(m).status).toBe('unsolvable');
    const roomy = model({ n1: [400, 4096], n2: [400, 4096], n3: [400, 4096] }, { a: [50, 512, 'n1'], b: [50, 512, 'n1'], c: [50, 512, 'n2'] });
    const cs: Constraint[] = [spread(['a', 'b', 'c']), ban(['c'], ['n3']), lonely(['a'])];
    const r = solveExact(roomy, cs);
    expect(r.status).toBe('solved');
    expect(checkPlan(roomy, r.plan ?? { actions: [] }, cs)).toEqual([]);
  });
});

const KINDS = ['ban', 'fence', 'spread', 'gather', 'lonely', 'root', 'preserve', 'runningCapacity'] as const;

function constraintOf(kind: (typeof KINDS)[number], vms: string[], nodes: string[], seed: number): Constraint {
  const rng = seededRandom(seed);
  const pick = <T,>(xs: T[], k: number): T[] => [...new Set(Array.from({ length: k }, () => xs[Math.floor(rng.next() * xs.length)] as T))];
  switch (kind) {
    case 'ban':
      return ban(pick(vms, 2), pick(nodes, 2));
    case 'fence':
      return fence(pick(vms, 2), pick(nodes, Math.max(2, nodes.length - 1)));
    case 'spread':
      return spread(pick(vms, 3));
    case 'gather':
      return gather(pick(vms, 2));
    case 'lonely':
      return lonely(pick(vms, 1));
    case 'root':
      return root(pick(vms, 2));
    case 'preserve':
      return preserve(pick(vms, 1), 'cpu', 150);
    case 'runningCapacity':
      return runningCapacity(pick(nodes, 2), 5);
  }
}

describe('the solver against the exact solver as oracle', () => {
  it('solves every feasible partition of 2 to 16 hosts with constraints, with a valid plan', () => {
    let feasible = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 16 }),
        fc.array(fc.record({ cpu: fc.integer({ min: 1, max: 10 }), host: fc.nat() }), { minLength: 2, maxLength: 24 }),
        fc.array(fc.tuple(fc.constantFrom(...KINDS), fc.nat()), { maxLength: 3 }),
        fc.nat(),
        (n, vmArb, cs, seed) => {
          const nodes = Array.from({ length: n }, (_, i) => ({ id: `n${i}`, cpu: 400, mem: 8 * 1024 }));
          const vms = vmArb.map((v, i) => ({ id: `v${i}`, cpu: v.cpu * 25, mem: 1024 }));
          const host = Object.fromEntries(vmArb.map((v, i) => [`v${i}`, `n${(v.host % Math.max(1, Math.ceil(n / 2))) % n}`]));
          const m = createModel({ nodes, vms, host });
          const constraints = cs.map(([k, s]) => constraintOf(k, vms.map((v) => v.id), nodes.map((x) => x.id), s));
          const oracle = solveExact(m, constraints, { timeLimitMs: 5_000 });
          expect(oracle.status).not.toBe('budget');
          const r = solve(m, constraints, { rng: seededRandom(seed), attempts: 6, exact: { timeLimitMs: 5_000 } });
          if (oracle.status === 'solved') {
            feasible++;
            expect(r.status).toBe('solved');
            expect(checkPlan(m, oracle.plan ?? { actions: [] }, constraints)).toEqual([]);
          }
          if (r.status === 'solved') expect(checkPlan(m, r.plan ?? { actions: [] }, constraints)).toEqual([]);
        },
      ),
      { numRuns: 60, seed: 16 },
    );
    expect(feasible).toBeGreaterThan(25);
  }, 120_000);
});
