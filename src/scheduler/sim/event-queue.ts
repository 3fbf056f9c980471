/** Discrete-event queue: a binary heap ordered by (time, insertion order); cancellation is lazy. */
export interface SimEvent {
  readonly t: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

export class EventQueue {
  private readonly heap: SimEvent[] = [];
  private seq = 0;
  now = 0;

  get size(): number {
    return this.heap.length;
  }

  at(t: number, fn: () => void): SimEvent {
    const ev: SimEvent = { t: Math.max(t, this.now), seq: this.seq++, fn, cancelled: false };
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(ev, h[p] as SimEvent)) break;
      h[i] = h[p] as SimEvent;
      i = p;
    }
    h[i] = ev;
    return ev;
  }

  after(dt: number, fn: () => void): SimEvent {
    return this.at(this.now + Math.max(0, dt), fn);
  }

  /** Pops the next live event (advancing `now`), or undefined when empty or past `until`. */
  next(until: number): SimEvent | undefined {
    const h = this.heap;
    for (;;) {
      const top = h[0];
      if (!top || top.t > until) return undefined;
      const last = h.pop() as SimEvent;
      if (h.length > 0) {
        let i = 0;
        const n = h.length;
        for (;;) {
          const l = 2 * i + 1;
          if (l >= n) break;
          const r = l + 1;
          const c = r < n && less(h[r] as SimEvent, h[l] as SimEvent) ? r : l;
          if (!less(h[c] as SimEvent, last)) break;
          h[i] = h[c] as SimEvent;
          i = c;
        }
        h[i] = last;
      }
      if (top.cancelled) continue;
      this.now = top.t;
      return top;
    }
  }
}

function less(a: SimEvent, b: SimEvent): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}
