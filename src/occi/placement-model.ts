import { attribute } from './attribute.js';
import type { Mixin } from './category.js';
import { COMPUTE } from './infrastructure-model.js';
import { PROJECT_SCHEME_BASE } from './project-scheme.js';

/** Mixins of this project for where computes run, usable from any OCCI client. */
export const PLACEMENT_SCHEME = `${PROJECT_SCHEME_BASE}placement#`;
export const PLACEMENT = `${PLACEMENT_SCHEME}placement`;
export const LOCALITY = `${PLACEMENT_SCHEME}locality`;
export const PLACEMENT_NODE = 'discovery.placement.node';
export const LOCALITY_NEAR = 'discovery.locality.near';
export const LOCALITY_COORDINATE = 'discovery.locality.coordinate';
export const LOCALITY_MAX_RTT = 'discovery.locality.max_rtt';

export const placementMixins: Mixin[] = [
  {
    class: 'mixin',
    term: 'placement',
    scheme: PLACEMENT_SCHEME,
    title: 'Where the compute runs (set by the mesh)',
    depends: [],
    applies: [COMPUTE],
    location: '/placement/',
    actions: [],
    attributes: [attribute(PLACEMENT_NODE, { type: 'string', mutable: false, description: 'Name of the node that holds the compute' })],
  },
  {
    class: 'mixin',
    term: 'locality',
    scheme: PLACEMENT_SCHEME,
    title: 'Where the user wants the compute: near a node or site, or a coordinate',
    depends: [],
    applies: [COMPUTE],
    location: '/locality/',
    actions: [],
    attributes: [
      attribute(LOCALITY_NEAR, { type: 'string', description: 'Name of a node or of a site to be near' }),
      attribute(LOCALITY_COORDINATE, {
        type: 'string',
        pattern: '-?[0-9.]+(,-?[0-9.]+)*',
        description: "The user's Vivaldi coordinate: comma-separated components, the height last",
      }),
      attribute(LOCALITY_MAX_RTT, { type: 'number', minimum: 0, description: 'Largest acceptable RTT in ms between the user and the node' }),
    ],
  },
];
