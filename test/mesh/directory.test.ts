import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { DIRECTORY_METHOD, EntityDirectory } from '../../src/mesh/directory.js';
import type { GatherResult, JsonValue, Member, Mesh } from '../../src/mesh/mesh.js';

/** The part of a Mesh the directory uses: members that answer `dir/has` from their own sets of ids. */
class FakeMesh extends EventEmitter {
  readonly key = 'self';
  readonly held = new Map<string, Set<string>>();
  lookups = 0;

  handle(method: string): this {
    expect(method).toBe(DIRECTORY_METHOD);
    return this;
  }

  member(key: string): Member | undefined {
    return this.held.has(key) ? ({ key, name: key } as Member) : undefined;
  }

  async gather<T>(method: string, payload: JsonValue): Promise<GatherResult<T>> {
    expect(method).toBe(DIRECTORY_METHOD);
    this.lookups++;
    const id = (payload as { id: string }).id;
    const replies = [...this.held].map(([key, ids]) => ({ key, name: key, value: ids.has(id) as T }));
    return { replies, missing: [] };
  }

  leave(key: string): void {
    this.held.delete(key);
    this.emit('member-left', { key, name: key });
  }
}

function directory(fake: FakeMesh, cacheSize?: number): EntityDirectory {
  return new EntityDirectory(fake as unknown as Mesh, { holds: () => false, ...(cacheSize !== undefined ? { cacheSize } : {}) });
}

describe('entity directory cache', () => {
  it('asks the members once, then answers from the cache', async () => {
    const fake = new FakeMesh();
    fake.held.set('m1', new Set(['vm-1']));
    const dir = directory(fake);
    await expect(dir.locate('vm-1')).resolves.toBe('m1');
    await expect(dir.locate('vm-1')).resolves.toBe('m1');
    expect(fake.lookups).toBe(1);
    await expect(dir.locate('vm-2')).resolves.toBeUndefined();
  });

  it('keeps at most cacheSize holders, forgetting the least recently used', async () => {
    const fake = new FakeMesh();
    fake.held.set('m1', new Set(['a', 'b', 'c']));
    const dir = directory(fake, 2);
    await dir.locate('a');
    await dir.locate('b');
    await dir.locate('a'); // a is now the most recently used
    await dir.locate('c'); // evicts b
    expect(fake.lookups).toBe(3);
    await dir.locate('a');
    expect(fake.lookups).toBe(3);
    await dir.locate('b');
    expect(fake.lookups).toBe(4);
  });

  it('forgets the holders of a member that left, and a holder said to be wrong', async () => {
    const fake = new FakeMesh();
    fake.held.set('m1', new Set(['a']));
    fake.held.set('m2', new Set(['b']));
    const dir = directory(fake);
    await dir.locate('a');
    await dir.locate('b');
    fake.leave('m1');
    // m1 comes back without `a`, which m2 now holds: the cache must not name m1 any more.
    fake.held.set('m1', new Set());
    fake.held.set('m2', new Set(['a', 'b']));
    await expect(dir.locate('a')).resolves.toBe('m2');
    expect(fake.lookups).toBe(3);
    dir.forget('b');
    await expect(dir.locate('b')).resolves.toBe('m2');
    expect(fake.lookups).toBe(4);
  });
});
