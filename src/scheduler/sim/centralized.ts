/**
 * The centralized heuristic baseline: one manager over every host, as Entropy's loop, but with
 * this project's greedy search (solver/solve.ts) over the whole infrastructure instead of an exact
 * solver; reports, network and plan application as for every manager (manager-loop.ts).
 */
import type { RandomSource } from '../random.js';
import { solve } from '../solver/solve.js';
import type { SimContext } from './context.js';
import { managerHost } from './managers.js';
import { runManager } from './manager-loop.js';

export function runCentralized(ctx: SimContext, rng: RandomSource): void {
  const { options, topology, env } = ctx;
  const hosts = Array.from({ length: options.hosts }, (_, h) => h);
  runManager(ctx, {
    at: managerHost(topology, hosts, options.managerSite),
    hosts,
    periodMs: options.centralPeriodS * 1000,
    owns: () => true,
    solve: (model) => solve(model, [], { timeBudgetMs: options.centralBudgetMs, headroom: options.headroom, rng, now: () => env.wallNow(), exact: false }),
  });
}
