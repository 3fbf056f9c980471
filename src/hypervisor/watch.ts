import type { DomainEvent, DomainInfo, DomainListener, DomainState, WatchOptions } from './hypervisor.js';

export const DEFAULT_POLL_INTERVAL_MS = 1000;

export interface StatePollerOptions {
  /** Period of the background poll while someone watches. */
  intervalMs?: number;
  now?: () => number;
}

/**
 * Detects domain state changes by comparing successive listings. Polling (not
 * libvirt events) so that changes made behind the gateway's back, by another
 * client or process, are seen the same way as its own.
 */
export class StatePoller {
  readonly #list: () => Promise<DomainInfo[]>;
  readonly #now: () => number;
  readonly #defaultIntervalMs: number;
  readonly #listeners = new Map<DomainListener, number>();
  #known: Map<string, { name: string; state: DomainState }> | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(list: () => Promise<DomainInfo[]>, opts: StatePollerOptions = {}) {
    this.#list = list;
    this.#now = opts.now ?? Date.now;
    this.#defaultIntervalMs = opts.intervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  }

  watch(listener: DomainListener, opts: WatchOptions = {}): () => void {
    if (this.#closed) return () => {};
    this.#listeners.set(listener, opts.intervalMs ?? this.#defaultIntervalMs);
    this.#reschedule();
    if (this.#known === undefined) void this.poll().catch(() => {});
    return () => {
      this.#listeners.delete(listener);
      this.#reschedule();
    };
  }

  /** One comparison; polls are serialized. The first one only records the baseline. */
  poll(): Promise<DomainEvent[]> {
    const next = this.#chain.then(() => this.#pollOnce());
    this.#chain = next.catch(() => {});
    return next;
  }

  close(): void {
    this.#closed = true;
    this.#listeners.clear();
    this.#reschedule();
  }

  async #pollOnce(): Promise<DomainEvent[]> {
    if (this.#closed) return [];
    const domains = await this.#list();
    const at = this.#now();
    const current = new Map(domains.map((d) => [d.id, { name: d.name, state: d.state }]));
    const before = this.#known;
    this.#known = current;
    if (before === undefined) return [];
    const events: DomainEvent[] = [];
    for (const [id, now] of current) {
      const previous = before.get(id)?.state ?? 'absent';
      if (previous !== now.state) events.push({ id, name: now.name, previous, state: now.state, at });
    }
    for (const [id, old] of before) {
      if (!current.has(id)) events.push({ id, name: old.name, previous: old.state, state: 'absent', at });
    }
    for (const event of events) {
      for (const listener of this.#listeners.keys()) listener(event);
    }
    return events;
  }

  #reschedule(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#listeners.size === 0) return;
    const intervalMs = Math.min(...this.#listeners.values());
    this.#timer = setInterval(() => void this.poll().catch(() => {}), intervalMs);
    this.#timer.unref();
  }
}
