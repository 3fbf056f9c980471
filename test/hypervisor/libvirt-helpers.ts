import { fileURLToPath } from 'node:url';
import type { DomainSpec } from '../../src/hypervisor/hypervisor.js';
import type { DomPtr } from '../../src/hypervisor/libvirt/binding.js';
import type { LibvirtHypervisor } from '../../src/hypervisor/libvirt/libvirt-hypervisor.js';
import { child, parseXml, textOf } from '../../src/hypervisor/libvirt/xml.js';

/** `test:///abs/path/<name>.xml` for a fixture host. */
export function fixtureUri(name: string): string {
  return `test://${fileURLToPath(new URL(`../fixtures/libvirt/${name}.xml`, import.meta.url))}`;
}

let counter = 0;
/** A fresh spec with a unique UUID and name. */
export function newSpec(over: Partial<DomainSpec> = {}): DomainSpec {
  counter += 1;
  const n = `${process.pid}`.padStart(6, '0') + String(counter).padStart(6, '0');
  return { id: `7d3e2c10-0000-4000-8000-${n}`, name: `t-${process.pid}-${counter}`, cores: 2, memoryMiB: 512, nics: [], disks: [], ...over };
}

/** Direct binding calls on the driver's own connection, bypassing the driver. */
export function raw(hv: LibvirtHypervisor) {
  const { fn } = hv.connection.binding;
  const conn = hv.connection.ptr;
  const withDom = <T>(id: string, op: (dom: DomPtr) => T): T => {
    const dom = fn.virDomainLookupByUUIDString(conn, id) as DomPtr | null;
    if (dom === null) throw new Error(`raw lookup of ${id} failed`);
    try {
      return op(dom);
    } finally {
      fn.virDomainFree(dom);
    }
  };
  return {
    exists: (id: string): boolean => {
      const dom = fn.virDomainLookupByUUIDString(conn, id);
      if (dom !== null) fn.virDomainFree(dom);
      return dom !== null;
    },
    state: (id: string): number => withDom(id, (dom) => {
      const info: { state?: number } = {};
      fn.virDomainGetInfo(dom, info);
      return info.state ?? -1;
    }),
    xml: (id: string, flags = 0): string => withDom(id, (dom) => fn.virDomainGetXMLDesc(dom, flags) as string),
    destroy: (id: string): number => withDom(id, (dom) => fn.virDomainDestroy(dom) as number),
    undefine: (id: string): number => withDom(id, (dom) => fn.virDomainUndefineFlags(dom, 0) as number),
    networkActive: (name: string): number => {
      const net = fn.virNetworkLookupByName(conn, name);
      if (net === null) return -1;
      try {
        return fn.virNetworkIsActive(net) as number;
      } finally {
        fn.virNetworkFree(net);
      }
    },
    volumeExists: (name: string): boolean => {
      const pool = fn.virStoragePoolLookupByName(conn, hv.pool);
      const vol = fn.virStorageVolLookupByName(pool, name);
      if (vol !== null) fn.virStorageVolFree(vol);
      fn.virStoragePoolFree(pool);
      return vol !== null;
    },
  };
}

/** vCPUs and memory (MiB) as the domain XML states them. */
export function xmlResources(xml: string): { vcpus: number; currentVcpus: number; memoryMiB: number; currentMemoryMiB: number } {
  const dom = parseXml(xml);
  const kib = (name: string) => Number(textOf(child(dom, name))) / 1024;
  const vcpu = child(dom, 'vcpu');
  return {
    vcpus: Number(textOf(vcpu)),
    currentVcpus: Number(vcpu?.attrs.current ?? textOf(vcpu)),
    memoryMiB: kib('memory'),
    currentMemoryMiB: kib('currentMemory'),
  };
}
