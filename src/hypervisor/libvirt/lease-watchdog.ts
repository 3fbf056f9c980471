/**
 * The node's side of a libvirt host's lease watchdog (lease-watchdog-process.ts): a child process
 * that pauses each guest at its lease deadline even while this process is frozen or after it died.
 * Started with the first deadline; started again, with every deadline held, if it ever exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monotonicMs } from '../../lib/monotonic.js';

const HERE = fileURLToPath(import.meta.url);
const CHILD = join(dirname(HERE), `lease-watchdog-process${extname(HERE)}`);
const ROOT = join(dirname(HERE), '..', '..', '..');
/** A watchdog that does not answer this fast is taken as not having fired (ms). */
const ANSWER_TIMEOUT_MS = 3_000;
/** After a watchdog that could not start, the next try waits this long (ms). */
const RETRY_AFTER_MS = 10_000;

interface Answer {
  seq?: number;
  fired?: boolean;
  ready?: boolean;
}

export class LeaseWatchdog {
  readonly #deadlines = new Map<string, number>();
  readonly #pending = new Map<number, (fired: boolean) => void>();
  #child: ChildProcess | undefined;
  #seq = 0;
  #closed = false;
  #notBefore = 0;

  constructor(
    private readonly uri: string,
    private readonly library?: string,
  ) {}

  /**
   * The guest is paused at `deadlineMs` (monotonic clock); `Infinity` lifts it. Answers whether the
   * previous deadline paused the guest.
   */
  set(id: string, deadlineMs: number): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    if (deadlineMs === Infinity) this.#deadlines.delete(id);
    else this.#deadlines.set(id, deadlineMs);
    if (this.#child) return this.#send(this.#child, id, deadlineMs);
    // A new watchdog gets every deadline held; it has paused nothing yet.
    if (monotonicMs() >= this.#notBefore) this.#start();
    return Promise.resolve(false);
  }

  #send(child: ChildProcess, id: string, deadlineMs: number): Promise<boolean> {
    const seq = ++this.#seq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#settle(seq, false), ANSWER_TIMEOUT_MS);
      timer.unref();
      this.#pending.set(seq, (fired) => {
        clearTimeout(timer);
        resolve(fired);
      });
      child.send({ op: 'set', seq, id, deadlineMs: deadlineMs === Infinity ? null : deadlineMs }, (err) => err && this.#settle(seq, false));
    });
  }

  #settle(seq: number, fired: boolean): void {
    const resolve = this.#pending.get(seq);
    this.#pending.delete(seq);
    resolve?.(fired);
  }

  #start(): void {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, this.uri, this.library ?? ''], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    this.#child = child;
    let ready = false;
    child.on('message', (m: Answer) => {
      if (m.ready) ready = true;
      if (m.seq !== undefined) this.#settle(m.seq, m.fired === true);
    });
    child.on('exit', () => {
      if (this.#child === child) this.#child = undefined;
      for (const seq of [...this.#pending.keys()]) this.#settle(seq, false);
      // A watchdog that died takes its deadlines with it: a new one gets them all; one that never
      // reached its host is tried again later.
      if (!ready) this.#notBefore = monotonicMs() + RETRY_AFTER_MS;
      else if (!this.#closed && this.#deadlines.size > 0) this.#start();
    });
    for (const [id, deadline] of this.#deadlines) void this.#send(child, id, deadline);
    // The node may exit without closing the watchdog: the child then applies its deadlines alone.
    child.unref();
    child.channel?.unref();
  }

  /** A clean stop: the watchdog exits without pausing anything (the guests wait for the node). */
  close(): void {
    this.#closed = true;
    this.#deadlines.clear();
    const child = this.#child;
    this.#child = undefined;
    if (child?.connected) child.send({ op: 'close' });
  }
}
