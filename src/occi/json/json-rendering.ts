import type { Rendering } from '../rendering.js';
import { parseAction, parseCreation, parseEntity, parseLocations, parseMixins } from './parse.js';
import { renderCategories, renderCollection, renderEntity } from './render.js';

const json = (doc: unknown) => ({ body: JSON.stringify(doc) });

/** application/occi+json (GFD.226); application/json is accepted as an alias. */
export const jsonRendering: Rendering = {
  mediaTypes: ['application/occi+json', 'application/json'],
  rendersEntities: true,
  categories: (categories) => json(renderCategories(categories)),
  entity: (view) => json(renderEntity(view)),
  collection: (views) => json(renderCollection(views)),
  created: (view) => json(renderEntity(view)),
  error: (status, err) => json({ error: { status, code: err.code, message: err.message, ...(err.details.attribute ? { attribute: err.details.attribute } : {}) } }),
  parseEntity: (msg) => parseEntity(msg.body, msg.base),
  parseCreation: (msg) => parseCreation(msg.body, msg.base),
  parseAction: (msg) => parseAction(msg.body),
  parseMixins: (msg) => parseMixins(msg.body),
  parseMixinIds: (msg) => parseMixins(msg.body).map((m) => m.scheme + m.term),
  parseLocations: (msg) => parseLocations(msg.body, msg.base),
  parseFilter: () => ({ categories: [], attributes: {} }),
};
