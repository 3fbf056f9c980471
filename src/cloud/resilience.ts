/**
 * Failures and drain of one node (docs/cloud.md, "Failures and drain"): replication of its
 * computes' descriptions, recovery of lost members' computes, fencing at start, the restart
 * policy, and the drain. Started once the node is in the mesh; closed before the mesh is.
 */
import type { Logger } from 'pino';
import type { Hypervisor } from '../hypervisor/hypervisor.js';
import type { Mesh } from '../mesh/mesh.js';
import type { OcciService } from '../occi/service.js';
import type { EntityStore } from '../occi/store.js';
import type { Cloud } from './lrt.js';
import { Drain } from './drain.js';
import { Failover } from './failover.js';
import { Replicator } from './replicas.js';
import { ReplicaStore } from './replica-store.js';
import { DEFAULT_LEASE_MS, LeaseGrants } from './lease-grants.js';
import { LEASE_METHOD, LeaseHolder } from './lease-holder.js';
import type { RenewAnswer } from './lease-grants.js';
import { RestartPolicyKeeper } from './restart-policy.js';
import { NUMBER, objectSchema } from '../mesh/rpc-codecs.js';

export interface ResilienceTuning {
  /** Replica holders per compute (default 4, replicas.ts says why). */
  replicas?: number;
  replicationTimeoutMs?: number;
  /** First wait of the heir before it checks a lost node's computes run again (doubles each round). */
  recoveryRetryMs?: number;
  /** How long a renewal keeps a compute's lease (ms); a holder fences what it cannot renew before then. */
  leaseMs?: number;
  /** How often leases are renewed (ms). */
  leaseRenewMs?: number;
  /** How long a vote for a claimant stands when the claimant does not finish (ms). */
  claimTtlMs?: number;
  fenceWaitMs?: number;
  restartCheckMs?: number;
  maxRestarts?: number;
  restartWindowMs?: number;
  drainTimeoutMs?: number;
  drainRetryMs?: number;
}

export interface ResilienceOptions extends ResilienceTuning {
  mesh: Mesh;
  service: OcciService;
  store: EntityStore;
  hypervisor: Hypervisor;
  cloud: Cloud;
  logger: Logger;
  dataDir: string;
  nodeName: string;
  /** Stops the node's part of the mesh once drained (the cloud, then the mesh, cleanly). */
  leaveMesh(): Promise<void>;
}

export class Resilience {
  readonly replicas: ReplicaStore;
  readonly replicator: Replicator;
  readonly failover: Failover;
  readonly restarts: RestartPolicyKeeper;
  readonly drain: Drain;
  /** This node's leases on its own computes, and its grants to the holders it keeps replicas for. */
  readonly leases: LeaseHolder;
  readonly grants: LeaseGrants;
  private closed = false;

  constructor(private readonly opts: ResilienceOptions) {
    const { mesh, service, store, hypervisor, cloud, dataDir, nodeName } = opts;
    const logger = opts.logger.child({ part: 'failures' });
    this.replicas = new ReplicaStore(dataDir);
    const leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    this.grants = new LeaseGrants({ mesh, replicas: this.replicas, leaseMs, voteTtlMs: opts.claimTtlMs });
    mesh.handle(
      LEASE_METHOD,
      (payload, from) => this.grants.renew(from, (payload as { generations: Record<string, number> }).generations) as Record<string, RenewAnswer>,
      objectSchema({ generations: { type: 'object', additionalProperties: NUMBER } }),
    );
    this.replicator = new Replicator({
      mesh,
      custody: cloud.custody,
      store,
      replicas: this.replicas,
      logger,
      count: opts.replicas,
      timeoutMs: opts.replicationTimeoutMs,
      onAlive: (holder) => this.grants.noteAlive(holder),
      leftCleanly: (key) => this.failover.leftCleanly(key),
    });
    this.leases = new LeaseHolder({
      mesh,
      store,
      replicas: this.replicas,
      custody: cloud.custody,
      hypervisor,
      logger,
      leaseMs,
      renewMs: opts.leaseRenewMs,
      heldElsewhere: (ids) => this.failover.heldElsewhere(ids),
      changed: (id, fenced, why) =>
        void service
          .reconcile(id)
          .then(() => (fenced ? cloud.custody.annotate(id, why) : undefined))
          .catch(() => undefined),
    });
    this.failover = new Failover({
      mesh,
      service,
      store,
      replicas: this.replicas,
      replicator: this.replicator,
      cloud,
      grants: this.grants,
      logger,
      retryMs: opts.recoveryRetryMs,
      fenceWaitMs: opts.fenceWaitMs,
    });
    this.restarts = new RestartPolicyKeeper({
      service,
      custody: cloud.custody,
      store,
      hypervisor,
      logger,
      nodeName,
      ready: this.failover.fenced,
      fenced: (id) => this.leases.isFenced(id) || cloud.moves.unconfirmed(id),
      maxRestarts: opts.maxRestarts,
      windowMs: opts.restartWindowMs,
      checkMs: opts.restartCheckMs,
    });
    this.drain = new Drain({
      mesh,
      cloud,
      store,
      logger,
      timeoutMs: opts.drainTimeoutMs,
      retryMs: opts.drainRetryMs,
      leave: async () => {
        await this.close();
        await opts.leaveMesh();
      },
    });
  }

  /**
   * Fencing runs in the background (`failover.fenced`); replication starts once it is over (a node
   * back from a crash must not announce copies it is about to drop), the restart policy waits too.
   */
  start(): void {
    this.leases.start();
    this.restarts.start();
    void this.failover.start().then(() => {
      if (!this.closed) this.replicator.start();
    });
  }

  /**
   * Stops. `clean` (default): the members are told this node leaves on purpose, so they do not
   * restart its computes elsewhere (they wait for it; drain it to move them away).
   */
  async close(clean = true): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failover.close();
    this.restarts.close();
    this.leases.close();
    this.opts.mesh.unhandle(LEASE_METHOD);
    if (clean) await this.failover.leaving().catch(() => undefined);
    this.replicator.close();
    this.replicas.close();
  }
}
