/**
 * Request limits of a node's HTTP surface: what one request may carry, how long a client may take
 * to send it, how long a handler may take to answer, and how many connections one client address
 * may hold. Each limit is a named default below; `resolveLimits` fills the ones not given.
 *
 * Where each is enforced:
 * - header section size and request/headers timeouts: by Node's HTTP parser (`serverOptions`);
 *   it cannot hand such a request to express, so `guardServer` answers it on the socket (431, 408,
 *   400) with an OCCI JSON error and the security headers, then closes the connection;
 * - header field count: `headerCountLimit` (431) — Node only truncates at `maxHeadersCount`;
 * - body size: express.text in the app (413 PAYLOAD_TOO_LARGE);
 * - attributes, links, mixins, locations per request: `withInputLimits` wraps each rendering so
 *   that whatever a parser produced is checked before the service sees it (413 LIMIT_EXCEEDED);
 * - handler time: `handlerTimeout` (504 GATEWAY_TIMEOUT instead of a hanging request);
 * - connections per client address and in total: `guardServer` (slowloris: a client that opens
 *   many connections and trickles bytes holds at most `connectionsPerAddress` of them, each for
 *   at most `headersTimeoutMs`/`requestTimeoutMs`);
 * - the Host header: `hostGuard` (400 for one that is not a host; with a public URL it is not
 *   used at all), so that what goes into Location and absolute URIs is never copied unchecked.
 *
 * @example
 *   const limits = resolveLimits({ headersTimeoutMs: 5000 });
 *   const server = http.createServer(serverOptions(limits), app);
 *   guardServer(server, limits);
 *   app.use(headerCountLimit(limits), handlerTimeout(limits, logger));
 *   const negotiator = new Negotiator(renderings.map((r) => withInputLimits(r, limits)));
 */
import { forwardedMark } from './forwarded-request.js';
import type { Server as HttpServer, ServerOptions } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { OcciError, type OcciErrorCode } from '../occi/errors.js';
import type { Rendering } from '../occi/rendering.js';
import type { ActionInput, EntityInput, Filter } from '../occi/request.js';
import { ERROR_STATUS } from './error-status.js';
import { SECURITY_HEADERS } from './security-headers.js';

export interface Limits {
  /** Largest request body, bytes (413 PAYLOAD_TOO_LARGE). */
  bodyBytes: number;
  /** Largest header section (request line and headers), bytes: Node's `maxHeaderSize` (431). */
  headerBytes: number;
  /** Most header fields in one request (431 HEADERS_TOO_LARGE). */
  headerCount: number;
  /** Most attributes of one entity, action or filter (413 LIMIT_EXCEEDED). */
  attributes: number;
  /** Most inline links of one resource. */
  links: number;
  /** Most mixins of one entity, or mixin definitions/ids in one query-interface request. */
  mixins: number;
  /** Most entity locations in one tagging request. */
  locations: number;
  /** Time to receive a request's headers, ms (Node `headersTimeout`; 408 and the connection closed). */
  headersTimeoutMs: number;
  /** Time to receive a whole request, headers and body, ms (Node `requestTimeout`; 408). */
  requestTimeoutMs: number;
  /** Idle time of a kept-alive connection between requests, ms (Node `keepAliveTimeout`). */
  keepAliveTimeoutMs: number;
  /** Time a handler may take before the client gets 504 instead of waiting, ms (0: none). */
  handlerTimeoutMs: number;
  /** Open connections from one client address; more are closed on accept (0: no cap). */
  connectionsPerAddress: number;
  /** Open connections in total (Node `maxConnections`; 0: no cap). */
  maxConnections: number;
}

export const DEFAULT_BODY_BYTES = 1024 * 1024;
/** Node's own default; text/occi carries whole entities in headers, so not lower. */
export const DEFAULT_HEADER_BYTES = 16 * 1024;
export const DEFAULT_HEADER_COUNT = 200;
export const DEFAULT_ATTRIBUTES = 256;
export const DEFAULT_LINKS = 64;
export const DEFAULT_MIXINS = 64;
export const DEFAULT_LOCATIONS = 1024;
/** Small: a client that cannot send its headers in 10 s is not a client (slowloris). */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
/** 1 MiB in 30 s is 35 KB/s: slower bodies are cut. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Longer than a forwarded request may take (10 s) and than a hypervisor operation should. */
export const DEFAULT_HANDLER_TIMEOUT_MS = 60_000;
export const DEFAULT_CONNECTIONS_PER_ADDRESS = 64;
export const DEFAULT_MAX_CONNECTIONS = 4096;

export function resolveLimits(given: Partial<Limits> = {}): Limits {
  const limits: Limits = {
    bodyBytes: DEFAULT_BODY_BYTES,
    headerBytes: DEFAULT_HEADER_BYTES,
    headerCount: DEFAULT_HEADER_COUNT,
    attributes: DEFAULT_ATTRIBUTES,
    links: DEFAULT_LINKS,
    mixins: DEFAULT_MIXINS,
    locations: DEFAULT_LOCATIONS,
    headersTimeoutMs: DEFAULT_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    handlerTimeoutMs: DEFAULT_HANDLER_TIMEOUT_MS,
    connectionsPerAddress: DEFAULT_CONNECTIONS_PER_ADDRESS,
    maxConnections: DEFAULT_MAX_CONNECTIONS,
  };
  for (const [k, v] of Object.entries(given) as Array<[keyof Limits, number | undefined]>) if (v !== undefined) limits[k] = v;
  for (const [k, v] of Object.entries(limits)) if (!Number.isInteger(v) || v < 0) throw new RangeError(`limit ${k} must be a non-negative integer, got ${v}`);
  if (limits.headersTimeoutMs === 0 || limits.requestTimeoutMs === 0) throw new RangeError('headersTimeoutMs and requestTimeoutMs must be positive');
  // Node refuses a headers timeout longer than the whole-request timeout.
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) throw new RangeError('headersTimeoutMs must not exceed requestTimeoutMs');
  return limits;
}

/** Options of `http.createServer`/`https.createServer` that carry the limits to Node's parser. */
export function serverOptions(limits: Limits): ServerOptions & { handshakeTimeout: number } {
  return {
    // A TLS client that never finishes its handshake is a slow client too (https only).
    handshakeTimeout: limits.headersTimeoutMs,
    maxHeaderSize: limits.headerBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Node checks the two timeouts above every `connectionsCheckingInterval` (30 s by default,
    // which would let a slow client live 40 s with a 10 s headers timeout).
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
  };
}

/** A request a member forwarded (dispatched in-process): its entry node limited it already. */
export function isInternal(req: Request): boolean {
  return forwardedMark(req) !== undefined;
}

/** The client's address, IPv4-mapped IPv6 written as IPv4 (no proxy header is trusted). */
export function clientAddress(socket: { remoteAddress?: string | undefined }): string {
  const a = socket.remoteAddress ?? 'unknown';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/**
 * Applies the limits Node cannot take as options: the header field count it stores, the total
 * connection cap, the per-address connection cap, the TLS handshake time, and answers to what
 * its parser refuses (431, 408, 400) in OCCI JSON with the security headers.
 */
export function guardServer(server: HttpServer | HttpsServer, limits: Limits, opts: { hsts?: boolean; logger?: Logger } = {}): void {
  // Not Node's maxHeadersCount: it silently drops the fields past it (Host among them, which
  // then gets a bare 400); the header section size bounds the count, headerCountLimit answers 431.
  server.maxHeadersCount = 0;
  if (limits.maxConnections > 0) server.maxConnections = limits.maxConnections;
  if (limits.connectionsPerAddress > 0) {
    const open = new Map<string, number>();
    let refused = 0;
    server.on('connection', (socket: Socket) => {
      const address = clientAddress(socket);
      const count = open.get(address) ?? 0;
      if (count >= limits.connectionsPerAddress) {
        if (refused++ % 1000 === 0) opts.logger?.warn({ address, open: count, refusedSoFar: refused }, 'connection refused: too many connections from this address');
        socket.destroy();
        return;
      }
      open.set(address, count + 1);
      socket.once('close', () => {
        const n = (open.get(address) ?? 1) - 1;
        if (n <= 0) open.delete(address);
        else open.set(address, n);
      });
    });
  }
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
    // As Node's own handler: answer only when no response has started on this connection.
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean; req?: { method?: string } } })._httpMessage;
    if (err.code !== 'ECONNRESET' && socket.writable && !inFlight?.headersSent) {
      // A body only when the request is surely not a HEAD (whose answer must have none).
      const method = inFlight?.req?.method ?? requestMethod(err.rawPacket);
      socket.write(rawErrorResponse(err.code, opts.hsts ?? false, method !== undefined && method !== 'HEAD'));
    }
    socket.destroy();
  });
}

/** The method of the request line a raw packet starts with, if it starts with one. */
function requestMethod(raw: Buffer | undefined): string | undefined {
  return raw ? /^([A-Z]{3,10}) /.exec(raw.subarray(0, 12).toString('latin1'))?.[1] : undefined;
}

/**
 * The HTTP response to a request Node's parser refused, as Node would answer, with an OCCI JSON
 * body when `withBody` (the method is known and is not HEAD).
 */
function rawErrorResponse(parserCode: string | undefined, hsts: boolean, withBody: boolean): string {
  const [code, message]: [OcciErrorCode, string] =
    parserCode === 'HPE_HEADER_OVERFLOW'
      ? ['HEADERS_TOO_LARGE', 'the request header section is larger than the node accepts']
      : parserCode === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? ['REQUEST_TIMEOUT', 'the request was not received in time']
        : parserCode === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
          ? ['PAYLOAD_TOO_LARGE', 'the chunk extensions are larger than the node accepts']
          : ['BAD_REQUEST', 'the request is not valid HTTP'];
  const status = ERROR_STATUS[code];
  const body = withBody ? JSON.stringify({ error: { status, code, message } }) : '';
  const reason = { 400: 'Bad Request', 408: 'Request Timeout', 413: 'Payload Too Large', 431: 'Request Header Fields Too Large' }[status] ?? 'Error';
  const headers = {
    ...(withBody ? { 'Content-Type': 'application/occi+json; charset=utf-8' } : {}),
    'Content-Length': String(Buffer.byteLength(body)),
    Connection: 'close',
    ...securityHeaderValues(hsts),
  };
  return `HTTP/1.1 ${status} ${reason}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${body}`;
}

function securityHeaderValues(hsts: boolean): Record<string, string> {
  return hsts ? SECURITY_HEADERS.tls : SECURITY_HEADERS.plain;
}

/** `host`, `host:port`, `[v6]` or `[v6]:port` (RFC 3986 reg-name, IPv4 or IP literal). */
const HOST_HEADER = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;
/** What the entry node says of the scheme its client used (read on forwarded requests only). */
const FORWARDED_PROTO = 'x-forwarded-proto';
const bases = new WeakMap<Request, string>();

/**
 * Where the client reached the node (`https://host:port`), for Location and absolute URIs: the
 * configured public URL; else the Host header, refused (400) unless it is a host. A request a
 * member forwarded keeps what its entry node decided (its Host and scheme).
 */
export function hostGuard(opts: { publicUrl?: string }) {
  const fixed = opts.publicUrl ? new URL(opts.publicUrl) : undefined;
  if (fixed && !/^https?:$/.test(fixed.protocol)) throw new RangeError(`public URL ${opts.publicUrl}: http or https`);
  return (req: Request, _res: Response, next: NextFunction): void => {
    const forwarded = isInternal(req);
    const host = forwarded || !fixed ? req.headers.host : fixed.host;
    if (typeof host !== 'string' || host.length > 260 || !HOST_HEADER.test(host)) return next(OcciError.badRequest('the Host header is not a host name or address'));
    const given = req.headers[FORWARDED_PROTO];
    const proto = forwarded && (given === 'http' || given === 'https') ? given : fixed ? fixed.protocol.slice(0, -1) : req.protocol;
    // What a member serving this request reads (the request is forwarded with these headers).
    req.headers.host = host;
    req.headers[FORWARDED_PROTO] = proto;
    bases.set(req, `${proto}://${host}`);
    next();
  };
}

/** The base `hostGuard` chose for this request (`http://localhost` before it ran). */
export function requestBase(req: Request): string {
  return bases.get(req) ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}

/** 431 HEADERS_TOO_LARGE when a request has more header fields than `limits.headerCount`. */
export function headerCountLimit(limits: Pick<Limits, 'headerCount'>) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    // Forwarded requests were counted at their entry node (and carry the mesh's own headers).
    if (isInternal(req)) return next();
    const count = req.rawHeaders.length / 2;
    if (count > limits.headerCount) return next(new OcciError('HEADERS_TOO_LARGE', `a request carries at most ${limits.headerCount} header fields`));
    next();
  };
}

/**
 * Answers 504 GATEWAY_TIMEOUT when the handler has not answered within `handlerTimeoutMs`; the
 * work it started may still complete (a creation may then exist: the message says so).
 */
export function handlerTimeout(limits: Pick<Limits, 'handlerTimeoutMs'>, logger: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (limits.handlerTimeoutMs <= 0) return next();
    const timer = setTimeout(() => {
      // `answered`: an answer is already held back for its audit line (audit-log.ts).
      if (res.headersSent || res.locals['answered']) return;
      logger.warn({ method: req.method, path: req.path, ms: limits.handlerTimeoutMs }, 'request answered 504: the handler took too long');
      const mutation = req.method !== 'GET' && req.method !== 'HEAD';
      next(new OcciError('GATEWAY_TIMEOUT', `the node did not complete the request within ${limits.handlerTimeoutMs / 1000} s${mutation ? '; the change may still happen' : ''}`));
    }, limits.handlerTimeoutMs);
    timer.unref();
    res.once('finish', () => clearTimeout(timer));
    res.once('close', () => clearTimeout(timer));
    next();
  };
}

export type InputLimits = Pick<Limits, 'attributes' | 'links' | 'mixins' | 'locations'>;

/**
 * The same rendering, whose parsers' output is checked against the limits: whatever the
 * rendering (JSON body or text/occi headers), an entity with too many attributes, links or
 * mixins is refused before the service sees it.
 */
export function withInputLimits(r: Rendering, limits: InputLimits): Rendering {
  return {
    mediaTypes: r.mediaTypes,
    rendersEntities: r.rendersEntities,
    categories: (c, ctx) => r.categories(c, ctx),
    entity: (v, ctx) => r.entity(v, ctx),
    collection: (v, ctx) => r.collection(v, ctx),
    created: (v, ctx) => r.created(v, ctx),
    error: (s, e) => r.error(s, e),
    parseEntity: (m) => checkEntity(r.parseEntity(m), limits),
    parseCreation: (m) => {
      const input = r.parseCreation(m);
      return Array.isArray(input) ? atMost(input, limits.locations, 'entities in one request').map((e) => checkEntity(e, limits)) : checkEntity(input, limits);
    },
    parseAction: (m) => checkAction(r.parseAction(m), limits),
    parseMixins: (m) => atMost(r.parseMixins(m), limits.mixins, 'mixin definitions in one request'),
    parseMixinIds: (m) => atMost(r.parseMixinIds(m), limits.mixins, 'mixins in one request'),
    parseLocations: (m) => {
      const input = r.parseLocations(m);
      atMost(input.locations, limits.locations, 'locations in one request');
      return input;
    },
    parseFilter: (m) => checkFilter(r.parseFilter(m), limits),
  };
}

function atMost<T>(items: T[], max: number, what: string): T[] {
  if (items.length > max) throw new OcciError('LIMIT_EXCEEDED', `at most ${max} ${what} are accepted; the request has ${items.length}`);
  return items;
}

function attributesAtMost(attributes: Record<string, unknown>, max: number, of: string): void {
  const n = Object.keys(attributes).length;
  if (n > max) throw new OcciError('LIMIT_EXCEEDED', `${of} carries at most ${max} attributes; this one has ${n}`);
}

export function checkEntity(input: EntityInput, limits: InputLimits, of = 'an entity'): EntityInput {
  attributesAtMost(input.attributes, limits.attributes, of);
  atMost(input.mixins, limits.mixins, `mixins on ${of}`);
  atMost(input.links, limits.links, `links on ${of}`);
  for (const link of input.links) checkEntity(link, limits, 'a link');
  return input;
}

function checkAction(input: ActionInput, limits: InputLimits): ActionInput {
  attributesAtMost(input.attributes, limits.attributes, 'an action');
  return input;
}

function checkFilter(filter: Filter, limits: InputLimits): Filter {
  attributesAtMost(filter.attributes, limits.attributes, 'a filter');
  atMost(filter.categories, limits.mixins, 'categories in a filter');
  return filter;
}
