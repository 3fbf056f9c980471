/**
 * Disk in admission. The scheduler places computes by CPU and memory; a compute with an os_tpl
 * also needs its root disk in the host's storage pool. Each node publishes its pool's free space
 * with its capacity (mesh member info, refreshed at every monitoring round); a compute that would
 * not fit a node's pool is fenced away from it before the partition places it, and when no node
 * has room the answer is 507 naming each node's shortage.
 */
import type { Hypervisor, StoragePool } from '../hypervisor/hypervisor.js';
import type { JsonValue, Mesh } from '../mesh/mesh.js';
import type { Entity } from '../occi/entity.js';
import { OcciError } from '../occi/errors.js';
import { OS_TPL_SCHEME } from '../occi/project-scheme.js';

/** What a node publishes of its pool (the `disk` member of its mesh capacity). */
export interface DiskFigures {
  pool: string;
  capacityGiB: number;
  freeGiB: number;
}

/** GiB with at most one decimal, for messages. */
const gib = (n: number): string => `${Math.round(n * 10) / 10} GiB`;

export class DiskRoom {
  /** Disk held for computes on their way to this host, by compute id (their volumes do not exist yet). */
  private readonly held = new Map<string, number>();
  private last: StoragePool | undefined;

  constructor(
    private readonly hypervisor: Hypervisor,
    private readonly mesh: Mesh,
  ) {}

  /** The pool now, less what is held for creations under way; undefined where disk is not limited. */
  async here(): Promise<DiskFigures | undefined> {
    if (!this.hypervisor.storagePool) return undefined;
    const pool = (this.last = await this.hypervisor.storagePool());
    let held = 0;
    for (const g of this.held.values()) held += g;
    return { pool: pool.name, capacityGiB: pool.capacityGiB, freeGiB: Math.max(0, pool.freeGiB - held) };
  }

  /** The disk a compute takes in a pool: its root disk when it has an os_tpl (linked storages exist already). */
  demandOf(compute: Entity): number {
    if (!compute.mixins.some((m) => m.startsWith(OS_TPL_SCHEME))) return 0;
    return this.last?.rootDiskGiB ?? 0;
  }

  /** Disk held for a compute until the returned function is called. */
  hold(id: string, gib: number): () => void {
    if (gib <= 0) return () => undefined;
    this.held.set(id, gib);
    return () => void this.held.delete(id);
  }

  /**
   * The nodes (mesh keys) where a compute needing `need` GiB may go as far as disk goes, among
   * `allowed` when given (the user's maximum RTT). Members that publish no pool are taken to have
   * room. Throws INSUFFICIENT_STORAGE when none has, naming each node's free space.
   */
  async withRoom(need: number, allowed?: readonly string[]): Promise<string[]> {
    const self = await this.here();
    const nodes: string[] = [];
    const short: string[] = [];
    const consider = (key: string, name: string, disk: DiskFigures | undefined) => {
      if (allowed && !allowed.includes(key)) return;
      if (disk === undefined || disk.freeGiB >= need) nodes.push(key);
      else short.push(`${name} ${gib(disk.freeGiB)} free in pool ${disk.pool}`);
    };
    consider(this.mesh.key, this.mesh.self().name, self);
    for (const m of this.mesh.members()) consider(m.key, m.name, diskOf(m.capacity));
    if (nodes.length === 0) {
      const within = allowed ? ' within the allowed round-trip time' : '';
      throw OcciError.insufficientStorage(`no node${within} has room for the compute's ${gib(need)} root disk (its os_tpl): ${short.join(', ') || 'none is within reach'}`);
    }
    return nodes;
  }
}

/** The `disk` figures a member published with its capacity, when it did. */
export function diskOf(capacity: JsonValue | undefined): DiskFigures | undefined {
  const disk = (capacity as { disk?: Partial<DiskFigures> } | null | undefined)?.disk;
  return typeof disk?.freeGiB === 'number' && typeof disk.pool === 'string' && typeof disk.capacityGiB === 'number'
    ? { pool: disk.pool, capacityGiB: disk.capacityGiB, freeGiB: disk.freeGiB }
    : undefined;
}
