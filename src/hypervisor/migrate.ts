/** What every driver shares to move domains: targets given as a driver or as data, and the copy for hosts without native migration. */
import { HypervisorError } from './errors.js';
import type { DomainInfo, DomainState, Hypervisor, MigratedDomain, MigrationTarget } from './hypervisor.js';

/** Whether the target is a driver object (otherwise it is described by data). */
export function isHypervisor(target: Hypervisor | MigrationTarget): target is Hypervisor {
  return typeof (target as Partial<Hypervisor>).defineDomain === 'function';
}

/** The driver of a copy's target: copies need one, a target given by data cannot receive a copy. */
export function copyTarget(target: Hypervisor | MigrationTarget): Hypervisor {
  if (!isHypervisor(target)) throw HypervisorError.OPERATION_UNSUPPORTED(`a copy to ${target.uri} needs its driver, not only its URI`);
  return target;
}

export function migrated(info: DomainInfo, mode: 'live' | 'copy', startedAt: number, extra: Omit<MigratedDomain['migration'], 'mode' | 'elapsedMs'> = {}): MigratedDomain {
  return { ...info, migration: { mode, elapsedMs: performance.now() - startedAt, ...extra } };
}

/**
 * Migration by copy, for hosts without native migration (libvirt's test driver,
 * moves across driver kinds): define on the target with the same description,
 * bring it to the source's state, then destroy and undefine on the source.
 * Memory contents do not travel; identity (id, name, description) does.
 *
 * `define` replaces the description-based define (libvirt passes its own XML).
 */
export async function copyMigrate(
  source: Hypervisor,
  target: Hypervisor,
  id: string,
  define?: () => Promise<unknown>,
): Promise<MigratedDomain> {
  const startedAt = performance.now();
  const { state } = await source.domainInfo(id);
  if (define === undefined) {
    const spec = await source.domainDescription(id);
    await target.defineDomain(spec);
  } else {
    await define();
  }
  try {
    await reachState(target, id, state);
  } catch (err) {
    await target.undefineDomain(id).catch(() => {});
    throw err;
  }
  await source.undefineDomain(id);
  return migrated(await target.domainInfo(id), 'copy', startedAt);
}

async function reachState(hv: Hypervisor, id: string, state: DomainState): Promise<void> {
  if (state === 'shutoff' || state === 'crashed' || state === 'absent') return;
  await hv.startDomain(id);
  if (state === 'paused') await hv.suspendDomain(id, 'suspend');
  if (state === 'saved') await hv.suspendDomain(id, 'hibernate');
}
