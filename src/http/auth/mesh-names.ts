/**
 * Who holds an entity id or a user mixin's identity anywhere in the mesh, asked so that the cost
 * and the answer do not depend on whether a caller who may not see it asks:
 * - `owner(principal, id)`: every member is asked (`auth/owner`: the owner and kind of the id if
 *   it holds it) unless the caller may see the entity and its owner is known from an earlier
 *   answer (then the holder lookup's own cache finds it). An id another tenant holds therefore costs what an absent id costs — one scatter-gather —
 *   and is answered like it by the edge (404), here or wherever it is held; when a member does not
 *   answer and none that did holds it, the answer is 503, never a 404 the mesh cannot vouch for.
 *   In overlay mode the holder records of the ring directory say each entity's owner and kind:
 *   one lookup of bounded hops instead of asking every member, and it costs the same whether the
 *   id is held, hidden or absent;
 * - `mixinsTaken(ids, locations)`: user mixin identities (scheme and term) and locations are
 *   unique in the whole mesh (`auth/mixin-taken`), so that no tenant shadows another's on some node.
 * Why the edge answers for hidden ids instead of forwarding them: docs/security.md (existence probes).
 *
 * @example
 *   const names = new MeshNames(mesh, service);
 *   const where = await names.owner(principal, id); // 'absent' | 'hidden' | { holder, kind } | 'here'
 */
import { LRUCache } from 'lru-cache';
import type { Mesh } from '../../mesh/mesh.js';
import type { Principal } from '../../occi/request.js';
import { OcciError } from '../../occi/errors.js';
import type { OcciService } from '../../occi/service.js';
import { objectSchema, STRING } from '../../mesh/rpc-codecs.js';
import { heldEntity, type PresenceRecords } from '../../mesh/records/presence-records.js';

export const OWNER_METHOD = 'auth/owner';
export const MIXIN_TAKEN_METHOD = 'auth/mixin-taken';
export const DEFAULT_NAMES_DEADLINE_MS = 2000;
const OWNERS_CACHED = 100_000;

/** Where an id is, as far as the caller may know. */
export type Whereabouts = 'here' | 'absent' | 'hidden' | { holder?: string; kind: string };

export class MeshNames {
  /** Owners of ids other members hold, learnt from their answers (an owner never changes). */
  private readonly owners = new LRUCache<string, { owner: string; kind: string }>({ max: OWNERS_CACHED });

  private readonly deadlineMs: number;

  /**
   * `holders`: the holder records of the ring directory (overlay mode). Where an id is, and its
   * owner, are then read there: one lookup, whether the id is held, hidden or absent.
   */
  constructor(
    private readonly mesh: Mesh,
    private readonly service: OcciService,
    private readonly opts: { deadlineMs?: number; holders?: PresenceRecords } = {},
  ) {
    this.deadlineMs = opts.deadlineMs ?? DEFAULT_NAMES_DEADLINE_MS;
    mesh.handle(
      OWNER_METHOD,
      (payload) => {
        const e = service.core.store.get((payload as { id: string }).id.toLowerCase());
        return e ? { owner: e.owner ?? null, kind: e.kind } : null;
      },
      objectSchema({ id: STRING }),
    );
    mesh.handle(MIXIN_TAKEN_METHOD, (payload) => {
      const { ids, locations } = (payload ?? {}) as { ids?: unknown; locations?: unknown };
      const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').slice(0, 1024) : []);
      return {
        ids: list(ids).filter((id) => service.registry.get(id) !== undefined),
        locations: list(locations).filter((l) => service.registry.atLocation(l) !== undefined),
      };
    });
  }

  /** Where the entity with this id is, for this principal; see the module comment. */
  async owner(principal: Principal, id: string): Promise<Whereabouts> {
    const here = this.service.core.store.get(id);
    if (here && this.service.visible(principal, here)) return 'here';
    const known = here ? undefined : this.owners.get(id);
    // The caller may see it: no secret to keep, the holder lookup's cache finds it (one hop).
    if (known && sees(principal, known.owner)) return { kind: known.kind };
    // Asked of every member whatever the answer will be: hidden costs what absent costs.
    const { found, missing } = await this.ask(id);
    if (here) return 'hidden';
    // Nobody that answered has it, but some did not answer: absent is not known, and not said.
    if (!found && missing.length > 0) {
      throw OcciError.unavailable(this.opts.holders ? `the ring directory did not answer where ${id} is: try again` : `no member that answered holds ${id}, and ${missing.length} did not answer in time (${missing.slice(0, 3).join(', ')}): try again`);
    }
    if (!found) return 'absent';
    this.owners.set(id, { owner: found.owner, kind: found.kind });
    return sees(principal, found.owner) ? { holder: found.holder, kind: found.kind } : 'hidden';
  }

  /** The user mixin identities and locations among these that some member already has. */
  async mixinsTaken(ids: string[], locations: string[]): Promise<{ ids: string[]; locations: string[] }> {
    const { replies } = await this.mesh.gather<{ ids: string[]; locations: string[] }>(MIXIN_TAKEN_METHOD, { ids, locations }, { deadlineMs: this.deadlineMs, includeSelf: false });
    return { ids: [...new Set(replies.flatMap((r) => r.value?.ids ?? []))], locations: [...new Set(replies.flatMap((r) => r.value?.locations ?? []))] };
  }

  /** The member that has one of these user mixins, by identity or location (a mixin lives on the node it was created on). */
  async mixinHolder(ids: string[], locations: string[] = []): Promise<string | undefined> {
    const { replies } = await this.mesh.gather<{ ids: string[]; locations: string[] }>(MIXIN_TAKEN_METHOD, { ids, locations }, { deadlineMs: this.deadlineMs, includeSelf: false });
    return replies.find((r) => (r.value?.ids.length ?? 0) + (r.value?.locations.length ?? 0) > 0)?.key;
  }

  private async ask(id: string): Promise<{ found?: { holder: string; owner: string; kind: string }; missing: string[] }> {
    if (this.opts.holders) {
      // Read at every keeper at once: the same time whether the id is held or absent.
      const { ok, records } = await this.opts.holders.everywhere(id);
      const hit = records
        .filter((r) => r.by !== this.mesh.key)
        .map((r) => ({ holder: r.by, entity: heldEntity(r.value) }))
        .find((r) => r.entity);
      return { found: hit ? { holder: hit.holder, ...hit.entity! } : undefined, missing: ok ? [] : ['the ring directory'] };
    }
    const { replies, missing } = await this.mesh.gather<{ owner: string | null; kind: string } | null>(OWNER_METHOD, { id }, { deadlineMs: this.deadlineMs, includeSelf: false });
    const hit = replies.find((r) => r.value && typeof r.value.kind === 'string');
    return { found: hit ? { holder: hit.key, owner: hit.value!.owner ?? '', kind: hit.value!.kind } : undefined, missing: missing.map((m) => m.name) };
  }
}

function sees(principal: Principal, owner: string): boolean {
  return principal.admin || owner === principal.tenant;
}
