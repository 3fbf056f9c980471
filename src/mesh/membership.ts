/** Membership and liveness: who the members are, what each announces, and when one is lost. */
/*
 * - A member joins with its first hello (sent by both ends once their link is
 *   verified) and updates itself with later hellos (`seq` increases).
 * - Liveness: the connection sends keep-alives every `keepAliveMs` and is
 *   destroyed after `connectionTimeoutMs` of silence (links.ts); every member
 *   also gets a heartbeat every `heartbeatMs`, and a member silent for
 *   `heartbeatTimeoutMs` is disconnected. A closed connection is reported as
 *   `member-left` after `reconnectGraceMs` unless a new one replaced it.
 *   Bound on loss detection: min(connectionTimeoutMs, heartbeatTimeoutMs +
 *   heartbeatMs) + reconnectGraceMs = 3.5 s with the defaults for a dead
 *   process (measured ≈ 3.5 s after a SIGKILL on loopback), 4.5 s at most
 *   for a process that keeps its connection open but stops answering.
 * - Runs over any `MembershipTransport` and `MeshTimers`: the Hyperswarm links
 *   and Node timers on a node, a simulated network and clock in a simulation.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { MeshTimers, TimerHandle } from './clock.js';
import type { MeshConfig } from './config.js';
import { MeshError, short } from './errors.js';
import type { Coordinate } from './vivaldi/coordinate.js';
import type { MemberInfo } from './overlay/types.js';

export const EVENT_HELLO = 'mesh/hello';
export const EVENT_HEARTBEAT = 'mesh/heartbeat';
export type MembershipEvent = typeof EVENT_HELLO | typeof EVENT_HEARTBEAT;

/** A hello (with the sender's info) or a heartbeat (without): the sender's coordinate. */
export interface MembershipMessage {
  info?: MemberInfo;
  c: Coordinate | null;
}

/** What a node says about itself: the overlay's record of a member. */
export type { MemberInfo };

export interface Member extends MemberInfo {
  /** Hex public key: the identity. */
  readonly key: string;
  coordinate: Coordinate | null;
  /** Mesh clock (ms) of the join and of the last message. */
  joinedAt: number;
  lastSeen: number;
}

export interface MembershipEvents {
  'member-joined': [Member];
  'member-updated': [Member];
  'member-left': [Member, string];
}

/** What membership needs from the connections under it. */
export interface MembershipTransport {
  /** Peers with an authenticated connection. */
  connectedPeers(): Iterable<string>;
  isConnected(peerKey: string): boolean;
  /** Fire-and-forget message to a connected peer. */
  send(peerKey: string, event: MembershipEvent, message: MembershipMessage): void;
  /** Drops the connection to a peer (it stopped answering). */
  disconnect(peerKey: string, reason: Error): void;
}

export interface MembershipOptions extends Pick<MeshConfig, 'heartbeatMs' | 'heartbeatTimeoutMs' | 'reconnectGraceMs'> {
  /** What this node announces (its `seq` is the first one sent). */
  info: MemberInfo;
  transport: MembershipTransport;
  timers: MeshTimers;
  log: Logger;
  /** This node's coordinate, sent with every hello and heartbeat. */
  coordinate: () => Coordinate;
}

export class Membership extends EventEmitter<MembershipEvents> {
  private ownInfo: MemberInfo;
  private readonly members = new Map<string, Member>();
  /** Members whose connection closed, awaiting a replacement (key → leave timer). */
  private readonly leaving = new Map<string, TimerHandle>();
  private heartbeatTimer: TimerHandle | null = null;
  private stopped = false;

  constructor(private readonly opts: MembershipOptions) {
    super();
    this.ownInfo = { ...opts.info };
  }

  /** What this node announces (a copy). */
  get info(): MemberInfo {
    return { ...this.ownInfo };
  }

  get size(): number {
    return this.members.size;
  }

  /** Starts the heartbeats. */
  start(): void {
    if (this.stopped || this.heartbeatTimer) return;
    this.heartbeatTimer = this.opts.timers.setRepeating(this.opts.heartbeatMs, () => this.heartbeat());
  }

  /** Stops the heartbeats and the leave timers; from now on a closed connection loses its member at once. */
  stop(): void {
    this.stopped = true;
    if (this.heartbeatTimer) this.opts.timers.clearTimer(this.heartbeatTimer);
    this.heartbeatTimer = null;
    for (const t of this.leaving.values()) this.opts.timers.clearTimer(t);
    this.leaving.clear();
  }

  /** Forgets every member without reporting them lost (the mesh closed). */
  clear(): void {
    this.members.clear();
  }

  has(key: string): boolean {
    return this.members.has(key);
  }

  /** A copy of member `key`. */
  get(key: string): Member | undefined {
    const m = this.members.get(key);
    return m ? copyMember(m) : undefined;
  }

  /** Copies of every member, in join order. */
  list(): Member[] {
    return [...this.members.values()].map(copyMember);
  }

  keys(): string[] {
    return [...this.members.keys()];
  }

  /** Whether `key`'s connection closed and a replacement is awaited. */
  isReconnecting(key: string): boolean {
    return this.leaving.has(key);
  }

  /** Changes what this node announces; connected peers are told at once. */
  update(change: Partial<Pick<MemberInfo, 'name' | 'httpAddress' | 'site' | 'capacity'>>): void {
    this.ownInfo = { ...this.ownInfo, ...change, seq: this.ownInfo.seq + 1 };
    for (const key of this.opts.transport.connectedPeers()) this.sayHello(key);
  }

  /** Member `key` was heard from (it served a call, for instance). */
  touch(key: string): void {
    const m = this.members.get(key);
    if (m) m.lastSeen = this.opts.timers.now();
  }

  setCoordinate(key: string, coordinate: Coordinate): void {
    const m = this.members.get(key);
    if (m) m.coordinate = coordinate;
  }

  /** A connection to `key` passed the handshake: it replaces a closed one, and both ends say hello. */
  linkUp(key: string): void {
    const leave = this.leaving.get(key);
    if (leave) {
      this.opts.timers.clearTimer(leave);
      this.leaving.delete(key);
      this.opts.log.debug({ peer: short(key) }, 'connection replaced within the grace period');
    }
    this.sayHello(key);
  }

  /** The connection to `key` closed: the member is lost unless a new connection replaces it within the grace. */
  linkDown(key: string, revoked: boolean): void {
    if (!this.members.has(key) || this.leaving.has(key)) return;
    if (this.stopped || revoked || this.opts.reconnectGraceMs <= 0) {
      this.lose(key, revoked ? 'revoked' : 'connection closed');
      return;
    }
    const timer = this.opts.timers.setTimer(this.opts.reconnectGraceMs, () => {
      this.leaving.delete(key);
      if (!this.opts.transport.isConnected(key)) this.lose(key, 'connection closed');
    });
    this.leaving.set(key, timer);
  }

  /** A membership message (hello or heartbeat) from `key`. */
  receive(key: string, event: MembershipEvent, message: MembershipMessage): void {
    const now = this.opts.timers.now();
    const coord = message.c;
    const existing = this.members.get(key);
    if (event === EVENT_HELLO && message.info && typeof message.info.name === 'string') {
      const info = sanitizeInfo(message.info);
      if (!existing) {
        const member: Member = { key, ...info, coordinate: coord, joinedAt: now, lastSeen: now };
        this.members.set(key, member);
        this.opts.log.info({ peer: short(key), name: info.name }, 'member joined');
        this.emit('member-joined', copyMember(member));
        return;
      }
      existing.lastSeen = now;
      if (coord) existing.coordinate = coord;
      if (info.seq !== existing.seq || info.name !== existing.name) {
        Object.assign(existing, info);
        this.emit('member-updated', copyMember(existing));
      }
    } else if (event === EVENT_HEARTBEAT && existing) {
      existing.lastSeen = now;
      if (coord) existing.coordinate = coord;
    }
  }

  /** Reports `key` lost (`member-left` with `reason`). */
  lose(key: string, reason: string): void {
    const member = this.members.get(key);
    if (!member) return;
    this.members.delete(key);
    this.opts.log.info({ peer: short(key), name: member.name, reason }, 'member left');
    this.emit('member-left', copyMember(member), reason);
  }

  private sayHello(key: string): void {
    this.opts.transport.send(key, EVENT_HELLO, { info: this.ownInfo, c: this.opts.coordinate() });
  }

  private heartbeat(): void {
    if (this.stopped) return;
    const now = this.opts.timers.now();
    const payload: MembershipMessage = { c: this.opts.coordinate() };
    for (const key of this.opts.transport.connectedPeers()) {
      const member = this.members.get(key);
      if (member && now - member.lastSeen > this.opts.heartbeatTimeoutMs) {
        this.opts.log.info({ peer: short(key) }, 'heartbeat timeout');
        this.opts.transport.disconnect(key, MeshError.TIMEOUT(this.opts.heartbeatTimeoutMs, key));
        continue;
      }
      this.opts.transport.send(key, EVENT_HEARTBEAT, payload);
    }
  }
}

function copyMember(m: Member): Member {
  return { ...m, coordinate: m.coordinate ? { ...m.coordinate, vec: [...m.coordinate.vec] } : null };
}

function sanitizeInfo(info: MemberInfo): MemberInfo {
  return {
    name: String(info.name),
    httpAddress: typeof info.httpAddress === 'string' ? info.httpAddress : null,
    site: typeof info.site === 'string' ? info.site : null,
    capacity: info.capacity ?? null,
    seq: Number.isFinite(info.seq) ? info.seq : 0,
  };
}
