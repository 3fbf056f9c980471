/** Mesh-wide collections and user mixins: every member's part, gathered with a deadline; who missed it is said. */
import type { JsonValue, Mesh } from '../../mesh/mesh.js';
import type { Mixin } from '../../occi/category.js';
import type { Entity } from '../../occi/entity.js';
import type { Filter, Principal } from '../../occi/request.js';
import type { OcciService } from '../../occi/service.js';
import type { MeshEdgeAuth } from '../auth/forwarded-principal.js';

const LIST_METHOD = 'occi/list';
const MIXINS_METHOD = 'occi/user-mixins';
export const DEFAULT_GATHER_DEADLINE_MS = 3000;

/** What the HTTP app asks of the mesh when it answers collections and the query interface. */
export interface MeshCollections {
  list(principal: Principal, path: string, filter: Filter): Promise<{ entries: Array<{ entity: Entity; links: Entity[] }>; missing: string[] }>;
  userMixins(principal: Principal): Promise<{ mixins: Mixin[]; missing: string[] }>;
}

export class GatheredCollections implements MeshCollections {
  private readonly deadlineMs: number;

  constructor(
    private readonly mesh: Mesh,
    service: OcciService,
    auth: MeshEdgeAuth | undefined,
    deadlineMs = DEFAULT_GATHER_DEADLINE_MS,
  ) {
    this.deadlineMs = deadlineMs;
    const verified = (claimed: Principal) => (auth ? auth.gatherPrincipal(claimed) : claimed);
    mesh.handle(LIST_METHOD, (payload) => {
      const { path, filter, principal: claimed } = payload as unknown as { path: string; filter: Filter; principal: Principal };
      const principal = verified(claimed);
      const target = service.resolve(path);
      if (target?.type !== 'collection') return [];
      return service.listWithLinks(principal, target.category, filter) as unknown as JsonValue;
    });
    mesh.handle(MIXINS_METHOD, (payload) => service.userMixins(verified((payload as unknown as { principal: Principal }).principal)) as unknown as JsonValue);
  }

  async list(principal: Principal, path: string, filter: Filter) {
    const { replies, missing } = await this.mesh.gather<Array<{ entity: Entity; links: Entity[] }>>(
      LIST_METHOD,
      { path, filter, principal } as unknown as JsonValue,
      { deadlineMs: this.deadlineMs, includeSelf: false },
    );
    return { entries: replies.flatMap((r) => r.value), missing: missing.map((m) => m.name) };
  }

  async userMixins(principal: Principal) {
    const { replies, missing } = await this.mesh.gather<Mixin[]>(MIXINS_METHOD, { principal } as unknown as JsonValue, {
      deadlineMs: this.deadlineMs,
      includeSelf: false,
    });
    return { mixins: replies.flatMap((r) => r.value), missing: missing.map((m) => m.name) };
  }
}
