/** What the renderings are given of an entity: the entity with its kind, mixins, location, actions and links. */
import type { Kind, Mixin } from './category.js';
import type { Entity } from './entity.js';

/** An entity with everything its renderings need. */
export interface EntityView {
  entity: Entity;
  location: string;
  kind: Kind;
  mixins: Mixin[];
  /** Actions applicable in the entity's current state. */
  actions: string[];
  /** For resources: the links whose source it is. */
  links: EntityView[];
  /** For links: the kinds of the ends, when known. */
  sourceKind?: string;
  targetKind?: string;
}
