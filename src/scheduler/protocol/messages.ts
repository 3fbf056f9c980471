/** DVMS events and protocol messages (plain data, serialisable as JSON). */
import type { NodeSpec, VmSpec } from '../model.js';

/** A node and the VMs it runs, as its monitor sees them (the payload of `state` and `adopted`). */
export interface NodeSnapshot {
  readonly node: NodeSpec;
  readonly vms: readonly VmSpec[];
}

export type DvmsEventKind = 'overload' | 'underload' | 'admission' | 'node-loss' | 'drain';

export interface DvmsEvent {
  readonly id: string;
  readonly kind: DvmsEventKind;
  /** Node where the event occurred. */
  readonly origin: string;
  /** Time the event was detected (agent clock, ms). */
  readonly at: number;
  /** VMs to place (admission, node-loss). */
  readonly vms?: readonly VmSpec[];
  /** Node that was lost (node-loss). */
  readonly lost?: string;
}

/** A partition other than ours, seen while searching. */
export interface BusyPartition {
  readonly pid: string;
  readonly created: number;
  readonly leader: string;
}

export interface PartitionInfo {
  readonly pid: string;
  /** Creation time at the initiator, with pid as tie-break: older partitions absorb younger ones. */
  readonly created: number;
  readonly epoch: number;
  readonly initiator: string;
  readonly events: readonly DvmsEvent[];
  readonly members: readonly string[];
  /** Next index in the initiator's neighbour order. */
  readonly cursor: number;
  /** Nodes that answered this round's join with another partition (busy, maybe free later). */
  readonly bounced: readonly string[];
  /** Nodes found dead this partition. */
  readonly dead: readonly string[];
  readonly busy: readonly BusyPartition[];
  /** Full rounds of the neighbour order already done. */
  readonly rounds: number;
}

export type DvmsMessage =
  | { type: 'join'; info: PartitionInfo; sentAt: number }
  | { type: 'joined'; pid: string; epoch: number }
  /** `members`: the partition holding the node, as the node knows it (the asker skips them all: a shortcut through it). */
  | { type: 'bounce'; pid: string; epoch: number; busy: BusyPartition | null; members?: readonly string[] }
  | { type: 'probe'; pid: string; epoch: number; members?: readonly string[] }
  | { type: 'state'; pid: string; epoch: number; snapshot: NodeSnapshot }
  | { type: 'stale'; pid: string; epoch: number }
  | { type: 'keepalive'; pid: string; epoch: number }
  | { type: 'exec'; pid: string; epoch: number; step: number; action: WireAction; leader: string; verified: boolean }
  | { type: 'done'; pid: string; epoch: number; step: number; ok: boolean }
  | { type: 'release'; pid: string; epoch: number; backoffMs: number }
  | { type: 'merge'; info: PartitionInfo }
  | { type: 'merge-reject'; pid: string }
  | { type: 'adopt'; pid: string; epoch: number; from: string; created: number }
  | { type: 'adopted'; pid: string; epoch: number; snapshot: NodeSnapshot };

export type WireAction =
  | { kind: 'migrate'; vm: string; from: string; to: string }
  | { kind: 'start'; vm: VmSpec; host: string }
  | { kind: 'boot'; node: string }
  | { kind: 'shutdown'; node: string };

/** True when partition a is older than b (a absorbs b on merge). */
export function olderThan(a: { created: number; pid: string }, b: { created: number; pid: string }): boolean {
  return a.created < b.created || (a.created === b.created && a.pid < b.pid);
}
