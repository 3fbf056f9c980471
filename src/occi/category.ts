import type { AttributeDefinition } from './attribute.js';

/** GFD.221 Category: identified by scheme + term. */
export interface CategoryBase {
  readonly term: string;
  readonly scheme: string;
  readonly title?: string;
  /** Attributes defined by this category itself (not inherited). */
  readonly attributes: readonly AttributeDefinition[];
}

export interface Action extends CategoryBase {
  readonly class: 'action';
}

export interface Kind extends CategoryBase {
  readonly class: 'kind';
  readonly parent?: string;
  /** Collection path, e.g. `/compute/`; absent for abstract kinds (entity, resource, link). */
  readonly location?: string;
  readonly actions: readonly string[];
}

export interface Mixin extends CategoryBase {
  readonly class: 'mixin';
  readonly depends: readonly string[];
  readonly applies: readonly string[];
  readonly location?: string;
  readonly actions: readonly string[];
  /** Defaults this mixin sets on the entities it is applied to (templates). */
  readonly defaults?: Readonly<Record<string, string | number | boolean>>;
  /** Created through the query interface (a tag); deletable, owned by a tenant. */
  readonly user?: boolean;
  readonly owner?: string;
}

export type Category = Kind | Mixin | Action;

export function categoryId(c: { scheme: string; term: string }): string {
  return c.scheme + c.term;
}

/** Splits `scheme#term` at the last `#` (the scheme keeps its `#`). */
export function splitCategoryId(id: string): { scheme: string; term: string } | undefined {
  const hash = id.lastIndexOf('#');
  if (hash < 0 || hash === id.length - 1) return undefined;
  return { scheme: id.slice(0, hash + 1), term: id.slice(hash + 1) };
}
