import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ReplicaStore } from '../../src/cloud/replica-store.js';
import type { Entity } from '../../src/occi/entity.js';

const compute = (id: string, title: string): Entity => ({
  id,
  kind: 'http://schemas.ogf.org/occi/infrastructure#compute',
  mixins: [],
  attributes: { 'occi.core.title': title },
  owner: 'acme',
});

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('ReplicaStore', () => {
  it('keeps the newest description per (holder, compute) and survives a reopen', () => {
    const dir = mkdtempSync(join(tmpdir(), 'replicas-'));
    dirs.push(dir);
    const s = new ReplicaStore(dir);
    expect(s.put('h1', { id: 'c1', generation: 1, version: 10, order: ['me', 'other'], records: [compute('c1', 'v10')] })).toBe(true);
    // An older version arriving late changes nothing.
    expect(s.put('h1', { id: 'c1', generation: 1, version: 9, order: ['me'], records: [compute('c1', 'v9')] })).toBe(false);
    expect(s.put('h1', { id: 'c1', generation: 2, version: 11, order: ['me', 'other'], records: [compute('c1', 'v11')] })).toBe(true);
    s.put('h2', { id: 'c1', generation: 3, version: 1, order: ['x'], records: [compute('c1', 'h2')] });
    s.claim('h1', 'c1', 'claimant');
    s.sent('mine', ['a', 'b']);
    s.close();

    const again = new ReplicaStore(dir);
    const row = again.get('h1', 'c1')!;
    expect(row).toMatchObject({ generation: 2, version: 11, order: ['me', 'other'], claimedBy: 'claimant' });
    expect(row.records[0]!.attributes['occi.core.title']).toBe('v11');
    expect(again.rowsFor('c1').map((r) => r.holder).sort()).toEqual(['h1', 'h2']);
    expect(again.holders().sort()).toEqual(['h1', 'h2']);
    expect(again.outbound()).toEqual(new Map([['mine', ['a', 'b']]]));
    // A new description from the holder clears the claim; a deletion older than the row is ignored.
    again.put('h1', { id: 'c1', generation: 2, version: 12, order: ['me'], records: [compute('c1', 'v12')] });
    expect(again.get('h1', 'c1')!.claimedBy).toBeNull();
    again.remove('h1', 'c1', 5);
    expect(again.get('h1', 'c1')).toBeDefined();
    again.remove('h1', 'c1', 13);
    expect(again.get('h1', 'c1')).toBeUndefined();
    expect(again.rowsOf('h2')).toHaveLength(1);
    again.close();
  });
});
