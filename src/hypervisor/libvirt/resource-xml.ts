/** The libvirt XML of networks and volumes; every value is escaped. */
import { HypervisorError } from '../errors.js';
import type { NetworkSpec, VolumeSpec } from '../hypervisor.js';
import { el, textEl } from './xml.js';

function prefixLength(cidr: string | undefined): number | undefined {
  if (cidr === undefined) return undefined;
  const prefix = Number(cidr.split('/')[1]);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw HypervisorError.INVALID_ARG(`cidr ${cidr}`);
  return prefix;
}

function ipv4(address: string): number | undefined {
  const octets = address.split('.').map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) return undefined;
  return ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
}

function dotted(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** The DHCP range of an IPv4 network: every host address but the host's own; none for IPv6 or a /31 and /32. */
function dhcpRange(address: string, prefix: number): { start: string; end: string } | undefined {
  const host = ipv4(address);
  if (host === undefined || prefix > 30) return undefined;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const first = ((host & mask) >>> 0) + 1;
  const last = ((host & mask) | (~mask >>> 0)) - 1;
  // The range must not hold the host's address: it takes the side after it, or before it when it is the last one.
  return host < last ? { start: dotted(Math.max(first, host + 1)), end: dotted(last) } : { start: dotted(first), end: dotted(host - 1) };
}

/**
 * An isolated network (no `<forward>`: guests reach each other and the host, never beyond it),
 * with DHCP over its IPv4 subnet when it has one.
 */
export function networkXml(spec: NetworkSpec): string {
  if (spec.name.trim() === '') throw HypervisorError.INVALID_ARG('network name is empty');
  const address = spec.address ?? spec.gateway;
  const prefix = prefixLength(spec.cidr) ?? 24;
  if (spec.vlan !== undefined && !(Number.isInteger(spec.vlan) && spec.vlan >= 0 && spec.vlan <= 4095)) {
    throw HypervisorError.INVALID_ARG(`vlan ${spec.vlan}`);
  }
  const range = address === undefined ? undefined : dhcpRange(address, prefix);
  return el(
    'network',
    {},
    textEl('name', spec.name),
    spec.bridge === undefined ? undefined : el('bridge', { name: spec.bridge }),
    spec.vlan === undefined ? undefined : el('vlan', {}, el('tag', { id: spec.vlan })),
    address === undefined ? undefined : el('ip', { address, prefix }, range === undefined ? undefined : el('dhcp', {}, el('range', range))),
  );
}

/** A volume: raw by default; qcow2 when asked, or when it is an overlay over a `backing` image. */
export function volumeXml(spec: VolumeSpec, opts: { format?: 'qcow2'; backing?: { path: string; format: string } } = {}): string {
  if (spec.name.trim() === '') throw HypervisorError.INVALID_ARG('volume name is empty');
  if (!(Number.isFinite(spec.sizeGiB) && spec.sizeGiB > 0)) throw HypervisorError.INVALID_ARG(`size ${spec.sizeGiB} GiB`);
  const bytes = Math.round(spec.sizeGiB * 1024 ** 3);
  const { backing } = opts;
  const qcow2 = opts.format === 'qcow2' || backing !== undefined;
  return el(
    'volume',
    {},
    textEl('name', spec.name),
    textEl('capacity', bytes, { unit: 'bytes' }),
    qcow2 ? el('target', {}, el('format', { type: 'qcow2' })) : undefined,
    backing === undefined
      ? undefined
      : el('backingStore', {}, textEl('path', backing.path), el('format', { type: backing.format })),
  );
}
