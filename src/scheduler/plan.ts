/** A reconfiguration plan: an ordered list of actions, one class per action kind. */
import { SchedulerError } from './errors.js';
import type { Model } from './model.js';

export class MigrateVm {
  readonly kind = 'migrate' as const;
  constructor(readonly vm: string, readonly from: string, readonly to: string) {}
  toString(): string {
    return `migrate(${this.vm}, ${this.from} -> ${this.to})`;
  }
}

export class StartVm {
  readonly kind = 'start' as const;
  constructor(readonly vm: string, readonly host: string) {}
  toString(): string {
    return `start(${this.vm} on ${this.host})`;
  }
}

export class BootNode {
  readonly kind = 'boot' as const;
  constructor(readonly node: string) {}
  toString(): string {
    return `boot(${this.node})`;
  }
}

export class ShutdownNode {
  readonly kind = 'shutdown' as const;
  constructor(readonly node: string) {}
  toString(): string {
    return `shutdown(${this.node})`;
  }
}

export type Action = MigrateVm | StartVm | BootNode | ShutdownNode;

export interface Plan {
  readonly actions: readonly Action[];
}

/** The node fields of an action: those of a plan's actions and of their wire form alike. */
export type NodeFields = { kind: 'migrate'; from: string; to: string } | { kind: 'start'; host: string } | { kind: 'boot' | 'shutdown'; node: string };

/** Nodes an action touches (used to run independent actions in parallel). */
export function touchedNodes(action: NodeFields): string[] {
  switch (action.kind) {
    case 'migrate':
      return [action.from, action.to];
    case 'start':
      return [action.host];
    case 'boot':
    case 'shutdown':
      return [action.node];
  }
}

/** Why an action cannot be applied to a model, or null. */
export function actionError(model: Model, action: Action): string | null {
  switch (action.kind) {
    case 'migrate':
      if (model.host.get(action.vm) !== action.from) return `${action.vm} is not on ${action.from}`;
      if (action.from === action.to) return `${action.vm} migrates onto its own host`;
      if (!model.nodes.has(action.to) || model.offline.has(action.to)) return `${action.to} is not online`;
      return null;
    case 'start':
      if (!model.ready.has(action.vm)) return `${action.vm} is not ready`;
      if (!model.nodes.has(action.host) || model.offline.has(action.host)) return `${action.host} is not online`;
      return null;
    case 'boot':
      return model.offline.has(action.node) ? null : `${action.node} is not offline`;
    case 'shutdown':
      if (!model.nodes.has(action.node) || model.offline.has(action.node)) return `${action.node} is not online`;
      for (const n of model.host.values()) if (n === action.node) return `${action.node} still hosts VMs`;
      return null;
  }
}

/** Applies an action in place; throws if it is not applicable. */
export function applyAction(model: Model, action: Action): void {
  const err = actionError(model, action);
  if (err) throw SchedulerError.PLAN_VIOLATION(`${action.toString()}: ${err}`);
  switch (action.kind) {
    case 'migrate':
      model.host.set(action.vm, action.to);
      return;
    case 'start':
      model.ready.delete(action.vm);
      model.host.set(action.vm, action.host);
      return;
    case 'boot':
      model.offline.delete(action.node);
      return;
    case 'shutdown':
      model.offline.add(action.node);
      return;
  }
}
