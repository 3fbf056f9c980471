/**
 * Lifeguard's refinements of SWIM (Dadgar, Phillips, Currey, "Lifeguard: Local Health Awareness
 * for More Accurate Failure Detection", 2018): a suspicion whose timeout shrinks as independent
 * confirmations arrive, and the local health score that stretches a slow node's own timeouts.
 */
import type { MeshTimers, TimerHandle } from '../clock.js';

/**
 * A suspicion of one member: fires after `maxMs`, sooner with each distinct confirmation, down to
 * `minMs` once `expected` confirmations arrived: timeout(C) = max(min, max − (max − min)·log(C+1)/log(K+1)).
 */
export class Suspicion {
  private readonly confirmations = new Set<string>();
  private readonly start: number;
  private timer: TimerHandle;

  constructor(
    private readonly timers: MeshTimers,
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly expected: number,
    first: string,
    private readonly fire: () => void,
  ) {
    this.start = timers.now();
    this.confirmations.add(first);
    this.timer = timers.setTimer(this.timeout(), fire);
  }

  /** A suspicion from `by`; true when it was a new one (and the timeout shrank). */
  confirm(by: string): boolean {
    if (this.confirmations.has(by) || this.confirmations.size > this.expected) return false;
    this.confirmations.add(by);
    this.timers.clearTimer(this.timer);
    const left = this.timeout() - (this.timers.now() - this.start);
    this.timer = this.timers.setTimer(Math.max(0, left), this.fire);
    return true;
  }

  /** Fires `ms` after the suspicion started, whatever the confirmations (now if that is past). */
  deferTo(ms: number): void {
    this.timers.clearTimer(this.timer);
    this.timer = this.timers.setTimer(Math.max(0, ms - (this.timers.now() - this.start)), this.fire);
  }

  /** Milliseconds since the suspicion started. */
  elapsed(): number {
    return this.timers.now() - this.start;
  }

  cancel(): void {
    this.timers.clearTimer(this.timer);
  }

  private timeout(): number {
    const c = this.confirmations.size - 1;
    const shrink = Math.log(c + 1) / Math.log(this.expected + 1);
    return Math.max(this.minMs, this.maxMs - (this.maxMs - this.minMs) * shrink);
  }
}

/** Local health: up on missed acks and on being suspected, down on every answered probe. */
export class Awareness {
  private score = 0;

  constructor(private readonly max: number) {}

  /** Multiplier of this node's probe period and timeouts. */
  get multiplier(): number {
    return this.score + 1;
  }

  get health(): number {
    return this.score;
  }

  change(delta: number): void {
    this.score = Math.min(this.max, Math.max(0, this.score + delta));
  }
}
