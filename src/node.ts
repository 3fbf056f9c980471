import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { createApp } from './http/app.js';
import { AUDIT_FILE, AuditLog } from './http/audit-log.js';
import { type Limits, resolveLimits } from './http/limits.js';
import { listen, listenReentry, readTlsFiles } from './http/listener.js';
import type { RateLimitOptions } from './http/rate-limit.js';
import type { AuthMode } from './http/auth/authenticate.js';
import { type NodeAuth, openNodeAuth } from './http/auth/node-auth.js';
import { MeshEdge } from './http/edge/router.js';
import { Mesh } from './mesh/mesh.js';
import { loadRttMatrix, siteDelay } from './mesh/rtt-matrix.js';
import { type Hypervisor, openHypervisor } from './hypervisor/index.js';
import type { Backend } from './occi/backend.js';
import { HypervisorBackend } from './occi/hypervisor-backend.js';
import { openOcciService } from './occi/occi-node.js';
import type { OcciService } from './occi/service.js';
import { type AgentTuning, Cloud } from './cloud/lrt.js';
import { Resilience, type ResilienceTuning } from './cloud/resilience.js';
import { NodeControl } from './http/node-admin.js';
import { placementOf } from './cloud/placement.js';
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
  /** Print the first admin token on stdout (default true; it is logged either way). */
  printAdminToken?: boolean;
}

export interface NodeMeshOptions {
  /** Cluster secret: only nodes that know it join. */
  secret: string;
  /** DHT bootstrap nodes (`host:port`); never the public ones. */
  bootstrap: Array<string | { host: string; port: number }>;
  site?: string;
  /** RTT matrix (CSV) for delay injection between sites: each message waits half the RTT. */
  rttMatrix?: string;
  /** How long a forwarded request may take before the client gets a 504 (ms). */
  forwardTimeoutMs?: number;
  /** The one cloud over the mesh (admission, rebalancing); needs the node's own hypervisor. */
  cloud?: NodeCloudOptions;
  /** Mesh timings for tests (loss detection, probing). */
  tuning?: Partial<Pick<ConstructorParameters<typeof Mesh>[0], 'probeIntervalMs' | 'heartbeatMs' | 'heartbeatTimeoutMs' | 'connectionTimeoutMs' | 'requestTimeoutMs'>>;
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
  close(): Promise<void>;
}

/** Composition root: the hypervisor, the store, the OCCI service, the HTTP surface, listening. */
export async function startNode(opts: NodeOptions): Promise<RunningNode> {
  const logger = opts.logger ?? pino({ level: 'info' });
  let backend = opts.backend;
  let driven: HypervisorBackend | undefined;
  if (!backend) {
    const opened = await openHypervisor(opts.hypervisor);
    logger.info({ hypervisor: opened.description }, `hypervisor: ${opened.description}`);
    backend = driven = new HypervisorBackend(opened.hypervisor, { images: opts.images, description: opened.description });
  }
  const name = opts.name ?? 'node';
  const tls = readTlsFiles(opts.tlsCert, opts.tlsKey);
  const limits = resolveLimits(opts.limits);
  const { service, store } = openOcciService({
    dataDir: opts.dataDir,
    backend,
    images: opts.images,
    nodeName: name,
    // Placement rules name nodes; in a mesh any member's name is valid (resolved when used).
    resolveNode: (n) => (mesh ? nodeKey(mesh, n) : n === name ? n : undefined),
  });
  const mesh = opts.mesh ? createMesh(opts.mesh, name, opts.dataDir, logger) : undefined;
  const auth = openNodeAuth({ mode: opts.auth ?? 'token', dataDir: opts.dataDir, clusterSecret: opts.mesh?.secret, mesh, service, logger });
  const cloud = mesh && driven && opts.mesh?.cloud?.enabled !== false ? createCloud(opts.mesh!.cloud ?? {}, mesh, service, driven, logger) : undefined;
  const resilience =
    cloud && mesh && driven
      ? new Resilience({ mesh, service, store, hypervisor: driven.hypervisor, cloud, logger, dataDir: opts.dataDir, nodeName: name, ...opts.mesh?.cloud?.failures, leaveMesh: async () => (cloud.close(), await mesh.close()) })
      : undefined;
  const edge = mesh ? new MeshEdge({ mesh, service, logger, forwardTimeoutMs: opts.mesh?.forwardTimeoutMs, auth: auth.forwarding, cloud }) : undefined;
  const unfollow = driven?.follow(
    (id) => service.reconcile(id),
    (err) => logger.warn({ err }, 'reconciliation with the hypervisor failed'),
  );
  const audit = await AuditLog.open(join(opts.dataDir, AUDIT_FILE));
  const node = new NodeControl({ name, store, mesh, cloud, resilience });
  const app = await createApp({ service, logger, mesh: edge, node, auth, limits, rateLimit: opts.rateLimit, audit: { log: audit, node: name }, tls: !!tls });
  const listening = await listen(app, { port: opts.port, host: opts.host ?? '127.0.0.1', limits, tls, logger });
  const { url, port } = listening;
  if (!tls) logger.info({ url }, 'TLS is off: plain HTTP (give --tls-cert and --tls-key on a public edge)');
  // Requests forwarded by members re-enter through a loopback listener (listener.ts says why).
  const reentry = edge ? await listenReentry(app, limits) : undefined;
  let statusTimer: NodeJS.Timeout | undefined;
  if (mesh && edge) {
    edge.listening(reentry!.url);
    mesh.update({ httpAddress: url });
    mesh.on('member-joined', (m) => logger.info({ member: m.name, site: m.site, url: m.httpAddress }, 'member joined'));
    mesh.on('member-left', (m, reason) => logger.warn({ member: m.name, reason }, 'member left'));
    await mesh.start();
    await cloud?.start();
    resilience?.start();
    statusTimer = setInterval(() => logMeshStatus(mesh, logger), MESH_STATUS_INTERVAL_MS).unref();
  }
  // Before the listening line: whoever waits for that line has seen the token line already.
  auth.announce(opts.printAdminToken === false ? () => undefined : undefined);
  logger.info({ url, dataDir: opts.dataDir, backend: backend.description, name, mesh: mesh?.key ?? null, auth: auth.mode }, 'OCCI node listening');
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    service,
    hypervisor: driven?.hypervisor,
    reconcile: async () => driven?.sync(),
    mesh,
    auth,
    cloud,
    resilience,
    close: () =>
      (closing ??= (async () => {
        unfollow?.();
        clearInterval(statusTimer);
        await resilience?.close();
        cloud?.close();
        await mesh?.close();
        edge?.close();
        await reentry?.close();
        await listening.close();
        await audit.close();
        await driven?.flushed();
        await auth.close();
        store.close();
        await driven?.hypervisor.close();
      })()),
  };
}

/** How often a meshed node logs its view of the mesh (members, coordinate). */
const MESH_STATUS_INTERVAL_MS = 5000;

function logMeshStatus(mesh: Mesh, logger: Logger): void {
  const c = mesh.self().coordinate;
  logger.info({ members: mesh.members().length, coordinate: c ? [...c.vec.map((x) => Number(x.toFixed(2))), Number(c.height.toFixed(2))] : null }, 'mesh status');
}

function createCloud(opts: NodeCloudOptions, mesh: Mesh, service: OcciService, backend: HypervisorBackend, logger: Logger): Cloud {
  return new Cloud({
    mesh,
    service,
    hypervisor: backend.hypervisor,
    logger,
    ...(opts.capacity ? { capacity: { cpu: opts.capacity.cores * 100, mem: opts.capacity.memoryMiB } } : {}),
    placementOf: (compute, strict) => placementOf(compute, service.registry, (name) => nodeKey(mesh, name), { strict }),
    cpuAllocationRatio: opts.cpuAllocationRatio,
    samplingMs: opts.samplingMs,
    admissionTimeoutMs: opts.admissionTimeoutMs,
    agent: opts.agent,
  });
}

/** The mesh key of the node (this one or a member) with this name. */
function nodeKey(mesh: Mesh, name: string): string | undefined {
  return [mesh.self(), ...mesh.members()].find((m) => m.name === name)?.key;
}

function createMesh(opts: NodeMeshOptions, name: string, dataDir: string, logger: Logger): Mesh {
  const matrix = opts.rttMatrix ? loadRttMatrix(opts.rttMatrix) : undefined;
  const mesh: Mesh = new Mesh({
    secret: opts.secret,
    bootstrap: opts.bootstrap,
    name,
    dataDir,
    site: opts.site ?? null,
    logger: logger.child({ part: 'mesh' }),
    ...(matrix && opts.site ? { delayMs: siteDelay(matrix, opts.site, (key) => mesh.member(key)?.site ?? undefined) } : {}),
    ...opts.tuning,
  });
  return mesh;
}
