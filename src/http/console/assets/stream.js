// The node's event stream read with fetch (EventSource cannot send the token header), parsed by
// eventsource-parser; on a cut it reconnects with the last id it saw, so nothing is missed.
import { createParser } from './vendor/eventsource-parser/index.js';

export function openStream(token, { onEvent, onState }) {
  let lastId;
  let retryMs = 2000;
  let controller;
  let stopped = false;
  const connect = async () => {
    controller = new AbortController();
    try {
      const headers = { 'X-Auth-Token': token, Accept: 'text/event-stream' };
      if (lastId) headers['Last-Event-ID'] = lastId;
      const res = await fetch('/.well-known/discovery/events', { headers, signal: controller.signal, cache: 'no-store' });
      if (!res.ok) throw new Error(`event stream: ${res.status}`);
      onState('live');
      const parser = createParser({
        onEvent: (e) => {
          if (e.id) lastId = e.id;
          onEvent(e.event ?? 'message', JSON.parse(e.data));
        },
        onRetry: (ms) => (retryMs = ms),
      });
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.feed(value);
      }
    } catch {
      // cut, refused or aborted: retried below unless stopped
    }
    if (stopped) return;
    onState('reconnecting');
    setTimeout(connect, retryMs);
  };
  void connect();
  return () => {
    stopped = true;
    controller?.abort();
  };
}
