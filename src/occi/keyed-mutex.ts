/**
 * Serialises work per key: a mutation holds the keys of every entity it reads and writes, so two
 * requests on the same entity never interleave across their asynchronous backend calls.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  /** `after` runs once the work is done, still holding the keys (e.g. waits for replication of what they name). */
  constructor(private readonly after?: (keys: string[]) => Promise<void>) {}

  async run<T>(keys: Iterable<string>, work: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const waits = sorted.map((k) => this.tails.get(k) ?? Promise.resolve());
    for (const k of sorted) this.tails.set(k, held);
    try {
      await Promise.all(waits);
      const result = await work();
      await this.after?.(sorted);
      return result;
    } finally {
      release();
      for (const k of sorted) if (this.tails.get(k) === held) this.tails.delete(k);
    }
  }
}
