/**
 * What a replica holder takes (src/cloud/replicas.ts): the descriptions and deletions a holder
 * sends, except from a holder whose copy another node took over since (it was frozen or cut off
 * while the compute was restarted elsewhere); those it answers as moved, so that the stale
 * holder's write is not acknowledged.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ReplicaStore } from '../../src/cloud/replica-store.js';
import { Replicator } from '../../src/cloud/replicas.js';
import type { Custody } from '../../src/cloud/custody.js';
import type { Mesh } from '../../src/mesh/mesh.js';
import type { Entity } from '../../src/occi/entity.js';
import type { EntityStore } from '../../src/occi/store.js';

const COMPUTE = 'http://schemas.ogf.org/occi/infrastructure#compute';
const ID = '0f6c1c3e-0000-4000-8000-0000000000aa';

function compute(generation: number, title: string): Entity {
  return { id: ID, kind: COMPUTE, mixins: [], owner: 'default', attributes: { 'occi.core.id': ID, 'occi.core.title': title, 'discovery.placement.generation': generation } };
}

function holder() {
  const replicas = new ReplicaStore(':memory:');
  let receive: (payload: unknown, from: string) => unknown = () => undefined;
  const mesh = { key: 'R', member: (k: string) => ({ key: k, name: k }), handle: (_m: string, fn: typeof receive) => (receive = fn) } as unknown as Mesh;
  new Replicator({ mesh, replicas, custody: {} as Custody, store: {} as EntityStore, logger: pino({ level: 'silent' }) });
  const send = (from: string, item: object) => receive({ items: [{ id: ID, version: Date.now(), order: [], ...item }] }, from) as { ok: boolean; moved: string[] };
  return { replicas, send };
}

describe('a replica holder', () => {
  it('takes descriptions and deletions from the holder of the newest generation', () => {
    const { replicas, send } = holder();
    expect(send('A', { generation: 1, records: [compute(1, 'a')] }).moved).toEqual([]);
    expect(replicas.get('A', ID)?.generation).toBe(1);
    expect(send('A', { generation: 0, records: null }).moved).toEqual([]);
    expect(replicas.get('A', ID)).toBeUndefined();
  });

  it("refuses, as moved, a stale holder's description and deletion once another node runs a newer generation", () => {
    const { replicas, send } = holder();
    send('A', { generation: 1, records: [compute(1, 'a')] });
    send('B', { generation: 2, records: [compute(2, 'restarted on B')] });
    expect(send('A', { generation: 1, records: [compute(1, 'late write on A')] }).moved).toEqual([ID]);
    expect(replicas.get('A', ID)?.records[0]?.attributes['occi.core.title']).toBe('a');
    expect(send('A', { generation: 0, records: null }).moved).toEqual([ID]);
    expect(replicas.get('B', ID)?.generation).toBe(2);
    expect(send('B', { generation: 0, records: null }).moved).toEqual([]);
    expect(replicas.get('B', ID)).toBeUndefined();
  });

  it('refuses a deletion from a holder whose compute was superseded even once its own row is gone', () => {
    const { replicas, send } = holder();
    replicas.supersede(ID, 3);
    expect(send('A', { generation: 0, records: null }).moved).toEqual([ID]);
  });
});
