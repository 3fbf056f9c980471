import type { AttributeValue } from './attribute.js';
import type { Entity } from './entity.js';

/** Attributes the backend sets on an entity after acting (state, state message, placement…). */
export type AttributePatch = Record<string, AttributeValue>;

export interface BackendContext {
  /** Looks up a stored (or about-to-be-stored) entity by id. */
  entity(id: string): Entity | undefined;
  /** Links whose source is the resource with this id. */
  linksOf(id: string): Entity[];
  /** Whether the entity is held by another node (a link end a request here links to). */
  foreign?(id: string): boolean;
}

/**
 * What stands behind the OCCI layer: the effects of entity lifecycle on real infrastructure.
 * Each method runs after the OCCI layer validated the request and before it stores the result;
 * a method that throws refuses the request and nothing is stored.
 */
export interface Backend {
  /** One line for the logs: what this backend drives. */
  readonly description: string;
  created(entity: Entity, ctx: BackendContext): Promise<AttributePatch>;
  updated(before: Entity, after: Entity, ctx: BackendContext): Promise<AttributePatch>;
  /** `nextState` is the state the GFD.224 diagram leads to; the backend makes it true. */
  acted(entity: Entity, action: string, attributes: Record<string, AttributeValue>, nextState: string, ctx: BackendContext): Promise<AttributePatch>;
  deleted(entity: Entity, ctx: BackendContext): Promise<void>;
  /** The entity as the infrastructure currently sees it (reconciliation on read); undefined: unchanged. */
  observe?(entity: Entity): Promise<AttributePatch | undefined>;
  /** The last `lines` lines of a compute's serial console, where the infrastructure keeps one. */
  console?(compute: Entity, lines: number): Promise<string>;
}

/**
 * In-process backend that only keeps the entities' OCCI state: no hypervisor is called.
 * Used when a node runs without a hypervisor layer and by tests of the OCCI surface alone.
 */
export class StateOnlyBackend implements Backend {
  readonly description = 'state-only (no hypervisor is called)';
  async created(): Promise<AttributePatch> {
    return {};
  }
  async updated(): Promise<AttributePatch> {
    return {};
  }
  async acted(): Promise<AttributePatch> {
    return {};
  }
  async deleted(): Promise<void> {}
}
