import { attribute } from './attribute.js';
import type { Kind } from './category.js';

/** GFD.221 OCCI Core: the abstract kinds every other kind descends from. */
export const CORE_SCHEME = 'http://schemas.ogf.org/occi/core#';
export const ENTITY = `${CORE_SCHEME}entity`;
export const RESOURCE = `${CORE_SCHEME}resource`;
export const LINK = `${CORE_SCHEME}link`;

const UUID_PATTERN = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';

export const coreKinds: Kind[] = [
  {
    class: 'kind',
    term: 'entity',
    scheme: CORE_SCHEME,
    title: 'Entity',
    actions: [],
    attributes: [
      attribute('occi.core.id', {
        type: 'string',
        mutable: false,
        required: true,
        pattern: UUID_PATTERN,
        description: 'Unique identifier of the entity (a UUID)',
      }),
      attribute('occi.core.title', { type: 'string', description: 'Title of the entity' }),
    ],
  },
  {
    class: 'kind',
    term: 'resource',
    scheme: CORE_SCHEME,
    title: 'Resource',
    parent: ENTITY,
    actions: [],
    attributes: [attribute('occi.core.summary', { type: 'string', description: 'Summary of the resource' })],
  },
  {
    class: 'kind',
    term: 'link',
    scheme: CORE_SCHEME,
    title: 'Link',
    parent: ENTITY,
    actions: [],
    attributes: [
      attribute('occi.core.source', { type: 'string', required: true, description: 'Location of the source resource' }),
      attribute('occi.core.target', { type: 'string', required: true, description: 'Location of the target resource' }),
    ],
  },
];

export { UUID_PATTERN };
