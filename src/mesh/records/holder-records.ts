/**
 * Where entities are, on the ring: the node holding an entity publishes a record under
 * `holder:<id>`, withdrawn when the entity leaves it (deleted, moved away). Finding the holder of
 * an id costs one lookup of bounded hops whatever the number of members, where asking every
 * member costs N messages (directory.ts). A moved entity is briefly under two records (the
 * target publishes before the source withdraws): the caller tries them and forgets a wrong one.
 */
import type { RecordDirectory } from './record-directory.js';

export const HOLDER_PREFIX = 'holder:';

/** The entities a node holds and their changes (the entity store, seen by id). */
export interface Holdings {
  ids(): Iterable<string>;
  /** Calls `listener` after each committed change with the ids it put and removed; returns the unsubscription. */
  onChange(listener: (put: readonly string[], removed: readonly string[]) => void): () => void;
}

/** The holdings of an entity store (`store.all()`, `store.onChange`). */
export function storeHoldings(store: {
  all(): Iterable<{ id: string }>;
  onChange(l: (change: { put?: Array<{ id: string }>; remove?: string[] }) => void): () => void;
}): Holdings {
  return {
    ids: () => [...store.all()].map((e) => e.id),
    onChange: (listener) => store.onChange((change) => listener((change.put ?? []).map((e) => e.id), change.remove ?? [])),
  };
}

export class HolderRecords {
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly directory: RecordDirectory,
    private readonly holdings: Holdings,
  ) {}

  /** Publishes every held id and follows the changes. Idempotent. */
  start(): void {
    if (this.unsubscribe) return;
    for (const id of this.holdings.ids()) this.directory.publish(HOLDER_PREFIX + id);
    this.unsubscribe = this.holdings.onChange((put, removed) => {
      for (const id of removed) this.directory.withdraw(HOLDER_PREFIX + id);
      // A put of an entity already held republishes nothing new: publishing replaces the same record.
      for (const id of put) this.directory.publish(HOLDER_PREFIX + id);
    });
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Members (this node excluded) whose record says they hold `id`; `ok` false when the keepers did not answer. */
  async holders(id: string): Promise<{ ok: boolean; keys: string[] }> {
    const { ok, records } = await this.directory.findAll(HOLDER_PREFIX + id, 16);
    return { ok, keys: records.map((r) => r.by).filter((k) => k !== this.directory.selfKey) };
  }
}
