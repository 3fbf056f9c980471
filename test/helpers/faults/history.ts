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

export type FaultKind = 'kill' | 'pause' | 'split' | 'skew';

export interface Fault {
  kind: FaultKind;
  nodes: string[];
  startedAt: number;
  healedAt?: number;
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
    return this.faults.filter((f) => (f.kind === 'pause' || f.kind === 'kill') && f.nodes.includes(node)).map((f) => [f.startedAt, f.healedAt ?? end]);
  }
}
