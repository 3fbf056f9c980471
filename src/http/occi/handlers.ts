/** The OCCI operations of openapi/occi.yaml, by operationId, each served through the negotiated rendering. */
import type { Context } from 'openapi-backend';
import { collectionHandlers } from './collection-handlers.js';
import { entityHandlers } from './entity-handlers.js';
import type { Exchange, HandlerDeps } from './exchange.js';
import { queryHandlers } from './query-handlers.js';

export function occiHandlers(deps: HandlerDeps) {
  return {
    ...queryHandlers(deps),
    ...collectionHandlers(deps),
    ...entityHandlers(deps),
    getOpenApi: (c: Context, { res }: Exchange) => {
      res.status(200).json(c.api.document);
    },
  };
}
