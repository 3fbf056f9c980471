import type { AttributeValue } from './attribute.js';

/** A stored OCCI entity (resource or link). Links keep source and target as attributes. */
export interface Entity {
  readonly id: string;
  readonly kind: string;
  readonly mixins: readonly string[];
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  /** The tenant that owns the entity. */
  readonly owner: string;
}

export const SOURCE = 'occi.core.source';
export const TARGET = 'occi.core.target';

export function entityLocation(kindLocation: string, id: string): string {
  return kindLocation + id;
}

export function linkEnds(e: Entity): { source: string; target: string } | undefined {
  const source = e.attributes[SOURCE];
  const target = e.attributes[TARGET];
  return typeof source === 'string' && typeof target === 'string' ? { source, target } : undefined;
}
