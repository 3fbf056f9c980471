/**
 * Centralized baseline, as Entropy: one solver over every alive host and VM, run every period, or
 * as soon as the previous run's plan has been applied when that took longer. The wall time spent
 * building the model and solving is charged to the simulated clock before the plan is applied
 * (by the plan execution DVMS partitions use, on the simulator's actuator).
 */
import type { Model, NodeSpec, VmSpec } from '../model.js';
import { applyPlan, toWire } from '../protocol/plan-execution.js';
import type { RandomSource } from '../random.js';
import { solve } from '../solver/solve.js';
import type { SimContext } from './context.js';

export function runCentralized(ctx: SimContext, rng: RandomSource): void {
  const { options, queue, cluster, env, actuator, stats, lost } = ctx;
  const periodMs = options.centralPeriodS * 1000;

  const problem = (): boolean => {
    if (lost.size > 0) return true;
    for (let h = 0; h < cluster.hosts; h++) if (cluster.alive[h] === 1 && cluster.overloaded(h)) return true;
    return false;
  };

  const iterate = (): void => {
    const started = queue.now;
    const next = (): void => {
      queue.at(Math.max(queue.now, started + periodMs), iterate);
    };
    if (!problem()) {
      next();
      return;
    }
    const t0 = env.wallNow();
    const nodes = new Map<string, NodeSpec>();
    const vms = new Map<string, VmSpec>();
    const host = new Map<string, string>();
    for (let h = 0; h < cluster.hosts; h++) {
      if (cluster.alive[h] !== 1) continue;
      const id = `h${h}`;
      nodes.set(id, { id, cpu: options.hostCpu, mem: options.hostMem });
      for (const v of cluster.hostVms[h] ?? []) {
        vms.set(`v${v}`, { id: `v${v}`, cpu: cluster.vmCpu[v] ?? 0, mem: cluster.vmMem[v] ?? 0 });
        host.set(`v${v}`, id);
      }
    }
    const ready = new Set<string>();
    for (const v of lost) {
      vms.set(`v${v}`, { id: `v${v}`, cpu: cluster.vmCpu[v] ?? 0, mem: cluster.vmMem[v] ?? 0 });
      ready.add(`v${v}`);
    }
    const model: Model = { nodes, vms, host, ready, offline: new Set() };
    const result = solve(model, [], { timeBudgetMs: options.centralBudgetMs, headroom: options.headroom, rng, now: () => env.wallNow() });
    const wallMs = env.wallNow() - t0;
    const charged = env.computeDelay(wallMs, result.work);
    stats.events++;
    stats.solveMs.push(charged);
    stats.partitionSizes.push(nodes.size);
    queue.after(charged, () => {
      if (result.status !== 'solved' || !result.plan) {
        stats.unsolvable++;
        next();
        return;
      }
      applyPlan(actuator, result.plan.actions.map((a) => toWire(a, vms)), () => next());
    });
  };
  queue.after(0, iterate);
}
