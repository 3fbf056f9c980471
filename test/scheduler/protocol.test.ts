import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RingOrder, VivaldiOrder } from '../../src/scheduler/protocol/neighbours.js';
import { DvmsHarness } from './helpers/dvms-harness.js';

describe('neighbour orders', () => {
  it('ring order lists every other node once, successors first', () => {
    const r = new RingOrder(['a', 'b', 'c', 'd']);
    expect(Array.from({ length: r.size() }, (_, i) => r.at('c', i))).toEqual(['d', 'a', 'b']);
    expect(r.at('c', 3)).toBeUndefined();
  });
  it('vivaldi order puts the nearest coordinates first, then falls back to the ring', () => {
    const coords = new Map([
      ['a', [0, 0, 0]],
      ['b', [10, 0, 0]],
      ['c', [1, 0, 0]],
      ['d', [5, 0, 1]],
    ]);
    const v = new VivaldiOrder(['a', 'b', 'c', 'd'], { coordinates: coords, nearest: 2 });
    expect([v.at('a', 0), v.at('a', 1)]).toEqual(['c', 'd']);
    expect(v.at('a', 2)).toBe('b');
    expect(v.size()).toBe(5);
  });
  it('vivaldi order caches the nearest lists of the most recently used initiators, with the same orders', () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    let calls = 0;
    const distance = (x: string, y: string): number => {
      calls++;
      return Math.abs(ids.indexOf(x) - ids.indexOf(y));
    };
    const bounded = new VivaldiOrder(ids, { distance, nearest: 2, cacheSize: 2 });
    const unbounded = new VivaldiOrder(ids, { distance: (x, y) => Math.abs(ids.indexOf(x) - ids.indexOf(y)), nearest: 2 });
    const computes = (initiator: string): boolean => {
      const before = calls;
      expect(bounded.nearest(initiator)).toEqual(unbounded.nearest(initiator));
      return calls > before;
    };
    expect(computes('a')).toBe(true);
    expect(computes('b')).toBe(true);
    expect(computes('a')).toBe(false);
    expect(computes('c')).toBe(true); // forgets b, the least recently used
    expect(computes('a')).toBe(false);
    expect(computes('b')).toBe(true);
  });
});

describe('DVMS protocol', () => {
  it('solves an overload with a neighbour and dissolves the partition', () => {
    const h = new DvmsHarness({ hosts: 4, vmsPerHost: 2, seed: 1, jitterMs: 0 });
    // h0 hosts v0 and v4: 500 > 400; the other hosts have room for one of them.
    h.cluster.setLoad(0, 250, 0);
    h.cluster.setLoad(4, 250, 0);
    h.run(60_000);
    expect(h.cluster.overloaded(0)).toBe(false);
    expect(h.migrations).toBeGreaterThan(0);
    expect(h.solved.length).toBeGreaterThan(0);
    expect(h.agents.every((a) => a.partition === null)).toBe(true);
    expect(h.violations).toEqual([]);
  });

  it('probes its members once it has grown to its minimum size, and solves in a cluster smaller than that size', () => {
    const probes = (h: DvmsHarness): number => [...h.transitions].filter(([k]) => k.startsWith('probe:')).reduce((a, [, n]) => a + n, 0);
    const grown = new DvmsHarness({ hosts: 8, vmsPerHost: 2, seed: 1, jitterMs: 0, agent: { minPartitionSize: 6 } });
    grown.cluster.setLoad(0, 250, 0);
    grown.cluster.setLoad(8, 250, 0);
    grown.run(60_000);
    expect(grown.cluster.overloaded(0)).toBe(false);
    // One probe of the five other members, not one per hop on the way (1 + 2 + ... + 5).
    expect(probes(grown)).toBe(5);
    const small = new DvmsHarness({ hosts: 4, vmsPerHost: 2, seed: 1, jitterMs: 0, agent: { minPartitionSize: 16 } });
    small.cluster.setLoad(0, 250, 0);
    small.cluster.setLoad(4, 250, 0);
    small.run(60_000);
    expect(small.cluster.overloaded(0)).toBe(false);
    expect(small.unsolvable).toBe(0);
    expect(small.violations).toEqual([]);
  });

  it('releases the members its plan does not touch while the plan runs', () => {
    const h = new DvmsHarness({ hosts: 8, vmsPerHost: 2, seed: 1, jitterMs: 0, agent: { minPartitionSize: 6 } });
    // h0 hosts v0 and v8: 500 > 400; the partition grows to 6 nodes before it solves.
    h.cluster.setLoad(0, 250, 0);
    h.cluster.setLoad(8, 250, 0);
    const reserved = (): string[] => h.agents.filter((a) => a.partition !== null).map((a) => a.id);
    let largest = 0;
    for (let t = 1; h.inFlight.size === 0 && t < 10_000; t++) {
      h.run(t);
      largest = Math.max(largest, reserved().length);
    }
    expect(largest).toBe(6);
    const [vm] = [...h.inFlight.keys()];
    const leader = h.agents.find((a) => a.isLeader)?.id;
    // Only the leader, the migration's source and its destination are still held.
    expect(reserved().length).toBeLessThanOrEqual(3);
    expect(reserved()).toContain(leader);
    expect(reserved()).toContain(`h${h.cluster.vmHost[Number(vm?.slice(1))]}`);
    h.run(60_000);
    expect(h.cluster.overloaded(0)).toBe(false);
    expect(reserved()).toEqual([]);
    expect(h.violations).toEqual([]);
  });

  it('reports an event unsolvable after a full round when no capacity exists', () => {
    const h = new DvmsHarness({ hosts: 3, vmsPerHost: 4, seed: 2, jitterMs: 0 });
    for (let v = 0; v < 12; v++) h.cluster.setLoad(v, 100, 0);
    h.cluster.setLoad(0, 110, 0); // h0: 410 > 400, others full
    h.run(60_000);
    expect(h.unsolvable).toBeGreaterThan(0);
    // Retries are spaced by the unsolvable back-off (5 s by default).
    expect(h.unsolvable).toBeLessThanOrEqual(13);
    expect(h.migrations).toBe(0);
    expect(h.violations).toEqual([]);
  });

  it('never puts a node in two partitions nor moves a VM from two partitions, with random delays and a crashing leader', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 0, max: 200 }), fc.boolean(), (seed, jitter, ring) => {
        const h = new DvmsHarness({ hosts: 16, vmsPerHost: 6, seed, jitterMs: jitter, ring });
        h.injectLoads(50, 40_000);
        h.run(15_000);
        // Crash whichever node leads a partition now (or any node if none leads).
        const leader = h.agents.findIndex((a) => a.isLeader);
        h.crash(leader >= 0 ? leader : seed % 16);
        h.run(40_000);
        // Quiet period: leases expire, plans finish.
        h.run(70_000);
        expect(h.violations).toEqual([]);
        expect(h.orphans()).toEqual([]);
      }),
      { numRuns: 25, seed: 11 },
    );
  });

  it('merges stuck partitions into older ones under saturation without breaking exclusivity', () => {
    let merges = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 0, max: 80 }), (seed, jitter) => {
        const h = new DvmsHarness({ hosts: 12, vmsPerHost: 8, seed, jitterMs: jitter, ring: true });
        for (let v = 0; v < 96; v++) h.cluster.setLoad(v, 50, 0);
        h.injectLoads(20, 20_000);
        h.run(30_000);
        // Then the load falls: every partition must apply or give up and dissolve.
        for (let v = 0; v < 96; v++) h.cluster.setLoad(v, 10, h.queue.now / 1000);
        h.run(90_000);
        merges += h.merges;
        expect(h.violations).toEqual([]);
        expect(h.orphans()).toEqual([]);
      }),
      { numRuns: 10, seed: 3 },
    );
    expect(merges).toBeGreaterThan(0);
  });

  it('timeouts free the members of a partition whose leader vanished', () => {
    const h = new DvmsHarness({ hosts: 6, vmsPerHost: 4, seed: 5, jitterMs: 0, agent: { probeTimeoutMs: 500 } });
    for (let v = 0; v < 24; v++) h.cluster.setLoad(v, 50, 0); // 200 per host
    for (const v of [6, 12, 18]) h.cluster.setLoad(v, 100, 0);
    h.cluster.setLoad(0, 110, 0); // h0: 410 > 400, so h0 alone cannot solve it
    h.run(7); // h1 has joined and leads
    const leaderIdx = h.agents.findIndex((a) => a.partition !== null && a.isLeader);
    expect(leaderIdx).toBeGreaterThanOrEqual(0);
    h.crash(leaderIdx);
    h.run(30_000);
    expect(h.orphans()).toEqual([]);
    expect(h.violations).toEqual([]);
  });
});
