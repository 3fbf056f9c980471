/**
 * The holder side of compute leases (lease-grants.ts says why they are safe). Every renewal period
 * this node asks the replica holders of its computes to renew their leases; a compute whose
 * replica set (this node and the holders it was last replicated to) renewed in majority may run
 * until the renewal's send time plus the lease, on this node's monotonic clock. A compute that
 * cannot be renewed in time is fenced here by this node itself, before its lease ends: its domain
 * is paused at once and destroyed if the lease stays lost, the way HA managers fence with a
 * watchdog. When the lease comes back the domain runs again; when the answer says another node
 * took the compute over (a split, a pause, a stall that outlasted the lease), the copy here is
 * dropped without ever running again. Drivers that can (`Hypervisor.fenceAt`) also pause the guest
 * at the deadline by themselves, so that a stalled or frozen node process does not keep it running.
 */
import type { Logger } from 'pino';
import type { Hypervisor } from '../hypervisor/hypervisor.js';
import type { JsonValue, Mesh } from '../mesh/mesh.js';
import { COMPUTE } from '../occi/infrastructure-model.js';
import type { EntityStore } from '../occi/store.js';
import type { Custody } from './custody.js';
import { DEFAULT_LEASE_MS, type RenewAnswer } from './lease-grants.js';
import { generationOf, majority, type ReplicaStore } from './replica-store.js';
import { monotonicMs } from '../lib/monotonic.js';
import { OcciError } from '../occi/errors.js';

export const LEASE_METHOD = 'cloud/lease';
/** How often the leases are renewed (ms): several renewals fit in one lease. */
export const DEFAULT_RENEW_MS = 1_000;
/** A compute is paused when less than this remains of its lease (ms): the pause must land before the end. */
export const DEFAULT_FENCE_MARGIN_MS = 1_000;
/** A fenced compute whose lease stays lost this long is destroyed (ms). */
export const DEFAULT_DESTROY_AFTER_MS = 30_000;

export interface LeaseHolderOptions {
  mesh: Mesh;
  store: EntityStore;
  replicas: ReplicaStore;
  custody: Custody;
  hypervisor: Hypervisor;
  logger: Logger;
  leaseMs?: number;
  renewMs?: number;
  fenceMarginMs?: number;
  destroyAfterMs?: number;
  /** Which of these computes another node holds now (asked of the mesh when a restart of one is claimed). */
  heldElsewhere?(ids: string[]): Promise<Set<string>>;
  /** What the node does after it fenced or un-fenced a compute (reconcile its OCCI state). */
  changed?(id: string, fenced: boolean, why: string): void;
  now?: () => number;
}

/** A compute this node fenced: how, and since when (monotonic ms). */
interface Fence {
  since: number;
  destroyed: boolean;
  /** It was running when fenced: it runs again when the lease comes back. */
  wasRunning: boolean;
}

export class LeaseHolder {
  /** Monotonic ms until which each compute may run here. */
  private readonly validUntil = new Map<string, number>();
  private readonly fences = new Map<string, Fence>();
  /** Computes active (as the OCCI state says) when their lease was last renewed: a pause found later is the driver's fence. */
  private readonly activeAtRenewal = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private unfollow: (() => void) | undefined;
  private closed = false;
  private readonly now: () => number;
  private readonly leaseMs: number;
  private readonly marginMs: number;

  constructor(private readonly opts: LeaseHolderOptions) {
    this.now = opts.now ?? monotonicMs;
    this.leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    this.marginMs = Math.min(opts.fenceMarginMs ?? DEFAULT_FENCE_MARGIN_MS, this.leaseMs / 2);
  }

  /** Whether this node fenced the compute (its restart policy must leave it alone). */
  isFenced(id: string): boolean {
    return this.fences.has(id);
  }

  /**
   * Whether this node may change compute `id` now: its lease is renewed and not about to end, and
   * it is not fenced. True for what this node does not lease (not a compute, or not here).
   */
  holdsLease(id: string): boolean {
    if (this.opts.store.get(id)?.kind !== COMPUTE) return true;
    return !this.fences.has(id) && this.now() < (this.validUntil.get(id) ?? 0) - this.marginMs;
  }

  /**
   * Resolves once this node may change compute `id`, or once the compute left it (another node took
   * it over while this one was frozen or cut off: the renewal says so and the copy here goes, so
   * the request follows it). A copy whose lease stays lost for `waitMs` (three renewal periods)
   * answers 503: a write served here then could be undone by the node that runs the compute now.
   */
  async whenLeased(id: string, waitMs = 3 * (this.opts.renewMs ?? DEFAULT_RENEW_MS)): Promise<void> {
    const deadline = this.now() + waitMs;
    while (!this.holdsLease(id)) {
      if (this.closed || this.now() >= deadline) {
        throw OcciError.unavailable(`compute ${id}: this node could not renew its lease with a majority of its replica holders (it may be cut off from them); retry`);
      }
      // A round, and at least a short wait: a round with no member to ask ends at once.
      await Promise.all([this.tick(), new Promise((resolve) => setTimeout(resolve, 200))]);
    }
  }

  /** Starts renewing; computes created or taken in here start with a fresh lease. */
  start(): void {
    this.unfollow = this.opts.store.onChange((change) => {
      for (const e of change.put ?? []) {
        if (e.kind !== COMPUTE || this.validUntil.has(e.id)) continue;
        const until = this.now() + this.leaseMs;
        this.validUntil.set(e.id, until);
        // The driver holds the first lease too: a node that freezes before its first renewal must not keep the guest running.
        void this.opts.hypervisor.fenceAt?.(e.id, until - this.marginMs).catch(() => false);
      }
      for (const id of change.remove ?? []) {
        this.validUntil.delete(id);
        this.fences.delete(id);
        this.activeAtRenewal.delete(id);
      }
    });
    const every = this.opts.renewMs ?? DEFAULT_RENEW_MS;
    this.timer = setInterval(() => void this.tick(), every);
    this.timer.unref();
    void this.tick();
  }

  /** One round: fence what is about to run out, then renew. Never rejects. */
  tick(): Promise<void> {
    this.renewing ??= (async () => {
      try {
        await this.enforce();
        await this.renew();
        await this.enforce();
      } catch (err) {
        this.opts.logger.warn({ err }, 'lease round failed');
      } finally {
        this.renewing = undefined;
      }
    })();
    return this.renewing;
  }

  private computes(): string[] {
    return [...this.opts.store.all()].filter((e) => e.kind === COMPUTE).map((e) => e.id);
  }

  private async renew(): Promise<void> {
    const { mesh, store, replicas } = this.opts;
    const sets = replicas.outbound();
    const byHolder = new Map<string, Record<string, number>>();
    const ids = this.computes();
    for (const id of ids) {
      for (const k of sets.get(id) ?? []) {
        if (k === mesh.key) continue;
        const m = byHolder.get(k) ?? {};
        m[id] = generationOf(store.get(id));
        byHolder.set(k, m);
      }
    }
    const sentAt = this.now();
    const answers = new Map<string, Record<string, RenewAnswer>>();
    await Promise.all(
      [...byHolder].map(async ([k, generations]) => {
        const answer = await mesh
          .request<Record<string, RenewAnswer>>(k, LEASE_METHOD, { generations } as unknown as JsonValue, { timeoutMs: this.opts.renewMs ?? DEFAULT_RENEW_MS, idempotent: true })
          .catch(() => undefined);
        if (answer) answers.set(k, answer);
      }),
    );
    if (this.closed) return;
    // A claimed restart may be given up (this node came back meanwhile) or done: only a holder says which.
    const claimed = ids.filter((id) => (sets.get(id) ?? []).some((k) => answers.get(k)?.[id] === 'claimed'));
    const elsewhere = claimed.length > 0 && this.opts.heldElsewhere ? await this.opts.heldElsewhere(claimed).catch(() => new Set<string>()) : new Set<string>();
    for (const id of ids) {
      const set = (sets.get(id) ?? []).filter((k) => k !== mesh.key);
      const votes = set.map((k) => answers.get(k)?.[id]);
      if (votes.includes('moved') || elsewhere.has(id)) {
        await this.drop(id);
        continue;
      }
      const granted = 1 + votes.filter((v) => v === 'granted').length;
      const until = sentAt + this.leaseMs;
      // A grant that arrives after the lease it renews would end (this node froze meanwhile) renews nothing.
      if (granted >= majority(set.length + 1) && this.now() < until - this.marginMs) {
        this.validUntil.set(id, until);
        if (store.get(id)?.attributes['occi.compute.state'] === 'active') this.activeAtRenewal.add(id);
        else this.activeAtRenewal.delete(id);
        // The hypervisor pauses the guest at the same deadline even if this process stalls; a pause
        // at the previous one (this node froze past it) is a fence of this node's to lift.
        const fired = await this.opts.hypervisor.fenceAt?.(id, until - this.marginMs).catch(() => false);
        if (fired && !this.fences.has(id)) this.fences.set(id, { since: this.now(), destroyed: false, wasRunning: true });
        await this.unfence(id);
      }
    }
  }

  /** Fences every compute whose lease ends within the margin; destroys those fenced for too long. */
  private async enforce(): Promise<void> {
    const now = this.now();
    const destroyAfter = this.opts.destroyAfterMs ?? DEFAULT_DESTROY_AFTER_MS;
    for (const id of this.computes()) {
      const until = this.validUntil.get(id) ?? 0;
      if (now < until - this.marginMs) continue;
      const fence = this.fences.get(id);
      if (!fence) await this.fence(id);
      else if (!fence.destroyed && now - fence.since > destroyAfter) await this.destroy(id, fence);
      else await this.keepFenced(id, fence);
    }
  }

  private async fence(id: string): Promise<void> {
    const hv = this.opts.hypervisor;
    const { state } = await hv.domainInfo(id);
    // A pause at the driver's deadline is this node's fence: the driver says so (and the deadline
    // is lifted: the node fences it now). Else a pause of a compute its user left active is taken
    // as one (found after a restart of this node). The OCCI state alone cannot tell: a read may
    // have observed the driver's pause (suspended) before this look.
    const byDriver = state === 'paused' && (await hv.fenceAt?.(id, Infinity).catch(() => false)) === true;
    const active = this.activeAtRenewal.has(id) || this.opts.store.get(id)?.attributes['occi.compute.state'] === 'active';
    const wasRunning = state === 'running' || byDriver || (state === 'paused' && active);
    this.fences.set(id, { since: this.now(), destroyed: false, wasRunning });
    if (state === 'running') await hv.suspendDomain(id, 'suspend');
    this.opts.logger.warn({ compute: id, paused: wasRunning }, 'lease lost: the compute is fenced here until its replica holders renew it');
    this.opts.changed?.(id, true, 'paused by this node: its lease could not be renewed with a majority of its replica holders');
  }

  /** A fenced compute stays off: a domain started behind the node's back is paused again. */
  private async keepFenced(id: string, fence: Fence): Promise<void> {
    const hv = this.opts.hypervisor;
    const { state } = await hv.domainInfo(id);
    if (state !== 'running') return;
    fence.wasRunning = true;
    if (fence.destroyed) await hv.stopDomain(id, 'poweroff');
    else await hv.suspendDomain(id, 'suspend');
  }

  private async destroy(id: string, fence: Fence): Promise<void> {
    const hv = this.opts.hypervisor;
    const { state } = await hv.domainInfo(id);
    if (state === 'running' || state === 'paused') await hv.stopDomain(id, 'poweroff');
    fence.destroyed = true;
    this.opts.logger.warn({ compute: id }, 'lease still lost: the fenced compute is stopped');
    this.opts.changed?.(id, true, 'stopped by this node: its lease stayed lost');
  }

  /** The lease is back: a compute this node fenced runs again as it ran before. */
  private async unfence(id: string): Promise<void> {
    const fence = this.fences.get(id);
    if (!fence) return;
    this.fences.delete(id);
    const hv = this.opts.hypervisor;
    if (fence.wasRunning) {
      const { state } = await hv.domainInfo(id);
      if (state === 'paused') await hv.resumeDomain(id);
      else if (state === 'shutoff') await hv.startDomain(id);
    }
    this.opts.logger.info({ compute: id }, 'lease renewed: the fenced compute runs here again');
    this.opts.changed?.(id, false, 'running again: its lease was renewed');
  }

  /** Another node took the compute over while this one could not renew: the copy here goes. */
  private async drop(id: string): Promise<void> {
    this.opts.logger.warn({ compute: id }, 'the compute runs elsewhere now (taken over while this node could not renew its lease): dropping the copy here');
    this.fences.delete(id);
    this.validUntil.delete(id);
    await this.opts.custody.forget(id);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.unfollow?.();
  }
}
