/**
 * Drain: an operator removes a node. Its computes are migrated away through the DVMS (a drain
 * event: a partition started here must move every VM of this node elsewhere, the node joins no
 * other partition meanwhile), raised again until none is left or the deadline passes; then the
 * node tells the members it leaves cleanly and leaves the mesh. From the drain's start, clients
 * that reach this node directly get 503 "draining" (members' forwarded requests are still served
 * while computes remain); once it left, every OCCI request gets 503.
 * Networks and storage are not moved: they stay with the node.
 */
import type { Logger } from 'pino';
import type { Mesh } from '../mesh/mesh.js';
import { COMPUTE } from '../occi/infrastructure-model.js';
import type { EntityStore } from '../occi/store.js';
import type { Cloud } from './lrt.js';

export const DEFAULT_DRAIN_TIMEOUT_MS = 10 * 60_000;
export const DEFAULT_DRAIN_RETRY_MS = 5_000;

export type DrainState = 'serving' | 'draining' | 'left' | 'failed';

export interface DrainStatus {
  state: DrainState;
  startedAt: string | null;
  finishedAt: string | null;
  /** Computes still held here. */
  remaining: number;
  /** Computes moved away since the drain started. */
  moved: number;
  error: string | null;
}

export interface DrainOptions {
  mesh: Mesh;
  cloud: Cloud;
  store: EntityStore;
  logger: Logger;
  /** Leaves the mesh cleanly once no compute is left (tells the members, stops the cloud, closes the mesh). */
  leave(): Promise<void>;
  timeoutMs?: number;
  retryMs?: number;
}

export class Drain {
  private state: DrainState = 'serving';
  private startedAt: number | null = null;
  private finishedAt: number | null = null;
  private initial = 0;
  private error: string | null = null;
  private running: Promise<void> | undefined;

  constructor(private readonly opts: DrainOptions) {}

  get draining(): boolean {
    return this.state === 'draining';
  }

  get left(): boolean {
    return this.state === 'left';
  }

  private held(): number {
    let n = 0;
    for (const e of this.opts.store.all()) if (e.kind === COMPUTE) n++;
    return n;
  }

  status(): DrainStatus {
    const remaining = this.held();
    return {
      state: this.state,
      startedAt: this.startedAt === null ? null : new Date(this.startedAt).toISOString(),
      finishedAt: this.finishedAt === null ? null : new Date(this.finishedAt).toISOString(),
      remaining,
      moved: this.startedAt === null ? 0 : Math.max(0, this.initial - remaining),
      error: this.error,
    };
  }

  /** Starts the drain (again after a failure); it completes in the background. */
  start(): DrainStatus {
    if (this.state === 'serving' || this.state === 'failed') {
      this.state = 'draining';
      this.startedAt = Date.now();
      this.finishedAt = null;
      this.error = null;
      this.initial = this.held();
      this.running = this.run();
    }
    return this.status();
  }

  /** Resolves when the drain under way is over (left or failed). */
  done(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  private async run(): Promise<void> {
    const { cloud, logger } = this.opts;
    const deadline = Date.now() + (this.opts.timeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS);
    const retryMs = this.opts.retryMs ?? DEFAULT_DRAIN_RETRY_MS;
    logger.warn({ computes: this.initial }, 'drain: moving every compute away, then leaving the mesh');
    try {
      while (this.held() > 0) {
        if (Date.now() > deadline) throw new Error(`${this.held()} computes could not be moved away before the deadline`);
        const before = this.held();
        cloud.agent.drain();
        // Wait until the partition moved some, or try again after retryMs.
        const until = Date.now() + retryMs;
        while (this.held() >= before && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
        // Moves under way settle before the next round counts what is left.
        while (cloud.agent.partition !== null && Date.now() < until + retryMs) await new Promise((r) => setTimeout(r, 200));
      }
      await this.opts.leave();
      this.state = 'left';
      logger.warn({ moved: this.initial }, 'drain: done; the node left the mesh');
    } catch (err) {
      this.state = 'failed';
      this.error = (err as Error).message;
      logger.error({ err }, 'drain failed; the node stays in the mesh');
    } finally {
      this.finishedAt = Date.now();
    }
  }
}
