/**
 * Fault injection for fault-testing node processes (test hook, off unless the environment names a
 * file): DISCOVERY_FAULT_FILE holds `{"unreachable":["<mesh key hex>",…],"clockSkewMs":30000}`,
 * read again every 100 ms. Unreachable members are split from this node (its mesh messages to them
 * are dropped; they drop theirs when their own file says so); the skew moves this process's wall
 * clock (`Date.now`), never its monotonic one, as a misset NTP would.
 */
import { readFileSync, statSync } from 'node:fs';

export const FAULT_FILE_ENV = 'DISCOVERY_FAULT_FILE';
const POLL_MS = 100;

export interface Faults {
  unreachable: string[];
  clockSkewMs: number;
}

export class FaultHooks {
  private faults: Faults = { unreachable: [], clockSkewMs: 0 };
  private readonly blocked = new Set<string>();
  private mtime = 0;
  private readonly realNow = Date.now.bind(Date);
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly path: string) {
    Date.now = () => this.realNow() + this.faults.clockSkewMs;
    this.read();
    this.timer = setInterval(() => this.read(), POLL_MS);
    this.timer.unref();
  }

  /** Whether the member with this mesh key is split from this node. */
  unreachable(key: string): boolean {
    return this.blocked.has(key);
  }

  private read(): void {
    try {
      const m = statSync(this.path).mtimeMs;
      if (m === this.mtime) return;
      this.mtime = m;
      const f = JSON.parse(readFileSync(this.path, 'utf8')) as Partial<Faults>;
      this.faults = { unreachable: Array.isArray(f.unreachable) ? f.unreachable.map(String) : [], clockSkewMs: Number(f.clockSkewMs) || 0 };
      this.blocked.clear();
      for (const k of this.faults.unreachable) this.blocked.add(k.toLowerCase());
    } catch {
      // Missing or half-written: the previous faults stand until the next read.
    }
  }

  close(): void {
    clearInterval(this.timer);
    Date.now = this.realNow;
  }
}

/** The hooks of this process, when the environment names a fault file. */
export function faultHooksFromEnv(): FaultHooks | undefined {
  const path = process.env[FAULT_FILE_ENV];
  return path ? new FaultHooks(path) : undefined;
}
