/**
 * Orders the moves from a source to a target configuration into a plan: a move runs once its
 * destination has room and it breaks no continuous constraint that holds; when no move can run
 * (a cycle), one VM goes through a pivot node. Every intermediate configuration is viable on
 * the nodes that receive VMs.
 */
import { checkerFor, type Constraint } from '../constraints/index.js';
import { cloneModel, usage, type Model } from '../model.js';
import { applyAction, BootNode, MigrateVm, ShutdownNode, StartVm, type Action, type Plan } from '../plan.js';

export interface Move {
  readonly vm: string;
  /** null for a VM to start. */
  from: string | null;
  readonly to: string;
}

export interface PlanRequest {
  readonly source: Model;
  readonly moves: readonly Move[];
  readonly boot: readonly string[];
  readonly shutdown: readonly string[];
  readonly constraints: readonly Constraint[];
}

/** Returns null when no order (with pivots) keeps every step viable. */
export function buildPlan(req: PlanRequest): Plan | null {
  const model = cloneModel(req.source);
  const actions: Action[] = [];
  const checkers = req.constraints.map((c) => checkerFor(c));
  const continuous = checkers.filter((k) => k.constraint.continuous);
  const hooked = checkers;
  const cpu = usage(model, 'cpu');
  const mem = usage(model, 'mem');

  const push = (a: Action): void => {
    applyAction(model, a);
    actions.push(a);
  };
  for (const n of req.boot) push(new BootNode(n));

  const room = (vm: string, to: string): boolean => {
    const spec = model.vms.get(vm);
    const node = model.nodes.get(to);
    if (!spec || !node || model.offline.has(to)) return false;
    return (cpu.get(to) ?? 0) + spec.cpu <= node.cpu + 1e-9 && (mem.get(to) ?? 0) + spec.mem <= node.mem + 1e-9;
  };
  /** Applies the action when allowed and safe for continuous constraints; else leaves the model unchanged. */
  const tryApply = (a: MigrateVm | StartVm): boolean => {
    for (const k of hooked) if ((a.kind === 'migrate' ? k.onMigrate(model, a) : k.onStart(model, a)) !== null) return false;
    const before = continuous.map((k) => k.state(model) === null);
    const prev = a.kind === 'migrate' ? a.from : null;
    if (a.kind === 'migrate') model.host.set(a.vm, a.to);
    else {
      model.ready.delete(a.vm);
      model.host.set(a.vm, a.host);
    }
    const broken = continuous.some((k, i) => before[i] && k.state(model) !== null);
    if (a.kind === 'migrate') model.host.set(a.vm, prev ?? a.from);
    else {
      model.host.delete(a.vm);
      model.ready.add(a.vm);
    }
    if (broken) return false;
    push(a);
    const spec = model.vms.get(a.vm);
    const to = a.kind === 'migrate' ? a.to : a.host;
    if (spec) {
      if (a.kind === 'migrate') {
        cpu.set(a.from, (cpu.get(a.from) ?? 0) - spec.cpu);
        mem.set(a.from, (mem.get(a.from) ?? 0) - spec.mem);
      }
      cpu.set(to, (cpu.get(to) ?? 0) + spec.cpu);
      mem.set(to, (mem.get(to) ?? 0) + spec.mem);
    }
    return true;
  };

  let pending = req.moves.map((m) => ({ ...m }));
  const destinations = new Set(pending.map((m) => m.to));
  const maxRounds = 2 * pending.length + 8;
  let pivots = 0;
  for (let round = 0; round < maxRounds && pending.length > 0; round++) {
    const left: Move[] = [];
    for (const m of pending) {
      const done = room(m.vm, m.to) && tryApply(m.from === null ? new StartVm(m.vm, m.to) : new MigrateVm(m.vm, m.from, m.to));
      if (!done) left.push(m);
    }
    if (left.length < pending.length) {
      pending = left;
      continue;
    }
    // Deadlock or cycle: send one VM through a pivot node with room, preferring nodes no move targets.
    if (pivots >= req.moves.length) return null;
    let moved = false;
    const nodes = [...model.nodes.keys()].sort((a, b) => Number(destinations.has(a)) - Number(destinations.has(b)));
    for (const m of left) {
      if (m.from === null) continue;
      for (const p of nodes) {
        if (p === m.from || p === m.to || !room(m.vm, p)) continue;
        if (tryApply(new MigrateVm(m.vm, m.from, p))) {
          m.from = p;
          moved = true;
          break;
        }
      }
      if (moved) break;
    }
    if (!moved) return null;
    pivots++;
  }
  if (pending.length > 0) return null;
  for (const n of req.shutdown) {
    if (model.offline.has(n)) continue;
    for (const h of model.host.values()) if (h === n) return null;
    push(new ShutdownNode(n));
  }
  return { actions };
}

/** The final node of every VM to place or keep, and the nodes to boot and shut down. */
export interface TargetConfiguration {
  readonly host: ReadonlyMap<string, string>;
  readonly boot: readonly string[];
  readonly shutdown: readonly string[];
}

/** Checks a target configuration against every constraint, then orders the moves that reach it (null if either fails). */
export function planTo(source: Model, target: TargetConfiguration, constraints: readonly Constraint[], checkers = constraints.map((c) => checkerFor(c))): Plan | null {
  const final: Model = { nodes: source.nodes, vms: source.vms, offline: new Set(source.offline), host: new Map(target.host), ready: new Set() };
  for (const n of target.boot) final.offline.delete(n);
  for (const n of target.shutdown) final.offline.add(n);
  for (const k of checkers) if (k.state(final) !== null) return null;
  const moves: Move[] = [];
  for (const [vm, to] of target.host) {
    const from = source.host.get(vm) ?? null;
    if (from !== to) moves.push({ vm, from, to });
  }
  return buildPlan({ source, moves, boot: target.boot, shutdown: target.shutdown, constraints });
}
