import { attribute } from './attribute.js';
import type { Mixin } from './category.js';
import { COMPUTE } from './infrastructure-model.js';
import { PROJECT_SCHEME_BASE } from './project-scheme.js';

/** Mixins of this project for where computes run, usable from any OCCI client. */
export const PLACEMENT_SCHEME = `${PROJECT_SCHEME_BASE}placement#`;
export const PLACEMENT = `${PLACEMENT_SCHEME}placement`;
export const LOCALITY = `${PLACEMENT_SCHEME}locality`;
export const PLACEMENT_NODE = 'discovery.placement.node';
/** Increases each time the compute gets a new holder (move, restart after a node loss): fencing. */
export const PLACEMENT_GENERATION = 'discovery.placement.generation';
export const LOCALITY_NEAR = 'discovery.locality.near';
export const LOCALITY_COORDINATE = 'discovery.locality.coordinate';
export const LOCALITY_MAX_RTT = 'discovery.locality.max_rtt';

/** btrPlace-style placement constraints (see placement-constraints.ts for their meaning). */
export const SPREAD = `${PLACEMENT_SCHEME}spread`;
export const GATHER = `${PLACEMENT_SCHEME}gather`;
export const BAN = `${PLACEMENT_SCHEME}ban`;
export const FENCE = `${PLACEMENT_SCHEME}fence`;
export const LATENCY = `${PLACEMENT_SCHEME}latency`;
export const PLACEMENT_GROUP = 'discovery.placement.group';
export const PLACEMENT_NODES = 'discovery.placement.nodes';
export const PLACEMENT_MAX_RTT = 'discovery.placement.max_rtt';
/** Group names: letters, digits, `.`, `_`, `~`, `-`. */
export const GROUP_NAME_PATTERN = '[A-Za-z0-9][A-Za-z0-9._~-]*';

const groupAttribute = (what: string) =>
  attribute(PLACEMENT_GROUP, { type: 'string', pattern: GROUP_NAME_PATTERN, description: `Name of the group of computes ${what} (per tenant)` });
const nodesAttribute = (what: string) =>
  attribute(PLACEMENT_NODES, { type: 'string', description: `Names of the nodes the compute ${what}: separated by commas or spaces` });

/** Placement constraints a user applies to computes; a user mixin that depends on one makes its members a group. */
export const placementConstraintMixins: Mixin[] = [
  {
    class: 'mixin',
    term: 'spread',
    scheme: PLACEMENT_SCHEME,
    title: 'Spread: computes of one group never share a host',
    depends: [],
    applies: [COMPUTE],
    location: '/placement/spread/',
    actions: [],
    attributes: [groupAttribute('kept on distinct hosts')],
  },
  {
    class: 'mixin',
    term: 'gather',
    scheme: PLACEMENT_SCHEME,
    title: 'Gather: computes of one group run on one host',
    depends: [],
    applies: [COMPUTE],
    location: '/placement/gather/',
    actions: [],
    attributes: [groupAttribute('kept on one host')],
  },
  {
    class: 'mixin',
    term: 'latency',
    scheme: PLACEMENT_SCHEME,
    title: 'Latency: computes of one group run on hosts within a round-trip time of each other',
    depends: [],
    applies: [COMPUTE],
    location: '/placement/latency/',
    actions: [],
    attributes: [
      groupAttribute('kept close to each other'),
      attribute(PLACEMENT_MAX_RTT, { type: 'number', minimum: 0, description: 'Largest RTT in ms between the hosts of any two computes of the group (more than 0)' }),
    ],
  },
  {
    class: 'mixin',
    term: 'ban',
    scheme: PLACEMENT_SCHEME,
    title: 'Ban: the compute never runs on the named nodes',
    depends: [],
    applies: [COMPUTE],
    location: '/placement/ban/',
    actions: [],
    attributes: [nodesAttribute('never runs on')],
  },
  {
    class: 'mixin',
    term: 'fence',
    scheme: PLACEMENT_SCHEME,
    title: 'Fence: the compute runs only on the named nodes',
    depends: [],
    applies: [COMPUTE],
    location: '/placement/fence/',
    actions: [],
    attributes: [nodesAttribute('may run on (only those)')],
  },
];

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
    attributes: [
      attribute(PLACEMENT_NODE, { type: 'string', mutable: false, description: 'Name of the node that holds the compute' }),
      attribute(PLACEMENT_GENERATION, { type: 'number', mutable: false, description: 'Increases each time the compute gets a new holder (moved, or restarted after a node loss)' }),
    ],
  },
  {
    class: 'mixin',
    term: 'locality',
    scheme: PLACEMENT_SCHEME,
    title: 'Where the user wants the compute: near a node or a site or a coordinate',
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
  ...placementConstraintMixins,
];

// ---- restart policy -------------------------------------------------------------------------

export const RESTART = `${PLACEMENT_SCHEME}restart`;
export const RESTART_POLICY = 'discovery.restart.policy';
export const RESTART_POLICIES = ['always', 'on-failure', 'never'] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];
export const DEFAULT_RESTART_POLICY: RestartPolicy = 'on-failure';

/** What the node does when a compute's domain crashes, disappears or stops by itself (src/cloud/restart-policy.ts). */
export const restartMixin: Mixin = {
  class: 'mixin',
  term: 'restart',
  scheme: PLACEMENT_SCHEME,
  title: 'Restart policy: what the node does when the compute crashes or disappears from its host or stops by itself',
  depends: [],
  applies: [COMPUTE],
  location: '/placement/restart/',
  actions: [],
  attributes: [
    attribute(RESTART_POLICY, {
      type: 'string',
      enum: [...RESTART_POLICIES],
      default: DEFAULT_RESTART_POLICY,
      description: 'always: also when the guest stops by itself; on-failure (default): when it crashes or disappears; never',
    }),
  ],
};
