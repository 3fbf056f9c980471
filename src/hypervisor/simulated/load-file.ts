/**
 * Test hook for simulated hosts in separate processes: per-domain loads read from a JSON file,
 *
 *   { "<domain id>": { "cpu": <% of one core>, "mem": <MiB> }, ... }
 *
 * The file is named by the `loadFile` option of the simulated driver, or by the environment
 * variable `DISCOVERY_SIM_LOAD_FILE`. It is checked on each `listDomains`, `domainInfo`, `usage`
 * and `poll` (one `stat`; the file is re-read only when its modification time, size or inode
 * changed) and its loads are applied with `SimHost.setLoad` to the domains the host has; other
 * ids are ignored, so one file can drive every node of a cluster. A domain that arrives later
 * (migration, definition) gets its load at the next check. Values are clamped to the domain's
 * bounds (vCPUs × 100, allocated memory); `mem` defaults to 0. A missing or malformed file changes
 * nothing (a half-written file is read again once its write completes); writing the file to a temporary
 * name then renaming it over the old one avoids reading half-written content.
 */
import { readFileSync, statSync } from 'node:fs';
import type { SimHost } from './sim-host.js';

/** Environment variable naming the load file of every simulated host of the process. */
export const SIM_LOAD_FILE_ENV = 'DISCOVERY_SIM_LOAD_FILE';

export interface FileLoad {
  cpu: number;
  mem: number;
}

/** Parses the load file's content; throws on anything but an object of `{ cpu, mem? }` entries. */
export function parseLoadFile(text: string): Map<string, FileLoad> {
  const data = JSON.parse(text) as unknown;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new TypeError('load file: expected a JSON object');
  const out = new Map<string, FileLoad>();
  for (const [id, v] of Object.entries(data as Record<string, unknown>)) {
    const e = v as { cpu?: unknown; mem?: unknown } | null;
    const cpu = Number(e?.cpu ?? 0);
    const mem = Number(e?.mem ?? 0);
    if (typeof e !== 'object' || e === null || !Number.isFinite(cpu) || !Number.isFinite(mem)) {
      throw new TypeError(`load file: bad entry for ${id}`);
    }
    out.set(id, { cpu, mem });
  }
  return out;
}

export class SimLoadFile {
  readonly path: string;
  #stamp = '';
  #loads = new Map<string, FileLoad>();
  /** Domains the current content was applied to. */
  readonly #applied = new Set<string>();
  #reads = 0;

  constructor(path: string) {
    this.path = path;
  }

  /** Times the file was read and parsed successfully (for tests). */
  get reads(): number {
    return this.#reads;
  }

  /** Re-reads the file if it changed, then applies its loads to the host's domains that lack them. */
  apply(host: SimHost): void {
    this.#check();
    for (const id of this.#applied) if (!host.has(id)) this.#applied.delete(id);
    for (const [id, load] of this.#loads) {
      if (this.#applied.has(id) || !host.has(id)) continue;
      const { cores, memoryMiB } = host.domainDescription(id);
      host.setLoad(id, clamp(load.cpu, cores * 100), clamp(load.mem, memoryMiB));
      this.#applied.add(id);
    }
  }

  #check(): void {
    let stamp: string;
    try {
      const st = statSync(this.path, { bigint: true, throwIfNoEntry: false });
      if (!st) return;
      stamp = `${st.mtimeNs}:${st.size}:${st.ino}`;
    } catch {
      return;
    }
    if (stamp === this.#stamp) return;
    // Half-written or malformed content keeps the previous loads; finishing the write changes the stamp.
    this.#stamp = stamp;
    let loads: Map<string, FileLoad>;
    try {
      loads = parseLoadFile(readFileSync(this.path, 'utf8'));
    } catch {
      return;
    }
    this.#loads = loads;
    this.#applied.clear();
    this.#reads++;
  }
}

function clamp(v: number, max: number): number {
  return Math.min(Math.max(v, 0), max);
}
