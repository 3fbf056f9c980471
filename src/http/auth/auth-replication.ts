/**
 * Replication of the token store over the mesh (token metadata, revocations of tokens and keys,
 * issuer bindings, quotas). Every member holds the whole state, and the merge is conflict-free
 * (token-store.ts), so order and repetition do not matter. Three ways bring a change everywhere:
 * - push: a change made here goes to every member at once (`auth/delta`);
 * - join: a member that joins is asked for its whole state (`auth/state`), both ways;
 * - anti-entropy: every `antiEntropyMs` this node asks up to `fanout` random members for the
 *   digest of their state (`auth/digest`) and pulls the whole state of any that differs, so a
 *   member that missed a push (paused, partitioned, restarted) converges without a join.
 * A member that could not run for longer than `staleAfterMs` (a paused process: its wall clock ran
 * on, its CPU time did not) may have missed revocations meanwhile: until its next digest round has
 * reached a member, `catchingUp()` is true and tokens are answered 503 (authenticate.ts). Bound: every
 * member that can reach one that has a revocation refuses the token within
 * max(antiEntropyMs, staleAfterMs) plus one digest exchange and pull (docs/security.md).
 * Only members reach these handlers: the mesh refuses anyone without the cluster secret or
 * revoked; what they send is validated before it is merged.
 *
 * @example
 *   const replication = new AuthReplication({ mesh, store, logger });
 *   replication.publish({ revocations: [{ tid, at: Date.now() }] });
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { JsonValue, Member, Mesh } from '../../mesh/mesh.js';
import { type AuthState, type Quota, QUOTA_NAMES, type TokenStore } from './token-store.js';
import { TENANT_PATTERN, TID_PATTERN } from './token.js';

export const STATE_METHOD = 'auth/state';
export const DELTA_METHOD = 'auth/delta';
export const DIGEST_METHOD = 'auth/digest';
export const DEFAULT_REPLICATION_TIMEOUT_MS = 5000;
/** One digest round per second: a missed revocation is caught up within about a second. */
export const DEFAULT_ANTI_ENTROPY_MS = 1000;
/** Members asked per round (all of them in a mesh of up to four nodes). */
export const DEFAULT_FANOUT = 3;
/** A wall-clock gap this long with little CPU time spent is a pause (SIGSTOP, a frozen VM). */
export const DEFAULT_STALE_AFTER_MS = 3000;
const DIGEST_TIMEOUT_MS = 2000;

export interface AuthReplicationOptions {
  mesh: Mesh;
  store: TokenStore;
  logger: Logger;
  timeoutMs?: number;
  antiEntropyMs?: number;
  fanout?: number;
  staleAfterMs?: number;
}

export class AuthReplication {
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;
  private readonly onJoin = (m: Member) => this.track(this.pull(m));
  private readonly timer: NodeJS.Timeout;
  private lastTick = performance.now();
  private lastCpu = cpuMs();
  /** Paused, and not yet compared with a member since: tokens wait. */
  private stale = false;
  private staleSince = 0;
  private inRound: Promise<boolean> | undefined;
  /** Digest rounds completed so far (a sync point for tests). */
  rounds = 0;

  constructor(private readonly opts: AuthReplicationOptions) {
    const { mesh, store } = opts;
    mesh.handle(STATE_METHOD, () => store.state() as unknown as JsonValue);
    mesh.handle(DIGEST_METHOD, () => store.digest());
    mesh.handle(DELTA_METHOD, (payload, fromKey) => {
      const fresh = store.merge(sanitize(payload));
      if (fresh.revocations.length || fresh.quotas.length || fresh.keyRevocations.length) opts.logger.info({ member: fromKey.slice(0, 8), revocations: fresh.revocations.length, keyRevocations: fresh.keyRevocations.length, quotas: fresh.quotas.length }, 'auth state updated by a member');
      return null;
    });
    mesh.on('member-joined', this.onJoin);
    this.timer = setInterval(() => this.tick(), opts.antiEntropyMs ?? DEFAULT_ANTI_ENTROPY_MS);
    this.timer.unref();
  }

  /** Pushes a local change to every member; resolves when each answered or failed (never rejects). */
  publish(delta: Partial<AuthState>): Promise<void> {
    const { mesh, logger } = this.opts;
    const done = Promise.all(
      mesh.members().map((m) =>
        mesh.request(m.key, DELTA_METHOD, delta as unknown as JsonValue, { timeoutMs: this.timeoutMs, idempotent: true }).catch((err: unknown) => {
          // The member catches up at its next digest round.
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
      const state = await this.opts.mesh.request(member.key, STATE_METHOD, null, { timeoutMs: this.timeoutMs, idempotent: true });
      const fresh = this.opts.store.merge(sanitize(state));
      if (fresh.revocations.length || fresh.quotas.length || fresh.tokens.length || fresh.keyRevocations.length) {
        this.opts.logger.info({ member: member.name, tokens: fresh.tokens.length, revocations: fresh.revocations.length, keyRevocations: fresh.keyRevocations.length, quotas: fresh.quotas.length }, 'auth state merged from a member');
      }
    } catch (err) {
      if (!this.closed) this.opts.logger.warn({ member: member.name, err: (err as Error).message }, 'could not pull the auth state of a member');
    }
  }

  /**
   * One anti-entropy round: the digests of up to `fanout` random members compared with this
   * node's, and the state of each that differs pulled. Resolves when the round is over: true when
   * at least one member answered (or there is none).
   */
  async round(): Promise<boolean> {
    const { mesh, store } = this.opts;
    store.forgetDigest(); // the token CLI may have written auth.db meanwhile
    const mine = store.digest();
    const members = shuffled(mesh.members()).slice(0, this.opts.fanout ?? DEFAULT_FANOUT);
    let compared = members.length === 0;
    await Promise.all(
      members.map(async (m) => {
        const theirs = await mesh.request(m.key, DIGEST_METHOD, null, { timeoutMs: DIGEST_TIMEOUT_MS, idempotent: true }).catch(() => undefined);
        if (theirs === undefined) return;
        if (theirs !== mine) await this.pull(m);
        compared = true;
      }),
    );
    this.rounds++;
    return compared;
  }

  /**
   * True while this node may lack revocations because it could not run for a while (paused): from
   * the moment that shows until its next digest round completes.
   */
  catchingUp(): boolean {
    if (this.stale) return true;
    if (!this.paused()) return false;
    this.tick();
    return true;
  }

  /** Resolves once every push and pull started so far has finished (a sync point for tests). */
  async flushed(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.opts.mesh.off('member-joined', this.onJoin);
  }

  private get timeoutMs(): number {
    return this.opts.timeoutMs ?? DEFAULT_REPLICATION_TIMEOUT_MS;
  }

  /** A long wall-clock gap since the last tick during which this process barely ran. */
  private paused(): boolean {
    const gap = performance.now() - this.lastTick;
    if (gap <= (this.opts.staleAfterMs ?? DEFAULT_STALE_AFTER_MS)) return false;
    // A loop blocked by this process's own work spent the gap on the CPU: not a pause.
    return cpuMs() - this.lastCpu < gap / 4;
  }

  private tick(): void {
    if (this.closed) return;
    if (this.paused() && !this.stale) {
      this.stale = true;
      this.staleSince = performance.now();
      this.opts.logger.warn('this node did not run for a while (paused?): tokens wait until the auth state is compared with a member again');
    }
    this.lastTick = performance.now();
    this.lastCpu = cpuMs();
    if (this.inRound) return;
    // A stale node stays so until a round started after the pause reaches a member (or none is
    // left to reach): a round begun before it compared the state of then.
    const startedAt = performance.now();
    this.inRound = this.track(this.round()).then((compared) => {
      if (compared && startedAt >= this.staleSince) this.stale = false;
      return compared;
    });
    void this.inRound.finally(() => {
      this.inRound = undefined;
      if (this.stale && startedAt < this.staleSince) this.tick(); // at once, not at the next period
    });
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function shuffled<T>(xs: T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Only well-formed records are merged, whatever a member sends. */
function sanitize(v: unknown): Partial<AuthState> {
  const o = (v ?? {}) as Record<string, unknown>;
  const list = (x: unknown) => (Array.isArray(x) ? (x as Array<Record<string, unknown>>).filter((e) => e && typeof e === 'object') : []);
  const int = (x: unknown): x is number => Number.isSafeInteger(x);
  const str = (x: unknown, max = 128): x is string => typeof x === 'string' && x.length > 0 && x.length <= max;
  return {
    tokens: list(o['tokens'])
      .filter((t) => typeof t['tid'] === 'string' && TID_PATTERN.test(t['tid']) && typeof t['tenant'] === 'string' && TENANT_PATTERN.test(t['tenant'] as string) && typeof t['admin'] === 'boolean' && int(t['created']) && (t['expires'] === null || int(t['expires'])))
      .map((t) => ({ tid: t['tid'] as string, tenant: t['tenant'] as string, admin: t['admin'] as boolean, created: t['created'] as number, expires: t['expires'] as number | null })),
    revocations: list(o['revocations'])
      .filter((r) => str(r['tid']) && int(r['at']))
      .map((r) => ({ tid: r['tid'] as string, at: r['at'] as number })),
    quotas: list(o['quotas'])
      .filter((q) => typeof q['tenant'] === 'string' && TENANT_PATTERN.test(q['tenant'] as string) && int(q['updatedAt']) && typeof q['origin'] === 'string' && q['quota'] && typeof q['quota'] === 'object')
      .map((q) => ({ tenant: q['tenant'] as string, quota: sanitizeQuota(q['quota']), updatedAt: q['updatedAt'] as number, origin: q['origin'] as string })),
    keyRevocations: list(o['keyRevocations'])
      .filter((k) => str(k['kid'], 64) && int(k['at']))
      .map((k) => ({ kid: k['kid'] as string, at: k['at'] as number })),
    issuers: list(o['issuers'])
      .filter((b) => str(b['kid'], 64) && typeof b['node'] === 'string' && /^[0-9a-f]{64}$/.test(b['node']))
      .map((b) => ({ kid: b['kid'] as string, node: b['node'] as string })),
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
