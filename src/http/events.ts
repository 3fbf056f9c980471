/**
 * `GET /.well-known/discovery/events`: the mesh's live events as server-sent events (documented in
 * openapi/occi.yaml, docs/console.md). A tenant's token sees its own computes' events and the
 * membership; an admin's sees everything. `Last-Event-ID` (or `?lastEventId=`) replays what the
 * node's ring still holds after that id; an id it no longer holds is answered by a `gap` event
 * first. `?types=compute.,migration.` keeps the events whose type starts with one of these.
 *
 * @example
 *   curl -N -H "X-Auth-Token: $TOKEN" localhost:8080/.well-known/discovery/events
 *   id: lq3x1c-7
 *   event: compute.state
 *   data: {"id":"lq3x1c-7","type":"compute.state","at":…,"node":"node-3","data":{"id":"…","from":"active","to":"inactive"}}
 */
import type { Request, Response } from 'express';
import type { Context } from 'openapi-backend';
import type { Principal } from '../occi/request.js';
import { type EventFeed, type FeedEvent, visibleTo } from './events-feed.js';
import type { EventRelay } from './events-relay.js';

/** A comment line this often keeps proxies and the client's idle timers from closing the stream (ms). */
export const HEARTBEAT_MS = 15_000;
/** How long a client waits before it reconnects (the SSE `retry` field, ms). */
const RETRY_MS = 2_000;
/** A client that lets this much pile up unread is cut off; it reconnects with its Last-Event-ID. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

interface Exchange {
  req: Request;
  res: Response;
  principal: Principal;
}

export interface EventStreams {
  feed: EventFeed;
  relay?: EventRelay;
  heartbeatMs?: number;
}

/** One SSE frame; `data` is the whole event (one line of JSON). */
export function frame(e: FeedEvent, principal: Principal): string {
  const { id, type, at, node, tenant, data } = e;
  return `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify({ id, type, at, node, ...(principal.admin ? { tenant } : {}), data })}\n\n`;
}

export function eventsHandlers(streams: EventStreams | undefined) {
  return {
    getEvents: (c: Context, { req, res, principal }: Exchange) => {
      if (!streams) throw new Error('no event feed on this node');
      const types = String(c.request.query['types'] ?? '')
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean);
      const lastId = req.get('last-event-id') ?? (c.request.query['lastEventId'] as string | undefined);
      stream(streams, req, res, principal, (e) => visibleTo(principal, e) && (types.length === 0 || types.some((t) => e.type.startsWith(t))), lastId);
    },
  };
}

function stream(streams: EventStreams, req: Request, res: Response, principal: Principal, keep: (e: FeedEvent) => boolean, lastId: string | undefined): void {
  const { feed, relay } = streams;
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Connection', 'keep-alive');
  // Reverse proxies (nginx) buffer answers unless told not to.
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
  req.socket.setNoDelay(true);
  res.write(`retry: ${RETRY_MS}\n\n`);
  const send = (e: FeedEvent): void => {
    if (!keep(e)) return;
    res.write(frame(e, principal));
    if (res.writableLength > MAX_BUFFERED_BYTES) res.destroy();
  };
  const release = relay?.watch();
  // Subscribed before the replay is read: nothing published in between is lost (the feed is synchronous).
  const unsubscribe = feed.subscribe(send);
  if (lastId !== undefined) {
    const { events, gap } = feed.since(lastId);
    if (gap) res.write(`event: gap\ndata: ${JSON.stringify({ after: lastId, oldest: events[0]?.id ?? null })}\n\n`);
    for (const e of events) send(e);
  }
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), streams.heartbeatMs ?? HEARTBEAT_MS);
  heartbeat.unref();
  res.once('close', () => {
    clearInterval(heartbeat);
    unsubscribe();
    release?.();
  });
}
