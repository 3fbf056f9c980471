import { HypervisorError } from '../errors.js';
import type { Architecture, DiskSpec, DomainSpec, NetworkSpec, NicSpec, VolumeSpec } from '../hypervisor.js';
import { child, children, el, parseXml, path, textEl, textOf, type XmlElement } from './xml.js';

/** Namespace of the gateway's own fields in `<metadata>`. */
export const METADATA_NS = 'urn:discovery-occi:hypervisor:1';
const METADATA_PREFIX = 'dx';
/** Device alias of the root disk built from `image`. */
export const ROOT_DISK_ID = 'root';
/** A domain id: libvirt's UUID string. */
export const DOMAIN_ID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** libvirt accepts user aliases of this form only. */
const ALIAS_ID = /^[A-Za-z0-9_-]+$/;
const ARCH: Record<Architecture, string> = { x86: 'i686', x64: 'x86_64' };

export interface DomainXmlContext {
  /** `<domain type=…>`: `test` on the test driver, `kvm` on qemu. */
  domainType: string;
  /** Storage pool of the volumes disks refer to. */
  pool: string;
}

export function aliasOf(id: string): string {
  if (!ALIAS_ID.test(id)) throw HypervisorError.INVALID_ARG(`device id ${JSON.stringify(id)} must match ${ALIAS_ID}`);
  return `ua-${id}`;
}

/** Name of the copy-on-write overlay volume a domain with an image boots from. */
export function rootVolumeName(spec: Pick<DomainSpec, 'id'>): string {
  return `${spec.id}-root.qcow2`;
}

export function nicXml(nic: NicSpec): string {
  return el(
    'interface',
    { type: 'network' },
    el('source', { network: nic.network }),
    nic.mac === undefined ? undefined : el('mac', { address: nic.mac }),
    el('model', { type: 'virtio' }),
    el('alias', { name: aliasOf(nic.id) }),
  );
}

export function diskXml(disk: DiskSpec, ctx: DomainXmlContext, target: string, format = 'raw'): string {
  return el(
    'disk',
    { type: 'volume', device: 'disk' },
    el('driver', { name: 'qemu', type: format }),
    el('source', { pool: ctx.pool, volume: disk.volume }),
    el('target', { dev: target, bus: 'virtio' }),
    el('alias', { name: aliasOf(disk.id) }),
  );
}

/** Next free `vdX` name. */
export function nextTarget(used: Iterable<string>): string {
  const taken = new Set(used);
  for (let i = 0; i < 26; i++) {
    const dev = `vd${String.fromCharCode(97 + i)}`;
    if (!taken.has(dev)) return dev;
  }
  throw HypervisorError.INVALID_ARG('no free disk target');
}

function metadataXml(spec: DomainSpec): string {
  const p = METADATA_PREFIX;
  return el(
    `${p}:occi`,
    { [`xmlns:${p}`]: METADATA_NS },
    spec.hostname === undefined ? undefined : textEl(`${p}:hostname`, spec.hostname),
    spec.architecture === undefined ? undefined : textEl(`${p}:architecture`, spec.architecture),
    spec.image === undefined ? undefined : el(`${p}:image`, { path: spec.image.path, format: spec.image.format }),
  );
}

export function validateSpec(spec: DomainSpec): void {
  if (!DOMAIN_ID.test(spec.id)) {
    throw HypervisorError.INVALID_ARG(`domain id ${JSON.stringify(spec.id)} is not a UUID`);
  }
  if (spec.name.trim() === '') throw HypervisorError.INVALID_ARG('domain name is empty');
  if (!Number.isInteger(spec.cores) || spec.cores < 1) throw HypervisorError.INVALID_ARG(`cores ${spec.cores}`);
  if (!Number.isInteger(spec.memoryMiB) || spec.memoryMiB < 1) {
    throw HypervisorError.INVALID_ARG(`memory ${spec.memoryMiB} MiB`);
  }
  const ids = [...spec.nics.map((n) => n.id), ...spec.disks.map((d) => d.id)];
  if (spec.image !== undefined) ids.push(ROOT_DISK_ID);
  ids.forEach(aliasOf);
  if (new Set(ids).size !== ids.length) throw HypervisorError.INVALID_ARG('device ids must be unique');
}

/** The libvirt domain XML for a spec; every value is escaped. */
export function domainXml(spec: DomainSpec, ctx: DomainXmlContext): string {
  validateSpec(spec);
  const used = spec.disks.flatMap((d) => (d.target === undefined ? [] : [d.target]));
  const devices: string[] = [];
  if (spec.image !== undefined) {
    used.push('vda');
    devices.push(diskXml({ id: ROOT_DISK_ID, volume: rootVolumeName(spec) }, ctx, 'vda', 'qcow2'));
  }
  for (const disk of spec.disks) {
    const target = disk.target ?? nextTarget(used);
    used.push(target);
    devices.push(diskXml(disk, ctx, target));
  }
  devices.push(...spec.nics.map(nicXml));
  return el(
    'domain',
    { type: ctx.domainType },
    textEl('name', spec.name),
    textEl('uuid', spec.id),
    spec.description === undefined ? undefined : textEl('description', spec.description),
    el('metadata', {}, metadataXml(spec)),
    textEl('memory', spec.memoryMiB, { unit: 'MiB' }),
    textEl('currentMemory', spec.memoryMiB, { unit: 'MiB' }),
    textEl('vcpu', spec.cores),
    el('os', {}, textEl('type', 'hvm', { arch: spec.architecture === undefined ? undefined : ARCH[spec.architecture] })),
    el('devices', {}, ...devices),
  );
}

const UNIT_BYTES: Record<string, number> = {
  b: 1,
  bytes: 1,
  kb: 1e3,
  k: 1024,
  kib: 1024,
  mb: 1e6,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1e9,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  tb: 1e12,
  t: 1024 ** 4,
  tib: 1024 ** 4,
};

/** Size of a libvirt `<memory unit=…>`-style element, in bytes (`defaultUnit` when no unit). */
export function sizeBytes(node: XmlElement | undefined, defaultUnit = 'KiB'): number | undefined {
  const text = textOf(node);
  if (node === undefined || text === undefined || text === '') return undefined;
  const factor = UNIT_BYTES[(node.attrs.unit ?? defaultUnit).toLowerCase()];
  if (factor === undefined) throw HypervisorError.INTERNAL(`unknown unit ${node.attrs.unit}`);
  return Number(text) * factor;
}

function idOfAlias(device: XmlElement): string | undefined {
  const name = child(device, 'alias')?.attrs.name;
  return name?.startsWith('ua-') ? name.slice(3) : undefined;
}

function localName(name: string): string {
  return name.slice(name.indexOf(':') + 1);
}

/** Reads a DomainSpec back from libvirt's domain XML. */
export function parseDomainXml(xml: string): DomainSpec {
  const dom = parseXml(xml);
  const meta = child(dom, 'metadata')?.children.find((c) => Object.values(c.attrs).includes(METADATA_NS));
  const metaField = (name: string): XmlElement | undefined => meta?.children.find((c) => localName(c.name) === name);
  const vcpu = child(dom, 'vcpu');
  const memoryBytes = sizeBytes(child(dom, 'currentMemory')) ?? sizeBytes(child(dom, 'memory')) ?? 0;
  const spec: DomainSpec = {
    id: textOf(child(dom, 'uuid')) ?? '',
    name: textOf(child(dom, 'name')) ?? '',
    cores: Number(vcpu?.attrs.current ?? textOf(vcpu) ?? 0),
    memoryMiB: Math.round(memoryBytes / 1024 ** 2),
    nics: [],
    disks: [],
  };
  const description = textOf(child(dom, 'description'));
  if (description !== undefined) spec.description = description;
  const hostname = textOf(metaField('hostname'));
  if (hostname !== undefined) spec.hostname = hostname;
  const arch = textOf(metaField('architecture'));
  if (arch === 'x86' || arch === 'x64') spec.architecture = arch;
  const image = metaField('image');
  if (image?.attrs.path !== undefined) {
    spec.image = { path: image.attrs.path };
    if (image.attrs.format !== undefined) spec.image.format = image.attrs.format;
  }
  const devices = child(dom, 'devices');
  for (const disk of children(devices, 'disk')) {
    const id = idOfAlias(disk);
    const volume = path(disk, 'source')?.attrs.volume;
    if (id === undefined || id === ROOT_DISK_ID || volume === undefined) continue;
    const target = path(disk, 'target')?.attrs.dev;
    spec.disks.push(target === undefined ? { id, volume } : { id, volume, target });
  }
  for (const nic of children(devices, 'interface')) {
    const id = idOfAlias(nic);
    const network = path(nic, 'source')?.attrs.network;
    if (id === undefined || network === undefined) continue;
    const mac = path(nic, 'mac')?.attrs.address;
    spec.nics.push(mac === undefined ? { id, network } : { id, network, mac });
  }
  return spec;
}

/** The `<disk>` or `<interface>` element carrying the alias of `id`, if any. */
export function findDevice(xml: string, kind: 'disk' | 'interface', id: string): XmlElement | undefined {
  const alias = aliasOf(id);
  return children(child(parseXml(xml), 'devices'), kind).find((d) => child(d, 'alias')?.attrs.name === alias);
}

/** Disk targets already used in a domain XML. */
export function usedTargets(xml: string): string[] {
  return children(child(parseXml(xml), 'devices'), 'disk').flatMap((d) => {
    const dev = child(d, 'target')?.attrs.dev;
    return dev === undefined ? [] : [dev];
  });
}

function prefixLength(cidr: string | undefined): number | undefined {
  if (cidr === undefined) return undefined;
  const prefix = Number(cidr.split('/')[1]);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw HypervisorError.INVALID_ARG(`cidr ${cidr}`);
  return prefix;
}

export function networkXml(spec: NetworkSpec): string {
  if (spec.name.trim() === '') throw HypervisorError.INVALID_ARG('network name is empty');
  const address = spec.address ?? spec.gateway;
  const prefix = prefixLength(spec.cidr);
  if (spec.vlan !== undefined && !(Number.isInteger(spec.vlan) && spec.vlan >= 0 && spec.vlan <= 4095)) {
    throw HypervisorError.INVALID_ARG(`vlan ${spec.vlan}`);
  }
  return el(
    'network',
    {},
    textEl('name', spec.name),
    spec.bridge === undefined ? undefined : el('bridge', { name: spec.bridge }),
    spec.vlan === undefined ? undefined : el('vlan', {}, el('tag', { id: spec.vlan })),
    address === undefined ? undefined : el('ip', { address, prefix: prefix ?? 24 }),
  );
}

export function volumeXml(spec: VolumeSpec, backing?: { path: string; format: string }): string {
  if (spec.name.trim() === '') throw HypervisorError.INVALID_ARG('volume name is empty');
  if (!(Number.isFinite(spec.sizeGiB) && spec.sizeGiB > 0)) throw HypervisorError.INVALID_ARG(`size ${spec.sizeGiB} GiB`);
  const bytes = Math.round(spec.sizeGiB * 1024 ** 3);
  return el(
    'volume',
    {},
    textEl('name', spec.name),
    textEl('capacity', bytes, { unit: 'bytes' }),
    backing === undefined ? undefined : el('target', {}, el('format', { type: 'qcow2' })),
    backing === undefined
      ? undefined
      : el('backingStore', {}, textEl('path', backing.path), el('format', { type: backing.format })),
  );
}
