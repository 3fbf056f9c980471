/** The overlay's vocabulary: member states, gossip updates, the messages nodes exchange, and the transport port under them. */
import { createHash } from 'node:crypto';
import type { Coordinate } from '../vivaldi/coordinate.js';
import type { JsonValue } from '../wire.js';

/** What a node says about itself. */
export interface MemberInfo {
  name: string;
  httpAddress: string | null;
  site: string | null;
  capacity: JsonValue;
  /** Increases on every change of the fields above. */
  seq: number;
}

/** SWIM states: alive, suspected (refutable), dead (declared by a failure detector) or left (said goodbye). */
export type Liveness = 'alive' | 'suspect' | 'dead' | 'left';

/** One piece of membership gossip: member `key` is in state `s` at incarnation `inc`. */
export interface Update {
  key: string;
  s: Liveness;
  inc: number;
  /** Who suspected or declared it (a suspicion's confirmations are counted by distinct reporters). */
  by?: string;
  /** With `alive`: what the member announces. */
  info?: MemberInfo;
  c?: Coordinate | null;
}

/** A location record: `by` publishes `value` under `key` (the entity id, a tenant's usage…). */
export interface DirectoryRecord {
  key: string;
  by: string;
  /** JSON text; empty when the record only says "here". */
  value: string;
  /** Milliseconds it stays valid unless republished. */
  ttl: number;
}

/** Every message of the overlay (one protomux-rpc method each on a real link). */
export type OverlayMessage =
  | { t: 'ping'; seq: number; inc: number; c: Coordinate | null; g: Update[] }
  | { t: 'ack'; seq: number; inc: number; c: Coordinate | null; g: Update[] }
  | { t: 'ping-req'; seq: number; target: string; g: Update[] }
  | { t: 'nack'; seq: number; tried: boolean; g: Update[] }
  | { t: 'sync'; reply: boolean; join: boolean; members: Update[] }
  | { t: 'view'; want: boolean; busy: boolean; bye: boolean; neighbours: string[] }
  | { t: 'put'; qid: number; hops: number; records: DirectoryRecord[] }
  | { t: 'find'; qid: number; hops: number; key: string; after: string; limit: number }
  | { t: 'found'; qid: number; hops: number; ok: boolean; more: boolean; records: DirectoryRecord[] }
  | { t: 'near'; qid: number; c: Coordinate; n: number }
  | { t: 'near-found'; qid: number; members: Update[] };

export type MessageType = OverlayMessage['t'];

/**
 * Probes travel as datagrams on the link (Hyperswarm's secret-stream `trySend`: encrypted, not
 * retransmitted, not ordered), as memberlist's go over UDP: a lost ping is a missed ack, where on
 * the reliable stream it would wait a retransmission timeout and hold up what follows it. Every
 * other message goes on the stream.
 */
export const DATAGRAM_TYPES: ReadonlySet<MessageType> = new Set<MessageType>(['ping', 'ack', 'ping-req', 'nack']);

/**
 * The links under the overlay: Hyperswarm connections on a node, a simulated network in a
 * simulation. Sending needs an open link; `dial` asks for one (answered by `linkUp` or `dialFailed`).
 */
export interface OverlayTransport {
  linked(): Iterable<string>;
  isLinked(key: string): boolean;
  linkCount(): number;
  dial(key: string): void;
  hangUp(key: string): void;
  /** On the link's stream, or as a datagram for the types of `DATAGRAM_TYPES` (may be lost). */
  send(key: string, message: OverlayMessage): void;
}

/** What the transport reports to the overlay. */
export interface OverlayHandler {
  linkUp(key: string): void;
  linkDown(key: string): void;
  /** A dial failed: `busy` when the member answered that it is at its bound (it is alive). */
  dialFailed(key: string, busy: boolean): void;
  /** A link from `key`: accept it within the bound (dials under way counted), making room by closing an idle link, or refuse. */
  admit(key: string): boolean;
  message(from: string, message: OverlayMessage): void;
}

/** Positions on the ring of the directory: 48 bits. */
export const RING_SIZE = 2 ** 48;

/** A member's ring position: the first 48 bits of its public key (hex). */
export function memberPosition(key: string): number {
  return parseInt(key.slice(0, 12), 16);
}

/** A directory key's ring position: the first 48 bits of its SHA-256. */
export function keyPosition(key: string): number {
  return createHash('sha256').update(key).digest().readUIntBE(0, 6);
}

/** Clockwise distance on the ring from `a` to `b`. */
export function ringDistance(a: number, b: number): number {
  return b >= a ? b - a : b + RING_SIZE - a;
}
