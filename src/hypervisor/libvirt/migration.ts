/**
 * Moving a domain to another host: libvirt's live migration between two daemons, or a copy where
 * that is not possible (the test driver, mixed drivers, domains that do not run).
 *
 * Live, storage not shared: peer to peer (the source daemon connects to the target's URI), memory
 * over the target's migration socket and the disks over its NBD socket (copy-storage). The target
 * is prepared first: the root overlay pre-created over the target's own copy of the image (then
 * only the overlay travels: incremental), the data volumes created empty at their sizes, the
 * config drive written; the domain XML names every file at the target's path.
 */
import { rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { HypervisorError } from '../errors.js';
import type { DomainSpec, Hypervisor, MigratedDomain, MigrateOptions, MigrationTarget } from '../hypervisor.js';
import { copyMigrate, isHypervisor, migrated } from '../migrate.js';
import type { DomPtr } from './binding.js';
import { isInProcessUri, LibvirtConnection } from './connection.js';
import {
  VIR_DOMAIN_JOB_STATS_COMPLETED,
  VIR_DOMAIN_XML_MIGRATABLE,
  VIR_MIGRATE_AUTO_CONVERGE,
  VIR_MIGRATE_LIVE,
  VIR_MIGRATE_NON_SHARED_DISK,
  VIR_MIGRATE_NON_SHARED_INC,
  VIR_MIGRATE_PEER2PEER,
  VIR_MIGRATE_PERSIST_DEST,
  VIR_MIGRATE_UNDEFINE_SOURCE,
} from './constants.js';
import type { DomainHandles } from './domain-handles.js';
import { isActive } from './domain-state.js';
import { rootVolumeName, SEED_DISK_ID, seedVolumeName } from './domain-xml.js';
import type { LibvirtDomains } from './domains.js';
import type { HostLayout } from './host-layout.js';
import type { LibvirtNetworks } from './networks.js';
import type { LibvirtStorage } from './storage.js';
import { child, children, parseXml } from './xml.js';

export const DEFAULT_PROGRESS_INTERVAL_MS = 1000;
const ABORT_RETRY_MS = 100;

/** One libvirt host of a migration: the driver seen from outside, and the parts the move works on. */
export interface LibvirtEnd {
  hypervisor: Hypervisor;
  handles: DomainHandles;
  domains: LibvirtDomains;
  storage: LibvirtStorage;
  networks: LibvirtNetworks;
  /** Where its files are, on a host that runs guests. */
  layout: HostLayout | undefined;
}

/** How the driver reaches the target: its parts, or opened from its URI (then closed after the move). */
export interface TargetEnd {
  end: LibvirtEnd | undefined;
  close(): Promise<void>;
}

/**
 * `live` (qemu): virDomainMigrateToURI3, LIVE | PEER2PEER | PERSIST_DEST | UNDEFINE_SOURCE, with
 * copy-storage when the hosts do not share their directory. `copy`: the persistent XML is defined
 * on the target as is, so UUID, name, description and metadata are kept.
 */
export async function migrateDomain(
  source: LibvirtEnd,
  id: string,
  target: Hypervisor | MigrationTarget,
  openTarget: () => Promise<TargetEnd>,
  opts: MigrateOptions = {},
): Promise<MigratedDomain> {
  const mode = opts.mode ?? 'auto';
  const { state } = await source.hypervisor.domainInfo(id);
  if (state === 'absent') throw HypervisorError.NO_DOMAIN(id);
  const native = !isInProcessUri(source.hypervisor.uri) && !isInProcessUri(target.uri);
  const opened = await openTarget();
  try {
    const dest = opened.end;
    if (mode === 'live' || (mode === 'auto' && native && dest !== undefined && isActive(state))) {
      if (dest === undefined || !native) throw HypervisorError.OPERATION_UNSUPPORTED('live migration needs two libvirt daemons');
      return await liveMigrate(source, dest, id, target, opts);
    }
    if (dest !== undefined) {
      const xml = await source.domains.xml(id, { inactive: true });
      return await copyMigrate(source.hypervisor, dest.hypervisor, id, () => dest.domains.defineXml(xml));
    }
    if (!isHypervisor(target)) throw HypervisorError.OPERATION_UNSUPPORTED(`no driver for ${target.uri}`);
    return await copyMigrate(source.hypervisor, target, id);
  } finally {
    await opened.close();
  }
}

async function liveMigrate(source: LibvirtEnd, dest: LibvirtEnd, id: string, target: MigrationTarget, opts: MigrateOptions): Promise<MigratedDomain> {
  const startedAt = performance.now();
  const from = source.layout;
  const to = dest.layout;
  if (from === undefined || to === undefined) throw HypervisorError.OPERATION_UNSUPPORTED('live migration between hosts that run guests only');
  const spec = await source.domains.description(id);
  const shared = from.dir === to.dir;
  const retarget = (xml: string) => (shared ? xml : xml.split(`${from.dir}/`).join(`${to.dir}/`));
  const liveXml = await source.handles.use(id, (dom) => source.handles.connection.string('virDomainGetXMLDesc', [dom, VIR_DOMAIN_XML_MIGRATABLE], `describe ${id}`));
  const persistentXml = await source.domains.xml(id, { inactive: true });
  const created = shared ? { volumes: [], incremental: true } : await prepareTarget(source, dest, spec);
  const disks = writableDisks(liveXml);
  const sockets = {
    migrationUri: target.migrationUri ?? `unix://${join(to.migrationDir, `${id}.mig.sock`)}`,
    disksUri: target.disksUri ?? `unix://${join(to.migrationDir, `${id}.disks.sock`)}`,
  };
  try {
    const flags =
      VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE | VIR_MIGRATE_AUTO_CONVERGE |
      (shared ? 0 : created.incremental ? VIR_MIGRATE_NON_SHARED_INC : VIR_MIGRATE_NON_SHARED_DISK);
    const params: Array<[string, string]> = [
      ['migrate_uri', sockets.migrationUri],
      ['destination_xml', retarget(liveXml)],
      ['persistent_xml', retarget(persistentXml)],
    ];
    if (!shared) params.push(...disks.map((d): [string, string] => ['migrate_disks', d]), ['disks_uri', sockets.disksUri]);
    await runMigrationJob(source, id, target.uri, params, flags, opts);
  } catch (err) {
    for (const name of created.volumes) await dest.storage.deleteIfPresent(name).catch(() => undefined);
    throw err;
  } finally {
    for (const uri of Object.values(sockets)) rmSync(uri.replace(/^unix:\/\//, ''), { force: true });
  }
  source.handles.forget(id);
  if (!shared) {
    await source.storage.deleteDomainVolumes(id).catch(() => undefined);
    rmSync(join(from.consoleDir, `${spec.name}.log`), { force: true });
  }
  const info = await dest.hypervisor.domainInfo(id);
  return migrated(info, 'live', startedAt, await completedStats(dest, id));
}

/**
 * Creates on the target what the domain's disks need, and says whether the copy can be
 * incremental (the target has the image the root overlay is backed by) and what it created.
 */
async function prepareTarget(source: LibvirtEnd, dest: LibvirtEnd, spec: DomainSpec): Promise<{ volumes: string[]; incremental: boolean }> {
  for (const nic of spec.nics) await dest.networks.require(nic.network);
  const volumes: string[] = [];
  let incremental = true;
  try {
    if (spec.image !== undefined) {
      const name = catalogueName(spec.image.path);
      const image = (await dest.hypervisor.images()).find((i) => i.name === name);
      if (image === undefined && spec.image.boot !== undefined) throw HypervisorError.INVALID_STATE(`the target has no image ${name} to boot ${spec.id} with`);
      const root = await source.storage.info(rootVolumeName(spec));
      volumes.push(root.name);
      if (image === undefined) {
        // No shared base: the whole chain is copied into a standalone image.
        incremental = false;
        await dest.storage.createStandaloneQcow2(root.name, root.capacityGiB);
      } else {
        await dest.storage.createRootOverlay(spec.id, { path: image.path, format: image.format }, root.capacityGiB);
      }
    }
    for (const disk of spec.disks) {
      const { capacityGiB } = await source.storage.info(disk.volume);
      await dest.storage.create({ name: disk.volume, sizeGiB: capacityGiB });
      volumes.push(disk.volume);
    }
    await dest.storage.createSeed(spec);
    volumes.push(seedVolumeName(spec));
  } catch (err) {
    for (const name of volumes) await dest.storage.deleteIfPresent(name).catch(() => undefined);
    throw err;
  }
  return { volumes, incremental };
}

/** The catalogue names an image by its disk's file name (images/catalogue.ts). */
function catalogueName(imagePath: string): string {
  return basename(imagePath).replace(/\.[^.]*$/, '');
}

/** Targets of the disks that travel: every disk but the read-only config drive. */
function writableDisks(xml: string): string[] {
  return children(child(parseXml(xml), 'devices'), 'disk')
    .filter((d) => child(d, 'readonly') === undefined && child(d, 'alias')?.attrs.name !== `ua-${SEED_DISK_ID}`)
    .flatMap((d) => (child(d, 'target')?.attrs.dev === undefined ? [] : [child(d, 'target')!.attrs.dev!]));
}

/**
 * Runs the migration on a connection of its own (calls on one connection are serialized, and
 * this one blocks until the guest has moved), while the driver's connection reports progress and
 * cancels the job on timeout.
 */
async function runMigrationJob(source: LibvirtEnd, id: string, targetUri: string, params: Array<[string, string]>, flags: number, opts: MigrateOptions): Promise<void> {
  const main = source.handles.connection;
  const fn = main.binding.fn;
  const job = await LibvirtConnection.open(main.uri, { callMode: 'async', library: main.binding.path });
  const paramsOut: unknown[] = [null];
  const count = [0];
  const max = [0];
  let timedOut = false;
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  let progress: NodeJS.Timeout | undefined;
  try {
    for (const [name, value] of params) {
      if (fn.virTypedParamsAddString(paramsOut, count, max, name, value) < 0) throw HypervisorError.INTERNAL(`migration parameter ${name}`);
    }
    await source.handles.use(id, async (dom) => {
      if (opts.maxDowntimeMs !== undefined) await main.int('virDomainMigrateSetMaxDowntime', [dom, opts.maxDowntimeMs, 0], `max downtime of ${id}`);
      if (opts.onProgress !== undefined) {
        const report = opts.onProgress;
        progress = setInterval(() => {
          void jobProgress(main, dom).then((p) => p && report(p), () => undefined);
        }, opts.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS);
      }
      if (opts.timeoutMs !== undefined) {
        // Aborted until it takes: a job that has not begun yet cannot be aborted, so try again until the call returns.
        const abort = async (): Promise<void> => {
          timedOut = true;
          while (!done) {
            if (await main.int('virDomainAbortJob', [dom], `cancel the migration of ${id}`).then(() => true, () => false)) return;
            await new Promise((resolve) => setTimeout(resolve, ABORT_RETRY_MS));
          }
        };
        timer = setTimeout(() => void abort(), opts.timeoutMs);
      }
      const moving = await job.handle<DomPtr>('virDomainLookupByUUIDString', [job.ptr, id], `domain ${id}`);
      try {
        await job.int('virDomainMigrateToURI3', [moving, targetUri, paramsOut[0], count[0], flags], `migrate ${id} to ${targetUri}`);
      } finally {
        fn.virDomainFree(moving);
      }
    });
  } catch (err) {
    if (timedOut) throw HypervisorError.UNREACHABLE(`migration of ${id} to ${targetUri} cancelled after ${opts.timeoutMs} ms; the domain runs on ${main.uri}`, { cause: err });
    throw err;
  } finally {
    done = true;
    clearTimeout(timer);
    clearInterval(progress);
    fn.virTypedParamsFree(paramsOut[0], count[0]);
    await job.close();
  }
}

async function jobProgress(connection: LibvirtConnection, dom: DomPtr) {
  const info: Record<string, number | bigint> = {};
  await connection.int('virDomainGetJobInfo', [dom, info], 'migration progress');
  if (Number(info['type'] ?? 0) === 0) return undefined; // no job (yet, or any more)
  return {
    elapsedMs: Number(info['timeElapsed'] ?? 0),
    totalBytes: Number(info['dataTotal'] ?? 0),
    processedBytes: Number(info['dataProcessed'] ?? 0),
    remainingBytes: Number(info['dataRemaining'] ?? 0),
  };
}

/** Downtime and bytes sent, from the target's record of the completed incoming job (when it keeps one). */
async function completedStats(dest: LibvirtEnd, id: string): Promise<{ downtimeMs?: number; transferredBytes?: number }> {
  const connection = dest.handles.connection;
  const fn = connection.binding.fn;
  try {
    return await dest.handles.use(id, async (dom) => {
      const type = [0];
      const params: unknown[] = [null];
      const count = [0];
      await connection.int('virDomainGetJobStats', [dom, type, params, count, VIR_DOMAIN_JOB_STATS_COMPLETED], `migration stats of ${id}`);
      const read = (name: string): number | undefined => {
        const value = [0n];
        return fn.virTypedParamsGetULLong(params[0], count[0], name, value) === 1 ? Number(value[0]) : undefined;
      };
      const stats: { downtimeMs?: number; transferredBytes?: number } = {};
      const downtime = read('downtime');
      const data = read('data_processed');
      if (downtime !== undefined) stats.downtimeMs = downtime;
      if (data !== undefined) stats.transferredBytes = data;
      fn.virTypedParamsFree(params[0], count[0]);
      return stats;
    });
  } catch {
    return {};
  }
}
