/** Domain lifecycle: define, start, stop, restart, suspend, resume, undefine, vCPU and memory changes, the domain XML. */
import { rmSync } from 'node:fs';
import { HypervisorError } from '../errors.js';
import type { DomainInfo, DomainSpec, DomainState, LiveLimits, RestartMethod, StopMethod, SuspendMethod } from '../hypervisor.js';
import type { DomPtr } from './binding.js';
import type { LibvirtConnection } from './connection.js';
import {
  VIR_DOMAIN_AFFECT_CONFIG,
  VIR_DOMAIN_AFFECT_LIVE,
  VIR_DOMAIN_MEM_MAXIMUM,
  VIR_DOMAIN_REBOOT_ACPI_POWER_BTN,
  VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN,
  VIR_DOMAIN_UNDEFINE_MANAGED_SAVE,
  VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
  VIR_DOMAIN_VCPU_MAXIMUM,
  VIR_DOMAIN_XML_INACTIVE,
  VIR_ERR,
} from './constants.js';
import type { DomainHandles } from './domain-handles.js';
import { domainInfo, domainIsActive, requireState } from './domain-state.js';
import { consoleLogPath, domainXml, parseDomainXml, sizeBytes, validateSpec, type DomainXmlContext } from './domain-xml.js';
import { child, parseXml, textOf } from './xml.js';
import type { LibvirtNetworks } from './networks.js';
import type { DomainSnapshots } from './snapshots.js';
import type { LibvirtStorage } from './storage.js';

export interface LibvirtDomainsParts {
  handles: DomainHandles;
  networks: LibvirtNetworks;
  storage: LibvirtStorage;
  snapshots: DomainSnapshots;
  /** What the domain XML says of the host: `<domain type>` and the pool disks refer to. */
  xmlContext: DomainXmlContext;
  /** How long a guest asked to stop may take before it is powered off. */
  stopTimeoutMs: number;
}

/** How often a stop checks whether the guest has powered itself off. */
const STOP_POLL_MS = 100;

export class LibvirtDomains {
  readonly #connection: LibvirtConnection;
  readonly #handles: DomainHandles;
  readonly #networks: LibvirtNetworks;
  readonly #storage: LibvirtStorage;
  readonly #snapshots: DomainSnapshots;
  readonly #xmlContext: DomainXmlContext;
  readonly #stopTimeoutMs: number;

  constructor(parts: LibvirtDomainsParts) {
    this.#stopTimeoutMs = parts.stopTimeoutMs;
    this.#connection = parts.handles.connection;
    this.#handles = parts.handles;
    this.#networks = parts.networks;
    this.#storage = parts.storage;
    this.#snapshots = parts.snapshots;
    this.#xmlContext = parts.xmlContext;
  }

  async define(spec: DomainSpec): Promise<DomainInfo> {
    validateSpec(spec);
    const conn = this.#connection;
    if (await conn.exists('virDomainLookupByUUIDString', [conn.ptr, spec.id], VIR_ERR.NO_DOMAIN, 'virDomainFree', `lookup ${spec.id}`)) {
      throw HypervisorError.ALREADY_EXISTS(`domain ${spec.id}`);
    }
    if (await conn.exists('virDomainLookupByName', [conn.ptr, spec.name], VIR_ERR.NO_DOMAIN, 'virDomainFree', `lookup ${spec.name}`)) {
      throw HypervisorError.ALREADY_EXISTS(`domain named ${spec.name}`);
    }
    for (const nic of spec.nics) await this.#networks.require(nic.network);
    for (const disk of spec.disks) await this.#storage.info(disk.volume);
    const xml = domainXml(spec, this.#xmlContext);
    try {
      if (spec.image !== undefined) await this.#storage.createRootOverlay(spec.id, spec.image);
      await this.#storage.createSeed(spec);
      await this.defineXml(xml, spec.id);
    } catch (err) {
      await this.#storage.deleteDomainVolumes(spec.id).catch(() => {});
      throw err;
    }
    return { id: spec.id, name: spec.name, state: 'shutoff', cores: spec.cores, memoryMiB: spec.memoryMiB, cpuTimeNs: 0, memoryUsedMiB: 0 };
  }

  /** Defines a domain from its XML; with `cacheAs` (its id) the returned handle is kept for the calls that follow. */
  async defineXml(xml: string, cacheAs?: string): Promise<void> {
    const dom = await this.#connection.handle<DomPtr>('virDomainDefineXML', [this.#connection.ptr, xml], 'define domain');
    if (cacheAs === undefined) this.#connection.binding.fn.virDomainFree(dom);
    else this.#handles.adopt(cacheAs, dom);
  }

  async start(id: string): Promise<void> {
    await this.#transition(id, 'start', ['shutoff', 'crashed', 'saved'], (dom) =>
      this.#connection.int('virDomainCreate', [dom], `start ${id}`),
    );
  }

  /** `graceful` and `acpioff` ask the guest and wait for it to power off; after the stop timeout it is powered off. */
  async stop(id: string, method: StopMethod): Promise<void> {
    const from: DomainState[] = method === 'poweroff' ? ['running', 'paused', 'crashed'] : ['running'];
    await this.#transition(id, `stop (${method})`, from, async (dom) => {
      const during = `stop ${id} (${method})`;
      if (method === 'poweroff') return this.#connection.int('virDomainDestroy', [dom], during);
      if (method === 'graceful') await this.#connection.int('virDomainShutdownFlags', [dom, 0], during);
      else {
        await this.#withFallback(
          () => this.#connection.int('virDomainShutdownFlags', [dom, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN], during),
          () => this.#connection.int('virDomainShutdownFlags', [dom, 0], during),
        );
      }
      if (await this.#poweredOffWithin(dom, id, this.#stopTimeoutMs)) return 0;
      // Not off in time: powered off, as a power cut would.
      return this.#connection.int('virDomainDestroy', [dom], `${during}: powered off after ${this.#stopTimeoutMs} ms`).catch((err: unknown) => {
        if (err instanceof HypervisorError && err.code === 'INVALID_STATE') return 0; // it went off meanwhile
        throw err;
      });
    });
    await this.#snapshots.takeDeferred(id);
  }

  async #poweredOffWithin(dom: DomPtr, id: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!(await domainIsActive(this.#connection, dom, id))) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, STOP_POLL_MS));
    }
  }

  async restart(id: string, method: RestartMethod): Promise<void> {
    await this.#transition(id, `restart (${method})`, ['running'], (dom) => {
      const during = `restart ${id} (${method})`;
      if (method === 'cold') return this.#connection.int('virDomainReset', [dom, 0], during);
      if (method === 'graceful') return this.#connection.int('virDomainReboot', [dom, 0], during);
      return this.#withFallback(
        () => this.#connection.int('virDomainReboot', [dom, VIR_DOMAIN_REBOOT_ACPI_POWER_BTN], during),
        () => this.#connection.int('virDomainReboot', [dom, 0], during),
      );
    });
  }

  async suspend(id: string, method: SuspendMethod): Promise<void> {
    await this.#transition(id, method, ['running'], (dom) =>
      method === 'suspend'
        ? this.#connection.int('virDomainSuspend', [dom], `suspend ${id}`)
        : this.#connection.int('virDomainManagedSave', [dom, 0], `hibernate ${id}`),
    );
  }

  async resume(id: string): Promise<void> {
    const { state } = await domainInfo(this.#handles, id);
    if (state === 'absent') throw HypervisorError.NO_DOMAIN(id);
    if (state !== 'paused' && state !== 'saved') throw HypervisorError.INVALID_STATE(`domain ${id} is ${state}`);
    await this.#handles.use(id, (dom) =>
      state === 'paused'
        ? this.#connection.int('virDomainResume', [dom], `resume ${id}`)
        : this.#connection.int('virDomainCreate', [dom], `restore ${id}`),
    );
  }

  async undefine(id: string): Promise<void> {
    let name: string | undefined;
    await this.#handles.use(id, async (dom) => {
      name = (this.#connection.binding.fn.virDomainGetName(dom) as string | null) ?? undefined;
      if (await domainIsActive(this.#connection, dom, id)) {
        await this.#connection.int('virDomainDestroy', [dom], `destroy ${id}`);
      }
      const flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA;
      await this.#connection.int('virDomainUndefineFlags', [dom, flags], `undefine ${id}`);
    });
    this.#snapshots.drop(id);
    this.#handles.forget(id);
    await this.#storage.deleteDomainVolumes(id).catch(() => {});
    const guest = this.#xmlContext.guest;
    if (guest !== undefined && name !== undefined) rmSync(consoleLogPath(guest, name), { force: true });
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

  /** The live domain's maximums: `<vcpu>` (its text; `current` is what it has) and `<memory>`. */
  async liveLimits(id: string): Promise<LiveLimits> {
    const dom = parseXml(await this.xml(id));
    return { cores: Number(textOf(child(dom, 'vcpu')) ?? 0), memoryMiB: Math.floor((sizeBytes(child(dom, 'memory')) ?? 0) / 1024 ** 2) };
  }

  /** The domain's description read back from its persistent config. */
  async description(id: string): Promise<DomainSpec> {
    return parseDomainXml(await this.xml(id, { inactive: true }));
  }

  /** The domain XML as libvirt reports it (`inactive`: the persistent config). */
  xml(id: string, opts: { inactive?: boolean } = {}): Promise<string> {
    const flags = opts.inactive === true ? VIR_DOMAIN_XML_INACTIVE : 0;
    return this.#handles.use(id, (dom) => this.#connection.string('virDomainGetXMLDesc', [dom, flags], `describe ${id}`));
  }

  /** Runs a state change after checking the domain is in one of `from` (see requireState). */
  #transition<T>(id: string, what: string, from: DomainState[], op: (dom: DomPtr) => Promise<T>): Promise<T> {
    return this.#handles.use(id, async (dom) => {
      await requireState(this.#connection, dom, id, what, from);
      return op(dom);
    });
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
    const conn = this.#connection;
    await this.#handles.use(id, async (dom) => {
      if (await domainIsActive(conn, dom, id)) {
        // Two calls: some drivers (the test driver's memory setter) refuse LIVE | CONFIG together.
        await conn.int(fn, [dom, value, VIR_DOMAIN_AFFECT_LIVE], during);
        await conn.int(fn, [dom, value, VIR_DOMAIN_AFFECT_CONFIG], during);
        return;
      }
      // While shut off the maximum may move too; shrink the current value first so it never exceeds it.
      await conn.int(fn, [dom, value, VIR_DOMAIN_AFFECT_CONFIG | maximumFlag], during).catch(async () => {
        await conn.int(fn, [dom, value, VIR_DOMAIN_AFFECT_CONFIG], during);
        await conn.int(fn, [dom, value, VIR_DOMAIN_AFFECT_CONFIG | maximumFlag], during);
      });
      await conn.int(fn, [dom, value, VIR_DOMAIN_AFFECT_CONFIG], during);
    });
  }
}
