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
/** Extra attempts for idempotent calls that failed with CLOSED / UNREACHABLE. */
export const DEFAULT_RETRIES = 2;
export const DEFAULT_RETRY_DELAY_MS = 100;
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

/** The mesh's timing and size settings (see the defaults above). */
export interface MeshConfig {
  keepAliveMs: number;
  connectionTimeoutMs: number;
  heartbeatMs: number;
  heartbeatTimeoutMs: number;
  authTimeoutMs: number;
  reconnectGraceMs: number;
  requestTimeoutMs: number;
  maxMessageBytes: number;
  retries: number;
  retryDelayMs: number;
  probeIntervalMs: number;
  probesPerRound: number;
  probeTimeoutMs: number;
  /** 0 disables probing. */
  rttWindow: number;
  refreshScheduleMs: readonly number[];
}

/** `options` with every setting left out taken from the defaults. */
export function meshConfig(options: Partial<MeshConfig> = {}): MeshConfig {
  return {
    keepAliveMs: options.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS,
    connectionTimeoutMs: options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS,
    heartbeatMs: options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS,
    authTimeoutMs: options.authTimeoutMs ?? DEFAULT_AUTH_TIMEOUT_MS,
    reconnectGraceMs: options.reconnectGraceMs ?? DEFAULT_RECONNECT_GRACE_MS,
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    retries: options.retries ?? DEFAULT_RETRIES,
    retryDelayMs: options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS,
    probeIntervalMs: options.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS,
    probesPerRound: options.probesPerRound ?? DEFAULT_PROBES_PER_ROUND,
    probeTimeoutMs: options.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
    rttWindow: options.rttWindow ?? DEFAULT_RTT_WINDOW,
    refreshScheduleMs: options.refreshScheduleMs ?? DEFAULT_REFRESH_SCHEDULE_MS,
  };
}
