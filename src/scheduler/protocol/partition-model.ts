/** The problem a partition solves: its members' snapshots, the VMs its events bring, and the bans that drains and underloads add. */
import { ban, type Constraint } from '../constraints/index.js';
import type { Model, NodeSpec, VmSpec } from '../model.js';
import type { DvmsEvent, NodeSnapshot } from './messages.js';

export interface PartitionProblem {
  readonly model: Model;
  /** Bans that empty a draining or underloaded origin. */
  readonly drains: Constraint[];
  /** False when nothing is to be done: no member over capacity, no VM to place, nothing to empty. */
  readonly problem: boolean;
}

export function partitionProblem(states: ReadonlyMap<string, NodeSnapshot>, events: readonly DvmsEvent[], underloadThreshold: number): PartitionProblem {
  const nodes = new Map<string, NodeSpec>();
  const vms = new Map<string, VmSpec>();
  const host = new Map<string, string>();
  let problem = false;
  for (const [id, s] of states) {
    nodes.set(id, s.node);
    let cpu = 0;
    let mem = 0;
    for (const v of s.vms) {
      vms.set(v.id, v);
      host.set(v.id, id);
      cpu += v.cpu;
      mem += v.mem;
    }
    if (cpu > s.node.cpu + 1e-9 || mem > s.node.mem + 1e-9) problem = true;
  }
  const ready = new Set<string>();
  const drains: Constraint[] = [];
  for (const e of events) {
    for (const v of e.vms ?? []) {
      if (host.has(v.id)) continue;
      vms.set(v.id, v);
      ready.add(v.id);
      problem = true;
    }
    if (e.kind === 'drain') {
      const s = states.get(e.origin);
      if (s && s.vms.length > 0) {
        drains.push(ban(s.vms.map((v) => v.id), [e.origin]));
        problem = true;
      }
    }
    if (e.kind === 'underload') {
      const s = states.get(e.origin);
      const load = s ? s.vms.reduce((a, v) => a + v.cpu, 0) : 0;
      if (s && s.vms.length > 0 && load < underloadThreshold * s.node.cpu) {
        drains.push(ban(s.vms.map((v) => v.id), [e.origin]));
        problem = true;
      }
    }
  }
  return { model: { nodes, vms, host, ready, offline: new Set() }, drains, problem };
}
