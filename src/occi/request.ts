/**
 * What a request body says once parsed, whatever its rendering (JSON or text). Parsers produce
 * these; the service validates them against the registry.
 */
export interface EntityInput {
  kind?: string;
  mixins: string[];
  /** Raw attribute values as rendered; the service checks them against their definitions. */
  attributes: Record<string, unknown>;
  /** Inline links of a resource (JSON `links`, text `Link:` headers). */
  links: EntityInput[];
  /** Link ends as locations (also accepted as occi.core.source / occi.core.target attributes). */
  source?: string;
  target?: string;
}

export interface ActionInput {
  /** Action category id; when absent, the `?action=` term decides. */
  action?: string;
  attributes: Record<string, unknown>;
}

export interface MixinDefinitionInput {
  term: string;
  scheme: string;
  title?: string;
  depends: string[];
  applies: string[];
  location?: string;
  /** Attributes the mixin describes (JSON definitions), with the default each sets when it has one. */
  defaults?: Record<string, unknown>;
}

/** An entity named by its kind and id, as GFD.226 entity renderings name it (they carry no location). */
export interface EntityRef {
  kind: string;
  id: string;
}

/** Entities sent to a mixin collection (tagging): locations, or entity renderings of a collection. */
export interface LocationsInput {
  locations: Array<string | EntityRef>;
}

/** Who is asking: the tenant it acts for and whether it may see every tenant. */
export interface Principal {
  tenant: string;
  admin: boolean;
}

export const LOCAL_ADMIN: Principal = { tenant: 'default', admin: true };

/** Collection filtering: categories (any of) and attribute values (all of). */
export interface Filter {
  categories: string[];
  attributes: Record<string, string>;
}
