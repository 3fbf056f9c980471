/**
 * Periodic monitoring, the same for every scheduler: each host samples itself every period (hosts
 * spread over `PHASES` phases of the period) and reports what it runs. DVMS agents detect
 * overloads on these samples; central and group managers plan on these reports. Only hosts that
 * are over capacity, or were at their last sample, need a sample to change anything, so the ticks
 * visit just those unless VM reports are kept (managers).
 */
import type { SimCluster } from './cluster.js';
import type { EventQueue } from './event-queue.js';

/** Hosts sample at PHASES evenly spaced instants of each period (host h at phase h mod PHASES). */
export const PHASES = 10;

export interface MonitoringOptions {
  /** Sampling period, ms; 0 samples at every change. */
  periodMs: number;
  /** Keep what every host reports (its VMs and their load) for managers; DVMS needs only overloads. */
  reports: boolean;
}

export class Monitoring {
  /** CPU demand of each host at its last sample. */
  readonly sampledCpu: Float64Array;
  /** VMs each host reported at its last sample, and the load it reported for each VM. */
  private readonly reportedVms: number[][];
  private readonly reportedCpu: Float64Array;
  private readonly reportedBy: Int32Array;
  /** Hosts whose last sample was over capacity. */
  readonly sampledOver = new Set<number>();
  private readonly listeners: ((host: number) => void)[] = [];

  constructor(
    private readonly queue: EventQueue,
    private readonly cluster: SimCluster,
    private readonly options: MonitoringOptions,
  ) {
    this.sampledCpu = Float64Array.from(cluster.hostCpu);
    const vms = cluster.vmCpu.length;
    this.reportedVms = Array.from({ length: cluster.hosts }, () => []);
    this.reportedCpu = new Float64Array(vms);
    this.reportedBy = new Int32Array(vms).fill(-1);
  }

  /** `fn(host)` runs at each sample of a host over capacity. */
  onOverloadSample(fn: (host: number) => void): void {
    this.listeners.push(fn);
  }

  get immediate(): boolean {
    return this.options.periodMs <= 0;
  }

  start(): void {
    if (this.immediate) return;
    for (let h = 0; h < this.cluster.hosts; h++) this.sample(h);
    for (let phase = 0; phase < PHASES; phase++) this.queue.after((phase * this.options.periodMs) / PHASES, () => this.tick(phase));
  }

  /** Called by the simulator on every change of a host's demand when sampling is immediate. */
  changed(host: number): void {
    if (!this.immediate) return;
    this.sample(host);
    if (this.cluster.over.has(host)) for (const fn of this.listeners) fn(host);
  }

  /** The VMs host h runs as its last report says (those reported since by another host are left out), with their reported load. */
  reported(host: number): { vm: number; cpu: number }[] {
    if (this.immediate || !this.options.reports) return [...(this.cluster.hostVms[host] ?? [])].map((vm) => ({ vm, cpu: this.cluster.vmCpu[vm] ?? 0 }));
    const out: { vm: number; cpu: number }[] = [];
    for (const vm of this.reportedVms[host] ?? []) if (this.reportedBy[vm] === host) out.push({ vm, cpu: this.reportedCpu[vm] ?? 0 });
    return out;
  }

  private tick(phase: number): void {
    const { cluster } = this;
    if (this.options.reports) {
      for (let h = phase; h < cluster.hosts; h += PHASES) this.sample(h);
    } else {
      // Only a host over capacity now, or at its last sample, can change a detection.
      for (const h of [...cluster.over, ...this.sampledOver]) if (h % PHASES === phase) this.sample(h);
    }
    for (const h of [...cluster.over]) if (h % PHASES === phase && cluster.alive[h] === 1) for (const fn of this.listeners) fn(h);
    this.queue.after(this.options.periodMs, () => this.tick(phase));
  }

  private sample(h: number): void {
    const { cluster } = this;
    this.sampledCpu[h] = cluster.hostCpu[h] ?? 0;
    if (cluster.alive[h] === 1 && cluster.overloaded(h)) this.sampledOver.add(h);
    else this.sampledOver.delete(h);
    if (!this.options.reports) return;
    const list = this.reportedVms[h] ?? [];
    list.length = 0;
    if (cluster.alive[h] !== 1) return;
    for (const vm of cluster.hostVms[h] ?? []) {
      list.push(vm);
      this.reportedBy[vm] = h;
      this.reportedCpu[vm] = cluster.vmCpu[vm] ?? 0;
    }
  }
}
