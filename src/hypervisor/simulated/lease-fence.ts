/**
 * Lease deadlines of simulated domains (`Hypervisor.fenceAt`). A simulated guest lives in its
 * node's process, so a frozen process freezes its guests; when the process runs again, the first
 * look at the host applies every deadline that passed, pausing those guests as of their deadline,
 * before anything else reads or changes the host.
 */
import { monotonicMs } from '../../lib/monotonic.js';
import type { SimHost } from './sim-host.js';
import type { SimEventLog } from './event-log.js';

export class SimLeaseFence {
  private readonly deadlines = new Map<string, number>();
  /** Guests paused at a deadline the node has not heard of yet. */
  private readonly fired = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly host: SimHost,
    private readonly log: SimEventLog | null,
  ) {}

  /** Answers whether the previous deadline paused the guest. */
  set(id: string, deadlineMs: number): boolean {
    this.apply();
    if (deadlineMs === Infinity) this.deadlines.delete(id);
    else this.deadlines.set(id, deadlineMs);
    this.schedule();
    return this.fired.delete(id);
  }

  /** Pauses the running domains whose deadline passed; the log dates each pause at its deadline. */
  apply(now = monotonicMs()): void {
    for (const [id, deadline] of this.deadlines) {
      if (deadline > now) continue;
      this.deadlines.delete(id);
      if (!this.host.has(id) || this.host.domainInfo(id).state !== 'running') continue;
      this.host.suspendDomain(id, 'suspend');
      this.fired.add(id);
      this.log?.record(id, 'paused', deadline);
    }
    this.schedule();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.deadlines.size === 0) return;
    const next = Math.min(...this.deadlines.values());
    this.timer = setTimeout(() => this.apply(), Math.max(0, next - monotonicMs()));
    this.timer.unref();
  }

  close(): void {
    clearTimeout(this.timer);
    this.deadlines.clear();
    this.fired.clear();
  }
}
