/**
 * Restart policy of the computes a node holds (mixin placement#restart, attribute
 * `discovery.restart.policy`):
 * - `on-failure` (the default, also without the mixin): a compute whose domain crashed or
 *   disappeared from the host while the compute was active is restarted on the same host (defined
 *   again when it disappeared), at most `maxRestarts` times in `windowMs`; then it stays in state
 *   error and its message says the policy gave up.
 * - `always`: the same without the bound (each restart after a growing pause, at most a minute).
 * - `never`: the compute stays in state error; its message says so.
 * The state message of a restarted compute says what happened. Failures are seen when the
 * hypervisor reconciliation marks the compute (error: crashed / no longer exists) and by a periodic
 * check of the host's domains (a restarted node finds an empty in-memory host). Nothing is
 * restarted before the node's fencing is over (`ready`).
 */
import type { Logger } from 'pino';
import type { Hypervisor } from '../hypervisor/hypervisor.js';
import type { Entity } from '../occi/entity.js';
import { COMPUTE } from '../occi/infrastructure-model.js';
import { DEFAULT_RESTART_POLICY, RESTART, RESTART_POLICY, type RestartPolicy } from '../occi/placement-model.js';
import type { OcciService } from '../occi/service.js';
import type { Custody } from './custody.js';
import type { EntityStore } from '../occi/store.js';

export const DEFAULT_MAX_RESTARTS = 5;
export const DEFAULT_RESTART_WINDOW_MS = 10 * 60_000;
export const DEFAULT_RESTART_CHECK_MS = 2_000;
const STATE = 'occi.compute.state';
const MESSAGE = 'occi.compute.state.message';
/** The messages the hypervisor reconciliation gives a compute whose domain failed under it. */
const OBSERVED_FAILURE = /crashed|no longer exists/;
/** Messages this module wrote on a compute it leaves alone. */
const LEFT_ALONE = /restart policy/;

export interface RestartPolicyOptions {
  service: OcciService;
  custody: Custody;
  store: EntityStore;
  hypervisor: Hypervisor;
  logger: Logger;
  nodeName: string;
  /** Resolves when the node may restart computes (after fencing). */
  ready: Promise<void>;
  /** Computes the node fenced itself (lease lost): never restarted by the policy. */
  fenced?(id: string): boolean;
  maxRestarts?: number;
  windowMs?: number;
  checkMs?: number;
}

export function restartPolicyOf(compute: Entity): RestartPolicy {
  const p = compute.mixins.includes(RESTART) ? compute.attributes[RESTART_POLICY] : undefined;
  return p === 'always' || p === 'never' || p === 'on-failure' ? p : DEFAULT_RESTART_POLICY;
}

export class RestartPolicyKeeper {
  private readonly lastState = new Map<string, string>();
  private readonly history = new Map<string, number[]>();
  private readonly busy = new Set<string>();
  private unfollow: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private scanning = false;
  private closed = false;
  /** Restarts done, for tests and figures. */
  restarts = 0;

  constructor(private readonly opts: RestartPolicyOptions) {}

  start(): void {
    const { store } = this.opts;
    for (const e of store.all()) if (e.kind === COMPUTE) this.lastState.set(e.id, String(e.attributes[STATE] ?? ''));
    this.unfollow = store.onChange((change, removed) => {
      for (const e of removed) {
        this.lastState.delete(e.id);
        this.history.delete(e.id);
      }
      for (const e of change.put ?? []) {
        if (e.kind !== COMPUTE) continue;
        const before = this.lastState.get(e.id);
        const now = String(e.attributes[STATE] ?? '');
        this.lastState.set(e.id, now);
        // Not awaited: the store's listeners run under the entity's lock, the restart takes it.
        if (before === 'active' && now === 'error' && OBSERVED_FAILURE.test(String(e.attributes[MESSAGE] ?? ''))) void this.handle(e.id);
      }
    });
    this.timer = setInterval(() => void this.scan(), this.opts.checkMs ?? DEFAULT_RESTART_CHECK_MS);
    this.timer.unref();
    void this.opts.ready.then(() => this.scan());
  }

  /** Checks the host's domains against the computes now (also a sync point for tests). */
  async scan(): Promise<void> {
    if (this.scanning || this.closed) return;
    this.scanning = true;
    try {
      await this.opts.ready;
      const { store, service, hypervisor } = this.opts;
      const domains = new Map((await hypervisor.listDomains()).map((d) => [d.id, d.state] as const));
      for (const e of [...store.all()]) {
        if (e.kind !== COMPUTE || this.closed) continue;
        const state = e.attributes[STATE];
        const domain = domains.get(e.id);
        if (state === 'active' && (domain === undefined || domain === 'crashed')) {
          // The reconciliation marks it (error), which the listener above turns into a restart.
          await service.reconcile(e.id).catch(() => undefined);
        } else if (state === 'error') {
          const message = String(e.attributes[MESSAGE] ?? '');
          if (OBSERVED_FAILURE.test(message) && !LEFT_ALONE.test(message)) void this.handle(e.id);
        }
      }
    } catch (err) {
      this.opts.logger.warn({ err }, 'restart policy check failed');
    } finally {
      this.scanning = false;
    }
  }

  private async handle(id: string): Promise<void> {
    if (this.busy.has(id) || this.closed) return;
    this.busy.add(id);
    try {
      await this.opts.ready;
      const { store, custody, logger, nodeName } = this.opts;
      const e = store.get(id);
      if (!e || e.kind !== COMPUTE || e.attributes[STATE] !== 'error' || this.opts.fenced?.(id)) return;
      const message = String(e.attributes[MESSAGE] ?? '');
      if (!OBSERVED_FAILURE.test(message) || LEFT_ALONE.test(message)) return;
      const policy = restartPolicyOf(e);
      const cause = /crashed/.test(message) ? 'crashed' : 'disappeared from the host';
      if (policy === 'never') {
        await custody.annotate(id, `${message}; not restarted (restart policy never)`);
        return;
      }
      const windowMs = this.opts.windowMs ?? DEFAULT_RESTART_WINDOW_MS;
      const max = this.opts.maxRestarts ?? DEFAULT_MAX_RESTARTS;
      const now = Date.now();
      const recent = (this.history.get(id) ?? []).filter((t) => now - t < windowMs);
      if (policy === 'on-failure' && recent.length >= max) {
        logger.warn({ compute: id, restarts: recent.length }, 'restart policy gave up');
        await custody.annotate(id, `${message}; restart policy on-failure gave up after ${recent.length} restarts within ${Math.round(windowMs / 60_000)} min`);
        return;
      }
      if (policy === 'always' && recent.length > 0) await new Promise((r) => setTimeout(r, Math.min(1_000 * 2 ** (recent.length - 1), 60_000)));
      if (this.closed) return;
      recent.push(Date.now());
      this.history.set(id, recent);
      const count = policy === 'on-failure' ? ` (${recent.length}/${max} within ${Math.round(windowMs / 60_000)} min)` : '';
      const restarted = await custody.restart(id, `restarted on ${nodeName}: its domain ${cause} (restart policy ${policy}${count})`);
      if (restarted) {
        this.restarts++;
        logger.warn({ compute: id, cause, policy, restarts: recent.length }, 'compute restarted by its restart policy');
      }
    } catch (err) {
      this.opts.logger.warn({ err, compute: id }, 'restart failed');
    } finally {
      this.busy.delete(id);
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.unfollow?.();
  }
}
