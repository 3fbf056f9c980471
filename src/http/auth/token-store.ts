/**
 * What a node keeps about tokens, in its own SQLite file `<dataDir>/auth.db` (apart from the
 * OCCI store): token metadata (never the token itself), revocations of tokens and of issuer keys,
 * which node each issuer key belongs to, and tenant quotas. They merge without conflicts, so that
 * members replicate them by exchanging whole states or deltas, and compare them by a digest:
 * - token metadata, revocations and key bindings only grow (a revoked token stays revoked);
 * - a tenant's quota is a last-writer-wins register ordered by (updatedAt, origin).
 *
 * @example
 *   const store = new TokenStore(dataDir);
 *   store.recordToken({ tid, tenant: 'acme', admin: false, created: Date.now(), expires: null });
 *   store.revoke(tid);            // true when it was not revoked yet
 *   store.isRevoked(tid);         // true
 */
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { openSqlite } from '../../lib/sqlite.js';

export const AUTH_DB_FILE = 'auth.db';

/** The schema of auth.db, one migration per version (src/lib/sqlite.ts). */
const AUTH_MIGRATIONS = [
  `CREATE TABLE IF NOT EXISTS token (tid TEXT PRIMARY KEY, tenant TEXT NOT NULL, admin INTEGER NOT NULL, created INTEGER NOT NULL, expires INTEGER);
   CREATE TABLE IF NOT EXISTS revocation (tid TEXT PRIMARY KEY, at INTEGER NOT NULL);
   CREATE TABLE IF NOT EXISTS quota (tenant TEXT PRIMARY KEY, doc TEXT NOT NULL, updated_at INTEGER NOT NULL, origin TEXT NOT NULL);
   CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  `CREATE TABLE IF NOT EXISTS key_revocation (kid TEXT PRIMARY KEY, at INTEGER NOT NULL);
   CREATE TABLE IF NOT EXISTS issuer (kid TEXT PRIMARY KEY, node TEXT NOT NULL);`,
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

/** An issuer key refused from then on, whoever signed with it. */
export interface KeyRevocation {
  kid: string;
  /** ms since the epoch */
  at: number;
}

/** The node (mesh key) an issuer key belongs to: revoking the node revokes the key. */
export interface IssuerBinding {
  kid: string;
  node: string;
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
  keyRevocations: KeyRevocation[];
  issuers: IssuerBinding[];
}

const EMPTY_STATE = (): AuthState => ({ tokens: [], revocations: [], quotas: [], keyRevocations: [], issuers: [] });

export class TokenStore {
  private readonly db: Database.Database;
  private readonly st;
  /** The state's digest, computed when asked and forgotten at every change made here. */
  private cachedDigest: string | undefined;

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
      revokeKey: this.db.prepare('INSERT OR IGNORE INTO key_revocation (kid, at) VALUES (?, ?)'),
      isKeyRevoked: this.db.prepare('SELECT 1 FROM key_revocation WHERE kid = ?').pluck(),
      keyRevocations: this.db.prepare('SELECT kid, at FROM key_revocation ORDER BY kid'),
      bindIssuer: this.db.prepare('INSERT OR IGNORE INTO issuer (kid, node) VALUES (?, ?)'),
      issuers: this.db.prepare('SELECT kid, node FROM issuer ORDER BY kid'),
      getMeta: this.db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      putMeta: this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
    };
  }

  /** Records a token's metadata (idempotent); true when it was new. */
  recordToken(t: TokenMeta): boolean {
    return this.changed(this.st.putToken.run(t.tid, t.tenant, t.admin ? 1 : 0, t.created, t.expires).changes > 0);
  }

  tokens(): TokenMeta[] {
    return (this.st.tokens.all() as Array<{ tid: string; tenant: string; admin: number; created: number; expires: number | null }>).map((r) => ({ ...r, admin: r.admin === 1 }));
  }

  /** True when the token was not revoked yet. */
  revoke(tid: string, at = Date.now()): boolean {
    return this.changed(this.st.revoke.run(tid, at).changes > 0);
  }

  /** Refuses every token signed with this issuer key; true when it was not revoked yet. */
  revokeKey(kid: string, at = Date.now()): boolean {
    return this.changed(this.st.revokeKey.run(kid, at).changes > 0);
  }

  isKeyRevoked(kid: string): boolean {
    return this.st.isKeyRevoked.get(kid) !== undefined;
  }

  keyRevocations(): KeyRevocation[] {
    return this.st.keyRevocations.all() as KeyRevocation[];
  }

  /** Records that an issuer key belongs to a node (the first binding of a kid stays). */
  bindIssuer(b: IssuerBinding): boolean {
    return this.changed(this.st.bindIssuer.run(b.kid, b.node).changes > 0);
  }

  issuers(): IssuerBinding[] {
    return this.st.issuers.all() as IssuerBinding[];
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
    return this.changed(true);
  }

  state(): AuthState {
    return { tokens: this.tokens(), revocations: this.revocations(), quotas: this.quotas(), keyRevocations: this.keyRevocations(), issuers: this.issuers() };
  }

  /**
   * A digest of the whole state (sha256 of its canonical JSON): two members hold the same state
   * when their digests are equal. A revocation counts by its id only: two members that revoked
   * the same token at different times hold the same state. Another process (the token CLI) writing auth.db is seen at the
   * next change made here or after `forgetDigest`.
   */
  digest(): string {
    if (this.cachedDigest) return this.cachedDigest;
    const s = this.state();
    const canonical = { ...s, revocations: s.revocations.map((r) => r.tid).sort(), keyRevocations: s.keyRevocations.map((k) => k.kid) };
    return (this.cachedDigest = createHash('sha256').update(JSON.stringify(canonical)).digest('base64url'));
  }

  forgetDigest(): void {
    this.cachedDigest = undefined;
  }

  /** Merges another member's state or delta; answers what was new here. */
  merge(s: Partial<AuthState>): AuthState {
    const fresh = EMPTY_STATE();
    this.db.transaction(() => {
      for (const t of s.tokens ?? []) if (this.recordToken(t)) fresh.tokens.push(t);
      for (const r of s.revocations ?? []) if (this.revoke(r.tid, r.at)) fresh.revocations.push(r);
      for (const q of s.quotas ?? []) if (this.putQuota(q)) fresh.quotas.push(q);
      for (const k of s.keyRevocations ?? []) if (this.revokeKey(k.kid, k.at)) fresh.keyRevocations.push(k);
      for (const b of s.issuers ?? []) if (this.bindIssuer(b)) fresh.issuers.push(b);
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

  private changed(yes: boolean): boolean {
    if (yes) this.cachedDigest = undefined;
    return yes;
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
