/**
 * Replication of the token store over the mesh (revocations, token metadata, quotas). Every
 * member holds the whole state; a change made here is pushed to every member at once
 * (`auth/delta`), and a member that joins is asked for its whole state (`auth/state`) — both
 * ends do so, so a node that missed pushes while it was away catches up when it comes back.
 * The merge is conflict-free (token-store.ts), so order and repetition do not matter. Only
 * members reach these handlers: the mesh refuses anyone without the cluster secret or revoked.
 *
 * @example
 *   const replication = new AuthReplication({ mesh, store, logger });
 *   replication.publish({ revocations: [{ tid, at: Date.now() }] });
 */
import type { Logger } from 'pino';
import type { JsonValue, Member, Mesh } from '../../mesh/mesh.js';
import { type AuthState, type Quota, QUOTA_NAMES, type TokenStore } from './token-store.js';
import { TENANT_PATTERN } from './token.js';

export const STATE_METHOD = 'auth/state';
export const DELTA_METHOD = 'auth/delta';
export const DEFAULT_REPLICATION_TIMEOUT_MS = 5000;

export interface AuthReplicationOptions {
  mesh: Mesh;
  store: TokenStore;
  logger: Logger;
  timeoutMs?: number;
}

export class AuthReplication {
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;
  private readonly onJoin = (m: Member) => this.track(this.pull(m));

  constructor(private readonly opts: AuthReplicationOptions) {
    const { mesh, store } = opts;
    mesh.handle(STATE_METHOD, () => store.state() as unknown as JsonValue);
    mesh.handle(DELTA_METHOD, (payload, fromKey) => {
      const fresh = store.merge(sanitize(payload));
      if (fresh.revocations.length || fresh.quotas.length) opts.logger.info({ member: fromKey.slice(0, 8), revocations: fresh.revocations.length, quotas: fresh.quotas.length }, 'auth state updated by a member');
      return null;
    });
    mesh.on('member-joined', this.onJoin);
  }

  /** Pushes a local change to every member; resolves when each answered or failed (never rejects). */
  publish(delta: Partial<AuthState>): Promise<void> {
    const { mesh, logger } = this.opts;
    const done = Promise.all(
      mesh.members().map((m) =>
        mesh.request(m.key, DELTA_METHOD, delta as unknown as JsonValue, { timeoutMs: this.opts.timeoutMs ?? DEFAULT_REPLICATION_TIMEOUT_MS, idempotent: true }).catch((err: unknown) => {
          // The member pulls the whole state when it comes back.
          logger.warn({ member: m.name, err: (err as Error).message }, 'auth change not delivered to a member');
        }),
      ),
    ).then(() => undefined);
    return this.track(done);
  }

  /** Merges a member's whole state. */
  async pull(member: Member): Promise<void> {
    if (this.closed) return;
    try {
      const state = await this.opts.mesh.request(member.key, STATE_METHOD, null, { timeoutMs: this.opts.timeoutMs ?? DEFAULT_REPLICATION_TIMEOUT_MS, idempotent: true });
      const fresh = this.opts.store.merge(sanitize(state));
      if (fresh.revocations.length || fresh.quotas.length || fresh.tokens.length) {
        this.opts.logger.info({ member: member.name, tokens: fresh.tokens.length, revocations: fresh.revocations.length, quotas: fresh.quotas.length }, 'auth state merged from a member');
      }
    } catch (err) {
      if (!this.closed) this.opts.logger.warn({ member: member.name, err: (err as Error).message }, 'could not pull the auth state of a member');
    }
  }

  /** Resolves once every push and pull started so far has finished (a sync point for tests). */
  async flushed(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  close(): void {
    this.closed = true;
    this.opts.mesh.off('member-joined', this.onJoin);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }
}

/** Only well-formed records are merged, whatever a member sends. */
function sanitize(v: unknown): Partial<AuthState> {
  const o = (v ?? {}) as Record<string, unknown>;
  const list = (x: unknown) => (Array.isArray(x) ? (x as Array<Record<string, unknown>>).filter((e) => e && typeof e === 'object') : []);
  const int = (x: unknown): x is number => Number.isSafeInteger(x);
  return {
    tokens: list(o['tokens'])
      .filter((t) => typeof t['tid'] === 'string' && typeof t['tenant'] === 'string' && TENANT_PATTERN.test(t['tenant'] as string) && typeof t['admin'] === 'boolean' && int(t['created']) && (t['expires'] === null || int(t['expires'])))
      .map((t) => ({ tid: t['tid'] as string, tenant: t['tenant'] as string, admin: t['admin'] as boolean, created: t['created'] as number, expires: t['expires'] as number | null })),
    revocations: list(o['revocations'])
      .filter((r) => typeof r['tid'] === 'string' && int(r['at']))
      .map((r) => ({ tid: r['tid'] as string, at: r['at'] as number })),
    quotas: list(o['quotas'])
      .filter((q) => typeof q['tenant'] === 'string' && TENANT_PATTERN.test(q['tenant'] as string) && int(q['updatedAt']) && typeof q['origin'] === 'string' && q['quota'] && typeof q['quota'] === 'object')
      .map((q) => ({ tenant: q['tenant'] as string, quota: sanitizeQuota(q['quota']), updatedAt: q['updatedAt'] as number, origin: q['origin'] as string })),
  };
}

export function sanitizeQuota(v: unknown): Quota {
  const o = (v ?? {}) as Record<string, unknown>;
  const q: Quota = {};
  for (const n of QUOTA_NAMES) {
    const x = o[n];
    if (typeof x === 'number' && Number.isFinite(x) && x >= 0) q[n] = x;
  }
  return q;
}
