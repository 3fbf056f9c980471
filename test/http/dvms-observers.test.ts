import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { EventFeed, visibleTo } from '../../src/http/events-feed.js';
import { agentEvents, followMembers, MigratingComputes } from '../../src/http/events-sources.js';
import { NodeMetrics } from '../../src/http/metrics.js';
import type { Mesh } from '../../src/mesh/mesh.js';
import type { EntityStore } from '../../src/occi/store.js';
import type { AgentObserver } from '../../src/scheduler/protocol/node-agent.js';

/** The scheduler's side of the event stream and of /metrics, driven by a scripted DVMS life: what a cluster shows only after minutes of load and a crash. */

interface Family {
  name: string;
  metrics: Array<{ value?: string; labels?: Record<string, string> }>;
}
const parse = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[];

/** A mesh as the event sources read it: this node's name, members' names by key, membership events. */
class MeshStub extends EventEmitter {
  readonly key = 'key-self';
  private readonly names = new Map([['key-jp', 'node-jp'], ['key-de', 'node-de']]);
  self(): { name: string } {
    return { name: 'node-fr' };
  }
  member(key: string): { name: string } | undefined {
    const name = this.names.get(key);
    return name ? { name } : undefined;
  }
}

const ACME_VM = 'c0ffee00-0000-4000-8000-000000000001';
const store = { get: (id: string) => (id === ACME_VM ? { owner: 'acme' } : undefined) } as unknown as EntityStore;

/** A partition led here: a failover of node-jp's computes, then an overload relieved by a migration of acme's compute. */
function scriptedLife(observers: AgentObserver[]): void {
  const all = <K extends keyof AgentObserver>(hook: K, ...args: Parameters<NonNullable<AgentObserver[K]>>) => {
    for (const o of observers) (o[hook] as ((...a: typeof args) => void) | undefined)?.(...args);
  };
  const loss = { id: 'e1', kind: 'node-loss', origin: 'key-self', at: 0, lost: 'key-jp', vms: [{ id: 'v1', cpu: 50, mem: 512 }] } as const;
  all('reserved', 'key-self', 'p1', 0);
  all('eventCreated', loss);
  all('solverRun', { node: 'key-self', pid: 'p1', partitionSize: 2, wallMs: 40, chargedMs: 40, status: 'solved' });
  all('eventSolved', loss, 2, 50, 0);
  all('partitionDissolved', 'p1', 2, 60);
  all('reserved', 'key-self', null, 60);
  const overload = { id: 'e2', kind: 'overload', origin: 'key-self', at: 100 } as const;
  all('reserved', 'key-self', 'p2', 100);
  all('eventCreated', overload);
  all('solverRun', { node: 'key-self', pid: 'p2', partitionSize: 3, wallMs: 12, chargedMs: 12, status: 'solved' });
  all('eventSolved', overload, 3, 120, 1);
  all('migrationStarted', 'p2', ACME_VM, 'key-self', 'key-de', 130);
  all('migrationEnded', 'p2', ACME_VM, true, 900);
  all('partitionDissolved', 'p2', 3, 910);
  all('reserved', 'key-self', null, 910);
}

describe("the scheduler's events and metrics", () => {
  it('streams partitions, failovers and migrations in order, names nodes, and gives a migration to its owner only', () => {
    const feed = new EventFeed({ node: 'node-fr' });
    const mesh = new MeshStub() as unknown as Mesh;
    scriptedLife([agentEvents({ feed, store, mesh, migrating: new MigratingComputes() })]);
    const events = feed.since(`${feed.epoch}-0`).events;
    expect(events.map((e) => e.type)).toEqual([
      'partition.joined', 'dvms.event', 'failover.started', 'partition.solved', 'failover.solved', 'partition.released', 'partition.left',
      'partition.joined', 'dvms.event', 'partition.solved', 'migration.started', 'migration.ended', 'partition.released', 'partition.left',
    ]);
    expect(events.find((e) => e.type === 'failover.started')?.data).toEqual({ event: 'e1', lost: 'node-jp', computes: 1 });
    expect(events.find((e) => e.type === 'partition.solved')?.data).toMatchObject({ pid: 'p1', size: 2, solveMs: 40 });
    const started = events.find((e) => e.type === 'migration.started');
    expect(started).toMatchObject({ tenant: 'acme', data: { vm: ACME_VM, from: 'node-fr', to: 'node-de', phase: 'started' } });
    expect(events.find((e) => e.type === 'migration.ended')).toMatchObject({ tenant: 'acme', data: { ok: true, phase: 'done' } });
    const acme = { tenant: 'acme', admin: false } as Parameters<typeof visibleTo>[0];
    const globex = { tenant: 'globex', admin: false } as Parameters<typeof visibleTo>[0];
    expect(events.filter((e) => visibleTo(acme, e)).map((e) => e.type)).toEqual(['migration.started', 'migration.ended']);
    expect(events.filter((e) => visibleTo(globex, e))).toEqual([]);
  });

  it('streams members joining and leaving to every token, until it is stopped', () => {
    const feed = new EventFeed({ node: 'node-fr' });
    const stub = new MeshStub();
    const stop = followMembers({ feed, store, mesh: stub as unknown as Mesh, migrating: new MigratingComputes() });
    stub.emit('member-joined', { name: 'node-jp', site: 'JP', httpAddress: 'http://127.0.0.1:8083' });
    stub.emit('member-left', { name: 'node-jp' }, 'timeout');
    stop();
    stub.emit('member-joined', { name: 'node-de', site: 'DE', httpAddress: null });
    const events = feed.since(`${feed.epoch}-0`).events;
    expect(events.map((e) => [e.type, e.data])).toEqual([
      ['member.joined', { member: 'node-jp', site: 'JP', url: 'http://127.0.0.1:8083' }],
      ['member.left', { member: 'node-jp', reason: 'timeout' }],
    ]);
    expect(events.every((e) => visibleTo({ tenant: 'globex', admin: false } as Parameters<typeof visibleTo>[0], e))).toBe(true);
  });

  it('counts DVMS events by kind, settled events, solve times, partition sizes, releases and migrations with their duration', async () => {
    const metrics = new NodeMetrics();
    scriptedLife([metrics.agentObserver()]);
    // Read untyped, so that a labelled histogram's _count and _sum series keep their labels (the parser merges typed ones).
    const families = parse((await metrics.registry.metrics()).replace(/^# (?:TYPE|HELP) .*$/gm, ''));
    const value = (name: string, labels: Record<string, string> = {}) =>
      Number(families.find((f) => f.name === name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value);
    expect(value('discovery_dvms_events_total', { kind: 'node-loss' })).toBe(1);
    expect(value('discovery_dvms_events_total', { kind: 'overload' })).toBe(1);
    expect(value('discovery_dvms_events_settled_total', { kind: 'overload', outcome: 'solved' })).toBe(1);
    expect(value('discovery_dvms_solve_duration_seconds_count', { status: 'solved' })).toBe(2);
    expect(value('discovery_dvms_solve_duration_seconds_sum', { status: 'solved' })).toBeCloseTo(0.052, 6);
    expect(value('discovery_dvms_partition_size_sum')).toBe(5);
    expect(value('discovery_dvms_partitions_released_total')).toBe(2);
    expect(value('discovery_dvms_migrations_total', { outcome: 'ok' })).toBe(1);
    expect(value('discovery_dvms_migration_duration_seconds_count', { outcome: 'ok' })).toBe(1);
  });
});
