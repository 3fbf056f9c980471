/**
 * Migration of a compute between nodes, each with its own hypervisor host: the source sends the
 * compute's records (the compute and its links) to the target, which takes them in and defines and
 * starts the domain there (define-on-target, the way the libvirt test driver and separate hosts
 * allow), then the source releases its domain and forgets the records. The compute keeps its id;
 * requests on it wait at the source while it moves, then follow it to the target.
 */
import type { Logger } from 'pino';
import type { JsonValue, Mesh } from '../mesh/mesh.js';
import type { Entity } from '../occi/entity.js';
import type { Custody } from './custody.js';

export const ADOPT_METHOD = 'cloud/adopt';
export const DEFAULT_MOVE_TIMEOUT_MS = 60_000;

export interface MovesOptions {
  mesh: Mesh;
  custody: Custody;
  logger: Logger;
  timeoutMs?: number;
  /** Called on the target when a compute arrives, before it is created: holds its capacity until the returned function is called. */
  arriving?(records: Entity[]): () => void;
}

export class Moves {
  private readonly moving = new Map<string, Promise<unknown>>();

  constructor(private readonly opts: MovesOptions) {
    opts.mesh.handle(ADOPT_METHOD, async (payload, from) => {
      const records = (payload as { records?: unknown }).records as Entity[];
      const release = opts.arriving?.(records);
      const adopted = await opts.custody.adopt(records).finally(() => release?.());
      opts.logger.info({ compute: adopted.id, from: from.slice(0, 8) }, 'compute moved in');
      return { id: adopted.id };
    });
  }

  /** Settles when the move of this entity (if one is under way) is over. */
  settled(id: string): Promise<unknown> | undefined {
    return this.moving.get(id);
  }

  /** Moves a compute held here to `to`. Rejects (and the compute stays here) when the target refuses. */
  async moveTo(id: string, to: string): Promise<void> {
    const { mesh, custody, logger } = this.opts;
    const move = custody.moveOut(id, (records) =>
      mesh.request(to, ADOPT_METHOD, { records } as unknown as JsonValue, { timeoutMs: this.opts.timeoutMs ?? DEFAULT_MOVE_TIMEOUT_MS }),
    );
    this.moving.set(id, move.catch(() => undefined));
    try {
      const done = await move;
      if (done === undefined) throw new Error(`compute ${id} is not held here`);
      logger.info({ compute: id, to: mesh.member(to)?.name ?? to.slice(0, 8) }, 'compute moved out');
    } finally {
      this.moving.delete(id);
    }
  }

  close(): void {
    this.opts.mesh.unhandle(ADOPT_METHOD);
  }
}
