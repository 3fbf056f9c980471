/**
 * The HTTP side of the mesh: every node accepts every request and serves it where it belongs.
 * - An entity path goes to the member that holds the entity (holder.ts: one hop once cached).
 * - A creation goes to the node nearest the user: this node by default (users reach the edge node
 *   nearest them), or the one the `locality` mixin asks for (locality.ts: a node or site name, a
 *   coordinate, a maximum RTT). An unreachable target is skipped for the next nearest; a compute
 *   is admitted by the Local Resource Tracker (admission.ts).
 * - Collections and the query interface answer mesh-wide (collections.ts); an answer that misses
 *   members names them in the `X-Discovery-Partial` header.
 * Forwarded requests are dispatched in-process into the member's HTTP app (forwarder.ts), marked
 * as forwarded on the request object, so they are served there and never forwarded again.
 *
 * What a caller may not see is answered here, as an absent id is (src/http/auth/mesh-names.ts):
 * an entity path another tenant holds is a 404 from this node, after the same mesh-wide lookup an
 * absent id costs, never a forward to its holder (whose name, time and answer would tell). Ids
 * and user mixins are unique in the whole mesh: a creation at an id held elsewhere, or of a mixin
 * identity or location some member has, is refused here.
 */
import type { RequestListener } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Cloud } from '../../cloud/lrt.js';
import type { EntityDirectory } from '../../mesh/directory.js';
import type { Mesh } from '../../mesh/mesh.js';
import { HOLDER_PREFIX, PresenceRecords, storeHoldings, tenantHoldings, TENANT_PREFIX } from '../../mesh/records/presence-records.js';
import type { RecordDirectory } from '../../mesh/records/record-directory.js';
import { categoryId, type Kind } from '../../occi/category.js';
import { OcciError } from '../../occi/errors.js';
import { LINK } from '../../occi/core-model.js';
import { COMPUTE, STORAGE } from '../../occi/infrastructure-model.js';
import { LOCALITY } from '../../occi/placement-model.js';
import { type ActionInput, type EntityInput, type Filter, LOCAL_ADMIN, type MixinDefinitionInput, type Principal } from '../../occi/request.js';
import { bareId, UUID_PATTERN } from '../../occi/core-model.js';
import type { OcciService } from '../../occi/service.js';
import type { MeshEdgeAuth } from '../auth/forwarded-principal.js';
import { MeshNames, type Whereabouts } from '../auth/mesh-names.js';
import { EdgeAdmission, type ParseCreation, safely } from './admission.js';
import { GatheredCollections, type MeshCollections, type Page } from './collections.js';
import { Forwarder } from './forwarder.js';
import { forwardedMark } from '../forwarded-request.js';
import { HolderLookup } from './holder.js';
import { inlineTargets, LinkEnds, pathOf, sourceOf, StorageElsewhere } from './link-ends.js';
import { LocalityRanking } from './locality.js';

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
  /** This node's compute leases (src/cloud/lease-holder.ts): a compute is changed here only under its lease. */
  leases?: { whenLeased(id: string): Promise<void> };
  /** The overlay's ring directory: the holders of entities, and the tenants' hosts, are published and looked up there instead of by asking every member. */
  records?: RecordDirectory;
}

const UUID = new RegExp(`^${UUID_PATTERN}$`);

export class MeshEdge implements MeshCollections {
  private readonly forwarder: Forwarder;
  private readonly holders: HolderLookup;
  private readonly presence: PresenceRecords | undefined;
  private readonly tenants: PresenceRecords | undefined;
  private readonly locality: LocalityRanking;
  private readonly collections: GatheredCollections;
  private readonly admission: EdgeAdmission | undefined;
  private readonly linkEnds: LinkEnds;
  private readonly names: MeshNames;

  constructor(private readonly opts: MeshEdgeOptions) {
    const { mesh, service, cloud } = opts;
    this.forwarder = new Forwarder({ mesh, auth: opts.auth, forwardTimeoutMs: opts.forwardTimeoutMs });
    this.presence = opts.records ? new PresenceRecords(opts.records, HOLDER_PREFIX) : undefined;
    this.presence?.follow(storeHoldings(service.core.store));
    this.tenants = opts.records ? new PresenceRecords(opts.records, TENANT_PREFIX) : undefined;
    this.tenants?.follow(tenantHoldings(service.core.store));
    this.holders = new HolderLookup(mesh, this.forwarder, (id) => service.holds(id), this.presence);
    this.locality = new LocalityRanking(mesh);
    this.collections = new GatheredCollections(mesh, service, opts.auth, opts.gatherDeadlineMs, this.tenants);
    this.admission = cloud ? new EdgeAdmission(mesh, service, cloud, this.forwarder, this.locality) : undefined;
    this.linkEnds = new LinkEnds(mesh, service, this.holders.directory, opts.auth);
    this.names = new MeshNames(mesh, service, this.presence ? { holders: this.presence } : {});
    mesh.serveForwarded((req, fromKey) => this.forwarder.serveLocally(req, fromKey));
  }

  /** A resource another member holds that a request served here links to (the service's `foreign`). */
  foreign(id: string) {
    return this.linkEnds.get(id);
  }

  get directory(): EntityDirectory {
    return this.holders.directory;
  }

  /** The HTTP app that serves what members forward here, dispatched in-process. */
  serve(app: RequestListener): void {
    this.forwarder.serve(app);
  }

  list(principal: Principal, path: string, filter: Filter, page?: Page) {
    return this.collections.list(principal, path, filter, page);
  }

  userMixins(principal: Principal) {
    return this.collections.userMixins(principal);
  }

  act(principal: Principal, path: string, term: string, action: ActionInput) {
    return this.collections.act(principal, path, term, action);
  }

  deleteAll(principal: Principal, path: string) {
    return this.collections.deleteAll(principal, path);
  }

  async published(): Promise<void> {
    const settled = await Promise.all([this.presence?.settled(), this.tenants?.settled()]);
    if (settled.includes(false)) this.opts.logger.warn('records not yet read back from the ring directory: a read or a listing through another node may not find what was just created');
  }

  /**
   * Express middleware placed before the OCCI routes: serves here, or forwards and answers with
   * the member's response unchanged.
   */
  middleware(parseCreation: ParseCreation, parseMixins?: (req: Request) => MixinDefinitionInput[], parseMixinIds?: (req: Request) => string[]) {
    return (req: Request, res: Response, next: NextFunction) => {
      this.route(req, res, parseCreation, parseMixins, parseMixinIds).then((forwarded) => (forwarded ? undefined : next()), next);
    };
  }

  /** The routing decision: true when the answer went to the client from a member. */
  private async route(req: Request, res: Response, parseCreation: ParseCreation, parseMixins?: (req: Request) => MixinDefinitionInput[], parseMixinIds?: (req: Request) => string[]): Promise<boolean> {
    const query = !forwardedMark(req) && this.opts.service.resolve(req.path)?.type === 'query';
    if (query && parseMixins && req.method === 'POST') await this.uniqueMixins(req, parseMixins);
    if (query && parseMixinIds && req.method === 'DELETE' && (await this.toMixinHolder(req, res, parseMixinIds))) return true;
    if (!forwardedMark(req) && (await this.toMixinCollection(req, res))) return true;
    const forwarded = await this.routeAway(req, res, parseCreation);
    if (!forwarded && (req.method === 'POST' || req.method === 'PUT') && req.query['action'] === undefined) {
      // Served here: the link ends other members hold are fetched for the service to see.
      const input = safely(() => parseCreation(req));
      try {
        if (input) await this.linkEnds.fetch(input, (res.locals['principal'] as Principal | undefined) ?? LOCAL_ADMIN);
      } catch (err) {
        if (err instanceof StorageElsewhere && input && (await this.toStorageWithSource(err.holder, input, req, res))) return true;
        throw err;
      }
    }
    return forwarded;
  }

  private async routeAway(req: Request, res: Response, parseCreation: ParseCreation): Promise<boolean> {
    // A request from a member (or admitted here at a chosen id) is served here, never forwarded again.
    const mark = forwardedMark(req);
    const fromMember = mark !== undefined;
    const admitted = mark?.admitted;
    const { service, cloud } = this.opts;
    const principal = (res.locals['principal'] as Principal | undefined) ?? LOCAL_ADMIN;
    // A compute's console (GET /compute/{id}/console) is read on the node whose host runs it.
    const consoleOf = /^\/compute\/([^/]+)\/console$/.exec(req.path)?.[1]?.toLowerCase();
    if (consoleOf !== undefined) {
      if (fromMember) return false;
      // Hidden or absent: the local handler answers 404 for both, along the same path.
      const where = await this.names.owner(principal, consoleOf);
      return typeof where === 'object' && this.forwardTo(consoleOf, where, req, res);
    }
    const target = service.resolve(req.path);
    if (target?.type === 'entity') {
      const id = target.id.toLowerCase();
      // A compute moving to another node: wait for the move, then follow it.
      await cloud?.moves.settled(id);
      // A copy whose lease lapsed (this node was frozen or cut off) may run elsewhere now: a change
      // waits for the renewal, which either keeps it here or drops it, and then follows it.
      if (req.method !== 'GET' && req.method !== 'HEAD' && service.holds(id)) await this.opts.leases?.whenLeased(id);
      if (fromMember) return service.holds(id) || req.method !== 'PUT' || categoryId(target.kind) !== COMPUTE || admitted === id ? false : (this.admission?.admit(target.kind, req, res, parseCreation, id) ?? false);
      const where = await this.names.owner(principal, id);
      // Another tenant's: served here, where the service answers 404 as for an absent id, along
      // the same path; a PUT, which would create it here, answers that 404 at once.
      if (where === 'hidden' && req.method === 'PUT' && !service.holds(id)) throw OcciError.notFound(`${target.kind.location}${target.id}`);
      if (where === 'here' || where === 'hidden') return false;
      if (typeof where === 'object' && (await this.forwardTo(id, where, req, res))) return true;
      if (req.method === 'PUT' && (await this.toSourceHolder(target.kind, req, res, parseCreation, principal))) return true;
      // Nobody holds it: a PUT creates it, and a compute is admitted as a POST would be.
      if (req.method !== 'PUT' || categoryId(target.kind) !== COMPUTE) return false;
      return this.admission?.admit(target.kind, req, res, parseCreation, id) ?? false;
    }
    if (target?.type === 'collection' && target.category.class === 'kind' && req.method === 'POST' && req.query['action'] === undefined) {
      if (!fromMember) {
        await this.uniqueIds(target.category, req, parseCreation, principal);
        if (await this.toSourceHolder(target.category, req, res, parseCreation, principal)) return true;
        if (await this.toStorageHolder(target.category, req, res, parseCreation, principal)) return true;
        const input = safely(() => parseCreation(req));
        if (input?.mixins.includes(LOCALITY) && (await this.forwardToNearest(input, req, res))) return true;
      }
      if (categoryId(target.category) !== COMPUTE || admitted !== undefined) return false;
      return this.admission?.admit(target.category, req, res, parseCreation) ?? false;
    }
    return false;
  }

  /** Forwarded to the member holding a visible entity; false when none holds it any more. */
  private forwardTo(id: string, where: { holder?: string }, req: Request, res: Response): Promise<boolean> {
    if (where.holder) this.holders.directory.remember(id, where.holder);
    return this.holders.forwardToHolder(id, req, res);
  }

  /**
   * A creation that names its ids (`occi.core.id`, its inline links' too) is refused when any
   * member holds one: 409 when the caller may see that entity (as the service answers here),
   * 404 when not (the answer for an id one cannot see, whatever the method).
   */
  private async uniqueIds(kind: Kind, req: Request, parseCreation: ParseCreation, principal: Principal): Promise<void> {
    const input = safely(() => parseCreation(req));
    const given = (e: EntityInput) => e.attributes['occi.core.id'];
    const ids = input ? [input, ...input.links].map(given).filter((v): v is string => typeof v === 'string').map((v) => bareId(v).toLowerCase()) : [];
    for (const id of ids) {
      if (!UUID.test(id) || this.opts.service.holds(id)) continue; // the service answers those itself
      const where: Whereabouts = await this.names.owner(principal, id);
      if (where === 'hidden') throw OcciError.notFound(`${kind.location}${id}`);
      if (typeof where === 'object') throw OcciError.conflict(where.kind === categoryId(kind) ? `${kind.location}${id} already exists` : `id ${id} is already in use`);
    }
  }

  /** A user mixin whose identity or location a member already has is refused (409), as the service refuses it here. */
  private async uniqueMixins(req: Request, parseMixins: (req: Request) => MixinDefinitionInput[]): Promise<void> {
    const mixins = safely(() => parseMixins(req));
    if (!mixins?.length) return;
    const taken = await this.names.mixinsTaken(
      mixins.map((m) => `${m.scheme}${m.term}`),
      mixins.map((m) => m.location ?? `/${m.term}/`),
    );
    if (taken.ids.length) throw OcciError.conflict(`category ${taken.ids[0]} already exists`);
    if (taken.locations.length) throw OcciError.conflict(`location ${taken.locations[0]} is already taken`);
  }

  /** A user mixin deleted through another node than its own: forwarded there (true once answered). */
  private async toMixinHolder(req: Request, res: Response, parseMixinIds: (req: Request) => string[]): Promise<boolean> {
    const elsewhere = (safely(() => parseMixinIds(req)) ?? []).filter((id) => this.opts.service.registry.get(id) === undefined);
    const holder = elsewhere.length > 0 ? await this.names.mixinHolder(elsewhere) : undefined;
    if (holder === undefined) return false;
    this.forwarder.send(res, await this.forwarder.forward(holder, req));
    return true;
  }

  /** A path unknown here that a member's user mixin has as its location: forwarded there (true once answered). */
  private async toMixinCollection(req: Request, res: Response): Promise<boolean> {
    if (!req.path.endsWith('/') || this.opts.service.resolve(req.path) !== undefined) return false;
    const holder = await this.names.mixinHolder([], [req.path]);
    if (holder === undefined) return false;
    this.forwarder.send(res, await this.forwarder.forward(holder, req));
    return true;
  }

  /** A link created where its source is held: true when that member answered the client. */
  private async toSourceHolder(kind: Kind, req: Request, res: Response, parseCreation: ParseCreation, principal: Principal): Promise<boolean> {
    if (!this.opts.service.registry.isA(categoryId(kind), LINK)) return false;
    const input = safely(() => parseCreation(req));
    const source = input && sourceOf(input);
    const target = source ? this.opts.service.resolve(pathOf(source)) : undefined;
    if (target?.type !== 'entity') return false;
    const id = target.id.toLowerCase();
    // A source moving away from here: the link is made where it arrives.
    await this.opts.cloud?.moves.settled(id);
    if (this.opts.service.holds(id)) return false;
    // A source the caller may not see is not looked for at its holder: refused here as an absent one.
    const where = await this.names.owner(principal, id);
    return typeof where === 'object' && this.forwardTo(id, where, req, res);
  }

  /**
   * A compute created with a link to a storage another member holds: created by that member (a
   * storage links to computes on its own node), whose admission keeps it there.
   */
  private async toStorageHolder(kind: Kind, req: Request, res: Response, parseCreation: ParseCreation, principal: Principal): Promise<boolean> {
    if (categoryId(kind) !== COMPUTE) return false;
    const input = safely(() => parseCreation(req));
    for (const location of input ? inlineTargets(input) : []) {
      const target = this.opts.service.resolve(pathOf(location));
      if (target?.type !== 'entity' || categoryId(target.kind) !== STORAGE || this.opts.service.holds(target.id.toLowerCase())) continue;
      const where = await this.names.owner(principal, target.id.toLowerCase());
      if (typeof where === 'object') return this.forwardTo(target.id.toLowerCase(), where, req, res);
    }
    return false;
  }

  /**
   * A storagelink from a compute held here to a storage another member holds: the compute (with
   * the storages linked only to it) moves to the storage's node, where the link is then made —
   * unless its placement rules keep it from that node or the move fails (the 409 stands).
   */
  private async toStorageWithSource(holder: string, input: EntityInput, req: Request, res: Response): Promise<boolean> {
    const { service, cloud } = this.opts;
    const source = sourceOf(input);
    const target = source ? service.resolve(pathOf(source)) : undefined;
    const compute = target?.type === 'entity' && categoryId(target.kind) === COMPUTE ? service.entityAt(`/compute/${target.id.toLowerCase()}`) : undefined;
    if (!cloud || !compute || !service.holds(compute.id)) return false;
    const rules = (await cloud.vmOf(compute, undefined, false)).placement;
    if (rules?.ban?.includes(holder) || (rules?.fence?.length && !rules.fence.includes(holder))) return false;
    try {
      await cloud.moves.moveTo(compute.id, holder);
    } catch (err) {
      this.opts.logger.warn({ compute: compute.id, err: (err as Error).message }, 'a compute linked to a storage elsewhere could not move there');
      return false;
    }
    this.forwarder.send(res, await this.forwarder.forward(holder, req));
    return true;
  }

  /** A creation with a locality: forwarded to the nearest member it allows, unless this node is the nearest. */
  private async forwardToNearest(input: EntityInput, req: Request, res: Response): Promise<boolean> {
    const candidates = await this.locality.rank(input.attributes);
    for (const key of candidates) {
      if (key === this.opts.mesh.key) return false; // this node is the nearest: admitted here
      try {
        this.forwarder.send(res, await this.forwarder.forward(key, req, true));
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

  close(): void {
    this.presence?.stop();
    this.forwarder.close();
  }
}
