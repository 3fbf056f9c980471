/**
 * Mesh-wide collections and user mixins: every member's part, gathered with a deadline; who missed
 * it is said. Actions on a kind collection and its deletion reach every member the same way, each
 * acting on what it holds, with the principal verified again from the token it carries.
 */
import type { JsonValue, Mesh } from '../../mesh/mesh.js';
import type { Mixin } from '../../occi/category.js';
import type { Entity } from '../../occi/entity.js';
import type { Kind } from '../../occi/category.js';
import type { ActionInput, Filter, Principal } from '../../occi/request.js';
import type { OcciService } from '../../occi/service.js';
import type { MeshEdgeAuth } from '../auth/forwarded-principal.js';

const LIST_METHOD = 'occi/list';
const MIXINS_METHOD = 'occi/user-mixins';
const ACT_METHOD = 'occi/collection-action';
const DELETE_METHOD = 'occi/collection-delete';
export const DEFAULT_GATHER_DEADLINE_MS = 3000;
/** Acting on many entities (a graceful stop of each, deletions) takes longer than reading them. */
export const DEFAULT_WRITE_DEADLINE_MS = 30_000;

type Listed = Array<{ entity: Entity; links: Entity[] }>;

/** What the HTTP app asks of the mesh when it answers collections and the query interface. */
export interface MeshCollections {
  list(principal: Principal, path: string, filter: Filter): Promise<{ entries: Listed; missing: string[] }>;
  userMixins(principal: Principal): Promise<{ mixins: Mixin[]; missing: string[] }>;
  /** The action on every other member's entities of the kind collection: what they changed. */
  act(principal: Principal, path: string, term: string, action: ActionInput): Promise<{ entries: Listed; missing: string[] }>;
  /** Every other member's entities of the kind collection deleted. */
  deleteAll(principal: Principal, path: string): Promise<{ missing: string[] }>;
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
    const kindAt = (path: string): Kind | undefined => {
      const target = service.resolve(path);
      return target?.type === 'collection' && target.category.class === 'kind' ? target.category : undefined;
    };
    mesh.handle(ACT_METHOD, async (payload) => {
      const { path, term, action, principal: claimed } = payload as unknown as { path: string; term: string; action: ActionInput; principal: Principal };
      const principal = verified(claimed);
      const kind = kindAt(path);
      if (!kind) return [];
      const done = await service.actOnCollection(principal, kind, term, action);
      return done.map((entity) => ({ entity, links: service.core.linksOf(entity.id).filter((l) => service.visible(principal, l)) })) as unknown as JsonValue;
    });
    mesh.handle(DELETE_METHOD, async (payload) => {
      const { path, principal: claimed } = payload as unknown as { path: string; principal: Principal };
      const principal = verified(claimed);
      const kind = kindAt(path);
      return kind ? service.deleteCollection(principal, kind) : 0;
    });
  }

  async list(principal: Principal, path: string, filter: Filter) {
    const { replies, missing } = await this.mesh.gather<Listed>(
      LIST_METHOD,
      { path, filter, principal } as unknown as JsonValue,
      { deadlineMs: this.deadlineMs, includeSelf: false },
    );
    return { entries: replies.flatMap((r) => r.value), missing: missing.map((m) => m.name) };
  }

  async act(principal: Principal, path: string, term: string, action: ActionInput) {
    const { replies, missing } = await this.mesh.gather<Listed>(ACT_METHOD, { path, term, action, principal } as unknown as JsonValue, {
      deadlineMs: DEFAULT_WRITE_DEADLINE_MS,
      includeSelf: false,
    });
    return { entries: replies.flatMap((r) => r.value), missing: missing.map((m) => m.name) };
  }

  async deleteAll(principal: Principal, path: string) {
    const { missing } = await this.mesh.gather<number>(DELETE_METHOD, { path, principal } as unknown as JsonValue, { deadlineMs: DEFAULT_WRITE_DEADLINE_MS, includeSelf: false });
    return { missing: missing.map((m) => m.name) };
  }

  async userMixins(principal: Principal) {
    const { replies, missing } = await this.mesh.gather<Mixin[]>(MIXINS_METHOD, { principal } as unknown as JsonValue, {
      deadlineMs: this.deadlineMs,
      includeSelf: false,
    });
    return { mixins: replies.flatMap((r) => r.value), missing: missing.map((m) => m.name) };
  }
}
