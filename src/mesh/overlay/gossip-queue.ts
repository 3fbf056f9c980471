/**
 * Piggybacked gossip: membership updates waiting to ride on outgoing messages, each sent a bounded
 * number of times (memberlist's TransmitLimitedQueue): the least transmitted first, a newer update
 * about a member replacing the older one.
 */
import type { Update } from './types.js';

interface Queued {
  update: Update;
  transmits: number;
}

export class GossipQueue {
  private readonly byKey = new Map<string, Queued>();
  /** Updates by how many times they were sent (index), for least-sent-first without sorting. */
  private readonly buckets: Array<Set<Queued>> = [];

  constructor(private readonly limit: () => number) {}

  get size(): number {
    return this.byKey.size;
  }

  /** Queues `update`, replacing any queued one about the same member. */
  push(update: Update): void {
    this.drop(update.key);
    const q: Queued = { update, transmits: 0 };
    this.byKey.set(update.key, q);
    this.bucket(0).add(q);
  }

  /** Whether an update about `key` is still being spread. */
  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** Up to `max` updates to piggyback, those sent least first. */
  take(max: number): Update[] {
    const taken: Queued[] = [];
    for (let t = 0; t < this.buckets.length && taken.length < max; t++) {
      const bucket = this.buckets[t];
      if (!bucket) continue;
      for (const q of bucket) {
        if (taken.length >= max) break;
        taken.push(q);
      }
    }
    const limit = Math.max(1, this.limit());
    for (const q of taken) {
      this.buckets[q.transmits]!.delete(q);
      q.transmits++;
      if (q.transmits >= limit) this.byKey.delete(q.update.key);
      else this.bucket(q.transmits).add(q);
    }
    return taken.map((q) => q.update);
  }

  drop(key: string): void {
    const q = this.byKey.get(key);
    if (!q) return;
    this.buckets[q.transmits]?.delete(q);
    this.byKey.delete(key);
  }

  private bucket(t: number): Set<Queued> {
    let b = this.buckets[t];
    if (!b) {
      b = new Set();
      this.buckets[t] = b;
    }
    return b;
  }
}
