import { describe, expect, it } from 'vitest';
import {
  among, ban, checkerFor, fence, gather, latency, lonely, offline, online, preserve, quarantine,
  resourceCapacity, root, runningCapacity, split, spread, type Constraint,
} from '../../src/scheduler/constraints/index.js';
import { groupsFromCoordinates, groupsFromRtt, groupsFromSites } from '../../src/scheduler/constraints/latency-groups.js';
import { SchedulerError } from '../../src/scheduler/errors.js';
import { checkPlan, replay } from '../../src/scheduler/plan-checker.js';
import { BootNode, MigrateVm, ShutdownNode } from '../../src/scheduler/plan.js';
import { solve } from '../../src/scheduler/solver/solve.js';
import { model } from './helpers/models.js';

const N3 = { n1: [400, 4096], n2: [400, 4096], n3: [400, 4096] } as Record<string, [number, number]>;

interface Case {
  name: string;
  constraint: Constraint;
  /** A model violating the constraint that the solver can repair. */
  bad: ReturnType<typeof model>;
  /** A model satisfying it. */
  good: ReturnType<typeof model>;
}

const cases: Case[] = [
  {
    name: 'ban',
    constraint: ban(['a'], ['n1']),
    bad: model(N3, { a: [100, 512, 'n1'] }),
    good: model(N3, { a: [100, 512, 'n2'] }),
  },
  {
    name: 'fence',
    constraint: fence(['a', 'b'], ['n2', 'n3']),
    bad: model(N3, { a: [100, 512, 'n1'], b: [100, 512, 'n2'] }),
    good: model(N3, { a: [100, 512, 'n3'], b: [100, 512, 'n2'] }),
  },
  {
    name: 'spread',
    constraint: spread(['a', 'b', 'c']),
    bad: model(N3, { a: [100, 512, 'n1'], b: [100, 512, 'n1'], c: [100, 512, 'n2'] }),
    good: model(N3, { a: [100, 512, 'n1'], b: [100, 512, 'n2'], c: [100, 512, 'n3'] }),
  },
  {
    name: 'gather',
    constraint: gather(['a', 'b']),
    bad: model(N3, { a: [100, 512, 'n1'], b: [100, 512, 'n2'] }),
    good: model(N3, { a: [100, 512, 'n3'], b: [100, 512, 'n3'] }),
  },
  {
    name: 'among',
    constraint: among(['a', 'b'], [['n1'], ['n2', 'n3']]),
    bad: model(N3, { a: [100, 512, 'n1'], b: [100, 512, 'n3'] }),
    good: model(N3, { a: [100, 512, 'n2'], b: [100, 512, 'n3'] }),
  },
  {
    name: 'split',
    constraint: split([['a'], ['b', 'c']]),
    bad: model(N3, { a: [100, 512, 'n1'], b: [100, 512, 'n1'], c: [100, 512, 'n2'] }),
    good: model(N3, { a: [100, 512, 'n1'], b: [100, 512, 'n2'], c: [100, 512, 'n2'] }),
  },
  {
    name: 'lonely',
    constraint: lonely(['a']),
    bad: model(N3, { a: [100, 512, 'n1'], b: [100, 512, 'n1'] }),
    good: model(N3, { a: [100, 512, 'n1'], b: [100, 512, 'n2'] }),
  },
  {
    name: 'preserve',
    constraint: preserve(['a'], 'cpu', 300),
    bad: model(N3, { a: [100, 512, 'n1'], b: [200, 512, 'n1'] }),
    good: model(N3, { a: [100, 512, 'n1'], b: [200, 512, 'n2'] }),
  },
  {
    name: 'resourceCapacity',
    constraint: resourceCapacity(['n1', 'n2'], 'cpu', 200),
    bad: model(N3, { a: [100, 512, 'n1'], b: [100, 512, 'n2'], c: [100, 512, 'n2'] }),
    good: model(N3, { a: [100, 512, 'n1'], b: [100, 512, 'n2'], c: [100, 512, 'n3'] }),
  },
  {
    name: 'runningCapacity',
    constraint: runningCapacity(['n1'], 1),
    bad: model(N3, { a: [10, 512, 'n1'], b: [10, 512, 'n1'] }),
    good: model(N3, { a: [10, 512, 'n1'], b: [10, 512, 'n2'] }),
  },
  {
    name: 'online',
    constraint: online(['n3']),
    bad: model(N3, { a: [10, 512, 'n1'] }, ['n3']),
    good: model(N3, { a: [10, 512, 'n1'] }),
  },
  {
    name: 'offline',
    constraint: offline(['n1']),
    bad: model(N3, { a: [10, 512, 'n1'] }),
    good: model(N3, { a: [10, 512, 'n2'] }, ['n1']),
  },
  {
    name: 'latency',
    constraint: latency(['a', 'b'], 'metro', groupsFromSites({ n1: 'paris', n2: 'lyon', n3: 'lyon' })),
    bad: model(N3, { a: [100, 512, 'n1'], b: [100, 512, 'n2'] }),
    good: model(N3, { a: [100, 512, 'n2'], b: [100, 512, 'n3'] }),
  },
];

describe('constraint checkers and their solver encoding', () => {
  for (const c of cases) {
    describe(c.name, () => {
      it('checker accepts a satisfying configuration', () => {
        expect(checkerFor(c.constraint).state(c.good)).toBeNull();
      });
      it('checker rejects a violating configuration', () => {
        expect(checkerFor(c.constraint).state(c.bad)).toEqual(expect.any(String));
      });
      it('solver repairs the violation with a valid plan', () => {
        const r = solve(c.bad, [c.constraint]);
        expect(r.status).toBe('solved');
        expect(r.plan).not.toBeNull();
        expect(checkPlan(c.bad, r.plan ?? { actions: [] }, [c.constraint])).toEqual([]);
        expect(checkerFor(c.constraint).state(replay(c.bad, r.plan ?? { actions: [] }))).toBeNull();
      });
      it('solver leaves a satisfying configuration alone', () => {
        const r = solve(c.good, [c.constraint]);
        expect(r.status).toBe('solved');
        expect(r.migrations).toBe(0);
      });
    });
  }

  it('root: checker denies migrating a rooted VM, solver moves another VM instead', () => {
    const m = model(N3, { a: [300, 512, 'n1'], b: [200, 512, 'n1'] });
    const k = checkerFor(root(['a']));
    expect(k.onMigrate(m, new MigrateVm('a', 'n1', 'n2'))).toEqual(expect.any(String));
    expect(k.onMigrate(m, new MigrateVm('b', 'n1', 'n2'))).toBeNull();
    const r = solve(m, [root(['a'])]);
    expect(r.status).toBe('solved');
    expect(r.plan?.actions.map((a) => a.toString())).toEqual(['migrate(b, n1 -> n2)']);
    expect(checkPlan(m, r.plan ?? { actions: [] }, [root(['a'])])).toEqual([]);
  });

  it('root: unsolvable when only rooted VMs could relieve the overload', () => {
    const m = model(N3, { a: [300, 512, 'n1'], b: [200, 512, 'n1'] });
    expect(solve(m, [root(['a', 'b'])]).status).toBe('unsolvable');
  });

  it('quarantine: checker denies moves in and out, solver avoids the quarantined nodes', () => {
    const m = model(N3, { a: [300, 512, 'n1'], b: [200, 512, 'n1'], c: [100, 512, 'n2'] });
    const q = quarantine(['n2']);
    const k = checkerFor(q);
    expect(k.onMigrate(m, new MigrateVm('a', 'n1', 'n2'))).toEqual(expect.any(String));
    expect(k.onMigrate(m, new MigrateVm('c', 'n2', 'n3'))).toEqual(expect.any(String));
    expect(k.onMigrate(m, new MigrateVm('a', 'n1', 'n3'))).toBeNull();
    const r = solve(m, [q]);
    expect(r.status).toBe('solved');
    for (const a of r.plan?.actions ?? []) if (a.kind === 'migrate') expect(a.to).not.toBe('n2');
    expect(checkPlan(m, r.plan ?? { actions: [] }, [q])).toEqual([]);
  });

  it('online/offline checkers deny shutting down / booting', () => {
    const m = model(N3, {}, ['n3']);
    expect(checkerFor(online(['n1'])).onShutdown(m, new ShutdownNode('n1'))).toEqual(expect.any(String));
    expect(checkerFor(offline(['n3'])).onBoot(m, new BootNode('n3'))).toEqual(expect.any(String));
  });

  it('spread is continuous: a plan step may not co-locate members even transiently', () => {
    const m = model({ n1: [200, 4096], n2: [200, 4096] }, { a: [100, 512, 'n1'], b: [100, 512, 'n2'] });
    const swap = { actions: [new MigrateVm('a', 'n1', 'n2'), new MigrateVm('b', 'n2', 'n1')] };
    const v = checkPlan(m, swap, [spread(['a', 'b'])]);
    expect(v.map((x) => x.type)).toContain('continuous');
    expect(checkPlan(m, swap, [spread(['a', 'b'], { continuous: false })])).toEqual([]);
  });

  it('rejects malformed declarations with a coded error', () => {
    expect(() => ban([], ['n1'])).toThrow(SchedulerError);
    expect(() => resourceCapacity(['n1'], 'cpu', -1)).toThrowError(expect.objectContaining({ code: 'INVALID_CONSTRAINT' }));
  });

  it('latency groups from an RTT matrix and from coordinates respect the threshold', () => {
    const rtt: Record<string, number> = { 'a|b': 2, 'a|c': 50, 'b|c': 49 };
    const f = (x: string, y: string): number => rtt[[x, y].sort().join('|')] ?? 0;
    expect(groupsFromRtt(['a', 'b', 'c'], f, 5)).toEqual([['a', 'b'], ['c']]);
    const g = groupsFromCoordinates({ a: [0, 0, 1], b: [3, 0, 1], c: [100, 0, 1] }, 10);
    expect(g).toEqual([['a', 'b'], ['c']]);
  });
});
