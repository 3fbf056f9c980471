/**
 * Boundaries of the DVMS protocol: the transport it talks through, the clock and timers it runs on,
 * the monitor that samples the local node, and the actuator that applies plans. The real mesh, the
 * real hypervisor and the simulator each provide their own implementations.
 */
import type { VmSpec } from '../model.js';
import type { DvmsMessage, NodeSnapshot } from './messages.js';

export type { NodeSnapshot } from './messages.js';

/** Node ids are strings. Messages may be delayed, reordered or lost; nothing is acknowledged. */
export interface SchedulerTransport {
  send(to: string, message: DvmsMessage): void;
  /** Registers the handler of incoming messages (one per agent). */
  onMessage(handler: (from: string, message: DvmsMessage) => void): void;
  /** Estimated one-way latency to a peer in ms, when known. */
  latency?(to: string): number;
}

export type TimerHandle = unknown;

export interface AgentEnvironment {
  /** Current time in ms. */
  now(): number;
  setTimer(ms: number, fn: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
  /**
   * Delay before the result of a computation that took `wallMs` of real time (and `work` solver
   * units) may be used: 0 in a real deployment (the time has passed), the charged time in a simulation.
   */
  computeDelay(wallMs: number, work: number): number;
  /** Wall clock used to measure solver runs, in ms. */
  wallNow(): number;
}

/** The monitoring layer's view of the local node. */
export interface HostMonitor {
  snapshot(): NodeSnapshot;
  /**
   * The node's measured use, when its snapshot may count more (e.g. each VM at least its allocated
   * share): overload is detected on this, partitions still plan with the snapshots.
   */
  load?(): { cpu: number; mem: number };
}

/**
 * Applies plan actions on the hypervisors. Results are PromiseLike so a simulator can complete
 * them synchronously at a simulated instant; a real implementation returns Promises.
 */
export interface HostActuator {
  migrate(vm: string, from: string, to: string): PromiseLike<void>;
  start(vm: VmSpec, host: string): PromiseLike<void>;
  boot?(node: string): PromiseLike<void>;
  shutdown?(node: string): PromiseLike<void>;
}

/** Real-time environment for a deployment (Node timers, performance.now). */
export function realEnvironment(): AgentEnvironment {
  return {
    now: () => Date.now(),
    setTimer: (ms, fn) => setTimeout(fn, ms),
    clearTimer: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
    computeDelay: () => 0,
    wallNow: () => performance.now(),
  };
}
