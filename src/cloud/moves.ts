/**
 * Moves of a compute between nodes, each with its own hypervisor host, in one step of custody that
 * cannot leave two holders: prepare on the target (capacity held, networks realised, how to reach
 * its hypervisor), move the guest, commit on the target (the next generation, replicated there
 * before it answers), then forget it here.
 * - Between libvirt daemons the guest moves live (`Hypervisor.migrate`: memory and disks, storage
 *   copied when not shared); its linked storages travel with it.
 * - Otherwise (the test and simulated drivers, which cannot reach another node's host) the guest
 *   is paused here first, then defined and started there from its description: it never runs on
 *   both, and its memory does not travel.
 * A failure before the commit leaves the guest running here and the compute here. A commit whose
 * answer is lost is asked again: the target answers it once, by the generation. A guest that moved
 * live but whose commit never got an answer runs there, not here: the compute is kept here, never
 * restarted here (`unconfirmed`), and the commit is asked again while the target is a member.
 */
import type { Logger } from 'pino';
import type { Hypervisor, MigrationTarget } from '../hypervisor/hypervisor.js';
import type { JsonValue, Mesh } from '../mesh/mesh.js';
import type { Entity } from '../occi/entity.js';
import type { Custody, MoveBundle } from './custody.js';
import { generationOf } from './replica-store.js';
import { objectSchema, STRING } from '../mesh/rpc-codecs.js';

export const PREPARE_METHOD = 'cloud/move-prepare';
export const COMMIT_METHOD = 'cloud/move-commit';
export const ABORT_METHOD = 'cloud/move-abort';
export const DEFAULT_MOVE_TIMEOUT_MS = 60_000;
/** How often a commit whose answer was lost is asked again. */
const COMMIT_ATTEMPTS = 4;
/** A prepared move that never commits releases its hold after this long (ms). */
const PREPARED_TTL_MS = 5 * 60_000;
/** How often an unconfirmed live move's commit is asked again (ms). */
const UNCONFIRMED_RETRY_MS = 30_000;

export interface MovesOptions {
  mesh: Mesh;
  custody: Custody;
  /** This node's hypervisor: it moves guests live when both ends are libvirt daemons. */
  hypervisor: Hypervisor;
  logger: Logger;
  timeoutMs?: number;
  /** Called on the target when a compute is about to arrive: holds its capacity until the returned function is called. */
  arriving?(records: Entity[]): () => void;
}

interface Prepared {
  release(): void;
  timer: NodeJS.Timeout;
}

/** Whether the guests of this hypervisor can move live to another node's (a libvirt daemon that runs guests). */
function liveTarget(hv: Hypervisor): MigrationTarget | null {
  return hv.uri.startsWith('qemu') ? { uri: hv.uri } : null;
}

export class Moves {
  private readonly moving = new Map<string, Promise<unknown>>();
  private readonly prepared = new Map<string, Prepared>();
  private readonly unconfirmedMoves = new Map<string, NodeJS.Timeout>();

  constructor(private readonly opts: MovesOptions) {
    const { mesh, custody, logger } = opts;
    mesh.handle(PREPARE_METHOD, async (payload) => {
      const bundle = (payload as { bundle?: unknown }).bundle as MoveBundle;
      const id = bundle.records[0]!.id;
      this.release(id);
      const release = opts.arriving?.(bundle.records) ?? (() => undefined);
      this.prepared.set(id, { release, timer: setTimeout(() => this.release(id), PREPARED_TTL_MS).unref() });
      try {
        await custody.realise(bundle.networks);
      } catch (err) {
        this.release(id);
        throw err;
      }
      const source = (payload as { live?: boolean }).live;
      return { target: source ? liveTarget(opts.hypervisor) : null } as unknown as JsonValue;
    });
    mesh.handle(COMMIT_METHOD, async (payload, from) => {
      const { bundle, arrived } = payload as unknown as { bundle: MoveBundle; arrived: boolean };
      const [compute, ...links] = bundle.records as [Entity, ...Entity[]];
      try {
        const adopted = await custody.adopt([compute, ...links], { arrived, storages: bundle.storages });
        logger.info({ compute: adopted.id, from: from.slice(0, 8), generation: generationOf(adopted), live: arrived }, 'compute moved in');
        return { generation: generationOf(adopted) };
      } finally {
        this.release(compute.id);
      }
    });
    mesh.handle(
      ABORT_METHOD,
      (payload) => {
        this.release((payload as { id: string }).id);
        return true;
      },
      objectSchema({ id: STRING }),
    );
  }

  private release(id: string): void {
    const p = this.prepared.get(id);
    if (!p) return;
    this.prepared.delete(id);
    clearTimeout(p.timer);
    p.release();
  }

  /** A compute that moved live but whose target has not confirmed it: it must not run here again. */
  unconfirmed(id: string): boolean {
    return this.unconfirmedMoves.has(id);
  }

  /** Settles when the move of this entity (if one is under way) is over. */
  settled(id: string): Promise<unknown> | undefined {
    return this.moving.get(id);
  }

  /** Moves a compute held here to `to`. Rejects (and the compute stays here, running) when a step before the commit fails. */
  async moveTo(id: string, to: string): Promise<void> {
    const { mesh, custody, logger } = this.opts;
    const move = custody.moveOut(id, (bundle) => this.transfer(id, to, bundle));
    this.moving.set(id, move.catch(() => undefined));
    try {
      const done = await move;
      if (done === undefined) throw new Error(`compute ${id} is not held here`);
      logger.info({ compute: id, to: mesh.member(to)?.name ?? to.slice(0, 8), live: done.live }, 'compute moved out');
    } finally {
      this.moving.delete(id);
    }
  }

  private async transfer(id: string, to: string, bundle: MoveBundle): Promise<{ live: boolean }> {
    const { mesh, hypervisor } = this.opts;
    const timeoutMs = this.opts.timeoutMs ?? DEFAULT_MOVE_TIMEOUT_MS;
    const canLive = liveTarget(hypervisor) !== null;
    const { target } = await mesh.request<{ target: MigrationTarget | null }>(to, PREPARE_METHOD, { bundle, live: canLive } as unknown as JsonValue, { timeoutMs });
    const abort = () => mesh.request(to, ABORT_METHOD, { id }, { timeoutMs: 5_000 }).catch(() => undefined);
    const { state } = await hypervisor.domainInfo(id);
    const live = target !== null && state === 'running';
    let paused = false;
    try {
      if (live) {
        const { migration } = await hypervisor.migrate(id, target, { mode: 'live', timeoutMs });
        this.opts.logger.info({ compute: id, elapsedMs: Math.round(migration.elapsedMs), downtimeMs: migration.downtimeMs, transferredBytes: migration.transferredBytes }, 'guest migrated live');
      } else if (state === 'running') {
        // The guest stops here before it starts there.
        await hypervisor.suspendDomain(id, 'suspend');
        paused = true;
      }
    } catch (err) {
      await abort();
      throw err;
    }
    try {
      await this.commit(to, bundle, live, timeoutMs);
    } catch (err) {
      if (live) this.keepAsking(id, to, bundle, timeoutMs);
      else {
        if (paused) await hypervisor.resumeDomain(id).catch(() => undefined);
        await abort();
      }
      throw err;
    }
    return { live };
  }

  /** The guest runs on `to` already: its commit is asked again until it answers, then the records here go. */
  private keepAsking(id: string, to: string, bundle: MoveBundle, timeoutMs: number): void {
    const { mesh, custody, logger } = this.opts;
    logger.error({ compute: id, to: mesh.member(to)?.name ?? to.slice(0, 8) }, 'compute moved live but its target did not confirm: kept here, never run here, the commit asked again');
    const again = (): void => {
      this.unconfirmedMoves.set(
        id,
        setTimeout(() => {
          if (!mesh.member(to)) return again();
          this.commit(to, bundle, true, timeoutMs).then(
            () => {
              this.unconfirmedMoves.delete(id);
              return custody.forget(id);
            },
            () => again(),
          );
        }, UNCONFIRMED_RETRY_MS).unref(),
      );
    };
    again();
  }

  /** The commit, asked again when its answer is lost (the target answers it once, by the generation). */
  private async commit(to: string, bundle: MoveBundle, arrived: boolean, timeoutMs: number): Promise<void> {
    let last: unknown;
    for (let attempt = 0; attempt < COMMIT_ATTEMPTS; attempt++) {
      try {
        await this.opts.mesh.request(to, COMMIT_METHOD, { bundle, arrived } as unknown as JsonValue, { timeoutMs, idempotent: true });
        return;
      } catch (err) {
        last = err;
        if (!this.opts.mesh.member(to)) break;
      }
    }
    throw last;
  }

  close(): void {
    for (const id of [...this.prepared.keys()]) this.release(id);
    for (const t of this.unconfirmedMoves.values()) clearTimeout(t);
    this.opts.mesh.unhandle(PREPARE_METHOD).unhandle(COMMIT_METHOD).unhandle(ABORT_METHOD);
  }
}
