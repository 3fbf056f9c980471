/**
 * Duration of a pre-copy live migration: the whole memory is sent once, then, round after round,
 * what the VM dirtied meanwhile, until what is left fits in the allowed downtime (or the rounds
 * run out); the VM stops for the last copy. Plus the link's one-way latency to set it up.
 */
export interface PrecopyModel {
  /** Link bandwidth, MB/s. */
  bandwidthMBps: number;
  /** Rate at which the VM dirties memory now, MB/s. */
  dirtyMBps: number;
  maxDowntimeMs: number;
  maxRounds: number;
}

/** Migration time in ms of `memMiB` of memory. */
export function precopyMs(memMiB: number, m: PrecopyModel): number {
  const mem = memMiB * 1.048576; // MiB -> MB
  const stopAt = (m.bandwidthMBps * m.maxDowntimeMs) / 1000;
  let left = mem;
  let seconds = 0;
  for (let round = 0; round < m.maxRounds && left > stopAt; round++) {
    const t = left / m.bandwidthMBps;
    seconds += t;
    // What was dirtied meanwhile, never more than the VM's memory.
    left = Math.min(mem, m.dirtyMBps * t);
  }
  return (seconds + left / m.bandwidthMBps) * 1000;
}
