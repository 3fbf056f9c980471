/** A domain's devices: disks and NICs attached and detached, in its persistent config and live while it runs. */
import { HypervisorError } from '../errors.js';
import type { DiskSpec, NicAddresses, NicSpec } from '../hypervisor.js';
import type { DomPtr } from './binding.js';
import type { LibvirtConnection } from './connection.js';
import { VIR_DOMAIN_AFFECT_CONFIG, VIR_DOMAIN_AFFECT_LIVE, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, VIR_DOMAIN_XML_INACTIVE, VIR_ERR } from './constants.js';
import type { DomainHandles } from './domain-handles.js';
import { domainIsActive } from './domain-state.js';
import { diskXml, findDevice, nextTarget, nicXml, usedTargets, type DomainXmlContext } from './domain-xml.js';
import type { LibvirtDomains } from './domains.js';
import type { LibvirtNetworks } from './networks.js';
import type { LibvirtStorage } from './storage.js';
import { child, children, parseXml, path, serialize, type XmlElement } from './xml.js';

type DeviceKind = 'disk' | 'interface';

export interface LibvirtDevicesParts {
  handles: DomainHandles;
  domains: LibvirtDomains;
  networks: LibvirtNetworks;
  storage: LibvirtStorage;
  xmlContext: DomainXmlContext;
}

export class LibvirtDevices {
  readonly #connection: LibvirtConnection;
  readonly #handles: DomainHandles;
  readonly #domains: LibvirtDomains;
  readonly #networks: LibvirtNetworks;
  readonly #storage: LibvirtStorage;
  readonly #xmlContext: DomainXmlContext;

  constructor(parts: LibvirtDevicesParts) {
    this.#connection = parts.handles.connection;
    this.#handles = parts.handles;
    this.#domains = parts.domains;
    this.#networks = parts.networks;
    this.#storage = parts.storage;
    this.#xmlContext = parts.xmlContext;
  }

  async attachInterface(domainId: string, nic: NicSpec): Promise<void> {
    await this.#networks.require(nic.network);
    await this.#attach(domainId, 'interface', nic.id, () => nicXml(nic, this.#xmlContext));
  }

  async attachDisk(domainId: string, disk: DiskSpec): Promise<void> {
    await this.#storage.info(disk.volume);
    await this.#attach(domainId, 'disk', disk.id, (xml) => diskXml(disk, this.#xmlContext, disk.target ?? nextTarget(usedTargets(xml))));
  }

  /**
   * What each NIC of a running domain obtained, from the DHCP leases of the host's networks,
   * matched to the NIC by MAC address. Empty on the test driver and for a domain not running.
   */
  async nicAddresses(domainId: string): Promise<NicAddresses[]> {
    if (this.#xmlContext.guest === undefined) return [];
    const conn = this.#connection;
    return this.#handles.use(domainId, async (dom) => {
      if (!(await domainIsActive(conn, dom, domainId))) return [];
      const out: unknown[] = [null];
      const count = await conn.int('virDomainInterfaceAddresses', [dom, out, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, 0], `addresses of ${domainId}`);
      const leased = conn.binding.takeInterfaces(out[0], count);
      const xml = await conn.string('virDomainGetXMLDesc', [dom, 0], `describe ${domainId}`);
      return children(child(parseXml(xml), 'devices'), 'interface').flatMap((nic) => {
        const alias = child(nic, 'alias')?.attrs.name;
        const mac = path(nic, 'mac')?.attrs.address?.toLowerCase();
        if (!alias?.startsWith('ua-') || mac === undefined) return [];
        const addresses = leased.filter((l) => l.mac.toLowerCase() === mac).flatMap((l) => l.addresses);
        return [{ id: alias.slice(3), mac, addresses }];
      });
    });
  }

  detachInterface(domainId: string, nicId: string): Promise<void> {
    return this.#detach(domainId, 'interface', nicId);
  }

  detachDisk(domainId: string, diskId: string): Promise<void> {
    return this.#detach(domainId, 'disk', diskId);
  }

  async #attach(domainId: string, kind: DeviceKind, id: string, device: (xml: string) => string): Promise<void> {
    await this.#handles.use(domainId, async (dom) => {
      const xml = await this.#inactiveXml(dom, domainId);
      if (findDevice(xml, kind, id) !== undefined) throw HypervisorError.ALREADY_EXISTS(`${kind} ${id}`);
      const deviceXml = device(xml);
      await this.#apply(dom, domainId, xml, 'virDomainAttachDeviceFlags', deviceXml, `attach ${kind} ${id}`, (devices) => {
        devices.children.push(parseXml(deviceXml));
      });
    });
  }

  async #detach(domainId: string, kind: DeviceKind, id: string): Promise<void> {
    await this.#handles.use(domainId, async (dom) => {
      const xml = await this.#inactiveXml(dom, domainId);
      const device = findDevice(xml, kind, id);
      if (device === undefined) throw HypervisorError.NO_DEVICE(`${kind} ${id} on domain ${domainId}`);
      await this.#apply(dom, domainId, xml, 'virDomainDetachDeviceFlags', serialize(device), `detach ${kind} ${id}`, (devices) => {
        devices.children = devices.children.filter(
          (c) => !(c.name === kind && c.children.some((a) => a.name === 'alias' && a.attrs.name === `ua-${id}`)),
        );
      });
    });
  }

  /**
   * Applies a device change to the persistent config, and to the running domain when active.
   * Drivers without hotplug (the test driver) get the persistent config `xml` redefined with
   * `edit` applied to its devices: the change shows in the inactive XML, and in the live one
   * after a restart.
   */
  async #apply(
    dom: DomPtr,
    domainId: string,
    xml: string,
    fn: 'virDomainAttachDeviceFlags' | 'virDomainDetachDeviceFlags',
    deviceXml: string,
    during: string,
    edit: (devices: XmlElement) => void,
  ): Promise<void> {
    const live = await domainIsActive(this.#connection, dom, domainId);
    const flags = VIR_DOMAIN_AFFECT_CONFIG | (live ? VIR_DOMAIN_AFFECT_LIVE : 0);
    try {
      await this.#connection.int(fn, [dom, deviceXml, flags], during);
    } catch (err) {
      if (!(err instanceof HypervisorError && err.libvirtNumber === VIR_ERR.NO_SUPPORT)) throw err;
      const doc = parseXml(xml);
      const devices = child(doc, 'devices');
      if (devices !== undefined) edit(devices);
      await this.#domains.defineXml(serialize(doc));
    }
  }

  #inactiveXml(dom: DomPtr, id: string): Promise<string> {
    return this.#connection.string('virDomainGetXMLDesc', [dom, VIR_DOMAIN_XML_INACTIVE], `describe ${id}`);
  }
}
