/**
 * The replica side of compute leases. A holder runs a compute only while a majority of its replica
 * set (the holder and its replica holders) has renewed the compute's lease recently; this node,
 * a replica holder, notes when each holder last renewed, on its own monotonic clock, and votes on
 * the claims of nodes that want to restart a lost holder's compute: yes only once the holder's
 * lease has surely ended here and no other node holds a vote for the same compute and generation.
 * A holder needs a majority to keep running and a claimant a majority to restart; two majorities
 * of one set share a member, which never grants both. No decision compares two machines' clocks:
 * each side measures durations on its own monotonic clock (src/lib/monotonic.ts).
 */
import type { Mesh } from '../mesh/mesh.js';
import type { ReplicaRow, ReplicaStore } from './replica-store.js';
import { monotonicMs } from '../lib/monotonic.js';

/** How long a renewal keeps a compute's lease (ms). */
export const DEFAULT_LEASE_MS = 5_000;
/**
 * A replica holder counts a lease longer than the holder does, by this fraction plus this many ms:
 * room for the two monotonic clocks running at slightly different rates and for a late delivery.
 */
const RATE_SLACK = 0.1;
const FIXED_SLACK_MS = 500;
/** How long a vote for a claimant stands when the claimant does not finish (ms). */
export const DEFAULT_VOTE_TTL_MS = 15_000;

/** `claimed`: another node has the votes to restart it and may be doing so; the holder keeps it fenced meanwhile. */
export type RenewAnswer = 'granted' | 'moved' | 'claimed' | 'unknown';

export interface LeaseGrantsOptions {
  mesh: Mesh;
  replicas: ReplicaStore;
  leaseMs?: number;
  voteTtlMs?: number;
  /** Monotonic ms (tests pass a clock). */
  now?: () => number;
}

export class LeaseGrants {
  private readonly renewedAt = new Map<string, number>();
  private readonly now: () => number;
  /** A holder may have renewed with this node just before it stopped: counted from the start. */
  private readonly startedAt: number;
  readonly leaseMs: number;
  private readonly voteTtlMs: number;
  /** When each vote was given, on this node's monotonic clock (the stored claim says to whom). */
  private readonly votedAt = new Map<string, number>();

  constructor(private readonly opts: LeaseGrantsOptions) {
    this.now = opts.now ?? monotonicMs;
    this.startedAt = this.now();
    this.leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    this.voteTtlMs = opts.voteTtlMs ?? DEFAULT_VOTE_TTL_MS;
  }

  /** Ms until the lease of `holder`'s computes has surely ended here (0: it has). */
  remaining(holder: string): number {
    const since = this.now() - (this.renewedAt.get(holder) ?? this.startedAt);
    return Math.max(0, this.leaseMs * (1 + RATE_SLACK) + FIXED_SLACK_MS - since);
  }

  /** A description from `holder` arrived: it is alive, as a renewal says. */
  noteAlive(holder: string): void {
    this.renewedAt.set(holder, this.now());
  }

  /**
   * A holder renews the leases of some computes (id → generation). Granted for those this node
   * keeps a description of, unclaimed; `moved` for those another node took over since; `claimed`
   * for those another node holds this node's vote to restart (it may yet give up: not moved).
   */
  renew(holder: string, generations: Record<string, number>): Record<string, RenewAnswer> {
    const { replicas } = this.opts;
    const out: Record<string, RenewAnswer> = {};
    let granted = false;
    for (const [id, generation] of Object.entries(generations)) {
      if (typeof generation !== 'number') continue;
      if (replicas.supersededGeneration(id) > generation || replicas.rowsFor(id).some((r) => r.holder !== holder && r.generation > generation)) {
        out[id] = 'moved';
        continue;
      }
      const row = replicas.get(holder, id);
      if (!row) out[id] = 'unknown';
      else if (row.claimedBy !== null && row.claimedBy !== holder && this.claimStands(row)) out[id] = 'claimed';
      else {
        out[id] = 'granted';
        granted = true;
      }
    }
    if (granted) this.renewedAt.set(holder, this.now());
    return out;
  }

  /**
   * A vote on `claimant` restarting the compute `id` of `lost` at `generation`: yes when the lost
   * holder's lease has ended here, this node keeps that generation's description, and no other
   * live claimant holds a vote for it. A yes is stored (it survives a restart of this node).
   */
  vote(lost: string, id: string, generation: number, claimant: string): { yes: boolean; why?: string; row?: ReplicaRow } {
    const { mesh, replicas } = this.opts;
    if (mesh.member(lost) && lost !== claimant) return { yes: false, why: 'its holder is a member again' };
    const row = replicas.get(lost, id);
    if (!row) return { yes: false, why: 'no description of it here' };
    if (row.generation !== generation) return { yes: false, why: `the description here is of generation ${row.generation}` };
    const left = this.remaining(lost);
    if (left > 0) return { yes: false, why: `its holder's lease may still run for ${Math.ceil(left)} ms` };
    if (row.claimedBy !== null && row.claimedBy !== claimant && this.claimStands(row)) return { yes: false, why: 'claimed by another node' };
    replicas.claim(lost, id, claimant);
    this.votedAt.set(`${lost}/${id}`, this.now());
    return { yes: true, row };
  }

  /** The claimant gave up (or could not start it): its vote is free for another claimant. */
  withdraw(lost: string, id: string, claimant: string): void {
    const row = this.opts.replicas.get(lost, id);
    if (row?.claimedBy === claimant) {
      this.opts.replicas.claim(lost, id, null);
      this.votedAt.delete(`${lost}/${id}`);
    }
  }

  /** A vote stands while its claimant is this node or a member, within its time to live. */
  claimStands(row: ReplicaRow): boolean {
    const claimant = row.claimedBy;
    if (claimant === null) return false;
    const at = this.votedAt.get(`${row.holder}/${row.id}`) ?? this.startedAt;
    const live = claimant === this.opts.mesh.key || this.opts.mesh.member(claimant) !== undefined;
    return live && this.now() - at < this.voteTtlMs;
  }
}
