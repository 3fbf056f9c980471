/** The libvirt driver: its options and defaults, the wiring of its parts, host capacity and usage, state watching. */
import { HypervisorError } from '../errors.js';
import type {
  CatalogueImage,
  DiskSpec,
  DomainEvent,
  DomainInfo,
  DomainListener,
  DomainSpec,
  HostCapacity,
  HostUsage,
  Hypervisor,
  LiveLimits,
  MigratedDomain,
  MigrateOptions,
  MigrationTarget,
  NetworkSpec,
  NicAddresses,
  NicSpec,
  RestartMethod,
  SaveMethod,
  StopMethod,
  StoragePool,
  SuspendMethod,
  VolumeInfo,
  VolumeSpec,
  WatchOptions,
} from '../hypervisor.js';
import { addToCatalogue, listCatalogue, type NewImage, removeFromCatalogue } from '../images/catalogue.js';
import { isHypervisor } from '../migrate.js';
import { StatePoller } from '../watch.js';
import { type Accelerator, chooseAccelerator } from './accelerator.js';
import { isInProcessUri, LibvirtConnection, type LibvirtConnectionOptions } from './connection.js';
import { DEFAULT_CONSOLE_LINES, tailLines } from './console-log.js';
import { LibvirtDevices } from './devices.js';
import { DomainHandles } from './domain-handles.js';
import { domainInfo, isActive, listDomains } from './domain-state.js';
import { consoleLogPath } from './domain-xml.js';
import { LibvirtDomains } from './domains.js';
import { type HostLayout, IMAGES_POOL, openHostLayout, refreshPool, VOLUMES_POOL } from './host-layout.js';
import { LeaseWatchdog } from './lease-watchdog.js';
import { migrateDomain, type LibvirtEnd, type TargetEnd } from './migration.js';
import { LibvirtNetworks } from './networks.js';
import { DomainSnapshots } from './snapshots.js';
import { LibvirtStorage } from './storage.js';

/** Pool of the test driver's built-in state. */
export const DEFAULT_TEST_POOL = 'default-pool';
/** Pool used on every other URI (host-layout.ts). */
export const DEFAULT_POOL = VOLUMES_POOL;
/** Virtual size of the overlay a domain with an image boots from. */
export const DEFAULT_ROOT_DISK_GIB = 20;
/** How long a guest asked to stop (ACPI) may take to power itself off before it is powered off; under the 60 s a request may take. */
export const DEFAULT_STOP_TIMEOUT_MS = 30_000;
/** Domain handles kept between calls (libvirt resolves a handle by UUID on every call, so a kept one never goes stale). */
export const DEFAULT_HANDLE_CACHE_SIZE = 1024;

export interface LibvirtHypervisorOptions extends LibvirtConnectionOptions {
  /** Storage pool for volumes on `test:` URIs (`default-pool`); other hosts use their layout's pools. */
  pool?: string;
  /** `<domain type>`: `test` on `test:` URIs; elsewhere `kvm` when a probe boots under KVM, else `qemu` (TCG). */
  domainType?: string;
  /** Where a host that has no layout yet gets one (host-layout.ts); default DEFAULT_HOST_DIR. */
  hostDir?: string;
  rootDiskGiB?: number;
  /** How long a graceful or ACPI stop waits for the guest before powering it off. */
  stopTimeoutMs?: number;
  /** Default period of `watch` polling. */
  pollIntervalMs?: number;
  handleCacheSize?: number;
}

/**
 * The {@link Hypervisor} on libvirt, over its C API through koffi.
 *
 * Why koffi: the `libvirt` npm package (node-libvirt) no longer compiles on
 * Node 20 (it calls V8 functions that were removed), and `@unraid/libvirt`
 * covers domains only (no networks, storage or snapshots) and loses libvirt's
 * error numbers. koffi ships its binary in the npm package, needs no compiler,
 * reaches the whole C API and keeps `virGetLastError`'s number and message.
 *
 * Works against any URI: `test:///default`, `test:///abs/path/fixture.xml`
 * (libvirt's in-process test driver; its state lives per process and per URI
 * and is lost when the last connection to it closes) and `qemu:///system`.
 * Every handle looked up is freed before the call returns, but for the domain
 * handles kept in {@link DomainHandles}. Calls run on koffi's worker threads
 * except on `test:` URIs (see {@link LibvirtConnectionOptions}).
 *
 * The work is done by one part per resource: domains (lifecycle), their state,
 * snapshots, devices, networks, storage and migration; this class wires them.
 */
export class LibvirtHypervisor implements Hypervisor {
  readonly uri: string;
  readonly connection: LibvirtConnection;
  readonly pool: string;
  readonly domainType: string;
  /** Where the host keeps images, volumes, consoles and migration sockets; undefined on the test driver. */
  readonly layout: HostLayout | undefined;
  /** KVM or TCG and why, on hosts that run guests. */
  readonly accelerator: Accelerator | undefined;
  readonly #handles: DomainHandles;
  readonly #networks: LibvirtNetworks;
  readonly #storage: LibvirtStorage;
  readonly #snapshots: DomainSnapshots;
  readonly #domains: LibvirtDomains;
  readonly #devices: LibvirtDevices;
  readonly #poller: StatePoller;
  /** Guests of the test driver live in this process and freeze with it: they need none. */
  readonly #watchdog: LeaseWatchdog | undefined;
  #closing: Promise<void> | undefined;

  private constructor(connection: LibvirtConnection, opts: LibvirtHypervisorOptions, host?: { layout: HostLayout; accelerator: Accelerator }) {
    this.uri = connection.uri;
    this.connection = connection;
    this.layout = host?.layout;
    this.accelerator = host?.accelerator;
    this.pool = host === undefined ? (opts.pool ?? DEFAULT_TEST_POOL) : DEFAULT_POOL;
    this.domainType = opts.domainType ?? host?.accelerator.domainType ?? 'test';
    const xmlContext = { domainType: this.domainType, pool: this.pool, guest: host?.layout };
    const stopTimeoutMs = opts.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    const handles = new DomainHandles(connection, opts.handleCacheSize ?? DEFAULT_HANDLE_CACHE_SIZE);
    const networks = new LibvirtNetworks(connection);
    const storage = new LibvirtStorage(connection, this.pool, opts.rootDiskGiB ?? DEFAULT_ROOT_DISK_GIB, host?.layout.volumesDir);
    const snapshots = new DomainSnapshots(handles, stopTimeoutMs);
    const domains = new LibvirtDomains({ handles, networks, storage, snapshots, xmlContext, stopTimeoutMs });
    this.#handles = handles;
    this.#networks = networks;
    this.#storage = storage;
    this.#snapshots = snapshots;
    this.#domains = domains;
    this.#devices = new LibvirtDevices({ handles, domains, networks, storage, xmlContext });
    this.#watchdog = host === undefined ? undefined : new LeaseWatchdog(this.uri, opts.library);
    this.#poller = new StatePoller(
      () => this.listDomains(),
      opts.pollIntervalMs === undefined ? {} : { intervalMs: opts.pollIntervalMs },
    );
  }

  /**
   * Connects to `uri`; fails with UNREACHABLE (503) when libvirt cannot be reached. A host that
   * runs guests gets its layout (pools, directories) if it has none yet, and its accelerator.
   */
  static async open(uri: string, opts: LibvirtHypervisorOptions = {}): Promise<LibvirtHypervisor> {
    const connection = await LibvirtConnection.open(uri, opts);
    if (isInProcessUri(uri)) return new LibvirtHypervisor(connection, opts);
    try {
      const layout = await openHostLayout(connection, opts.hostDir);
      const kernel = listCatalogue(layout.imagesDir).find((i) => i.boot !== undefined)?.boot?.kernel;
      const accelerator: Accelerator =
        opts.domainType === undefined ? await chooseAccelerator(connection, { workDir: layout.consoleDir, kernel }) : { domainType: opts.domainType as 'kvm' | 'qemu', reason: 'as configured' };
      return new LibvirtHypervisor(connection, opts, { layout, accelerator });
    } catch (err) {
      await connection.close();
      throw err;
    }
  }

  // ---- host ----

  async capacity(): Promise<HostCapacity> {
    const info: { cpus?: number; memory?: number | bigint } = {};
    await this.connection.int('virNodeGetInfo', [this.connection.ptr, info], 'node info');
    return { cores: info.cpus ?? 0, memoryMiB: Math.floor(Number(info.memory ?? 0) / 1024) };
  }

  async usage(): Promise<HostUsage> {
    const domains = (await this.listDomains()).filter((d) => isActive(d.state));
    return {
      cores: domains.reduce((sum, d) => sum + d.cores, 0),
      memoryMiB: domains.reduce((sum, d) => sum + d.memoryMiB, 0),
      domains,
    };
  }

  storagePool(): Promise<StoragePool> {
    return this.#storage.poolInfo();
  }

  // ---- domains ----

  defineDomain(spec: DomainSpec): Promise<DomainInfo> {
    return this.#domains.define(spec);
  }

  startDomain(id: string): Promise<void> {
    return this.#domains.start(id);
  }

  stopDomain(id: string, method: StopMethod): Promise<void> {
    return this.#domains.stop(id, method);
  }

  restartDomain(id: string, method: RestartMethod): Promise<void> {
    return this.#domains.restart(id, method);
  }

  suspendDomain(id: string, method: SuspendMethod): Promise<void> {
    return this.#domains.suspend(id, method);
  }

  resumeDomain(id: string): Promise<void> {
    return this.#domains.resume(id);
  }

  saveDomain(id: string, method: SaveMethod, name?: string): Promise<string> {
    return this.#snapshots.save(id, method, name);
  }

  /** Whether the domain has a snapshot of that name. */
  hasSnapshot(id: string, name: string): Promise<boolean> {
    return this.#snapshots.has(id, name);
  }

  undefineDomain(id: string): Promise<void> {
    return this.#domains.undefine(id);
  }

  setVcpus(id: string, cores: number): Promise<void> {
    return this.#domains.setVcpus(id, cores);
  }

  setMemory(id: string, memoryMiB: number): Promise<void> {
    return this.#domains.setMemory(id, memoryMiB);
  }

  liveLimits(id: string): Promise<LiveLimits> {
    return this.#domains.liveLimits(id);
  }

  domainInfo(id: string): Promise<DomainInfo> {
    return domainInfo(this.#handles, id);
  }

  listDomains(): Promise<DomainInfo[]> {
    return listDomains(this.connection);
  }

  domainDescription(id: string): Promise<DomainSpec> {
    return this.#domains.description(id);
  }

  async consoleLog(id: string, lines = DEFAULT_CONSOLE_LINES): Promise<string> {
    if (this.layout === undefined) throw HypervisorError.OPERATION_UNSUPPORTED(`${this.uri} runs no guests: domain ${id} has no console`);
    const { state, name } = await this.domainInfo(id);
    if (state === 'absent') throw HypervisorError.NO_DOMAIN(id);
    return tailLines(consoleLogPath(this.layout, name), lines);
  }

  nicAddresses(id: string): Promise<NicAddresses[]> {
    return this.#devices.nicAddresses(id);
  }

  // ---- image catalogue ----

  async images(): Promise<CatalogueImage[]> {
    return this.layout === undefined ? [] : listCatalogue(this.layout.imagesDir);
  }

  /** Copies an image into the host's catalogue (images/catalogue.ts). */
  async addImage(image: NewImage): Promise<CatalogueImage> {
    const added = await addToCatalogue(this.#imagesDir(), image);
    await refreshPool(this.connection, IMAGES_POOL);
    return added;
  }

  /** Removes an image from the catalogue; false when it has none of that name. */
  async removeImage(name: string): Promise<boolean> {
    const removed = removeFromCatalogue(this.#imagesDir(), name);
    if (removed) await refreshPool(this.connection, IMAGES_POOL);
    return removed;
  }

  #imagesDir(): string {
    if (this.layout === undefined) throw HypervisorError.OPERATION_UNSUPPORTED(`${this.uri} keeps no image catalogue`);
    return this.layout.imagesDir;
  }

  /** The domain XML as libvirt reports it (`inactive`: the persistent config). */
  domainXml(id: string, opts: { inactive?: boolean } = {}): Promise<string> {
    return this.#domains.xml(id, opts);
  }

  // ---- networks ----

  defineNetwork(spec: NetworkSpec): Promise<void> {
    return this.#networks.define(spec);
  }

  networkUp(name: string): Promise<void> {
    return this.#networks.up(name);
  }

  networkDown(name: string): Promise<void> {
    return this.#networks.down(name);
  }

  removeNetwork(name: string): Promise<void> {
    return this.#networks.remove(name);
  }

  networkActive(name: string): Promise<boolean> {
    return this.#networks.active(name);
  }

  /** The network XML as libvirt reports it. */
  networkXml(name: string): Promise<string> {
    return this.#networks.xml(name);
  }

  // ---- volumes ----

  createVolume(spec: VolumeSpec): Promise<VolumeInfo> {
    return this.#storage.create(spec);
  }

  resizeVolume(name: string, sizeGiB: number): Promise<VolumeInfo> {
    return this.#storage.resize(name, sizeGiB);
  }

  snapshotVolume(name: string, snapshotName: string): Promise<VolumeInfo> {
    return this.#storage.snapshot(name, snapshotName);
  }

  deleteVolume(name: string): Promise<void> {
    return this.#storage.delete(name);
  }

  volumeInfo(name: string): Promise<VolumeInfo> {
    return this.#storage.info(name);
  }

  // ---- devices ----

  attachInterface(domainId: string, nic: NicSpec): Promise<void> {
    return this.#devices.attachInterface(domainId, nic);
  }

  attachDisk(domainId: string, disk: DiskSpec): Promise<void> {
    return this.#devices.attachDisk(domainId, disk);
  }

  detachInterface(domainId: string, nicId: string): Promise<void> {
    return this.#devices.detachInterface(domainId, nicId);
  }

  detachDisk(domainId: string, diskId: string): Promise<void> {
    return this.#devices.detachDisk(domainId, diskId);
  }

  // ---- migration ----

  /**
   * Live between two libvirt daemons, by copy otherwise (see {@link migrateDomain}). A target
   * given by data (another node's daemon) is connected to for the move, then let go.
   */
  migrate(id: string, target: Hypervisor | MigrationTarget, opts: MigrateOptions = {}): Promise<MigratedDomain> {
    const openTarget = async (): Promise<TargetEnd> => {
      if (target instanceof LibvirtHypervisor) return { end: target.#end, close: async () => undefined };
      if (isHypervisor(target)) return { end: undefined, close: async () => undefined };
      if (target.uri === this.uri) throw HypervisorError.INVALID_ARG(`${target.uri} is this host`);
      const opened = await LibvirtHypervisor.open(target.uri, { library: this.connection.binding.path });
      return { end: opened.#end, close: () => opened.close() };
    };
    return migrateDomain(this.#end, id, target, openTarget, opts);
  }

  /** This host as one end of a migration. */
  get #end(): LibvirtEnd {
    return { hypervisor: this, handles: this.#handles, domains: this.#domains, storage: this.#storage, networks: this.#networks, layout: this.layout };
  }

  // ---- state changes ----

  watch(listener: DomainListener, opts?: WatchOptions): () => void {
    return this.#poller.watch(listener, opts);
  }

  poll(): Promise<DomainEvent[]> {
    return this.#poller.poll();
  }

  /** Lease deadlines kept by a watchdog process (lease-watchdog.ts), which a frozen node does not stop. */
  async fenceAt(id: string, deadlineMs: number): Promise<boolean> {
    return (await this.#watchdog?.set(id, deadlineMs)) ?? false;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#watchdog?.close();
      this.#poller.close();
      this.#handles.close();
      await this.connection.close();
    })();
    return this.#closing;
  }
}
