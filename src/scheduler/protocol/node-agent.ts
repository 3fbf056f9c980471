/** The Local Resources Tracker of one node: monitoring, the DVMS protocol (transitions.ts) and plan application behind one small API. */
import type { VmSpec } from '../model.js';
import { AgentCore, messageInput, type NodeAgentOptions } from './agent-core.js';
import { createEvent } from './event-detection.js';
import type { DvmsEvent } from './messages.js';
import { dispatch } from './transitions.js';

export {
  DEFAULT_EXEC_TIMEOUT_MS,
  DEFAULT_HANDOVER_TIMEOUT_MS,
  DEFAULT_HEADROOM,
  DEFAULT_HEADROOM_MAX_PARTITION,
  DEFAULT_KEEPALIVE_MS,
  DEFAULT_LEASE_MS,
  DEFAULT_MAX_ROUNDS,
  DEFAULT_PROBE_TIMEOUT_MS,
  DEFAULT_RETRY_MS,
  DEFAULT_SOLVE_BUDGET_MS,
  DEFAULT_UNDERLOAD_MAX_PARTITION,
  DEFAULT_UNDERLOAD_THRESHOLD,
  DEFAULT_UNSOLVABLE_BACKOFF_MS,
  type AgentObserver,
  type NodeAgentOptions,
  type SolverRun,
} from './agent-core.js';

export class NodeAgent {
  readonly id: string;
  private readonly core: AgentCore;

  constructor(options: NodeAgentOptions) {
    this.id = options.id;
    const core: AgentCore = new AgentCore(options, (input) => dispatch(core, input));
    this.core = core;
    options.transport.onMessage((from, message) => dispatch(core, messageInput(from, message)));
  }

  /** The partition this node belongs to, if any. */
  get partition(): string | null {
    return this.core.res?.pid ?? null;
  }

  get isLeader(): boolean {
    const lead = this.core.lead;
    return lead !== null && lead.phase !== 'handover' && lead.phase !== 'merging';
  }

  /** Monitoring sample: starts a partition on overload (or underload) when the node is free. */
  sample(): void {
    dispatch(this.core, { type: 'sample' });
  }

  /** Admission of new VMs: they are placed by a partition started here. */
  admit(vms: readonly VmSpec[]): void {
    this.submit(createEvent(this.core, 'admission', { vms }));
  }

  /** A neighbour was lost: its VMs are restarted by a partition started here. */
  nodeLost(node: string, vms: readonly VmSpec[]): void {
    this.submit(createEvent(this.core, 'node-loss', { vms, lost: node }));
  }

  /**
   * An operator removes this node: a partition started here moves every VM of this node away
   * (they are banned from it), and from now on the node joins no other partition, so nothing is
   * placed here again. Call again to retry when VMs remain.
   */
  drain(): void {
    this.core.draining = true;
    this.submit(createEvent(this.core, 'drain'));
  }

  /** Stops timers and releases a partition this node leads. Safe to call twice. */
  close(): void {
    if (this.core.closed) return;
    dispatch(this.core, { type: 'close' });
    this.destroy();
  }

  /** Stops at once (a crash): timers cleared, messages ignored, nothing released. */
  destroy(): void {
    const core = this.core;
    core.closed = true;
    core.dropLead();
    if (core.lease !== null) core.env.clearTimer(core.lease);
    core.lease = null;
    if (core.backoffTimer !== null) core.env.clearTimer(core.backoffTimer);
    core.backoffTimer = null;
  }

  /** An event of the host: a partition starts for it now, or when the node is free again. */
  private submit(event: DvmsEvent): void {
    dispatch(this.core, { type: 'event', event });
  }
}
