/**
 * The exact solver's working problem, index-based: nodes and VMs with their capacities and
 * demands, each VM's domain (the nodes it may end on), pinned VMs, nodes switched on or off, and
 * the binary program over the placement columns x[vm, node] once `build` has created them. The
 * storage is sparse (a VM's columns, a node's columns), so that a problem of thousands of nodes
 * where few VMs may move stays small.
 */
import type { Model } from '../model.js';
import { BinaryProgram, LinearExpr } from './milp.js';
import { indexModel } from './state.js';

export class ExactProblem {
  readonly nodeIds: string[];
  readonly vmIds: string[];
  readonly capCpu: Float64Array;
  readonly capMem: Float64Array;
  readonly demCpu: Float64Array;
  readonly demMem: Float64Array;
  /** Source node of each VM, −1 for a VM to start. */
  readonly source: Int32Array;
  /** 1 when the node is online at the end (and may host VMs). */
  readonly usable: Uint8Array;
  readonly boot: Uint8Array;
  readonly shutdown: Uint8Array;
  readonly pinned: Uint8Array;
  readonly program = new BinaryProgram();
  private readonly nodeIdx: Map<string, number>;
  private readonly vmIdx: Map<string, number>;
  /** Nodes a constraint forbids each VM to end on. */
  private readonly forbidden = new Map<number, Set<number>>();
  /** The node a VM is fixed on (pinned, or not movable in this pass), or −1. */
  private readonly fixedAt: Int32Array;
  /** Columns of each VM, by node; and each node's columns and fixed VMs, once built. */
  private readonly columns: Map<number, string>[];
  private readonly columnsOn: { v: number; col: string }[][];
  private readonly fixedOn: number[][];
  private seq = 0;

  constructor(model: Model) {
    ({ nodeIds: this.nodeIds, vmIds: this.vmIds, nodeIdx: this.nodeIdx, vmIdx: this.vmIdx } = indexModel(model));
    const n = this.nodeIds.length;
    const m = this.vmIds.length;
    this.capCpu = Float64Array.from(this.nodeIds, (id) => model.nodes.get(id)?.cpu ?? 0);
    this.capMem = Float64Array.from(this.nodeIds, (id) => model.nodes.get(id)?.mem ?? 0);
    this.usable = Uint8Array.from(this.nodeIds, (id) => (model.offline.has(id) ? 0 : 1));
    this.boot = new Uint8Array(n);
    this.shutdown = new Uint8Array(n);
    this.demCpu = Float64Array.from(this.vmIds, (id) => model.vms.get(id)?.cpu ?? 0);
    this.demMem = Float64Array.from(this.vmIds, (id) => model.vms.get(id)?.mem ?? 0);
    this.source = Int32Array.from(this.vmIds, (id) => this.nodeIdx.get(model.host.get(id) ?? '') ?? -1);
    this.pinned = new Uint8Array(m);
    this.fixedAt = new Int32Array(m).fill(-1);
    this.columns = Array.from({ length: m }, () => new Map<number, string>());
    this.columnsOn = Array.from({ length: n }, () => []);
    this.fixedOn = Array.from({ length: n }, () => []);
  }

  vmsOf(ids: readonly string[]): number[] {
    return ids.flatMap((id) => {
      const v = this.vmIdx.get(id);
      return v === undefined ? [] : [v];
    });
  }

  nodesOf(ids: readonly string[]): number[] {
    return ids.flatMap((id) => {
      const n = this.nodeIdx.get(id);
      return n === undefined ? [] : [n];
    });
  }

  forbid(v: number, n: number): void {
    const set = this.forbidden.get(v);
    if (set) set.add(n);
    else this.forbidden.set(v, new Set([n]));
  }

  /** A running VM that must stay where it is. */
  pin(v: number): void {
    if ((this.source[v] ?? -1) >= 0) this.pinned[v] = 1;
  }

  switchOn(n: number): void {
    if (this.usable[n] !== 1) this.boot[n] = 1;
    this.usable[n] = 1;
  }

  switchOff(n: number): void {
    this.usable[n] = 0;
    this.shutdown[n] = 1;
  }

  /** May VM v end on node n (before `build`: as far as the constraints tell). */
  mayEndOn(v: number, n: number): boolean {
    return this.usable[n] === 1 && this.forbidden.get(v)?.has(n) !== true;
  }

  /** After `build`: v ends on n in some solution of this pass. */
  canHost(v: number, n: number): boolean {
    return this.fixedAt[v] === n || this.columns[v]?.has(n) === true;
  }

  /** A unique column name. */
  fresh(prefix: string): string {
    return `${prefix}_${this.seq++}`;
  }

  /** Adds coefficient × x[v, n] to e: a constant for a fixed VM, nothing when v cannot end on n. */
  addX(e: LinearExpr, v: number, n: number, coefficient: number): void {
    const f = this.fixedAt[v] ?? -1;
    if (f >= 0) {
      if (f === n) e.constant += coefficient;
      return;
    }
    e.add(this.columns[v]?.get(n) ?? null, coefficient);
  }

  /**
   * Creates the columns (VMs that `movable` rejects stay on their source; a movable VM may end on
   * the nodes `candidates` gives, every node by default, and its source), one node per VM,
   * capacities, and the cost of moving each VM away from its source.
   */
  build(cost: Float64Array, movable: (v: number) => boolean, candidates?: (v: number) => readonly number[] | null): void {
    const every = this.nodeIds.map((_, n) => n);
    for (let v = 0; v < this.vmIds.length; v++) {
      const s = this.source[v] ?? -1;
      if (s >= 0 && (this.pinned[v] === 1 || (!movable(v) && this.mayEndOn(v, s)))) {
        this.fixedAt[v] = s;
        this.fixedOn[s]?.push(v);
        // A pinned VM on a node it may not end on: no solution.
        if (!this.mayEndOn(v, s)) this.program.row(new LinearExpr(), '>=', 1);
        continue;
      }
      const one = new LinearExpr();
      const domain = candidates?.(v) ?? every;
      for (const n of s >= 0 && !domain.includes(s) ? [s, ...domain] : domain) {
        if (!this.mayEndOn(v, n)) continue;
        const col = this.program.binary(`x${v}_${n}`);
        this.columns[v]?.set(n, col);
        this.columnsOn[n]?.push({ v, col });
        one.add(col, 1);
        if (n === s) this.program.minimise(col, -(cost[v] ?? 0));
      }
      this.program.row(one, '=', 1);
    }
    for (let n = 0; n < this.nodeIds.length; n++) {
      if (this.usable[n] !== 1) continue;
      for (const [dem, cap] of [
        [this.demCpu, this.capCpu],
        [this.demMem, this.capMem],
      ] as const) {
        const e = new LinearExpr();
        for (const v of this.fixedOn[n] ?? []) e.constant += dem[v] ?? 0;
        for (const { v, col } of this.columnsOn[n] ?? []) e.add(col, dem[v] ?? 0);
        this.program.row(e, '<=', cap[n] ?? 0);
      }
    }
  }

  /** Cuts off one solution: its columns at 1 may not all be chosen again. */
  exclude(values: ReadonlyMap<string, number>): void {
    const chosen = new LinearExpr();
    let count = 0;
    for (const byNode of this.columns) {
      for (const col of byNode.values()) {
        if ((values.get(col) ?? 0) > 0.5) {
          chosen.add(col, 1);
          count++;
        }
      }
    }
    this.program.row(chosen, '<=', count - 1);
  }

  /** The node of every VM in a solution of the program. */
  target(values: ReadonlyMap<string, number>): Int32Array {
    return Int32Array.from(this.vmIds, (_, v) => {
      const f = this.fixedAt[v] ?? -1;
      if (f >= 0) return f;
      for (const [n, col] of this.columns[v] ?? []) if ((values.get(col) ?? 0) > 0.5) return n;
      return -1;
    });
  }
}
