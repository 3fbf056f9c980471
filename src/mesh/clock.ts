/** The mesh's clock and timers port: real Node timers on a node, a simulated clock in a simulation. */

export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
}

export type TimerHandle = unknown;

/**
 * The time source of the mesh's protocol parts (membership, probing, links). Timers set through it
 * are upkeep: they never keep a process alive on their own.
 */
export interface MeshTimers extends Clock {
  setTimer(ms: number, fn: () => void): TimerHandle;
  setRepeating(ms: number, fn: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/** Node timers (unreferenced), telling the time with `clock`. */
export function realTimers(clock: Clock): MeshTimers {
  return {
    now: () => clock.now(),
    setTimer: (ms, fn) => setTimeout(fn, ms).unref(),
    setRepeating: (ms, fn) => setInterval(fn, ms).unref(),
    // Node's clearTimeout clears intervals too.
    clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
  };
}

export function sleep(timers: MeshTimers, ms: number): Promise<void> {
  return new Promise((resolve) => timers.setTimer(ms, resolve));
}
