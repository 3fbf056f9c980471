/** Replica descriptions on disk (replicas.db): what this node keeps for others, and where its own computes were sent. */
import type Database from 'better-sqlite3';
import type { Entity } from '../occi/entity.js';
import { PLACEMENT_GENERATION } from '../occi/placement-model.js';
import { openSqlite } from '../lib/sqlite.js';

export const REPLICAS_FILE = 'replicas.db';

/** The schema of replicas.db, one migration per version (src/lib/sqlite.ts). */
const REPLICA_MIGRATIONS = [
  `CREATE TABLE IF NOT EXISTS replica (
     holder TEXT NOT NULL, id TEXT NOT NULL, generation INTEGER NOT NULL, version INTEGER NOT NULL,
     ord TEXT NOT NULL, records TEXT NOT NULL, claimed_by TEXT, claimed_at INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (holder, id));
   CREATE TABLE IF NOT EXISTS outbound (id TEXT PRIMARY KEY, ord TEXT NOT NULL);`,
  // The generation each compute runs at elsewhere since it was restarted there: older copies are stale.
  `CREATE TABLE superseded (id TEXT PRIMARY KEY, generation INTEGER NOT NULL);`,
];

/** One compute's description on a replica holder. */
export interface ReplicaRow {
  holder: string;
  id: string;
  generation: number;
  version: number;
  /** The holder's replica holders for it, nearest first (who inherits it when the holder is lost). */
  order: string[];
  /** The compute, then its links. */
  records: Entity[];
  /** The node that claimed it to restart it after the holder's loss, and when (ms since epoch). */
  claimedBy: string | null;
  claimedAt: number;
}

/** A description as sent: `records` null when the compute was deleted or left the holder. */
export interface ReplicaItem {
  id: string;
  generation: number;
  version: number;
  order: string[];
  records: Entity[] | null;
}

/** A majority of a replica set of `size` nodes (the holder and its replica holders). */
export function majority(size: number): number {
  return Math.floor(size / 2) + 1;
}

export function generationOf(compute: Entity | undefined): number {
  const g = Number(compute?.attributes[PLACEMENT_GENERATION] ?? 1);
  return Number.isFinite(g) ? g : 1;
}

/** The descriptions this node keeps for others, and where its own computes were sent. */
export class ReplicaStore {
  private readonly db: Database.Database;
  private readonly st;

  constructor(dataDir: string | ':memory:') {
    this.db = openSqlite({ dataDir, file: REPLICAS_FILE, migrations: REPLICA_MIGRATIONS });
    this.st = {
      get: this.db.prepare('SELECT * FROM replica WHERE holder = ? AND id = ?'),
      put: this.db.prepare(
        `INSERT INTO replica (holder, id, generation, version, ord, records, claimed_by, claimed_at) VALUES (?, ?, ?, ?, ?, ?, NULL, 0)
         ON CONFLICT(holder, id) DO UPDATE SET generation = excluded.generation, version = excluded.version, ord = excluded.ord,
         records = excluded.records, claimed_by = NULL, claimed_at = 0`,
      ),
      remove: this.db.prepare('DELETE FROM replica WHERE holder = ? AND id = ?'),
      ofHolder: this.db.prepare('SELECT * FROM replica WHERE holder = ?'),
      ofId: this.db.prepare('SELECT * FROM replica WHERE id = ?'),
      holders: this.db.prepare('SELECT DISTINCT holder FROM replica'),
      claim: this.db.prepare('UPDATE replica SET claimed_by = ?, claimed_at = ? WHERE holder = ? AND id = ?'),
      putOut: this.db.prepare('INSERT INTO outbound (id, ord) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET ord = excluded.ord'),
      removeOut: this.db.prepare('DELETE FROM outbound WHERE id = ?'),
      allOut: this.db.prepare('SELECT id, ord FROM outbound'),
      supersede: this.db.prepare('INSERT INTO superseded (id, generation) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET generation = max(generation, excluded.generation)'),
      superseded: this.db.prepare('SELECT generation FROM superseded WHERE id = ?').pluck(),
    };
  }

  get(holder: string, id: string): ReplicaRow | undefined {
    const r = this.st.get.get(holder, id) as RawRow | undefined;
    return r && row(r);
  }

  /** Stores a holder's description unless a newer one is already here; true when stored. */
  put(holder: string, item: ReplicaItem & { records: Entity[] }): boolean {
    const known = this.get(holder, item.id);
    if (known && known.version >= item.version) return false;
    this.st.put.run(holder, item.id, item.generation, item.version, JSON.stringify(item.order), JSON.stringify(item.records));
    return true;
  }

  /** Forgets a holder's description (unless `version` is given and an newer one is here). */
  remove(holder: string, id: string, version?: number): void {
    const known = this.get(holder, id);
    if (!known || (version !== undefined && known.version > version)) return;
    this.st.remove.run(holder, id);
  }

  rowsOf(holder: string): ReplicaRow[] {
    return (this.st.ofHolder.all(holder) as RawRow[]).map(row);
  }

  rowsFor(id: string): ReplicaRow[] {
    return (this.st.ofId.all(id) as RawRow[]).map(row);
  }

  holders(): string[] {
    return (this.st.holders.all() as Array<{ holder: string }>).map((r) => r.holder);
  }

  claim(holder: string, id: string, by: string | null): void {
    this.st.claim.run(by, by === null ? 0 : Date.now(), holder, id);
  }

  /** Compute `id` runs at `generation` on another node now: copies of older generations are stale. */
  supersede(id: string, generation: number): void {
    this.st.supersede.run(id, generation);
  }

  /** The newest generation compute `id` is known to run at after a restart elsewhere (0: none known). */
  supersededGeneration(id: string): number {
    return (this.st.superseded.get(id) as number | undefined) ?? 0;
  }

  /** This node's own compute `id` was last sent to `order`. */
  sent(id: string, order: string[] | null): void {
    if (order) this.st.putOut.run(id, JSON.stringify(order));
    else this.st.removeOut.run(id);
  }

  /** Where this node's computes were last sent (its fencing asks them after a restart). */
  outbound(): Map<string, string[]> {
    return new Map((this.st.allOut.all() as Array<{ id: string; ord: string }>).map((r) => [r.id, JSON.parse(r.ord) as string[]]));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

interface RawRow {
  holder: string;
  id: string;
  generation: number;
  version: number;
  ord: string;
  records: string;
  claimed_by: string | null;
  claimed_at: number;
}

function row(r: RawRow): ReplicaRow {
  return {
    holder: r.holder,
    id: r.id,
    generation: r.generation,
    version: r.version,
    order: JSON.parse(r.ord) as string[],
    records: JSON.parse(r.records) as Entity[],
    claimedBy: r.claimed_by,
    claimedAt: r.claimed_at,
  };
}
