/**
 * The simulator's own plain-data host model (typed arrays): at 100,000 VMs it is what keeps a run
 * of one simulated hour within minutes. It tracks per-host CPU demand and the time each host
 * spends overloaded (demand > capacity).
 */
export interface ClusterOptions {
  hosts: number;
  vms: number;
  hostCpu: number;
  hostMem: number;
  vmMem: number;
  /** CPU demand of a VM at 100 % load (vCPUs × 100). */
  vmCpu: number;
}

export class SimCluster {
  readonly hosts: number;
  readonly capCpu: number;
  readonly capMem: number;
  readonly vmCpu: Float64Array;
  readonly vmMem: Float64Array;
  readonly vmHost: Int32Array;
  readonly hostCpu: Float64Array;
  readonly hostMem: Float64Array;
  readonly hostVms: Set<number>[];
  readonly alive: Uint8Array;
  readonly overSince: Float64Array;
  readonly violation: Float64Array;
  readonly migIn: Uint32Array;
  readonly migOut: Uint32Array;
  /** Called when a host becomes overloaded or its demand changes while overloaded. */
  onChange: ((host: number) => void) | null = null;
  /** Hosts over capacity now. */
  readonly over = new Set<number>();
  /** Overload episodes (a host going over capacity), and the migration floor of those that lasted long enough to need one. */
  episodes = 0;
  episodesNeedingMigration = 0;
  migrationFloorS = 0;
  /** The shortest migration (s) that would end host h's overload now; set by the simulator. */
  floorOf: ((host: number) => number) | null = null;
  private readonly episodeFloor: Float64Array;

  constructor(readonly options: ClusterOptions) {
    this.hosts = options.hosts;
    this.capCpu = options.hostCpu;
    this.capMem = options.hostMem;
    this.vmCpu = new Float64Array(options.vms);
    this.vmMem = new Float64Array(options.vms).fill(options.vmMem);
    this.vmHost = new Int32Array(options.vms).fill(-1);
    this.hostCpu = new Float64Array(options.hosts);
    this.hostMem = new Float64Array(options.hosts);
    this.hostVms = Array.from({ length: options.hosts }, () => new Set<number>());
    this.alive = new Uint8Array(options.hosts).fill(1);
    this.overSince = new Float64Array(options.hosts).fill(-1);
    this.violation = new Float64Array(options.hosts);
    this.migIn = new Uint32Array(options.hosts);
    this.migOut = new Uint32Array(options.hosts);
    this.episodeFloor = new Float64Array(options.hosts);
  }

  overloaded(h: number): boolean {
    return (this.hostCpu[h] ?? 0) > this.capCpu + 1e-9 || (this.hostMem[h] ?? 0) > this.capMem + 1e-9;
  }

  /** Updates the violation clock of host h at time `now` (s). */
  private account(h: number, now: number): void {
    const over = this.alive[h] === 1 && this.overloaded(h);
    const since = this.overSince[h] ?? -1;
    if (over && since < 0) {
      this.overSince[h] = now;
      this.over.add(h);
      this.episodes++;
      this.episodeFloor[h] = this.floorOf?.(h) ?? 0;
    } else if (!over && since >= 0) {
      this.violation[h] = (this.violation[h] ?? 0) + (now - since);
      this.overSince[h] = -1;
      this.over.delete(h);
      this.closeEpisode(h, now - since);
    }
  }

  place(vm: number, h: number, now: number): void {
    this.vmHost[vm] = h;
    this.hostVms[h]?.add(vm);
    this.hostCpu[h] = (this.hostCpu[h] ?? 0) + (this.vmCpu[vm] ?? 0);
    this.hostMem[h] = (this.hostMem[h] ?? 0) + (this.vmMem[vm] ?? 0);
    this.account(h, now);
    this.onChange?.(h);
  }

  unplace(vm: number, now: number): void {
    const h = this.vmHost[vm] ?? -1;
    if (h < 0) return;
    this.vmHost[vm] = -1;
    this.hostVms[h]?.delete(vm);
    this.hostCpu[h] = (this.hostCpu[h] ?? 0) - (this.vmCpu[vm] ?? 0);
    this.hostMem[h] = (this.hostMem[h] ?? 0) - (this.vmMem[vm] ?? 0);
    this.account(h, now);
  }

  move(vm: number, to: number, now: number): void {
    const from = this.vmHost[vm] ?? -1;
    this.unplace(vm, now);
    if (from >= 0) this.migOut[from] = (this.migOut[from] ?? 0) + 1;
    this.migIn[to] = (this.migIn[to] ?? 0) + 1;
    this.place(vm, to, now);
  }

  setLoad(vm: number, cpu: number, now: number): void {
    const h = this.vmHost[vm] ?? -1;
    const d = cpu - (this.vmCpu[vm] ?? 0);
    this.vmCpu[vm] = cpu;
    if (h < 0) return;
    this.hostCpu[h] = (this.hostCpu[h] ?? 0) + d;
    this.account(h, now);
    this.onChange?.(h);
  }

  /** Host crash: its VMs are lost (returned), its violation clock stops. */
  crash(h: number, now: number): number[] {
    const lost = [...(this.hostVms[h] ?? [])];
    for (const vm of lost) this.unplace(vm, now);
    this.alive[h] = 0;
    this.account(h, now);
    return lost;
  }

  /** An episode that outlasted the shortest migration that could end it needed one: the floor counts that migration. */
  private closeEpisode(h: number, lasted: number): void {
    const floor = this.episodeFloor[h] ?? 0;
    if (lasted >= floor) {
      this.episodesNeedingMigration++;
      this.migrationFloorS += floor;
    }
  }

  /** Closes every open violation interval at `now`. */
  finish(now: number): void {
    for (let h = 0; h < this.hosts; h++) {
      const since = this.overSince[h] ?? -1;
      if (since >= 0) {
        this.violation[h] = (this.violation[h] ?? 0) + (now - since);
        this.overSince[h] = now;
        this.closeEpisode(h, now - since);
      }
    }
  }

  totalViolation(): number {
    let s = 0;
    for (let h = 0; h < this.hosts; h++) s += this.violation[h] ?? 0;
    return s;
  }
}
