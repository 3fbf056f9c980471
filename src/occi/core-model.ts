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
    location: '/resource/',
    actions: [],
    attributes: [attribute('occi.core.summary', { type: 'string', description: 'Summary of the resource' })],
  },
  {
    class: 'kind',
    term: 'link',
    scheme: CORE_SCHEME,
    title: 'Link',
    parent: ENTITY,
    location: '/link/',
    actions: [],
    attributes: [
      attribute('occi.core.source', { type: 'string', required: true, description: 'Location of the source resource' }),
      attribute('occi.core.target', { type: 'string', required: true, description: 'Location of the target resource' }),
    ],
  },
];

export { UUID_PATTERN };

/**
 * The core kinds: their collections list every resource (every link) a principal sees, but
 * entities are created, replaced, acted on and deleted through their own kinds only.
 */
export function isCoreKind(kindId: string): boolean {
  return kindId === ENTITY || kindId === RESOURCE || kindId === LINK;
}

const URN_UUID = new RegExp(`^urn:uuid:(${UUID_PATTERN})$`, 'i');

/** An id as clients give it: a UUID, or GFD.221's recommended `urn:uuid:<uuid>` form of one (then that UUID). */
export function bareId(id: string): string {
  return URN_UUID.exec(id)?.[1] ?? id;
}
