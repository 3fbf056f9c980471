/** Moving a domain to another host: libvirt's live migration between two daemons, or a copy where that is not possible. */
import { HypervisorError } from '../errors.js';
import type { DomainInfo, Hypervisor, MigrateOptions } from '../hypervisor.js';
import { copyMigrate } from '../migrate.js';
import type { DomPtr } from './binding.js';
import { isInProcessUri } from './connection.js';
import { VIR_MIGRATE_LIVE, VIR_MIGRATE_PERSIST_DEST, VIR_MIGRATE_UNDEFINE_SOURCE } from './constants.js';
import type { DomainHandles } from './domain-handles.js';
import { isActive } from './domain-state.js';
import type { LibvirtDomains } from './domains.js';

/** One libvirt host of a migration: the driver seen from outside, and the parts the move works on. */
export interface LibvirtEnd {
  hypervisor: Hypervisor;
  handles: DomainHandles;
  domains: LibvirtDomains;
}

/**
 * `live` (qemu): virDomainMigrate3 with LIVE | PERSIST_DEST | UNDEFINE_SOURCE.
 * `copy` (test driver, mixed drivers, inactive domains): the persistent XML is
 * defined on the target as is, so UUID, name, description and metadata are kept.
 * `libvirtTarget` is given when `target` is a libvirt driver too.
 */
export async function migrateDomain(
  source: LibvirtEnd,
  id: string,
  target: Hypervisor,
  libvirtTarget: LibvirtEnd | undefined,
  opts: MigrateOptions = {},
): Promise<DomainInfo> {
  const mode = opts.mode ?? 'auto';
  const { state } = await source.hypervisor.domainInfo(id);
  if (state === 'absent') throw HypervisorError.NO_DOMAIN(id);
  const bothNative = libvirtTarget !== undefined && !isInProcessUri(source.hypervisor.uri) && !isInProcessUri(target.uri);
  if (mode === 'live' || (mode === 'auto' && bothNative && isActive(state))) {
    if (libvirtTarget === undefined) throw HypervisorError.OPERATION_UNSUPPORTED('live migration needs a libvirt target');
    const { connection } = source.handles;
    await source.handles.use(id, async (dom) => {
      const flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE;
      const moved = await connection.handle<DomPtr>(
        'virDomainMigrate3',
        [dom, libvirtTarget.handles.connection.ptr, null, 0, flags],
        `migrate ${id} to ${target.uri}`,
      );
      connection.binding.fn.virDomainFree(moved);
    });
    return target.domainInfo(id);
  }
  if (libvirtTarget !== undefined) {
    const xml = await source.domains.xml(id, { inactive: true });
    return copyMigrate(source.hypervisor, target, id, () => libvirtTarget.domains.defineXml(xml));
  }
  return copyMigrate(source.hypervisor, target, id);
}
