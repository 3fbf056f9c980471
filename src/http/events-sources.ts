/**
 * What feeds a node's event stream: the DVMS agent's observer (partitions, solves, migrations,
 * failovers), the mesh's membership events, the entity store's committed changes (admissions,
 * state changes, arrivals, deletions) and the hypervisor's domain watch. Wired in src/node.ts;
 * each `follow…` returns the function that stops it.
 */
import type { DomainEvent } from '../hypervisor/hypervisor.js';
import type { Mesh } from '../mesh/mesh.js';
import type { Entity } from '../occi/entity.js';
import { COMPUTE } from '../occi/infrastructure-model.js';
import { PLACEMENT_GENERATION } from '../occi/placement-model.js';
import type { EntityStore } from '../occi/store.js';
import type { AgentObserver } from '../scheduler/protocol/node-agent.js';
import type { EventFeed } from './events-feed.js';

const STATE = 'occi.compute.state';
const MESSAGE = 'occi.compute.state.message';
const TITLE = 'occi.core.title';

/** Computes leaving this node by a migration: their removal from the store is its hand-over, not a deletion. */
export class MigratingComputes {
  private readonly moving = new Map<string, { since: number; owner: string | null }>();
  start(id: string, at: number, owner: string | null): void {
    this.moving.set(id, { since: at, owner });
  }
  /** How long the migration took (ms) and whose compute it was, once it ended. */
  end(id: string, at: number): { durationMs: number | null; owner: string | null } {
    const m = this.moving.get(id);
    this.moving.delete(id);
    return { durationMs: m ? at - m.since : null, owner: m?.owner ?? null };
  }
  has(id: string): boolean {
    return this.moving.has(id);
  }
}

export interface EventSourcesContext {
  feed: EventFeed;
  store: EntityStore;
  mesh?: Mesh;
  migrating: MigratingComputes;
}

/** A member's name, or the start of its key when it is not (or no longer) known. */
function nameOf(mesh: Mesh | undefined, key: string): string {
  if (!mesh) return key;
  if (key === mesh.key) return mesh.self().name;
  return mesh.member(key)?.name ?? key.slice(0, 8);
}

/** The agent observer that publishes the scheduler's life: partitions, solves, migrations, failovers. */
export function agentEvents({ feed, store, mesh, migrating }: EventSourcesContext): AgentObserver {
  let partition: string | null = null;
  let lastRun: { pid: string; wallMs: number } | undefined;
  return {
    reserved: (_node, pid) => {
      if (pid === partition) return;
      if (partition) feed.publish('partition.left', { pid: partition });
      if (pid) feed.publish('partition.joined', { pid });
      partition = pid;
    },
    eventCreated: (e) => {
      const vms = e.vms?.length ?? 0;
      feed.publish('dvms.event', { event: e.id, kind: e.kind, origin: nameOf(mesh, e.origin), vms });
      if (e.kind === 'node-loss') feed.publish('failover.started', { event: e.id, lost: nameOf(mesh, e.lost ?? ''), computes: vms });
    },
    solverRun: (run) => {
      lastRun = { pid: run.pid, wallMs: run.wallMs };
    },
    eventSolved: (e, size, _at, migrations) => {
      feed.publish('partition.solved', { pid: lastRun?.pid ?? null, event: e.id, kind: e.kind, size, migrations, solveMs: lastRun?.wallMs ?? null });
      if (e.kind === 'node-loss') feed.publish('failover.solved', { event: e.id, lost: nameOf(mesh, e.lost ?? ''), size });
    },
    eventUnsolvable: (e, size) => feed.publish('partition.unsolvable', { pid: lastRun?.pid ?? null, event: e.id, kind: e.kind, size }),
    partitionDissolved: (pid, size) => feed.publish('partition.released', { pid, size }),
    partitionMerged: (into, from) => feed.publish('partition.merged', { pid: into, from }),
    migrationStarted: (pid, vm, from, to) => {
      const owner = store.get(vm)?.owner ?? null;
      migrating.start(vm, Date.now(), owner);
      feed.publish('migration.started', { pid, vm, from: nameOf(mesh, from), to: nameOf(mesh, to), phase: 'started' }, owner);
    },
    migrationEnded: (pid, vm, ok) => {
      // The records left with the compute: its owner was noted when the migration started.
      const { durationMs, owner } = migrating.end(vm, Date.now());
      feed.publish('migration.ended', { pid, vm, ok, durationMs, phase: ok ? 'done' : 'failed' }, owner);
    },
  };
}

/** Members joining and leaving, as this node sees them. */
export function followMembers({ feed, mesh }: EventSourcesContext): () => void {
  if (!mesh) return () => undefined;
  const joined = (m: { name: string; site: string | null; httpAddress: string | null }) => feed.publish('member.joined', { member: m.name, site: m.site, url: m.httpAddress });
  const left = (m: { name: string }, reason: string) => feed.publish('member.left', { member: m.name, reason });
  mesh.on('member-joined', joined);
  mesh.on('member-left', left);
  return () => {
    mesh.off('member-joined', joined);
    mesh.off('member-left', left);
  };
}

/**
 * The computes this node holds, from the store's committed changes: a new one is admitted
 * (generation 1) or arrived (moved in, or restarted after a node loss); a state change; a removal
 * is a deletion, or the hand-over of a migration under way.
 */
export function followComputes({ feed, store, migrating }: EventSourcesContext): () => void {
  const states = new Map<string, string>();
  for (const e of store.all()) if (e.kind === COMPUTE) states.set(e.id, String(e.attributes[STATE] ?? ''));
  return store.onChange((change, removed) => {
    for (const e of removed) {
      if (e.kind !== COMPUTE) continue;
      states.delete(e.id);
      if (migrating.has(e.id)) {
        feed.publish('migration.progress', { vm: e.id, phase: 'handed-over' }, e.owner);
      } else feed.publish('compute.deleted', { id: e.id }, e.owner);
    }
    for (const e of change.put ?? []) if (e.kind === COMPUTE) computeChanged(feed, states, e);
  });
}

function computeChanged(feed: EventFeed, states: Map<string, string>, e: Entity): void {
  const state = String(e.attributes[STATE] ?? '');
  const before = states.get(e.id);
  states.set(e.id, state);
  const title = (e.attributes[TITLE] as string | undefined) ?? null;
  if (before === undefined) {
    const generation = Number(e.attributes[PLACEMENT_GENERATION] ?? 1);
    feed.publish(generation > 1 ? 'compute.arrived' : 'compute.admitted', { id: e.id, title, state, generation }, e.owner);
  } else if (before !== state) {
    feed.publish('compute.state', { id: e.id, title, from: before, to: state, message: (e.attributes[MESSAGE] as string | undefined) ?? null }, e.owner);
  }
}

/** The hypervisor's own view: a domain's state changed (behind the gateway too). */
export function domainEvents({ feed, store }: EventSourcesContext): (event: DomainEvent) => void {
  return (event) => feed.publish('domain.state', { id: event.id, from: event.previous, to: event.state }, store.get(event.id)?.owner ?? null);
}
