import type { Principal } from '../../occi/request.js';
import type { OcciService } from '../../occi/service.js';

/**
 * Whether an entity with this id exists here but belongs to a tenant the principal cannot see.
 * A PUT at such an id answers 404 as for any other unseen entity, instead of the service's 409
 * "id already in use", which would tell another tenant that the id exists.
 */
export function heldByAnotherTenant(service: OcciService, principal: Principal, id: string): boolean {
  if (principal.admin || !service.holds(id.toLowerCase())) return false;
  for (const c of service.registry.all()) {
    if (c.class !== 'kind' || !c.location) continue;
    const e = service.entityAt(`${c.location}${id.toLowerCase()}`);
    if (e) return !service.visible(principal, e);
  }
  return false;
}
