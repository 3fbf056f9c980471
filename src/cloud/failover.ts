/**
 * Node loss and fencing.
 *
 * Loss: when a member is lost (its connection closed without the `cloud/leaving` notice a clean
 * stop sends), each of its computes has an heir: the first live node of the compute's replica
 * order (the lost node's replica holders, nearest first, the next taking over when the heir is
 * lost too). Once the lost node's lease has surely ended (lease-grants.ts), the heir raises a DVMS
 * node-loss event with the computes' VmSpecs, marked `restartOf`; the node the partition chooses
 * claims each compute from its replica set and needs the votes of a majority of it (the lost node
 * counts as a no), so that exactly one node restarts it, even when two nodes each believe they are
 * the heir. It takes the description in (`Custody.adopt`: the generation increases, the domain is
 * defined and started there) and tells the replica holders, which drop their copy and remember the
 * new generation (a node that comes back learns from them that its copy is stale). The heir checks
 * again after a timeout and raises the event anew, with backoff, for every compute not running
 * anywhere (a partition without room, or whose leader died).
 *
 * Fencing: a node that starts asks the mesh about its computes before it restarts any: a compute
 * that a member holds, or that a replica holder knows under a newer generation or as claimed by
 * another node, is dropped here (domain undefined, records forgotten). Only then does the restart
 * policy run.
 */
import type { Logger } from 'pino';
import type { JsonValue, Mesh } from '../mesh/mesh.js';
import type { VmSpec } from '../scheduler/model.js';
import type { AttributeValue } from '../occi/attribute.js';
import type { Entity } from '../occi/entity.js';
import { DEFAULT_RESTART_POLICY, RESTART, RESTART_POLICY } from '../occi/placement-model.js';
import type { OcciService } from '../occi/service.js';
import type { EntityStore } from '../occi/store.js';
import type { Cloud } from './lrt.js';
import { demandOf } from './vm-demand.js';
import { type Replicator } from './replicas.js';
import { generationOf, majority, type ReplicaRow, type ReplicaStore } from './replica-store.js';
import type { LeaseGrants } from './lease-grants.js';
import { fenceAtStart, Whereabouts } from './whereabouts.js';
import { NUMBER, objectSchema, STRING } from '../mesh/rpc-codecs.js';

export const RESTART_CLAIM_METHOD = 'cloud/restart-claim';
export const RESTARTED_METHOD = 'cloud/restarted';
export const LEAVING_METHOD = 'cloud/leaving';
/** First wait before the heir checks that the computes of a lost node run again (doubles each round). */
export const DEFAULT_RECOVERY_RETRY_MS = 5_000;
export const DEFAULT_RECOVERY_ROUNDS = 8;
/** How long a starting node waits for the members that hold its computes' replicas. */
export const DEFAULT_FENCE_WAIT_MS = 10_000;
const STATE = 'occi.compute.state';
const MESSAGE = 'occi.compute.state.message';

/** Marks a VM of a node-loss event: which lost node held it, which heir raised it. */
export interface RestartOf {
  lost: string;
  heir: string;
  generation: number;
}

export interface RestartVm extends VmSpec {
  readonly restartOf: RestartOf;
}

export function isRestartVm(vm: VmSpec): vm is RestartVm {
  const r = (vm as Partial<RestartVm>).restartOf;
  return typeof r === 'object' && r !== null && typeof r.lost === 'string' && typeof r.heir === 'string';
}

/** A replica holder's vote on a restart: with the description and the replica set when yes. */
interface Vote {
  yes: boolean;
  why?: string;
  records?: Entity[];
  order?: string[];
  /** The version of the description the voter keeps (the lost holder's updates in order). */
  version?: number;
}


export interface FailoverOptions {
  mesh: Mesh;
  service: OcciService;
  store: EntityStore;
  replicas: ReplicaStore;
  replicator: Replicator;
  cloud: Cloud;
  /** The votes of this node, a replica holder, on restarts of lost holders' computes. */
  grants: LeaseGrants;
  logger: Logger;
  retryMs?: number;
  rounds?: number;
  fenceWaitMs?: number;
  /** Deadline of the mesh-wide questions (whereis), ms. */
  gatherMs?: number;
}

export class Failover {
  private readonly cleanlyLeft = new Set<string>();
  /** Lost nodes this node is heir of, being recovered: since when, how many computes, the next round. */
  private readonly recovering = new Map<string, { since: number; total: number; timer?: NodeJS.Timeout }>();
  private readonly onLeft = (m: { key: string }, reason: string): void => this.memberLost(m.key, reason);
  private readonly onJoined = (m: { key: string }): void => {
    this.cleanlyLeft.delete(m.key);
    this.seen.add(m.key);
  };
  /** Members seen since this node started: others may not be connected yet right after a start. */
  private readonly seen = new Set<string>();
  /** Until then, a replica holder that is not a member may just not be connected yet. */
  private readonly settledAt: number;
  private startTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly whereabouts: Whereabouts;
  /** Resolves once this node's computes have been checked against the mesh (fencing). */
  readonly fenced: Promise<void>;
  private resolveFenced!: () => void;
  /** True once fencing is over. */
  isFenced = false;
  /** Ms from each node loss seen here as heir to all its computes running again (figures). */
  readonly recoveries: Array<{ lost: string; computes: number; ms: number }> = [];

  constructor(private readonly opts: FailoverOptions) {
    this.fenced = new Promise((resolve) => (this.resolveFenced = resolve));
    const { mesh } = opts;
    this.settledAt = Date.now() + (opts.fenceWaitMs ?? DEFAULT_FENCE_WAIT_MS);
    for (const m of mesh.members()) this.seen.add(m.key);
    this.whereabouts = new Whereabouts({ mesh, replicas: opts.replicas, custody: opts.cloud.custody, gatherMs: opts.gatherMs });
    mesh.handle(
      RESTART_CLAIM_METHOD,
      (payload, from) => {
        const { lost, id, generation, release } = payload as { lost: string; id: string; generation: number; release?: boolean };
        if (release) return (opts.grants.withdraw(lost, id, from), true);
        return this.vote(lost, id, generation, from) as unknown as JsonValue;
      },
      // A release names no generation.
      objectSchema({ lost: STRING, id: STRING, generation: NUMBER, release: { type: 'boolean' } }, ['generation', 'release']),
    );
    mesh.handle(
      RESTARTED_METHOD,
      (payload) => {
        const { lost, id, generation } = payload as { lost: string; id: string; generation: number };
        this.restartedElsewhere(lost, id, generation);
        return true;
      },
      objectSchema({ lost: STRING, id: STRING, generation: NUMBER }),
    );
    mesh.handle(LEAVING_METHOD, (_payload, from) => {
      this.cleanlyLeft.add(from);
      return true;
    });
    mesh.on('member-left', this.onLeft);
    mesh.on('member-joined', this.onJoined);
    opts.cloud.actuator.onStart((vm) => (isRestartVm(vm) ? this.startHere(vm) : undefined));
  }

  /** Fencing, then the recovery of lost nodes this node already knows of (after a restart). */
  async start(): Promise<void> {
    try {
      await fenceAtStart({ ...this.opts, whereabouts: this.whereabouts, waitMs: this.opts.fenceWaitMs ?? DEFAULT_FENCE_WAIT_MS, closed: () => this.closed });
    } finally {
      this.isFenced = true;
      this.resolveFenced();
    }
    // Nodes lost while this one was away: once the membership had time to form.
    this.startTimer = setTimeout(() => {
      for (const holder of this.opts.replicas.holders()) if (!this.opts.mesh.member(holder) && !this.cleanlyLeft.has(holder)) this.recover(holder, 'lost while this node was away');
    }, Math.max(0, this.settledAt - Date.now()));
    this.startTimer.unref();
  }

  /** Whether a member told this node it stops cleanly, and has not joined again since. */
  leftCleanly(key: string): boolean {
    return this.cleanlyLeft.has(key);
  }

  /** Tells the members this node stops cleanly: they do not restart its computes elsewhere. */
  async leaving(): Promise<void> {
    await this.opts.mesh.gather(LEAVING_METHOD, {}, { deadlineMs: 1_000, includeSelf: false });
  }

  // ---- loss ------------------------------------------------------------------------------------

  private memberLost(key: string, reason: string): void {
    if (this.closed) return;
    if (this.cleanlyLeft.has(key)) {
      this.opts.logger.info({ member: key.slice(0, 8) }, 'member left cleanly: its computes wait for it');
      return;
    }
    this.recover(key, reason);
    // This node may now be the heir of nodes lost earlier whose heir this member was.
    const settled = Date.now() >= this.settledAt;
    for (const holder of this.opts.replicas.holders()) {
      if (holder !== key && !this.opts.mesh.member(holder) && !this.cleanlyLeft.has(holder) && (settled || this.seen.has(holder))) this.recover(holder, 'its heir was lost');
    }
  }

  /** The first live node of the compute's replica order: this node or a member. */
  private heirOf(row: ReplicaRow): string | undefined {
    const { mesh } = this.opts;
    return row.order.find((k) => k === mesh.key || mesh.member(k) !== undefined);
  }

  private recover(lost: string, why: string): void {
    if (this.recovering.has(lost) || this.closed) return;
    const mine = this.opts.replicas.rowsOf(lost).filter((r) => this.heirOf(r) === this.opts.mesh.key);
    if (mine.length === 0) return;
    this.opts.logger.warn({ lost: lost.slice(0, 8), computes: mine.length, why }, 'node lost: restarting its computes elsewhere');
    this.recovering.set(lost, { since: Date.now(), total: mine.length });
    void this.round(lost, 0);
  }

  /** Every compute of a lost node this node is heir of runs elsewhere: the recovery is over. */
  private checkRecovered(lost: string): boolean {
    const r = this.recovering.get(lost);
    if (!r) return false;
    if (this.opts.replicas.rowsOf(lost).some((row) => this.heirOf(row) === this.opts.mesh.key)) return false;
    clearTimeout(r.timer);
    this.recovering.delete(lost);
    const ms = Date.now() - r.since;
    this.recoveries.push({ lost, computes: r.total, ms });
    this.opts.logger.info({ lost: lost.slice(0, 8), computes: r.total, ms }, 'every compute of the lost node runs elsewhere');
    return true;
  }

  /** One recovery round of the heir: raise the node-loss event for the computes that run nowhere. */
  private async round(lost: string, attempt: number): Promise<void> {
    const { mesh, replicas, cloud, grants, logger } = this.opts;
    const retryMs = this.opts.retryMs ?? DEFAULT_RECOVERY_RETRY_MS;
    try {
      if (this.closed) return;
      if (mesh.member(lost)) {
        logger.info({ lost: lost.slice(0, 8) }, 'lost node is back: it decides about its computes');
        this.recovering.delete(lost);
        return;
      }
      // Nothing is restarted before the lost node's lease has surely ended (it fences itself first).
      const leaseLeft = grants.remaining(lost);
      if (leaseLeft > 0) {
        const state = this.recovering.get(lost);
        if (state) (state.timer = setTimeout(() => void this.round(lost, attempt), leaseLeft + 10)).unref();
        return;
      }
      let rows = replicas.rowsOf(lost).filter((r) => this.heirOf(r) === mesh.key);
      if (rows.length > 0) {
        const where = await this.whereabouts.ask(rows.map((r) => r.id));
        for (const r of rows) if (where.held.has(r.id)) replicas.remove(lost, r.id);
        rows = replicas.rowsOf(lost).filter((r) => this.heirOf(r) === mesh.key);
      }
      if (rows.length === 0 && this.checkRecovered(lost)) return;
      const inFlight = (r: ReplicaRow) => grants.claimStands(r);
      for (const r of rows) if (r.claimedBy !== null && !inFlight(r)) grants.withdraw(lost, r.id, r.claimedBy);
      const raise = rows.filter((r) => !inFlight(r));
      if (attempt >= (this.opts.rounds ?? DEFAULT_RECOVERY_ROUNDS)) {
        logger.error({ lost: lost.slice(0, 8), computes: rows.map((r) => r.id) }, 'gave up restarting computes of a lost node; they are kept as replicas');
        this.recovering.delete(lost);
        return;
      }
      if (raise.length > 0) {
        const vms = await Promise.all(raise.map((r) => this.vmOf(r, lost)));
        logger.info({ lost: lost.slice(0, 8), computes: vms.length, attempt }, 'node-loss event raised');
        cloud.agent.nodeLost(lost, vms);
      }
    } catch (err) {
      logger.warn({ err, lost: lost.slice(0, 8) }, 'recovery round failed');
    }
    const state = this.recovering.get(lost);
    if (this.closed || !state) return;
    const wait = Math.min(retryMs * 2 ** Math.min(attempt, 4), 60_000);
    state.timer = setTimeout(() => void this.round(lost, attempt + 1), wait);
    state.timer.unref();
  }

  private async vmOf(row: ReplicaRow, lost: string): Promise<RestartVm> {
    const compute = row.records[0]!;
    let vm: VmSpec;
    try {
      const { origin: _origin, ...spec } = await this.opts.cloud.vmOf(compute, undefined, false);
      vm = spec;
    } catch {
      vm = demandOf(compute); // the mesh could not say where its groups run
    }
    return { ...vm, restartOf: { lost, heir: this.opts.mesh.key, generation: row.generation } };
  }

  /** Which of these computes another member holds now. */
  async heldElsewhere(ids: string[]): Promise<Set<string>> {
    return new Set((await this.whereabouts.ask(ids)).held.keys());
  }

  /** This node's vote on a claimant restarting compute `id` of `lost`; with the description when yes. */
  private vote(lost: string, id: string, generation: number, claimant: string): Vote {
    const v = this.opts.grants.vote(lost, id, generation, claimant);
    return v.yes ? { yes: true, records: v.row!.records, order: v.row!.order, version: v.row!.version } : { yes: false, why: v.why };
  }

  /** Compute `id` of `lost` runs at `generation` elsewhere now: the copy here goes, its generation is remembered. */
  private restartedElsewhere(lost: string, id: string, generation: number): void {
    const { replicas } = this.opts;
    replicas.supersede(id, generation);
    const row = replicas.get(lost, id);
    if (row && row.generation < generation) replicas.remove(lost, id);
    this.checkRecovered(lost);
  }

  /** A vote asked of replica holder `k` (this node answers itself). */
  private async askVote(k: string, lost: string, id: string, generation: number): Promise<Vote> {
    const { mesh } = this.opts;
    if (k === mesh.key) return this.vote(lost, id, generation, mesh.key);
    return mesh.request<Vote>(k, RESTART_CLAIM_METHOD, { lost, id, generation }).catch((err: unknown) => ({ yes: false, why: (err as Error).message }));
  }

  private withdrawVotes(voters: string[], lost: string, id: string): Promise<unknown> {
    const { mesh, grants } = this.opts;
    return Promise.all(voters.map((k) => (k === mesh.key ? grants.withdraw(lost, id, mesh.key) : mesh.request(k, RESTART_CLAIM_METHOD, { lost, id, release: true }).catch(() => undefined))));
  }

  /**
   * On the node the partition chose: the votes of a majority of the compute's replica set (the
   * heir's first: it hands over the description and the set), then the compute starts here.
   */
  private async startHere(vm: RestartVm): Promise<void> {
    const { mesh, service, cloud, logger } = this.opts;
    const { lost, heir, generation } = vm.restartOf;
    if (service.holds(vm.id)) return;
    const first = await this.askVote(heir, lost, vm.id, generation);
    if (!first.yes || !first.records?.[0]) throw new Error(`restart of ${vm.id} not granted by its heir: ${first.why ?? 'no description'}`);
    const set = (first.order ?? [heir]).filter((k) => k !== lost);
    const others = set.filter((k) => k !== heir);
    const votes = await Promise.all(others.map(async (k) => ({ k, vote: await this.askVote(k, lost, vm.id, generation) })));
    const yes = votes.filter((v) => v.vote.yes);
    const voters = [heir, ...yes.map((v) => v.k)];
    // Every acknowledged change reached a majority of the set, so some voter of a majority has the
    // latest: the restart starts from the newest description among the votes, not the heir's own.
    const newest = [first, ...yes.map((v) => v.vote)].filter((v) => v.records?.[0]).reduce((a, b) => ((b.version ?? 0) > (a.version ?? 0) ? b : a));
    if (voters.length < majority(set.length + 1)) {
      await this.withdrawVotes(voters, lost, vm.id);
      throw new Error(`restart of ${vm.id} granted by ${voters.length} of its replica set of ${set.length + 1}: a majority is needed`);
    }
    // Nobody runs it already (a second heir's event, or the holder came back).
    const where = await this.whereabouts.ask([vm.id]);
    if (where.held.has(vm.id)) {
      await this.withdrawVotes(voters, lost, vm.id);
      throw new Error(`compute ${vm.id} already runs on another node`);
    }
    const records = this.restarted(newest.records!, lost);
    let adopted: Entity;
    try {
      adopted = await cloud.custody.adopt(records);
    } catch (err) {
      await this.withdrawVotes(voters, lost, vm.id);
      throw err;
    }
    logger.info({ compute: vm.id, lost: lost.slice(0, 8), generation: generationOf(adopted) }, 'compute restarted here after the loss of its node');
    await Promise.all(
      set.map((k) =>
        k === mesh.key
          ? this.restartedElsewhere(lost, vm.id, generationOf(adopted))
          : mesh.request(k, RESTARTED_METHOD, { lost, id: vm.id, generation: generationOf(adopted) }).catch(() => undefined),
      ),
    );
  }

  /** The compute as it restarts after its node's loss: running again unless its policy says never. */
  private restarted(records: Entity[], lost: string): Entity[] {
    const [compute, ...links] = records as [Entity, ...Entity[]];
    const policy = compute.mixins.includes(RESTART) ? String(compute.attributes[RESTART_POLICY] ?? DEFAULT_RESTART_POLICY) : DEFAULT_RESTART_POLICY;
    const state = String(compute.attributes[STATE] ?? 'inactive');
    const lostName = this.opts.mesh.member(lost)?.name ?? lost.slice(0, 8);
    const here = this.opts.mesh.self().name;
    const wasRunning = state === 'active' || state === 'error';
    let next = state;
    let message: string | undefined;
    if (wasRunning && policy === 'never') {
      next = 'inactive';
      message = `not restarted after the loss of node ${lostName} (restart policy never); held by ${here}`;
    } else if (wasRunning) {
      next = 'active';
      message = `restarted on ${here} after the loss of node ${lostName}`;
    } else message = `taken over by ${here} after the loss of node ${lostName}`;
    const attributes: Record<string, AttributeValue> = { ...compute.attributes, [STATE]: next };
    if (message) attributes[MESSAGE] = message;
    return [{ ...compute, attributes }, ...links];
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.resolveFenced();
    clearTimeout(this.startTimer);
    for (const r of this.recovering.values()) clearTimeout(r.timer);
    this.recovering.clear();
    const { mesh } = this.opts;
    mesh.off('member-left', this.onLeft);
    mesh.off('member-joined', this.onJoined);
    this.whereabouts.close();
    mesh.unhandle(RESTART_CLAIM_METHOD).unhandle(RESTARTED_METHOD).unhandle(LEAVING_METHOD);
  }
}
