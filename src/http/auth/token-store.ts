/**
 * What a node keeps about tokens, in its own SQLite file `<dataDir>/auth.db` (apart from the
 * OCCI store): token metadata (never the token itself), revocations and tenant quotas. The three
 * merge without conflicts, so that members replicate them by exchanging whole states or deltas:
 * - token metadata and revocations only grow (a revoked token stays revoked);
 * - a tenant's quota is a last-writer-wins register ordered by (updatedAt, origin).
 *
 * @example
 *   const store = new TokenStore(dataDir);
 *   store.recordToken({ tid, tenant: 'acme', admin: false, created: Date.now(), expires: null });
 *   store.revoke(tid);            // true when it was not revoked yet
 *   store.isRevoked(tid);         // true
 */
import type Database from 'better-sqlite3';
import { openSqlite } from '../../lib/sqlite.js';

export const AUTH_DB_FILE = 'auth.db';

/** The schema of auth.db, one migration per version (src/lib/sqlite.ts). */
const AUTH_MIGRATIONS = [
  `CREATE TABLE IF NOT EXISTS token (tid TEXT PRIMARY KEY, tenant TEXT NOT NULL, admin INTEGER NOT NULL, created INTEGER NOT NULL, expires INTEGER);
   CREATE TABLE IF NOT EXISTS revocation (tid TEXT PRIMARY KEY, at INTEGER NOT NULL);
   CREATE TABLE IF NOT EXISTS quota (tenant TEXT PRIMARY KEY, doc TEXT NOT NULL, updated_at INTEGER NOT NULL, origin TEXT NOT NULL);
   CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
];

export interface TokenMeta {
  tid: string;
  tenant: string;
  admin: boolean;
  /** ms since the epoch */
  created: number;
  /** ms since the epoch, null = until revoked */
  expires: number | null;
}

export interface Revocation {
  tid: string;
  /** ms since the epoch */
  at: number;
}

/** Limits of one tenant; an absent limit is no limit. Memory and storage in GiB. */
export interface Quota {
  instances?: number;
  cores?: number;
  memoryGiB?: number;
  storageGiB?: number;
}

export const QUOTA_NAMES = ['instances', 'cores', 'memoryGiB', 'storageGiB'] as const;
export type QuotaName = (typeof QUOTA_NAMES)[number];

export interface QuotaRecord {
  tenant: string;
  quota: Quota;
  /** ms since the epoch of the write, and the writer (node key or `cli`): the LWW order. */
  updatedAt: number;
  origin: string;
}

/** Everything replicated, as exchanged between members. */
export interface AuthState {
  tokens: TokenMeta[];
  revocations: Revocation[];
  quotas: QuotaRecord[];
}

export class TokenStore {
  private readonly db: Database.Database;
  private readonly st;

  constructor(dataDir: string | ':memory:') {
    // The token CLI may write while the node runs.
    this.db = openSqlite({ dataDir, file: AUTH_DB_FILE, migrations: AUTH_MIGRATIONS, busyTimeoutMs: 5000 });
    this.st = {
      putToken: this.db.prepare('INSERT OR IGNORE INTO token (tid, tenant, admin, created, expires) VALUES (?, ?, ?, ?, ?)'),
      tokens: this.db.prepare('SELECT tid, tenant, admin, created, expires FROM token ORDER BY created, tid'),
      revoke: this.db.prepare('INSERT OR IGNORE INTO revocation (tid, at) VALUES (?, ?)'),
      isRevoked: this.db.prepare('SELECT 1 FROM revocation WHERE tid = ?').pluck(),
      revocations: this.db.prepare('SELECT tid, at FROM revocation ORDER BY at, tid'),
      quota: this.db.prepare('SELECT tenant, doc, updated_at, origin FROM quota WHERE tenant = ?'),
      quotas: this.db.prepare('SELECT tenant, doc, updated_at, origin FROM quota ORDER BY tenant'),
      putQuota: this.db.prepare('INSERT INTO quota (tenant, doc, updated_at, origin) VALUES (?, ?, ?, ?) ON CONFLICT(tenant) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at, origin = excluded.origin'),
      getMeta: this.db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      putMeta: this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
    };
  }

  /** Records a token's metadata (idempotent); true when it was new. */
  recordToken(t: TokenMeta): boolean {
    return this.st.putToken.run(t.tid, t.tenant, t.admin ? 1 : 0, t.created, t.expires).changes > 0;
  }

  tokens(): TokenMeta[] {
    return (this.st.tokens.all() as Array<{ tid: string; tenant: string; admin: number; created: number; expires: number | null }>).map((r) => ({ ...r, admin: r.admin === 1 }));
  }

  /** True when the token was not revoked yet. */
  revoke(tid: string, at = Date.now()): boolean {
    return this.st.revoke.run(tid, at).changes > 0;
  }

  isRevoked(tid: string): boolean {
    return this.st.isRevoked.get(tid) !== undefined;
  }

  revocations(): Revocation[] {
    return this.st.revocations.all() as Revocation[];
  }

  quota(tenant: string): QuotaRecord | undefined {
    const row = this.st.quota.get(tenant) as QuotaRow | undefined;
    return row ? quotaOf(row) : undefined;
  }

  quotas(): QuotaRecord[] {
    return (this.st.quotas.all() as QuotaRow[]).map(quotaOf);
  }

  /** Applies a quota write if it is newer than the one kept (LWW); true when applied. */
  putQuota(r: QuotaRecord): boolean {
    const current = this.quota(r.tenant);
    if (current && !newer(r, current)) return false;
    this.st.putQuota.run(r.tenant, JSON.stringify(r.quota), r.updatedAt, r.origin);
    return true;
  }

  state(): AuthState {
    return { tokens: this.tokens(), revocations: this.revocations(), quotas: this.quotas() };
  }

  /** Merges another member's state or delta; answers what was new here. */
  merge(s: Partial<AuthState>): AuthState {
    const fresh: AuthState = { tokens: [], revocations: [], quotas: [] };
    this.db.transaction(() => {
      for (const t of s.tokens ?? []) if (this.recordToken(t)) fresh.tokens.push(t);
      for (const r of s.revocations ?? []) if (this.revoke(r.tid, r.at)) fresh.revocations.push(r);
      for (const q of s.quotas ?? []) if (this.putQuota(q)) fresh.quotas.push(q);
    })();
    return fresh;
  }

  meta(key: string): string | undefined {
    return this.st.getMeta.get(key) as string | undefined;
  }

  setMeta(key: string, value: string): void {
    this.st.putMeta.run(key, value);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

interface QuotaRow {
  tenant: string;
  doc: string;
  updated_at: number;
  origin: string;
}

function quotaOf(row: QuotaRow): QuotaRecord {
  return { tenant: row.tenant, quota: JSON.parse(row.doc) as Quota, updatedAt: row.updated_at, origin: row.origin };
}

function newer(a: QuotaRecord, b: QuotaRecord): boolean {
  return a.updatedAt > b.updatedAt || (a.updatedAt === b.updatedAt && a.origin > b.origin);
}
