/**
 * Replication of the computes a node holds, so that they survive the node's loss.
 *
 * Every compute a node holds (with its links) is copied as a description to the `count` members
 * nearest to it by Vivaldi distance (its replica holders, nearest first), on every change of the
 * compute: creation, replacement, update, action, observed state, deletion, move. A change is sent
 * before the client's answer (the store's listeners are awaited under the entity's lock), so an
 * acknowledged change is on the replica holders that answered in time; one that did not answer is
 * retried in the background. When a replica holder leaves, the next nearest member takes its place
 * and receives every description; a holder out of reach leaves the set only while the node still
 * reaches a majority of it, so a node cut off from most of its set never shrinks it.
 *
 * Replica holders keep the descriptions in their own SQLite file (replica-store.ts), keyed by
 * (holder node key, compute id), with the compute's generation and a version that orders the
 * updates of one holder. They accept descriptions only from members of the mesh.
 */
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { JsonValue, Mesh } from '../mesh/mesh.js';
import { type Entity, linkEnds } from '../occi/entity.js';
import { COMPUTE } from '../occi/infrastructure-model.js';
import type { Custody } from './custody.js';
import { generationOf, majority, type ReplicaItem, type ReplicaStore } from './replica-store.js';
import { OcciError } from '../occi/errors.js';
import type { Change, EntityStore } from '../occi/store.js';

export const REPLICA_METHOD = 'cloud/replica';
/**
 * Replica holders per compute. With the holder they form its replica set, and a restart after a
 * loss needs a majority of the set (lease-grants.ts): four holders keep a compute restartable when
 * its holder and one replica holder are lost at once (3 of 5).
 */
export const DEFAULT_REPLICA_COUNT = 4;
export const DEFAULT_REPLICATION_TIMEOUT_MS = 2_000;
export const DEFAULT_REPLICATION_RETRY_MS = 2_000;
/** Descriptions per message when a new replica holder receives them all. */
const BATCH = 50;

export interface ReplicatorOptions {
  mesh: Mesh;
  custody: Custody;
  store: EntityStore;
  replicas: ReplicaStore;
  logger: Logger;
  /** Replica holders per compute (default 2). */
  count?: number;
  timeoutMs?: number;
  retryMs?: number;
  /** A description from `holder` arrived (the lease grants count it as a renewal). */
  onAlive?(holder: string): void;
  /** Whether a member said it leaves cleanly (a stop, a drain) and has not come back. */
  leftCleanly?(key: string): boolean;
}

/** Sends this node's computes to its replica holders and keeps the descriptions others send. */
export class Replicator {
  private order: string[] = [];
  /** Orders the descriptions this node sends, across restarts (microseconds since the epoch, then +1). */
  private version = Date.now() * 1000;
  /** Computes whose last description did not reach every replica holder. */
  private readonly dirty = new Set<string>();
  /** The generation of each compute that left this node lately: its deletion carries it. */
  private readonly goneAt = new LRUCache<string, number>({ max: 10_000 });
  private retryTimer: NodeJS.Timeout | undefined;
  private choosing: Promise<void> | undefined;
  private again = false;
  /** Sends and re-choices run one at a time, so a description never reaches a holder just dropped. */
  private chain: Promise<unknown> = Promise.resolve();
  private readonly queued = new Set<string>();
  private nextFlush: Promise<Map<string, { id: string; why: string; moved: boolean }>> | undefined;
  private unfollow: (() => void) | undefined;
  private closed = false;
  private readonly count: number;
  private readonly timeoutMs: number;
  private readonly onMembers = (): void => void this.choose();

  constructor(private readonly opts: ReplicatorOptions) {
    this.count = opts.count ?? DEFAULT_REPLICA_COUNT;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_REPLICATION_TIMEOUT_MS;
    opts.mesh.handle(REPLICA_METHOD, (payload, from) => this.receive(payload, from));
  }

  /** The current replica holders of this node's computes, nearest first. */
  holders(): string[] {
    return [...this.order];
  }

  /** Follows the store's changes and the membership; sends every compute once to its holders. */
  start(): void {
    const { mesh, store } = this.opts;
    this.unfollow = store.onChange((change, removed) => this.changed(change, removed));
    mesh.on('member-joined', this.onMembers);
    mesh.on('member-left', this.onMembers);
    this.retryTimer = setInterval(() => void this.retry(), this.opts.retryMs ?? DEFAULT_REPLICATION_RETRY_MS);
    this.retryTimer.unref();
    void this.choose();
  }

  /** Resolves once the replica holders are chosen from the current members. */
  async ready(): Promise<void> {
    await this.choose();
  }

  /** Sends the current description of compute `id` (or its deletion) to the replica holders now. */
  async push(id: string): Promise<void> {
    await this.serial(() => this.sendItems(this.order, [this.itemOf(id)]));
  }

  private itemOf(id: string): ReplicaItem {
    const records = this.opts.custody.records(id) ?? null;
    const compute = records?.[0];
    const generation = compute ? generationOf(compute) : (this.goneAt.get(id) ?? 0);
    const item: ReplicaItem = { id, generation, version: ++this.version, order: [...this.order], records: compute?.kind === COMPUTE ? records : null };
    this.opts.replicas.sent(id, item.records ? item.order : null);
    return item;
  }

  /** The computes a committed change touched: themselves, or the source of a link. */
  private async changed(change: Change, removed: Entity[]): Promise<void> {
    if (this.closed) return;
    const ids = new Set<string>();
    // Computes that left because they run elsewhere: a holder's refusal as moved agrees with that.
    const leaving = new Set<string>();
    for (const e of removed) {
      if (e.kind !== COMPUTE) continue;
      this.goneAt.set(e.id, generationOf(e));
      if (this.opts.custody.isLeaving(e.id)) leaving.add(e.id);
    }
    for (const e of [...(change.put ?? []), ...removed]) {
      if (e.kind === COMPUTE) ids.add(e.id);
      const ends = linkEnds(e);
      if (ends?.source.startsWith('/compute/')) ids.add(ends.source.slice('/compute/'.length));
    }
    if (ids.size === 0) return;
    await this.enqueue(ids, leaving);
  }

  /**
   * Group commit: the computes changed while a send is under way go together in the next one, so
   * concurrent writes share a round trip instead of queueing one behind the other.
   */
  private async enqueue(ids: Iterable<string>, leaving: ReadonlySet<string>): Promise<void> {
    const mine = [...ids];
    for (const id of mine) this.queued.add(id);
    this.nextFlush ??= this.serial(() => this.flush());
    const short = await this.nextFlush;
    const refused = mine.map((id) => short.get(id)).find((s) => s !== undefined && !(s.moved && leaving.has(s.id)));
    if (refused) throw OcciError.unavailable(refused.why);
  }

  /** Sends what is queued; resolves with why each change that may not be acknowledged is short. */
  private async flush(): Promise<Map<string, { id: string; why: string; moved: boolean }>> {
    this.nextFlush = undefined;
    const batch = [...this.queued];
    this.queued.clear();
    const to = this.order;
    const short = new Map<string, { id: string; why: string; moved: boolean }>();
    for (let i = 0; i < batch.length; i += BATCH) {
      const { took, moved } = await this.sendItems(to, batch.slice(i, i + BATCH).map((id) => this.itemOf(id)));
      for (const [id, n] of took) {
        // Acknowledged only once a majority of the replica set has it: then a restart after the
        // loss of this node finds it (lease-grants.ts); the others get it in the background.
        if (moved.has(id)) short.set(id, { id, moved: true, why: `compute ${id} runs on another node now (restarted there while this node could not reach its replica holders); this node's copy goes: retry` });
        else if (1 + n < majority(to.length + 1)) short.set(id, { id, moved: false, why: `the change is made on this node but reached ${n} of its ${to.length} replica holders (a majority of its replica set is needed before it is acknowledged); it is sent again in the background` });
      }
    }
    return short;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work, work);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Sends the items to every holder in `to`; resolves with how many holders took each, and the ids
   * some holder refused because the compute was restarted elsewhere at a newer generation.
   */
  private async sendItems(to: readonly string[], items: ReplicaItem[]): Promise<{ took: Map<string, number>; moved: Set<string> }> {
    const { mesh, logger } = this.opts;
    const moved = new Set<string>();
    if (items.length === 0) return { took: new Map(), moved };
    const answers = await Promise.all(
      to.map((key) =>
        mesh.request<{ moved?: string[] }>(key, REPLICA_METHOD, { items } as unknown as JsonValue, { timeoutMs: this.timeoutMs, idempotent: true }).then(
          (answer) => new Set(answer?.moved ?? []),
          (err: unknown) => {
            logger.warn({ member: mesh.member(key)?.name ?? key.slice(0, 8), err: (err as Error).message }, 'replication to a member failed; retrying in the background');
            return undefined;
          },
        ),
      ),
    );
    const took = new Map<string, number>();
    for (const item of items) {
      const n = answers.filter((a) => a !== undefined && !a.has(item.id)).length;
      if (answers.some((a) => a?.has(item.id))) moved.add(item.id);
      took.set(item.id, n);
      // A refused change is not sent again: the renewal of the lease drops the copy here.
      if (n === to.length || moved.has(item.id)) this.dirty.delete(item.id);
      else this.dirty.add(item.id);
    }
    return { took, moved };
  }

  private async retry(): Promise<void> {
    if (this.closed || this.dirty.size === 0) return;
    const ids = [...this.dirty];
    this.dirty.clear();
    for (let i = 0; i < ids.length; i += BATCH) await this.serial(() => this.sendItems(this.order, ids.slice(i, i + BATCH).map((id) => this.itemOf(id))));
  }

  /** Chooses the replica holders again (nearest members first); new ones receive every compute. */
  private choose(): Promise<void> {
    if (this.choosing) {
      this.again = true;
      return this.choosing;
    }
    this.choosing = (async () => {
      try {
        do {
          this.again = false;
          await this.serial(() => this.chooseOnce());
        } while (this.again && !this.closed);
      } finally {
        this.choosing = undefined;
      }
    })();
    return this.choosing;
  }

  private async chooseOnce(): Promise<void> {
        if (this.closed) return;
        const { mesh, store } = this.opts;
        const ranked = await mesh.nearest({ includeSelf: false });
        const next = ranked.map((r) => r.candidate.key).slice(0, this.count);
        // A holder that said it leaves (a clean stop, a drain) is out of the set at once: it runs and
        // restarts nothing, so it cannot be the other side of a split.
        const order = this.order.filter((k) => !this.opts.leftCleanly?.(k));
        const kept = order.filter((k) => mesh.member(k));
        // Keep the live holders (stable choices); fill up with the nearest others.
        const live = [...kept, ...next.filter((k) => !kept.includes(k))].slice(0, this.count);
        live.sort((a, b) => next.indexOf(a) - next.indexOf(b));
        // Holders out of reach leave the set only while a majority of the set is still reached (as
        // a one-step reconfiguration): a node cut off from most of its set keeps them, or it would
        // soon be a majority of its own set, and acknowledge writes and renew leases alone while
        // another node restarts its computes. Members lost one by one still shrink it.
        const reached = 1 + kept.length;
        const chosen = reached >= majority(order.length + 1) ? live : [...live, ...order.filter((k) => !live.includes(k))].slice(0, Math.max(live.length, Math.min(order.length, this.count)));
        if (chosen.length === this.order.length && chosen.every((k, i) => k === this.order[i])) return;
        const dropped = this.order.filter((k) => !chosen.includes(k) && mesh.member(k));
        this.order = chosen;
        const ids = [...store.all()].filter((e) => e.kind === COMPUTE).map((e) => e.id);
        this.opts.logger.info({ holders: chosen.map((k) => mesh.member(k)?.name ?? k.slice(0, 8)), computes: ids.length }, 'replica holders chosen');
        // Everyone gets the new order; the new holders get every description for the first time.
        for (let i = 0; i < ids.length; i += BATCH) {
          const items = ids.slice(i, i + BATCH).map((id) => this.itemOf(id));
          await this.sendItems(chosen, items);
          if (dropped.length > 0) {
            const forget = items.map((it) => ({ ...it, records: null }));
            await Promise.all(dropped.map((k) => mesh.request(k, REPLICA_METHOD, { items: forget } as unknown as JsonValue, { timeoutMs: this.timeoutMs }).catch(() => undefined)));
          }
        }
  }

  /**
   * Descriptions from a member (the holder is the sender). A change from a copy older than the
   * generation the compute was restarted at elsewhere (its holder was frozen or cut off meanwhile)
   * is refused, as moved: acknowledged, a delete or an update made there would be undone by the
   * node that runs the compute now. Moves are not restarts: their source's cleanup is taken.
   */
  private receive(payload: JsonValue, from: string): JsonValue {
    if (!this.opts.mesh.member(from)) throw new Error('replicas are accepted from members only');
    const items = ((payload as { items?: unknown })?.items ?? []) as ReplicaItem[];
    const { replicas } = this.opts;
    this.opts.onAlive?.(from);
    const moved: string[] = [];
    for (const item of items) {
      if (typeof item?.id !== 'string' || typeof item.version !== 'number') continue;
      const generation = item.generation > 0 ? item.generation : replicas.get(from, item.id)?.generation;
      if (generation !== undefined && replicas.supersededGeneration(item.id) > generation) {
        moved.push(item.id);
        // A stale copy's deletion is refused as an acknowledgement, not as a removal: its row is garbage.
        if (!item.records) replicas.remove(from, item.id, item.version);
        continue;
      }
      if (item.records) replicas.put(from, { ...item, records: item.records });
      else replicas.remove(from, item.id, item.version);
    }
    return { ok: true, moved };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.retryTimer);
    this.unfollow?.();
    this.opts.mesh.off('member-joined', this.onMembers);
    this.opts.mesh.off('member-left', this.onMembers);
    this.opts.mesh.unhandle(REPLICA_METHOD);
  }
}
