/** Index-based working state of the solver, built from a plain Model. */
import type { Model } from '../model.js';

/** A model's nodes and VMs numbered (VMs placed first, then those to start), both ways. */
export interface ModelIndex {
  readonly nodeIds: string[];
  readonly vmIds: string[];
  readonly nodeIdx: Map<string, number>;
  readonly vmIdx: Map<string, number>;
}

export function indexModel(model: Model): ModelIndex {
  const nodeIds = [...model.nodes.keys()];
  const vmIds = [...model.host.keys(), ...model.ready];
  return { nodeIds, vmIds, nodeIdx: new Map(nodeIds.map((id, i) => [id, i])), vmIdx: new Map(vmIds.map((id, i) => [id, i])) };
}

export class SolverState {
  readonly nodeIds: string[];
  readonly vmIds: string[];
  readonly nodeIdx: Map<string, number>;
  readonly vmIdx: Map<string, number>;
  readonly capCpu: Float64Array;
  readonly capMem: Float64Array;
  /** Effective demand (raised by preserve). */
  readonly demCpu: Float64Array;
  readonly demMem: Float64Array;
  /** Original host, −1 for a ready VM. */
  readonly source: Int32Array;
  /** Current host, −1 when unplaced. */
  readonly host: Int32Array;
  readonly usedCpu: Float64Array;
  readonly usedMem: Float64Array;
  readonly residents: Set<number>[];
  /** 1 when the node may host VMs in the target. */
  readonly usable: Uint8Array;
  /** 1 when the node is offline in the source and must be booted. */
  readonly boot: Uint8Array;
  /** 1 when the node must be shut down in the target. */
  readonly shutdown: Uint8Array;
  readonly pinned: Uint8Array;
  /** CPU a node may reach when it receives VMs or is relieved (capacity × (1 − headroom)). */
  readonly targetCpu: Float64Array;
  work = 0;

  constructor(readonly model: Model, headroom = 0) {
    ({ nodeIds: this.nodeIds, vmIds: this.vmIds, nodeIdx: this.nodeIdx, vmIdx: this.vmIdx } = indexModel(model));
    const n = this.nodeIds.length;
    const m = this.vmIds.length;
    this.capCpu = new Float64Array(n);
    this.capMem = new Float64Array(n);
    this.usable = new Uint8Array(n);
    this.targetCpu = new Float64Array(n);
    this.boot = new Uint8Array(n);
    this.shutdown = new Uint8Array(n);
    this.nodeIds.forEach((id, i) => {
      const spec = model.nodes.get(id);
      this.capCpu[i] = spec?.cpu ?? 0;
      this.capMem[i] = spec?.mem ?? 0;
      this.targetCpu[i] = (spec?.cpu ?? 0) * (1 - headroom);
      this.usable[i] = model.offline.has(id) ? 0 : 1;
    });
    this.demCpu = new Float64Array(m);
    this.demMem = new Float64Array(m);
    this.source = new Int32Array(m);
    this.host = new Int32Array(m);
    this.pinned = new Uint8Array(m);
    this.vmIds.forEach((id, v) => {
      const spec = model.vms.get(id);
      this.demCpu[v] = spec?.cpu ?? 0;
      this.demMem[v] = spec?.mem ?? 0;
      const h = model.host.get(id);
      this.source[v] = h === undefined ? -1 : (this.nodeIdx.get(h) ?? -1);
    });
    this.usedCpu = new Float64Array(n);
    this.usedMem = new Float64Array(n);
    this.residents = Array.from({ length: n }, () => new Set<number>());
  }

  /** Back to the source placement (call after the encodings adjusted demands). */
  reset(): void {
    this.usedCpu.fill(0);
    this.usedMem.fill(0);
    for (const r of this.residents) r.clear();
    for (let v = 0; v < this.vmIds.length; v++) {
      this.host[v] = -1;
      const s = this.source[v] ?? -1;
      if (s >= 0) this.place(v, s);
    }
  }

  place(v: number, n: number): void {
    this.host[v] = n;
    this.usedCpu[n] = (this.usedCpu[n] ?? 0) + (this.demCpu[v] ?? 0);
    this.usedMem[n] = (this.usedMem[n] ?? 0) + (this.demMem[v] ?? 0);
    this.residents[n]?.add(v);
  }

  unplace(v: number): void {
    const n = this.host[v] ?? -1;
    if (n < 0) return;
    this.host[v] = -1;
    this.usedCpu[n] = (this.usedCpu[n] ?? 0) - (this.demCpu[v] ?? 0);
    this.usedMem[n] = (this.usedMem[n] ?? 0) - (this.demMem[v] ?? 0);
    this.residents[n]?.delete(v);
  }

  fits(v: number, n: number): boolean {
    this.work++;
    return (
      this.usable[n] === 1 &&
      (this.usedCpu[n] ?? 0) + (this.demCpu[v] ?? 0) <= (this.targetCpu[n] ?? 0) + 1e-9 &&
      (this.usedMem[n] ?? 0) + (this.demMem[v] ?? 0) <= (this.capMem[n] ?? 0) + 1e-9
    );
  }

  overloaded(n: number): boolean {
    return (this.usedCpu[n] ?? 0) > (this.capCpu[n] ?? 0) + 1e-9 || (this.usedMem[n] ?? 0) > (this.capMem[n] ?? 0) + 1e-9;
  }

  /** Above the headroom target (only meaningful for nodes being relieved). */
  overTarget(n: number): boolean {
    return (this.usedCpu[n] ?? 0) > (this.targetCpu[n] ?? 0) + 1e-9 || (this.usedMem[n] ?? 0) > (this.capMem[n] ?? 0) + 1e-9;
  }

  vmsOf(ids: readonly string[]): number[] {
    const out: number[] = [];
    for (const id of ids) {
      const v = this.vmIdx.get(id);
      if (v !== undefined) out.push(v);
    }
    return out;
  }

  nodesOf(ids: readonly string[]): number[] {
    const out: number[] = [];
    for (const id of ids) {
      const n = this.nodeIdx.get(id);
      if (n !== undefined) out.push(n);
    }
    return out;
  }
}
