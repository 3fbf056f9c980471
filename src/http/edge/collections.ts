/**
 * Mesh-wide collections and user mixins: every member's part, gathered with a deadline; who missed
 * it is said, a member this node has no connection to included (mesh-wide.ts). Actions on a kind
 * collection and its deletion reach every member the same way, each acting on what it holds, with
 * the principal verified again from the token it carries. A listing may be asked a page at a
 * time: entities in id order after a cursor, each member sending at most a page.
 */
import type { JsonValue, Mesh } from '../../mesh/mesh.js';
import type { Mixin } from '../../occi/category.js';
import type { Entity } from '../../occi/entity.js';
import type { Kind } from '../../occi/category.js';
import type { ActionInput, Filter, Principal } from '../../occi/request.js';
import type { OcciService } from '../../occi/service.js';
import type { MeshEdgeAuth } from '../auth/forwarded-principal.js';
import type { PresenceRecords } from '../../mesh/records/presence-records.js';
import { gatherMeshWide, handleMeshWide } from './mesh-wide.js';

const LIST_METHOD = 'occi/list';
const MIXINS_METHOD = 'occi/user-mixins';
const ACT_METHOD = 'occi/collection-action';
const DELETE_METHOD = 'occi/collection-delete';
export const DEFAULT_GATHER_DEADLINE_MS = 3000;
/** Acting on many entities (a graceful stop of each, deletions) takes longer than reading them. */
export const DEFAULT_WRITE_DEADLINE_MS = 30_000;

type Listed = Array<{ entity: Entity; links: Entity[] }>;

/** One page of a listing: the `limit` entities whose ids follow `after` (ids in ascending order). */
export interface Page {
  after: string;
  limit: number;
}

/** The page of `items` (by their entity's id) after `page.after`, and whether more follow it. */
export function pageOf<T extends { entity: { id: string } } | { id: string }>(items: readonly T[], page: Page): { items: T[]; more: boolean } {
  const id = (x: T): string => ('entity' in x ? x.entity.id : x.id);
  const after = items.filter((x) => id(x) > page.after).sort((a, b) => (id(a) < id(b) ? -1 : 1));
  return { items: after.slice(0, page.limit), more: after.length > page.limit };
}

/** What the HTTP app asks of the mesh when it answers collections and the query interface. */
export interface MeshCollections {
  /** Every other member's entities of the collection (with `page`, each member's page of them); `more`: some member has more. */
  list(principal: Principal, path: string, filter: Filter, page?: Page): Promise<{ entries: Listed; missing: string[]; more: boolean }>;
  userMixins(principal: Principal): Promise<{ mixins: Mixin[]; missing: string[] }>;
  /** The action on every other member's entities of the kind collection: what they changed. */
  act(principal: Principal, path: string, term: string, action: ActionInput): Promise<{ entries: Listed; missing: string[] }>;
  /** Every other member's entities of the kind collection deleted. */
  deleteAll(principal: Principal, path: string): Promise<{ missing: string[] }>;
  /** Resolves once what this node publishes on the ring directory (overlay mode) reached its keepers: a creation is acknowledged after it. */
  published?(): Promise<void>;
}

export class GatheredCollections implements MeshCollections {
  private readonly deadlineMs: number;

  /**
   * `tenants`: the ring directory's tenant records (overlay mode). A tenant's own listings,
   * collection actions and deletions then go to the nodes on record as holding some of its
   * entities, not to every member; an admin's still go to every member.
   */
  constructor(
    private readonly mesh: Mesh,
    service: OcciService,
    auth: MeshEdgeAuth | undefined,
    deadlineMs = DEFAULT_GATHER_DEADLINE_MS,
    private readonly tenants?: PresenceRecords,
  ) {
    this.deadlineMs = deadlineMs;
    const verified = (claimed: Principal) => (auth ? auth.gatherPrincipal(claimed) : claimed);
    handleMeshWide(mesh, LIST_METHOD, (payload) => {
      const { path, filter, principal: claimed, page } = payload as unknown as { path: string; filter: Filter; principal: Principal; page?: Page };
      const principal = verified(claimed);
      const target = service.resolve(path);
      const listed = target?.type === 'collection' ? service.listWithLinks(principal, target.category, filter) : [];
      if (!page) return listed;
      const { items, more } = pageOf(listed, page);
      return { entries: items, more };
    });
    handleMeshWide(mesh, MIXINS_METHOD, (payload) => service.userMixins(verified((payload as unknown as { principal: Principal }).principal)));
    const kindAt = (path: string): Kind | undefined => {
      const target = service.resolve(path);
      return target?.type === 'collection' && target.category.class === 'kind' ? target.category : undefined;
    };
    handleMeshWide(mesh, ACT_METHOD, async (payload) => {
      const { path, term, action, principal: claimed } = payload as unknown as { path: string; term: string; action: ActionInput; principal: Principal };
      const principal = verified(claimed);
      const kind = kindAt(path);
      if (!kind) return [];
      const done = await service.actOnCollection(principal, kind, term, action);
      return done.map((entity) => ({ entity, links: service.core.linksOf(entity.id).filter((l) => service.visible(principal, l)) }));
    });
    handleMeshWide(mesh, DELETE_METHOD, async (payload) => {
      const { path, principal: claimed } = payload as unknown as { path: string; principal: Principal };
      const principal = verified(claimed);
      const kind = kindAt(path);
      return kind ? service.deleteCollection(principal, kind) : 0;
    });
  }

  async list(principal: Principal, path: string, filter: Filter, page?: Page) {
    const payload = { path, filter, principal, ...(page ? { page } : {}) } as unknown as Record<string, JsonValue>;
    const { replies, missing } = await this.gatherFor<Listed | { entries: Listed; more: boolean }>(principal, LIST_METHOD, payload, this.deadlineMs);
    let more = false;
    const entries = replies.flatMap(({ value }) => {
      if (!page) return Array.isArray(value) ? value : value.entries;
      // A member of an earlier version sends all it has: paged here.
      const paged = Array.isArray(value) ? pageOf(value, page) : { items: value.entries, more: value.more };
      more ||= paged.more;
      return paged.items;
    });
    return { entries, missing, more };
  }

  async act(principal: Principal, path: string, term: string, action: ActionInput) {
    const payload = { path, term, action, principal } as unknown as Record<string, JsonValue>;
    const { replies, missing } = await this.gatherFor<Listed>(principal, ACT_METHOD, payload, DEFAULT_WRITE_DEADLINE_MS);
    return { entries: replies.flatMap((r) => r.value), missing };
  }

  async deleteAll(principal: Principal, path: string) {
    const payload = { path, principal } as unknown as Record<string, JsonValue>;
    const { missing } = await this.gatherFor<number>(principal, DELETE_METHOD, payload, DEFAULT_WRITE_DEADLINE_MS);
    return { missing };
  }

  /** The replies of the members that may hold the principal's entities (see the constructor), and the names of those that missed. */
  private async gatherFor<T>(principal: Principal, method: string, payload: Record<string, JsonValue>, deadlineMs: number): Promise<{ replies: Array<{ value: T }>; missing: string[] }> {
    const hosts = this.tenants && !principal.admin ? await this.tenants.who(principal.tenant) : undefined;
    // Keepers that do not answer: every member is asked, as without the ring.
    const { replies, missing } = hosts?.ok
      ? await this.mesh.gather<T>(method, payload, { deadlineMs, includeSelf: false, only: hosts.keys })
      : await gatherMeshWide<T>(this.mesh, method, payload, deadlineMs);
    return { replies, missing: missing.map((m) => m.name) };
  }

  async userMixins(principal: Principal) {
    const { replies, missing } = await gatherMeshWide<Mixin[]>(this.mesh, MIXINS_METHOD, { principal } as unknown as Record<string, JsonValue>, this.deadlineMs);
    return { mixins: replies.flatMap((r) => r.value), missing: missing.map((m) => m.name) };
  }
}
