import { attribute } from './attribute.js';
import type { Action, Kind, Mixin } from './category.js';
import { LINK, RESOURCE } from './core-model.js';

/** GFD.224 OCCI Infrastructure: kinds, their actions and the standard mixins. */
export const INFRA_SCHEME = 'http://schemas.ogf.org/occi/infrastructure#';
export const COMPUTE = `${INFRA_SCHEME}compute`;
export const NETWORK = `${INFRA_SCHEME}network`;
export const STORAGE = `${INFRA_SCHEME}storage`;
export const NETWORKINTERFACE = `${INFRA_SCHEME}networkinterface`;
export const STORAGELINK = `${INFRA_SCHEME}storagelink`;
export const OS_TPL = `${INFRA_SCHEME}os_tpl`;
export const RESOURCE_TPL = `${INFRA_SCHEME}resource_tpl`;
export const IPNETWORK = 'http://schemas.ogf.org/occi/infrastructure/network#ipnetwork';
export const IPNETWORKINTERFACE = 'http://schemas.ogf.org/occi/infrastructure/networkinterface#ipnetworkinterface';
export const USER_DATA = 'http://schemas.ogf.org/occi/infrastructure/compute#user_data';
export const SSH_KEY = 'http://schemas.ogf.org/occi/infrastructure/credentials#ssh_key';

const actionScheme = (kind: string) => `http://schemas.ogf.org/occi/infrastructure/${kind}/action#`;

function action(kind: string, term: string, title: string, attributes: Action['attributes'] = []): Action {
  return { class: 'action', term, scheme: actionScheme(kind), title, attributes };
}

const method = (values: string[]) => attribute('method', { type: 'string', enum: values, description: `One of ${values.join(', ')}` });

export const infrastructureActions: Action[] = [
  action('compute', 'start', 'Start the compute resource'),
  action('compute', 'stop', 'Stop the compute resource', [method(['graceful', 'acpioff', 'poweroff'])]),
  action('compute', 'restart', 'Restart the compute resource', [method(['graceful', 'warm', 'cold'])]),
  action('compute', 'suspend', 'Suspend the compute resource', [method(['hibernate', 'suspend'])]),
  action('compute', 'save', 'Save the compute resource (a snapshot)', [
    method(['hot', 'deferred']),
    attribute('name', { type: 'string', description: 'Name of the saved image' }),
  ]),
  action('network', 'up', 'Bring the network up'),
  action('network', 'down', 'Take the network down'),
  action('storage', 'online', 'Bring the storage online'),
  action('storage', 'offline', 'Take the storage offline'),
  action('storage', 'backup', 'Back the storage up'),
  action('storage', 'snapshot', 'Take a snapshot of the storage'),
  action('storage', 'resize', 'Resize the storage', [
    attribute('size', { type: 'number', required: true, minimum: 0, description: 'New size in GiB' }),
  ]),
  action('networkinterface', 'up', 'Bring the network interface up'),
  action('networkinterface', 'down', 'Take the network interface down'),
  action('storagelink', 'online', 'Bring the storage link online'),
  action('storagelink', 'offline', 'Take the storage link offline'),
];

const actionsOf = (kind: string) => infrastructureActions.filter((a) => a.scheme === actionScheme(kind)).map((a) => a.scheme + a.term);

/**
 * The state attribute is immutable for updates; at creation a client may ask for the initial
 * state (default: the operating state, as clouds bring new resources up).
 */
const stateAttributes = (prefix: string, states: string[], initial: string) => [
  attribute(`${prefix}.state`, {
    type: 'string',
    mutable: false,
    required: true,
    enum: states,
    default: initial,
    description: `Current state: ${states.join(', ')}`,
  }),
  attribute(`${prefix}.state.message`, { type: 'string', mutable: false, description: 'Human-readable explanation of the current state' }),
];

const IPV4_OR_6 = '[0-9a-fA-F:.]+';
const CIDR = `${IPV4_OR_6}/[0-9]{1,3}`;

export const infrastructureKinds: Kind[] = [
  {
    class: 'kind',
    term: 'compute',
    scheme: INFRA_SCHEME,
    title: 'Compute Resource',
    parent: RESOURCE,
    location: '/compute/',
    actions: actionsOf('compute'),
    attributes: [
      attribute('occi.compute.architecture', { type: 'string', enum: ['x86', 'x64'], description: 'CPU architecture' }),
      attribute('occi.compute.cores', { type: 'integer', minimum: 1, maximum: 1024, default: 1, description: 'Number of virtual CPU cores' }),
      attribute('occi.compute.share', { type: 'integer', minimum: 0, description: 'Relative CPU share' }),
      attribute('occi.compute.hostname', { type: 'string', pattern: '[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?', description: 'Fully qualified DNS hostname' }),
      attribute('occi.compute.speed', { type: 'number', minimum: 0, description: 'CPU clock frequency in GHz' }),
      attribute('occi.compute.memory', { type: 'number', minimum: 0.0625, maximum: 4096, default: 1, description: 'Maximum RAM in GiB' }),
      ...stateAttributes('occi.compute', ['active', 'inactive', 'suspended', 'error'], 'active'),
    ],
  },
  {
    class: 'kind',
    term: 'network',
    scheme: INFRA_SCHEME,
    title: 'Network Resource',
    parent: RESOURCE,
    location: '/network/',
    actions: actionsOf('network'),
    attributes: [
      attribute('occi.network.vlan', { type: 'integer', minimum: 0, maximum: 4095, description: '802.1q VLAN identifier' }),
      attribute('occi.network.label', { type: 'string', description: 'Tag based VLAN label' }),
      ...stateAttributes('occi.network', ['active', 'inactive', 'error'], 'active'),
    ],
  },
  {
    class: 'kind',
    term: 'storage',
    scheme: INFRA_SCHEME,
    title: 'Storage Resource',
    parent: RESOURCE,
    location: '/storage/',
    actions: actionsOf('storage'),
    attributes: [
      attribute('occi.storage.size', { type: 'number', required: true, minimum: 0, description: 'Storage size in GiB' }),
      ...stateAttributes('occi.storage', ['online', 'offline', 'error'], 'online'),
    ],
  },
  {
    class: 'kind',
    term: 'networkinterface',
    scheme: INFRA_SCHEME,
    title: 'Network Interface Link',
    parent: LINK,
    location: '/networkinterface/',
    actions: actionsOf('networkinterface'),
    attributes: [
      attribute('occi.networkinterface.interface', { type: 'string', mutable: false, description: 'Identifier of the interface on the compute' }),
      attribute('occi.networkinterface.mac', { type: 'string', pattern: '([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}', description: 'MAC address' }),
      ...stateAttributes('occi.networkinterface', ['active', 'inactive', 'error'], 'active'),
    ],
  },
  {
    class: 'kind',
    term: 'storagelink',
    scheme: INFRA_SCHEME,
    title: 'Storage Link',
    parent: LINK,
    location: '/storagelink/',
    actions: actionsOf('storagelink'),
    attributes: [
      attribute('occi.storagelink.deviceid', { type: 'string', description: 'Device identifier as seen by the compute' }),
      attribute('occi.storagelink.mountpoint', { type: 'string', description: 'Mount point of the storage' }),
      ...stateAttributes('occi.storagelink', ['active', 'inactive', 'error'], 'active'),
    ],
  },
];

const mixin = (m: Omit<Mixin, 'class' | 'actions' | 'depends'> & Partial<Pick<Mixin, 'depends'>>): Mixin => ({
  class: 'mixin',
  actions: [],
  depends: [],
  ...m,
});

export const infrastructureMixins: Mixin[] = [
  mixin({
    term: 'ipnetwork',
    scheme: 'http://schemas.ogf.org/occi/infrastructure/network#',
    title: 'IP Networking Mixin',
    applies: [NETWORK],
    location: '/ipnetwork/',
    attributes: [
      attribute('occi.network.address', { type: 'string', pattern: CIDR, description: 'Internet Protocol (IP) network address in CIDR notation' }),
      attribute('occi.network.gateway', { type: 'string', pattern: IPV4_OR_6, description: 'IP address of the gateway' }),
      attribute('occi.network.allocation', { type: 'string', enum: ['dynamic', 'static'], description: 'Address allocation mechanism' }),
    ],
  }),
  mixin({
    term: 'ipnetworkinterface',
    scheme: 'http://schemas.ogf.org/occi/infrastructure/networkinterface#',
    title: 'IP Network Interface Mixin',
    applies: [NETWORKINTERFACE],
    location: '/ipnetworkinterface/',
    attributes: [
      attribute('occi.networkinterface.address', { type: 'string', pattern: `${IPV4_OR_6}(/[0-9]{1,3})?`, description: 'IP address of the interface' }),
      attribute('occi.networkinterface.gateway', { type: 'string', pattern: IPV4_OR_6, description: 'IP address of the gateway' }),
      attribute('occi.networkinterface.allocation', { type: 'string', enum: ['dynamic', 'static'], description: 'Address allocation mechanism' }),
    ],
  }),
  mixin({
    term: 'os_tpl',
    scheme: INFRA_SCHEME,
    title: 'Operating System Template',
    applies: [COMPUTE],
    location: '/os_tpl/',
    attributes: [],
  }),
  mixin({
    term: 'resource_tpl',
    scheme: INFRA_SCHEME,
    title: 'Resource Template',
    applies: [COMPUTE],
    location: '/resource_tpl/',
    attributes: [],
  }),
  mixin({
    term: 'user_data',
    scheme: 'http://schemas.ogf.org/occi/infrastructure/compute#',
    title: 'Contextualization data for the compute',
    applies: [COMPUTE],
    location: '/user_data/',
    attributes: [attribute('occi.compute.userdata', { type: 'string', description: 'Base64-encoded contextualization data' })],
  }),
  mixin({
    term: 'ssh_key',
    scheme: 'http://schemas.ogf.org/occi/infrastructure/credentials#',
    title: 'SSH public key for the compute',
    applies: [COMPUTE],
    location: '/ssh_key/',
    attributes: [attribute('occi.credentials.ssh.publickey', { type: 'string', description: 'SSH public key in OpenSSH format' })],
  }),
];
