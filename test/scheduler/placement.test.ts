import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ban, fence, gather, spread, type Constraint } from '../../src/scheduler/constraints/index.js';
import { withinOneGroup } from '../../src/scheduler/constraints/among.js';
import { createModel, type Model, type VmSpec } from '../../src/scheduler/model.js';
import { checkPlan, replay } from '../../src/scheduler/plan-checker.js';
import { latencyGroups, placementConstraints, type VmPlacement } from '../../src/scheduler/placement.js';
import { NodeAgent } from '../../src/scheduler/protocol/node-agent.js';
import { RingOrder } from '../../src/scheduler/protocol/neighbours.js';
import type { AgentEnvironment, HostActuator } from '../../src/scheduler/protocol/transport.js';
import { seededRandom } from '../../src/scheduler/random.js';
import { EventQueue, type SimEvent } from '../../src/scheduler/sim/event-queue.js';
import { SimNetwork } from '../../src/scheduler/sim/network.js';
import { SyncThenable } from '../../src/scheduler/sim/sync-thenable.js';
import { solve } from '../../src/scheduler/solver/solve.js';

const vm = (id: string, placement?: VmPlacement, cpu = 100, mem = 512): VmSpec => ({ id, cpu, mem, ...(placement ? { placement } : {}) });

/** Nodes on a line: the distance is the difference of positions (ms). */
const line = (pos: Record<string, number>) => (a: string, b: string): number => Math.abs((pos[a] ?? 1e9) - (pos[b] ?? -1e9));

describe('placementConstraints: per-VM rules to partition constraints', () => {
  const nodes = ['n1', 'n2', 'n3'];

  it('ban keeps the partition nodes only and disappears when none is in the partition', () => {
    const cs = placementConstraints([vm('a', { ban: ['n2', 'far', 'n2'] }), vm('b', { ban: ['far'] })], nodes);
    expect(cs).toEqual([ban(['a'], ['n2'])]);
  });

  it('fence keeps the partition nodes; a fence outside the partition bans every partition node; an empty fence is no rule', () => {
    const cs = placementConstraints([vm('a', { fence: ['n3', 'far'] }), vm('b', { fence: ['far'] }), vm('c', { fence: [] })], nodes);
    expect(cs).toEqual([fence(['a'], ['n3']), ban(['b'], nodes)]);
    expect(placementConstraints([vm('b', { fence: ['far'] })], [])).toEqual([]);
  });

  it('spread and gather group the VMs by name; a group of one VM is no constraint', () => {
    const cs = placementConstraints(
      [vm('a', { spread: ['web'], gather: ['db'] }), vm('b', { spread: ['web', 'solo'] }), vm('c', { gather: ['db'] }), vm('d', { spread: ['web'] })],
      nodes,
    );
    expect(cs).toEqual([spread(['a', 'b', 'd']), gather(['a', 'c'])]);
  });

  it('latency takes the smallest bound of the group and the maximal sets of nodes within it', () => {
    const distance = line({ n1: 0, n2: 8, n3: 16 });
    const [c, ...rest] = placementConstraints([vm('a', { latency: [{ group: 'g', maxRttMs: 20 }] }), vm('b', { latency: [{ group: 'g', maxRttMs: 10 }] })], nodes, distance);
    expect(rest).toEqual([]);
    expect(c).toMatchObject({ kind: 'latency', vms: ['a', 'b'], latencyClass: '10ms', groups: [['n1', 'n2'], ['n2', 'n3']] });
    // Without a distance nothing is known to be close: one group per node.
    expect(placementConstraints([vm('a', { latency: [{ group: 'g', maxRttMs: 10 }] }), vm('b', { latency: [{ group: 'g', maxRttMs: 10 }] })], nodes)[0]).toMatchObject({
      groups: [['n1'], ['n2'], ['n3']],
    });
  });

  it('latency groups are exact: a set of nodes fits in one group iff it is pairwise within the bound', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 40 })), { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 30 }), fc.array(fc.nat(), { maxLength: 4 }), (pts, bound, pick) => {
        const ids = pts.map((_, i) => `n${i}`);
        const d = (a: string, b: string): number => {
          const [ax, ay] = pts[Number(a.slice(1))]!;
          const [bx, by] = pts[Number(b.slice(1))]!;
          return Math.hypot(ax - bx, ay - by);
        };
        const groups = latencyGroups(ids, bound, d);
        const hosts = [...new Set(pick.map((p) => ids[p % ids.length]!))];
        const pairwise = hosts.every((a) => hosts.every((b) => a === b || d(a, b) <= bound));
        const fits = groups.some((g) => hosts.every((h) => g.includes(h)));
        expect(fits).toBe(pairwise);
      }),
      { numRuns: 300 },
    );
  });
});

/** nodes: id → [cpu, mem]; vms: [spec, host | null]. */
function modelOf(nodes: Record<string, [number, number]>, vms: Array<[VmSpec, string | null]>): Model {
  return createModel({
    nodes: Object.entries(nodes).map(([id, [cpu, mem]]) => ({ id, cpu, mem })),
    vms: vms.map(([v]) => v),
    host: Object.fromEntries(vms.flatMap(([v, h]) => (h ? [[v.id, h]] : []))),
    ready: vms.flatMap(([v, h]) => (h ? [] : [v.id])),
  });
}

/** Solves with the model's placement rules and checks the plan against them; the final hosts. */
function solveWith(m: Model, distance?: (a: string, b: string) => number, withRules = true): { status: string; host: Map<string, string> } {
  const cs: Constraint[] = withRules ? placementConstraints(m.vms.values(), [...m.nodes.keys()], distance) : [];
  const r = solve(m, cs, { rng: seededRandom(1), exact: { timeLimitMs: 5_000 } });
  if (r.status !== 'solved' || !r.plan) return { status: r.status, host: new Map() };
  expect(checkPlan(m, r.plan, cs)).toEqual([]);
  return { status: r.status, host: replay(m, r.plan).host };
}

describe('the solver honours placement rules', () => {
  it('spread: admitted VMs of one group go to distinct nodes although one node has room for all', () => {
    const nodes: Record<string, [number, number]> = { big: [800, 8192], s1: [200, 2048], s2: [200, 2048] };
    const vms: Array<[VmSpec, string | null]> = ['a', 'b', 'c'].map((id) => [vm(id, { spread: ['web'] }), null]);
    const without = solveWith(modelOf(nodes, vms), undefined, false);
    expect(new Set(without.host.values()).size).toBeLessThan(3);
    const { host } = solveWith(modelOf(nodes, vms));
    expect(new Set([host.get('a'), host.get('b'), host.get('c')]).size).toBe(3);
  });

  it('gather: admitted VMs of one group share a node', () => {
    const nodes: Record<string, [number, number]> = { n1: [400, 4096], n2: [400, 4096] };
    const vms: Array<[VmSpec, string | null]> = [[vm('a', { gather: ['db'] }, 150), null], [vm('b', { gather: ['db'] }, 150), null]];
    expect(new Set(solveWith(modelOf(nodes, vms), undefined, false).host.values()).size).toBe(2);
    const { host } = solveWith(modelOf(nodes, vms));
    expect(host.get('a')).toBe(host.get('b'));
  });

  it('ban: an overloaded node sheds the VM elsewhere than on the emptiest, banned node', () => {
    const m = modelOf({ n1: [400, 4096], n2: [400, 4096], n3: [400, 4096] }, [
      [vm('x', { ban: ['n2'] }, 300), 'n1'],
      [vm('y', { fence: ['n1'] }, 200), 'n1'],
      [vm('z', undefined, 200), 'n3'],
    ]);
    expect(solveWith(m, undefined, false).host.get('x')).toBe('n2');
    expect(solveWith(m).host.get('x')).toBe('n3');
    expect(solveWith(m).host.get('y')).toBe('n1');
  });

  it('fence: a VM is started only on its nodes, and is unplaceable when none is in the model', () => {
    const nodes: Record<string, [number, number]> = { n1: [800, 8192], n2: [200, 2048] };
    expect(solveWith(modelOf(nodes, [[vm('a', { fence: ['n2'] }), null]])).host.get('a')).toBe('n2');
    expect(solveWith(modelOf(nodes, [[vm('a', { fence: ['elsewhere'] }), null]])).status).toBe('unsolvable');
  });

  it('latency: with a distance function, a new VM goes next to its group, not to the emptiest node', () => {
    const distance = line({ n1: 0, n2: 4, n3: 60, n4: 70 });
    const nodes: Record<string, [number, number]> = { n1: [400, 4096], n2: [200, 4096], n3: [800, 8192], n4: [800, 8192] };
    const g = { latency: [{ group: 'g', maxRttMs: 10 }] };
    const vms: Array<[VmSpec, string | null]> = [[vm('x', g, 350), 'n1'], [vm('y', g), null]];
    expect(['n3', 'n4']).toContain(solveWith(modelOf(nodes, vms), distance, false).host.get('y'));
    expect(solveWith(modelOf(nodes, vms), distance).host.get('y')).toBe('n2');
    // Without a distance every node is a group of its own: the group must share one node, so x
    // moves to a node with room for both (the greedy search alone did not find it).
    const alone = solveWith(modelOf(nodes, vms));
    expect(alone.status).toBe('solved');
    expect(alone.host.get('y')).toBe(alone.host.get('x'));
    expect(['n3', 'n4']).toContain(alone.host.get('x'));
  });
});

/** A few DVMS agents over the simulated network, whose monitors report the VMs' placement rules. */
class Cluster {
  readonly queue = new EventQueue();
  readonly vms = new Map<string, { spec: VmSpec; host: string }>();
  readonly agents: NodeAgent[];
  unsolvable = 0;

  constructor(readonly cpu: number[], distance?: (a: string, b: string) => number) {
    const ids = cpu.map((_, i) => `h${i}`);
    const net = new SimNetwork({ queue: this.queue, latencyMs: () => 1, isAlive: () => true });
    const env: AgentEnvironment = {
      now: () => this.queue.now,
      setTimer: (ms, fn) => this.queue.after(ms, fn),
      clearTimer: (h) => {
        (h as SimEvent).cancelled = true;
      },
      computeDelay: () => 0,
      wallNow: () => 0,
    };
    const later = (fn: () => boolean): PromiseLike<void> => {
      const p = new SyncThenable();
      this.queue.after(10, () => (fn() ? p.resolve() : p.reject(new Error('failed'))));
      return p;
    };
    const actuator: HostActuator = {
      migrate: (v, from, to) =>
        later(() => {
          const r = this.vms.get(v);
          if (r?.host !== from) return false;
          r.host = to;
          return true;
        }),
      start: (spec, host) =>
        later(() => {
          this.vms.set(spec.id, { spec, host });
          return true;
        }),
    };
    const order = new RingOrder(ids);
    this.agents = ids.map(
      (id, h) =>
        new NodeAgent({
          id,
          transport: net.transport(h),
          env,
          monitor: { snapshot: () => ({ node: { id, cpu: this.cpu[h]!, mem: 64 * 1024 }, vms: [...this.vms.values()].filter((r) => r.host === id).map((r) => r.spec) }) },
          actuator,
          neighbours: order,
          distance,
          observer: { eventUnsolvable: () => this.unsolvable++ },
          rng: seededRandom(h),
        }),
    );
  }

  put(spec: VmSpec, host: string): void {
    this.vms.set(spec.id, { spec, host });
  }

  hostOf(id: string): string | undefined {
    return this.vms.get(id)?.host;
  }

  run(untilMs = 30_000): void {
    for (let ev = this.queue.next(untilMs); ev; ev = this.queue.next(untilMs)) ev.fn();
  }
}

describe('DVMS agents keep the placement rules the VMs carry', () => {
  it('admission: a fence to a far node grows the partition until it reaches that node', () => {
    const c = new Cluster([400, 400, 400, 400]);
    c.agents[0]!.admit([vm('a', { fence: ['h3'] })]);
    c.run();
    expect(c.hostOf('a')).toBe('h3');
    expect(c.unsolvable).toBe(0);
  });

  it('admission: a spread group lands on distinct nodes although the initiator has room for all', () => {
    const c = new Cluster([800, 400, 400, 400]);
    c.agents[0]!.admit(['a', 'b', 'c'].map((id) => vm(id, { spread: ['web'] })));
    c.run();
    expect(new Set(['a', 'b', 'c'].map((id) => c.hostOf(id))).size).toBe(3);
  });

  it('overload: the VM that must move skips the nearest node it is banned from', () => {
    const c = new Cluster([400, 400, 400]);
    c.put(vm('x', { ban: ['h1'] }, 300), 'h0');
    c.put(vm('y', { fence: ['h0'] }, 200), 'h0');
    c.agents[0]!.sample();
    c.run();
    expect(c.hostOf('x')).toBe('h2');
    expect(c.hostOf('y')).toBe('h0');
  });

  it('latency: with the distance option, a new VM of the group skips the far neighbour for a close one', () => {
    const distance = line({ h0: 0, h1: 100, h2: 5, h3: 200 });
    const g = { latency: [{ group: 'g', maxRttMs: 10 }] };
    const c = new Cluster([400, 400, 400, 400], distance);
    c.put(vm('x', g, 400), 'h0');
    c.agents[0]!.admit([vm('y', g)]);
    c.run();
    expect(c.hostOf('y')).toBe('h2');
    expect(c.hostOf('x')).toBe('h0');
  });
});

it('hosts that are pairwise close satisfy the latency checker even where a greedy cover would split them', () => {
  // A greedy cover of a(0) b(8) c(16) within 10 ms is [a, b], [c]: VMs on b and c would count as a violation.
  const groups = latencyGroups(['a', 'b', 'c'], 10, line({ a: 0, b: 8, c: 16 }));
  const m = modelOf({ a: [100, 100], b: [100, 100], c: [100, 100] }, [[vm('p', undefined, 1, 1), 'b'], [vm('q', undefined, 1, 1), 'c']]);
  expect(withinOneGroup(m, ['p', 'q'], groups)).toBeNull();
});
