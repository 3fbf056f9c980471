/** The holder lookup: an entity path is forwarded to the member that holds the entity (one hop once its location is cached). */
import type { Request, Response } from 'express';
import { EntityDirectory } from '../../mesh/directory.js';
import type { Mesh } from '../../mesh/mesh.js';
import type { Forwarder } from './forwarder.js';

export class HolderLookup {
  readonly directory: EntityDirectory;

  constructor(
    private readonly mesh: Mesh,
    private readonly forwarder: Forwarder,
    holds: (id: string) => boolean,
  ) {
    this.directory = new EntityDirectory(mesh, { holds });
  }

  /** True when the member holding `id` answered the client; false when no member holds it. */
  async forwardToHolder(id: string, req: Request, res: Response): Promise<boolean> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const holder = await this.directory.locate(id);
      if (!holder || holder === this.mesh.key) return false;
      const answer = await this.forwarder.forward(holder, req);
      // The cached holder no longer has it (moved or deleted): look it up once more.
      if (answer.status === 404 && attempt === 0) {
        this.directory.forget(id);
        continue;
      }
      this.forwarder.send(res, answer);
      return true;
    }
    return false;
  }
}
