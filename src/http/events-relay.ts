/**
 * The event stream of the whole mesh at any node: while a client watches a node (and a while
 * after, for its reconnection), the node asks every member for its own events since the last it
 * got (`discovery/events`, a cursor per member), and feeds them into its ring. A mesh nobody
 * watches costs nothing; a watched one costs one small call per member per poll.
 *
 * @example
 *   const relay = new EventRelay({ mesh, feed });
 *   const release = relay.watch();   // polling starts
 *   release();                       // stops LINGER_MS after the last watcher left
 *   relay.close();
 */
import type { JsonValue, Mesh } from '../mesh/mesh.js';
import { type EventFeed, LOCAL_VIEW_TYPES, type NodeEvent } from './events-feed.js';

export const EVENTS_METHOD = 'discovery/events';
/** How often a watched node asks its members (ms): a migration between two of them shows within this. */
export const DEFAULT_POLL_MS = 500;
/** Polling goes on this long after the last watcher left, so a client that reconnects misses nothing (ms). */
export const DEFAULT_LINGER_MS = 30_000;
/** Most events one answer carries; the rest come with the next poll. */
const BATCH = 256;
/**
 * A first call also gets this node's events of the last few seconds (ms, on this node's clock):
 * those that happened between the start of the watch and the first answer.
 */
const FIRST_BACKLOG_MS = 5_000;

interface Cursor {
  epoch: string;
  seq: number;
}

interface EventsAnswer {
  epoch: string;
  last: number;
  events: NodeEvent[];
}

export interface EventRelayOptions {
  mesh: Mesh;
  feed: EventFeed;
  pollMs?: number;
  lingerMs?: number;
}

export class EventRelay {
  private readonly cursors = new Map<string, Cursor>();
  private readonly inFlight = new Set<string>();
  private watchers = 0;
  private timer: NodeJS.Timeout | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly opts: EventRelayOptions) {
    opts.mesh.handle(EVENTS_METHOD, (payload) => this.answer(payload) as unknown as JsonValue);
  }

  /** A client watches: the members are polled until it is released (and LINGER_MS more). */
  watch(): () => void {
    this.watchers++;
    clearTimeout(this.lingerTimer);
    if (!this.timer && !this.closed) {
      this.timer = setInterval(() => this.poll(), this.opts.pollMs ?? DEFAULT_POLL_MS);
      this.timer.unref();
      this.poll();
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.watchers > 0) return;
      this.lingerTimer = setTimeout(() => this.stopPolling(), this.opts.lingerMs ?? DEFAULT_LINGER_MS);
      this.lingerTimer.unref();
    };
  }

  close(): void {
    this.closed = true;
    this.stopPolling();
    clearTimeout(this.lingerTimer);
    this.opts.mesh.unhandle(EVENTS_METHOD);
  }

  private stopPolling(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    // Watching again later starts from the members' newest events, not from what was missed.
    this.cursors.clear();
  }

  /** This node's own events after the asker's cursor (all of them after a restart of this node). */
  private answer(payload: JsonValue): EventsAnswer {
    const { own, epoch } = this.opts.feed;
    const asked = (payload ?? {}) as { epoch?: unknown; since?: unknown };
    // A first call (no cursor) learns where this node is, with its events of the last seconds.
    if (typeof asked.since !== 'number') {
      const recent = this.opts.feed.recent(FIRST_BACKLOG_MS).filter((e) => !LOCAL_VIEW_TYPES.has(e.type));
      return { epoch, last: own.last, events: recent.slice(-BATCH) };
    }
    const since = asked.epoch === epoch ? asked.since : 0;
    const events = own.after(since).items.slice(0, BATCH).filter((e) => !LOCAL_VIEW_TYPES.has(e.type));
    return { epoch, last: Math.min(own.last, Math.max(since, own.first - 1) + BATCH), events };
  }

  private poll(): void {
    const { mesh, feed } = this.opts;
    const members = mesh.members();
    const present = new Set(members.map((m) => m.key));
    for (const key of this.cursors.keys()) if (!present.has(key)) this.cursors.delete(key);
    for (const m of members) {
      if (this.inFlight.has(m.key)) continue;
      this.inFlight.add(m.key);
      const cursor = this.cursors.get(m.key);
      mesh
        .request<EventsAnswer>(m.key, EVENTS_METHOD, cursor ? { epoch: cursor.epoch, since: cursor.seq } : {}, { timeoutMs: 2_000, idempotent: true })
        .then(
          (answer) => {
            if (this.closed || !this.timer) return;
            this.cursors.set(m.key, { epoch: answer.epoch, seq: answer.last });
            feed.ingest(answer.events);
          },
          () => undefined, // a member that did not answer is asked again at the next poll, from the same cursor
        )
        .finally(() => this.inFlight.delete(m.key));
    }
  }
}
