/**
 * Entropy as VMPlaceS runs it (scheduling/centralized/entropy2/Entropy2RP.java): one central
 * manager, repair mode (only the VMs of overloaded hosts may move), an exact solver that minimises
 * the reconfiguration cost under a time limit of min(30 s, hosts / 8 s), its real solve time
 * charged to the clock. The exact solver here is the 0-1 program on HiGHS (solver/exact.ts); the
 * destinations offered to it are the hosts with the most free CPU, two per overloaded host or VM to
 * start (at least 16), which keeps the program within what HiGHS solves at 10,000 hosts.
 */
import type { Model, NodeSpec, VmSpec } from '../model.js';
import { solveExact } from '../solver/exact.js';
import type { SimContext } from './context.js';
import { managerHost } from './managers.js';
import { runManager } from './manager-loop.js';

export const ENTROPY_MAX_TIME_LIMIT_S = 30;
export const ENTROPY_HOSTS_PER_SECOND = 8;
const DESTINATIONS_PER_PROBLEM = 2;
const MIN_DESTINATIONS = 16;

/** Entropy's time limit for an infrastructure of `hosts` hosts, ms. */
export function entropyTimeLimitMs(hosts: number): number {
  return Math.max(1, Math.min(ENTROPY_MAX_TIME_LIMIT_S, Math.floor(hosts / ENTROPY_HOSTS_PER_SECOND))) * 1000;
}

/** The overloaded nodes and the emptiest others, with their VMs and the VMs to start. */
export function repairModel(model: Model, overloaded: readonly string[]): Model {
  const used = new Map<string, number>();
  const residents = new Map<string, string[]>();
  for (const [vm, node] of model.host) {
    used.set(node, (used.get(node) ?? 0) + (model.vms.get(vm)?.cpu ?? 0));
    const list = residents.get(node);
    if (list) list.push(vm);
    else residents.set(node, [vm]);
  }
  const over = new Set(overloaded.filter((n) => model.nodes.has(n)));
  const free = (n: NodeSpec): number => n.cpu - (used.get(n.id) ?? 0);
  const others = [...model.nodes.values()].filter((n) => !over.has(n.id)).sort((a, b) => free(b) - free(a));
  const chosen = [...over, ...others.slice(0, Math.max(MIN_DESTINATIONS, DESTINATIONS_PER_PROBLEM * (over.size + model.ready.size))).map((n) => n.id)];
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
  return { nodes, vms, host, ready: new Set(model.ready), offline: new Set() };
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
    solve: (model, overloaded) => solveExact(repairModel(model, overloaded), [], { timeLimitMs, repairOnly: true, now: () => env.wallNow() }),
  });
}
