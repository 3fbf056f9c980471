/**
 * The simulator's clock: the mesh's timers port over a discrete-event queue, run without waiting.
 * Events due at the same instant run in the order they were set: two messages sent on one stream
 * that arrive together are delivered in the order they were sent, and a link's closing after
 * what was sent on it before.
 */
import type { MeshTimers, TimerHandle } from '../clock.js';

interface SimTimer {
  fn: () => void;
  every: number | null;
  cancelled: boolean;
}

/** A binary heap of timers ordered by due time, then by the order they were queued. */
class EventQueue {
  private readonly items: SimTimer[] = [];
  private readonly times: number[] = [];
  private readonly seqs: number[] = [];
  private seq = 0;

  get length(): number {
    return this.items.length;
  }

  peekTime(): number {
    return this.items.length > 0 ? this.times[0]! : Infinity;
  }

  push(item: SimTimer, time: number): void {
    const { items, times, seqs } = this;
    const seq = this.seq++;
    let i = items.length;
    items.push(item);
    times.push(time);
    seqs.push(seq);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (times[p]! < time || (times[p] === time && seqs[p]! < seq)) break;
      items[i] = items[p]!;
      times[i] = times[p]!;
      seqs[i] = seqs[p]!;
      i = p;
    }
    items[i] = item;
    times[i] = time;
    seqs[i] = seq;
  }

  pop(): SimTimer | undefined {
    const { items, times, seqs } = this;
    if (items.length === 0) return undefined;
    const top = items[0]!;
    const item = items.pop()!;
    const time = times.pop()!;
    const seq = seqs.pop()!;
    const n = items.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        const r = c + 1;
        if (r < n && (times[r]! < times[c]! || (times[r] === times[c] && seqs[r]! < seqs[c]!))) c = r;
        if (times[c]! > time || (times[c] === time && seqs[c]! > seq)) break;
        items[i] = items[c]!;
        times[i] = times[c]!;
        seqs[i] = seqs[c]!;
        i = c;
      }
      items[i] = item;
      times[i] = time;
      seqs[i] = seq;
    }
    return top;
  }
}

export class SimClock implements MeshTimers {
  private time = 0;
  private readonly queue = new EventQueue();
  /** Events run so far. */
  events = 0;

  now(): number {
    return this.time;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    return this.at(this.time + Math.max(0, ms), fn, null);
  }

  setRepeating(ms: number, fn: () => void): TimerHandle {
    return this.at(this.time + Math.max(1, ms), fn, Math.max(1, ms));
  }

  clearTimer(handle: TimerHandle): void {
    if (handle) (handle as SimTimer).cancelled = true;
  }

  /** Runs every event due up to `until` (ms), in time order (the order they were set at equal times). */
  run(until: number): void {
    while (this.queue.length > 0 && this.queue.peekTime() <= until) {
      const at = this.queue.peekTime();
      const t = this.queue.pop()!;
      if (t.cancelled) continue;
      this.time = at;
      this.events++;
      if (t.every !== null) this.queue.push(t, at + t.every);
      t.fn();
    }
    this.time = Math.max(this.time, until);
  }

  private at(when: number, fn: () => void, every: number | null): SimTimer {
    const t: SimTimer = { fn, every, cancelled: false };
    this.queue.push(t, when);
    return t;
  }
}
