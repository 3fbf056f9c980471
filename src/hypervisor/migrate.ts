import type { DomainInfo, DomainState, Hypervisor } from './hypervisor.js';

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
): Promise<DomainInfo> {
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
  return target.domainInfo(id);
}

async function reachState(hv: Hypervisor, id: string, state: DomainState): Promise<void> {
  if (state === 'shutoff' || state === 'crashed' || state === 'absent') return;
  await hv.startDomain(id);
  if (state === 'paused') await hv.suspendDomain(id, 'suspend');
  if (state === 'saved') await hv.suspendDomain(id, 'hibernate');
}
