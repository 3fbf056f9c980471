/**
 * Plain-data model of an infrastructure, in btrPlace's terms: nodes with a capacity, VMs with a
 * demand, and a mapping (online/offline nodes, running and ready VMs). Nothing here knows the solver.
 */
import { SchedulerError } from './errors.js';

export type Resource = 'cpu' | 'mem';
export const RESOURCES: readonly Resource[] = ['cpu', 'mem'];

/** A physical node; `cpu` in % of a core (100 = one core), `mem` in MiB. */
export interface NodeSpec {
  readonly id: string;
  readonly cpu: number;
  readonly mem: number;
}

/** Placement rules a VM carries; placement.ts turns them into the constraints of a partition's model. */
export interface VmPlacement {
  /** Node ids the VM must never run on. */
  readonly ban?: readonly string[];
  /** Node ids the VM may only run on. */
  readonly fence?: readonly string[];
  /** Group names: VMs sharing one never share a node. */
  readonly spread?: readonly string[];
  /** Group names: VMs sharing one run on one node. */
  readonly gather?: readonly string[];
  /** VMs of the group stay on nodes pairwise within maxRttMs. */
  readonly latency?: readonly { group: string; maxRttMs: number }[];
}

/** A VM's current demand, same units as NodeSpec, and the placement rules it carries. */
export interface VmSpec {
  readonly id: string;
  readonly cpu: number;
  readonly mem: number;
  readonly placement?: VmPlacement;
}

export interface Model {
  readonly nodes: Map<string, NodeSpec>;
  readonly vms: Map<string, VmSpec>;
  /** Nodes that are switched off; every other node is online. */
  readonly offline: Set<string>;
  /** Running VM → hosting node. */
  readonly host: Map<string, string>;
  /** VMs waiting to be started (admission); not running anywhere. */
  readonly ready: Set<string>;
}

export interface ModelInit {
  nodes: NodeSpec[];
  vms: VmSpec[];
  host?: Record<string, string> | Map<string, string>;
  ready?: Iterable<string>;
  offline?: Iterable<string>;
}

export function createModel(init: ModelInit): Model {
  const nodes = new Map(init.nodes.map((n) => [n.id, n] as const));
  const vms = new Map(init.vms.map((v) => [v.id, v] as const));
  const host = new Map(init.host instanceof Map ? init.host : Object.entries(init.host ?? {}));
  const model: Model = { nodes, vms, offline: new Set(init.offline ?? []), host, ready: new Set(init.ready ?? []) };
  validateModel(model);
  return model;
}

export function validateModel(model: Model): void {
  for (const [vm, node] of model.host) {
    if (!model.vms.has(vm)) throw SchedulerError.INVALID_MODEL(`unknown VM ${vm}`);
    if (!model.nodes.has(node)) throw SchedulerError.INVALID_MODEL(`VM ${vm} on unknown node ${node}`);
    if (model.offline.has(node)) throw SchedulerError.INVALID_MODEL(`VM ${vm} on offline node ${node}`);
    if (model.ready.has(vm)) throw SchedulerError.INVALID_MODEL(`VM ${vm} both running and ready`);
  }
  for (const vm of model.ready) if (!model.vms.has(vm)) throw SchedulerError.INVALID_MODEL(`unknown VM ${vm}`);
}

export function cloneModel(model: Model): Model {
  return {
    nodes: model.nodes,
    vms: model.vms,
    offline: new Set(model.offline),
    host: new Map(model.host),
    ready: new Set(model.ready),
  };
}

export function isOnline(model: Model, node: string): boolean {
  return model.nodes.has(node) && !model.offline.has(node);
}

/** VMs per node (only nodes hosting at least one VM appear). */
export function residents(model: Model): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [vm, node] of model.host) {
    const list = out.get(node);
    if (list) list.push(vm);
    else out.set(node, [vm]);
  }
  return out;
}

/** Sum of a resource's demand on each node. */
export function usage(model: Model, resource: Resource, extra?: (vm: string) => number): Map<string, number> {
  const out = new Map<string, number>();
  for (const [vm, node] of model.host) {
    const spec = model.vms.get(vm);
    const d = Math.max(spec ? spec[resource] : 0, extra ? extra(vm) : 0);
    out.set(node, (out.get(node) ?? 0) + d);
  }
  return out;
}

/** Nodes whose demand exceeds capacity on some resource. */
export function overloadedNodes(model: Model): string[] {
  const out: string[] = [];
  const cpu = usage(model, 'cpu');
  const mem = usage(model, 'mem');
  for (const [id, spec] of model.nodes) {
    if ((cpu.get(id) ?? 0) > spec.cpu || (mem.get(id) ?? 0) > spec.mem) out.push(id);
  }
  return out;
}
