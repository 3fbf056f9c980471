/**
 * Entropy as VMPlaceS runs it (scheduling/centralized/entropy2/Entropy2RP.java): one central
 * manager, repair mode (only the VMs of overloaded hosts may move), an exact solver that minimises
 * the reconfiguration cost under a time limit of min(30 s, hosts / 8 s), its real solve time
 * charged to the clock. The exact solver here is the 0-1 program on HiGHS (solver/exact.ts); each
 * overloaded host is offered four destinations of its own among the hosts with the most free CPU,
 * which keeps the program within what HiGHS solves at 10,000 hosts (a reduction of ours).
 */
import type { Model, NodeSpec, VmSpec } from '../model.js';
import { solveExact } from '../solver/exact.js';
import type { SolveResult } from '../solver/solve-result.js';
import type { SimContext } from './context.js';
import { managerHost } from './managers.js';
import { runManager } from './manager-loop.js';

export const ENTROPY_MAX_TIME_LIMIT_S = 30;
export const ENTROPY_HOSTS_PER_SECOND = 8;
const DESTINATIONS_PER_NODE = 4;
const MIN_DESTINATIONS = 16;

/** Entropy's time limit for an infrastructure of `hosts` hosts, ms. */
export function entropyTimeLimitMs(hosts: number): number {
  return Math.max(1, Math.min(ENTROPY_MAX_TIME_LIMIT_S, Math.floor(hosts / ENTROPY_HOSTS_PER_SECOND))) * 1000;
}

export interface RepairProblem {
  readonly model: Model;
  /** Destinations offered to the VMs of each overloaded node (a VM to start may go anywhere in the model). */
  candidates(vm: string): readonly string[] | null;
}

/**
 * The overloaded nodes with their VMs, and the emptiest other nodes: each overloaded node is
 * offered its own `DESTINATIONS_PER_NODE` of them (dealt in turn from the emptiest), so the program
 * has a few columns per movable VM whatever the size of the infrastructure.
 */
export function repairProblem(model: Model, overloaded: readonly string[]): RepairProblem {
  const used = new Map<string, number>();
  const residents = new Map<string, string[]>();
  for (const [vm, node] of model.host) {
    used.set(node, (used.get(node) ?? 0) + (model.vms.get(vm)?.cpu ?? 0));
    const list = residents.get(node);
    if (list) list.push(vm);
    else residents.set(node, [vm]);
  }
  const over = [...new Set(overloaded.filter((n) => model.nodes.has(n)))];
  const overSet = new Set(over);
  const free = (n: NodeSpec): number => n.cpu - (used.get(n.id) ?? 0);
  const others = [...model.nodes.values()].filter((n) => !overSet.has(n.id)).sort((a, b) => free(b) - free(a));
  const offered = others.slice(0, Math.max(MIN_DESTINATIONS, DESTINATIONS_PER_NODE * (over.length + (model.ready.size > 0 ? 1 : 0)))).map((n) => n.id);
  const destinationsOf = new Map<string, string[]>();
  over.forEach((node, i) => {
    const mine = Array.from({ length: Math.min(DESTINATIONS_PER_NODE, offered.length) }, (_, j) => offered[(i * DESTINATIONS_PER_NODE + j) % offered.length] as string);
    destinationsOf.set(node, mine);
  });
  const chosen = [...over, ...offered];
  const nodes = new Map(chosen.map((id) => [id, model.nodes.get(id) as NodeSpec] as const));
  const vms = new Map<string, VmSpec>();
  const host = new Map<string, string>();
  for (const id of chosen) {
    for (const vm of residents.get(id) ?? []) {
      vms.set(vm, model.vms.get(vm) as VmSpec);
      host.set(vm, id);
    }
  }
  for (const vm of model.ready) vms.set(vm, model.vms.get(vm) as VmSpec);
  return {
    model: { nodes, vms, host, ready: new Set(model.ready), offline: new Set() },
    candidates: (vm) => destinationsOf.get(host.get(vm) ?? '') ?? null,
  };
}

/** Entropy's exact solver in repair mode on the reduced problem. */
export function solveRepair(model: Model, overloaded: readonly string[], timeLimitMs: number, now: () => number): SolveResult {
  const problem = repairProblem(model, overloaded);
  return solveExact(problem.model, [], { timeLimitMs, repairOnly: true, now, candidates: problem.candidates });
}

export function runEntropy(ctx: SimContext): void {
  const { options, topology, env } = ctx;
  const hosts = Array.from({ length: options.hosts }, (_, h) => h);
  const timeLimitMs = entropyTimeLimitMs(options.hosts);
  runManager(ctx, {
    at: managerHost(topology, hosts, options.managerSite),
    hosts,
    periodMs: options.entropyPeriodS * 1000,
    owns: () => true,
    solve: (model, overloaded) => solveRepair(model, overloaded, timeLimitMs, () => env.wallNow()),
  });
}
