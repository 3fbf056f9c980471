/** One node process of a local cluster (local-cluster.ts): its process, URL, log lines, membership and coordinate as it logs them. */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { PrivateDaemon } from '../hypervisor/libvirt/private-daemon.js';

/** Log lines each node keeps for `waitForLine` and for diagnostics. */
const KEPT_LINES = 5000;

export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

type Waiter = (line: LogLine) => boolean;

/** One node process of the cluster. */
export class ClusterNode {
  url = '';
  port: number;
  /** Mesh key (hex), kept across restarts (the identity lives in the data directory). */
  key = '';
  proc: ChildProcess | undefined;
  /** Names of the members this node currently sees (from its `member joined` / `member left` lines). */
  readonly members = new Set<string>();
  coordinate: number[] | null = null;
  /** The node's own libvirt daemon, with `hypervisor: 'qemu'`. */
  daemon: PrivateDaemon | undefined;
  /** The first admin token, printed on a data directory's first start with `--auth token`. */
  adminToken: string | undefined;
  /** Recent JSON log lines, oldest first. */
  readonly lines: LogLine[] = [];
  private readonly waiters = new Set<Waiter>();

  constructor(
    readonly index: number,
    readonly name: string,
    readonly site: string | undefined,
    readonly dataDir: string,
    readonly loadFile: string | undefined,
    port: number,
  ) {
    this.port = port;
  }

  /** The fault file and the domain event log of this node (with the cluster's `faults` option). */
  get faultFile(): string {
    return join(this.dataDir, 'faults.json');
  }

  get eventLog(): string {
    return join(this.dataDir, 'sim-events.jsonl');
  }

  get alive(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Resolves with the first line (kept or future) that matches; rejects after timeoutMs. */
  waitForLine(match: (line: LogLine) => boolean, timeoutMs = 30_000, since = 0): Promise<LogLine> {
    const kept = this.lines.slice(since).find(match);
    if (kept) return Promise.resolve(kept);
    return new Promise((resolveLine, reject) => {
      const waiter: Waiter = (line) => {
        if (!match(line)) return false;
        clearTimeout(timer);
        resolveLine(line);
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`${this.name}: no matching log line within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Position in `lines` now (for `waitForLine(match, t, since)` on what comes next). */
  mark(): number {
    return this.lines.length;
  }

  /** @internal */
  receive(line: LogLine): void {
    this.lines.push(line);
    if (this.lines.length > KEPT_LINES) this.lines.splice(0, this.lines.length - KEPT_LINES);
    if (line.msg === 'OCCI node listening') {
      this.url = String(line['url']);
      this.port = Number(new URL(this.url).port);
      if (typeof line['mesh'] === 'string') this.key = line['mesh'];
    } else if (line.msg === 'member joined' && typeof line['member'] === 'string') this.members.add(line['member']);
    else if (line.msg === 'member left' && typeof line['member'] === 'string') this.members.delete(line['member']);
    if (Array.isArray(line['coordinate'])) this.coordinate = line['coordinate'] as number[];
    for (const w of [...this.waiters]) if (w(line)) this.waiters.delete(w);
  }
}
