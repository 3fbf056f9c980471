/** The simulator's clock: the mesh's timers port over a discrete-event queue (flatqueue), run without waiting. */
import FlatQueue from 'flatqueue';
import type { MeshTimers, TimerHandle } from '../clock.js';

interface SimTimer {
  fn: () => void;
  every: number | null;
  cancelled: boolean;
}

export class SimClock implements MeshTimers {
  private time = 0;
  private readonly queue = new FlatQueue<SimTimer>();
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

  /** Runs every event due up to `until` (ms), in time order. */
  run(until: number): void {
    while (this.queue.length > 0 && (this.queue.peekValue() ?? Infinity) <= until) {
      const at = this.queue.peekValue()!;
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
