/**
 * Where an entity lives: a lookup with a cache.
 *
 * Why this design: ids are plain UUIDs (so that a location stays valid when an entity moves), a
 * replicated map would cost a broadcast on every creation and migration, and lookups are rare
 * once cached. A node that does not hold an id asks every member at once (`dir/has`, a
 * scatter-gather with a deadline) and caches the answer; in steady state a request costs one
 * mesh hop. A cached holder that no longer has the entity (it moved, or was deleted) is
 * forgotten and the lookup runs again, so moved entities are still found.
 *
 * With the overlay (partial views: a node knows only some members), the holders are presence
 * records on the ring directory instead (records/presence-records.ts): one lookup of bounded hops
 * whatever N. A lookup the keepers did not answer is an error, not "nobody holds it".
 */
import { LRUCache } from 'lru-cache';
import { MeshError } from './errors.js';
import type { Mesh } from './mesh.js';
import type { PresenceRecords } from './records/presence-records.js';
import { objectSchema, STRING } from './rpc-codecs.js';

export const DIRECTORY_METHOD = 'dir/has';
export const DEFAULT_LOOKUP_DEADLINE_MS = 2000;
/** Cached holders kept at most (the least recently used forgotten first). */
export const DEFAULT_CACHE_SIZE = 100_000;

export interface DirectoryOptions {
  /** Whether this node holds the entity. */
  holds: (id: string) => boolean;
  lookupDeadlineMs?: number;
  cacheSize?: number;
  /** Holders published on the ring directory (`HOLDER_PREFIX` records), asked instead of every member. */
  holders?: PresenceRecords;
}

export class EntityDirectory {
  /** Entity id → key of the member holding it. */
  private readonly cache: LRUCache<string, string>;
  private readonly deadlineMs: number;

  constructor(
    private readonly mesh: Mesh,
    private readonly opts: DirectoryOptions,
  ) {
    this.deadlineMs = opts.lookupDeadlineMs ?? DEFAULT_LOOKUP_DEADLINE_MS;
    this.cache = new LRUCache({ max: opts.cacheSize ?? DEFAULT_CACHE_SIZE });
    mesh.handle(DIRECTORY_METHOD, (payload) => this.opts.holds((payload as { id: string }).id), objectSchema({ id: STRING }));
    mesh.on('member-left', (m) => {
      const held = [...this.cache.entries()].filter(([, key]) => key === m.key);
      for (const [id] of held) this.cache.delete(id);
    });
  }

  /** The key of the member holding `id` (this node's own key when local), or undefined. */
  async locate(id: string): Promise<string | undefined> {
    if (this.opts.holds(id)) return this.mesh.key;
    const cached = this.cache.get(id);
    if (cached && this.mesh.member(cached)) return cached;
    const holder = this.opts.holders ? await this.onTheRing(id) : await this.askEveryone(id);
    if (holder) this.remember(id, holder);
    return holder;
  }

  private async askEveryone(id: string): Promise<string | undefined> {
    const { replies } = await this.mesh.gather<boolean>(DIRECTORY_METHOD, { id }, { deadlineMs: this.deadlineMs, includeSelf: false });
    return replies.find((r) => r.value === true)?.key;
  }

  /** The first holder on record (during a move both ends may be: a wrong one answers 404 and is forgotten). */
  private async onTheRing(id: string): Promise<string | undefined> {
    const { ok, keys } = await this.opts.holders!.who(id, 16);
    if (keys.length === 0 && !ok) throw new MeshError('TIMEOUT', `the directory keepers of ${id} did not answer`);
    return keys[0];
  }

  /** The cached holder turned out wrong (404 there): look it up afresh next time. */
  forget(id: string): void {
    this.cache.delete(id);
  }

  remember(id: string, key: string): void {
    this.cache.set(id, key);
  }
}
