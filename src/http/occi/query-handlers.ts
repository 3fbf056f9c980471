/** The query interface's handlers (GFD.223 §3.4): categories listed, user mixins created and deleted. */
import type { Context } from 'openapi-backend';
import { carried } from '../auth/authenticate.js';
import { PARTIAL_HEADER } from '../edge/headers.js';
import { type Exchange, type HandlerDeps, listFilter, message, renderContext, send, sendOk } from './exchange.js';

export function queryHandlers({ service, negotiator, mesh }: HandlerDeps) {
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
    send(res, 200, mediaType, rendering.categories(categories, renderContext(req)));
  };
  const createMixins = async (_c: Context, { req, res, principal }: Exchange) => {
    const { rendering, mediaType } = negotiator.response(req, false);
    const created = await service.addUserMixins(principal, negotiator.request(req).parseMixins(message(req)));
    send(res, 200, mediaType, rendering.categories(created, renderContext(req)));
  };
  const deleteMixins = async (_c: Context, { req, res, principal }: Exchange) => {
    negotiator.response(req, false);
    await service.removeUserMixins(principal, negotiator.request(req).parseMixinIds(message(req)));
    sendOk(res);
  };
  return {
    queryCategories,
    queryCategoriesWellKnown: queryCategories,
    createMixins,
    createMixinsWellKnown: createMixins,
    deleteMixins,
    deleteMixinsWellKnown: deleteMixins,
  };
}
