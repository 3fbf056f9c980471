/**
 * A tenant's usage summed over the mesh without asking every member: each node holding some of a
 * tenant's resources publishes its part under `usage:<tenant>` (withdrawn when it holds none),
 * and a quota check reads the records of that one key, as many as the nodes where the tenant
 * has resources, not as many as the members. A record is republished when the node's part
 * changes, so a check sees a part as of the last change that reached the keepers.
 */
import type { RecordDirectory } from './record-directory.js';

export const USAGE_PREFIX = 'usage:';

export type Amounts = Record<string, number>;

export interface UsageTotal {
  /** The sum of every other node's part (this node's own is the caller's). */
  total: Amounts;
  /** Nodes whose part is counted. */
  parts: number;
  /** False when the keepers did not answer: the total is partial and a check must not trust it. */
  ok: boolean;
}

export class UsageRecords {
  /** The part last published per tenant, as JSON (a change of nothing publishes nothing). */
  private readonly published = new Map<string, string>();

  constructor(private readonly directory: RecordDirectory) {}

  /** This node's part of `tenant`'s usage; all zero withdraws it. */
  publish(tenant: string, part: Amounts): void {
    const key = USAGE_PREFIX + tenant;
    if (Object.values(part).every((v) => v === 0)) {
      if (this.published.delete(tenant)) this.directory.withdraw(key);
      return;
    }
    const value = JSON.stringify(part);
    if (this.published.get(tenant) === value) return;
    this.published.set(tenant, value);
    this.directory.put(key, value);
  }

  /**
   * Whether the keepers hold this node's current part of `tenant` (or none, once withdrawn): a put
   * is not answered, so it is read back, up to `reads` times with growing pauses. An admission
   * waits for it so that the next check, through any node, counts what it admitted.
   */
  async reached(tenant: string, reads = 4): Promise<boolean> {
    for (let i = 0; ; i++) {
      const { ok, records } = await this.directory.findAll(USAGE_PREFIX + tenant);
      if (ok && records.find((r) => r.by === this.directory.selfKey)?.value === this.published.get(tenant)) return true;
      if (i + 1 >= reads) return false;
      await this.directory.wait(50 * 2 ** i);
    }
  }

  /** The other nodes' parts of `tenant`'s usage, summed. */
  async others(tenant: string): Promise<UsageTotal> {
    const { ok, records } = await this.directory.findAll(USAGE_PREFIX + tenant);
    const total: Amounts = {};
    let parts = 0;
    for (const r of records) {
      if (r.by === this.directory.selfKey) continue;
      const part = parsePart(r.value);
      if (!part) continue;
      parts += 1;
      for (const [name, v] of Object.entries(part)) total[name] = (total[name] ?? 0) + v;
    }
    return { total, parts, ok };
  }
}

/** A part as published (finite, non-negative numbers), or undefined for anything else. */
function parsePart(value: string): Amounts | undefined {
  try {
    const v: unknown = JSON.parse(value);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    const entries = Object.entries(v as Record<string, unknown>);
    if (!entries.every(([, x]) => typeof x === 'number' && Number.isFinite(x) && x >= 0)) return undefined;
    return Object.fromEntries(entries) as Amounts;
  } catch {
    return undefined;
  }
}
