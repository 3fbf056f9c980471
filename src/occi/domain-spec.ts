/**
 * From OCCI entities to hypervisor descriptions: a compute and its links become a DomainSpec,
 * a network a NetworkSpec; each OCCI resource has one hypervisor object named after its id.
 */
import type { DiskSpec, DomainSpec, NetworkSpec, NicSpec } from '../hypervisor/hypervisor.js';
import type { BackendContext } from './backend.js';
import { type Entity, linkEnds } from './entity.js';
import { NETWORK, NETWORKINTERFACE, STORAGE, STORAGELINK } from './infrastructure-model.js';
import { type ImageEntry, imageOf } from './templates.js';

const MIB_PER_GIB = 1024;
/** Guest disk names libvirt accepts as a target (`vdb`, `sda`…). */
const DISK_TARGET = /^(vd|sd|hd|xvd)[a-z]{1,2}$/;

/** libvirt domain name of a compute (the domain UUID is the compute id). */
export function domainName(computeId: string): string {
  return `occi-${computeId}`;
}

/** libvirt network name of a network resource. */
export function networkName(networkId: string): string {
  return `occi-${networkId}`;
}

/** Volume name, in the driver's pool, of a storage resource. */
export function volumeName(storageId: string): string {
  return `occi-${storageId}`;
}

/** The entity id at the end of a location such as `/network/<uuid>`. */
export function idOf(location: string): string {
  return location.slice(location.lastIndexOf('/') + 1);
}

export function memoryMiB(compute: Entity): number {
  return Math.round(Number(compute.attributes['occi.compute.memory']) * MIB_PER_GIB);
}

export function cores(compute: Entity): number {
  return Number(compute.attributes['occi.compute.cores']);
}

/** A networkinterface link as the domain's NIC; undefined for other links. */
export function nicOf(link: Entity, ctx: BackendContext): NicSpec | undefined {
  const ends = linkEnds(link);
  if (link.kind !== NETWORKINTERFACE || !ends) return undefined;
  const target = ctx.entity(idOf(ends.target));
  if (target?.kind !== NETWORK) return undefined;
  const nic: NicSpec = { id: link.id, network: networkName(target.id) };
  const mac = link.attributes['occi.networkinterface.mac'];
  if (typeof mac === 'string') nic.mac = mac.toLowerCase();
  return nic;
}

/** A storagelink as the domain's disk; `occi.storagelink.deviceid` names the guest device when it is one. */
export function diskOf(link: Entity, ctx: BackendContext): DiskSpec | undefined {
  const ends = linkEnds(link);
  if (link.kind !== STORAGELINK || !ends) return undefined;
  const target = ctx.entity(idOf(ends.target));
  if (target?.kind !== STORAGE) return undefined;
  const disk: DiskSpec = { id: link.id, volume: volumeName(target.id) };
  const device = link.attributes['occi.storagelink.deviceid'];
  if (typeof device === 'string' && DISK_TARGET.test(device)) disk.target = device;
  return disk;
}

/** The domain of a compute: its sizing, architecture, hostname, os_tpl image and its links' devices. */
export function domainSpecOf(compute: Entity, ctx: BackendContext, images: ImageEntry[]): DomainSpec {
  const links = ctx.linksOf(compute.id);
  const spec: DomainSpec = {
    id: compute.id,
    name: domainName(compute.id),
    cores: cores(compute),
    memoryMiB: memoryMiB(compute),
    nics: links.map((l) => nicOf(l, ctx)).filter((n): n is NicSpec => n !== undefined),
    disks: links.map((l) => diskOf(l, ctx)).filter((d): d is DiskSpec => d !== undefined),
  };
  const { attributes } = compute;
  const architecture = attributes['occi.compute.architecture'];
  if (architecture === 'x86' || architecture === 'x64') spec.architecture = architecture;
  const hostname = attributes['occi.compute.hostname'];
  if (typeof hostname === 'string') spec.hostname = hostname;
  const title = attributes['occi.core.title'];
  if (typeof title === 'string' && title !== '') spec.description = title;
  const image = imageOf(images, compute.mixins);
  if (image) {
    spec.image = { path: image.image };
    if (image.format !== undefined) spec.image.format = image.format;
    if (image.boot !== undefined) spec.image.boot = image.boot;
  }
  // Contextualization: the user_data mixin's base64 text, decoded; the ssh_key mixin's public key.
  const userData = attributes['occi.compute.userdata'];
  if (typeof userData === 'string' && userData !== '') spec.userData = Buffer.from(userData, 'base64').toString('utf8');
  const key = attributes['occi.credentials.ssh.publickey'];
  if (typeof key === 'string' && key.trim() !== '') spec.sshKeys = [key.trim()];
  return spec;
}

/**
 * A network resource as a libvirt network: `occi.network.address` (CIDR) and `occi.network.gateway`
 * from the ipnetwork mixin, the host taking the gateway address (the network's first address when
 * no gateway is given), and `occi.network.vlan`.
 */
export function networkSpecOf(network: Entity): NetworkSpec {
  const spec: NetworkSpec = { name: networkName(network.id) };
  const { attributes } = network;
  const cidr = attributes['occi.network.address'];
  const gateway = attributes['occi.network.gateway'];
  const vlan = attributes['occi.network.vlan'];
  if (typeof cidr === 'string') spec.cidr = cidr;
  if (typeof gateway === 'string') spec.gateway = gateway;
  else if (typeof cidr === 'string') {
    const first = firstHost(cidr);
    if (first !== undefined) spec.address = first;
  }
  if (typeof vlan === 'number') spec.vlan = vlan;
  return spec;
}

/** `10.0.0.0/24` → `10.0.0.1` (first address after the network's); undefined for anything but IPv4. */
function firstHost(cidr: string): string | undefined {
  const [address, prefixText] = cidr.split('/');
  const octets = address!.split('.').map(Number);
  const prefix = Number(prefixText);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) return undefined;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 30) return undefined;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const n = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
  const host = ((n & mask) >>> 0) + 1;
  return [host >>> 24, (host >>> 16) & 255, (host >>> 8) & 255, host & 255].join('.');
}
