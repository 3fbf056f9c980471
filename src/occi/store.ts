import type Database from 'better-sqlite3';
import { openSqlite } from '../lib/sqlite.js';
import type { Mixin } from './category.js';
import { type Entity, linkEnds } from './entity.js';

export const ENTITIES_FILE = 'entities.db';

/** The schema of entities.db, one migration per version (src/lib/sqlite.ts). */
const ENTITY_MIGRATIONS = [
  `CREATE TABLE IF NOT EXISTS entity (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
   CREATE TABLE IF NOT EXISTS user_mixin (id TEXT PRIMARY KEY, doc TEXT NOT NULL);`,
];

/** One atomic change: everything in it is written in one transaction, or nothing is. */
export interface Change {
  put?: Entity[];
  remove?: string[];
  putMixins?: Mixin[];
  removeMixins?: string[];
}

/**
 * Called after a change is committed, with the entities it removed as they were. A returned
 * promise is awaited by `settled()` (replication to other nodes before the client's answer); one
 * that rejects makes `settled(keys)` reject for the requests whose keys the change touched (the
 * change is made here, but its answer cannot say it is safe).
 */
export type ChangeListener = (change: Change, removed: Entity[]) => Promise<void> | void;

/**
 * Durable entity store: SQLite (WAL, synchronous=FULL) on disk, mirrored in memory for reads.
 * A change is committed and fsynced before `apply` returns, so an acknowledged write survives a
 * crash; the memory mirror is updated only after the commit succeeded.
 */
export class EntityStore {
  private readonly db: Database.Database;
  private readonly entities = new Map<string, Entity>();
  private readonly mixins = new Map<string, Mixin>();
  /** Link ids by the location of either end, so a resource finds its links without a scan. */
  private readonly linksByEnd = new Map<string, Set<string>>();
  private readonly statements;
  private readonly listeners = new Set<ChangeListener>();
  private readonly pending = new Set<Promise<void>>();
  /** The error of a listener on the last change of an entity, until a request on it reads it. */
  private readonly failures = new Map<string, unknown>();

  constructor(dataDir: string | ':memory:') {
    this.db = openSqlite({ dataDir, file: ENTITIES_FILE, migrations: ENTITY_MIGRATIONS });
    this.statements = {
      putEntity: this.db.prepare('INSERT INTO entity (id, doc) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc'),
      removeEntity: this.db.prepare('DELETE FROM entity WHERE id = ?'),
      putMixin: this.db.prepare('INSERT INTO user_mixin (id, doc) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc'),
      removeMixin: this.db.prepare('DELETE FROM user_mixin WHERE id = ?'),
    };
    for (const row of this.db.prepare('SELECT doc FROM entity').all() as Array<{ doc: string }>) {
      this.remember(JSON.parse(row.doc) as Entity);
    }
    for (const row of this.db.prepare('SELECT id, doc FROM user_mixin').all() as Array<{ id: string; doc: string }>) {
      this.mixins.set(row.id, JSON.parse(row.doc) as Mixin);
    }
  }

  get(id: string): Entity | undefined {
    return this.entities.get(id);
  }

  /** Links with an end (source or target) at this location. */
  linksAt(location: string): Entity[] {
    return [...(this.linksByEnd.get(location) ?? [])].map((id) => this.entities.get(id)!);
  }

  all(): IterableIterator<Entity> {
    return this.entities.values();
  }

  userMixins(): Mixin[] {
    return [...this.mixins.values()];
  }

  apply(change: Change): void {
    const { putEntity, removeEntity, putMixin, removeMixin } = this.statements;
    this.db.transaction(() => {
      for (const e of change.put ?? []) putEntity.run(e.id, JSON.stringify(e));
      for (const id of change.remove ?? []) removeEntity.run(id);
      for (const m of change.putMixins ?? []) putMixin.run(m.scheme + m.term, JSON.stringify(m));
      for (const id of change.removeMixins ?? []) removeMixin.run(id);
    })();
    const removed = (change.remove ?? []).map((id) => this.entities.get(id)).filter((e): e is Entity => e !== undefined);
    for (const id of change.remove ?? []) this.forget(id);
    for (const e of change.put ?? []) {
      this.forget(e.id);
      this.remember(e);
    }
    for (const id of change.removeMixins ?? []) this.mixins.delete(id);
    for (const m of change.putMixins ?? []) this.mixins.set(m.scheme + m.term, m);
    const touched = [...(change.put ?? []).map((e) => e.id), ...(change.remove ?? [])];
    for (const listener of this.listeners) {
      const done = Promise.resolve()
        .then(() => listener(change, removed))
        .catch((err: unknown) => {
          for (const id of touched) this.failures.set(id, err);
        });
      this.pending.add(done);
      void done.finally(() => this.pending.delete(done));
    }
  }

  /** Follows committed changes; returns the function that stops it. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /**
   * Resolves when the listeners' work for the changes committed so far is done; rejects with a
   * listener's error when it failed on a change touching one of `keys` (reported once).
   */
  async settled(keys: Iterable<string> = []): Promise<void> {
    if (this.pending.size > 0) await Promise.all([...this.pending]);
    for (const k of keys) {
      const err = this.failures.get(k);
      if (err === undefined) continue;
      this.failures.delete(k);
      throw err;
    }
  }

  private remember(e: Entity): void {
    this.entities.set(e.id, e);
    const ends = linkEnds(e);
    if (!ends) return;
    for (const end of [ends.source, ends.target]) {
      let set = this.linksByEnd.get(end);
      if (!set) this.linksByEnd.set(end, (set = new Set()));
      set.add(e.id);
    }
  }

  private forget(id: string): void {
    const e = this.entities.get(id);
    if (!e) return;
    this.entities.delete(id);
    const ends = linkEnds(e);
    if (!ends) return;
    for (const end of [ends.source, ends.target]) {
      const set = this.linksByEnd.get(end);
      set?.delete(id);
      if (set?.size === 0) this.linksByEnd.delete(end);
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
