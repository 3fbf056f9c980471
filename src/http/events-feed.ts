/**
 * The node's live events (docs/console.md): what happened here, and what the members it watches
 * report, each kept in a bounded in-memory ring with the id the event stream (events.ts) gives it,
 * so that a client reconnecting with `Last-Event-ID` gets what it missed while the ring holds it.
 *
 * @example
 *   const feed = new EventFeed({ node: 'node-1' });
 *   const stop = feed.subscribe((e) => console.log(e.id, e.type));
 *   feed.publish('compute.admitted', { id, state: 'active' }, 'acme');
 *   feed.since('k2x9-41');   // the events after that id (or a gap when it is older than the ring)
 */
import type { JsonValue } from '../mesh/mesh.js';
import type { Principal } from '../occi/request.js';

/** Events kept for reconnecting clients; older ones are gone (the client is told of the gap). */
export const DEFAULT_RING_SIZE = 2048;

export type EventType =
  | 'member.joined'
  | 'member.left'
  | 'compute.admitted'
  | 'compute.arrived'
  | 'compute.state'
  | 'compute.deleted'
  | 'domain.state'
  | 'dvms.event'
  | 'partition.joined'
  | 'partition.left'
  | 'partition.merged'
  | 'partition.solved'
  | 'partition.unsolvable'
  | 'partition.released'
  | 'migration.started'
  | 'migration.progress'
  | 'migration.ended'
  | 'failover.started'
  | 'failover.solved';

/** What any token may see: the mesh's members are every tenant's points of presence. */
const PUBLIC_TYPES: ReadonlySet<EventType> = new Set(['member.joined', 'member.left']);
/** Each node's own view of the membership: never relayed, or every watcher would see it once per member. */
export const LOCAL_VIEW_TYPES: ReadonlySet<EventType> = PUBLIC_TYPES;

export interface NodeEvent {
  type: EventType;
  /** When it happened (ms since the epoch, the clock of the node where it did). */
  at: number;
  /** Name of the node where it happened. */
  node: string;
  /** The tenant owning the compute it is about; null for the infrastructure's own events (admins only). */
  tenant: string | null;
  data: Record<string, JsonValue>;
}

export interface FeedEvent extends NodeEvent {
  /** `<feed epoch>-<sequence>`: the SSE id, increasing within one run of the node. */
  id: string;
}

/** A fixed-size ring of items numbered 1, 2, …; the oldest is overwritten. */
export class Ring<T> {
  private readonly items: T[] = [];
  /** Number of the newest item (0: none yet). */
  last = 0;

  constructor(private readonly size: number) {}

  push(item: T): number {
    this.items[this.last % this.size] = item;
    return ++this.last;
  }

  /** Number of the oldest item still held. */
  get first(): number {
    return Math.max(1, this.last - this.size + 1);
  }

  /** Items numbered after `n`, oldest first, and whether some of them were overwritten already. */
  after(n: number): { items: T[]; gap: boolean } {
    const from = Math.max(n + 1, this.first);
    const items: T[] = [];
    for (let i = from; i <= this.last; i++) items.push(this.items[(i - 1) % this.size]!);
    return { items, gap: n + 1 < this.first };
  }
}

export type FeedListener = (event: FeedEvent) => void;

export interface EventFeedOptions {
  /** Name of this node, written in its own events. */
  node: string;
  ringSize?: number;
  now?: () => number;
}

export class EventFeed {
  /** Changes at every start of the node: an id of an earlier run is recognised as such. */
  readonly epoch: string;
  readonly node: string;
  /** This node's own events, numbered for the members that relay them (events-relay.ts). */
  readonly own: Ring<NodeEvent>;
  private readonly seen: Ring<FeedEvent>;
  private readonly listeners = new Set<FeedListener>();
  private readonly now: () => number;

  constructor(opts: EventFeedOptions) {
    this.node = opts.node;
    this.now = opts.now ?? Date.now;
    this.epoch = this.now().toString(36);
    this.own = new Ring(opts.ringSize ?? DEFAULT_RING_SIZE);
    this.seen = new Ring(opts.ringSize ?? DEFAULT_RING_SIZE);
  }

  /** Records an event of this node. */
  publish(type: EventType, data: Record<string, JsonValue>, tenant: string | null = null): void {
    const event: NodeEvent = { type, at: this.now(), node: this.node, tenant, data };
    this.own.push(event);
    this.deliver(event);
  }

  /** This node's own events of the last `ms` (on this node's clock), oldest first. */
  recent(ms: number): NodeEvent[] {
    const since = this.now() - ms;
    return this.own.after(0).items.filter((e) => e.at >= since);
  }

  /** Records events a member reported (events-relay.ts). */
  ingest(events: readonly NodeEvent[]): void {
    for (const e of events) this.deliver(e);
  }

  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  /**
   * The events after `lastId` (an id this feed gave). An id of another run of the node, or one
   * older than the ring, is a gap: every event still held follows it.
   */
  since(lastId: string): { events: FeedEvent[]; gap: boolean } {
    const [epoch, seq] = lastId.split('-');
    const n = Number(seq);
    if (epoch !== this.epoch || !Number.isInteger(n) || n < 0 || n > this.seen.last) return { events: this.seen.after(0).items, gap: true };
    const { items, gap } = this.seen.after(n);
    return { events: items, gap };
  }

  private deliver(event: NodeEvent): void {
    const stored: FeedEvent = { ...event, id: `${this.epoch}-${this.seen.last + 1}` };
    this.seen.push(stored);
    for (const listener of this.listeners) listener(stored);
  }
}

/** Admins see every event; a tenant sees its own computes' and the membership's. */
export function visibleTo(principal: Principal, event: NodeEvent): boolean {
  return principal.admin || event.tenant === principal.tenant || PUBLIC_TYPES.has(event.type);
}
