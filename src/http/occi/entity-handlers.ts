/** The handlers of one entity (GFD.223 §3.5–3.6): read, created or replaced by PUT, updated or acted on by POST, deleted. */
import type { Context } from 'openapi-backend';
import { OcciError } from '../../occi/errors.js';
import { heldByAnotherTenant } from '../auth/tenancy.js';
import { absolute } from '../../occi/text/render.js';
import { actionTerm, entityOf, type Exchange, type HandlerDeps, message, renderContext, send, sendOk } from './exchange.js';

export function entityHandlers({ service, negotiator, quotas, mesh }: HandlerDeps) {
  const getEntity = async (c: Context, { req, res, principal }: Exchange) => {
    const { kind, id } = entityOf(service, c);
    const { rendering, mediaType } = negotiator.response(req, true);
    const entity = await service.observe(service.get(principal, kind, id));
    send(res, 200, mediaType, rendering.entity(service.view(principal, entity), renderContext(req)));
  };
  const putEntity = async (c: Context, { req, res, principal }: Exchange) => {
    const { kind, id } = entityOf(service, c);
    const { rendering, mediaType } = negotiator.response(req, true);
    if (heldByAnotherTenant(service, principal, id)) throw OcciError.notFound(c.request.path);
    const input = negotiator.request(req).parseEntity(message(req));
    const { entity, created } = await quotas.admit(principal, { type: 'put', kind, id, input }, () => service.put(principal, kind, id, input));
    const view = service.view(principal, entity);
    if (created) {
      await mesh?.published?.();
      res.setHeader('Location', view.location);
    }
    send(res, created ? 201 : 200, mediaType, created ? rendering.created(view, renderContext(req)) : rendering.entity(view, renderContext(req)));
  };
  const postEntity = async (c: Context, { req, res, principal }: Exchange) => {
    const { kind, id } = entityOf(service, c);
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
      // rOCCI-cli reads an update's answer as a creation's: without a location (text/occi's body is empty) it reports a failure.
      // Absolute in the text renderings, as their creations answer (GFD.229 clients expect it).
      res.setHeader('Location', absolute(service.locationOf(entity), mediaType.startsWith('text/') ? renderContext(req) : undefined));
    }
    send(res, 200, mediaType, rendering.entity(service.view(principal, entity), renderContext(req)));
  };
  const deleteEntity = async (c: Context, { req, res, principal }: Exchange) => {
    const { kind, id } = entityOf(service, c);
    negotiator.response(req, false);
    await service.delete(principal, kind, id);
    sendOk(res);
  };
  return { getEntity, putEntity, postEntity, deleteEntity };
}
