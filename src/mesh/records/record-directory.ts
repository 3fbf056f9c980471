/**
 * The ring directory (overlay/registry.ts) as the control plane uses it: this node publishes its
 * record under a key, and anyone finds every record under a key in a bounded number of hops,
 * page after page. The callbacks of the overlay, which the simulator runs on its own clock,
 * become promises here.
 */
import { sleep, type MeshTimers } from '../clock.js';
import type { FindResult, Registry } from '../overlay/registry.js';
import type { DirectoryRecord } from '../overlay/types.js';

/** Records read from a key's keepers; `ok` false when a page went unanswered (what was read is partial). */
export interface FoundRecords {
  ok: boolean;
  records: DirectoryRecord[];
  /** The most hops a page took. */
  hops: number;
}

/** The ring directory: records kept by the successors of their key, found in a bounded number of hops. */
export interface OverlayDirectory {
  /** Publishes this node's record under `key` (republished until withdrawn). */
  put(key: string, value?: string): void;
  withdraw(key: string): void;
  /** The records under `key` (publishers after `after`, at most `limit`). */
  find(key: string, options?: { after?: string; limit?: number }): Promise<FindResult>;
  /** The records under `key` from every keeper at once: the same cost whether there are records or not. */
  findAtEveryKeeper(key: string, limit?: number): Promise<FindResult>;
  /** Resolves after `ms` on the directory's clock (the simulator's in a simulation): pauses between reads. */
  wait(ms: number): Promise<void>;
}

/** The ring directory of node `selfKey`, with every record under a key read page after page. */
export interface RecordDirectory extends OverlayDirectory {
  readonly selfKey: string;
  /** Every record under `key`, at most `maxRecords`. */
  findAll(key: string, maxRecords?: number): Promise<FoundRecords>;
}

/** Records asked per page. */
const PAGE = 500;
/** Records read under one key at most, unless told. */
const DEFAULT_MAX_RECORDS = 100_000;

/** The ring directory of an overlay node's registry on `timers`, its callbacks as promises (what `Mesh.directory()` gives). */
export function registryDirectory(registry: Pick<Registry, 'publish' | 'withdraw' | 'find' | 'findAtEveryKeeper'>, timers: MeshTimers): OverlayDirectory {
  return {
    wait: (ms) => sleep(timers, ms),
    put: (key, value = '') => registry.publish(key, value),
    withdraw: (key) => registry.withdraw(key),
    find: (key, options = {}) => new Promise((resolve) => registry.find(key, resolve, options.after ?? '', options.limit ?? 1000)),
    findAtEveryKeeper: (key, limit = 1000) => new Promise((resolve) => registry.findAtEveryKeeper(key, resolve, limit)),
  };
}

/** The records of the ring directory `directory` of node `selfKey`, read page after page. */
export function directoryRecords(selfKey: string, directory: OverlayDirectory): RecordDirectory {
  return {
    ...directory,
    selfKey,
    async findAll(key, maxRecords = DEFAULT_MAX_RECORDS) {
      const records: DirectoryRecord[] = [];
      let hops = 0;
      for (;;) {
        const r = await directory.find(key, { after: records.at(-1)?.by ?? '', limit: Math.min(PAGE, maxRecords - records.length) });
        hops = Math.max(hops, r.hops);
        if (!r.ok) return { ok: false, records, hops };
        records.push(...r.records);
        if (!r.more || r.records.length === 0 || records.length >= maxRecords) return { ok: true, records, hops };
      }
    },
  };
}
