/**
 * Links across the mesh: a link is created on the node that holds its source (the compute whose
 * device it is), and the ends that other members hold are fetched for that request, so that the
 * service validates them and the backend sees them (a network is then realised on this host too).
 * A storage joins computes on its own node only (its volume is a file on that host): a link to a
 * storage held elsewhere is a conflict that says where each one is, which the router resolves by
 * moving the compute to the storage's node when its placement allows (router.ts).
 */
import { LRUCache } from 'lru-cache';
import type { EntityDirectory } from '../../mesh/directory.js';
import type { JsonValue, Mesh } from '../../mesh/mesh.js';
import { type Entity, SOURCE, TARGET } from '../../occi/entity.js';
import { OcciError } from '../../occi/errors.js';
import { STORAGE } from '../../occi/infrastructure-model.js';
import type { EntityInput, Principal } from '../../occi/request.js';
import type { OcciService } from '../../occi/service.js';
import type { MeshEdgeAuth } from '../auth/forwarded-principal.js';
import { carried } from '../auth/authenticate.js';
import { locateHolder } from './holder.js';

const ENTITY_METHOD = 'occi/entity';
/** Long enough for the request that links it; a foreign end is never kept as state. */
const FOREIGN_TTL_MS = 60_000;
const FOREIGN_MAX = 10_000;
const FETCH_TIMEOUT_MS = 5000;

/** The source location of a link input, when it names one. */
export function sourceOf(input: EntityInput): string | undefined {
  const s = input.source ?? input.attributes[SOURCE];
  return typeof s === 'string' ? s : undefined;
}

/** A location as a path: absolute URIs (which the text renderings hand out) lose their origin. */
export function pathOf(location: string): string {
  return location.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]+/i, '');
}

/** The targets of a resource's inline links. */
export function inlineTargets(input: EntityInput): string[] {
  return input.links.map((l) => l.target ?? l.attributes[TARGET]).filter((t): t is string => typeof t === 'string' && t !== '');
}

/** Every link end an input names: its own (a link), and its inline links' targets (a resource). */
function endsOf(input: EntityInput): string[] {
  const ends = [sourceOf(input), input.target ?? input.attributes[TARGET]].filter((e): e is string => typeof e === 'string' && e !== '');
  return [...ends, ...inlineTargets(input)];
}

/** A link to a storage another member holds: a storage links to computes on its own node (409). */
export class StorageElsewhere extends OcciError {
  constructor(
    message: string,
    /** The member holding the storage. */
    readonly holder: string,
  ) {
    super('CONFLICT', message);
  }
}

export class LinkEnds {
  private readonly foreign = new LRUCache<string, Entity>({ max: FOREIGN_MAX, ttl: FOREIGN_TTL_MS });

  constructor(
    private readonly mesh: Mesh,
    private readonly service: OcciService,
    private readonly directory: EntityDirectory,
    auth: MeshEdgeAuth | undefined,
  ) {
    const verified = (claimed: Principal) => (auth ? auth.gatherPrincipal(claimed) : claimed);
    mesh.handle(ENTITY_METHOD, (payload) => {
      const { location, principal: claimed } = payload as unknown as { location: string; principal: Principal };
      const principal = verified(claimed);
      const e = service.entityAt(location);
      return (e && service.visible(principal, e) ? e : null) as unknown as JsonValue;
    });
  }

  /** A resource another member holds, fetched for a request here that links to it. */
  get(id: string): Entity | undefined {
    return this.foreign.get(id);
  }

  /**
   * Fetches the ends of `input` that other members hold, so that serving it here sees them. An
   * end no member holds is left to the service (it answers that there is no resource there).
   */
  async fetch(input: EntityInput, principal: Principal): Promise<void> {
    for (const location of endsOf(input)) {
      const target = this.service.resolve(pathOf(location));
      if (target?.type !== 'entity' || this.service.holds(target.id.toLowerCase())) continue;
      const id = target.id.toLowerCase();
      const holder = await locateHolder(this.directory, id);
      if (!holder || holder === this.mesh.key) continue;
      const entity = await this.mesh
        .request<Entity | null>(holder, ENTITY_METHOD, { location: `${target.kind.location}${id}`, principal: carried(principal) } as unknown as JsonValue, { timeoutMs: FETCH_TIMEOUT_MS })
        .catch((err: unknown) => {
          throw OcciError.unavailable(`the member holding ${location} could not be asked for it`, err);
        });
      if (!entity) continue;
      if (entity.kind === STORAGE && location !== sourceOf(input)) {
        const name = this.mesh.member(holder)?.name ?? holder.slice(0, 8);
        throw new StorageElsewhere(`${location} is held by ${name}, not by ${this.mesh.self().name}: a storage links to computes on its own node (create it there, e.g. with the locality mixin near ${name})`, holder);
      }
      this.foreign.set(entity.id, entity);
    }
  }
}
