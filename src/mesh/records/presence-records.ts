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
/** Tenants by the nodes holding some of their entities: a tenant's collections are asked of those nodes only. */
export const TENANT_PREFIX = 'tenant:';

/** The names a node has and their changes (for holders: the entity store, seen by id). */
export interface Holdings {
  ids(): Iterable<string>;
  /** What a name's record says (for holders: the entity's owner and kind); empty when absent. */
  recordOf?(name: string): string;
  /** Calls `listener` after each committed change with the ids it put and removed; returns the unsubscription. */
  onChange(listener: (put: readonly string[], removed: readonly string[]) => void): () => void;
}

/** What a holder record says of its entity: who owns it and its kind, so that finding where an id is tells whether the caller may see it. */
export interface HeldEntity {
  owner: string;
  kind: string;
}

/** The holdings of an entity store (`store.all()`, `store.get()`, `store.onChange`), each record saying its entity's owner and kind. */
export function storeHoldings(store: {
  all(): Iterable<{ id: string }>;
  get(id: string): { owner?: string | null; kind: string } | undefined;
  onChange(l: (change: { put?: Array<{ id: string }>; remove?: string[] }) => void): () => void;
}): Holdings {
  return {
    ids: () => [...store.all()].map((e) => e.id),
    recordOf: (id) => {
      const e = store.get(id);
      return e ? JSON.stringify({ owner: e.owner ?? '', kind: e.kind } satisfies HeldEntity) : '';
    },
    onChange: (listener) => store.onChange((change) => listener((change.put ?? []).map((e) => e.id), change.remove ?? [])),
  };
}

/** A holder record's entity, or undefined when the record says nothing readable. */
export function heldEntity(value: string): HeldEntity | undefined {
  try {
    const v = JSON.parse(value) as Partial<HeldEntity>;
    return typeof v?.owner === 'string' && typeof v.kind === 'string' ? { owner: v.owner, kind: v.kind } : undefined;
  } catch {
    return undefined;
  }
}

/** The tenants an entity store holds entities of (`store.all()`, `store.onChange` with the removed entities), by owner. */
export function tenantHoldings(store: {
  all(): Iterable<{ id: string; owner: string }>;
  onChange(l: (change: { put?: Array<{ id: string; owner: string }> }, removed: Array<{ id: string; owner: string }>) => void): () => void;
}): Holdings {
  /** The owner of each id held, and how many ids each owner has. */
  const owners = new Map<string, string>();
  const counts = new Map<string, number>();
  const hold = (e: { id: string; owner: string }): boolean => {
    if (owners.get(e.id) === e.owner) return false;
    owners.set(e.id, e.owner);
    counts.set(e.owner, (counts.get(e.owner) ?? 0) + 1);
    return counts.get(e.owner) === 1;
  };
  const release = (e: { id: string; owner: string }): boolean => {
    const owner = owners.get(e.id);
    if (owner === undefined) return false;
    owners.delete(e.id);
    const left = (counts.get(owner) ?? 1) - 1;
    if (left > 0) counts.set(owner, left);
    else counts.delete(owner);
    return left === 0;
  };
  return {
    ids: () => {
      for (const e of store.all()) hold(e);
      return [...counts.keys()];
    },
    onChange: (listener) =>
      store.onChange((change, removed) => {
        const gone = removed.filter(release).map((e) => e.owner);
        const fresh = (change.put ?? []).filter(hold).map((e) => e.owner);
        if (gone.length > 0 || fresh.length > 0) listener(fresh, gone.filter((o) => !counts.has(o)));
      }),
  };
}

export class PresenceRecords {
  /** The names this node has, with what each record says. */
  private readonly have = new Map<string, string>();
  /** Names published and not yet read back from their keepers. */
  private readonly unsettled = new Set<string>();
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly directory: RecordDirectory,
    private readonly prefix: string,
  ) {}

  add(name: string, value = ''): void {
    if (this.have.get(name) === value) return;
    this.have.set(name, value);
    this.unsettled.add(name);
    this.directory.put(this.prefix + name, value);
  }

  /**
   * Whether the keepers hold every record this node published so far: a put is not answered, so
   * each is read back, up to `reads` times with growing pauses. A write waits for it before it is
   * acknowledged, so that a read through any other node finds what was written.
   */
  async settled(reads = 4): Promise<boolean> {
    const names = [...this.unsettled];
    const read = await Promise.all(names.map((name) => this.readBack(name, reads)));
    return read.every(Boolean);
  }

  private async readBack(name: string, reads: number): Promise<boolean> {
    for (let i = 0; ; i++) {
      const value = this.have.get(name);
      if (value === undefined || !this.unsettled.has(name)) return true;
      const { ok, records } = await this.directory.findAll(this.prefix + name, 64);
      if (ok && records.some((r) => r.by === this.directory.selfKey && r.value === value)) {
        if (this.have.get(name) === value) this.unsettled.delete(name);
        return true;
      }
      if (i + 1 >= reads) return false;
      await this.directory.wait(50 * 2 ** i);
    }
  }

  remove(name: string): void {
    this.unsettled.delete(name);
    if (this.have.delete(name)) this.directory.withdraw(this.prefix + name);
  }

  /** Exactly `names` from now on: what is new published, what is gone withdrawn. */
  replace(names: Iterable<string>): void {
    const next = new Set(names);
    for (const name of [...this.have.keys()]) if (!next.has(name)) this.remove(name);
    for (const name of next) this.add(name);
  }

  /** Publishes every name `holdings` has and follows its changes. Idempotent. */
  follow(holdings: Holdings): void {
    if (this.unsubscribe) return;
    const ids = new Set(holdings.ids());
    for (const name of [...this.have.keys()]) if (!ids.has(name)) this.remove(name);
    for (const id of ids) this.add(id, holdings.recordOf?.(id));
    this.unsubscribe = holdings.onChange((put, removed) => {
      for (const id of removed) this.remove(id);
      for (const id of put) this.add(id, holdings.recordOf?.(id));
    });
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Members (this node excluded) whose record says they have `name`; `ok` false when the keepers did not answer. */
  async who(name: string, maxRecords = 1000): Promise<{ ok: boolean; keys: string[] }> {
    const { ok, records } = await this.records(name, maxRecords);
    return { ok, keys: records.map((r) => r.by) };
  }

  /**
   * The records of `name` read at every keeper at once (this node's own included): it costs the
   * same whether some member has it or none does, so that the time of the answer tells nothing.
   */
  async everywhere(name: string, maxRecords = 16): Promise<{ ok: boolean; records: Array<{ by: string; value: string }> }> {
    const { ok, records } = await this.directory.findAtEveryKeeper(this.prefix + name, maxRecords);
    return { ok, records: records.map((r) => ({ by: r.by, value: r.value })) };
  }

  /** The records (publisher and what it says) of the members, this node excluded, that have `name`. */
  async records(name: string, maxRecords = 1000): Promise<{ ok: boolean; records: Array<{ by: string; value: string }> }> {
    const { ok, records } = await this.directory.findAll(this.prefix + name, maxRecords);
    return { ok, records: records.filter((r) => r.by !== this.directory.selfKey).map((r) => ({ by: r.by, value: r.value })) };
  }
}
