/**
 * Prometheus metrics of one node (prom-client, a registry per node): HTTP requests, OCCI
 * operations, the mesh, the DVMS scheduler, hypervisor calls, replication lag (docs/console.md
 * lists them; docs/grafana-dashboard.json draws them). Served at `GET /metrics` to admin tokens,
 * and without a token on the separate listener of `--metrics-port` (metrics-listener.ts).
 *
 * @example
 *   const metrics = new NodeMetrics();
 *   const hypervisor = metrics.timedHypervisor(opened.hypervisor);
 *   app.use(metrics.http((req) => operationIdOf(req)));
 *   metrics.follow({ mesh, cloud, store });
 *   await metrics.registry.metrics();   // the text exposition format
 */
import type { NextFunction, Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Cloud } from '../cloud/lrt.js';
import type { Hypervisor } from '../hypervisor/hypervisor.js';
import type { Mesh } from '../mesh/mesh.js';
import { FORWARD_METHOD } from '../mesh/http-forwarding.js';
import { COMPUTE } from '../occi/infrastructure-model.js';
import type { EntityStore } from '../occi/store.js';
import type { AgentObserver } from '../scheduler/protocol/node-agent.js';
import { timed } from './metrics-proxy.js';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SLOW_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** OCCI operations by the OpenAPI operation that served them (the action query makes a POST an action). */
const OCCI_OPERATIONS: Record<string, string> = {
  getEntity: 'read',
  putEntity: 'replace',
  postEntity: 'update',
  deleteEntity: 'delete',
  listCollection: 'list',
  listSubCollection: 'list',
  listLeafCollection: 'list',
  postCollection: 'create',
  postSubCollection: 'create',
  postLeafCollection: 'create',
  putCollection: 'replace-members',
  putSubCollection: 'replace-members',
  putLeafCollection: 'replace-members',
  deleteCollection: 'delete',
  deleteSubCollection: 'delete',
  deleteLeafCollection: 'delete',
  queryCategories: 'query',
  queryCategoriesWellKnown: 'query',
  createMixins: 'define-mixins',
  createMixinsWellKnown: 'define-mixins',
  deleteMixins: 'delete-mixins',
  deleteMixinsWellKnown: 'delete-mixins',
  getComputeConsole: 'console',
};

/** How the HTTP layer names a request: its OpenAPI operation and the OCCI kind it is about. */
export interface RouteOf {
  (req: Request): { route: string; kind?: string };
}

const codeOf = (err: unknown): string => {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : 'ERROR';
};

export class NodeMetrics {
  readonly registry = new Registry();
  private readonly httpRequests = new Counter({ name: 'discovery_http_requests_total', help: 'HTTP requests answered, by method, route (OpenAPI operation) and status', labelNames: ['method', 'route', 'status'], registers: [this.registry] });
  private readonly httpDuration = new Histogram({ name: 'discovery_http_request_duration_seconds', help: 'Time to answer an HTTP request (event streams excluded)', labelNames: ['method', 'route'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  private readonly occiOperations = new Counter({ name: 'discovery_occi_operations_total', help: 'OCCI operations, by operation, kind (or mixin) and outcome', labelNames: ['operation', 'kind', 'action', 'outcome'], registers: [this.registry] });
  private readonly rpcDuration = new Histogram({ name: 'discovery_mesh_rpc_duration_seconds', help: 'Mesh calls this node made, by method and outcome', labelNames: ['method', 'outcome'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  private readonly rpcFailures = new Counter({ name: 'discovery_mesh_rpc_failures_total', help: 'Mesh calls that failed, by method and error code', labelNames: ['method', 'code'], registers: [this.registry] });
  private readonly dvmsEvents = new Counter({ name: 'discovery_dvms_events_total', help: 'DVMS events raised at this node, by kind', labelNames: ['kind'], registers: [this.registry] });
  private readonly dvmsSettled = new Counter({ name: 'discovery_dvms_events_settled_total', help: 'DVMS events settled by partitions this node led, by kind and outcome', labelNames: ['kind', 'outcome'], registers: [this.registry] });
  private readonly partitionSize = new Histogram({ name: 'discovery_dvms_partition_size', help: 'Nodes in a partition when this node solved it', buckets: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64], registers: [this.registry] });
  private readonly solveDuration = new Histogram({ name: 'discovery_dvms_solve_duration_seconds', help: 'Wall time of the solver in partitions this node led, by status', labelNames: ['status'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  private readonly partitionsReleased = new Counter({ name: 'discovery_dvms_partitions_released_total', help: 'Partitions this node led and released', registers: [this.registry] });
  private readonly migrations = new Counter({ name: 'discovery_dvms_migrations_total', help: 'Migrations of computes away from this node, by outcome', labelNames: ['outcome'], registers: [this.registry] });
  private readonly migrationDuration = new Histogram({ name: 'discovery_dvms_migration_duration_seconds', help: 'Time a migration away from this node took', labelNames: ['outcome'], buckets: SLOW_BUCKETS, registers: [this.registry] });
  private readonly hypervisorCalls = new Histogram({ name: 'discovery_hypervisor_call_duration_seconds', help: 'Calls to the hypervisor, by method and outcome', labelNames: ['method', 'outcome'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  private readonly hypervisorErrors = new Counter({ name: 'discovery_hypervisor_errors_total', help: 'Hypervisor calls that failed, by method and error code', labelNames: ['method', 'code'], registers: [this.registry] });
  private readonly replicationLag = new Histogram({ name: 'discovery_replication_lag_seconds', help: "Time from a committed change of a compute to its replicas' acknowledgement", buckets: SLOW_BUCKETS, registers: [this.registry] });
  private readonly migrationStarts = new Map<string, number>();

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** Times every request (first middleware: 401s and 429s too), labelled once the route is known. */
  http(routeOf: RouteOf) {
    return (req: Request, res: Response, next: NextFunction): void => {
      const started = performance.now();
      res.once('close', () => {
        const { route, kind } = routeOf(req);
        const status = String(res.statusCode);
        this.httpRequests.labels(req.method, route, status).inc();
        if (!String(res.getHeader('content-type') ?? '').startsWith('text/event-stream')) this.httpDuration.labels(req.method, route).observe((performance.now() - started) / 1000);
        const operation = OCCI_OPERATIONS[route];
        if (!operation) return;
        const action = typeof req.query['action'] === 'string' ? req.query['action'] : '';
        const outcome = res.statusCode >= 500 ? 'server_error' : res.statusCode >= 400 ? 'client_error' : 'ok';
        this.occiOperations.labels(action ? 'action' : operation, kind ?? 'none', action, outcome).inc();
      });
      next();
    };
  }

  /** The hypervisor behind a timing Proxy: every call's duration, outcome and error code. */
  timedHypervisor<H extends Hypervisor>(hypervisor: H): H {
    return timed(hypervisor, (method, _args, seconds, err) => {
      this.hypervisorCalls.labels(method, err ? 'error' : 'ok').observe(seconds);
      if (err) this.hypervisorErrors.labels(method, codeOf(err)).inc();
    });
  }

  /** The mesh behind a timing Proxy on its calls to members (RPCs and forwarded requests). */
  timedMesh(mesh: Mesh): Mesh {
    return timed(
      mesh,
      (method, args, seconds, err) => {
        const rpc = method === 'request' ? String(args[1]) : FORWARD_METHOD;
        this.rpcDuration.labels(rpc, err ? 'error' : 'ok').observe(seconds);
        if (err) this.rpcFailures.labels(rpc, codeOf(err)).inc();
      },
      new Set(['request', 'forward']),
    );
  }

  /** The DVMS agent's events, solves, partitions and migrations. */
  agentObserver(): AgentObserver {
    return {
      eventCreated: (e) => this.dvmsEvents.labels(e.kind).inc(),
      solverRun: (run) => {
        this.solveDuration.labels(run.status).observe(run.wallMs / 1000);
        this.partitionSize.observe(run.partitionSize);
      },
      eventSolved: (e) => this.dvmsSettled.labels(e.kind, 'solved').inc(),
      eventUnsolvable: (e) => this.dvmsSettled.labels(e.kind, 'unsolvable').inc(),
      partitionDissolved: () => this.partitionsReleased.inc(),
      migrationStarted: (_pid, vm) => void this.migrationStarts.set(vm, performance.now()),
      migrationEnded: (_pid, vm, ok) => {
        const outcome = ok ? 'ok' : 'failed';
        this.migrations.labels(outcome).inc();
        const started = this.migrationStarts.get(vm);
        this.migrationStarts.delete(vm);
        if (started !== undefined) this.migrationDuration.labels(outcome).observe((performance.now() - started) / 1000);
      },
    };
  }

  /**
   * Gauges read at each scrape (membership, connections, RTTs, capacity and load, held computes),
   * and the replication lag measured from the store's changes. Returns the function that stops it.
   */
  follow({ mesh, cloud, store, replicated }: { mesh?: Mesh; cloud?: Cloud; store: EntityStore; replicated: boolean }): () => void {
    const r = [this.registry];
    const stats = () => mesh?.stats();
    const gauge = (name: string, help: string, read: () => number | undefined) =>
      new Gauge({ name, help, registers: r, collect() { const v = read(); if (v !== undefined) this.set(v); } });
    const total = (name: string, help: string, read: () => number | undefined) =>
      new Counter({ name, help, registers: r, collect() { const v = read(); if (v !== undefined) { this.reset(); this.inc(v); } } });
    gauge('discovery_mesh_members', 'Members this node knows (itself excluded)', () => stats()?.members);
    gauge('discovery_mesh_connections', 'Open mesh connections', () => stats()?.connections);
    total('discovery_mesh_requests_sent_total', 'Mesh calls sent (retries included)', () => stats()?.requestsSent);
    total('discovery_mesh_requests_served_total', 'Mesh calls served for members', () => stats()?.requestsServed);
    total('discovery_mesh_refused_total', 'Connections refused at the handshake', () => stats()?.refused);
    total('discovery_mesh_probes_total', 'RTT probes sent', () => stats()?.probes);
    total('discovery_mesh_vivaldi_resets_total', 'Vivaldi coordinate resets', () => stats()?.vivaldiResets);
    new Gauge({
      name: 'discovery_mesh_member_rtt_seconds',
      help: 'Median RTT this node measured to each member',
      labelNames: ['member'],
      registers: r,
      collect() {
        this.reset();
        for (const m of mesh?.members() ?? []) {
          const rtt = mesh!.measuredRtt(m.key);
          if (rtt !== undefined) this.labels(m.name).set(rtt / 1000);
        }
      },
    });
    const node = new Gauge({ name: 'discovery_node_resources', help: 'Capacity the scheduler may fill and measured load (cpu: % of a core, mem: MiB)', labelNames: ['resource', 'measure'], registers: r, collect() {
      if (!cloud) return;
      const { cpu, mem } = cloud.monitor.snapshot().node;
      const load = cloud.monitor.load();
      node.labels('cpu', 'capacity').set(cpu);
      node.labels('mem', 'capacity').set(mem);
      node.labels('cpu', 'load').set(load.cpu);
      node.labels('mem', 'load').set(load.mem);
    } });
    gauge('discovery_dvms_in_partition', '1 while this node is in a DVMS partition', () => (cloud ? (cloud.agent.partition ? 1 : 0) : undefined));
    gauge('discovery_node_computes', 'Computes this node holds', () => [...store.all()].filter((e) => e.kind === COMPUTE).length);
    if (!replicated) return () => undefined;
    return store.onChange((change, removed) => {
      if (![...(change.put ?? []), ...removed].some((e) => e.kind === COMPUTE)) return;
      const done = this.replicationLag.startTimer();
      // The store's listeners include the replicator's send to the replica holders: settled once acknowledged.
      void store.settled().then(() => done());
    });
  }
}
