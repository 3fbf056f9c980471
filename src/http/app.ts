import express, { type NextFunction, type Request, type Response } from 'express';
import type { Context, OpenAPIBackend } from 'openapi-backend';
import type { Logger } from 'pino';
import { OcciError } from '../occi/errors.js';
import type { Rendering } from '../occi/rendering.js';
import { renderings as defaultRenderings } from '../occi/renderings.js';
import type { Principal } from '../occi/request.js';
import type { OcciService } from '../occi/service.js';
import { Negotiator } from './negotiation.js';
import { type AuditLog, auditTrail } from './audit-log.js';
import { asOcciError, sendError } from './error-response.js';
import { handlerTimeout, headerCountLimit, hostGuard, type Limits, withInputLimits } from './limits.js';
import { failureLimit, rateLimit, type RateLimitOptions } from './rate-limit.js';
import { securityHeaders } from './security-headers.js';
import { occiProtocol } from './occi-protocol.js';
import type { MeshEdge } from './edge/router.js';
import { adminHandlers } from './auth/admin.js';
import type { NodeAuth } from './auth/node-auth.js';
import { allowedMethods, createOpenApiBackend } from './openapi-router.js';
import { type NodeControl, nodeAdminHandlers } from './node-admin.js';
import { type Exchange, message } from './occi/exchange.js';
import { occiHandlers } from './occi/handlers.js';
import { consoleHandlers } from './occi/console-handler.js';
import { CONSOLE_PATH, consoleRoutes } from './console/console-routes.js';
import { meshViewHandlers } from './console/mesh-view.js';
import type { OperatorRoutes } from './console/operator-surface.js';
import { corsFor } from './cors.js';
import { eventsHandlers } from './events.js';
import { metricsHandlers } from './metrics-endpoint.js';

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
  /** The event stream, the mesh view and the metrics (console/operator-surface.ts). */
  operator?: OperatorRoutes;
  /** Origins of portals allowed to call this node from a browser (cors.ts); none by default. */
  corsOrigins?: readonly string[];
  /** The URL clients reach the node at: Location and absolute URIs use it, not the Host header. */
  publicUrl?: string;
}

const DEFAULT_BODY_LIMIT = 1024 * 1024;


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
  api.register(occiHandlers({ service, negotiator, mesh: opts.mesh, quotas: opts.auth.quotas }));
  api.register(adminHandlers(opts.auth));
  api.register(nodeAdminHandlers(opts.node));
  api.register(consoleHandlers({ service }));
  if (opts.operator) api.register({ ...eventsHandlers(opts.operator.events), ...meshViewHandlers(opts.operator.meshView), ...metricsHandlers(opts.operator.metrics) });
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
  // Timed from the first byte: refusals (401, 429) are requests too.
  if (opts.operator) app.use(opts.operator.metrics.http((req) => routeOf(api, service, req)));
  // First, so that every answer (errors and relayed ones included) carries them and is audited.
  app.use(securityHeaders({ hsts: opts.tls ?? false }));
  const cors = corsFor(opts.corsOrigins ?? []);
  if (cors) app.use(cors);
  app.use(occiProtocol());
  if (opts.audit) app.use(auditTrail({ ...opts.audit, logger }));
  if (limits) app.use(headerCountLimit(limits), handlerTimeout(limits, logger));
  app.use(hostGuard({ publicUrl: opts.publicUrl }));
  // Static pages, before authentication: the console signs in with a token and then calls the API with it.
  app.use(CONSOLE_PATH, consoleRoutes());
  // A method the document does not declare on the path is a 405 before the body is read (an undecodable body would answer 415).
  app.use((req: Request, _res: Response, next: NextFunction) => {
    const method = req.method === 'HEAD' ? 'get' : req.method.toLowerCase();
    try {
      api.router.matchOperation({ method, path: req.path, headers: {}, query: {} }, true);
    } catch (err) {
      if (String((err as Error).message).startsWith('405')) return next(OcciError.methodNotAllowed(req.method, req.path, allowedMethods(api, req.path)));
    }
    next();
  });
  app.use(express.text({ type: () => true, limit: opts.bodyLimit ?? limits?.bodyBytes ?? DEFAULT_BODY_LIMIT, defaultCharset: 'utf-8' }));
  // Before authentication: an address that keeps failing it is refused before any token check.
  if (opts.rateLimit) app.use(failureLimit(opts.rateLimit));
  app.use(opts.auth.middleware());
  // After authentication: keyed by the request's token (by its address without one).
  if (opts.rateLimit) app.use(rateLimit(opts.rateLimit));
  if (opts.node) app.use(opts.node.gate());
  if (opts.mesh) {
    const parsing = (req: Request) => negotiator.request(req);
    app.use(opts.mesh.middleware((req) => parsing(req).parseEntity(message(req)), (req) => parsing(req).parseMixins(message(req)), (req) => parsing(req).parseMixinIds(message(req))));
  }
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

/** The OpenAPI operation that serves a request, and the OCCI kind it is about (labels of the metrics). */
function routeOf(api: OpenAPIBackend, service: OcciService, req: Request): { route: string; kind?: string } {
  // Not `new URL`: a path such as `////` is no URL, and this runs when any answer closes.
  const path = req.originalUrl.split('?', 1)[0]!;
  if (path === CONSOLE_PATH || path.startsWith(`${CONSOLE_PATH}/`)) return { route: 'console' };
  const canonical = canonicalPath(service, path);
  const op = api.router.matchOperation({ method: req.method === 'HEAD' ? 'get' : req.method.toLowerCase(), path: canonical } as Parameters<typeof api.router.matchOperation>[0]);
  if (!op?.operationId) return { route: req.method === 'OPTIONS' ? 'preflight' : 'unmatched' };
  const target = service.resolve(canonical.replace(/\/console$/, ''));
  const kind = target?.type === 'entity' ? target.kind.term : target?.type === 'collection' ? (target.category.class === 'kind' ? target.category.term : 'mixin') : undefined;
  return { route: op.operationId, kind };
}

/** Collections answer with and without their trailing slash. */
function canonicalPath(service: OcciService, path: string): string {
  if (path.endsWith('/')) return path;
  const target = service.resolve(path);
  return target?.type === 'collection' || path === '/-' || path === '/.well-known/org/ogf/occi/-' ? `${path}/` : path;
}
