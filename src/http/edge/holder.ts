/** The holder lookup: an entity path is forwarded to the member that holds the entity (one hop once its location is cached). */
import type { Request, Response } from 'express';
import { EntityDirectory } from '../../mesh/directory.js';
import type { PresenceRecords } from '../../mesh/records/presence-records.js';
import { MeshError } from '../../mesh/errors.js';
import type { Mesh } from '../../mesh/mesh.js';
import { OcciError } from '../../occi/errors.js';
import type { Forwarder } from './forwarder.js';

export class HolderLookup {
  readonly directory: EntityDirectory;

  constructor(
    private readonly mesh: Mesh,
    private readonly forwarder: Forwarder,
    holds: (id: string) => boolean,
    holders?: PresenceRecords,
  ) {
    this.directory = new EntityDirectory(mesh, holders ? { holds, holders } : { holds });
  }

  /** True when the member holding `id` answered the client; false when no member holds it. */
  async forwardToHolder(id: string, req: Request, res: Response): Promise<boolean> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const holder = await locateHolder(this.directory, id);
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

/** The member holding `id`; 503 when the directory could not say (never a 404 for an unanswered lookup). */
export async function locateHolder(directory: EntityDirectory, id: string): Promise<string | undefined> {
  try {
    return await directory.locate(id);
  } catch (err) {
    if (err instanceof MeshError) throw OcciError.unavailable(`where ${id} is could not be learned: ${err.message}; try again`, err);
    throw err;
  }
}
