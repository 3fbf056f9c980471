/** Message dispatch: the agent's transition table (state × input → action and next states), through which every input goes. */
import type { AgentCore, AgentInput, AgentState, InputOf, InputType } from './agent-core.js';
import { detect, queueEvent, startWithEvent } from './event-detection.js';
import { absorbMerge, afterSolve, bounced, handedOver, handoverTimedOut, mergeRejected, mergeTimedOut, rejectMerge, retry } from './growth.js';
import { acceptJoin, collectState, dropStale, probeTimedOut, sendKeepalives } from './leader.js';
import { doneReceived, execReceived, execTimedOut } from './partition-plan.js';
import { adopt, answerProbe, keepalive, leaseExpired, refuseJoin, release, releaseOnClose } from './reservation.js';

/** The state is unchanged. */
export const STAY = 'stay';
type Next = AgentState | typeof STAY;

export interface Transition<T extends InputType> {
  readonly action: (core: AgentCore, input: InputOf<T>) => void;
  /** The states the node can be in once the action, and all it does at once, is over. */
  readonly next: readonly Next[];
}

/** Per input, the states that handle it; an input arriving in any other state is ignored. */
export type TransitionTable = { readonly [T in InputType]: { readonly [S in AgentState]?: Transition<T> } };

const to = <T extends InputType>(action: Transition<T>['action'], ...next: Next[]): Transition<T> => ({ action, next });
const inStates = <T extends InputType>(states: readonly AgentState[], t: Transition<T>): { [S in AgentState]?: Transition<T> } =>
  Object.fromEntries(states.map((s) => [s, t]));

/** Leader phases in which the node holds the lead (during a handover or a merge another node may take it). */
const LEADING: readonly AgentState[] = ['probing', 'solving', 'applying', 'waiting'];
const BUSY: readonly AgentState[] = ['member', ...LEADING, 'handover', 'merging'];
const OPEN: readonly AgentState[] = ['free', ...BUSY];

/**
 * The DVMS protocol. A node where an event occurs creates a partition, reserves itself and solves;
 * if no plan exists it hands the partition to the next free node in its neighbour order, which
 * joins and leads. A node belongs to at most one partition (its reservation); busy nodes are
 * skipped; a stuck partition merges into the oldest busy partition it met when that one is older
 * (the oldest never waits on a younger one, so merges cannot deadlock). Plans are applied then the
 * partition dissolves. Members free themselves when their leader stays silent for a lease; epochs
 * fence out leaders that lost their role. A closed node is in none of these states: it ignores
 * every input.
 */
export const TRANSITIONS: TransitionTable = {
  // From the host: monitoring samples, its own events, and close.
  sample: { free: to(detect, STAY, 'solving') },
  event: { free: to(startWithEvent, 'solving', 'free'), ...inStates(BUSY, to(queueEvent, STAY)) },
  close: { probing: to(releaseOnClose, 'free'), solving: to(releaseOnClose, 'free'), waiting: to(releaseOnClose, 'free') },

  // A partition grows: the leader asks a free node to join and lead.
  join: { free: to(acceptJoin, 'probing', STAY), ...inStates(BUSY, to(refuseJoin, STAY)) },
  joined: { handover: to(handedOver, 'member', STAY) },
  bounce: { handover: to(bounced, STAY, 'merging', 'waiting', 'solving', 'free') },
  'handover-timeout': { handover: to(handoverTimedOut, STAY, 'merging', 'waiting', 'solving', 'free') },

  // The leader collects its members' states (adopting those of a merged partition), then solves.
  probe: inStates(OPEN, to(answerProbe, STAY, 'member')),
  adopt: inStates(OPEN, to(adopt, STAY, 'member')),
  state: { probing: to<'state'>(collectState, STAY, 'solving', 'free') },
  adopted: { probing: to<'adopted'>(collectState, STAY, 'solving', 'free') },
  stale: { probing: to(dropStale, STAY, 'solving', 'free') },
  'probe-timeout': { probing: to(probeTimedOut, 'solving', 'free') },
  'solve-done': { solving: to(afterSolve, STAY, 'applying', 'handover', 'merging', 'waiting', 'free') },

  // Without a plan after a whole order: merge into an older partition, or wait for a new round.
  merge: {
    ...inStates(OPEN, to(rejectMerge, STAY)),
    probing: to(absorbMerge, STAY, 'solving', 'free'),
    waiting: to(absorbMerge, STAY, 'probing', 'solving', 'free'),
  },
  'merge-reject': { merging: to(mergeRejected, 'waiting', 'solving', 'free') },
  'merge-timeout': { merging: to(mergeTimedOut, 'waiting', 'solving', 'free') },
  'retry-due': { waiting: to(retry, 'probing', 'solving', 'free') },

  // The plan, step by step; its end dissolves the partition.
  exec: { ...inStates(OPEN, to(execReceived, STAY)), applying: to(execReceived, STAY, 'free') },
  done: { applying: to(doneReceived, STAY, 'free') },
  'exec-timeout': { applying: to(execTimedOut, STAY, 'free') },

  // Leases: the leader keeps its members; a member frees itself when released or when the lease ends.
  'keepalive-due': inStates(LEADING, to(sendKeepalives, STAY)),
  keepalive: { member: to(keepalive, STAY) },
  release: { member: to(release, 'free', STAY) },
  'lease-expired': { member: to(leaseExpired, 'free', STAY) },
};

type Row = { readonly [S in AgentState]?: { action(core: AgentCore, input: never): void } };

export function dispatch(core: AgentCore, input: AgentInput): void {
  const from = core.state;
  const transition = (TRANSITIONS[input.type] as Row)[from];
  if (!transition) return;
  transition.action(core, input as never);
  core.observer.transition?.(core.id, from, input.type, core.state);
}
