/** Simulated transport: per-link latency plus the message's transfer time at the bandwidth, optional random extra delay, loss to and from dead hosts. */
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
  /** Bandwidth in MB/s for the transfer time of messages (omitted: none). */
  bandwidthMBps?: number;
}

/** Bytes of a message header, and of each VM or member a message lists (JSON-sized estimates). */
export const MESSAGE_HEADER_BYTES = 200;
export const BYTES_PER_VM = 60;
export const BYTES_PER_MEMBER = 40;

/** Estimated size of a DVMS message on the wire (snapshots list VMs, partition infos list members and events). */
export function messageBytes(m: DvmsMessage): number {
  switch (m.type) {
    case 'state':
    case 'adopted':
      return MESSAGE_HEADER_BYTES + BYTES_PER_VM * m.snapshot.vms.length;
    case 'join':
    case 'merge':
      return MESSAGE_HEADER_BYTES + BYTES_PER_MEMBER * (m.info.members.length + m.info.bounced.length + m.info.dead.length + m.info.busy.length) + BYTES_PER_VM * m.info.events.length;
    default:
      return MESSAGE_HEADER_BYTES;
  }
}

/** Transfer time in ms of `bytes` at `bandwidthMBps`. */
export function transferMs(bytes: number, bandwidthMBps: number): number {
  return bandwidthMBps > 0 ? bytes / (bandwidthMBps * 1000) : 0;
}

export class SimNetwork {
  private readonly handlers: (((from: string, m: DvmsMessage) => void) | null)[] = [];
  messages = 0;
  bytes = 0;

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
    const { queue, latencyMs, jitterMs = 0, rng, isAlive, bandwidthMBps = 0 } = this.options;
    if (!isAlive(a)) return;
    this.messages++;
    const size = messageBytes(message);
    this.bytes += size;
    const delay = latencyMs(a, b) + transferMs(size, bandwidthMBps) + (jitterMs > 0 && rng ? rng.next() * jitterMs : 0);
    queue.after(delay, () => {
      if (!isAlive(b)) return;
      this.handlers[b]?.(from, message);
    });
  }
}
