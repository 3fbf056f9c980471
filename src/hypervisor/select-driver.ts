import type { Hypervisor } from './hypervisor.js';
import { libvirtAvailable } from './libvirt/binding.js';
import { LibvirtHypervisor, type LibvirtHypervisorOptions } from './libvirt/libvirt-hypervisor.js';
import { SIM_URI, SimulatedHypervisor, type SimulatedHypervisorOptions } from './simulated/simulated-hypervisor.js';

/** The URI used when none is given and libvirt is installed. */
export const DEFAULT_LIBVIRT_URI = 'test:///default';

export interface OpenHypervisorOptions {
  libvirt?: LibvirtHypervisorOptions;
  simulated?: SimulatedHypervisorOptions;
}

export interface OpenedHypervisor {
  hypervisor: Hypervisor;
  kind: 'libvirt' | 'simulated';
  /** One line for the node's first log lines, e.g. `libvirt test:///default (libvirt0 found)`. */
  description: string;
}

/**
 * Opens the hypervisor named by `uri` (`--hypervisor`): `sim` for the simulated
 * driver, any libvirt URI otherwise. With no URI: libvirt's `test:///default`
 * when libvirt0 can be loaded, else the simulated driver.
 */
export async function openHypervisor(
  uri: string | undefined,
  opts: OpenHypervisorOptions = {},
): Promise<OpenedHypervisor> {
  if (uri === SIM_URI) {
    return { hypervisor: new SimulatedHypervisor(opts.simulated), kind: 'simulated', description: 'simulated (requested)' };
  }
  if (uri === undefined || uri === '') {
    const libraryPath = opts.libvirt?.library;
    if (!libvirtAvailable(libraryPath)) {
      return {
        hypervisor: new SimulatedHypervisor(opts.simulated),
        kind: 'simulated',
        description: `simulated (${libraryPath ?? 'libvirt.so.0'} not found; install libvirt0 for the libvirt test driver)`,
      };
    }
    const hypervisor = await LibvirtHypervisor.open(DEFAULT_LIBVIRT_URI, opts.libvirt);
    return { hypervisor, kind: 'libvirt', description: `libvirt ${DEFAULT_LIBVIRT_URI} (default, libvirt0 found)` };
  }
  const hypervisor = await LibvirtHypervisor.open(uri, opts.libvirt);
  return { hypervisor, kind: 'libvirt', description: `libvirt ${uri} (${hypervisor.connection.mode} calls)` };
}
