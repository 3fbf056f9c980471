/** The handlers of kind and mixin collections (GFD.223 §3.5): listed mesh-wide, created in, tagged, acted on, emptied. */
import type { Context } from 'openapi-backend';
import { OcciError } from '../../occi/errors.js';
import { carried } from '../auth/authenticate.js';
import { pageOf, type Page } from '../edge/collections.js';
import { PARTIAL_HEADER } from '../edge/headers.js';
import type { Kind } from '../../occi/category.js';
import type { Entity } from '../../occi/entity.js';
import type { EntityInput, Principal } from '../../occi/request.js';
import { actionTerm, changedCollectionOf, collectionOf, type Exchange, type HandlerDeps, listFilter, message, renderContext, send, sendOk } from './exchange.js';

/** Entities a page holds when only a cursor is given. */
const DEFAULT_PAGE_LIMIT = 100;

/** `?limit=` and `?cursor=` (the id after which the page starts): a page; neither: the whole collection. */
function pageAsked(req: Exchange['req']): Page | undefined {
  const { limit, cursor } = req.query as Record<string, string | undefined>;
  if (limit === undefined && cursor === undefined) return undefined;
  return { limit: limit === undefined ? DEFAULT_PAGE_LIMIT : Number(limit), after: (cursor ?? '').toLowerCase() };
}

/** The same listing's next page: its query with the cursor after `lastId`. */
function nextPage(req: Exchange['req'], lastId: string): string {
  const url = new URL(req.originalUrl, 'http://node');
  url.searchParams.set('cursor', lastId);
  if (!url.searchParams.has('limit')) url.searchParams.set('limit', String(DEFAULT_PAGE_LIMIT));
  return `${url.pathname}${url.search}`;
}

export function collectionHandlers({ service, negotiator, mesh, quotas }: HandlerDeps) {
  const listCollection = async (c: Context, { req, res, principal }: Exchange) => {
    const { rendering, mediaType } = negotiator.response(req, false);
    const filter = listFilter(req, rendering);
    const page = pageAsked(req);
    let views = service.list(principal, collectionOf(service, c), filter).map((e) => service.view(principal, e));
    let more = false;
    if (mesh) {
      // Every member's part of the collection, gathered with a deadline; who missed it is said.
      const remote = await mesh.list(carried(principal), c.request.path, filter, page);
      more = remote.more;
      const seen = new Set(views.map((v) => v.entity.id));
      // A compute moving between two members may be in both replies for an instant: listed once.
      for (const { entity, links } of remote.entries) {
        if (seen.has(entity.id) || !service.registry.kind(entity.kind)) continue;
        seen.add(entity.id);
        views.push(service.view(principal, entity, links));
      }
      if (remote.missing.length) res.setHeader(PARTIAL_HEADER, remote.missing.join(', '));
    }
    if (page) {
      const paged = pageOf(views, page);
      views = paged.items;
      const last = views.at(-1);
      if ((more || paged.more) && last) res.setHeader('Link', `<${nextPage(req, last.entity.id)}>; rel="next"`);
    }
    send(res, 200, mediaType, rendering.collection(views, renderContext(req)));
  };
  const postCollection = async (c: Context, { req, res, principal }: Exchange) => {
    const category = changedCollectionOf(service, c);
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
      const action = input.parseAction(message(req));
      // Here first (an action the collection's kind lacks is refused before any member acts), then every member.
      const views = (await service.actOnCollection(principal, category, term, action)).map((e) => service.view(principal, e));
      if (mesh) {
        const remote = await mesh.act(carried(principal), c.request.path, term, action);
        for (const { entity, links } of remote.entries) views.push(service.view(principal, entity, links));
        if (remote.missing.length) res.setHeader(PARTIAL_HEADER, remote.missing.join(', '));
      }
      send(res, 200, mediaType, rendering.collection(views, renderContext(req)));
      return;
    }
    const parsed = input.parseCreation(message(req));
    if (Array.isArray(parsed)) {
      const views = (await createAll(principal, category, parsed)).map((e) => service.view(principal, e));
      await mesh?.published?.();
      send(res, 201, mediaType, rendering.collection(views, renderContext(req)));
      return;
    }
    const view = service.view(principal, await create(principal, category, parsed));
    await mesh?.published?.();
    res.setHeader('Location', view.location);
    send(res, 201, mediaType, rendering.created(view, renderContext(req)));
  };
  const create = (principal: Principal, kind: Kind, input: EntityInput) => quotas.admit(principal, { type: 'create', kind, input }, () => service.create(principal, kind, input));
  /** An entity collection (GFD.223 §4.3.1), all or nothing: created in order; when one fails, the ones before are deleted. */
  const createAll = async (principal: Principal, kind: Kind, inputs: EntityInput[]): Promise<Entity[]> => {
    const created: Entity[] = [];
    try {
      for (const input of inputs) created.push(await create(principal, kind, input));
    } catch (err) {
      for (const e of created.reverse()) await service.delete(principal, service.registry.kind(e.kind)!, e.id).catch(() => undefined);
      throw err;
    }
    return created;
  };
  const putCollection = async (c: Context, { req, res, principal }: Exchange) => {
    const category = changedCollectionOf(service, c);
    if (category.class !== 'mixin') throw OcciError.methodNotAllowed('PUT', c.request.path, ['GET', 'POST', 'DELETE']);
    const { rendering, mediaType } = negotiator.response(req, false);
    const members = await service.tag(principal, category, negotiator.request(req).parseLocations(message(req)), true);
    send(res, 200, mediaType, rendering.collection(members.map((e) => service.view(principal, e)), renderContext(req)));
  };
  const deleteCollection = async (c: Context, { req, res, principal }: Exchange) => {
    const category = changedCollectionOf(service, c);
    negotiator.response(req, false);
    if (category.class === 'kind') {
      await service.deleteCollection(principal, category);
      const remote = await mesh?.deleteAll(carried(principal), c.request.path);
      if (remote?.missing.length) res.setHeader(PARTIAL_HEADER, remote.missing.join(', '));
    } else {
      const msg = message(req);
      const hasList = msg.body.trim() !== '' || Object.keys(msg.headers).some((h) => h === 'x-occi-location');
      await service.untag(principal, category, hasList ? negotiator.request(req).parseLocations(msg) : undefined);
    }
    sendOk(res);
  };
  return {
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
  };
}
