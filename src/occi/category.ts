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
  /** Collection path, e.g. `/compute/`; absent for core#entity only (GFD.223 §2, GFD.226 §2.2.1). */
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

/** GFD.229 term syntax, which every rendering accepts and renders: `( ALPHA / DIGIT ) *( ALPHA / DIGIT / "-" / "_" / "." )`. */
export const TERM_PATTERN = '[A-Za-z0-9][A-Za-z0-9_.-]*';
export const TERM = new RegExp(`^${TERM_PATTERN}$`);
/** OCCI 1.1 (GFD.185) terms had no dot; its text clients (rOCCI-cli 4.3) cannot read one. */
export const OCCI_11_TERM = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

export function categoryId(c: { scheme: string; term: string }): string {
  return c.scheme + c.term;
}

/** The term of a category id (`scheme#term`). */
export function termOf(id: string): string {
  return id.slice(id.lastIndexOf('#') + 1);
}

/** Splits `scheme#term` at the last `#` (the scheme keeps its `#`). */
export function splitCategoryId(id: string): { scheme: string; term: string } | undefined {
  const hash = id.lastIndexOf('#');
  if (hash < 0 || hash === id.length - 1) return undefined;
  return { scheme: id.slice(0, hash + 1), term: id.slice(hash + 1) };
}
