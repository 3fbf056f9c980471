/** Admission at the edge: a compute created here is served here when it fits, else placed by a partition and created on the chosen node. */
import type { Request, Response } from 'express';
import type { Mesh } from '../../mesh/mesh.js';
import type { Cloud } from '../../cloud/lrt.js';
import { categoryId, type Kind } from '../../occi/category.js';
import { STORAGE } from '../../occi/infrastructure-model.js';
import { type EntityInput, LOCAL_ADMIN, type Principal } from '../../occi/request.js';
import type { OcciService } from '../../occi/service.js';
import type { Forwarder } from './forwarder.js';
import { ADMITTED_HEADER } from './headers.js';
import { inlineTargets, pathOf } from './link-ends.js';
import type { LocalityRanking } from './locality.js';

export type ParseCreation = (req: Request) => EntityInput | undefined;

export class EdgeAdmission {
  constructor(
    private readonly mesh: Mesh,
    private readonly service: OcciService,
    private readonly cloud: Cloud,
    private readonly forwarder: Forwarder,
    private readonly locality: LocalityRanking,
  ) {}

  /**
   * True when the answer went to the client already (created elsewhere). False: the request is
   * served here, re-addressed to the id its capacity was held for, or left to the service when it
   * would refuse it (it answers the error).
   */
  async admit(kind: Kind, req: Request, res: Response, parseCreation: ParseCreation, id?: string): Promise<boolean> {
    const principal = (res.locals['principal'] as Principal | undefined) ?? LOCAL_ADMIN;
    const input = safely(() => parseCreation(req));
    const compute = input && safely(() => this.service.preview(principal, kind, input, id));
    if (!compute) return false;
    // Linked to a storage held here: the compute stays here, where its disk can be attached.
    const allowed = this.linksLocalStorage(input) ? [this.mesh.key] : this.locality.withinMaxRtt(input.attributes, input.mixins);
    const admission = await this.cloud.admit(compute, async (claimant) => {
      const placed = { method: 'PUT', path: `${kind.location}${compute.id}`, extraHeaders: { [ADMITTED_HEADER]: compute.id } };
      const answer = claimant === this.mesh.key ? await this.forwarder.serveLocally(this.forwarder.asForwarded(req, placed)) : await this.forwarder.forward(claimant, req, true, placed);
      this.forwarder.send(res, answer);
      return answer.status;
    }, allowed);
    if (admission.where === 'elsewhere') return true;
    res.once('close', admission.release);
    // Served here at the id the capacity was held for: a POST becomes the PUT of that id.
    if (id === undefined && !this.service.holds(compute.id)) {
      const query = req.url.indexOf('?');
      req.url = `${kind.location}${compute.id}${query >= 0 ? req.url.slice(query) : ''}`;
      req.method = 'PUT';
    }
    return false;
  }

  private linksLocalStorage(input: EntityInput): boolean {
    return inlineTargets(input).some((location) => {
      const target = this.service.resolve(pathOf(location));
      return target?.type === 'entity' && categoryId(target.kind) === STORAGE && this.service.holds(target.id.toLowerCase());
    });
  }
}

/** The value, or undefined when computing it throws (the local handler answers the parse error itself). */
export function safely<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}
