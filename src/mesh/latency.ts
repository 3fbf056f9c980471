/** Latency emulation: a delay per peer on every message written, to emulate a wide-area network on loopback. */
import { sleep, type MeshTimers } from './clock.js';

/**
 * The delay (ms) to apply to each message written to `peerKey`: half the round trip to emulate.
 * `Infinity` emulates a network split: messages to that peer are dropped (calls then time out).
 */
export type DelayFunction = (peerKey: string) => number;

export class LatencyEmulator {
  constructor(
    private readonly delayMs: DelayFunction | undefined,
    private readonly timers: MeshTimers,
  ) {}

  /** Resolves once the delay to `peerKey` has passed (at once when there is none). */
  async wait(peerKey: string): Promise<void> {
    const d = this.delayOf(peerKey);
    // Split from that peer: the message is never written (the caller's deadline ends the call).
    if (d === Infinity) await new Promise<never>(() => undefined);
    if (d > 0) await sleep(this.timers, d);
  }

  /** Runs `send` once the delay to `peerKey` has passed (synchronously when there is none). */
  defer(peerKey: string, send: () => void): void {
    const d = this.delayOf(peerKey);
    if (d === Infinity) return;
    if (d > 0) this.timers.setTimer(d, send);
    else send();
  }

  private delayOf(peerKey: string): number {
    return this.delayMs?.(peerKey) ?? 0;
  }
}
