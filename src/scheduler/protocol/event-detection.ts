/** Event detection: overloads and underloads in the monitor's samples, and the host's own events (admission, node loss, drain), queued while the node is in a partition. */
import type { VmSpec } from '../model.js';
import type { AgentCore, InputOf } from './agent-core.js';
import { startPartition } from './leader.js';
import type { DvmsEvent } from './messages.js';

export function createEvent(core: AgentCore, kind: DvmsEvent['kind'], extra: { vms?: readonly VmSpec[]; lost?: string } = {}): DvmsEvent {
  const e: DvmsEvent = { id: `${core.id}/e${core.seq++}`, kind, origin: core.id, at: core.env.now(), ...extra };
  core.observer.eventCreated?.(e);
  return e;
}

/** A free node's sample: queued events, or an overload (or underload), start a partition; none during a back-off. */
export function detect(core: AgentCore): void {
  const now = core.env.now();
  if (now < core.backoffUntil) {
    if (core.backoffTimer === null) {
      core.backoffTimer = core.env.setTimer(core.backoffUntil - now, () => {
        core.backoffTimer = null;
        core.dispatch({ type: 'sample' });
      });
    }
    return;
  }
  if (core.queued.length > 0) {
    startPartition(core, core.queued.splice(0, core.queued.length));
    return;
  }
  const snap = core.monitor.snapshot();
  let cpu = 0;
  let mem = 0;
  for (const v of snap.vms) {
    cpu += v.cpu;
    mem += v.mem;
  }
  const load = core.monitor.load?.() ?? { cpu, mem };
  if (load.cpu > snap.node.cpu * (1 + core.overloadMargin) + 1e-9 || load.mem > snap.node.mem + 1e-9) {
    startPartition(core, [createEvent(core, 'overload')]);
  } else if (core.underloadThreshold > 0 && snap.vms.length > 0 && cpu < core.underloadThreshold * snap.node.cpu) {
    startPartition(core, [createEvent(core, 'underload')]);
  }
}

export function startWithEvent(core: AgentCore, { event }: InputOf<'event'>): void {
  startPartition(core, [event]);
}

export function queueEvent(core: AgentCore, { event }: InputOf<'event'>): void {
  core.queued.push(event);
}
