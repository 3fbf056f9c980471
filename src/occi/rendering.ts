import type { Category } from './category.js';
import type { OcciError } from './errors.js';
import type { ActionInput, EntityInput, Filter, LocationsInput, MixinDefinitionInput } from './request.js';
import type { EntityView } from './view.js';

/** A request as a rendering sees it: text/occi carries OCCI lines in headers, the others in the body. */
export interface RequestMessage {
  body: string;
  /** Header names in lower case, as Node gives them. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Where the client reached the node (`http://host:port`): absolute URIs sent back must point there. */
  base?: string;
}

/** A rendered response: its body and any headers it carries (text/occi puts everything there). */
export interface Rendered {
  body: string;
  headers?: Record<string, string | string[]>;
}

/**
 * Where the client reached the node (`http://host:port`), for renderings whose clients expect
 * absolute URIs in locations (GFD.229 text: X-OCCI-Location, Location, text/uri-list).
 */
export interface RenderContext {
  base: string;
  /**
   * The client announced OCCI/1.1 (`User-Agent: … OCCI/1.1`): its term syntax has no dot, so
   * text renderings leave out the categories whose terms have one (rOCCI-cli 4.3 cannot read them).
   */
  occi11?: boolean;
}

/**
 * One OCCI rendering (GFD.226 JSON, GFD.229 text…), both directions. The HTTP layer picks one by
 * content negotiation and never looks inside.
 */
export interface Rendering {
  /** Media types this rendering answers in and accepts, the first being the one it declares. */
  readonly mediaTypes: readonly string[];
  /** Whether it can render whole entities (text/uri-list renders collections only). */
  readonly rendersEntities: boolean;
  categories(categories: Category[], ctx?: RenderContext): Rendered;
  entity(view: EntityView, ctx?: RenderContext): Rendered;
  collection(views: EntityView[], ctx?: RenderContext): Rendered;
  /** Answer to a creation: the new entity's location (and the entity where the rendering has room). */
  created(view: EntityView, ctx?: RenderContext): Rendered;
  error(status: number, err: OcciError): Rendered;

  parseEntity(msg: RequestMessage): EntityInput;
  /** A creation: one entity, or the entities of an entity collection (GFD.223 §4.3.1: then an array). */
  parseCreation(msg: RequestMessage): EntityInput | EntityInput[];
  parseAction(msg: RequestMessage): ActionInput;
  parseMixins(msg: RequestMessage): MixinDefinitionInput[];
  /** Ids of the mixins to delete through the query interface. */
  parseMixinIds(msg: RequestMessage): string[];
  parseLocations(msg: RequestMessage): LocationsInput;
  /** Filters carried in the request itself (text/occi Category and X-OCCI-Attribute headers). */
  parseFilter(msg: RequestMessage): Filter;
}
