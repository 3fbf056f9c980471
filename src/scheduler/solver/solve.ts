/**
 * The partition scheduler: finds a viable configuration (capacities and every constraint) that
 * minimises the migration cost, then a reconfiguration plan to reach it.
 *
 * Search: the constraints' encodings name the VMs that must move; overloaded nodes evict their
 * cheapest VMs (cost per unit of relieved CPU); the evicted VMs are re-placed first on their own
 * node if possible, else on the allowed node with the most room (or the tightest fit), evicting
 * from a node when no node has room. Later attempts randomise the choices and keep the cheapest
 * viable result; the search stops at the lower bound (fractional knapsack of the overloads), after
 * `patience` attempts without improvement, or when the time or work budget is spent.
 */
import { checkerFor, type Constraint } from '../constraints/index.js';
import { SchedulerError } from '../errors.js';
import type { Model } from '../model.js';
import type { Plan } from '../plan.js';
import { seededRandom, type RandomSource } from '../random.js';
import { encode, type Encoded, type EncodingContext } from './encodings.js';
import { solveExact } from './exact.js';
import { planTo } from './planner.js';
import type { SolveResult } from './solve-result.js';
import { SolverState } from './state.js';

export const DEFAULT_TIME_BUDGET_MS = 1_000;
export const DEFAULT_WORK_BUDGET = 20_000_000;
export const DEFAULT_ATTEMPTS = 24;
export const DEFAULT_PATIENCE = 6;

export interface SolveOptions {
  /** Wall-time budget in ms, measured with `now` (default 1000 ms). */
  timeBudgetMs?: number;
  /** Deterministic budget in work units (placement checks); default 2e7. */
  workBudget?: number;
  /** Maximum attempts (the first is deterministic). */
  attempts?: number;
  /** Attempts without improvement before stopping. */
  patience?: number;
  /** `worst`: most remaining CPU first (spreads load); `best`: tightest fit (packs). */
  fit?: 'worst' | 'best';
  /**
   * Fraction of CPU capacity kept free on the nodes a plan relieves or fills (default 0). A soft
   * goal: plans are still checked against the full capacity.
   */
  headroom?: number;
  /** Migration cost of a VM (default: its memory). */
  cost?: (vm: string, model: Model) => number;
  rng?: RandomSource;
  /** Clock in ms (default performance.now). */
  now?: () => number;
  /**
   * When the search finds no plan for a problem of at most `maxNodes` nodes, the exact solver
   * (solver/exact.ts) decides within `timeLimitMs`, so that a feasible problem is never declared
   * unsolvable; `false` turns the fallback off.
   */
  exact?: { maxNodes?: number; timeLimitMs?: number } | false;
}

export const DEFAULT_EXACT_MAX_NODES = 32;
export const DEFAULT_EXACT_FALLBACK_MS = 250;

export type { SolveResult, SolveStatus } from './solve-result.js';

const memCost = (vm: string, model: Model): number => model.vms.get(vm)?.mem ?? 1;

export function solve(model: Model, constraints: readonly Constraint[] = [], options: SolveOptions = {}): SolveResult {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const timeBudget = options.timeBudgetMs ?? DEFAULT_TIME_BUDGET_MS;
  const workBudget = options.workBudget ?? DEFAULT_WORK_BUDGET;
  const maxAttempts = Math.max(1, options.attempts ?? DEFAULT_ATTEMPTS);
  const patience = options.patience ?? DEFAULT_PATIENCE;
  const fit = options.fit ?? 'worst';
  const costFn = options.cost ?? memCost;
  const rng = options.rng ?? seededRandom(1);
  if (!(timeBudget > 0)) throw SchedulerError.INVALID_OPTION('timeBudgetMs must be > 0');

  const headroom = options.headroom ?? 0;
  if (!(headroom >= 0 && headroom < 1)) throw SchedulerError.INVALID_OPTION('headroom must be in [0, 1)');
  const st = new SolverState(model, headroom);
  const encoded: Encoded[] = constraints.map((c) => encode(c, st));
  for (const e of encoded) e.setup?.(st);
  st.reset();
  const cost = Float64Array.from(st.vmIds, (id) => costFn(id, model));
  const lowerBound = lowerBoundOf(st, cost);
  const checkers = constraints.map((c) => checkerFor(c));

  let best: { cost: number; target: Int32Array; plan: Plan } | null = null;
  let attempts = 0;
  let sinceBest = 0;
  let budgetExhausted = false;
  for (; attempts < maxAttempts; ) {
    if (attempts > 0 && (now() - started > timeBudget || st.work > workBudget)) {
      budgetExhausted = true;
      break;
    }
    const ctx: EncodingContext = { rng, attempt: attempts };
    attempts++;
    const target = attempt(st, encoded, cost, ctx, fit, workBudget);
    if (target) {
      const c = costOf(st, target, cost);
      if (!best || c < best.cost - 1e-9) {
        const plan = planFor(st, target, model, constraints, checkers);
        if (plan) {
          best = { cost: c, target: Int32Array.from(target), plan };
          sinceBest = 0;
          if (c <= lowerBound + 1e-9) break;
          continue;
        }
      }
    }
    sinceBest++;
    if (best && sinceBest >= patience) break;
  }
  if (!best && options.exact !== false && model.nodes.size <= (options.exact?.maxNodes ?? DEFAULT_EXACT_MAX_NODES)) {
    const exact = solveExact(model, constraints, { timeLimitMs: options.exact?.timeLimitMs ?? DEFAULT_EXACT_FALLBACK_MS, cost: costFn, now });
    return { ...exact, attempts: attempts + exact.attempts, work: st.work + exact.work, solveMs: now() - started };
  }
  const solveMs = now() - started;
  if (!best) {
    return { status: budgetExhausted ? 'budget' : 'unsolvable', plan: null, target: null, cost: 0, lowerBound, migrations: 0, attempts, work: st.work, solveMs, budgetExhausted };
  }
  const targetMap = new Map<string, string>();
  best.target.forEach((n, v) => targetMap.set(st.vmIds[v] ?? '', st.nodeIds[n] ?? ''));
  const migrations = best.plan.actions.filter((a) => a.kind === 'migrate').length;
  return { status: 'solved', plan: best.plan, target: targetMap, cost: best.cost, lowerBound, migrations, attempts, work: st.work, solveMs, budgetExhausted };
}

function costOf(st: SolverState, target: Int32Array, cost: Float64Array): number {
  let c = 0;
  for (let v = 0; v < target.length; v++) {
    const s = st.source[v] ?? -1;
    if (s >= 0 && target[v] !== s) c += cost[v] ?? 0;
  }
  return c;
}

/** Per overloaded node, the cheapest fractional set of movable VMs whose removal fits it, and at least its cheapest VM. */
function lowerBoundOf(st: SolverState, cost: Float64Array): number {
  let lb = 0;
  for (let n = 0; n < st.nodeIds.length; n++) {
    if (st.usable[n] !== 1) continue;
    const bounds = [
      [st.usedCpu, st.capCpu, st.demCpu],
      [st.usedMem, st.capMem, st.demMem],
    ] as const;
    let nodeLb = 0;
    for (const [used, cap, dem] of bounds) {
      let excess = (used[n] ?? 0) - (cap[n] ?? 0);
      if (excess <= 1e-9) continue;
      const vms = [...(st.residents[n] ?? [])].filter((v) => st.pinned[v] !== 1 && (dem[v] ?? 0) > 0);
      vms.sort((a, b) => (cost[a] ?? 0) / (dem[a] ?? 1) - (cost[b] ?? 0) / (dem[b] ?? 1));
      let c = 0;
      // At least one whole VM leaves the node: the cheapest of them bounds the fraction from below.
      let cheapest = Infinity;
      for (const v of vms) cheapest = Math.min(cheapest, cost[v] ?? 0);
      for (const v of vms) {
        if (excess <= 0) break;
        const take = Math.min(1, excess / (dem[v] ?? 1));
        c += take * (cost[v] ?? 0);
        excess -= dem[v] ?? 0;
      }
      nodeLb = Math.max(nodeLb, c, vms.length > 0 ? cheapest : 0);
    }
    lb += nodeLb;
  }
  return lb;
}

function allowed(st: SolverState, encoded: readonly Encoded[], v: number, n: number): boolean {
  for (const e of encoded) if (e.allows && !e.allows(st, v, n)) return false;
  return true;
}

/** One greedy pass; returns the target placement or null. Leaves `st` modified (reset at start). */
function attempt(st: SolverState, encoded: readonly Encoded[], cost: Float64Array, ctx: EncodingContext, fit: 'worst' | 'best', workBudget: number): Int32Array | null {
  st.reset();
  const noise = (): number => (ctx.attempt === 0 ? 1 : 0.5 + ctx.rng.next());
  const queue: number[] = [];
  const queued = new Uint8Array(st.vmIds.length);
  const enqueue = (v: number): void => {
    if (queued[v] === 1) return;
    queued[v] = 1;
    queue.push(v);
  };
  for (let v = 0; v < st.vmIds.length; v++) if ((st.source[v] ?? -1) < 0) enqueue(v);
  for (const e of encoded) {
    if (!e.mustMove) continue;
    for (const v of e.mustMove(st, ctx)) {
      if (st.pinned[v] === 1) return null;
      st.unplace(v);
      enqueue(v);
    }
  }
  // Relieve overloaded (or unusable) nodes: evict the cheapest VMs per unit of relief.
  for (let n = 0; n < st.nodeIds.length; n++) {
    if (st.usable[n] !== 1) {
      for (const v of [...(st.residents[n] ?? [])]) {
        if (st.pinned[v] === 1) return null;
        st.unplace(v);
        enqueue(v);
      }
      continue;
    }
    if (!st.overloaded(n)) continue;
    const vms = [...(st.residents[n] ?? [])].filter((v) => st.pinned[v] !== 1);
    // Even attempts first try the cheapest single VM that relieves the node alone (the usual best plan: one migration).
    const single = ctx.attempt % 2 === 0 ? cheapestSingle(st, n, vms, cost) : -1;
    if (single >= 0) {
      st.unplace(single);
      enqueue(single);
      continue;
    }
    const key = (v: number): number => ((cost[v] ?? 0) / Math.max(1e-6, st.demCpu[v] ?? 0)) * noise();
    const keys = new Map(vms.map((v) => [v, key(v)] as const));
    vms.sort((a, b) => (keys.get(a) ?? 0) - (keys.get(b) ?? 0));
    const evicted: number[] = [];
    for (const v of vms) {
      if (!st.overTarget(n)) break;
      st.unplace(v);
      evicted.push(v);
    }
    if (st.overTarget(n)) return null;
    // Put back what is not needed, most expensive first.
    for (let i = evicted.length - 1; i >= 0; i--) {
      const v = evicted[i] ?? -1;
      if (st.fits(v, n)) st.place(v, n);
      else enqueue(v);
    }
  }
  // Place the queue, largest first; a VM that fits nowhere evicts smaller VMs from one node.
  const locked = new Uint8Array(st.vmIds.length);
  const maxSteps = 4 * st.vmIds.length + 16;
  for (let step = 0; step < maxSteps && queue.length > 0; step++) {
    if (st.work > workBudget) return null;
    queue.sort((a, b) => (st.demCpu[a] ?? 0) - (st.demCpu[b] ?? 0));
    const v = queue.pop() ?? -1;
    queued[v] = 0;
    const src = st.source[v] ?? -1;
    if (src >= 0 && st.host[v] !== src && st.fits(v, src) && allowed(st, encoded, v, src) && ctx.attempt === 0) {
      st.place(v, src);
      continue;
    }
    let bestNode = -1;
    let bestScore = Infinity;
    for (let n = 0; n < st.nodeIds.length; n++) {
      if (!st.fits(v, n) || !allowed(st, encoded, v, n)) continue;
      const free = (st.targetCpu[n] ?? 0) - (st.usedCpu[n] ?? 0) - (st.demCpu[v] ?? 0);
      const score = (fit === 'worst' ? -free : free) * noise() + (n === src ? -1e-6 : 0);
      if (score < bestScore) [bestNode, bestScore] = [n, score];
    }
    if (bestNode >= 0) {
      st.place(v, bestNode);
      continue;
    }
    const victimNode = evictFor(st, encoded, v, locked, ctx);
    if (victimNode < 0) return null;
    for (const o of [...(st.residents[victimNode] ?? [])]) {
      if (st.fits(v, victimNode)) break;
      if (locked[o] === 1 || st.pinned[o] === 1 || (st.demCpu[o] ?? 0) > (st.demCpu[v] ?? 0)) continue;
      st.unplace(o);
      enqueue(o);
    }
    if (!st.fits(v, victimNode)) return null;
    st.place(v, victimNode);
    locked[v] = 1;
  }
  if (queue.length > 0) return null;
  return Int32Array.from(st.host);
}

/**
 * The cheapest VM whose removal alone brings node n within its target, or −1. Among equals, the
 * one that leaves the pair the most room: the larger of min(room left on n, room left on the
 * emptiest other node once it took the VM), so that neither is left at the edge of its capacity.
 */
function cheapestSingle(st: SolverState, n: number, vms: readonly number[], cost: Float64Array): number {
  const cpuExcess = (st.usedCpu[n] ?? 0) - (st.targetCpu[n] ?? 0);
  const memExcess = (st.usedMem[n] ?? 0) - (st.capMem[n] ?? 0);
  let roomiest = -Infinity;
  for (let o = 0; o < st.nodeIds.length; o++) if (o !== n && st.usable[o] === 1) roomiest = Math.max(roomiest, (st.targetCpu[o] ?? 0) - (st.usedCpu[o] ?? 0));
  const balance = (v: number): number => Math.min((st.demCpu[v] ?? 0) - cpuExcess, roomiest - (st.demCpu[v] ?? 0));
  let best = -1;
  for (const v of vms) {
    if ((st.demCpu[v] ?? 0) + 1e-9 < cpuExcess || (st.demMem[v] ?? 0) + 1e-9 < memExcess) continue;
    const c = cost[v] ?? 0;
    const b = cost[best] ?? 0;
    if (best < 0 || c < b - 1e-9 || (c <= b + 1e-9 && balance(v) > balance(best) + 1e-9)) best = v;
  }
  return best;
}

/** A node where evicting unlocked VMs smaller than v makes room for it. */
function evictFor(st: SolverState, encoded: readonly Encoded[], v: number, locked: Uint8Array, ctx: EncodingContext): number {
  let best = -1;
  let bestSlack = -Infinity;
  for (let n = 0; n < st.nodeIds.length; n++) {
    if (st.usable[n] !== 1 || !allowed(st, encoded, v, n)) continue;
    let freeable = 0;
    for (const o of st.residents[n] ?? []) {
      if (locked[o] !== 1 && st.pinned[o] !== 1 && (st.demCpu[o] ?? 0) <= (st.demCpu[v] ?? 0)) freeable += st.demCpu[o] ?? 0;
    }
    const slack = (st.targetCpu[n] ?? 0) - (st.usedCpu[n] ?? 0) + freeable - (st.demCpu[v] ?? 0);
    const memOk = (st.capMem[n] ?? 0) - (st.usedMem[n] ?? 0) - (st.demMem[v] ?? 0) >= -1e-9;
    if (slack < -1e-9 || !memOk) continue;
    const score = slack * (ctx.attempt === 0 ? 1 : 0.5 + ctx.rng.next());
    if (score > bestSlack) [best, bestSlack] = [n, score];
  }
  return best;
}

function planFor(st: SolverState, target: Int32Array, model: Model, constraints: readonly Constraint[], checkers: ReturnType<typeof checkerFor>[]): Plan | null {
  const host = new Map<string, string>();
  for (let v = 0; v < target.length; v++) {
    const n = target[v] ?? -1;
    if (n < 0) return null;
    host.set(st.vmIds[v] ?? '', st.nodeIds[n] ?? '');
  }
  const boot = st.nodeIds.filter((_, n) => st.boot[n] === 1);
  const shutdown = st.nodeIds.filter((_, n) => st.shutdown[n] === 1);
  return planTo(model, { host, boot, shutdown }, constraints, checkers);
}
