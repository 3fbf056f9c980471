/**
 * Where a libvirt host that runs guests keeps the driver's files: one directory holding the image
 * catalogue's pool, the volumes' pool (volumes, root overlays, config drives), the serial console
 * logs and the migration sockets. The pools are libvirt directory pools, found by name, so the
 * directory of a host is the parent of its volumes pool.
 */
import { chownSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { monotonicMs } from '../../lib/monotonic.js';
import type { PoolPtr } from './binding.js';
import type { LibvirtConnection } from './connection.js';
import { VIR_ERR } from './constants.js';
import { el, parseXml, path, textEl, textOf } from './xml.js';

/** The image catalogue's pool (src/hypervisor/images/catalogue.ts). */
export const IMAGES_POOL = 'discovery-images';
/** The pool of volumes, root overlays and config drives. */
export const VOLUMES_POOL = 'discovery';
/**
 * Directory of the host a node drives through qemu:///system. Outside the directories a private
 * daemon (private-daemon.ts) mounts over, so that the paths mean the same on both sides.
 */
export const DEFAULT_HOST_DIR = '/var/lib/discovery/host';
/** The user qemu runs as under Debian's libvirt: it must be able to create the migration sockets. */
const QEMU_USER = 'libvirt-qemu';

export interface HostLayout {
  dir: string;
  imagesDir: string;
  volumesDir: string;
  consoleDir: string;
  migrationDir: string;
}

export function hostLayout(dir: string): HostLayout {
  return {
    dir,
    imagesDir: join(dir, 'images'),
    volumesDir: join(dir, 'volumes'),
    consoleDir: join(dir, 'console'),
    migrationDir: join(dir, 'migration'),
  };
}

/**
 * The host's layout: found from its volumes pool, or made in `dir` (default DEFAULT_HOST_DIR)
 * when the host has none yet. Both pools are started (and autostarted) when they are not.
 */
export async function openHostLayout(connection: LibvirtConnection, dir?: string): Promise<HostLayout> {
  const existing = await poolPath(connection, VOLUMES_POOL);
  const layout = hostLayout(existing === null ? (dir ?? DEFAULT_HOST_DIR) : dirname(existing));
  await ensureDirPool(connection, VOLUMES_POOL, layout.volumesDir);
  await ensureDirPool(connection, IMAGES_POOL, layout.imagesDir);
  mkdirSync(layout.consoleDir, { recursive: true });
  mkdirSync(layout.migrationDir, { recursive: true, mode: 0o700 });
  const qemu = userId(QEMU_USER);
  // Without the qemu user (another distribution) the directory is left to root's qemu.
  if (qemu !== undefined) chownSync(layout.migrationDir, qemu.uid, qemu.gid);
  return layout;
}

/** The target directory of a pool, or null when the host has no pool of that name. */
export async function poolPath(connection: LibvirtConnection, name: string): Promise<string | null> {
  const pool = await connection.lookup<PoolPtr>('virStoragePoolLookupByName', [connection.ptr, name], VIR_ERR.NO_STORAGE_POOL, `pool ${name}`);
  if (pool === null) return null;
  try {
    const xml = await connection.string('virStoragePoolGetXMLDesc', [pool, 0], `describe pool ${name}`);
    return textOf(path(parseXml(xml), 'target', 'path')) ?? null;
  } finally {
    connection.binding.fn.virStoragePoolFree(pool);
  }
}

/** How long a refresh waits for the pool's volume builds to end (ms), and how often it tries. */
const REFRESH_WAIT_MS = 10_000;
const REFRESH_RETRY_MS = 50;

/**
 * Rescans a pool's directory, after files were put there or removed behind libvirt. libvirt
 * refuses to rescan while a volume is being built in the pool ("has asynchronous jobs running"):
 * another creation on this host, by this node or another client of the daemon. The refresh then
 * waits for the build to end, a bounded time.
 */
export async function refreshPool(connection: LibvirtConnection, name: string): Promise<void> {
  const deadline = monotonicMs() + REFRESH_WAIT_MS;
  for (;;) {
    try {
      await usePool(connection, name, (pool) => connection.int('virStoragePoolRefresh', [pool, 0], `refresh pool ${name}`));
      return;
    } catch (err) {
      if (!/asynchronous jobs running/.test((err as Error).message) || monotonicMs() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, REFRESH_RETRY_MS));
    }
  }
}

async function ensureDirPool(connection: LibvirtConnection, name: string, dir: string): Promise<void> {
  let pool = await connection.lookup<PoolPtr>('virStoragePoolLookupByName', [connection.ptr, name], VIR_ERR.NO_STORAGE_POOL, `pool ${name}`);
  if (pool === null) {
    const xml = el('pool', { type: 'dir' }, textEl('name', name), el('target', {}, textEl('path', dir)));
    pool = await connection.handle<PoolPtr>('virStoragePoolDefineXML', [connection.ptr, xml, 0], `define pool ${name}`);
  }
  try {
    if ((await connection.int('virStoragePoolIsActive', [pool], `state of pool ${name}`)) !== 1) {
      await connection.int('virStoragePoolBuild', [pool, 0], `build pool ${name}`);
      await connection.int('virStoragePoolCreate', [pool, 0], `start pool ${name}`);
    }
    await connection.int('virStoragePoolSetAutostart', [pool, 1], `autostart pool ${name}`);
  } finally {
    connection.binding.fn.virStoragePoolFree(pool);
  }
}

async function usePool<T>(connection: LibvirtConnection, name: string, op: (pool: PoolPtr) => Promise<T>): Promise<T> {
  const pool = await connection.handle<PoolPtr>('virStoragePoolLookupByName', [connection.ptr, name], `pool ${name}`);
  try {
    return await op(pool);
  } finally {
    connection.binding.fn.virStoragePoolFree(pool);
  }
}

function userId(name: string): { uid: number; gid: number } | undefined {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  const [, , uid, gid] = line?.split(':') ?? [];
  return uid === undefined || gid === undefined ? undefined : { uid: Number(uid), gid: Number(gid) };
}

