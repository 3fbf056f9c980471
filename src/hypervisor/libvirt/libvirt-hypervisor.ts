/** The libvirt driver: its options and defaults, the wiring of its parts, host capacity and usage, state watching. */
import type {
  DiskSpec,
  DomainEvent,
  DomainInfo,
  DomainListener,
  DomainSpec,
  HostCapacity,
  HostUsage,
  Hypervisor,
  MigrateOptions,
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
import { StatePoller } from '../watch.js';
import { isInProcessUri, LibvirtConnection, type LibvirtConnectionOptions } from './connection.js';
import { LibvirtDevices } from './devices.js';
import { DomainHandles } from './domain-handles.js';
import { domainInfo, isActive, listDomains } from './domain-state.js';
import { LibvirtDomains } from './domains.js';
import { migrateDomain, type LibvirtEnd } from './migration.js';
import { LibvirtNetworks } from './networks.js';
import { DomainSnapshots } from './snapshots.js';
import { LibvirtStorage } from './storage.js';

/** Pool of the test driver's built-in state. */
export const DEFAULT_TEST_POOL = 'default-pool';
/** Pool used on every other URI. */
export const DEFAULT_POOL = 'default';
/** Virtual size of the overlay a domain with an image boots from. */
export const DEFAULT_ROOT_DISK_GIB = 20;
/** How long a stop with pending deferred saves waits for the guest to power off. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 60_000;
/** Domain handles kept between calls (libvirt resolves a handle by UUID on every call, so a kept one never goes stale). */
export const DEFAULT_HANDLE_CACHE_SIZE = 1024;

export interface LibvirtHypervisorOptions extends LibvirtConnectionOptions {
  /** Storage pool for volumes: `default-pool` on `test:` URIs, `default` elsewhere. */
  pool?: string;
  /** `<domain type>`: `test` on `test:` URIs, `kvm` elsewhere. */
  domainType?: string;
  rootDiskGiB?: number;
  shutdownTimeoutMs?: number;
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
  readonly #handles: DomainHandles;
  readonly #networks: LibvirtNetworks;
  readonly #storage: LibvirtStorage;
  readonly #snapshots: DomainSnapshots;
  readonly #domains: LibvirtDomains;
  readonly #devices: LibvirtDevices;
  readonly #poller: StatePoller;
  #closing: Promise<void> | undefined;

  private constructor(connection: LibvirtConnection, opts: LibvirtHypervisorOptions) {
    const inProcess = isInProcessUri(connection.uri);
    this.uri = connection.uri;
    this.connection = connection;
    this.pool = opts.pool ?? (inProcess ? DEFAULT_TEST_POOL : DEFAULT_POOL);
    this.domainType = opts.domainType ?? (inProcess ? 'test' : 'kvm');
    const xmlContext = { domainType: this.domainType, pool: this.pool };
    const handles = new DomainHandles(connection, opts.handleCacheSize ?? DEFAULT_HANDLE_CACHE_SIZE);
    const networks = new LibvirtNetworks(connection);
    const storage = new LibvirtStorage(connection, this.pool, opts.rootDiskGiB ?? DEFAULT_ROOT_DISK_GIB);
    const snapshots = new DomainSnapshots(handles, opts.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS);
    const domains = new LibvirtDomains({ handles, networks, storage, snapshots, xmlContext });
    this.#handles = handles;
    this.#networks = networks;
    this.#storage = storage;
    this.#snapshots = snapshots;
    this.#domains = domains;
    this.#devices = new LibvirtDevices({ handles, domains, networks, storage, xmlContext });
    this.#poller = new StatePoller(
      () => this.listDomains(),
      opts.pollIntervalMs === undefined ? {} : { intervalMs: opts.pollIntervalMs },
    );
  }

  /** Connects to `uri`; fails with UNREACHABLE (503) when libvirt cannot be reached. */
  static async open(uri: string, opts: LibvirtHypervisorOptions = {}): Promise<LibvirtHypervisor> {
    return new LibvirtHypervisor(await LibvirtConnection.open(uri, opts), opts);
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

  domainInfo(id: string): Promise<DomainInfo> {
    return domainInfo(this.#handles, id);
  }

  listDomains(): Promise<DomainInfo[]> {
    return listDomains(this.connection);
  }

  domainDescription(id: string): Promise<DomainSpec> {
    return this.#domains.description(id);
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

  /** Live between two libvirt daemons, by copy otherwise (see {@link migrateDomain}). */
  migrate(id: string, target: Hypervisor, opts: MigrateOptions = {}): Promise<DomainInfo> {
    const libvirtTarget = target instanceof LibvirtHypervisor ? target.#end : undefined;
    return migrateDomain(this.#end, id, target, libvirtTarget, opts);
  }

  /** This host as one end of a migration. */
  get #end(): LibvirtEnd {
    return { hypervisor: this, handles: this.#handles, domains: this.#domains };
  }

  // ---- state changes ----

  watch(listener: DomainListener, opts?: WatchOptions): () => void {
    return this.#poller.watch(listener, opts);
  }

  poll(): Promise<DomainEvent[]> {
    return this.#poller.poll();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#poller.close();
      this.#handles.close();
      await this.connection.close();
    })();
    return this.#closing;
  }
}
