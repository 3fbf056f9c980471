/** The mesh simulator's options, their defaults and the figures it reports. */
import { COUNTRIES_RTT_MATRIX } from '../rtt-matrix.js';
import type { SimDiagnosticsResult } from './diagnostics.js';

export interface MeshSimOptions {
  nodes: number;
  /** Simulated seconds measured, after the warm-up. */
  durationS: number;
  /** Seconds before measuring: coordinates converge and views settle. */
  warmupS: number;
  /** Probability that a message's packet is lost on its link (sent again after the stream's retransmission timeout). */
  loss: number;
  /** Fraction of the nodes that crash (each replaced by a new node joining) per minute. */
  churn: number;
  seed: number;
  /** Relative jitter of one-way delays. */
  jitter: number;
  /** Directory records (entities) each node publishes. */
  entitiesPerNode: number;
  /** Lookups per node per second (a random node looks up a random entity whose holder is alive). */
  lookupRate: number;
  /** The RTT matrix whose countries the nodes are placed at. */
  matrix: string;
  /** One line per failed lookup and per false death on stderr. */
  trace?: boolean;
  /** Bounds each node's member table to this many members (the profile's `maxKnownMembers` when absent): a 10,000-node table's ratio at a smaller N. */
  maxKnownMembers?: number;
}

export const MESH_SIM_DEFAULTS: Readonly<MeshSimOptions> = {
  nodes: 1000,
  durationS: 300,
  warmupS: 60,
  loss: 0.01,
  churn: 0.01,
  seed: 1,
  jitter: 0.1,
  entitiesPerNode: 2,
  lookupRate: 0.02,
  matrix: COUNTRIES_RTT_MATRIX,
};

/** One line of figures (seconds, per node, per node-hour). */
export interface MeshSimResult {
  nodes: number;
  duration_s: number;
  loss: number;
  churn_per_min: number;
  crashes: number;
  detection_p50_s: number;
  detection_p99_s: number;
  detection_max_s: number;
  undetected: number;
  false_positives_per_node_hour: number;
  false_deaths: number;
  msgs_per_node_s: number;
  bytes_per_node_s: number;
  connections_max: number;
  members_known_mean: number;
  lookups: number;
  lookup_hops_p50: number;
  lookup_hops_p99: number;
  lookup_latency_p50_ms: number;
  lookup_latency_p99_ms: number;
  lookup_success: number;
  joins: number;
  join_convergence_s: number;
  join_convergence_p99_s: number;
  wall_s: number;
  heap_mb: number;
  diagnostics: SimDiagnosticsResult;
}
