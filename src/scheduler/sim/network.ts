/** Simulated transport: per-link latency, optional random extra delay, loss to and from dead hosts. */
import type { DvmsMessage } from '../protocol/messages.js';
import type { SchedulerTransport } from '../protocol/transport.js';
import type { RandomSource } from '../random.js';
import type { EventQueue } from './event-queue.js';

export interface SimNetworkOptions {
  queue: EventQueue;
  /** One-way latency in ms between host indexes. */
  latencyMs: (a: number, b: number) => number;
  /** Extra uniform random delay in [0, jitterMs) per message. */
  jitterMs?: number;
  rng?: RandomSource;
  isAlive: (host: number) => boolean;
}

export class SimNetwork {
  private readonly handlers: (((from: string, m: DvmsMessage) => void) | null)[] = [];
  messages = 0;

  constructor(private readonly options: SimNetworkOptions) {}

  /** Host index from a node id `h<index>`. */
  static index(id: string): number {
    return Number(id.slice(1));
  }

  transport(host: number): SchedulerTransport {
    const self = `h${host}`;
    return {
      send: (to, message) => this.send(self, to, message),
      onMessage: (handler) => {
        this.handlers[host] = handler;
      },
      latency: (to) => this.options.latencyMs(host, SimNetwork.index(to)),
    };
  }

  private send(from: string, to: string, message: DvmsMessage): void {
    const a = SimNetwork.index(from);
    const b = SimNetwork.index(to);
    const { queue, latencyMs, jitterMs = 0, rng, isAlive } = this.options;
    if (!isAlive(a)) return;
    this.messages++;
    const delay = latencyMs(a, b) + (jitterMs > 0 && rng ? rng.next() * jitterMs : 0);
    queue.after(delay, () => {
      if (!isAlive(b)) return;
      this.handlers[b]?.(from, message);
    });
  }
}
