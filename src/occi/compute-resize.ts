/**
 * Resizing a compute (its cores and memory, or a resource_tpl that sets them). Shut off, the
 * domain takes any size. Running (or paused), it takes what the hypervisor can change live: at
 * most its maximums (defined at creation), and only where the driver can change them live. A
 * resize beyond that is the compute's state, not the client's syntax: 409 with what to do.
 */
import { HypervisorError } from '../hypervisor/errors.js';
import type { Hypervisor } from '../hypervisor/hypervisor.js';
import { cores, memoryMiB } from './domain-spec.js';
import type { Entity } from './entity.js';
import { OcciError } from './errors.js';

const plural = (n: number, unit: string): string => `${n} ${unit}${n === 1 ? '' : 's'}`;
const gib = (mib: number): string => `${Math.round((mib / 1024) * 100) / 100} GiB`;

export async function resizeCompute(hv: Hypervisor, where: string, before: Entity, after: Entity): Promise<void> {
  const coresChanged = cores(before) !== cores(after);
  const memoryChanged = memoryMiB(before) !== memoryMiB(after);
  if (!coresChanged && !memoryChanged) return;
  const { state } = await hv.domainInfo(after.id);
  const live = state === 'running' || state === 'paused';
  if (live && hv.liveLimits) {
    const max = await hv.liveLimits(after.id);
    if (coresChanged && cores(after) > max.cores) {
      throw refused(where, `${plural(cores(after), 'core')}`, `it runs with at most ${plural(max.cores, 'core')}`, `or resize within ${plural(max.cores, 'core')}`);
    }
    if (memoryChanged && memoryMiB(after) > max.memoryMiB) {
      throw refused(where, `${gib(memoryMiB(after))} of memory`, `it runs with at most ${gib(max.memoryMiB)}`, `or resize within ${gib(max.memoryMiB)}`);
    }
  }
  try {
    if (coresChanged) await hv.setVcpus(after.id, cores(after));
    try {
      if (memoryChanged) await hv.setMemory(after.id, memoryMiB(after));
    } catch (err) {
      if (coresChanged) await hv.setVcpus(after.id, cores(before)).catch(() => undefined);
      throw err;
    }
  } catch (err) {
    // The driver could not change it live (a vCPU it cannot unplug, memory without a balloon).
    if (live && err instanceof HypervisorError && LIVE_REFUSALS.has(err.code)) {
      throw refused(where, `${plural(cores(after), 'core')} and ${gib(memoryMiB(after))}`, `the hypervisor cannot change it live (${err.message})`, '');
    }
    throw err;
  }
}

/** What a driver answers when a live change is out of its reach. */
const LIVE_REFUSALS: ReadonlySet<string> = new Set(['INVALID_ARG', 'INVALID_STATE', 'OPERATION_UNSUPPORTED']);

function refused(where: string, wanted: string, why: string, alternative: string): OcciError {
  return OcciError.stateConflict(`${where}: the running compute cannot get ${wanted} while it runs: ${why}; stop the compute first${alternative ? `, ${alternative}` : ''}`);
}
