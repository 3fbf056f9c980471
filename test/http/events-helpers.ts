/** A test client of the event stream: fetch with a streamed body, parsed by eventsource-parser (as the console does). */
import { createParser } from 'eventsource-parser';

export interface StreamedEvent {
  id?: string;
  event: string;
  data: { id?: string; type?: string; node?: string; tenant?: string | null; data?: Record<string, unknown>; [k: string]: unknown };
}

export interface EventStreamClient {
  status: number;
  headers: Headers;
  events: StreamedEvent[];
  /** Resolves with the first event (from now or already received) that matches; rejects after `timeoutMs`. */
  next(match: (e: StreamedEvent) => boolean, timeoutMs?: number): Promise<StreamedEvent>;
  close(): void;
}

export async function openEvents(base: string, token: string, opts: { lastEventId?: string; query?: string } = {}): Promise<EventStreamClient> {
  const controller = new AbortController();
  const headers: Record<string, string> = { 'X-Auth-Token': token, Accept: 'text/event-stream' };
  if (opts.lastEventId) headers['Last-Event-ID'] = opts.lastEventId;
  const res = await fetch(`${base}/.well-known/discovery/events${opts.query ?? ''}`, { headers, signal: controller.signal });
  const events: StreamedEvent[] = [];
  const waiters = new Set<() => void>();
  const parser = createParser({
    onEvent: (e) => {
      events.push({ id: e.id, event: e.event ?? 'message', data: JSON.parse(e.data) as StreamedEvent['data'] });
      for (const w of waiters) w();
    },
  });
  if (res.ok && res.body) {
    void (async () => {
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          parser.feed(value);
        }
      } catch {
        // closed by the test
      }
    })();
  }
  return {
    status: res.status,
    headers: res.headers,
    events,
    next: (match, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = events.find(match);
          if (!found) return;
          cleanup();
          resolve(found);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no matching event within ${timeoutMs} ms; got ${events.map((e) => e.event).join(', ')}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    close: () => controller.abort(),
  };
}

/** The events about one compute, by type, in the order they came. */
export const typesOf = (client: EventStreamClient, id: string) => client.events.filter((e) => e.data.data?.['id'] === id).map((e) => e.event);
