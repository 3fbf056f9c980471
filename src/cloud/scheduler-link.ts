/**
 * The DVMS scheduler over the mesh: its transport (mesh RPC), its neighbour order (Vivaldi
 * coordinates of the current members) and the node distance its latency rules use.
 *
 * Every mesh node manages one hypervisor host, so a scheduler node id is the node's mesh key (hex).
 *
 * - `MeshSchedulerTransport`: `send` is fire-and-forget (the protocol tolerates loss, delay and
 *   reordering: a failed call is logged at debug level and counted, never thrown). Messages are
 *   accepted only from current members: the mesh already refuses peers that cannot prove the
 *   cluster secret, and the transport also drops a message whose sender is not (or no longer) in
 *   the member list. Each message carries its sender's monotonic send time; a receiver turns the
 *   `sentAt` of a join (the sender's wall clock) into its own clock from the message's delay beyond
 *   the fastest one seen from that sender, so that no decision compares two machines' clocks and a
 *   skewed wall clock does not make a fresh join look stale.
 * - `MeshNeighbourOrder`: the i-th nearest node to the initiator among this node and the members
 *   (initiator excluded), by Vivaldi coordinate distance from the initiator's coordinate as this
 *   node sees the coordinates. Every node ranks from the same coordinates (they travel in
 *   heartbeats), so a partition handed over keeps following the initiator's order. The ranking is
 *   cached per initiator and recomputed on each membership change and after `rankTtlMs` (the
 *   coordinates keep converging after a join).
 * - `meshDistance`: node-to-node distance in ms (coordinate distance including heights; the RTT
 *   this node measured itself when one end is this node and samples exist).
 *
 * Usage:
 *   const transport = new MeshSchedulerTransport(mesh, { logger });
 *   const neighbours = new MeshNeighbourOrder(mesh);
 *   const agent = new NodeAgent({ id: mesh.key, transport, neighbours, ... });
 *   // on shutdown: agent.close(); transport.close(); neighbours.close();
 */
import { pino, type Logger } from 'pino';
import type { DvmsMessage } from '../scheduler/protocol/messages.js';
import type { NeighbourOrder } from '../scheduler/protocol/neighbours.js';
import type { SchedulerTransport } from '../scheduler/protocol/transport.js';
import { short } from '../mesh/errors.js';
import type { JsonValue, Member, Mesh } from '../mesh/mesh.js';
import { distance, type Coordinate } from '../mesh/vivaldi/coordinate.js';
import { monotonicMs } from '../lib/monotonic.js';

/** Mesh RPC method carrying DVMS messages. */
export const DVMS_METHOD = 'dvms/message';
/** Bound of one message call; the protocol's own timeouts (2 s handover/probe) decide what is lost. */
export const DEFAULT_DVMS_TIMEOUT_MS = 5_000;
/** How long a neighbour ranking is reused while the membership does not change. */
export const DEFAULT_RANK_TTL_MS = 5_000;

export interface MeshSchedulerTransportOptions {
  logger?: Logger;
  /** Timeout of each message call (ms). */
  timeoutMs?: number;
  /** The agent's clock (its `env.now`), in which a received `sentAt` is expressed (default Date.now). */
  now?: () => number;
}

/** Send-to-receive readings kept per sender: the smallest is its clock offset plus the fastest delivery. */
const DELAY_WINDOW = 32;

/** A DVMS message as it travels: the message, and its sender's monotonic send time (ms). */
interface Stamped {
  m: DvmsMessage;
  t: number;
}

export interface SchedulerLinkStats {
  /** Messages handed to the mesh (self-addressed ones included). */
  sent: number;
  /** Calls that failed (unreachable, timeout, closed): the message is lost. */
  failed: number;
  /** Messages delivered to the handler. */
  received: number;
  /** Messages dropped: sender not a member, malformed, no handler yet, or transport closed. */
  dropped: number;
}

type MessageHandler = (from: string, message: DvmsMessage) => void;

/** Mesh key (hex) → coordinate as this node sees it (its own from its Vivaldi client). */
function coordinateOf(mesh: Mesh, key: string, member?: Member): Coordinate | null {
  if (key === mesh.key) return mesh.vivaldi.getCoordinate();
  return (member ?? mesh.member(key))?.coordinate ?? null;
}

function coordinateDistanceMs(a: Coordinate | null, b: Coordinate | null): number {
  if (!a || !b || a.vec.length !== b.vec.length) return Number.POSITIVE_INFINITY;
  return distance(a, b);
}

/**
 * Distance in ms between two nodes (mesh keys): this node's measured RTT (median of its recent
 * samples) when one end is this node and it has samples, otherwise the predicted RTT of their
 * Vivaldi coordinates (heights and adjustments included). Infinity when a coordinate is unknown.
 */
export function meshDistance(mesh: Mesh): (a: string, b: string) => number {
  return (a, b) => {
    if (a === b) return 0;
    if (a === mesh.key || b === mesh.key) {
      const measured = mesh.measuredRtt(a === mesh.key ? b : a);
      if (measured !== undefined && Number.isFinite(measured)) return measured;
    }
    return coordinateDistanceMs(coordinateOf(mesh, a), coordinateOf(mesh, b));
  };
}

function isDvmsMessage(v: unknown): v is DvmsMessage {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as { type?: unknown }).type === 'string';
}

export class MeshSchedulerTransport implements SchedulerTransport {
  private readonly mesh: Mesh;
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private handler: MessageHandler | null = null;
  private closed = false;
  private readonly counters: SchedulerLinkStats = { sent: 0, failed: 0, received: 0, dropped: 0 };
  private readonly readings = new Map<string, number[]>();
  private readonly now: () => number;

  constructor(mesh: Mesh, opts: MeshSchedulerTransportOptions = {}) {
    this.mesh = mesh;
    this.now = opts.now ?? Date.now;
    this.log = (opts.logger ?? pino({ level: 'warn' })).child({ component: 'dvms-link' });
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_DVMS_TIMEOUT_MS;
    mesh.handle(DVMS_METHOD, (payload, fromKey) => {
      this.receive(fromKey, payload);
      return null;
    });
  }

  send(to: string, message: DvmsMessage): void {
    if (this.closed) return;
    this.counters.sent++;
    if (to === this.mesh.key) {
      // Same node: deliver on a later turn, as a remote message would arrive (no re-entrancy).
      const copy = structuredClone(message);
      setImmediate(() => this.deliver(this.mesh.key, copy));
      return;
    }
    const stamped: Stamped = { m: message, t: monotonicMs() };
    this.mesh.request(to, DVMS_METHOD, stamped as unknown as JsonValue, { timeoutMs: this.timeoutMs }).catch((err: unknown) => {
      this.counters.failed++;
      this.log.debug({ peer: short(to), type: message.type, code: (err as { code?: string })?.code }, 'dvms message lost');
    });
  }

  onMessage(handler: MessageHandler): void {
    this.handler = handler;
  }

  /** One-way latency (ms): half the measured RTT when known, else half the coordinate prediction; Infinity if unknown. */
  latency(to: string): number {
    return meshDistance(this.mesh)(this.mesh.key, to) / 2;
  }

  /**
   * Entry point of a message that arrived over the mesh from `fromKey` (the mesh handler calls
   * it). Dropped unless the sender is a current member and the payload looks like a DVMS message.
   */
  receive(fromKey: string, payload: unknown): void {
    const stamped = payload as Partial<Stamped> | null;
    if (this.closed || this.mesh.member(fromKey) === undefined || typeof stamped?.t !== 'number' || !isDvmsMessage(stamped.m)) {
      this.counters.dropped++;
      this.log.debug({ peer: short(fromKey) }, 'dvms message dropped');
      return;
    }
    const message = stamped.m;
    const delay = this.excessDelay(fromKey, stamped.t);
    this.deliver(fromKey, message.type === 'join' ? { ...message, sentAt: this.now() - delay } : message);
  }

  /**
   * How much longer than the fastest recent message from `from` this one took (ms): the readings
   * mix the two monotonic clocks' offset with the delivery time, and the offset cancels out.
   */
  private excessDelay(from: string, sentMono: number): number {
    const reading = monotonicMs() - sentMono;
    const list = this.readings.get(from) ?? [];
    list.push(reading);
    if (list.length > DELAY_WINDOW) list.shift();
    this.readings.set(from, list);
    return reading - Math.min(...list);
  }

  stats(): SchedulerLinkStats {
    return { ...this.counters };
  }

  /** Stops serving and sending; safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.mesh.unhandle(DVMS_METHOD);
  }

  private deliver(from: string, message: DvmsMessage): void {
    const h = this.handler;
    if (this.closed || !h) {
      this.counters.dropped++;
      return;
    }
    this.counters.received++;
    try {
      h(from, message);
    } catch (err) {
      this.log.warn({ err, peer: short(from), type: message.type }, 'dvms handler failed');
    }
  }
}

export interface MeshNeighbourOrderOptions {
  /** Reuse a ranking this long while the membership is unchanged (ms). */
  rankTtlMs?: number;
  /** Clock in ms (default performance.now). */
  now?: () => number;
}

export class MeshNeighbourOrder implements NeighbourOrder {
  private readonly mesh: Mesh;
  private readonly rankTtlMs: number;
  private readonly now: () => number;
  private readonly cache = new Map<string, { at: number; list: string[] }>();
  private memberCount: number;
  private readonly onChange = (): void => {
    this.cache.clear();
    this.memberCount = this.mesh.stats().members;
  };

  constructor(mesh: Mesh, opts: MeshNeighbourOrderOptions = {}) {
    this.mesh = mesh;
    this.rankTtlMs = opts.rankTtlMs ?? DEFAULT_RANK_TTL_MS;
    this.now = opts.now ?? (() => performance.now());
    this.memberCount = mesh.stats().members;
    mesh.on('member-joined', this.onChange);
    mesh.on('member-left', this.onChange);
  }

  /** Candidates nearest first from `initiator`: this node and the members, initiator excluded. */
  ranking(initiator: string): string[] {
    const now = this.now();
    const hit = this.cache.get(initiator);
    if (hit && now - hit.at < this.rankTtlMs) return hit.list;
    const members = this.mesh.members();
    const byKey = new Map(members.map((m) => [m.key, m] as const));
    const origin = coordinateOf(this.mesh, initiator, byKey.get(initiator));
    const candidates: { key: string; d: number }[] = [];
    if (initiator !== this.mesh.key) candidates.push({ key: this.mesh.key, d: coordinateDistanceMs(origin, this.mesh.vivaldi.getCoordinate()) });
    for (const m of members) if (m.key !== initiator) candidates.push({ key: m.key, d: coordinateDistanceMs(origin, m.coordinate) });
    candidates.sort((a, b) => a.d - b.d || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const list = candidates.map((c) => c.key);
    this.memberCount = members.length;
    this.cache.set(initiator, { at: now, list });
    return list;
  }

  at(initiator: string, index: number): string | undefined {
    if (index < 0) return undefined;
    return this.ranking(initiator)[index];
  }

  size(): number {
    return this.memberCount;
  }

  /** Stops following membership changes; safe to call twice. */
  close(): void {
    this.mesh.off('member-joined', this.onChange);
    this.mesh.off('member-left', this.onChange);
    this.cache.clear();
  }
}
