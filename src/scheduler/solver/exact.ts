/**
 * The exact solver: the reconfiguration problem as a 0-1 program (HiGHS) that minimises the memory
 * moved, within a time limit. It first tries Entropy's repair mode (only the VMs of overloaded
 * nodes, the VMs to start and those a constraint expels may move), then, when that has no
 * solution, every VM. The best target found is checked against every constraint and ordered into
 * a plan, as the heuristic's are.
 */
import { checkerFor, type Constraint } from '../constraints/index.js';
import type { Model } from '../model.js';
import type { Plan } from '../plan.js';
import { ExactProblem } from './exact-problem.js';
import { encodeMilp } from './milp-encodings.js';
import { planTo } from './planner.js';
import type { SolveResult } from './solve-result.js';

export const DEFAULT_EXACT_TIME_LIMIT_MS = 1_000;
/** Work units charged per column and row of a program (the deterministic solve-time model). */
const WORK_PER_ENTRY = 100;

export interface ExactOptions {
  timeLimitMs?: number;
  /** Migration cost of a VM (default: its memory). */
  cost?: (vm: string, model: Model) => number;
  /** Clock in ms (default performance.now). */
  now?: () => number;
  /** Stop after the repair pass (Entropy's repair mode alone): VMs of nodes that are not overloaded never move. */
  repairOnly?: boolean;
  /** The nodes a movable VM may go to besides its own (default: every node). */
  candidates?: (vm: string) => readonly string[] | null;
}

const memoryCost = (vm: string, m: Model): number => m.vms.get(vm)?.mem ?? 1;

/** Targets the planner could not order are cut off and the program solved again, at most this many times. */
const MAX_CUTS = 3;

interface Pass {
  readonly problem: ExactProblem;
  readonly status: 'optimal' | 'feasible' | 'infeasible' | 'timeout';
  readonly target: Int32Array | null;
  readonly plan: Plan | null;
  readonly work: number;
}

function runPass(model: Model, constraints: readonly Constraint[], checkers: ReturnType<typeof checkerFor>[], options: ExactOptions, repair: boolean, deadline: () => number): Pass {
  const cost = options.cost ?? memoryCost;
  const problem = new ExactProblem(model);
  const encoded = constraints.map((c) => encodeMilp(c, problem));
  for (const e of encoded) e.setup?.(problem);
  const costs = Float64Array.from(problem.vmIds, (id) => cost(id, model));
  const overloaded = overloadedSources(problem);
  const candidates = options.candidates;
  problem.build(
    costs,
    (v) => !repair || overloaded[problem.source[v] ?? -1] === 1,
    candidates ? (v) => { const ids = candidates(problem.vmIds[v] ?? ''); return ids ? problem.nodesOf(ids) : null; } : undefined,
  );
  for (const e of encoded) e.rows?.(problem);
  let work = 0;
  for (let cut = 0; ; cut++) {
    const { columns, rows } = problem.program.size;
    work += (columns + rows) * WORK_PER_ENTRY;
    const left = deadline();
    const result = left > 0 ? problem.program.solve(left) : { status: 'timeout' as const, values: null };
    const target = result.values ? problem.target(result.values) : null;
    const plan = target ? planOf(problem, target, model, constraints, checkers) : null;
    if (plan || !result.values || cut >= MAX_CUTS) return { problem, status: result.status, target, plan, work };
    // No order reaches this target (a cycle without a pivot node with room): exclude it and solve again.
    problem.exclude(result.values);
  }
}

/** The VMs need more CPU or memory than every node that may stay on offers: no program needed to tell. */
function shortOfCapacity(model: Model): boolean {
  let cpu = 0;
  let mem = 0;
  for (const [id, spec] of model.nodes) {
    if (model.offline.has(id)) continue;
    cpu -= spec.cpu;
    mem -= spec.mem;
  }
  for (const id of [...model.host.keys(), ...model.ready]) {
    cpu += model.vms.get(id)?.cpu ?? 0;
    mem += model.vms.get(id)?.mem ?? 0;
  }
  return cpu > 1e-9 || mem > 1e-9;
}

/** 1 for each node whose VMs use more than its capacity. */
function overloadedSources(p: ExactProblem): Uint8Array {
  const cpu = new Float64Array(p.nodeIds.length);
  const mem = new Float64Array(p.nodeIds.length);
  p.source.forEach((s, v) => {
    if (s < 0) return;
    cpu[s] = (cpu[s] ?? 0) + (p.demCpu[v] ?? 0);
    mem[s] = (mem[s] ?? 0) + (p.demMem[v] ?? 0);
  });
  return Uint8Array.from(p.nodeIds, (_, n) => ((cpu[n] ?? 0) > (p.capCpu[n] ?? 0) + 1e-9 || (mem[n] ?? 0) > (p.capMem[n] ?? 0) + 1e-9 || p.usable[n] !== 1 ? 1 : 0));
}

function planOf(problem: ExactProblem, target: Int32Array, model: Model, constraints: readonly Constraint[], checkers: ReturnType<typeof checkerFor>[]): Plan | null {
  if (target.some((n) => n < 0)) return null;
  const host = new Map<string, string>();
  target.forEach((n, v) => host.set(problem.vmIds[v] ?? '', problem.nodeIds[n] ?? ''));
  const boot = problem.nodeIds.filter((_, n) => problem.boot[n] === 1);
  const shutdown = problem.nodeIds.filter((_, n) => problem.shutdown[n] === 1);
  return planTo(model, { host, boot, shutdown }, constraints, checkers);
}

export function solveExact(model: Model, constraints: readonly Constraint[] = [], options: ExactOptions = {}): SolveResult {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const limit = options.timeLimitMs ?? DEFAULT_EXACT_TIME_LIMIT_MS;
  const cost = options.cost ?? memoryCost;
  const checkers = constraints.map((c) => checkerFor(c));
  let work = 0;
  let attempts = 0;
  let budgetExhausted = false;
  let found: { pass: Pass; plan: Plan } | null = null;
  if (shortOfCapacity(model)) {
    return { status: 'unsolvable', plan: null, target: null, cost: 0, lowerBound: 0, migrations: 0, attempts: 0, work: 0, solveMs: now() - started, budgetExhausted: false };
  }
  const deadline = (): number => limit - (now() - started);
  for (const repair of options.repairOnly ? [true] : [true, false]) {
    if (deadline() <= 0) {
      budgetExhausted = true;
      break;
    }
    const pass = runPass(model, constraints, checkers, options, repair, deadline);
    attempts++;
    work += pass.work;
    if (pass.status === 'timeout') budgetExhausted = true;
    if (pass.plan) {
      found = { pass, plan: pass.plan };
      break;
    }
    // A repair pass without a plan calls for the full one, unless its time ran out.
    if (pass.status === 'timeout') break;
  }
  const solveMs = now() - started;
  if (!found) {
    return { status: budgetExhausted ? 'budget' : 'unsolvable', plan: null, target: null, cost: 0, lowerBound: 0, migrations: 0, attempts, work, solveMs, budgetExhausted };
  }
  const { pass, plan } = found;
  const target = new Map<string, string>();
  let moved = 0;
  pass.target?.forEach((n, v) => {
    const vm = pass.problem.vmIds[v] ?? '';
    target.set(vm, pass.problem.nodeIds[n] ?? '');
    const s = pass.problem.source[v] ?? -1;
    if (s >= 0 && s !== n) moved += cost(vm, model);
  });
  const migrations = plan.actions.filter((a) => a.kind === 'migrate').length;
  // An optimal full pass proves its cost is the least; a repair pass or a timed-out one does not.
  const lowerBound = pass.status === 'optimal' && attempts === 2 ? moved : 0;
  return { status: 'solved', plan, target, cost: moved, lowerBound, migrations, attempts, work, solveMs, budgetExhausted: pass.status === 'feasible' };
}
