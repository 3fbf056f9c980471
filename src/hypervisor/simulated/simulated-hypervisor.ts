import { HypervisorError } from '../errors.js';
import type {
  DiskSpec,
  DomainEvent,
  DomainInfo,
  DomainListener,
  DomainSpec,
  HostCapacity,
  CatalogueImage,
  HostUsage,
  Hypervisor,
  MigratedDomain,
  MigrateOptions,
  MigrationTarget,
  NicAddresses,
  NetworkSpec,
  NicSpec,
  RestartMethod,
  SaveMethod,
  StopMethod,
  SuspendMethod,
  VolumeInfo,
  VolumeSpec,
  WatchOptions,
} from '../hypervisor.js';
import { copyMigrate, copyTarget, migrated } from '../migrate.js';
import { StatePoller } from '../watch.js';
import { SIM_LOAD_FILE_ENV, SimLoadFile } from './load-file.js';
import { SimHost, type SimHostOptions } from './sim-host.js';
import { SIM_EVENT_LOG_ENV, SimEventLog } from './event-log.js';
import { SimLeaseFence } from './lease-fence.js';

export const SIM_URI = 'sim';

export interface SimulatedHypervisorOptions extends SimHostOptions {
  /** Share an existing core (e.g. one the scheduler's simulator already holds). */
  host?: SimHost;
  pollIntervalMs?: number;
  /**
   * Per-domain loads read from this JSON file (test hook, see load-file.ts); default: the file
   * named by the environment variable DISCOVERY_SIM_LOAD_FILE; `null` disables the hook.
   */
  loadFile?: string | null;
  /** Every domain state change appended to this file (test hook, see event-log.ts); default: DISCOVERY_SIM_EVENT_LOG. */
  eventLog?: string | null;
}

/**
 * The {@link Hypervisor} over an in-memory {@link SimHost}. Each call runs the
 * synchronous core and settles on the next microtask, so callers see the same
 * asynchronous contract as with libvirt.
 */
export class SimulatedHypervisor implements Hypervisor {
  readonly uri = SIM_URI;
  readonly host: SimHost;
  /** The load-file hook, when one is configured. */
  readonly loadFile: SimLoadFile | null;
  readonly #poller: StatePoller;
  readonly #events: SimEventLog | null;
  readonly #fence: SimLeaseFence;
  #closed = false;

  constructor(opts: SimulatedHypervisorOptions = {}) {
    this.host = opts.host ?? new SimHost(opts);
    const loadPath = opts.loadFile === undefined ? process.env[SIM_LOAD_FILE_ENV] : opts.loadFile;
    this.loadFile = loadPath ? new SimLoadFile(loadPath) : null;
    const eventPath = opts.eventLog === undefined ? process.env[SIM_EVENT_LOG_ENV] : opts.eventLog;
    this.#events = eventPath ? new SimEventLog(eventPath) : null;
    this.#fence = new SimLeaseFence(this.host, this.#events);
    this.#poller = new StatePoller(() => this.listDomains(), {
      ...(opts.pollIntervalMs === undefined ? {} : { intervalMs: opts.pollIntervalMs }),
      ...(opts.now === undefined ? {} : { now: opts.now }),
    });
  }

  /** Test hook, see {@link SimHost.setLoad}. */
  setLoad(id: string, cpuPercentOfCore: number, memoryMiB: number): void {
    this.#open().setLoad(id, cpuPercentOfCore, memoryMiB);
  }

  capacity(): Promise<HostCapacity> {
    return this.#run((h) => h.capacity());
  }

  usage(): Promise<HostUsage> {
    return this.#run((h) => h.usage(), true);
  }

  defineDomain(spec: DomainSpec): Promise<DomainInfo> {
    return this.#run((h) => h.defineDomain(spec));
  }

  startDomain(id: string): Promise<void> {
    return this.#run((h) => h.startDomain(id));
  }

  stopDomain(id: string, method: StopMethod): Promise<void> {
    return this.#run((h) => h.stopDomain(id, method));
  }

  restartDomain(id: string, method: RestartMethod): Promise<void> {
    return this.#run((h) => h.restartDomain(id, method));
  }

  suspendDomain(id: string, method: SuspendMethod): Promise<void> {
    return this.#run((h) => h.suspendDomain(id, method));
  }

  resumeDomain(id: string): Promise<void> {
    return this.#run((h) => h.resumeDomain(id));
  }

  saveDomain(id: string, method: SaveMethod, name?: string): Promise<string> {
    return this.#run((h) => h.saveDomain(id, method, name));
  }

  undefineDomain(id: string): Promise<void> {
    return this.#run((h) => h.undefineDomain(id));
  }

  setVcpus(id: string, cores: number): Promise<void> {
    return this.#run((h) => h.setVcpus(id, cores));
  }

  setMemory(id: string, memoryMiB: number): Promise<void> {
    return this.#run((h) => h.setMemory(id, memoryMiB));
  }

  domainInfo(id: string): Promise<DomainInfo> {
    return this.#run((h) => h.domainInfo(id), true);
  }

  listDomains(): Promise<DomainInfo[]> {
    return this.#run((h) => h.listDomains(), true);
  }

  domainDescription(id: string): Promise<DomainSpec> {
    return this.#run((h) => h.domainDescription(id));
  }

  defineNetwork(spec: NetworkSpec): Promise<void> {
    return this.#run((h) => h.resources.defineNetwork(spec));
  }

  networkUp(name: string): Promise<void> {
    return this.#run((h) => h.resources.networkUp(name));
  }

  networkDown(name: string): Promise<void> {
    return this.#run((h) => h.resources.networkDown(name));
  }

  removeNetwork(name: string): Promise<void> {
    return this.#run((h) => h.resources.removeNetwork(name));
  }

  networkActive(name: string): Promise<boolean> {
    return this.#run((h) => h.resources.networkActive(name));
  }

  createVolume(spec: VolumeSpec): Promise<VolumeInfo> {
    return this.#run((h) => h.resources.createVolume(spec));
  }

  resizeVolume(name: string, sizeGiB: number): Promise<VolumeInfo> {
    return this.#run((h) => h.resources.resizeVolume(name, sizeGiB));
  }

  snapshotVolume(name: string, snapshotName: string): Promise<VolumeInfo> {
    return this.#run((h) => h.resources.snapshotVolume(name, snapshotName));
  }

  deleteVolume(name: string): Promise<void> {
    return this.#run((h) => h.resources.deleteVolume(name));
  }

  volumeInfo(name: string): Promise<VolumeInfo> {
    return this.#run((h) => h.resources.volumeInfo(name));
  }

  attachInterface(domainId: string, nic: NicSpec): Promise<void> {
    return this.#run((h) => h.attachInterface(domainId, nic));
  }

  detachInterface(domainId: string, nicId: string): Promise<void> {
    return this.#run((h) => h.detachInterface(domainId, nicId));
  }

  attachDisk(domainId: string, disk: DiskSpec): Promise<void> {
    return this.#run((h) => h.attachDisk(domainId, disk));
  }

  detachDisk(domainId: string, diskId: string): Promise<void> {
    return this.#run((h) => h.detachDisk(domainId, diskId));
  }

  /** Between simulated hosts the VM moves whole (state, load, snapshots); otherwise it is copied. */
  async migrate(id: string, target: Hypervisor | MigrationTarget, opts: MigrateOptions = {}): Promise<MigratedDomain> {
    if (target instanceof SimulatedHypervisor && opts.mode !== 'copy') {
      const startedAt = performance.now();
      const targetHost = target.#open();
      return migrated(await this.#run((h) => h.migrate(id, targetHost)), 'live', startedAt);
    }
    if (opts.mode === 'live') throw HypervisorError.OPERATION_UNSUPPORTED('live migration to a non-simulated host');
    return copyMigrate(this, copyTarget(target), id);
  }

  async fenceAt(id: string, deadlineMs: number): Promise<boolean> {
    this.#open();
    return this.#fence.set(id, deadlineMs);
  }

  /** A simulated guest has no console. */
  async consoleLog(id: string): Promise<string> {
    throw HypervisorError.OPERATION_UNSUPPORTED(`the simulated host has no console for ${id}`);
  }

  /** Simulated NICs obtain no address. */
  async nicAddresses(): Promise<NicAddresses[]> {
    return [];
  }

  /** A simulated host keeps no images. */
  async images(): Promise<CatalogueImage[]> {
    return [];
  }

  watch(listener: DomainListener, opts?: WatchOptions): () => void {
    return this.#poller.watch(listener, opts);
  }

  poll(): Promise<DomainEvent[]> {
    return this.#poller.poll();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#poller.close();
    this.#fence.close();
  }

  #open(): SimHost {
    if (this.#closed) throw HypervisorError.CLOSED('simulated hypervisor');
    return this.host;
  }

  /** `sampled`: a read of domain state or load, before which the load file is checked. */
  async #run<T>(op: (host: SimHost) => T, sampled = false): Promise<T> {
    const host = this.#open();
    // Deadlines that passed while the process was frozen apply before anything reads or acts.
    this.#fence.apply();
    if (sampled) this.loadFile?.apply(host);
    try {
      return op(host);
    } finally {
      this.#events?.diff(host);
    }
  }
}
