import { HypervisorError } from '../errors.js';
import type {
  DiskSpec,
  DomainInfo,
  DomainSpec,
  DomainState,
  HostCapacity,
  HostUsage,
  NicSpec,
  RestartMethod,
  SaveMethod,
  StopMethod,
  SuspendMethod,
} from '../hypervisor.js';
import { SimResources } from './sim-resources.js';

export const DEFAULT_SIM_CORES = 16;
export const DEFAULT_SIM_MEMORY_MIB = 32_768;
/** Allocated vCPUs may exceed host cores by this factor (memory is never overcommitted). */
export const DEFAULT_CPU_OVERCOMMIT = 1;

export interface SimHostOptions {
  cores?: number;
  memoryMiB?: number;
  cpuOvercommit?: number;
  /** Clock in ms, injected so simulations are deterministic. */
  now?: () => number;
}

/** Load a VM puts on its host (test and simulation hook). */
export interface SimLoad {
  /** CPU use in percent of one core: 250 = two and a half cores busy. */
  cpuPercentOfCore: number;
  memoryMiB: number;
}

/** A VM as the simulated host holds it; moved whole between hosts on migration. */
export interface SimVm {
  spec: DomainSpec;
  state: DomainState;
  load: SimLoad;
  cpuTimeNs: number;
  /** Clock reading when cpuTimeNs was last brought up to date. */
  accountedAt: number;
  snapshots: string[];
  deferredSaves: string[];
}

const ACTIVE: ReadonlySet<DomainState> = new Set(['running', 'paused']);

function clone<T>(value: T): T {
  return structuredClone(value);
}

/**
 * In-memory host with CPU and memory capacity and per-VM load. Synchronous and
 * allocation-free on the hot paths so a simulation can hold thousands of hosts;
 * {@link SimulatedHypervisor} is its async facade.
 */
export class SimHost {
  readonly cores: number;
  readonly memoryMiB: number;
  readonly cpuOvercommit: number;
  readonly #now: () => number;
  readonly #vms = new Map<string, SimVm>();
  readonly #names = new Map<string, string>();
  /** The host's networks and volumes. */
  readonly resources = new SimResources();
  #allocatedCores = 0;
  #allocatedMemoryMiB = 0;

  constructor(opts: SimHostOptions = {}) {
    this.cores = opts.cores ?? DEFAULT_SIM_CORES;
    this.memoryMiB = opts.memoryMiB ?? DEFAULT_SIM_MEMORY_MIB;
    this.cpuOvercommit = opts.cpuOvercommit ?? DEFAULT_CPU_OVERCOMMIT;
    this.#now = opts.now ?? Date.now;
  }

  capacity(): HostCapacity {
    return { cores: this.cores, memoryMiB: this.memoryMiB };
  }

  usage(): HostUsage {
    const domains = this.listDomains().filter((d) => ACTIVE.has(d.state));
    return { cores: this.#allocatedCores, memoryMiB: this.#allocatedMemoryMiB, domains };
  }

  /** Sum of the load of active VMs: what a scheduler watches for overload. */
  load(): SimLoad {
    let cpuPercentOfCore = 0;
    let memoryMiB = 0;
    for (const vm of this.#vms.values()) {
      if (!ACTIVE.has(vm.state)) continue;
      if (vm.state === 'running') cpuPercentOfCore += vm.load.cpuPercentOfCore;
      memoryMiB += vm.load.memoryMiB;
    }
    return { cpuPercentOfCore, memoryMiB };
  }

  /**
   * Test and simulation hook: sets the load a VM puts on the host.
   * `cpuPercentOfCore` is bounded by the VM's vCPUs × 100, `memoryMiB` by its memory.
   */
  setLoad(id: string, cpuPercentOfCore: number, memoryMiB: number): void {
    const vm = this.#vm(id);
    if (!(cpuPercentOfCore >= 0 && cpuPercentOfCore <= vm.spec.cores * 100)) {
      throw HypervisorError.INVALID_ARG(`cpu load ${cpuPercentOfCore}% outside 0..${vm.spec.cores * 100}`);
    }
    if (!(memoryMiB >= 0 && memoryMiB <= vm.spec.memoryMiB)) {
      throw HypervisorError.INVALID_ARG(`memory load ${memoryMiB} MiB outside 0..${vm.spec.memoryMiB}`);
    }
    this.#account(vm);
    vm.load = { cpuPercentOfCore, memoryMiB };
  }

  defineDomain(spec: DomainSpec): DomainInfo {
    validateSpec(spec);
    if (this.#vms.has(spec.id)) throw HypervisorError.ALREADY_EXISTS(`domain ${spec.id}`);
    if (this.#names.has(spec.name)) throw HypervisorError.ALREADY_EXISTS(`domain named ${spec.name}`);
    for (const nic of spec.nics) this.resources.network(nic.network);
    for (const disk of spec.disks) this.resources.volume(disk.volume);
    this.insert({
      spec: clone(spec),
      state: 'shutoff',
      load: { cpuPercentOfCore: 0, memoryMiB: 0 },
      cpuTimeNs: 0,
      accountedAt: this.#now(),
      snapshots: [],
      deferredSaves: [],
    });
    return this.domainInfo(spec.id);
  }

  startDomain(id: string): void {
    const vm = this.#vm(id);
    if (vm.state !== 'shutoff' && vm.state !== 'crashed' && vm.state !== 'saved') {
      throw HypervisorError.INVALID_STATE(`domain ${id} is ${vm.state}`);
    }
    this.#activate(vm);
  }

  stopDomain(id: string, method: StopMethod): void {
    const vm = this.#vm(id);
    if (method !== 'poweroff' && vm.state !== 'running') {
      throw HypervisorError.INVALID_STATE(`domain ${id} is ${vm.state}`);
    }
    if (!ACTIVE.has(vm.state)) throw HypervisorError.INVALID_STATE(`domain ${id} is ${vm.state}`);
    this.#deactivate(vm, 'shutoff');
    vm.snapshots.push(...vm.deferredSaves.splice(0));
  }

  restartDomain(id: string, _method: RestartMethod): void {
    const vm = this.#vm(id);
    if (vm.state !== 'running') throw HypervisorError.INVALID_STATE(`domain ${id} is ${vm.state}`);
    this.#account(vm);
  }

  suspendDomain(id: string, method: SuspendMethod): void {
    const vm = this.#vm(id);
    if (vm.state !== 'running') throw HypervisorError.INVALID_STATE(`domain ${id} is ${vm.state}`);
    if (method === 'suspend') {
      this.#account(vm);
      vm.state = 'paused';
    } else {
      this.#deactivate(vm, 'saved');
    }
  }

  resumeDomain(id: string): void {
    const vm = this.#vm(id);
    if (vm.state === 'paused') {
      vm.accountedAt = this.#now();
      vm.state = 'running';
    } else if (vm.state === 'saved') {
      this.#activate(vm);
    } else {
      throw HypervisorError.INVALID_STATE(`domain ${id} is ${vm.state}`);
    }
  }

  saveDomain(id: string, method: SaveMethod, name?: string): string {
    const vm = this.#vm(id);
    const snapshot = name ?? `snapshot-${vm.snapshots.length + vm.deferredSaves.length + 1}`;
    if (vm.snapshots.includes(snapshot) || vm.deferredSaves.includes(snapshot)) {
      throw HypervisorError.ALREADY_EXISTS(`snapshot ${snapshot}`);
    }
    if (method === 'deferred' && ACTIVE.has(vm.state)) vm.deferredSaves.push(snapshot);
    else vm.snapshots.push(snapshot);
    return snapshot;
  }

  snapshots(id: string): string[] {
    return [...this.#vm(id).snapshots];
  }

  undefineDomain(id: string): void {
    this.extract(id);
  }

  setVcpus(id: string, cores: number): void {
    const vm = this.#vm(id);
    if (!Number.isInteger(cores) || cores < 1) throw HypervisorError.INVALID_ARG(`cores ${cores}`);
    if (ACTIVE.has(vm.state)) this.#checkFits(cores - vm.spec.cores, 0);
    this.#resize(vm, cores, vm.spec.memoryMiB);
  }

  setMemory(id: string, memoryMiB: number): void {
    const vm = this.#vm(id);
    if (!Number.isInteger(memoryMiB) || memoryMiB < 1) throw HypervisorError.INVALID_ARG(`memory ${memoryMiB}`);
    if (ACTIVE.has(vm.state)) this.#checkFits(0, memoryMiB - vm.spec.memoryMiB);
    this.#resize(vm, vm.spec.cores, memoryMiB);
  }

  domainInfo(id: string): DomainInfo {
    const vm = this.#vms.get(id);
    if (vm === undefined) {
      return { id, name: '', state: 'absent', cores: 0, memoryMiB: 0, cpuTimeNs: 0, memoryUsedMiB: 0 };
    }
    this.#account(vm);
    return {
      id,
      name: vm.spec.name,
      state: vm.state,
      cores: vm.spec.cores,
      memoryMiB: vm.spec.memoryMiB,
      cpuTimeNs: vm.cpuTimeNs,
      memoryUsedMiB: ACTIVE.has(vm.state) ? vm.load.memoryMiB : 0,
    };
  }

  listDomains(): DomainInfo[] {
    return [...this.#vms.keys()].map((id) => this.domainInfo(id));
  }

  domainDescription(id: string): DomainSpec {
    return clone(this.#vm(id).spec);
  }

  has(id: string): boolean {
    return this.#vms.has(id);
  }

  attachInterface(domainId: string, nic: NicSpec): void {
    const vm = this.#vm(domainId);
    this.resources.network(nic.network);
    if (vm.spec.nics.some((n) => n.id === nic.id)) throw HypervisorError.ALREADY_EXISTS(`interface ${nic.id}`);
    vm.spec.nics.push({ ...nic });
  }

  detachInterface(domainId: string, nicId: string): void {
    const vm = this.#vm(domainId);
    const at = vm.spec.nics.findIndex((n) => n.id === nicId);
    if (at < 0) throw HypervisorError.NO_DEVICE(`interface ${nicId} on domain ${domainId}`);
    vm.spec.nics.splice(at, 1);
  }

  attachDisk(domainId: string, disk: DiskSpec): void {
    const vm = this.#vm(domainId);
    this.resources.volume(disk.volume);
    if (vm.spec.disks.some((d) => d.id === disk.id)) throw HypervisorError.ALREADY_EXISTS(`disk ${disk.id}`);
    vm.spec.disks.push({ ...disk });
  }

  detachDisk(domainId: string, diskId: string): void {
    const vm = this.#vm(domainId);
    const at = vm.spec.disks.findIndex((d) => d.id === diskId);
    if (at < 0) throw HypervisorError.NO_DEVICE(`disk ${diskId} on domain ${domainId}`);
    vm.spec.disks.splice(at, 1);
  }

  /** Removes a VM and hands it over whole (migration source side). */
  extract(id: string): SimVm {
    const vm = this.#vm(id);
    if (ACTIVE.has(vm.state)) this.#deactivate(vm, 'shutoff');
    this.#vms.delete(id);
    this.#names.delete(vm.spec.name);
    return vm;
  }

  /** Adopts a VM in the state it arrives in (migration target side). */
  insert(vm: SimVm): void {
    if (this.#vms.has(vm.spec.id)) throw HypervisorError.ALREADY_EXISTS(`domain ${vm.spec.id}`);
    if (this.#names.has(vm.spec.name)) throw HypervisorError.ALREADY_EXISTS(`domain named ${vm.spec.name}`);
    const state = vm.state;
    if (ACTIVE.has(state)) this.#checkFits(vm.spec.cores, vm.spec.memoryMiB);
    this.#vms.set(vm.spec.id, vm);
    this.#names.set(vm.spec.name, vm.spec.id);
    vm.accountedAt = this.#now();
    if (ACTIVE.has(state)) {
      this.#allocatedCores += vm.spec.cores;
      this.#allocatedMemoryMiB += vm.spec.memoryMiB;
    }
  }

  /** Moves a VM to `target`, keeping its state, load and snapshots. */
  migrate(id: string, target: SimHost): DomainInfo {
    if (target === this) throw HypervisorError.INVALID_ARG('migration target is the source host');
    const vm = this.#vm(id);
    const state = vm.state;
    if (target.has(id)) throw HypervisorError.ALREADY_EXISTS(`domain ${id} on the target`);
    if (ACTIVE.has(state)) target.#checkFits(vm.spec.cores, vm.spec.memoryMiB);
    this.extract(id);
    vm.state = state;
    target.insert(vm);
    return target.domainInfo(id);
  }

  #vm(id: string): SimVm {
    const vm = this.#vms.get(id);
    if (vm === undefined) throw HypervisorError.NO_DOMAIN(id);
    return vm;
  }

  #checkFits(cores: number, memoryMiB: number): void {
    if (this.#allocatedMemoryMiB + memoryMiB > this.memoryMiB) {
      throw HypervisorError.INSUFFICIENT_CAPACITY(
        `needs ${memoryMiB} MiB, ${this.memoryMiB - this.#allocatedMemoryMiB} MiB free`,
      );
    }
    if (this.#allocatedCores + cores > this.cores * this.cpuOvercommit) {
      throw HypervisorError.INSUFFICIENT_CAPACITY(
        `needs ${cores} cores, ${this.cores * this.cpuOvercommit - this.#allocatedCores} free`,
      );
    }
  }

  #activate(vm: SimVm): void {
    this.#checkFits(vm.spec.cores, vm.spec.memoryMiB);
    this.#allocatedCores += vm.spec.cores;
    this.#allocatedMemoryMiB += vm.spec.memoryMiB;
    vm.state = 'running';
    vm.cpuTimeNs = 0;
    vm.accountedAt = this.#now();
  }

  #deactivate(vm: SimVm, state: DomainState): void {
    this.#account(vm);
    this.#allocatedCores -= vm.spec.cores;
    this.#allocatedMemoryMiB -= vm.spec.memoryMiB;
    vm.state = state;
  }

  #resize(vm: SimVm, cores: number, memoryMiB: number): void {
    if (ACTIVE.has(vm.state)) {
      this.#allocatedCores += cores - vm.spec.cores;
      this.#allocatedMemoryMiB += memoryMiB - vm.spec.memoryMiB;
    }
    this.#account(vm);
    vm.spec.cores = cores;
    vm.spec.memoryMiB = memoryMiB;
    vm.load = {
      cpuPercentOfCore: Math.min(vm.load.cpuPercentOfCore, cores * 100),
      memoryMiB: Math.min(vm.load.memoryMiB, memoryMiB),
    };
  }

  /** Brings cpuTimeNs up to date: running time × load. */
  #account(vm: SimVm): void {
    const now = this.#now();
    if (vm.state === 'running') {
      vm.cpuTimeNs += Math.max(0, now - vm.accountedAt) * 1e6 * (vm.load.cpuPercentOfCore / 100);
    }
    vm.accountedAt = now;
  }
}

function validateSpec(spec: DomainSpec): void {
  if (spec.id === '' || spec.name === '') throw HypervisorError.INVALID_ARG('domain id and name are required');
  if (!Number.isInteger(spec.cores) || spec.cores < 1) throw HypervisorError.INVALID_ARG(`cores ${spec.cores}`);
  if (!Number.isInteger(spec.memoryMiB) || spec.memoryMiB < 1) {
    throw HypervisorError.INVALID_ARG(`memory ${spec.memoryMiB}`);
  }
}

