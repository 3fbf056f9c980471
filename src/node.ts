/**
 * The composition root: the hypervisor, the store, the OCCI service, the mesh and its cloud, the
 * HTTP surface, listening. It only composes; a step that fails undoes the steps before it.
 */
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { createApp } from './http/app.js';
import { AUDIT_FILE, AuditLog } from './http/audit-log.js';
import { resolveLimits } from './http/limits.js';
import { type Listening, listen, readTlsFiles } from './http/listener.js';
import { type NodeAuth, openNodeAuth } from './http/auth/node-auth.js';
import { MeshEdge } from './http/edge/router.js';
import { NodeControl } from './http/node-admin.js';
import { OperatorSurface } from './http/console/operator-surface.js';
import { listenMetrics } from './http/metrics-endpoint.js';
import { Mesh } from './mesh/mesh.js';
import { loadRttMatrix, siteDelay } from './mesh/rtt-matrix.js';
import { GROUP_PREFIX, PresenceRecords } from './mesh/records/presence-records.js';
import { directoryRecords } from './mesh/records/record-directory.js';
import { UsageRecords } from './mesh/records/usage-records.js';
import { openHypervisor } from './hypervisor/index.js';
import { HypervisorBackend } from './occi/hypervisor-backend.js';
import { openOcciService } from './occi/occi-node.js';
import { catalogueEntries } from './occi/templates.js';
import type { OcciService } from './occi/service.js';
import type { EntityStore } from './occi/store.js';
import type { AgentObserver } from './scheduler/protocol/node-agent.js';
import { Cloud } from './cloud/lrt.js';
import { placementOf } from './cloud/placement.js';
import { Resilience } from './cloud/resilience.js';
import type { NodeCloudOptions, NodeMeshOptions, NodeOptions, RunningNode } from './node-options.js';

export type { NodeCloudOptions, NodeMeshOptions, NodeOptions, RunningNode } from './node-options.js';

/** How often a meshed node logs its view of the mesh (members, coordinate). */
const MESH_STATUS_INTERVAL_MS = 5000;

/** What a node has started so far; `close` undoes it in order, whatever was reached. */
interface Started {
  operator?: OperatorSurface;
  metricsListening?: Listening;
  driven?: HypervisorBackend;
  store?: EntityStore;
  auth?: NodeAuth;
  mesh?: Mesh;
  cloud?: Cloud;
  resilience?: Resilience;
  edge?: MeshEdge;
  unfollow?: () => void;
  audit?: AuditLog;
  listening?: Listening;
  statusTimer?: NodeJS.Timeout;
}

async function close(s: Started): Promise<void> {
  s.operator?.close();
  await s.metricsListening?.close();
  s.unfollow?.();
  clearInterval(s.statusTimer);
  await s.resilience?.close();
  s.cloud?.close();
  await s.mesh?.close();
  s.edge?.close();
  await s.listening?.close();
  await s.audit?.close();
  await s.driven?.flushed();
  await s.auth?.close();
  s.store?.close();
  await s.driven?.hypervisor.close();
}

export async function startNode(opts: NodeOptions): Promise<RunningNode> {
  const s: Started = {};
  try {
    return await compose(opts, s);
  } catch (err) {
    await close(s).catch(() => undefined);
    throw err;
  }
}

async function compose(opts: NodeOptions, s: Started): Promise<RunningNode> {
  const logger = opts.logger ?? pino({ level: 'info' });
  // First: its timing proxies wrap the hypervisor and the mesh as they are made.
  const operator = (s.operator = new OperatorSurface({ name: opts.name ?? 'node' }));
  let backend = opts.backend;
  let images = opts.images;
  /** What the node drives, as it says at start (undefined with a backend given by the caller). */
  let hypervisorDescription: string | undefined;
  if (!backend) {
    const opened = await openHypervisor(opts.hypervisor);
    hypervisorDescription = opened.description;
    logger.info({ hypervisor: opened.description }, `hypervisor: ${opened.description}`);
    // A host that keeps an image catalogue gives the os_tpl mixins.
    images ??= opened.images && catalogueEntries(opened.images);
    backend = s.driven = new HypervisorBackend(operator.timedHypervisor(opened.hypervisor), { images, description: opened.description });
  }
  const { driven } = s;
  const name = opts.name ?? 'node';
  const tls = readTlsFiles(opts.tlsCert, opts.tlsKey);
  const limits = resolveLimits(opts.limits);
  const { service, store } = openOcciService({
    dataDir: opts.dataDir,
    backend,
    images,
    nodeName: name,
    // Placement rules name nodes; in a mesh any member's name is valid (resolved when used).
    resolveNode: (n) => (mesh ? nodeKey(mesh, n) : n === name ? n : undefined),
    foreign: (id) => edge?.foreign(id),
  });
  s.store = store;
  const mesh = (s.mesh = opts.mesh ? operator.timedMesh(createMesh(opts.mesh, name, opts.dataDir, logger)) : undefined);
  // With the overlay a node knows only some members: what is found by asking every member in a full mesh is read on the ring directory.
  const records = mesh && opts.mesh?.membership === 'overlay' ? directoryRecords(mesh.key, mesh.directory()) : undefined;
  const usageRecords = records && new UsageRecords(records);
  const auth = (s.auth = openNodeAuth({ mode: opts.auth ?? 'token', dataDir: opts.dataDir, keys: opts.tokenKeys, mesh, service, logger, ...(usageRecords ? { usageRecords } : {}) }));
  const groups = records && new PresenceRecords(records, GROUP_PREFIX);
  const cloud = (s.cloud = mesh && driven && opts.mesh?.cloud?.enabled !== false ? createCloud(opts.mesh!.cloud ?? {}, mesh, service, driven, logger, operator.agentObservers(store, mesh), groups) : undefined);
  const resilience = (s.resilience =
    cloud && mesh && driven
      ? new Resilience({ mesh, service, store, hypervisor: driven.hypervisor, cloud, logger, dataDir: opts.dataDir, nodeName: name, ...opts.mesh?.cloud?.failures, leaveMesh: async () => (cloud.close(), await mesh.close()) })
      : undefined);
  const edge = (s.edge = mesh ? new MeshEdge({ mesh, service, logger, forwardTimeoutMs: opts.mesh?.forwardTimeoutMs, auth: auth.forwarding, cloud, leases: resilience?.leases, ...(records ? { records } : {}) }) : undefined);
  s.unfollow = driven?.follow(
    (id) => service.reconcile(id),
    (err) => logger.warn({ err }, 'reconciliation with the hypervisor failed'),
  );
  const audit = (s.audit = await AuditLog.open(join(opts.dataDir, AUDIT_FILE)));
  const node = new NodeControl({ name, store, mesh, cloud, resilience, hypervisor: hypervisorDescription });
  operator.follow({ store, mesh, cloud, resilience, hypervisor: driven?.hypervisor, url: () => s.listening?.url ?? null });
  const app = await createApp({ service, logger, mesh: edge, node, auth, limits, rateLimit: opts.rateLimit, audit: { log: audit, node: name }, tls: !!tls, operator: operator.forApp(), corsOrigins: opts.corsOrigins, publicUrl: opts.publicUrl });
  const { url, port } = (s.listening = await listen(app, { port: opts.port, host: opts.host ?? '127.0.0.1', limits, tls, logger }));
  if (opts.metricsPort !== undefined) {
    s.metricsListening = await listenMetrics(operator.metrics, { port: opts.metricsPort, host: opts.metricsHost ?? '127.0.0.1', limits });
    logger.info({ url: `${s.metricsListening.url}/metrics` }, 'metrics listener (no token: keep it on a private interface)');
  }
  if (!tls) logger.info({ url }, 'TLS is off: plain HTTP (give --tls-cert and --tls-key on a public edge)');
  if (mesh && edge) {
    // Requests forwarded by members are dispatched in-process into the same app.
    edge.serve(app);
    mesh.update({ httpAddress: url });
    mesh.on('member-joined', (m) => logger.info({ member: m.name, site: m.site, url: m.httpAddress }, 'member joined'));
    mesh.on('member-left', (m, reason) => logger.warn({ member: m.name, reason }, 'member left'));
    await mesh.start();
    await cloud?.start();
    resilience?.start();
    s.statusTimer = setInterval(() => logMeshStatus(mesh, logger), MESH_STATUS_INTERVAL_MS).unref();
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
    metricsUrl: s.metricsListening ? `${s.metricsListening.url}/metrics` : undefined,
    close: () => (closing ??= close(s)),
  };
}

function logMeshStatus(mesh: Mesh, logger: Logger): void {
  const c = mesh.self().coordinate;
  logger.info({ members: mesh.members().length, coordinate: c ? [...c.vec.map((x) => Number(x.toFixed(2))), Number(c.height.toFixed(2))] : null }, 'mesh status');
}

function createCloud(opts: NodeCloudOptions, mesh: Mesh, service: OcciService, backend: HypervisorBackend, logger: Logger, observers: AgentObserver[], groups?: PresenceRecords): Cloud {
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
    observers,
    ...(groups ? { groups } : {}),
  });
}

/** The mesh key of the node (this one or a member) with this name. */
function nodeKey(mesh: Mesh, name: string): string | undefined {
  return [mesh.self(), ...mesh.members()].find((m) => m.name === name)?.key;
}

function createMesh(opts: NodeMeshOptions, name: string, dataDir: string, logger: Logger): Mesh {
  const matrix = opts.rttMatrix ? loadRttMatrix(opts.rttMatrix) : undefined;
  const base = matrix && opts.site ? siteDelay(matrix, opts.site, (key) => mesh.member(key)?.site ?? undefined) : undefined;
  const split = opts.unreachable;
  const delayMs = split ? (key: string) => (split(key) ? Infinity : (base?.(key) ?? 0)) : base;
  const mesh: Mesh = new Mesh({
    secret: opts.secret,
    bootstrap: opts.bootstrap,
    name,
    dataDir,
    site: opts.site ?? null,
    membership: opts.membership ?? 'full',
    logger: logger.child({ part: 'mesh' }),
    ...(delayMs ? { delayMs } : {}),
    ...opts.tuning,
  });
  return mesh;
}
