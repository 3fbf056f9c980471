/**
 * The HTTP side of the mesh: every node accepts every request and serves it where it belongs.
 * - An entity path goes to the member that holds the entity (EntityDirectory: one hop once cached).
 * - A creation goes to the node nearest the user: this node by default (users reach the edge node
 *   nearest them), or the one the `locality` mixin asks for (a node or site name, a coordinate,
 *   a maximum RTT). An unreachable target is skipped for the next nearest.
 * - Collections and the query interface answer mesh-wide (scatter-gather with a deadline); an
 *   answer that misses members names them in the `X-Discovery-Partial` header.
 * Forwarded requests reach the member's own HTTP surface on loopback, marked with a token only
 * this process knows, so they are served there and never forwarded again.
 */
import { randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { EntityDirectory } from '../mesh/directory.js';
import { MeshError } from '../mesh/errors.js';
import { type ForwardedRequest, type ForwardedResponse, forwardErrorStatus, stripHopByHop } from '../mesh/http-forwarding.js';
import type { JsonValue, Member, Mesh } from '../mesh/mesh.js';
import { type Coordinate, distance } from '../mesh/vivaldi/coordinate.js';
import { categoryId, type Kind, type Mixin } from '../occi/category.js';
import type { Cloud } from '../cloud/lrt.js';
import type { Entity } from '../occi/entity.js';
import { OcciError } from '../occi/errors.js';
import { LOCALITY, LOCALITY_COORDINATE, LOCALITY_MAX_RTT, LOCALITY_NEAR } from '../occi/placement-model.js';
import { COMPUTE } from '../occi/infrastructure-model.js';
import { type EntityInput, type Filter, LOCAL_ADMIN, type Principal } from '../occi/request.js';
import type { OcciService } from '../occi/service.js';
import type { MeshEdgeAuth } from './auth/forwarded-principal.js';

export const LOCAL_TOKEN_HEADER = 'x-discovery-local';
export const PARTIAL_HEADER = 'X-Discovery-Partial';
export const SERVED_BY_HEADER = 'X-Discovery-Served-By';
/** On a request re-entering from a member: the member's name (the audit log's forwardedFrom). */
export const FORWARDED_FROM_HEADER = 'x-discovery-forwarded-from';
/** On a request from a member: the compute was admitted by a partition and is created here at this id. */
export const ADMITTED_HEADER = 'x-discovery-admitted';
const LIST_METHOD = 'occi/list';
const MIXINS_METHOD = 'occi/user-mixins';
export const DEFAULT_GATHER_DEADLINE_MS = 3000;
export const DEFAULT_FORWARD_TIMEOUT_MS = 10_000;

export interface MeshEdgeOptions {
  mesh: Mesh;
  service: OcciService;
  logger: Logger;
  gatherDeadlineMs?: number;
  forwardTimeoutMs?: number;
  /** Admission and moves of computes across the mesh; without it computes are created where asked. */
  cloud?: Cloud;
  /** Principals of forwarded requests and gathers (src/http/auth/forwarded-principal.ts); trusted as claimed without it. */
  auth?: MeshEdgeAuth;
}

/** What the HTTP app asks of the mesh when it answers collections and the query interface. */
export interface MeshCollections {
  list(principal: Principal, path: string, filter: Filter): Promise<{ entries: Array<{ entity: Entity; links: Entity[] }>; missing: string[] }>;
  userMixins(principal: Principal): Promise<{ mixins: Mixin[]; missing: string[] }>;
}

export class MeshEdge implements MeshCollections {
  readonly directory: EntityDirectory;
  private readonly token = randomBytes(16).toString('hex');
  private readonly agent = new Agent({ keepAlive: true });
  private localUrl: URL | undefined;
  private readonly gatherDeadlineMs: number;
  private readonly forwardTimeoutMs: number;

  constructor(private readonly opts: MeshEdgeOptions) {
    const { mesh, service } = opts;
    this.gatherDeadlineMs = opts.gatherDeadlineMs ?? DEFAULT_GATHER_DEADLINE_MS;
    this.forwardTimeoutMs = opts.forwardTimeoutMs ?? DEFAULT_FORWARD_TIMEOUT_MS;
    this.directory = new EntityDirectory(mesh, { holds: (id) => service.holds(id) });
    mesh.serveForwarded((req, fromKey) => this.serveLocally(req, fromKey));
    const verified = (claimed: Principal) => (opts.auth ? opts.auth.gatherPrincipal(claimed) : claimed);
    mesh.handle(LIST_METHOD, (payload) => {
      const { path, filter, principal: claimed } = payload as unknown as { path: string; filter: Filter; principal: Principal };
      const principal = verified(claimed);
      const target = service.resolve(path);
      if (target?.type !== 'collection') return [];
      return service.listWithLinks(principal, target.category, filter) as unknown as JsonValue;
    });
    mesh.handle(MIXINS_METHOD, (payload) => service.userMixins(verified((payload as unknown as { principal: Principal }).principal)) as unknown as JsonValue);
  }

  /** Where this node's own HTTP surface listens (known once it listens). */
  listening(url: string): void {
    this.localUrl = new URL(url);
  }

  /** Whether a request's local token is this process's: it re-entered from a member (audit-log.ts). */
  isLocalToken(value: unknown): boolean {
    return value === this.token;
  }

  async list(principal: Principal, path: string, filter: Filter) {
    const { replies, missing } = await this.opts.mesh.gather<Array<{ entity: Entity; links: Entity[] }>>(
      LIST_METHOD,
      { path, filter, principal } as unknown as JsonValue,
      { deadlineMs: this.gatherDeadlineMs, includeSelf: false },
    );
    return { entries: replies.flatMap((r) => r.value), missing: missing.map((m) => m.name) };
  }

  async userMixins(principal: Principal) {
    const { replies, missing } = await this.opts.mesh.gather<Mixin[]>(MIXINS_METHOD, { principal } as unknown as JsonValue, {
      deadlineMs: this.gatherDeadlineMs,
      includeSelf: false,
    });
    return { mixins: replies.flatMap((r) => r.value), missing: missing.map((m) => m.name) };
  }

  /**
   * Express middleware placed before the OCCI routes: serves here, or forwards and answers with
   * the member's response unchanged.
   */
  middleware(parseCreation: (req: Request) => EntityInput | undefined) {
    return (req: Request, res: Response, next: NextFunction) => {
      this.route(req, res, parseCreation).then((forwarded) => (forwarded ? undefined : next()), next);
    };
  }

  private async route(req: Request, res: Response, parseCreation: (req: Request) => EntityInput | undefined): Promise<boolean> {
    // A request from a member (or this node's own re-entry) is served here, never forwarded again.
    const fromMember = req.headers[LOCAL_TOKEN_HEADER] === this.token;
    delete req.headers[LOCAL_TOKEN_HEADER];
    const admitted = fromMember ? req.headers[ADMITTED_HEADER] : undefined;
    delete req.headers[ADMITTED_HEADER];
    const { service, cloud } = this.opts;
    const target = service.resolve(req.path);
    if (target?.type === 'entity') {
      const id = target.id.toLowerCase();
      // A compute moving to another node: wait for the move, then follow it.
      await cloud?.moves.settled(id);
      if (service.holds(id)) return false;
      if (!fromMember && (await this.forwardToHolder(id, req, res))) return true;
      // Nobody holds it: a PUT creates it, and a compute is admitted as a POST would be.
      if (req.method !== 'PUT' || categoryId(target.kind) !== COMPUTE || admitted === id) return false;
      return this.admit(target.kind, req, res, parseCreation, id);
    }
    if (target?.type === 'collection' && target.category.class === 'kind' && req.method === 'POST' && req.query['action'] === undefined) {
      if (!fromMember) {
        const input = safely(() => parseCreation(req));
        if (input?.mixins.includes(LOCALITY) && (await this.forwardToNearest(input, req, res))) return true;
      }
      if (categoryId(target.category) !== COMPUTE || admitted !== undefined) return false;
      return this.admit(target.category, req, res, parseCreation);
    }
    return false;
  }

  /**
   * Admission of a compute created here: served here when it fits, else placed by a partition and
   * created on the chosen node, whose answer goes to the client. Requests the service would refuse
   * are left to it (it answers the error).
   */
  private async admit(kind: Kind, req: Request, res: Response, parseCreation: (req: Request) => EntityInput | undefined, id?: string): Promise<boolean> {
    const cloud = this.opts.cloud;
    if (!cloud) return false;
    const principal = (res.locals['principal'] as Principal | undefined) ?? LOCAL_ADMIN;
    const input = safely(() => parseCreation(req));
    const compute = input && safely(() => this.opts.service.preview(principal, kind, input, id));
    if (!compute) return false;
    const allowed = this.withinMaxRtt(input.attributes, input.mixins);
    const admission = await cloud.admit(compute, async (claimant) => {
      const placed = { method: 'PUT', path: `${kind.location}${compute.id}`, extraHeaders: { [ADMITTED_HEADER]: compute.id } };
      const answer = claimant === this.opts.mesh.key ? await this.serveLocally(this.asForwarded(req, placed)) : await this.forward(claimant, req, true, placed);
      this.send(res, answer);
      return answer.status;
    }, allowed);
    if (admission.where === 'elsewhere') return true;
    res.once('close', admission.release);
    // Served here at the id the capacity was held for: a POST becomes the PUT of that id.
    if (id === undefined && !this.opts.service.holds(compute.id)) {
      const query = req.url.indexOf('?');
      req.url = `${kind.location}${compute.id}${query >= 0 ? req.url.slice(query) : ''}`;
      req.method = 'PUT';
    }
    return false;
  }

  private async forwardToHolder(id: string, req: Request, res: Response): Promise<boolean> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const holder = await this.directory.locate(id);
      if (!holder || holder === this.opts.mesh.key) return false;
      const answer = await this.forward(holder, req);
      // The cached holder no longer has it (moved or deleted): look it up once more.
      if (answer.status === 404 && attempt === 0) {
        this.directory.forget(id);
        continue;
      }
      this.send(res, answer);
      return true;
    }
    return false;
  }

  private async forwardToNearest(input: EntityInput, req: Request, res: Response): Promise<boolean> {
    const candidates = await this.rank(input.attributes);
    for (const key of candidates) {
      if (key === this.opts.mesh.key) return false; // this node is the nearest: admitted here
      try {
        this.send(res, await this.forward(key, req, true));
        return true;
      } catch (err) {
        // A creation is not idempotent: move on only when the member surely never got it.
        if (err instanceof OcciError && err.code === 'UNAVAILABLE') {
          this.opts.logger.warn({ member: key.slice(0, 8), err: err.message }, 'creation target unreachable; trying the next nearest');
          continue;
        }
        throw err;
      }
    }
    throw OcciError.unavailable('no member of the mesh that the locality allows could be reached');
  }

  /**
   * The nodes (this one included) within the user's maximum RTT, when the locality sets one: the
   * user stands at the coordinate given, else at the named node or site, else at this node (the
   * node nearest the user).
   */
  private withinMaxRtt(attributes: Record<string, unknown>, mixins: readonly string[]): string[] | undefined {
    const maxRtt = Number(attributes[LOCALITY_MAX_RTT]);
    if (!mixins.includes(LOCALITY) || attributes[LOCALITY_MAX_RTT] === undefined || !Number.isFinite(maxRtt)) return undefined;
    const mesh = this.opts.mesh;
    const everyone = [mesh.self(), ...mesh.members()];
    const near = attributes[LOCALITY_NEAR];
    const coordinate = attributes[LOCALITY_COORDINATE];
    const anchor = typeof near === 'string' && near !== '' ? everyone.find((m) => m.name === near || m.site === near) : undefined;
    const from = typeof coordinate === 'string' ? parseCoordinate(coordinate, mesh.self()) : (anchor ?? mesh.self()).coordinate;
    if (!from) return [mesh.key];
    return everyone.filter((m) => m.key === mesh.key || (m.coordinate !== null && distance(from, m.coordinate) <= maxRtt)).map((m) => m.key);
  }

  /** Member keys, nearest first, that the locality attributes allow. */
  private async rank(attributes: Record<string, unknown>): Promise<string[]> {
    const mesh = this.opts.mesh;
    const near = attributes[LOCALITY_NEAR];
    const coordinate = attributes[LOCALITY_COORDINATE];
    const maxRtt = attributes[LOCALITY_MAX_RTT];
    let from: Coordinate | undefined;
    if (typeof near === 'string' && near !== '') {
      const anchors = [mesh.self(), ...mesh.members()].filter((m) => m.name === near || m.site === near);
      if (anchors.length === 0) throw OcciError.invalidAttribute(LOCALITY_NEAR, `no node or site of the mesh is named ${JSON.stringify(near)}`);
      if (anchors.some((m) => m.key === mesh.key)) return [mesh.key];
      // Nearest to this entry node among the named ones, then the rest from there.
      const ranked = await mesh.nearest({ measure: true });
      const named = ranked.filter((r) => anchors.some((a) => a.key === r.candidate.key)).map((r) => r.candidate.key);
      return named;
    }
    if (typeof coordinate === 'string') from = parseCoordinate(coordinate, mesh.self());
    const ranked = await mesh.nearest(from ? { coordinate: from } : { measure: true });
    const limit = typeof maxRtt === 'number' ? maxRtt : Number(maxRtt ?? Infinity);
    const within = ranked.filter((r) => (r.measuredMs ?? r.predictedMs) <= limit).map((r) => r.candidate.key);
    if (within.length === 0) throw OcciError.conflict(`no node of the mesh is within ${limit} ms of the requested locality`);
    return within;
  }

  private async forward(key: string, req: Request, creation = false, override?: RequestOverride): Promise<ForwardedResponse> {
    const forwarded = this.asForwarded(req, override);
    // The principal this node authenticated, bound to it and to this request (signed envelope).
    if (this.opts.auth) forwarded.headers = { ...forwarded.headers, ...this.opts.auth.seal(req, forwarded, this.opts.mesh.key) };
    const name = this.opts.mesh.member(key)?.name ?? key.slice(0, 8);
    try {
      return await this.opts.mesh.forward(key, forwarded, { timeoutMs: this.forwardTimeoutMs });
    } catch (err) {
      const status = forwardErrorStatus(err);
      const why = err instanceof MeshError ? err.message : String(err);
      if (status === 504) throw new OcciError('GATEWAY_TIMEOUT', `member ${name} did not answer in time${creation ? '; the creation may have happened there' : ''}`, {}, { cause: err });
      if (status === 413) throw new OcciError('PAYLOAD_TOO_LARGE', `the request is too large to forward to ${name}`, {}, { cause: err });
      throw OcciError.unavailable(`member ${name} holding this request's target is unreachable: ${why}`, err);
    }
  }

  /** The request as a member receives it; an admission sends it as a PUT at its chosen id. */
  private asForwarded(req: Request, override?: RequestOverride): ForwardedRequest {
    return {
      method: override?.method ?? req.method,
      path: override?.path ?? req.originalUrl,
      headers: { ...(req.headers as Record<string, string | string[]>), ...override?.extraHeaders },
      body: Buffer.from(typeof req.body === 'string' ? req.body : ''),
    };
  }

  private send(res: Response, answer: ForwardedResponse): void {
    res.status(answer.status);
    for (const [k, v] of Object.entries(stripHopByHop(answer.headers))) res.setHeader(k, v);
    res.end(answer.body);
  }

  /** A request another member forwarded: through this node's own HTTP surface, on loopback. */
  private serveLocally(req: ForwardedRequest, fromKey?: string): Promise<ForwardedResponse> {
    const url = this.localUrl;
    if (!url) return Promise.reject(new Error('this node is not listening yet'));
    // `localUrl` is the node's plain re-entry listener on 127.0.0.1 (listener.ts), also when the
    // node serves HTTPS: no TLS to itself, and members' traffic is not limited twice.
    // From a member: its envelope and the token are verified here; the app gets the decision.
    const verified = fromKey && this.opts.auth ? this.opts.auth.open(req, fromKey) : req.headers;
    const headers: Record<string, string | string[]> = { ...stripHopByHop(verified), [LOCAL_TOKEN_HEADER]: this.token };
    delete headers[FORWARDED_FROM_HEADER];
    const from = req.via?.at(-1);
    if (from) headers[FORWARDED_FROM_HEADER] = this.opts.mesh.member(from)?.name ?? from.slice(0, 8);
    return new Promise((resolve, reject) => {
      const out = httpRequest(
        { host: url.hostname, port: url.port, method: req.method, path: req.path, agent: this.agent, headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers as Record<string, string | string[]>, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      out.on('error', reject);
      out.end(req.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

interface RequestOverride {
  method: string;
  path: string;
  extraHeaders: Record<string, string>;
}

function safely<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined; // the local handler answers the parse error itself
  }
}

/** `x,y,…,height` in ms; the error and adjustment are taken as a fresh node's. */
function parseCoordinate(text: string, self: Member): Coordinate {
  const parts = text.split(',').map(Number);
  const dims = self.coordinate?.vec.length ?? parts.length - 1;
  if (parts.length !== dims + 1 || parts.some((n) => !Number.isFinite(n))) {
    throw OcciError.invalidAttribute(LOCALITY_COORDINATE, `expected ${dims} components and a height, comma-separated`);
  }
  return { vec: parts.slice(0, dims), height: parts[dims]!, error: 1.5, adjustment: 0 };
}
