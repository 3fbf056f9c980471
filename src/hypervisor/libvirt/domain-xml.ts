/**
 * The libvirt domain XML of a DomainSpec, and the spec read back from it. On hosts that run
 * guests the domain also gets ACPI (the power button), a serial console logged to a file, its
 * kernel when the image boots one, its config drive, and disks named by their files.
 */
import { basename, join } from 'node:path';
import { HypervisorError } from '../errors.js';
import type { Architecture, DiskSpec, DomainSpec, ImageSpec, NicSpec } from '../hypervisor.js';
import { child, children, el, parseXml, path, textEl, textOf, type XmlElement } from './xml.js';

/** Namespace of the gateway's own fields in `<metadata>`. */
export const METADATA_NS = 'urn:discovery-occi:hypervisor:1';
const METADATA_PREFIX = 'dx';
/** Device alias of the root disk built from `image`. */
export const ROOT_DISK_ID = 'root';
/** Device alias of the NoCloud config drive. */
export const SEED_DISK_ID = 'seed';
/** The serial number the config drive shows the guest (virtio-blk serials hold 20 bytes). */
const SEED_SERIAL = 'cidata';
const SERIAL_BYTES = 20;
/** A domain id: libvirt's UUID string. */
export const DOMAIN_ID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** libvirt accepts user aliases of this form only. */
const ALIAS_ID = /^[A-Za-z0-9_-]+$/;
const ARCH: Record<Architecture, string> = { x86: 'i686', x64: 'x86_64' };

export interface DomainXmlContext {
  /** `<domain type=…>`: `test` on the test driver, `kvm` or `qemu` (TCG) on qemu. */
  domainType: string;
  /** Storage pool of the volumes disks refer to. */
  pool: string;
  /** On a host that runs guests: where the volumes' files and the console logs are. */
  guest?: GuestHostDirs;
}

export interface GuestHostDirs {
  volumesDir: string;
  consoleDir: string;
}

export function aliasOf(id: string): string {
  if (!ALIAS_ID.test(id)) throw HypervisorError.INVALID_ARG(`device id ${JSON.stringify(id)} must match ${ALIAS_ID}`);
  return `ua-${id}`;
}

/** Name of the copy-on-write overlay volume a domain with an image boots from. */
export function rootVolumeName(spec: Pick<DomainSpec, 'id'>): string {
  return `${spec.id}-root.qcow2`;
}

/** Name of the config drive volume of a domain on a host that runs guests. */
export function seedVolumeName(spec: Pick<DomainSpec, 'id'>): string {
  return `${spec.id}-seed.iso`;
}

/** The file the domain's serial console is logged to. */
export function consoleLogPath(dirs: GuestHostDirs, name: string): string {
  return join(dirs.consoleDir, `${name}.log`);
}

export function nicXml(nic: NicSpec, ctx?: DomainXmlContext): string {
  return el(
    'interface',
    { type: 'network' },
    el('source', { network: nic.network }),
    nic.mac === undefined ? undefined : el('mac', { address: nic.mac }),
    el('model', { type: 'virtio' }),
    // No network boot ROM: SeaBIOS would run it at every boot (seconds under TCG).
    ctx?.guest === undefined ? undefined : el('rom', { enabled: 'no' }),
    el('alias', { name: aliasOf(nic.id) }),
  );
}

/**
 * A disk on a volume of the pool: by pool and volume on the test driver, by its file on hosts
 * that run guests (libvirt cannot migrate pool-volume disks incrementally). The guest sees the
 * device id (the link id) as the disk's serial number.
 */
export function diskXml(disk: DiskSpec, ctx: DomainXmlContext, target: string, format = 'raw', readonly = false): string {
  const source = ctx.guest === undefined ? el('source', { pool: ctx.pool, volume: disk.volume }) : el('source', { file: join(ctx.guest.volumesDir, disk.volume) });
  return el(
    'disk',
    { type: ctx.guest === undefined ? 'volume' : 'file', device: 'disk' },
    el('driver', { name: 'qemu', type: format }),
    source,
    el('target', { dev: target, bus: 'virtio' }),
    readonly ? el('readonly') : undefined,
    ctx.guest === undefined ? undefined : textEl('serial', (disk.id === SEED_DISK_ID ? SEED_SERIAL : disk.id).slice(0, SERIAL_BYTES)),
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
  const image = spec.image;
  return el(
    `${p}:occi`,
    { [`xmlns:${p}`]: METADATA_NS },
    spec.hostname === undefined ? undefined : textEl(`${p}:hostname`, spec.hostname),
    spec.architecture === undefined ? undefined : textEl(`${p}:architecture`, spec.architecture),
    image === undefined
      ? undefined
      : el(`${p}:image`, { path: image.path, format: image.format, kernel: image.boot?.kernel, initrd: image.boot?.initrd, cmdline: image.boot?.cmdline }),
    spec.userData === undefined ? undefined : textEl(`${p}:userdata`, Buffer.from(spec.userData).toString('base64')),
    ...(spec.sshKeys ?? []).map((key) => textEl(`${p}:sshkey`, key)),
  );
}

/** `<os>`: the architecture, and the kernel of an image that boots one. */
function osXml(spec: DomainSpec): string {
  const boot = spec.image?.boot;
  return el(
    'os',
    {},
    textEl('type', 'hvm', { arch: spec.architecture === undefined ? undefined : ARCH[spec.architecture] }),
    boot === undefined ? undefined : textEl('kernel', boot.kernel),
    boot?.initrd === undefined ? undefined : textEl('initrd', boot.initrd),
    boot?.cmdline === undefined ? undefined : textEl('cmdline', boot.cmdline),
  );
}

/** The serial console, logged to a file (virtlogd writes it), and the console on it. */
function consoleXml(spec: DomainSpec, dirs: GuestHostDirs): string {
  const log = el('log', { file: consoleLogPath(dirs, spec.name), append: 'on' });
  return el('serial', { type: 'pty' }, log, el('target', { port: 0 })) + el('console', { type: 'pty' }, el('target', { type: 'serial', port: 0 }));
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
  const ids = [...spec.nics.map((n) => n.id), ...spec.disks.map((d) => d.id), SEED_DISK_ID];
  if (spec.image !== undefined) ids.push(ROOT_DISK_ID);
  ids.forEach(aliasOf);
  if (new Set(ids).size !== ids.length) throw HypervisorError.INVALID_ARG('device ids must be unique');
}

/**
 * The libvirt domain XML for a spec; every value is escaped. Disks come in the order of their
 * targets, the order a guest names virtio disks in: root (vda), config drive, then the others.
 */
export function domainXml(spec: DomainSpec, ctx: DomainXmlContext): string {
  validateSpec(spec);
  const used = spec.disks.flatMap((d) => (d.target === undefined ? [] : [d.target]));
  const disks: Array<{ target: string; xml: string }> = [];
  const place = (target: string, xml: (target: string) => string): void => {
    used.push(target);
    disks.push({ target, xml: xml(target) });
  };
  if (spec.image !== undefined) place('vda', (t) => diskXml({ id: ROOT_DISK_ID, volume: rootVolumeName(spec) }, ctx, t, 'qcow2'));
  if (ctx.guest !== undefined) place(nextTarget(used), (t) => diskXml({ id: SEED_DISK_ID, volume: seedVolumeName(spec) }, ctx, t, 'raw', true));
  for (const disk of spec.disks) place(disk.target ?? nextTarget(used), (t) => diskXml(disk, ctx, t));
  disks.sort((a, b) => a.target.length - b.target.length || a.target.localeCompare(b.target));
  const guest = ctx.guest;
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
    osXml(spec),
    guest === undefined ? undefined : el('features', {}, el('acpi'), el('apic')),
    // A guest that powers itself off stays off; a reboot it asks for (or a warm restart) restarts it.
    guest === undefined ? undefined : textEl('on_poweroff', 'destroy') + textEl('on_reboot', 'restart') + textEl('on_crash', 'destroy'),
    el(
      'devices',
      {},
      ...disks.map((d) => d.xml),
      ...spec.nics.map((nic) => nicXml(nic, ctx)),
      guest === undefined ? undefined : consoleXml(spec, guest),
      guest === undefined ? undefined : el('memballoon', { model: 'none' }),
    ),
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
  const image = imageOf(metaField('image'));
  if (image !== undefined) spec.image = image;
  const userData = textOf(metaField('userdata'));
  if (userData !== undefined) spec.userData = Buffer.from(userData, 'base64').toString();
  const keys = (meta?.children ?? []).filter((c) => localName(c.name) === 'sshkey').map((c) => textOf(c) ?? '');
  if (keys.length > 0) spec.sshKeys = keys;
  const devices = child(dom, 'devices');
  for (const disk of children(devices, 'disk')) {
    const id = idOfAlias(disk);
    const source = path(disk, 'source')?.attrs;
    const volume = source?.volume ?? (source?.file === undefined ? undefined : basename(source.file));
    if (id === undefined || id === ROOT_DISK_ID || id === SEED_DISK_ID || volume === undefined) continue;
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

function imageOf(node: XmlElement | undefined): ImageSpec | undefined {
  const a = node?.attrs;
  if (a?.path === undefined) return undefined;
  const image: ImageSpec = { path: a.path };
  if (a.format !== undefined) image.format = a.format;
  if (a.kernel !== undefined) {
    image.boot = { kernel: a.kernel };
    if (a.initrd !== undefined) image.boot.initrd = a.initrd;
    if (a.cmdline !== undefined) image.boot.cmdline = a.cmdline;
  }
  return image;
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
