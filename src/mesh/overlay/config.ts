/**
 * The overlay's settings, every one with its unit: SWIM failure detection with Lifeguard's
 * refinements, gossip, anti-entropy, the bounded views, the directory ring. `LAN_OVERLAY` and
 * `WAN_OVERLAY` are the pair of defaults (after memberlist's DefaultLANConfig / DefaultWANConfig).
 */

export interface OverlayConfig {
  /** Protocol period: one neighbour is probed every period (ms), stretched by the local health. */
  probeIntervalMs: number;
  /** Neighbours probed per period; 0 turns failure detection off. */
  probesPerRound: number;
  /** A probe's timeout: `probeRttMultiplier` × the neighbour's RTT, within [min, max] (ms), stretched by the local health. */
  probeTimeoutMinMs: number;
  probeTimeoutMaxMs: number;
  probeRttMultiplier: number;
  /** Direct pings sent before a neighbour is suspected (each after the previous one timed out); one more when no helper can check it. */
  probeAttempts: number;
  /** Neighbours asked to ping a neighbour that missed a ping (SWIM's indirect probes). */
  indirectChecks: number;
  /** Lifeguard's local health: 0 (healthy) to this; timeouts and periods are multiplied by (score + 1). */
  awarenessMax: number;
  /** Lifeguard suspicion: the timeout starts at max and shrinks to min as `suspicionConfirmations` independent suspicions arrive (ms). */
  suspicionMinMs: number;
  suspicionMaxMs: number;
  suspicionConfirmations: number;
  /** A node not linked to a suspect (it does not watch it) waits `suspicionMaxMs` × this before declaring it dead itself. */
  suspicionFarMultiplier: number;
  /** A linked member nothing was heard from for this long is suspected (ms), checked every `heartbeatMs`. */
  heartbeatTimeoutMs: number;
  heartbeatMs: number;
  /** After a link closes, how long a new link may take to replace it before its member is suspected (ms). */
  reconnectGraceMs: number;
  /** Each update is piggybacked `gossipRetransmitMult` × ⌈log10(N + 1)⌉ times; at most `gossipMaxItems` per message. */
  gossipRetransmitMult: number;
  gossipMaxItems: number;
  /** Push-pull anti-entropy with one member (ms), and how many members besides the requester's ring window a sync carries. */
  syncIntervalMs: number;
  syncSample: number;
  /** A table of at most this many members is sent whole in a sync: what the random sample leaves to chance, one sync ends. */
  syncWholeUpTo: number;
  /**
   * After a sync brought members this node did not know (it missed their news), the next sync
   * comes after this (ms); the interval doubles after each sync back to `syncIntervalMs`.
   */
  syncFastMs: number;
  /** Active view: the nearest members (Vivaldi, refined by measured RTTs) plus random long links; re-chosen every `viewIntervalMs`. */
  viewNearest: number;
  viewRandom: number;
  viewIntervalMs: number;
  /** A nearer candidate replaces a nearest link only when nearer by this factor (hysteresis). */
  viewHysteresis: number;
  /** View links other members may open to this node. */
  maxViewIn: number;
  /** Hard bound on links (views, on-demand and incoming together): Hyperswarm's maxPeers. */
  maxConnections: number;
  /** An on-demand link unused this long is closed (ms). */
  linkIdleMs: number;
  /** A dial not answered by then failed (ms). */
  dialTimeoutMs: number;
  /** Members kept in the table; beyond it, the ring window, the ring contacts, the neighbours and the nearest are kept first. */
  maxKnownMembers: number;
  /** Members on each side of this node's ring position it always knows, at least (grows as √N). */
  ringWindowMin: number;
  /** Keepers of each directory record (its successors on the ring). */
  directoryReplicas: number;
  /** Publishers republish their records this often (ms); a record not republished within 3 × this expires. */
  directoryRefreshMs: number;
  /** A directory lookup or a nearest-member query gives up after this (ms). */
  lookupTimeoutMs: number;
  /** A dead or departed member's tombstone is kept this long (ms): older news about it is ignored. */
  tombstoneMs: number;
  /** Changes of what a node announces are gossiped at most this often (ms); the first at once. */
  infoGossipIntervalMs: number;
}

/** One data centre or one region: short RTTs. */
export const LAN_OVERLAY: Readonly<OverlayConfig> = {
  probeIntervalMs: 400,
  probesPerRound: 1,
  probeTimeoutMinMs: 200,
  probeTimeoutMaxMs: 1000,
  probeRttMultiplier: 3,
  probeAttempts: 2,
  indirectChecks: 3,
  awarenessMax: 8,
  suspicionMinMs: 1000,
  suspicionMaxMs: 4000,
  suspicionConfirmations: 2,
  suspicionFarMultiplier: 6,
  heartbeatTimeoutMs: 3000,
  heartbeatMs: 1000,
  reconnectGraceMs: 500,
  gossipRetransmitMult: 4,
  gossipMaxItems: 24,
  syncIntervalMs: 30_000,
  syncSample: 32,
  syncWholeUpTo: 128,
  syncFastMs: 2500,
  viewNearest: 6,
  viewRandom: 3,
  viewIntervalMs: 5000,
  viewHysteresis: 1.5,
  maxViewIn: 16,
  maxConnections: 32,
  linkIdleMs: 30_000,
  dialTimeoutMs: 5000,
  maxKnownMembers: 1024,
  ringWindowMin: 16,
  directoryReplicas: 3,
  directoryRefreshMs: 60_000,
  lookupTimeoutMs: 2000,
  tombstoneMs: 60_000,
  infoGossipIntervalMs: 10_000,
};

/** Points of presence across continents: RTTs up to ~400 ms, so longer probe timeouts and suspicions. */
export const WAN_OVERLAY: Readonly<OverlayConfig> = {
  ...LAN_OVERLAY,
  probeTimeoutMinMs: 300,
  probeTimeoutMaxMs: 1500,
  suspicionMinMs: 1000,
  suspicionMaxMs: 5000,
  heartbeatTimeoutMs: 5000,
  dialTimeoutMs: 8000,
  lookupTimeoutMs: 4000,
};
