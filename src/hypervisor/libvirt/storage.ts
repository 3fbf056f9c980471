/**
 * Storage: the volumes of the driver's pool, the copy-on-write overlays domains with an image
 * boot from, and (on hosts that run guests) their NoCloud config drives.
 */
import { join } from 'node:path';
import { HypervisorError, type HypervisorErrorOptions } from '../errors.js';
import type { DomainSpec, ImageSpec, StoragePool, VolumeInfo, VolumeSpec } from '../hypervisor.js';
import { writeSeedIso } from '../images/seed.js';
import type { PoolPtr, VolPtr } from './binding.js';
import { isInProcessUri, type LibvirtConnection } from './connection.js';
import { VIR_ERR } from './constants.js';
import { rootVolumeName, seedVolumeName } from './domain-xml.js';
import { refreshPool } from './host-layout.js';
import { volumeXml } from './resource-xml.js';
import { child, parseXml, textOf } from './xml.js';

const GIB = 1024 ** 3;
/** How libvirt says a pool is full: its own check (test driver, resize) or the file system's ENOSPC. */
const NO_SPACE = /not enough (free )?space|no space left|insufficient (free )?space/i;

/** GiB with at most one decimal, for messages. */
const gib = (n: number): string => `${Math.round(n * 10) / 10} GiB`;

/** INSUFFICIENT_STORAGE naming the pool, the space the volume needs and (when known) what is free. */
function noRoom(pool: StoragePool | string, volume: string, needGiB: number, more: string, opts?: HypervisorErrorOptions): HypervisorError {
  const free = typeof pool === 'string' ? '' : `, ${gib(pool.freeGiB)} free of ${gib(pool.capacityGiB)}`;
  const name = typeof pool === 'string' ? pool : pool.name;
  return HypervisorError.INSUFFICIENT_STORAGE(`storage pool ${name} has no room for volume ${volume}: it needs ${gib(needGiB)}${more}${free}`, opts);
}

export class LibvirtStorage {
  /** Storage pool every volume lives in. */
  readonly pool: string;
  readonly #connection: LibvirtConnection;
  readonly #fn: LibvirtConnection['binding']['fn'];
  readonly #rootDiskGiB: number;
  /** The pool's directory, on hosts that run guests (config drives are written there). */
  readonly #volumesDir: string | undefined;

  constructor(connection: LibvirtConnection, pool: string, rootDiskGiB: number, volumesDir?: string) {
    this.pool = pool;
    this.#connection = connection;
    this.#fn = connection.binding.fn;
    this.#rootDiskGiB = rootDiskGiB;
    this.#volumesDir = volumesDir;
  }

  async create(spec: VolumeSpec): Promise<VolumeInfo> {
    const xml = volumeXml(spec);
    const exists = await this.info(spec.name).then(
      () => true,
      (err: unknown) => {
        if (err instanceof HypervisorError && err.libvirtNumber === VIR_ERR.NO_STORAGE_VOL) return false;
        throw err;
      },
    );
    if (exists) throw HypervisorError.ALREADY_EXISTS(`volume ${spec.name}`);
    return this.#createXml(xml);
  }

  async resize(name: string, sizeGiB: number): Promise<VolumeInfo> {
    if (!(Number.isFinite(sizeGiB) && sizeGiB > 0)) throw HypervisorError.INVALID_ARG(`size ${sizeGiB} GiB`);
    const bytes = Math.round(sizeGiB * GIB);
    try {
      await this.#useVolume(name, (vol) => this.#connection.int('virStorageVolResize', [vol, bytes, 0], `resize volume ${name}`)).catch((err: unknown) =>
        this.#full(err, name, sizeGiB),
      );
    } catch (err) {
      // The test driver has no resize; its volumes hold no data, so re-creating one at the new size is equivalent.
      if (!(isInProcessUri(this.#connection.uri) && err instanceof HypervisorError && err.libvirtNumber === VIR_ERR.NO_SUPPORT)) {
        throw err;
      }
      const growth = sizeGiB - (await this.info(name)).capacityGiB;
      // Checked first: a delete followed by a creation the pool has no room for would lose the volume.
      const pool = await this.poolInfo();
      if (growth > pool.freeGiB) throw noRoom(pool, name, growth, ' more');
      await this.delete(name);
      return this.create({ name, sizeGiB });
    }
    return this.info(name);
  }

  async snapshot(name: string, snapshotName: string): Promise<VolumeInfo> {
    const source = await this.info(name);
    const xml = volumeXml({ name: snapshotName, sizeGiB: source.capacityGiB });
    return this.#useVolume(name, (from) =>
      this.#usePool(async (pool) => {
        const vol = await this.#connection
          .handle<VolPtr>('virStorageVolCreateXMLFrom', [pool, xml, from, 0], `snapshot volume ${name}`)
          .catch((err: unknown) => this.#full(err, snapshotName, source.capacityGiB));
        return this.#info(vol, snapshotName);
      }),
    );
  }

  async delete(name: string): Promise<void> {
    await this.#useVolume(name, (vol) => this.#connection.int('virStorageVolDelete', [vol, 0], `delete volume ${name}`));
  }

  info(name: string): Promise<VolumeInfo> {
    return this.#useVolume(name, (vol) => this.#info(vol, name));
  }

  /** The pool's size and free space now (libvirt's own figures, refreshed by the pool's driver). */
  poolInfo(): Promise<StoragePool> {
    return this.#usePool(async (pool) => {
      const xml = parseXml(await this.#connection.string('virStoragePoolGetXMLDesc', [pool, 0], `describe pool ${this.pool}`));
      const bytes = (el: string) => Number(textOf(child(xml, el)) ?? 0);
      return { name: this.pool, capacityGiB: bytes('capacity') / GIB, freeGiB: bytes('available') / GIB, rootDiskGiB: this.#rootDiskGiB };
    });
  }

  /** A volume the pool had no room for, as INSUFFICIENT_STORAGE (see noRoom); any other error as it is. */
  async #full(err: unknown, volume: string, sizeGiB: number): Promise<never> {
    if (!(err instanceof HypervisorError) || !NO_SPACE.test(err.message)) throw err;
    const pool = await this.poolInfo().catch(() => undefined);
    throw noRoom(pool ?? this.pool, volume, sizeGiB, '', { cause: err, ...(err.libvirt ? { libvirt: err.libvirt } : {}) });
  }

  /** Creates the overlay a domain boots from, backed by its image and named after the domain (rootVolumeName). */
  async createRootOverlay(id: string, image: Pick<ImageSpec, 'path' | 'format'>, sizeGiB = this.#rootDiskGiB): Promise<VolumeInfo> {
    const backing = { path: image.path, format: image.format ?? 'qcow2' };
    return this.#createXml(volumeXml({ name: rootVolumeName({ id }), sizeGiB }, { backing }));
  }

  /** An empty qcow2 volume with no backing file (a migration copies a whole disk chain into it). */
  createStandaloneQcow2(name: string, sizeGiB: number): Promise<VolumeInfo> {
    return this.#createXml(volumeXml({ name, sizeGiB }, { format: 'qcow2' }));
  }

  /** Writes the domain's config drive (instance id, hostname, user data, SSH keys), on hosts that run guests. */
  async createSeed(spec: DomainSpec): Promise<void> {
    if (this.#volumesDir === undefined) return;
    const context = { instanceId: spec.id, hostname: spec.hostname ?? spec.name, userData: spec.userData, sshKeys: spec.sshKeys };
    await writeSeedIso(join(this.#volumesDir, seedVolumeName(spec)), context);
    await refreshPool(this.#connection, this.pool);
  }

  /** Deletes the domain's overlay and config drive, those it has. */
  async deleteDomainVolumes(id: string): Promise<void> {
    await this.deleteIfPresent(rootVolumeName({ id }));
    if (this.#volumesDir !== undefined) await this.deleteIfPresent(seedVolumeName({ id }));
  }

  /** Deletes a volume when the pool has it. */
  deleteIfPresent(name: string): Promise<void> {
    return this.#usePool(async (pool) => {
      const vol = await this.#connection.lookup<VolPtr>('virStorageVolLookupByName', [pool, name], VIR_ERR.NO_STORAGE_VOL, `volume ${name}`);
      if (vol === null) return;
      try {
        await this.#connection.int('virStorageVolDelete', [vol, 0], `delete volume ${name}`);
      } finally {
        this.#fn.virStorageVolFree(vol);
      }
    });
  }

  async #usePool<T>(op: (pool: PoolPtr) => Promise<T>): Promise<T> {
    const pool = await this.#connection.handle<PoolPtr>(
      'virStoragePoolLookupByName',
      [this.#connection.ptr, this.pool],
      `pool ${this.pool}`,
    );
    try {
      return await op(pool);
    } finally {
      this.#fn.virStoragePoolFree(pool);
    }
  }

  #useVolume<T>(name: string, op: (vol: VolPtr) => Promise<T>): Promise<T> {
    return this.#usePool(async (pool) => {
      const vol = await this.#connection.handle<VolPtr>('virStorageVolLookupByName', [pool, name], `volume ${name}`);
      try {
        return await op(vol);
      } finally {
        this.#fn.virStorageVolFree(vol);
      }
    });
  }

  async #createXml(xml: string): Promise<VolumeInfo> {
    const doc = parseXml(xml);
    const name = child(doc, 'name')?.text ?? '';
    const sizeGiB = Number(textOf(child(doc, 'capacity')) ?? 0) / GIB;
    return this.#usePool(async (pool) => {
      const vol = await this.#connection
        .handle<VolPtr>('virStorageVolCreateXML', [pool, xml, 0], `create volume ${name}`)
        .catch((err: unknown) => this.#full(err, name, sizeGiB));
      try {
        return await this.#info(vol, name);
      } finally {
        this.#fn.virStorageVolFree(vol);
      }
    });
  }

  async #info(vol: VolPtr, name: string): Promise<VolumeInfo> {
    const info: { capacity?: number | bigint; allocation?: number | bigint } = {};
    await this.#connection.int('virStorageVolGetInfo', [vol, info], `volume ${name}`);
    const path = await this.#connection.string('virStorageVolGetPath', [vol], `path of volume ${name}`);
    return {
      name,
      path,
      capacityGiB: Number(info.capacity ?? 0) / GIB,
      allocationGiB: Number(info.allocation ?? 0) / GIB,
    };
  }
}
