/** Plan execution, for DVMS partitions and the simulator alike: a plan's actions in order, each applied through the HostActuator port. */
import { SchedulerError } from '../errors.js';
import type { VmSpec } from '../model.js';
import { touchedNodes, type Action } from '../plan.js';
import type { WireAction } from './messages.js';
import type { HostActuator } from './transport.js';

/** A plan action as sent to the node that applies it (a start carries the VM's spec). */
export function toWire(action: Action, vms: ReadonlyMap<string, VmSpec>): WireAction {
  switch (action.kind) {
    case 'migrate':
      return { kind: 'migrate', vm: action.vm, from: action.from, to: action.to };
    case 'start':
      return { kind: 'start', vm: vms.get(action.vm) ?? { id: action.vm, cpu: 0, mem: 0 }, host: action.host };
    case 'boot':
      return { kind: 'boot', node: action.node };
    case 'shutdown':
      return { kind: 'shutdown', node: action.node };
  }
}

/** The node that applies an action (a migration's destination, which asks its source). */
export function actionTarget(action: WireAction): string {
  switch (action.kind) {
    case 'migrate':
      return action.to;
    case 'start':
      return action.host;
    default:
      return action.node;
  }
}

/** Applies one action through the actuator; an actuator without boot or shutdown fails those. */
export function performAction(actuator: HostActuator, action: WireAction): PromiseLike<void> {
  switch (action.kind) {
    case 'migrate':
      return actuator.migrate(action.vm, action.from, action.to);
    case 'start':
      return actuator.start(action.vm, action.host);
    case 'boot':
      return actuator.boot ? actuator.boot(action.node) : Promise.reject(SchedulerError.ACTUATOR_FAILED('boot unsupported'));
    case 'shutdown':
      return actuator.shutdown ? actuator.shutdown(action.node) : Promise.reject(SchedulerError.ACTUATOR_FAILED('shutdown unsupported'));
  }
}

export interface PlanExecutionOptions {
  /** Starts step `step`; its outcome comes back through `complete(step, ok)`. */
  launch(action: WireAction, step: number): void;
  /** Called once, when no step runs and none is left to start; ok when no step failed. */
  finished(ok: boolean): void;
  /**
   * After a failed step: `stop` starts no other step (a partition's plan stops), `continue` still
   * runs every other step (the centralized baseline applies what it can).
   */
  afterFailure: 'stop' | 'continue';
}

type StepState = 'idle' | 'running' | 'done' | 'failed';

/** Runs actions with the parallelism their nodes allow: an action waits for the earlier ones on its nodes. */
export class PlanExecution {
  private readonly deps: number[][];
  private readonly state: StepState[];
  private failed = false;
  private over = false;

  constructor(
    private readonly actions: readonly WireAction[],
    private readonly options: PlanExecutionOptions,
  ) {
    const last = new Map<string, number>();
    this.deps = actions.map((a, i) => {
      const d = new Set<number>();
      for (const n of touchedNodes(a)) {
        const j = last.get(n);
        if (j !== undefined) d.add(j);
        last.set(n, i);
      }
      return [...d];
    });
    this.state = actions.map(() => 'idle');
  }

  /** Starts the steps nothing waits for (an empty plan finishes at once). */
  start(): void {
    this.launchReady();
  }

  /** The outcome of a running step; ignored for a step that is not running (late or timed out). */
  complete(step: number, ok: boolean): void {
    if (this.state[step] !== 'running') return;
    this.state[step] = ok ? 'done' : 'failed';
    if (!ok) this.failed = true;
    this.launchReady();
  }

  isRunning(step: number): boolean {
    return this.state[step] === 'running';
  }

  private launchReady(): void {
    const { state, deps } = this;
    const stopped = (): boolean => this.failed && this.options.afterFailure === 'stop';
    let running = 0;
    this.actions.forEach((a, i) => {
      if (state[i] === 'running') running++;
      if (stopped() || state[i] !== 'idle') return;
      if (!(deps[i] ?? []).every((j) => state[j] === 'done' || state[j] === 'failed')) return;
      state[i] = 'running';
      running++;
      this.options.launch(a, i);
    });
    const pending = state.some((s) => s === 'running' || (s === 'idle' && !stopped()));
    if (!pending && running === 0 && !this.over) {
      this.over = true;
      this.options.finished(!this.failed);
    }
  }
}

/** Applies a plan on the actuator directly (one actuator for every node, as in the simulator). */
export function applyPlan(actuator: HostActuator, actions: readonly WireAction[], finished: (ok: boolean) => void): void {
  const run = new PlanExecution(actions, {
    afterFailure: 'continue',
    launch: (action, step) => {
      performAction(actuator, action).then(
        () => run.complete(step, true),
        () => run.complete(step, false),
      );
    },
    finished,
  });
  run.start();
}
