/** What every OCCI operation handler is given and the small steps they share: the request's message, filters, and sending a rendering. */
import type { Request, Response } from 'express';
import type { Context } from 'openapi-backend';
import { categoryId, type Kind, type Mixin } from '../../occi/category.js';
import { isCoreKind } from '../../occi/core-model.js';
import { OcciError } from '../../occi/errors.js';
import type { RenderContext, Rendered, Rendering, RequestMessage } from '../../occi/rendering.js';
import type { Filter, Principal } from '../../occi/request.js';
import type { OcciService } from '../../occi/service.js';
import type { QuotaGate } from '../auth/quota.js';
import type { MeshCollections } from '../edge/collections.js';
import type { Negotiator } from '../negotiation.js';
import { clientOcciVersion } from '../occi-protocol.js';
import { requestBase } from '../limits.js';

/** One request as openapi-backend hands it to a handler. */
export interface Exchange {
  req: Request;
  res: Response;
  principal: Principal;
}

/** What the handlers act through. */
export interface HandlerDeps {
  service: OcciService;
  negotiator: Negotiator;
  /** The mesh's collections and user mixins, when the node belongs to a mesh. */
  mesh: MeshCollections | undefined;
  quotas: QuotaGate;
}

export function message(req: Request): RequestMessage {
  return { body: typeof req.body === 'string' ? req.body : '', headers: req.headers, base: baseOf(req) };
}

export function send(res: Response, status: number, mediaType: string, rendered: Rendered): void {
  res.status(status);
  for (const [k, v] of Object.entries(rendered.headers ?? {})) res.setHeader(k, v);
  res.setHeader('Content-Type', `${mediaType}; charset=utf-8`);
  res.send(rendered.body);
}

export function sendOk(res: Response): void {
  res.status(200).end();
}

/** Where the client reached this node (`http://host:port`): the public URL, or a checked Host (limits.ts). */
function baseOf(req: Request): string {
  return requestBase(req);
}

/** Where the client reached this node, for renderings that answer with absolute URIs, and whether it is an OCCI 1.1 client. */
export function renderContext(req: Request): RenderContext {
  return { base: baseOf(req), ...(clientOcciVersion(req) === '1.1' ? { occi11: true } : {}) };
}

/** The filter of a collection request: the rendering's (Category/X-OCCI-Attribute headers) plus `?category=` and `?attribute=`. */
export function listFilter(req: Request, rendering: Rendering): Filter {
  const fromHeaders = rendering.parseFilter(message(req));
  const q = req.query as Record<string, string | string[] | undefined>;
  const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  const attributes = { ...fromHeaders.attributes };
  for (const a of list(q['attribute'])) {
    const eq = a.indexOf('=');
    attributes[a.slice(0, eq)] = a.slice(eq + 1);
  }
  return { categories: [...fromHeaders.categories, ...list(q['category'])], attributes };
}

/** The kind or mixin of a collection path (404 otherwise). */
export function collectionOf(service: OcciService, c: Context): Kind | Mixin {
  const target = service.resolve(c.request.path);
  if (target?.type !== 'collection') throw OcciError.notFound(c.request.path);
  return target.category;
}

/**
 * The collection of a request that changes it: the core kinds' collections (every resource, every
 * link) are listed only; their entities change through their own kinds (405 with Allow: GET).
 */
export function changedCollectionOf(service: OcciService, c: Context): Kind | Mixin {
  const category = collectionOf(service, c);
  if (category.class === 'kind' && isCoreKind(categoryId(category))) throw OcciError.methodNotAllowed(c.request.method.toUpperCase(), c.request.path, ['GET']);
  return category;
}

/** The kind and id of an entity path (404 otherwise). */
export function entityOf(service: OcciService, c: Context): { kind: Kind; id: string } {
  const target = service.resolve(c.request.path);
  if (target?.type !== 'entity') throw OcciError.notFound(c.request.path);
  return target;
}

/** The `?action=` term, when the request triggers an action. */
export function actionTerm(c: Context): string | undefined {
  return (c.request.query['action'] as string | undefined) ?? undefined;
}
