/**
 * The hypervisor interface: plain data types and the one contract every driver
 * (libvirt, simulated) implements. Units are in the field names (MiB, GiB, Ns).
 */

export type Architecture = 'x86' | 'x64';

export interface NicSpec {
  /** Stable id (OCCI link id); kept in the domain XML as the device alias `ua-<id>`. */
  id: string;
  /** libvirt network name. */
  network: string;
  mac?: string;
}

export interface DiskSpec {
  /** Stable id (OCCI link id); kept as the device alias `ua-<id>`. */
  id: string;
  /** Volume name in the driver's storage pool. */
  volume: string;
  /** Guest device name (`vdb`…); the driver picks the next free one when absent. */
  target?: string;
}

/** A kernel booted directly (qemu `-kernel`), for images without a boot loader. */
export interface DirectBoot {
  kernel: string;
  initrd?: string;
  cmdline?: string;
}

export interface ImageSpec {
  /** Path of the base image; the domain boots a copy-on-write overlay backed by it. */
  path: string;
  /** Format of the base image, `qcow2` when absent. */
  format?: string;
  boot?: DirectBoot;
}

/** One image of a host's catalogue (src/hypervisor/images/catalogue.ts). */
export interface CatalogueImage {
  name: string;
  title: string;
  path: string;
  format: string;
  boot?: DirectBoot;
}

export interface DomainSpec {
  /** UUID; also the libvirt domain UUID. */
  id: string;
  name: string;
  cores: number;
  memoryMiB: number;
  architecture?: Architecture;
  hostname?: string;
  /** Free text kept with the domain (libvirt `<description>`). */
  description?: string;
  /** os_tpl: the root disk is an overlay with this image as backing file. */
  image?: ImageSpec;
  /** Contextualization (a NoCloud config drive on hosts that run guests): the user data, decoded. */
  userData?: string;
  /** OpenSSH public keys the guest authorizes. */
  sshKeys?: string[];
  nics: NicSpec[];
  disks: DiskSpec[];
}

export type DomainState = 'running' | 'paused' | 'shutoff' | 'crashed' | 'saved' | 'absent';

export interface DomainInfo {
  id: string;
  name: string;
  state: DomainState;
  /** Allocated vCPUs. */
  cores: number;
  /** Allocated memory. */
  memoryMiB: number;
  /** CPU time consumed since the domain started. */
  cpuTimeNs: number;
  /** Memory the domain holds now (0 when not active). */
  memoryUsedMiB: number;
}

export interface HostCapacity {
  cores: number;
  memoryMiB: number;
}

/** The storage pool a host's volumes and root disks are taken from. */
export interface StoragePool {
  name: string;
  capacityGiB: number;
  /** Space still free for new volumes. */
  freeGiB: number;
  /** Size of the root disk a compute with an os_tpl gets there. */
  rootDiskGiB: number;
}

/** The most a running domain can be given without a restart. */
export interface LiveLimits {
  cores: number;
  memoryMiB: number;
}

export interface HostUsage {
  /** vCPUs allocated to active (running or paused) domains. */
  cores: number;
  /** Memory allocated to active domains. */
  memoryMiB: number;
  domains: DomainInfo[];
}

export interface NetworkSpec {
  name: string;
  /** Host bridge device, e.g. `virbr10`. */
  bridge?: string;
  /** Gateway address of the host on this network, e.g. `10.0.0.1`. */
  address?: string;
  /** e.g. `10.0.0.0/24`; its prefix length is used with `address`/`gateway`. */
  cidr?: string;
  /** Used as the host address when `address` is absent. */
  gateway?: string;
  vlan?: number;
}

export interface VolumeSpec {
  name: string;
  sizeGiB: number;
}

export interface VolumeInfo {
  name: string;
  /** Path (or key) of the volume on the host. */
  path: string;
  capacityGiB: number;
  allocationGiB: number;
}

export type StopMethod = 'graceful' | 'acpioff' | 'poweroff';
export type RestartMethod = 'graceful' | 'warm' | 'cold';
export type SuspendMethod = 'hibernate' | 'suspend';
export type SaveMethod = 'hot' | 'deferred';

export interface MigrateOptions {
  /**
   * `live`: hypervisor-native live migration (qemu). `copy`: define on the target
   * with the same description and state, then remove from the source.
   * `auto` (default): live where the driver supports it, copy otherwise.
   */
  mode?: 'auto' | 'live' | 'copy';
  /** Live migration: called about every `progressIntervalMs` with the job's progress. */
  onProgress?: (progress: MigrationProgress) => void;
  progressIntervalMs?: number;
  /** Live migration: cancelled after this long (the domain keeps running on the source). */
  timeoutMs?: number;
  /** Live migration: the longest the guest may be paused at the switch-over. */
  maxDowntimeMs?: number;
}

export interface MigrationProgress {
  elapsedMs: number;
  /** Memory and disks together. */
  totalBytes: number;
  processedBytes: number;
  remainingBytes: number;
}

/**
 * A migration target given by data, e.g. another node's libvirt daemon: the URI its daemon
 * answers at (the source daemon connects to it, peer to peer) and where its qemu listens for the
 * memory and disk streams (default: sockets in the target host's migration directory).
 */
export interface MigrationTarget {
  uri: string;
  migrationUri?: string;
  disksUri?: string;
}

/** A domain where it arrived, and how the move went. */
export interface MigratedDomain extends DomainInfo {
  migration: {
    mode: 'live' | 'copy';
    elapsedMs: number;
    /** How long the guest was paused at the switch-over, as the hypervisor measured it. */
    downtimeMs?: number;
    /** Bytes of memory and disks sent. */
    transferredBytes?: number;
  };
}

/** The addresses a guest's NIC obtained (DHCP leases of the host's networks). */
export interface NicAddresses {
  /** The NIC's id (NicSpec.id). */
  id: string;
  mac: string;
  /** `address/prefix`. */
  addresses: string[];
}

export interface DomainEvent {
  id: string;
  name: string;
  previous: DomainState;
  state: DomainState;
  /** ms since epoch when the change was observed. */
  at: number;
}

export type DomainListener = (event: DomainEvent) => void;

export interface WatchOptions {
  /** Polling period; the driver's default when absent. */
  intervalMs?: number;
}

export interface Hypervisor {
  /** `sim` for the simulated driver, the connection URI for libvirt. */
  readonly uri: string;

  capacity(): Promise<HostCapacity>;
  usage(): Promise<HostUsage>;
  /** The pool volumes are created in, now; drivers whose disk is not limited have none. */
  storagePool?(): Promise<StoragePool>;

  /** Defines (does not start) a domain; fails with ALREADY_EXISTS on a taken id or name. */
  defineDomain(spec: DomainSpec): Promise<DomainInfo>;
  startDomain(id: string): Promise<void>;
  /**
   * Stops the domain. `graceful` and `acpioff` ask the guest, which powers itself off; a guest
   * still running after the driver's stop timeout is powered off. Resolves once it is shut off.
   */
  stopDomain(id: string, method: StopMethod): Promise<void>;
  restartDomain(id: string, method: RestartMethod): Promise<void>;
  /** `suspend` pauses vCPUs (state paused); `hibernate` saves memory to disk (state saved). */
  suspendDomain(id: string, method: SuspendMethod): Promise<void>;
  /** Resumes a paused domain or restores a hibernated one. */
  resumeDomain(id: string): Promise<void>;
  /**
   * Takes a snapshot and resolves with its name. `hot`: now, without stopping the
   * domain. `deferred`: when the domain next stops (now if it is not active).
   */
  saveDomain(id: string, method: SaveMethod, name?: string): Promise<string>;
  /** Removes the domain, stopping it first if active. */
  undefineDomain(id: string): Promise<void>;
  setVcpus(id: string, cores: number): Promise<void>;
  setMemory(id: string, memoryMiB: number): Promise<void>;
  /** The most vCPUs and memory the running domain takes live; drivers that resize without a bound have none. */
  liveLimits?(id: string): Promise<LiveLimits>;
  /** Current info read from the hypervisor; state `absent` when the id is unknown. */
  domainInfo(id: string): Promise<DomainInfo>;
  listDomains(): Promise<DomainInfo[]>;
  /** The domain's description read back from the hypervisor (persistent config). */
  domainDescription(id: string): Promise<DomainSpec>;
  /** The last `lines` lines of the domain's serial console log; OPERATION_UNSUPPORTED where there is none. */
  consoleLog(id: string, lines?: number): Promise<string>;
  /** The addresses the domain's NICs obtained; empty where the hypervisor cannot tell. */
  nicAddresses(id: string): Promise<NicAddresses[]>;
  /** The host's image catalogue; empty when it keeps none. */
  images(): Promise<CatalogueImage[]>;

  defineNetwork(spec: NetworkSpec): Promise<void>;
  networkUp(name: string): Promise<void>;
  networkDown(name: string): Promise<void>;
  removeNetwork(name: string): Promise<void>;
  networkActive(name: string): Promise<boolean>;

  createVolume(spec: VolumeSpec): Promise<VolumeInfo>;
  resizeVolume(name: string, sizeGiB: number): Promise<VolumeInfo>;
  /** Point-in-time copy of the volume, as a new volume named `snapshotName`. */
  snapshotVolume(name: string, snapshotName: string): Promise<VolumeInfo>;
  deleteVolume(name: string): Promise<void>;
  volumeInfo(name: string): Promise<VolumeInfo>;

  attachInterface(domainId: string, nic: NicSpec): Promise<void>;
  detachInterface(domainId: string, nicId: string): Promise<void>;
  attachDisk(domainId: string, disk: DiskSpec): Promise<void>;
  detachDisk(domainId: string, diskId: string): Promise<void>;

  /** Moves the domain to `target`, keeping id, name, description and state. */
  migrate(id: string, target: Hypervisor | MigrationTarget, opts?: MigrateOptions): Promise<MigratedDomain>;

  /**
   * The domain stops running (it is paused) at `deadlineMs` on the monotonic clock
   * (src/lib/monotonic.ts), even if the caller stalls or dies: the lease a node holds on the
   * compute. A later call moves the deadline; `Infinity` lifts it. Drivers without it leave the
   * node to fence by itself. Answers whether the previous deadline paused the guest (so that the
   * node resumes it when the lease comes back).
   */
  fenceAt?(id: string, deadlineMs: number): Promise<boolean>;

  /** Calls `listener` for each observed state change; returns the unsubscribe function. */
  watch(listener: DomainListener, opts?: WatchOptions): () => void;
  /** Compares states now, notifies listeners and returns the changes (a sync point for tests). */
  poll(): Promise<DomainEvent[]>;

  /** Drains in-flight work and releases the connection; safe to call twice. */
  close(): Promise<void>;
}
