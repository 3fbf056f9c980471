/**
 * Test hook: every state change of the simulated domains, one JSON line each
 * (`{"t":<monotonic ms>,"id":"…","state":"running"}`), appended to the file named by the
 * environment variable DISCOVERY_SIM_EVENT_LOG. Fault-injection checkers read it to know where
 * each compute ran and when; the time is the machine's monotonic clock, which a skewed wall clock
 * does not move and every process shares.
 */
import { appendFileSync } from 'node:fs';
import type { DomainState } from '../hypervisor.js';
import { monotonicMs } from '../../lib/monotonic.js';
import type { SimHost } from './sim-host.js';

export const SIM_EVENT_LOG_ENV = 'DISCOVERY_SIM_EVENT_LOG';

export class SimEventLog {
  private readonly last = new Map<string, DomainState>();

  constructor(private readonly path: string) {}

  /** A change known with its own time (a lease deadline). */
  record(id: string, state: DomainState, t = monotonicMs()): void {
    this.last.set(id, state);
    appendFileSync(this.path, `${JSON.stringify({ t, id, state })}\n`);
  }

  /** Records every domain whose state differs from the last one recorded (absent for those gone). */
  diff(host: SimHost): void {
    const now = new Map(host.listDomains().map((d) => [d.id, d.state] as const));
    for (const [id, state] of now) if (this.last.get(id) !== state) this.record(id, state);
    for (const id of [...this.last.keys()]) if (!now.has(id) && this.last.get(id) !== 'absent') this.record(id, 'absent');
  }
}
