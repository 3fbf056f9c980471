import { describe, expect, it } from 'vitest';
import { createModel } from '../../src/scheduler/model.js';
import { MigrateVm } from '../../src/scheduler/plan.js';
import { seededRandom } from '../../src/scheduler/random.js';
import { entropyTimeLimitMs, repairProblem, solveRepair } from '../../src/scheduler/sim/entropy.js';
import { hostGroups, managerHost } from '../../src/scheduler/sim/managers.js';
import { matrixTopology, parseRttCsv } from '../../src/scheduler/sim/topology.js';

/** The baselines' managers: Entropy's time limit and repair problem, where managers sit, Snooze's groups. */

const MATRIX = parseRttCsv(['site,A,B,C', 'A,1,20,200', 'B,20,1,190', 'C,200,190,1'].join('\n'));

describe("the baselines' managers", () => {
  it("gives Entropy VMPlaceS's time limit: min(30 s, hosts / 8 s), at least 1 s", () => {
    expect(entropyTimeLimitMs(4)).toBe(1000);
    expect(entropyTimeLimitMs(128)).toBe(16_000);
    expect(entropyTimeLimitMs(1024)).toBe(30_000);
    expect(entropyTimeLimitMs(10_240)).toBe(30_000);
  });

  it("moves only the overloaded hosts' VMs in repair mode, each host offered destinations of its own among the emptiest", () => {
    const nodes = Array.from({ length: 40 }, (_, i) => ({ id: `n${i}`, cpu: 400, mem: 8192 }));
    const vms = Array.from({ length: 80 }, (_, i) => ({ id: `v${i}`, cpu: i < 6 ? 150 : 10 * (i % 20), mem: 1024 }));
    const host = Object.fromEntries(vms.map((v, i) => [v.id, i < 6 ? `n${i % 2}` : `n${2 + (i % 38)}`]));
    const model = createModel({ nodes, vms, host });
    const problem = repairProblem(model, ['n0', 'n1']);
    // Two overloaded hosts and the 16 emptiest others, not the 40 hosts.
    expect(problem.model.nodes.size).toBe(18);
    expect(problem.candidates('v0')).toHaveLength(4);
    expect(problem.candidates('v0')).not.toEqual(problem.candidates('v1'));
    expect(problem.candidates('v10')).toBeNull();
    const r = solveRepair(model, ['n0', 'n1'], 5_000, () => performance.now());
    expect(r.status).toBe('solved');
    const moves = (r.plan?.actions ?? []).filter((a): a is MigrateVm => a instanceof MigrateVm);
    expect(moves.length).toBeGreaterThan(0);
    expect(moves.every((m) => ['n0', 'n1'].includes(m.from) && problem.candidates(m.vm)?.includes(m.to))).toBe(true);
  });

  it('puts the central manager at the site nearest every host, and groups hosts of the same sites under a manager among them', () => {
    const topology = matrixTopology(60, MATRIX, seededRandom(4));
    const hosts = Array.from({ length: 60 }, (_, h) => h);
    const site = (h: number) => MATRIX.ids[topology.siteOf[h] ?? 0];
    // B is 20 ms from A and 190 from C: the least total latency to hosts spread over the three.
    expect(site(managerHost(topology, hosts))).toBe('B');
    expect(site(managerHost(topology, hosts, 'C'))).toBe('C');
    const groups = hostGroups(topology, 60, 10);
    expect(groups).toHaveLength(6);
    expect(groups.flatMap((g) => g.hosts).sort((a, b) => a - b)).toEqual(hosts);
    for (const g of groups) {
      // Hosts sorted by site: a group spans at most two neighbouring sites, and its manager is one of its hosts.
      expect(new Set(g.hosts.map(site)).size).toBeLessThanOrEqual(2);
      expect(g.hosts).toContain(g.manager);
    }
  });
});
