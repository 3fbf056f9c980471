/**
 * The scheduler's view of the local hypervisor host (`HostMonitor` of the DVMS agent), sampled from
 * the hypervisor's real counters.
 *
 * - `refresh()` lists the domains; only running and paused ones count (they hold their memory).
 *   CPU demand of a domain = CPU time consumed since the previous sample / wall time elapsed, in %
 *   of one core (100 = one core busy); a paused domain uses no CPU. Memory demand = the allocated
 *   memory: it cannot be overcommitted, so what a domain may use is what it holds.
 * - First sample of a domain (no delta yet, or its CPU time went backwards after a restart): the
 *   demand the scheduler planned with when the domain was reserved here (admission or incoming
 *   migration), else its allocated vCPUs × 100. Counting a newcomer at its full allocation is the
 *   safe side: under-counting it would let the next admission or migration pack this host over
 *   capacity before the first delta exists; over-counting costs at most one refresh period of
 *   pessimism (the next refresh measures it).
 * - `reserve(vm)` / `release(id)`: capacity held for an admission or an incoming migration in
 *   flight. A reservation counts in snapshots until released or until its domain shows up active
 *   in a refresh (then the domain itself counts); one left behind expires after
 *   `reservationTtlMs`. Callers release on failure.
 * - `snapshot()` is synchronous: the last refresh plus the reservations. Call `refresh()` once
 *   before handing the monitor to an agent (until then the capacity is the one given, or zero).
 *
 * Usage:
 *   const monitor = new HypervisorMonitor(hypervisor, { nodeId: mesh.key });
 *   await monitor.refresh();
 *   setInterval(() => void monitor.refresh().then(() => agent.sample()), 1000);
 */
import type { DomainInfo, Hypervisor } from '../hypervisor/hypervisor.js';
import type { NodeSpec, VmPlacement, VmSpec } from './model.js';
import type { HostMonitor, NodeSnapshot } from './protocol/transport.js';

const ACTIVE = new Set<DomainInfo['state']>(['running', 'paused']);

export interface HypervisorMonitorOptions {
  /** Scheduler node id of this host (the mesh key). */
  nodeId: string;
  /** CPU in % of one core, memory in MiB; default from `hypervisor.capacity()` (cores × 100, memoryMiB). */
  capacity?: { cpu: number; mem: number };
  /** Placement rules of a VM, attached to its VmSpec in snapshots. */
  placementOf?: (vmId: string) => VmPlacement | undefined;
  /**
   * Least CPU demand counted for a running domain (% of a core), e.g. its vCPUs × 100 divided by
   * the cloud's CPU allocation ratio: idle domains still hold their share of the host.
   */
  minCpuOf?: (domain: DomainInfo) => number;
  /** Wall clock in ms for CPU-time deltas (default performance.now). */
  now?: () => number;
  /**
   * Shortest wall time a CPU figure is measured over (ms): a refresh sooner than this after the
   * previous one (e.g. right after a migration) keeps the last figure and the older base sample,
   * so that timing noise on a short interval does not distort the figure.
   */
  minIntervalMs?: number;
  /**
   * A reservation neither released nor seen active expires after this long (ms): a safety net for
   * an admission or migration whose caller never came back. Longer than any migration should last.
   */
  reservationTtlMs?: number;
}

export const DEFAULT_MIN_INTERVAL_MS = 100;
export const DEFAULT_RESERVATION_TTL_MS = 10 * 60_000;

interface Sample {
  cpuTimeNs: number;
  at: number;
}

export class HypervisorMonitor implements HostMonitor {
  readonly nodeId: string;
  private readonly hypervisor: Hypervisor;
  private readonly placementOf: ((vmId: string) => VmPlacement | undefined) | undefined;
  private readonly minCpuOf: ((domain: DomainInfo) => number) | undefined;
  private readonly now: () => number;
  private readonly minIntervalMs: number;
  private readonly reservationTtlMs: number;
  private capacity: { cpu: number; mem: number } | null;
  private readonly samples = new Map<string, Sample>();
  /** Last refresh: domain id → demand. */
  private measured = new Map<string, { cpu: number; mem: number; floor: number }>();
  private readonly reservations = new Map<string, { vm: VmSpec; until: number }>();
  private chain: Promise<NodeSnapshot> | null = null;

  constructor(hypervisor: Hypervisor, opts: HypervisorMonitorOptions) {
    this.hypervisor = hypervisor;
    this.nodeId = opts.nodeId;
    this.capacity = opts.capacity ? { ...opts.capacity } : null;
    this.placementOf = opts.placementOf;
    this.minCpuOf = opts.minCpuOf;
    this.now = opts.now ?? (() => performance.now());
    this.minIntervalMs = opts.minIntervalMs ?? DEFAULT_MIN_INTERVAL_MS;
    this.reservationTtlMs = opts.reservationTtlMs ?? DEFAULT_RESERVATION_TTL_MS;
  }

  /** Samples the hypervisor now; concurrent calls run one after the other (each sees a fresh listing). */
  refresh(): Promise<NodeSnapshot> {
    const run = (): Promise<NodeSnapshot> => this.sampleNow();
    const next = this.chain ? this.chain.then(run, run) : run();
    this.chain = next;
    void next.finally(() => {
      if (this.chain === next) this.chain = null;
    }).catch(() => undefined);
    return next;
  }

  snapshot(): NodeSnapshot {
    const cap = this.capacity ?? { cpu: 0, mem: 0 };
    const node: NodeSpec = { id: this.nodeId, cpu: cap.cpu, mem: cap.mem };
    const vms: VmSpec[] = [];
    for (const [id, d] of this.measured) vms.push(this.spec(id, Math.max(d.cpu, d.floor), d.mem));
    const now = this.now();
    for (const [id, r] of this.reservations) {
      if (r.until <= now) this.reservations.delete(id);
      else if (!this.measured.has(id)) vms.push(this.spec(id, r.vm.cpu, r.vm.mem, r.vm));
    }
    return { node, vms };
  }

  /**
   * What the host's domains use now as measured (no `minCpuOf` floor) plus the reservations: an
   * overload is real use above capacity, not shares of idle domains counted in full.
   */
  load(): { cpu: number; mem: number } {
    let cpu = 0;
    let mem = 0;
    for (const d of this.measured.values()) {
      cpu += d.cpu;
      mem += d.mem;
    }
    for (const [id, r] of this.reservations) {
      if (this.measured.has(id)) continue;
      cpu += r.vm.cpu;
      mem += r.vm.mem;
    }
    return { cpu, mem };
  }

  /** Holds capacity for `vm` (admission or incoming migration in flight). */
  reserve(vm: VmSpec): void {
    this.reservations.set(vm.id, { vm: { ...vm }, until: this.now() + this.reservationTtlMs });
  }

  release(id: string): void {
    this.reservations.delete(id);
  }

  /** Ids currently reserved (not yet seen active, not expired). */
  reserved(): string[] {
    const now = this.now();
    return [...this.reservations].filter(([, r]) => r.until > now).map(([id]) => id);
  }

  /** Demand of the last snapshot (measured domains plus reservations). */
  usage(): { cpu: number; mem: number } {
    let cpu = 0;
    let mem = 0;
    for (const v of this.snapshot().vms) {
      cpu += v.cpu;
      mem += v.mem;
    }
    return { cpu, mem };
  }

  /** Capacity left (may be negative when overloaded): a quick local admission check. */
  free(): { cpu: number; mem: number } {
    const cap = this.capacity ?? { cpu: 0, mem: 0 };
    const u = this.usage();
    return { cpu: cap.cpu - u.cpu, mem: cap.mem - u.mem };
  }

  private spec(id: string, cpu: number, mem: number, base?: VmSpec): VmSpec {
    const placement = this.placementOf?.(id) ?? base?.placement;
    return placement === undefined ? { id, cpu, mem } : { id, cpu, mem, placement };
  }

  private async sampleNow(): Promise<NodeSnapshot> {
    if (this.capacity === null) {
      const c = await this.hypervisor.capacity();
      this.capacity ??= { cpu: c.cores * 100, mem: c.memoryMiB };
    }
    // Read the clock when the listing is asked for: synchronous drivers (simulated, libvirt test
    // driver) account CPU time at that instant; for others the call latency cancels out between samples.
    const at = this.now();
    const domains = await this.hypervisor.listDomains();
    const measured = new Map<string, { cpu: number; mem: number; floor: number }>();
    const seen = new Set<string>();
    for (const d of domains) {
      if (!ACTIVE.has(d.state)) continue;
      seen.add(d.id);
      const prev = this.samples.get(d.id);
      const last = this.measured.get(d.id);
      let cpu: number;
      let base = true;
      if (prev && d.cpuTimeNs >= prev.cpuTimeNs && last && at - prev.at < this.minIntervalMs) {
        cpu = d.state === 'paused' ? 0 : last.cpu; // too soon for a fair delta: keep the figure and the base
        base = false;
      } else if (d.state === 'paused') cpu = 0;
      else if (prev && d.cpuTimeNs >= prev.cpuTimeNs && at > prev.at) {
        cpu = ((d.cpuTimeNs - prev.cpuTimeNs) / 1e6 / (at - prev.at)) * 100;
      } else {
        cpu = this.reservations.get(d.id)?.vm.cpu ?? d.cores * 100;
      }
      if (base) this.samples.set(d.id, { cpuTimeNs: d.cpuTimeNs, at });
      measured.set(d.id, { cpu, mem: d.memoryMiB, floor: this.minCpuOf?.(d) ?? 0 });
      this.reservations.delete(d.id);
    }
    for (const id of this.samples.keys()) if (!seen.has(id)) this.samples.delete(id);
    this.measured = measured;
    return this.snapshot();
  }
}
