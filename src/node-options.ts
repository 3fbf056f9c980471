/** What a node is started with (`startNode`), and what a started node offers its caller. */
import type { Logger } from 'pino';
import type { Limits } from './http/limits.js';
import type { RateLimitOptions } from './http/rate-limit.js';
import type { AuthMode } from './http/auth/authenticate.js';
import type { NodeAuth } from './http/auth/node-auth.js';
import type { TokenKeyFiles } from './http/auth/token-keys.js';
import type { Mesh, MeshOptions } from './mesh/mesh.js';
import type { Hypervisor } from './hypervisor/index.js';
import type { Backend } from './occi/backend.js';
import type { OcciService } from './occi/service.js';
import type { AgentTuning, Cloud } from './cloud/lrt.js';
import type { Resilience, ResilienceTuning } from './cloud/resilience.js';
import type { ImageEntry } from './occi/templates.js';

export interface NodeOptions {
  port: number;
  host?: string;
  dataDir: string;
  images?: ImageEntry[];
  /**
   * What the node drives: a libvirt URI (`test:///default`, `qemu:///system`…) or `sim` for the
   * simulated driver. Default: libvirt's test driver when libvirt0 loads, else the simulated one.
   */
  hypervisor?: string;
  /** Replaces the hypervisor (e.g. `StateOnlyBackend` for tests of the OCCI surface alone). */
  backend?: Backend;
  logger?: Logger;
  /** Name of the node (placement attribute, mesh membership). */
  name?: string;
  /** Joins a mesh: every request is then served where it belongs. */
  mesh?: NodeMeshOptions;
  /** PEM certificate and key files: the node then serves HTTPS only (with HSTS). */
  tlsCert?: string;
  tlsKey?: string;
  /** Request limits; each one not given takes its default (src/http/limits.ts). */
  limits?: Partial<Limits>;
  /**
   * Per-token rate limit (per client address without a token). Off unless given: the CLI turns
   * it on by default (`--rate-limit`), in-process callers (tests, benchmarks) choose.
   */
  rateLimit?: RateLimitOptions | false;
  /**
   * `token` (default): every request needs a token (docs/security.md); `none`: every client is
   * admin of every tenant, for local trials only (logged loudly at every start).
   */
  auth?: AuthMode;
  /**
   * The issuer key this node signs tokens with, and the issuers' public keys it trusts
   * (src/http/auth/token-keys.ts). A node outside any mesh without them issues with a key of its
   * data directory; a node in a mesh needs at least one.
   */
  tokenKeys?: TokenKeyFiles;
  /** The URL clients reach the node at (`--public-url`): Location and absolute URIs use it, never the Host header. */
  publicUrl?: string;
  /** Print the first admin token on stdout (default true; it is never logged). */
  printAdminToken?: boolean;
  /** Origins of portals that may call the node from a browser (CORS); none by default. */
  corsOrigins?: readonly string[];
  /** A listener of its own for Prometheus, `/metrics` without a token (0: any free port). */
  metricsPort?: number;
  /** Where that listener binds (default 127.0.0.1): a private interface, never a public one. */
  metricsHost?: string;
}

export interface NodeMeshOptions {
  /** Cluster secret: only nodes that know it join. */
  secret: string;
  /** DHT bootstrap nodes (`host:port`); never the public ones. */
  bootstrap: Array<string | { host: string; port: number }>;
  site?: string;
  /** RTT matrix (CSV) for delay injection between sites: each message waits half the RTT. */
  rttMatrix?: string;
  /** Members split from this node (fault injection): its mesh messages to them are dropped. */
  unreachable?: (key: string) => boolean;
  /** How long a forwarded request may take before the client gets a 504 (ms). */
  forwardTimeoutMs?: number;
  /**
   * `full` (default): every member linked to every other. `overlay`: bounded partial views, and
   * entity holders, tenant usage and placement-group hosts on the ring directory (docs/mesh.md).
   */
  membership?: 'full' | 'overlay';
  /** The one cloud over the mesh (admission, rebalancing); needs the node's own hypervisor. */
  cloud?: NodeCloudOptions;
  /** Mesh timings for tests (loss detection, probing). */
  tuning?: Partial<Pick<MeshOptions, 'probeIntervalMs' | 'heartbeatMs' | 'heartbeatTimeoutMs' | 'connectionTimeoutMs' | 'requestTimeoutMs'>>;
}

export interface NodeCloudOptions {
  /** Set to false for a mesh of gateways that only forward (computes are created where asked). */
  enabled?: boolean;
  /** Host capacity for the scheduler: cores and MiB (default: what the hypervisor reports). */
  capacity?: { cores: number; memoryMiB: number };
  /** vCPUs allocated per host core (default 4). */
  cpuAllocationRatio?: number;
  samplingMs?: number;
  admissionTimeoutMs?: number;
  agent?: AgentTuning;
  /** Replication, recovery of lost nodes, restart policy, drain (docs/cloud.md "Failures and drain"). */
  failures?: ResilienceTuning;
}

export interface RunningNode {
  url: string;
  port: number;
  service: OcciService;
  /** The hypervisor behind the node, unless a `backend` was given. */
  hypervisor?: Hypervisor;
  /** Polls the hypervisor now and resolves once the entities reflect what it reported (a sync point). */
  reconcile(): Promise<void>;
  /** The mesh, when the node joined one. */
  mesh?: Mesh;
  /** Tokens, quotas and their replication; `auth.initialAdminToken` on a data directory's first start. */
  auth: NodeAuth;
  /** This node's part of the one cloud, when it joined a mesh with its own hypervisor. */
  cloud?: Cloud;
  /** Replication, node-loss recovery, fencing, restart policy and drain, with the cloud. */
  resilience?: Resilience;
  /** The `--metrics-port` listener's scrape URL, when there is one. */
  metricsUrl?: string;
  close(): Promise<void>;
}
