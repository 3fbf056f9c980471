/**
 * The monotonic clock every lease and timeout is measured on, in ms: CLOCK_MONOTONIC, which wall
 * clock changes (NTP steps, a skewed clock) never move, and which every process of one machine
 * shares (a watchdog process reads the deadlines a node sets).
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}
