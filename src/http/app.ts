import express, { type NextFunction, type Request, type Response } from 'express';
import type { Context, OpenAPIBackend } from 'openapi-backend';
import type { Logger } from 'pino';
import type { Kind, Mixin } from '../occi/category.js';
import { OcciError } from '../occi/errors.js';
import type { RenderContext, Rendered, Rendering, RequestMessage } from '../occi/rendering.js';
import { renderings as defaultRenderings } from '../occi/renderings.js';
import type { Filter, Principal } from '../occi/request.js';
import type { OcciService } from '../occi/service.js';
import { ERROR_STATUS } from './error-status.js';
import { Negotiator } from './negotiation.js';
import { type AuditLog, auditTrail } from './audit-log.js';
import { handlerTimeout, headerCountLimit, type Limits, withInputLimits } from './limits.js';
import { rateLimit, type RateLimitOptions } from './rate-limit.js';
import { securityHeaders } from './security-headers.js';
import { PARTIAL_HEADER } from './edge/headers.js';
import type { MeshEdge } from './edge/router.js';
import { adminHandlers } from './auth/admin.js';
import { carried } from './auth/authenticate.js';
import type { NodeAuth } from './auth/node-auth.js';
import type { QuotaGate } from './auth/quota.js';
import { heldByAnotherTenant } from './auth/tenancy.js';
import { allowedMethods, createOpenApiBackend } from './openapi-router.js';
import { type NodeControl, nodeAdminHandlers } from './node-admin.js';

export interface AppOptions {
  service: OcciService;
  logger: Logger;
  renderings?: readonly Rendering[];
  /** Largest request body accepted, in bytes. */
  bodyLimit?: number;
  /** The mesh this node belongs to: requests are then served where they belong. */
  mesh?: MeshEdge;
  /** Request limits (limits.ts `resolveLimits`); header size and timeouts go to the server. */
  limits?: Limits;
  /** Per-token (else per-address) token buckets; off when absent or false. */
  rateLimit?: RateLimitOptions | false;
  /** Where mutating requests are audited, and the node name written there. */
  audit?: { log: AuditLog; node: string };
  /** The node serves HTTPS: Strict-Transport-Security on every answer. */
  tls?: boolean;
  /** Authentication (`mode: 'token'` or `'none'`), tenants' quotas, admin endpoints: src/http/auth/. */
  auth: NodeAuth;
  /** The operator's view and drain of this node (node-admin.ts). */
  node?: NodeControl;
}

const DEFAULT_BODY_LIMIT = 1024 * 1024;

interface Exchange {
  req: Request;
  res: Response;
  principal: Principal;
}

/**
 * The OCCI HTTP surface (GFD.223) of a node: express for the transport, openapi-backend for
 * routing and parameter validation, the negotiated rendering for bodies, OcciService behind.
 *
 * @example
 *   const app = await createApp({ service, logger });
 *   app.listen(8080);
 */
export async function createApp(opts: AppOptions): Promise<express.Express> {
  const { service, logger } = opts;
  const limits = opts.limits;
  const renderings = opts.renderings ?? defaultRenderings;
  const negotiator = new Negotiator(limits ? renderings.map((r) => withInputLimits(r, limits)) : renderings);
  const api = await createOpenApiBackend();
  const handlers = operationHandlers(service, negotiator, opts.mesh, opts.auth.quotas);
  api.register(handlers);
  api.register(adminHandlers(opts.auth));
  api.register(nodeAdminHandlers(opts.node));
  api.register({
    notFound: (c: Context) => {
      throw OcciError.notFound(c.request.path);
    },
    methodNotAllowed: (c: Context) => {
      throw OcciError.methodNotAllowed(c.request.method.toUpperCase(), c.request.path, allowedMethods(api, c.request.path));
    },
    validationFail: (c: Context) => {
      const e = c.validation.errors?.[0];
      const where = e?.instancePath.replace(/^\//, '').replace('/', ' parameter ') ?? 'request';
      throw OcciError.badRequest(`${where} ${e?.message ?? 'is invalid'}`);
    },
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // First, so that every answer (errors and relayed ones included) carries them and is audited.
  app.use(securityHeaders({ hsts: opts.tls ?? false }));
  if (opts.audit) app.use(auditTrail({ ...opts.audit, logger, isLocalToken: (t) => opts.mesh?.isLocalToken(t) ?? false }));
  if (limits) app.use(headerCountLimit(limits), handlerTimeout(limits, logger));
  app.use(express.text({ type: () => true, limit: opts.bodyLimit ?? limits?.bodyBytes ?? DEFAULT_BODY_LIMIT, defaultCharset: 'utf-8' }));
  app.use(opts.auth.middleware());
  // After authentication: keyed by the request's token (by its address without one).
  if (opts.rateLimit) app.use(rateLimit(opts.rateLimit));
  if (opts.node) app.use(opts.node.gate());
  if (opts.mesh) app.use(opts.mesh.middleware((req) => negotiator.request(req).parseEntity(message(req))));
  app.use((req: Request, res: Response, next: NextFunction) => {
    route(api, service, req, res, res.locals['principal'] as Principal).catch(next);
  });
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    sendError(negotiator, req, res, asOcciError(err, req, logger));
  });
  return app;
}

async function route(api: OpenAPIBackend, service: OcciService, req: Request, res: Response, principal: Principal): Promise<void> {
  const method = req.method === 'HEAD' ? 'get' : req.method.toLowerCase();
  // The document declares no header parameters and bodies are parsed by the negotiated
  // rendering, so neither is handed to openapi-backend (it would parse them twice per request).
  await api.handleRequest({ method, path: canonicalPath(service, req.path), query: req.query as Record<string, string | string[]>, headers: {} }, { req, res, principal } satisfies Exchange);
}

/** Collections answer with and without their trailing slash. */
function canonicalPath(service: OcciService, path: string): string {
  if (path.endsWith('/')) return path;
  const target = service.resolve(path);
  return target?.type === 'collection' || path === '/-' || path === '/.well-known/org/ogf/occi/-' ? `${path}/` : path;
}

function message(req: Request): RequestMessage {
  return { body: typeof req.body === 'string' ? req.body : '', headers: req.headers };
}

function send(res: Response, status: number, mediaType: string, rendered: Rendered): void {
  res.status(status);
  for (const [k, v] of Object.entries(rendered.headers ?? {})) res.setHeader(k, v);
  res.setHeader('Content-Type', `${mediaType}; charset=utf-8`);
  res.send(rendered.body);
}

/** Where the client reached this node, for renderings that answer with absolute URIs. */
function renderContext(req: Request): RenderContext {
  return { base: `${req.protocol}://${req.get('host') ?? 'localhost'}` };
}

function sendOk(res: Response): void {
  res.status(200).end();
}

function listFilter(req: Request, rendering: Rendering): Filter {
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

function operationHandlers(service: OcciService, negotiator: Negotiator, mesh: MeshEdge | undefined, quotas: QuotaGate) {
  const collection = (c: Context): Kind | Mixin => {
    const target = service.resolve(c.request.path);
    if (target?.type !== 'collection') throw OcciError.notFound(c.request.path);
    return target.category;
  };
  const entityTarget = (c: Context) => {
    const target = service.resolve(c.request.path);
    if (target?.type !== 'entity') throw OcciError.notFound(c.request.path);
    return target;
  };
  const actionTerm = (c: Context) => (c.request.query['action'] as string | undefined) ?? undefined;

  const queryCategories = async (_c: Context, { req, res, principal }: Exchange) => {
    const { rendering, mediaType } = negotiator.response(req, false);
    const filter = listFilter(req, rendering);
    let categories = service.categories(principal, filter.categories);
    if (mesh && filter.categories.length === 0) {
      // User mixins live where they were created; the query interface shows the mesh's.
      const remote = await mesh.userMixins(carried(principal));
      const known = new Set(categories.map((c) => c.scheme + c.term));
      categories = [...categories, ...remote.mixins.filter((m) => !known.has(m.scheme + m.term) && known.add(m.scheme + m.term))];
      if (remote.missing.length) res.setHeader(PARTIAL_HEADER, remote.missing.join(', '));
    }
    send(res, 200, mediaType, rendering.categories(categories));
  };
  const createMixins = async (_c: Context, { req, res, principal }: Exchange) => {
    const { rendering, mediaType } = negotiator.response(req, false);
    const created = await service.addUserMixins(principal, negotiator.request(req).parseMixins(message(req)));
    send(res, 200, mediaType, rendering.categories(created));
  };
  const deleteMixins = async (_c: Context, { req, res, principal }: Exchange) => {
    negotiator.response(req, false);
    await service.removeUserMixins(principal, negotiator.request(req).parseMixinIds(message(req)));
    sendOk(res);
  };

  const listCollection = async (c: Context, { req, res, principal }: Exchange) => {
    const { rendering, mediaType } = negotiator.response(req, false);
    const filter = listFilter(req, rendering);
    const views = service.list(principal, collection(c), filter).map((e) => service.view(principal, e));
    if (mesh) {
      // Every member's part of the collection, gathered with a deadline; who missed it is said.
      const remote = await mesh.list(carried(principal), c.request.path, filter);
      const seen = new Set(views.map((v) => v.entity.id));
      // A compute moving between two members may be in both replies for an instant: listed once.
      for (const { entity, links } of remote.entries) {
        if (seen.has(entity.id) || !service.registry.kind(entity.kind)) continue;
        seen.add(entity.id);
        views.push(service.view(principal, entity, links));
      }
      if (remote.missing.length) res.setHeader(PARTIAL_HEADER, remote.missing.join(', '));
    }
    send(res, 200, mediaType, rendering.collection(views, renderContext(req)));
  };
  const postCollection = async (c: Context, { req, res, principal }: Exchange) => {
    const category = collection(c);
    const term = actionTerm(c);
    // Tagging and collection actions answer with a collection, which every rendering can render.
    const { rendering, mediaType } = negotiator.response(req, category.class === 'kind' && !term);
    const input = negotiator.request(req);
    if (category.class === 'mixin') {
      if (term) throw OcciError.badRequest('actions are triggered on kind collections and entities, not on mixin collections');
      const members = await service.tag(principal, category, input.parseLocations(message(req)), false);
      send(res, 200, mediaType, rendering.collection(members.map((e) => service.view(principal, e)), renderContext(req)));
      return;
    }
    if (term) {
      const done = await service.actOnCollection(principal, category, term, input.parseAction(message(req)));
      send(res, 200, mediaType, rendering.collection(done.map((e) => service.view(principal, e)), renderContext(req)));
      return;
    }
    const parsed = input.parseEntity(message(req));
    const entity = await quotas.admit(principal, { type: 'create', kind: category, input: parsed }, () => service.create(principal, category, parsed));
    const view = service.view(principal, entity);
    res.setHeader('Location', view.location);
    send(res, 201, mediaType, rendering.created(view, renderContext(req)));
  };
  const putCollection = async (c: Context, { req, res, principal }: Exchange) => {
    const category = collection(c);
    if (category.class !== 'mixin') throw OcciError.methodNotAllowed('PUT', c.request.path, ['GET', 'POST', 'DELETE']);
    const { rendering, mediaType } = negotiator.response(req, false);
    const members = await service.tag(principal, category, negotiator.request(req).parseLocations(message(req)), true);
    send(res, 200, mediaType, rendering.collection(members.map((e) => service.view(principal, e)), renderContext(req)));
  };
  const deleteCollection = async (c: Context, { req, res, principal }: Exchange) => {
    const category = collection(c);
    negotiator.response(req, false);
    if (category.class === 'kind') await service.deleteCollection(principal, category);
    else {
      const msg = message(req);
      const hasList = msg.body.trim() !== '' || Object.keys(msg.headers).some((h) => h === 'x-occi-location');
      await service.untag(principal, category, hasList ? negotiator.request(req).parseLocations(msg) : undefined);
    }
    sendOk(res);
  };

  const getEntity = async (c: Context, { req, res, principal }: Exchange) => {
    const { kind, id } = entityTarget(c);
    const { rendering, mediaType } = negotiator.response(req, true);
    const entity = await service.observe(service.get(principal, kind, id));
    send(res, 200, mediaType, rendering.entity(service.view(principal, entity)));
  };
  const putEntity = async (c: Context, { req, res, principal }: Exchange) => {
    const { kind, id } = entityTarget(c);
    const { rendering, mediaType } = negotiator.response(req, true);
    if (heldByAnotherTenant(service, principal, id)) throw OcciError.notFound(c.request.path);
    const input = negotiator.request(req).parseEntity(message(req));
    const { entity, created } = await quotas.admit(principal, { type: 'put', kind, id, input }, () => service.put(principal, kind, id, input));
    const view = service.view(principal, entity);
    if (created) res.setHeader('Location', view.location);
    send(res, created ? 201 : 200, mediaType, created ? rendering.created(view, renderContext(req)) : rendering.entity(view));
  };
  const postEntity = async (c: Context, { req, res, principal }: Exchange) => {
    const { kind, id } = entityTarget(c);
    const { rendering, mediaType } = negotiator.response(req, true);
    const input = negotiator.request(req);
    const term = actionTerm(c);
    let entity;
    if (term) {
      const action = input.parseAction(message(req));
      entity = await quotas.admit(principal, { type: 'action', kind, id, term, input: action }, () => service.act(principal, kind, id, term, action));
    } else {
      const update = input.parseEntity(message(req));
      entity = await quotas.admit(principal, { type: 'update', kind, id, input: update }, () => service.update(principal, kind, id, update));
    }
    send(res, 200, mediaType, rendering.entity(service.view(principal, entity)));
  };
  const deleteEntity = async (c: Context, { req, res, principal }: Exchange) => {
    const { kind, id } = entityTarget(c);
    negotiator.response(req, false);
    await service.delete(principal, kind, id);
    sendOk(res);
  };
  const getOpenApi = (c: Context, { res }: Exchange) => {
    res.status(200).json(c.api.document);
  };

  return {
    queryCategories,
    queryCategoriesWellKnown: queryCategories,
    createMixins,
    createMixinsWellKnown: createMixins,
    deleteMixins,
    deleteMixinsWellKnown: deleteMixins,
    listCollection,
    listSubCollection: listCollection,
    listLeafCollection: listCollection,
    postCollection,
    postSubCollection: postCollection,
    postLeafCollection: postCollection,
    putCollection,
    putSubCollection: putCollection,
    putLeafCollection: putCollection,
    deleteCollection,
    deleteSubCollection: deleteCollection,
    deleteLeafCollection: deleteCollection,
    getEntity,
    putEntity,
    postEntity,
    deleteEntity,
    getOpenApi,
  };
}

/** Any failure as an OcciError: client faults keep their code, the rest is logged as INTERNAL. */
function asOcciError(err: unknown, req: Request, logger: Logger): OcciError {
  if (err instanceof OcciError) return err;
  // The router decodes path segments; a malformed %-escape (`/sto%age/`) is the client's.
  if (err instanceof URIError) return OcciError.badRequest(`the path ${JSON.stringify(req.path)} is not validly percent-encoded`);
  const e = err as { type?: string; status?: number; message?: string };
  if (e.type === 'entity.too.large') return new OcciError('PAYLOAD_TOO_LARGE', 'the request body is too large');
  if (e.type === 'charset.unsupported' || e.type === 'encoding.unsupported') return new OcciError('UNSUPPORTED_MEDIA_TYPE', e.message ?? 'unsupported encoding');
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return OcciError.badRequest(e.message ?? 'bad request');
  logger.error({ err, method: req.method, path: req.path }, 'request failed');
  return new OcciError('INTERNAL', 'internal error; see the node log');
}

function sendError(negotiator: Negotiator, req: Request, res: Response, err: OcciError): void {
  const status = ERROR_STATUS[err.code];
  let chosen: { rendering: Rendering; mediaType: string };
  try {
    chosen = negotiator.response(req, false);
  } catch {
    chosen = { rendering: negotiator.default, mediaType: negotiator.default.mediaTypes[0]! };
  }
  if (err.details.allow) res.setHeader('Allow', err.details.allow.join(', '));
  if (res.headersSent) return;
  send(res, status, chosen.mediaType, chosen.rendering.error(status, err));
}

