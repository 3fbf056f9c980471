/**
 * The history of a fault-injection run, in the manner of Jepsen: every client operation with its
 * invocation and completion times and outcome, and every fault the nemesis injected.
 */
import { monotonicMs } from '../../../src/lib/monotonic.js';

export type OpKind = 'create' | 'update' | 'stop' | 'start' | 'delete';
/** ok: acknowledged; fail: surely not done (a 4xx); info: unknown (a 5xx, a timeout, a lost answer). */
export type Outcome = 'ok' | 'fail' | 'info';

export interface Op {
  kind: OpKind;
  id?: string;
  /** The title an update writes (the value the checker expects to survive). */
  value?: string;
  through: string;
  invokedAt: number;
  completedAt: number;
  outcome: Outcome;
  status: number;
}

export type FaultKind = 'kill' | 'pause' | 'split' | 'skew' | 'drain';

export interface Fault {
  kind: FaultKind;
  nodes: string[];
  startedAt: number;
  healedAt?: number;
  /** When the process was stopped (a drain ends with a stop and a restart of the node). */
  stoppedAt?: number;
  /** What a drain moved away. */
  moved?: number;
}

export class History {
  readonly ops: Op[] = [];
  readonly faults: Fault[] = [];

  record(op: Omit<Op, 'completedAt'>): Op {
    const done = { ...op, completedAt: monotonicMs() };
    this.ops.push(done);
    return done;
  }

  fault(kind: FaultKind, nodes: string[]): Fault {
    const f: Fault = { kind, nodes, startedAt: monotonicMs() };
    this.faults.push(f);
    return f;
  }

  /** Ms during which `node`'s process was frozen or dead, as intervals [from, to). */
  downtime(node: string, end: number): Array<[number, number]> {
    return this.faults
      .filter((f) => f.nodes.includes(node) && this.stopOf(f) !== undefined)
      .map((f) => [this.stopOf(f)!, f.healedAt ?? end]);
  }

  /** When the fault stopped the process (a kill, a freeze, the stop after a drain), if it did. */
  stopOf(f: Fault): number | undefined {
    if (f.kind === 'pause' || f.kind === 'kill') return f.startedAt;
    return f.kind === 'drain' ? f.stoppedAt : undefined;
  }
}
