import { HypervisorError } from './errors.js';
import type { CatalogueImage, Hypervisor } from './hypervisor.js';
import { libvirtAvailable } from './libvirt/binding.js';
import { LibvirtConnection } from './libvirt/connection.js';
import { LibvirtHypervisor, type LibvirtHypervisorOptions } from './libvirt/libvirt-hypervisor.js';
import { SIM_URI, SimulatedHypervisor, type SimulatedHypervisorOptions } from './simulated/simulated-hypervisor.js';

/** The URI used when none is given and libvirt is installed. */
export const DEFAULT_LIBVIRT_URI = 'test:///default';
/** The host's own daemon, for real guests. */
export const SYSTEM_LIBVIRT_URI = 'qemu:///system';
/** Environment variable: seconds a guest asked to stop may take before it is powered off (default 30). */
export const STOP_TIMEOUT_ENV = 'DISCOVERY_STOP_TIMEOUT_S';
/** The one command that sets up a real-guest node (README). */
const REAL_GUEST_SETUP = './scripts/up.sh --qemu';

export interface OpenHypervisorOptions {
  libvirt?: LibvirtHypervisorOptions;
  simulated?: SimulatedHypervisorOptions;
}

export interface OpenedHypervisor {
  hypervisor: Hypervisor;
  kind: 'libvirt' | 'simulated';
  /** The host's image catalogue, when it keeps one (a host that runs guests): the os_tpl mixins list it. */
  images?: CatalogueImage[];
  /** One line for the node's first log lines, e.g. `libvirt test:///default (libvirt0 found)`. */
  description: string;
}

const SIM_PARAMS: Record<string, 'cores' | 'memoryMiB' | 'cpuOvercommit' | 'loadFile' | 'eventLog'> = {
  cores: 'cores',
  memoryMiB: 'memoryMiB',
  cpuOvercommit: 'cpuOvercommit',
  loadFile: 'loadFile',
  eventLog: 'eventLog',
};

/**
 * vCPUs per core a simulated host of a node accepts unless its URI says otherwise: as many as the
 * cloud allocates (4 per core, src/cloud/vm-demand.ts), so that the scheduler's admission
 * decides, as on a real host, and the host does not refuse what the scheduler admitted.
 */
export const SIM_NODE_CPU_OVERCOMMIT = 4;

/**
 * Options of a simulated host named by `sim` or `sim:///?cores=4&memoryMiB=4096` (also
 * `cpuOvercommit=<factor>`, `loadFile=<path>`, see simulated/load-file.ts, and `eventLog=<path>`,
 * see simulated/event-log.ts); null when `uri`
 * does not name the simulated driver. Throws INVALID_ARG on an unknown or bad parameter.
 */
export function parseSimUri(uri: string): SimulatedHypervisorOptions | null {
  if (uri === SIM_URI) return { cpuOvercommit: SIM_NODE_CPU_OVERCOMMIT };
  if (!uri.startsWith(`${SIM_URI}:`)) return null;
  let url: URL;
  try {
    url = new URL(uri);
  } catch (err) {
    throw HypervisorError.INVALID_ARG(`bad simulated host URI ${uri}: ${(err as Error).message}`);
  }
  if (url.host !== '' || (url.pathname !== '' && url.pathname !== '/')) {
    throw HypervisorError.INVALID_ARG(`bad simulated host URI ${uri}: expected sim:///?cores=N&memoryMiB=M`);
  }
  const out: SimulatedHypervisorOptions = { cpuOvercommit: SIM_NODE_CPU_OVERCOMMIT };
  for (const [name, value] of url.searchParams) {
    const key = SIM_PARAMS[name];
    if (key === undefined) throw HypervisorError.INVALID_ARG(`simulated host URI: unknown parameter ${name} (cores, memoryMiB, cpuOvercommit, loadFile, eventLog)`);
    if (key === 'loadFile' || key === 'eventLog') {
      out[key] = value;
      continue;
    }
    const n = Number(value);
    const ok = key === 'cpuOvercommit' ? Number.isFinite(n) && n > 0 : Number.isInteger(n) && n >= 1;
    if (!ok) throw HypervisorError.INVALID_ARG(`simulated host URI: ${name}=${value} is not ${key === 'cpuOvercommit' ? 'a positive number' : 'a positive integer'}`);
    out[key] = n;
  }
  return out;
}

/**
 * Opens the hypervisor named by `uri` (`--hypervisor`): `sim` (or `sim:///?cores=4&memoryMiB=4096`)
 * for the simulated driver, any libvirt URI otherwise. With no URI: libvirt's `test:///default`
 * when libvirt0 can be loaded, else the simulated driver.
 */
export async function openHypervisor(
  uri: string | undefined,
  opts: OpenHypervisorOptions = {},
): Promise<OpenedHypervisor> {
  const sim = uri === undefined ? null : parseSimUri(uri);
  if (sim !== null) {
    const options = { ...opts.simulated, ...sim };
    const hypervisor = new SimulatedHypervisor(options);
    const { cores, memoryMiB } = hypervisor.host.capacity();
    const load = hypervisor.loadFile ? `, loads from ${hypervisor.loadFile.path}` : '';
    return { hypervisor, kind: 'simulated', description: `simulated (requested; ${cores} cores, ${memoryMiB} MiB${load})` };
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
    return { hypervisor, kind: 'libvirt', description: `libvirt ${DEFAULT_LIBVIRT_URI} (default, libvirt0 found; ${await realGuestsHint(opts.libvirt?.library)})` };
  }
  const stopTimeout = Number(process.env[STOP_TIMEOUT_ENV]);
  const libvirt = Number.isFinite(stopTimeout) && stopTimeout > 0 ? { stopTimeoutMs: stopTimeout * 1000, ...opts.libvirt } : opts.libvirt;
  const hypervisor = await LibvirtHypervisor.open(uri, libvirt);
  const description = `libvirt ${uri} (${hypervisor.connection.mode} calls)`;
  if (hypervisor.layout === undefined) return { hypervisor, kind: 'libvirt', description };
  const images = await hypervisor.images();
  const catalogue = images.length === 0 ? 'no images yet: npm run image -- build' : `images: ${images.map((i) => i.name).join(', ')}`;
  return { hypervisor, kind: 'libvirt', images, description: `${description}; ${hypervisor.accelerator?.reason}; host directory ${hypervisor.layout.dir}; ${catalogue}` };
}

/** How to switch to real guests: whether the host's daemon answers decides what to say. */
async function realGuestsHint(library: string | undefined): Promise<string> {
  try {
    const connection = await LibvirtConnection.open(SYSTEM_LIBVIRT_URI, { library, callMode: 'async' });
    await connection.close();
    return `real guests: --hypervisor ${SYSTEM_LIBVIRT_URI}, whose daemon answers`;
  } catch {
    return `real guests: ${REAL_GUEST_SETUP} sets up and starts a node on ${SYSTEM_LIBVIRT_URI}`;
  }
}
