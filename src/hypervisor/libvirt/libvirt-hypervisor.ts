import { HypervisorError } from '../errors.js';
import type {
  DiskSpec,
  DomainEvent,
  DomainInfo,
  DomainListener,
  DomainSpec,
  DomainState,
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
import { copyMigrate } from '../migrate.js';
import { StatePoller } from '../watch.js';
import type { DomPtr, NetPtr, PoolPtr, VolPtr } from './binding.js';
import { isInProcessUri, LibvirtConnection, type LibvirtConnectionOptions } from './connection.js';
import {
  VIR_DOMAIN_AFFECT_CONFIG,
  VIR_DOMAIN_AFFECT_LIVE,
  VIR_DOMAIN_MEM_MAXIMUM,
  VIR_DOMAIN_REBOOT_ACPI_POWER_BTN,
  VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN,
  VIR_DOMAIN_STATE,
  VIR_DOMAIN_UNDEFINE_MANAGED_SAVE,
  VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
  VIR_DOMAIN_VCPU_MAXIMUM,
  VIR_DOMAIN_XML_INACTIVE,
  VIR_ERR,
  VIR_MIGRATE_LIVE,
  VIR_MIGRATE_PERSIST_DEST,
  VIR_MIGRATE_UNDEFINE_SOURCE,
  VIR_UUID_STRING_BUFLEN,
} from './constants.js';
import {
  diskXml,
  domainXml,
  findDevice,
  networkXml,
  nextTarget,
  nicXml,
  parseDomainXml,
  rootVolumeName,
  usedTargets,
  validateSpec,
  volumeXml,
} from './domain-xml.js';
import { child, el, parseXml, serialize, textEl } from './xml.js';

/** Pool of the test driver's built-in state. */
export const DEFAULT_TEST_POOL = 'default-pool';
/** Pool used on every other URI. */
export const DEFAULT_POOL = 'default';
/** Virtual size of the overlay a domain with an image boots from. */
export const DEFAULT_ROOT_DISK_GIB = 20;
/** How long a stop with pending deferred saves waits for the guest to power off. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 60_000;
const SHUTDOWN_POLL_MS = 200;
/** Domain handles kept between calls (libvirt resolves a handle by UUID on every call, so a kept one never goes stale). */
export const DEFAULT_HANDLE_CACHE_SIZE = 1024;
const GIB = 1024 ** 3;

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

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

interface RawDomainInfo {
  state: number;
  maxMem: number | bigint;
  memory: number | bigint;
  nrVirtCpu: number;
  cpuTime: number | bigint;
}

function absent(id: string): DomainInfo {
  return { id, name: '', state: 'absent', cores: 0, memoryMiB: 0, cpuTimeNs: 0, memoryUsedMiB: 0 };
}

function isActive(state: DomainState): boolean {
  return state === 'running' || state === 'paused';
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
 * Every handle looked up is freed before the call returns. Calls run on koffi's
 * worker threads except on `test:` URIs (see {@link LibvirtConnectionOptions}).
 */
export class LibvirtHypervisor implements Hypervisor {
  readonly uri: string;
  readonly connection: LibvirtConnection;
  readonly pool: string;
  readonly domainType: string;
  readonly #rootDiskGiB: number;
  readonly #shutdownTimeoutMs: number;
  readonly #poller: StatePoller;
  /** Snapshots to take when the domain next stops, by domain id. */
  readonly #deferredSaves = new Map<string, string[]>();
  readonly #handles = new Map<string, DomPtr>();
  readonly #handleCacheSize: number;
  #closing: Promise<void> | undefined;

  private constructor(connection: LibvirtConnection, opts: LibvirtHypervisorOptions) {
    const inProcess = isInProcessUri(connection.uri);
    this.uri = connection.uri;
    this.connection = connection;
    this.pool = opts.pool ?? (inProcess ? DEFAULT_TEST_POOL : DEFAULT_POOL);
    this.domainType = opts.domainType ?? (inProcess ? 'test' : 'kvm');
    this.#rootDiskGiB = opts.rootDiskGiB ?? DEFAULT_ROOT_DISK_GIB;
    this.#shutdownTimeoutMs = opts.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
    this.#handleCacheSize = opts.handleCacheSize ?? DEFAULT_HANDLE_CACHE_SIZE;
    this.#poller = new StatePoller(
      () => this.listDomains(),
      opts.pollIntervalMs === undefined ? {} : { intervalMs: opts.pollIntervalMs },
    );
  }

  /** Connects to `uri`; fails with UNREACHABLE (503) when libvirt cannot be reached. */
  static async open(uri: string, opts: LibvirtHypervisorOptions = {}): Promise<LibvirtHypervisor> {
    return new LibvirtHypervisor(await LibvirtConnection.open(uri, opts), opts);
  }

  get #fn() {
    return this.connection.binding.fn;
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

  async defineDomain(spec: DomainSpec): Promise<DomainInfo> {
    validateSpec(spec);
    if (await this.#exists('virDomainLookupByUUIDString', spec.id, VIR_ERR.NO_DOMAIN, 'virDomainFree')) {
      throw HypervisorError.ALREADY_EXISTS(`domain ${spec.id}`);
    }
    if (await this.#exists('virDomainLookupByName', spec.name, VIR_ERR.NO_DOMAIN, 'virDomainFree')) {
      throw HypervisorError.ALREADY_EXISTS(`domain named ${spec.name}`);
    }
    for (const nic of spec.nics) await this.#requireNetwork(nic.network);
    for (const disk of spec.disks) await this.volumeInfo(disk.volume);
    const xml = domainXml(spec, { domainType: this.domainType, pool: this.pool });
    if (spec.image !== undefined) {
      const backing = { path: spec.image.path, format: spec.image.format ?? 'qcow2' };
      await this.#createVolume(volumeXml({ name: rootVolumeName(spec), sizeGiB: this.#rootDiskGiB }, backing));
    }
    try {
      await this.#defineXml(xml, spec.id);
    } catch (err) {
      if (spec.image !== undefined) await this.deleteVolume(rootVolumeName(spec)).catch(() => {});
      throw err;
    }
    return { id: spec.id, name: spec.name, state: 'shutoff', cores: spec.cores, memoryMiB: spec.memoryMiB, cpuTimeNs: 0, memoryUsedMiB: 0 };
  }

  async startDomain(id: string): Promise<void> {
    await this.#transition(id, 'start', ['shutoff', 'crashed', 'saved'], (dom) =>
      this.connection.int('virDomainCreate', [dom], `start ${id}`),
    );
  }

  async stopDomain(id: string, method: StopMethod): Promise<void> {
    const from: DomainState[] = method === 'poweroff' ? ['running', 'paused', 'crashed'] : ['running'];
    await this.#transition(id, `stop (${method})`, from, async (dom) => {
      const during = `stop ${id} (${method})`;
      if (method === 'poweroff') return this.connection.int('virDomainDestroy', [dom], during);
      if (method === 'graceful') return this.connection.int('virDomainShutdownFlags', [dom, 0], during);
      return this.#withFallback(
        () => this.connection.int('virDomainShutdownFlags', [dom, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN], during),
        () => this.connection.int('virDomainShutdownFlags', [dom, 0], during),
      );
    });
    const pending = this.#deferredSaves.get(id);
    if (pending === undefined) return;
    await this.#waitInactive(id);
    this.#deferredSaves.delete(id);
    for (const name of pending) await this.#snapshot(id, name);
  }

  async restartDomain(id: string, method: RestartMethod): Promise<void> {
    await this.#transition(id, `restart (${method})`, ['running'], (dom) => {
      const during = `restart ${id} (${method})`;
      if (method === 'cold') return this.connection.int('virDomainReset', [dom, 0], during);
      if (method === 'graceful') return this.connection.int('virDomainReboot', [dom, 0], during);
      return this.#withFallback(
        () => this.connection.int('virDomainReboot', [dom, VIR_DOMAIN_REBOOT_ACPI_POWER_BTN], during),
        () => this.connection.int('virDomainReboot', [dom, 0], during),
      );
    });
  }

  async suspendDomain(id: string, method: SuspendMethod): Promise<void> {
    await this.#transition(id, method, ['running'], (dom) =>
      method === 'suspend'
        ? this.connection.int('virDomainSuspend', [dom], `suspend ${id}`)
        : this.connection.int('virDomainManagedSave', [dom, 0], `hibernate ${id}`),
    );
  }

  async resumeDomain(id: string): Promise<void> {
    const { state } = await this.domainInfo(id);
    if (state === 'absent') throw HypervisorError.NO_DOMAIN(id);
    if (state !== 'paused' && state !== 'saved') throw HypervisorError.INVALID_STATE(`domain ${id} is ${state}`);
    await this.#onDomain(id, (dom) =>
      state === 'paused'
        ? this.connection.int('virDomainResume', [dom], `resume ${id}`)
        : this.connection.int('virDomainCreate', [dom], `restore ${id}`),
    );
  }

  async saveDomain(id: string, method: SaveMethod, name?: string): Promise<string> {
    const snapshot = name ?? `save-${Date.now().toString(36)}`;
    const { state } = await this.domainInfo(id);
    if (state === 'absent') throw HypervisorError.NO_DOMAIN(id);
    if (method === 'deferred' && isActive(state)) {
      const pending = this.#deferredSaves.get(id) ?? [];
      if (pending.includes(snapshot)) throw HypervisorError.ALREADY_EXISTS(`snapshot ${snapshot}`);
      this.#deferredSaves.set(id, [...pending, snapshot]);
    } else {
      await this.#snapshot(id, snapshot);
    }
    return snapshot;
  }

  /** Whether the domain has a snapshot of that name. */
  hasSnapshot(id: string, name: string): Promise<boolean> {
    return this.#onDomain(id, async (dom) => {
      try {
        const snap = await this.connection.handle('virDomainSnapshotLookupByName', [dom, name, 0], `snapshot ${name}`);
        this.#fn.virDomainSnapshotFree(snap);
        return true;
      } catch (err) {
        if (err instanceof HypervisorError && err.libvirtNumber === VIR_ERR.NO_DOMAIN_SNAPSHOT) return false;
        throw err;
      }
    });
  }

  async undefineDomain(id: string): Promise<void> {
    await this.#onDomain(id, async (dom) => {
      if ((await this.connection.int('virDomainIsActive', [dom], `state of ${id}`)) === 1) {
        await this.connection.int('virDomainDestroy', [dom], `destroy ${id}`);
      }
      const flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA;
      await this.connection.int('virDomainUndefineFlags', [dom, flags], `undefine ${id}`);
    });
    this.#deferredSaves.delete(id);
    this.#forget(id);
    // The overlay a domain with an image boots from is named after the domain (rootVolumeName).
    await this.#deleteVolumeIfAny(rootVolumeName({ id })).catch(() => {});
  }

  setVcpus(id: string, cores: number): Promise<void> {
    if (!Number.isInteger(cores) || cores < 1) return Promise.reject(HypervisorError.INVALID_ARG(`cores ${cores}`));
    return this.#resize(id, 'virDomainSetVcpusFlags', cores, VIR_DOMAIN_VCPU_MAXIMUM, `set ${cores} vCPUs on ${id}`);
  }

  setMemory(id: string, memoryMiB: number): Promise<void> {
    if (!Number.isInteger(memoryMiB) || memoryMiB < 1) {
      return Promise.reject(HypervisorError.INVALID_ARG(`memory ${memoryMiB} MiB`));
    }
    const kib = memoryMiB * 1024;
    return this.#resize(id, 'virDomainSetMemoryFlags', kib, VIR_DOMAIN_MEM_MAXIMUM, `set ${memoryMiB} MiB on ${id}`);
  }

  async domainInfo(id: string): Promise<DomainInfo> {
    if (!UUID.test(id)) return absent(id);
    let dom: DomPtr;
    try {
      dom = await this.#lookupDomain(id);
    } catch (err) {
      if (err instanceof HypervisorError && err.code === 'NO_DOMAIN') return absent(id);
      throw err;
    }
    try {
      return await this.#info(dom, id);
    } catch (err) {
      if (err instanceof HypervisorError && err.code === 'NO_DOMAIN') {
        this.#forget(id);
        return absent(id);
      }
      throw err;
    } finally {
      this.#fn.virDomainFree(dom);
    }
  }

  async listDomains(): Promise<DomainInfo[]> {
    const out: unknown[] = [null];
    const count = await this.connection.int('virConnectListAllDomains', [this.connection.ptr, out, 0], 'list domains');
    const doms = this.connection.binding.takeDomainArray(out[0], count);
    try {
      const infos: DomainInfo[] = [];
      for (const dom of doms) infos.push(await this.#info(dom));
      return infos;
    } finally {
      for (const dom of doms) this.#fn.virDomainFree(dom);
    }
  }

  domainDescription(id: string): Promise<DomainSpec> {
    return this.#onDomain(id, async (dom) => parseDomainXml(await this.#inactiveXml(dom, id)));
  }

  /** The domain XML as libvirt reports it (`inactive`: the persistent config). */
  domainXml(id: string, opts: { inactive?: boolean } = {}): Promise<string> {
    const flags = opts.inactive === true ? VIR_DOMAIN_XML_INACTIVE : 0;
    return this.#onDomain(id, (dom) =>
      this.connection.string('virDomainGetXMLDesc', [dom, flags], `describe ${id}`),
    );
  }

  // ---- networks ----

  async defineNetwork(spec: NetworkSpec): Promise<void> {
    const xml = networkXml(spec);
    if (await this.#exists('virNetworkLookupByName', spec.name, VIR_ERR.NO_NETWORK, 'virNetworkFree')) {
      throw HypervisorError.ALREADY_EXISTS(`network ${spec.name}`);
    }
    const net = await this.connection.handle<NetPtr>('virNetworkDefineXML', [this.connection.ptr, xml], `define network ${spec.name}`);
    this.#fn.virNetworkFree(net);
  }

  async networkUp(name: string): Promise<void> {
    await this.#networkTransition(name, false, (net) => this.connection.int('virNetworkCreate', [net], `start network ${name}`));
  }

  async networkDown(name: string): Promise<void> {
    await this.#networkTransition(name, true, (net) => this.connection.int('virNetworkDestroy', [net], `stop network ${name}`));
  }

  removeNetwork(name: string): Promise<void> {
    return this.#onNetwork(name, async (net) => {
      if ((await this.connection.int('virNetworkIsActive', [net], `state of network ${name}`)) === 1) {
        await this.connection.int('virNetworkDestroy', [net], `stop network ${name}`);
      }
      await this.connection.int('virNetworkUndefine', [net], `remove network ${name}`);
    });
  }

  networkActive(name: string): Promise<boolean> {
    return this.#onNetwork(
      name,
      async (net) => (await this.connection.int('virNetworkIsActive', [net], `state of network ${name}`)) === 1,
    );
  }

  /** The network XML as libvirt reports it. */
  networkXml(name: string): Promise<string> {
    return this.#onNetwork(name, (net) => this.connection.string('virNetworkGetXMLDesc', [net, 0], `describe network ${name}`));
  }

  // ---- volumes ----

  async createVolume(spec: VolumeSpec): Promise<VolumeInfo> {
    const xml = volumeXml(spec);
    const exists = await this.volumeInfo(spec.name).then(
      () => true,
      (err: unknown) => {
        if (err instanceof HypervisorError && err.libvirtNumber === VIR_ERR.NO_STORAGE_VOL) return false;
        throw err;
      },
    );
    if (exists) throw HypervisorError.ALREADY_EXISTS(`volume ${spec.name}`);
    return this.#createVolume(xml);
  }

  async resizeVolume(name: string, sizeGiB: number): Promise<VolumeInfo> {
    if (!(Number.isFinite(sizeGiB) && sizeGiB > 0)) throw HypervisorError.INVALID_ARG(`size ${sizeGiB} GiB`);
    const bytes = Math.round(sizeGiB * GIB);
    try {
      await this.#onVolume(name, (vol) => this.connection.int('virStorageVolResize', [vol, bytes, 0], `resize volume ${name}`));
    } catch (err) {
      // The test driver has no resize; its volumes hold no data, so re-creating one at the new size is equivalent.
      if (!(isInProcessUri(this.uri) && err instanceof HypervisorError && err.libvirtNumber === VIR_ERR.NO_SUPPORT)) {
        throw err;
      }
      await this.volumeInfo(name);
      await this.deleteVolume(name);
      return this.createVolume({ name, sizeGiB });
    }
    return this.volumeInfo(name);
  }

  async snapshotVolume(name: string, snapshotName: string): Promise<VolumeInfo> {
    const source = await this.volumeInfo(name);
    const xml = volumeXml({ name: snapshotName, sizeGiB: source.capacityGiB });
    return this.#onVolume(name, async (from) => {
      const pool = await this.#pool();
      try {
        const vol = await this.connection.handle<VolPtr>('virStorageVolCreateXMLFrom', [pool, xml, from, 0], `snapshot volume ${name}`);
        return await this.#volumeInfo(vol, snapshotName);
      } finally {
        this.#fn.virStoragePoolFree(pool);
      }
    });
  }

  async deleteVolume(name: string): Promise<void> {
    await this.#onVolume(name, (vol) => this.connection.int('virStorageVolDelete', [vol, 0], `delete volume ${name}`));
  }

  volumeInfo(name: string): Promise<VolumeInfo> {
    return this.#onVolume(name, (vol) => this.#volumeInfo(vol, name));
  }

  // ---- devices ----

  async attachInterface(domainId: string, nic: NicSpec): Promise<void> {
    await this.#requireNetwork(nic.network);
    await this.#attach(domainId, 'interface', nic.id, () => nicXml(nic));
  }

  async attachDisk(domainId: string, disk: DiskSpec): Promise<void> {
    await this.volumeInfo(disk.volume);
    await this.#attach(domainId, 'disk', disk.id, (xml) =>
      diskXml(disk, { domainType: this.domainType, pool: this.pool }, disk.target ?? nextTarget(usedTargets(xml))),
    );
  }

  detachInterface(domainId: string, nicId: string): Promise<void> {
    return this.#detach(domainId, 'interface', nicId);
  }

  detachDisk(domainId: string, diskId: string): Promise<void> {
    return this.#detach(domainId, 'disk', diskId);
  }

  // ---- migration ----

  /**
   * `live` (qemu): virDomainMigrate3 with LIVE | PERSIST_DEST | UNDEFINE_SOURCE.
   * `copy` (test driver, mixed drivers, inactive domains): the persistent XML is
   * defined on the target as is, so UUID, name, description and metadata are kept.
   */
  async migrate(id: string, target: Hypervisor, opts: MigrateOptions = {}): Promise<DomainInfo> {
    const mode = opts.mode ?? 'auto';
    const { state } = await this.domainInfo(id);
    if (state === 'absent') throw HypervisorError.NO_DOMAIN(id);
    const bothNative = target instanceof LibvirtHypervisor && !isInProcessUri(this.uri) && !isInProcessUri(target.uri);
    if (mode === 'live' || (mode === 'auto' && bothNative && isActive(state))) {
      if (!(target instanceof LibvirtHypervisor)) {
        throw HypervisorError.OPERATION_UNSUPPORTED('live migration needs a libvirt target');
      }
      await this.#onDomain(id, async (dom) => {
        const flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE;
        const moved = await this.connection.handle<DomPtr>(
          'virDomainMigrate3',
          [dom, target.connection.ptr, null, 0, flags],
          `migrate ${id} to ${target.uri}`,
        );
        this.#fn.virDomainFree(moved);
      });
      return target.domainInfo(id);
    }
    if (target instanceof LibvirtHypervisor) {
      const xml = await this.#onDomain(id, (dom) => this.#inactiveXml(dom, id));
      return copyMigrate(this, target, id, () => target.#defineXml(xml));
    }
    return copyMigrate(this, target, id);
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
      for (const id of [...this.#handles.keys()]) this.#forget(id);
      await this.connection.close();
    })();
    return this.#closing;
  }

  // ---- internals ----

  /** A handle the caller owns (and frees); served from the cache with an extra reference. */
  async #lookupDomain(id: string): Promise<DomPtr> {
    if (!UUID.test(id)) throw HypervisorError.NO_DOMAIN(id);
    const cached = this.#handles.get(id);
    if (cached !== undefined) {
      this.#fn.virDomainRef(cached);
      return cached;
    }
    const dom = await this.connection.handle<DomPtr>('virDomainLookupByUUIDString', [this.connection.ptr, id], `domain ${id}`);
    this.#fn.virDomainRef(dom);
    this.#remember(id, dom);
    return dom;
  }

  /** Keeps a reference the caller hands over in the cache, or frees it (already cached, or closing). */
  #remember(id: string, dom: DomPtr): void {
    if (this.#handles.has(id) || this.#closing !== undefined) {
      this.#fn.virDomainFree(dom);
      return;
    }
    if (this.#handles.size >= this.#handleCacheSize) this.#forget(this.#handles.keys().next().value as string);
    this.#handles.set(id, dom);
  }

  #forget(id: string): void {
    const dom = this.#handles.get(id);
    if (dom === undefined) return;
    this.#handles.delete(id);
    this.#fn.virDomainFree(dom);
  }

  /**
   * Runs a state change after checking the domain is in one of `from`. Checked
   * here because drivers disagree on the error otherwise (the test driver reports
   * an INTERNAL error where qemu reports OPERATION_INVALID).
   */
  async #transition<T>(id: string, what: string, from: DomainState[], op: (dom: DomPtr) => Promise<T>): Promise<T> {
    return this.#onDomain(id, async (dom) => {
      // virDomainIsActive is enough when `from` holds all active or all inactive states; the full info is read otherwise.
      const active = (await this.connection.int('virDomainIsActive', [dom], `state of ${id}`)) === 1;
      const candidates = from.filter((s) => isActive(s) === active);
      const decided = candidates.length === 0 || candidates.length === (active ? 2 : 3);
      const state = decided ? candidates[0] : (await this.#info(dom, id)).state;
      if (state === undefined || !from.includes(state)) {
        const now = state ?? (await this.#info(dom, id)).state;
        throw HypervisorError.INVALID_STATE(`cannot ${what} domain ${id}: it is ${now}`);
      }
      return op(dom);
    });
  }

  async #onDomain<T>(id: string, op: (dom: DomPtr) => Promise<T>): Promise<T> {
    const dom = await this.#lookupDomain(id);
    try {
      return await op(dom);
    } catch (err) {
      if (err instanceof HypervisorError && err.code === 'NO_DOMAIN') this.#forget(id);
      throw err;
    } finally {
      this.#fn.virDomainFree(dom);
    }
  }

  async #onNetwork<T>(name: string, op: (net: NetPtr) => Promise<T>): Promise<T> {
    const net = await this.connection.handle<NetPtr>('virNetworkLookupByName', [this.connection.ptr, name], `network ${name}`);
    try {
      return await op(net);
    } finally {
      this.#fn.virNetworkFree(net);
    }
  }

  /** Checked here: the test driver accepts stopping a stopped network. */
  #networkTransition(name: string, active: boolean, op: (net: NetPtr) => Promise<unknown>): Promise<unknown> {
    return this.#onNetwork(name, async (net) => {
      const now = (await this.connection.int('virNetworkIsActive', [net], `state of network ${name}`)) === 1;
      if (now !== active) throw HypervisorError.INVALID_STATE(`network ${name} is ${now ? 'already active' : 'not active'}`);
      return op(net);
    });
  }

  async #requireNetwork(name: string): Promise<void> {
    await this.#onNetwork(name, async () => undefined);
  }

  async #pool(): Promise<PoolPtr> {
    return this.connection.handle<PoolPtr>('virStoragePoolLookupByName', [this.connection.ptr, this.pool], `pool ${this.pool}`);
  }

  async #onVolume<T>(name: string, op: (vol: VolPtr) => Promise<T>): Promise<T> {
    const pool = await this.#pool();
    try {
      const vol = await this.connection.handle<VolPtr>('virStorageVolLookupByName', [pool, name], `volume ${name}`);
      try {
        return await op(vol);
      } finally {
        this.#fn.virStorageVolFree(vol);
      }
    } finally {
      this.#fn.virStoragePoolFree(pool);
    }
  }

  async #createVolume(xml: string): Promise<VolumeInfo> {
    const name = child(parseXml(xml), 'name')?.text ?? '';
    const pool = await this.#pool();
    try {
      const vol = await this.connection.handle<VolPtr>('virStorageVolCreateXML', [pool, xml, 0], `create volume ${name}`);
      try {
        return await this.#volumeInfo(vol, name);
      } finally {
        this.#fn.virStorageVolFree(vol);
      }
    } finally {
      this.#fn.virStoragePoolFree(pool);
    }
  }

  async #volumeInfo(vol: VolPtr, name: string): Promise<VolumeInfo> {
    const info: { capacity?: number | bigint; allocation?: number | bigint } = {};
    await this.connection.int('virStorageVolGetInfo', [vol, info], `volume ${name}`);
    const path = await this.connection.string('virStorageVolGetPath', [vol], `path of volume ${name}`);
    return {
      name,
      path,
      capacityGiB: Number(info.capacity ?? 0) / GIB,
      allocationGiB: Number(info.allocation ?? 0) / GIB,
    };
  }

  /** Whether a lookup finds something (freeing it); `missing` is libvirt's not-found number. */
  async #exists(
    lookup: 'virDomainLookupByUUIDString' | 'virDomainLookupByName' | 'virNetworkLookupByName',
    key: string,
    missing: number,
    free: 'virDomainFree' | 'virNetworkFree',
  ): Promise<boolean> {
    const handle = await this.connection.lookup(lookup, [this.connection.ptr, key], missing, `lookup ${key}`);
    if (handle === null) return false;
    this.#fn[free](handle);
    return true;
  }

  /** Defines a domain; with `cacheAs` (its id) the returned handle is kept for the calls that follow. */
  async #defineXml(xml: string, cacheAs?: string): Promise<void> {
    const dom = await this.connection.handle<DomPtr>('virDomainDefineXML', [this.connection.ptr, xml], 'define domain');
    if (cacheAs === undefined) this.#fn.virDomainFree(dom);
    else this.#remember(cacheAs, dom);
  }

  async #deleteVolumeIfAny(name: string): Promise<void> {
    const pool = await this.#pool();
    try {
      const vol = await this.connection.lookup<VolPtr>('virStorageVolLookupByName', [pool, name], VIR_ERR.NO_STORAGE_VOL, `volume ${name}`);
      if (vol === null) return;
      try {
        await this.connection.int('virStorageVolDelete', [vol, 0], `delete volume ${name}`);
      } finally {
        this.#fn.virStorageVolFree(vol);
      }
    } finally {
      this.#fn.virStoragePoolFree(pool);
    }
  }

  #inactiveXml(dom: DomPtr, id: string): Promise<string> {
    return this.connection.string('virDomainGetXMLDesc', [dom, VIR_DOMAIN_XML_INACTIVE], `describe ${id}`);
  }

  async #info(dom: DomPtr, knownId?: string): Promise<DomainInfo> {
    const raw: Partial<RawDomainInfo> = {};
    await this.connection.int('virDomainGetInfo', [dom, raw], 'domain info');
    let id = knownId;
    if (id === undefined) {
      const buf = Buffer.alloc(VIR_UUID_STRING_BUFLEN);
      await this.connection.int('virDomainGetUUIDString', [dom, buf], 'domain uuid');
      id = buf.toString('latin1', 0, buf.indexOf(0));
    }
    const name = (this.#fn.virDomainGetName(dom) as string | null) ?? '';
    let state = this.#state(raw.state ?? VIR_DOMAIN_STATE.NOSTATE);
    if (state === 'shutoff') {
      const saved = await this.connection.int('virDomainHasManagedSaveImage', [dom, 0], 'managed save');
      if (saved === 1) state = 'saved';
    }
    const memoryMiB = Math.floor(Number(raw.memory ?? 0) / 1024);
    return {
      id,
      name,
      state,
      cores: raw.nrVirtCpu ?? 0,
      memoryMiB,
      cpuTimeNs: Number(raw.cpuTime ?? 0),
      memoryUsedMiB: isActive(state) ? memoryMiB : 0,
    };
  }

  #state(raw: number): DomainState {
    switch (raw) {
      case VIR_DOMAIN_STATE.RUNNING:
      case VIR_DOMAIN_STATE.BLOCKED:
      case VIR_DOMAIN_STATE.SHUTDOWN:
        return 'running';
      case VIR_DOMAIN_STATE.PAUSED:
      case VIR_DOMAIN_STATE.PMSUSPENDED:
        return 'paused';
      case VIR_DOMAIN_STATE.CRASHED:
        return 'crashed';
      default:
        return 'shutoff';
    }
  }

  /** Tries `preferred`; falls back when the driver rejects its flags (the test driver has no ACPI button). */
  async #withFallback<T>(preferred: () => Promise<T>, fallback: () => Promise<T>): Promise<T> {
    try {
      return await preferred();
    } catch (err) {
      const n = err instanceof HypervisorError ? err.libvirtNumber : undefined;
      if (n === VIR_ERR.INVALID_ARG || n === VIR_ERR.NO_SUPPORT || n === VIR_ERR.ARGUMENT_UNSUPPORTED) return fallback();
      throw err;
    }
  }

  async #resize(
    id: string,
    fn: 'virDomainSetVcpusFlags' | 'virDomainSetMemoryFlags',
    value: number,
    maximumFlag: number,
    during: string,
  ): Promise<void> {
    await this.#onDomain(id, async (dom) => {
      const active = (await this.connection.int('virDomainIsActive', [dom], `state of ${id}`)) === 1;
      if (active) {
        // Two calls: some drivers (the test driver's memory setter) refuse LIVE | CONFIG together.
        await this.connection.int(fn, [dom, value, VIR_DOMAIN_AFFECT_LIVE], during);
        await this.connection.int(fn, [dom, value, VIR_DOMAIN_AFFECT_CONFIG], during);
        return;
      }
      // While shut off the maximum may move too; shrink the current value first so it never exceeds it.
      await this.connection.int(fn, [dom, value, VIR_DOMAIN_AFFECT_CONFIG | maximumFlag], during).catch(async () => {
        await this.connection.int(fn, [dom, value, VIR_DOMAIN_AFFECT_CONFIG], during);
        await this.connection.int(fn, [dom, value, VIR_DOMAIN_AFFECT_CONFIG | maximumFlag], during);
      });
      await this.connection.int(fn, [dom, value, VIR_DOMAIN_AFFECT_CONFIG], during);
    });
  }

  async #snapshot(id: string, name: string): Promise<void> {
    const xml = el('domainsnapshot', {}, textEl('name', name));
    await this.#onDomain(id, async (dom) => {
      const snap = await this.connection.handle('virDomainSnapshotCreateXML', [dom, xml, 0], `snapshot ${id} as ${name}`);
      this.#fn.virDomainSnapshotFree(snap);
    });
  }

  async #waitInactive(id: string): Promise<void> {
    const deadline = Date.now() + this.#shutdownTimeoutMs;
    for (;;) {
      const { state } = await this.domainInfo(id);
      if (!isActive(state)) return;
      if (Date.now() >= deadline) throw HypervisorError.INVALID_STATE(`domain ${id} did not stop in time`);
      await new Promise((resolve) => setTimeout(resolve, SHUTDOWN_POLL_MS));
    }
  }

  /**
   * Attaches to the persistent config, and to the running domain when active.
   * Drivers without hotplug (the test driver) get the persistent config redefined:
   * the device appears in the inactive XML and in the live one after a restart.
   */
  async #attach(domainId: string, kind: 'disk' | 'interface', id: string, device: (xml: string) => string): Promise<void> {
    await this.#onDomain(domainId, async (dom) => {
      const xml = await this.#inactiveXml(dom, domainId);
      if (findDevice(xml, kind, id) !== undefined) throw HypervisorError.ALREADY_EXISTS(`${kind} ${id}`);
      const deviceXml = device(xml);
      const live = (await this.connection.int('virDomainIsActive', [dom], `state of ${domainId}`)) === 1;
      const flags = VIR_DOMAIN_AFFECT_CONFIG | (live ? VIR_DOMAIN_AFFECT_LIVE : 0);
      try {
        await this.connection.int('virDomainAttachDeviceFlags', [dom, deviceXml, flags], `attach ${kind} ${id}`);
      } catch (err) {
        if (!(err instanceof HypervisorError && err.libvirtNumber === VIR_ERR.NO_SUPPORT)) throw err;
        const doc = parseXml(xml);
        child(doc, 'devices')?.children.push(parseXml(deviceXml));
        await this.#defineXml(serialize(doc));
      }
    });
  }

  async #detach(domainId: string, kind: 'disk' | 'interface', id: string): Promise<void> {
    await this.#onDomain(domainId, async (dom) => {
      const xml = await this.#inactiveXml(dom, domainId);
      const device = findDevice(xml, kind, id);
      if (device === undefined) throw HypervisorError.NO_DEVICE(`${kind} ${id} on domain ${domainId}`);
      const live = (await this.connection.int('virDomainIsActive', [dom], `state of ${domainId}`)) === 1;
      const flags = VIR_DOMAIN_AFFECT_CONFIG | (live ? VIR_DOMAIN_AFFECT_LIVE : 0);
      try {
        await this.connection.int('virDomainDetachDeviceFlags', [dom, serialize(device), flags], `detach ${kind} ${id}`);
      } catch (err) {
        if (!(err instanceof HypervisorError && err.libvirtNumber === VIR_ERR.NO_SUPPORT)) throw err;
        const doc = parseXml(xml);
        const devices = child(doc, 'devices');
        if (devices !== undefined) {
          devices.children = devices.children.filter((c) => !(c.name === kind && c.children.some((a) => a.name === 'alias' && a.attrs.name === `ua-${id}`)));
        }
        await this.#defineXml(serialize(doc));
      }
    });
  }
}
