/**
 * Which nodes have something, on the ring: a node publishes a record under `<prefix><name>` for
 * each name it has (an entity it holds, a placement group it hosts computes of) and withdraws it
 * when it no longer has it. Finding who has a name costs one lookup of bounded hops whatever the
 * number of members, where asking every member costs N messages (directory.ts).
 */
import type { RecordDirectory } from './record-directory.js';

/** Entities by the node holding them. A moved entity is briefly under two records (the target publishes before the source withdraws): callers try them and forget a wrong one. */
export const HOLDER_PREFIX = 'holder:';
/** Gather and latency placement groups by the nodes hosting some of their computes. */
export const GROUP_PREFIX = 'group:';

/** The names a node has and their changes (for holders: the entity store, seen by id). */
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

export class PresenceRecords {
  private readonly have = new Set<string>();
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly directory: RecordDirectory,
    private readonly prefix: string,
  ) {}

  add(name: string): void {
    if (this.have.has(name)) return;
    this.have.add(name);
    this.directory.put(this.prefix + name);
  }

  remove(name: string): void {
    if (this.have.delete(name)) this.directory.withdraw(this.prefix + name);
  }

  /** Exactly `names` from now on: what is new published, what is gone withdrawn. */
  replace(names: Iterable<string>): void {
    const next = new Set(names);
    for (const name of [...this.have]) if (!next.has(name)) this.remove(name);
    for (const name of next) this.add(name);
  }

  /** Publishes every name `holdings` has and follows its changes. Idempotent. */
  follow(holdings: Holdings): void {
    if (this.unsubscribe) return;
    this.replace(holdings.ids());
    this.unsubscribe = holdings.onChange((put, removed) => {
      for (const id of removed) this.remove(id);
      for (const id of put) this.add(id);
    });
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Members (this node excluded) whose record says they have `name`; `ok` false when the keepers did not answer. */
  async who(name: string, maxRecords = 1000): Promise<{ ok: boolean; keys: string[] }> {
    const { ok, records } = await this.directory.findAll(this.prefix + name, maxRecords);
    return { ok, keys: records.map((r) => r.by).filter((k) => k !== this.directory.selfKey) };
  }
}
