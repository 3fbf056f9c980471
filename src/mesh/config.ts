/** The mesh's settings: every default with its unit, and `meshConfig()` that fills them in. */

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_KEEP_ALIVE_MS = 1000;
export const DEFAULT_CONNECTION_TIMEOUT_MS = 3000;
export const DEFAULT_HEARTBEAT_MS = 1000;
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 3000;
/** A connection that has not passed the handshake by then is destroyed. */
export const DEFAULT_AUTH_TIMEOUT_MS = 5000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;
/** Largest body of a forwarded request or answer (sent in chunks of at most half a message); at least the HTTP body limit. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;
/** Extra attempts for idempotent calls that failed with CLOSED / UNREACHABLE. */
export const DEFAULT_RETRIES = 2;
/**
 * Backoff before the first retry; each further one about doubles, with decorrelated jitter
 * (cockatiel's ExponentialBackoff), so that callers of a member that just lost its connection
 * do not come back all at once.
 */
export const DEFAULT_RETRY_DELAY_MS = 100;
/** Cap on a retry's backoff. A retry is made only while the deadline leaves more than this, so a call never outlives its deadline. */
export const DEFAULT_RETRY_MAX_DELAY_MS = 250;
/**
 * Calls in a row to one member that got no answer (TIMEOUT, UNREACHABLE) before its circuit
 * breaker opens: calls to it then fail at once with UNREACHABLE instead of waiting out their
 * deadline. Any answer (an error reply included) resets the count; so does a new connection.
 */
export const DEFAULT_BREAKER_CONSECUTIVE_FAILURES = 5;
/**
 * How long an open breaker refuses calls before it lets one through (half-open): its answer
 * closes the breaker again, its silence reopens it. Below the loss-detection bound (3.5 s):
 * a member that recovers without leaving is tried again within that time.
 */
export const DEFAULT_BREAKER_HALF_OPEN_AFTER_MS = 2000;
export const DEFAULT_PROBE_INTERVAL_MS = 1000;
export const DEFAULT_PROBES_PER_ROUND = 2;
export const DEFAULT_PROBE_TIMEOUT_MS = 2000;
/** Samples per peer kept for the chooser's measured RTT (median). */
export const DEFAULT_RTT_WINDOW = 9;
/** Discovery refreshes after joining, in ms from the join (then Hyperswarm's own schedule). */
export const DEFAULT_REFRESH_SCHEDULE_MS: readonly number[] = [250, 1000, 3000, 8000];
/**
 * After a member's connection closes, how long a new connection from the same
 * key may take to replace it before the member is reported lost. Absorbs
 * Hyperswarm's duplicate-connection swaps (the old stream closes just before
 * the new one is handed over). Adds to the loss-detection bound.
 */
export const DEFAULT_RECONNECT_GRACE_MS = 500;
/** Time allowed for a graceful swarm shutdown before it is forced. */
export const DEFAULT_SWARM_DESTROY_GRACE_MS = 2000;
/** Pending-call bound per mesh. */
export const DEFAULT_MAX_IN_FLIGHT = 10_000;

/**
 * How members know each other: `full`, every member linked to every other and heartbeated
 * (membership.ts); `overlay`, bounded views, SWIM detection and gossip (overlay/), each node
 * linked to a few members and dialling others on demand.
 */
export type MembershipMode = 'full' | 'overlay';

/** The mesh's timing and size settings (see the defaults above). */
export interface MeshConfig {
  membership: MembershipMode;
  keepAliveMs: number;
  connectionTimeoutMs: number;
  heartbeatMs: number;
  heartbeatTimeoutMs: number;
  authTimeoutMs: number;
  reconnectGraceMs: number;
  requestTimeoutMs: number;
  maxMessageBytes: number;
  maxBodyBytes: number;
  retries: number;
  retryDelayMs: number;
  retryMaxDelayMs: number;
  breakerConsecutiveFailures: number;
  breakerHalfOpenAfterMs: number;
  probeIntervalMs: number;
  probesPerRound: number;
  probeTimeoutMs: number;
  /** RTT samples kept per peer; 0 disables probing. */
  rttWindow: number;
  refreshScheduleMs: readonly number[];
}

/** `options` with every setting left out taken from the defaults. */
export function meshConfig(options: Partial<MeshConfig> = {}): MeshConfig {
  return {
    membership: options.membership ?? 'full',
    keepAliveMs: options.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS,
    connectionTimeoutMs: options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS,
    heartbeatMs: options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS,
    authTimeoutMs: options.authTimeoutMs ?? DEFAULT_AUTH_TIMEOUT_MS,
    reconnectGraceMs: options.reconnectGraceMs ?? DEFAULT_RECONNECT_GRACE_MS,
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    retries: options.retries ?? DEFAULT_RETRIES,
    retryDelayMs: options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS,
    retryMaxDelayMs: options.retryMaxDelayMs ?? DEFAULT_RETRY_MAX_DELAY_MS,
    breakerConsecutiveFailures: options.breakerConsecutiveFailures ?? DEFAULT_BREAKER_CONSECUTIVE_FAILURES,
    breakerHalfOpenAfterMs: options.breakerHalfOpenAfterMs ?? DEFAULT_BREAKER_HALF_OPEN_AFTER_MS,
    probeIntervalMs: options.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS,
    probesPerRound: options.probesPerRound ?? DEFAULT_PROBES_PER_ROUND,
    probeTimeoutMs: options.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
    rttWindow: options.rttWindow ?? DEFAULT_RTT_WINDOW,
    refreshScheduleMs: options.refreshScheduleMs ?? DEFAULT_REFRESH_SCHEDULE_MS,
  };
}
