/**
 * The overlay as the mesh's membership: an `OverlayNode` over the Hyperswarm links
 * (overlay-transport.ts), with the surface of the full membership (members, events, what this
 * node announces), links on demand for calls, and the ring directory.
 */
/*
 * Joining: the topic is only announced; a lookup names a few members to join by, and the overlay
 * chooses its links from then on. The lookup is repeated on the discovery's refresh schedule,
 * dialling a few members it names that the table does not know (a node that started before any
 * other was announced, or an island of nodes that found only each other, joins the rest).
 */
import { registryDirectory, type OverlayDirectory } from './records/record-directory.js';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { sleep, type MeshTimers, type TimerHandle } from './clock.js';
import type { Discovery } from './discovery.js';
import { MeshError } from './errors.js';
import type { Member, MemberInfo, MembershipEvents } from './membership.js';
import type { OverlayConfig } from './overlay/config.js';
import type { MemberRecord } from './overlay/member-table.js';
import { OverlayNode } from './overlay/node.js';
import type { LinkOutcome, SwarmOverlayTransport } from './overlay-transport.js';
import type { VivaldiClient } from './vivaldi/client.js';
import type { Coordinate, RandomSource } from './vivaldi/coordinate.js';

/** Members a topic lookup hands to the overlay (to join by, and at each refresh). */
const CONTACTS = 3;
/** After the goodbye, how long the links stay open for it to be written out (destroying a stream drops what it still holds), ms. */
const LEAVE_GRACE_MS = 250;
/** Dials of a member a call may make, and the time a second one needs at least (ms). */
const DIALS_PER_CALL = 2;
const MIN_REDIAL_MS = 500;
/** How often a node that knows no member looks the topic up again, once the refresh schedule is over (ms). */
const ALONE_LOOKUP_MS = 5000;
/** A topic lookup gives up after this (ms). */
const LOOKUP_TIMEOUT_MS = 5000;

const OUTCOMES: Record<Exclude<LinkOutcome, 'up'>, string> = {
  busy: 'the member is at its link bound',
  failed: 'no connection could be made',
  timeout: 'no link within % ms',
};

export interface OverlayMembershipOptions {
  selfKey: string;
  info: MemberInfo;
  config: OverlayConfig;
  transport: SwarmOverlayTransport;
  discovery: Discovery;
  vivaldi: VivaldiClient;
  rttWindow: number;
  refreshScheduleMs: readonly number[];
  timers: MeshTimers;
  random: RandomSource;
  log: Logger;
  /** Keys this node refuses (links.ts): hidden from the members, never reported, never called. */
  isRevoked(key: string): boolean;
}

function toMember(r: MemberRecord): Member {
  return { key: r.key, ...r.info, coordinate: r.coordinate, joinedAt: r.joinedAt, lastSeen: r.lastSeen };
}

export class OverlayMembership extends EventEmitter<MembershipEvents> {
  readonly node: OverlayNode;
  readonly directory: OverlayDirectory;
  private readonly lookups = new Set<TimerHandle>();
  private closed = false;

  constructor(private readonly o: OverlayMembershipOptions) {
    super();
    this.node = new OverlayNode({
      selfKey: o.selfKey,
      info: o.info,
      config: o.config,
      timers: o.timers,
      random: o.random,
      transport: o.transport,
      vivaldi: o.vivaldi,
      rttWindow: o.rttWindow,
      // Seconds of the wall clock: a restarted node outranks its own tombstone.
      incarnation: Math.floor(Date.now() / 1000),
      listener: {
        joined: (r) => this.shown(r.key) && this.emit('member-joined', toMember(r)),
        updated: (r) => this.shown(r.key) && this.emit('member-updated', toMember(r)),
        left: (r, reason) => this.shown(r.key) && this.emit('member-left', toMember(r), reason === 'dead' ? 'lost' : reason),
      },
    });
    o.transport.attach(this.node);
    this.directory = registryDirectory(this.node.registry, o.timers);
  }

  /** What this node announces (a copy). */
  get info(): MemberInfo {
    return this.node.membership.info;
  }

  get size(): number {
    return this.keys().length;
  }

  has(key: string): boolean {
    return this.shown(key) && this.node.table.has(key);
  }

  get(key: string): Member | undefined {
    const r = this.shown(key) ? this.node.table.get(key) : undefined;
    return r ? toMember(r) : undefined;
  }

  /** The members of the table (bounded): alive ones and suspects (a suspect is a member until declared dead). */
  list(): Member[] {
    return this.closed ? [] : this.node.members().filter((r) => !this.o.isRevoked(r.key)).map(toMember);
  }

  keys(): string[] {
    return this.closed ? [] : [...this.node.table.keys()].filter((k) => !this.o.isRevoked(k));
  }

  /**
   * `key` is refused from now on (its links are closed and refused at the handshake): it is
   * reported left (`revoked`) and no longer shown. The overlay may still know it (members that did
   * not revoke it gossip it alive), but never dials it, and never takes its refusal for a death.
   */
  revoke(key: string): void {
    const r = this.closed ? undefined : this.node.table.get(key);
    if (r) this.emit('member-left', toMember(r), 'revoked');
  }

  /** Whether a link to `key` is being dialled, or replaced after it closed. */
  isReconnecting(key: string): boolean {
    return this.o.transport.isDialling(key) || this.node.isReconnecting(key);
  }

  /** A call was served to or made from `key`: its link is in use. */
  touch(key: string): void {
    const r = this.node.table.get(key);
    if (r) r.lastSeen = this.o.timers.now();
    this.node.views.touch(key);
  }

  setCoordinate(key: string, coordinate: Coordinate): void {
    const r = this.node.table.get(key);
    if (r) r.coordinate = coordinate;
  }

  update(change: Partial<Pick<MemberInfo, 'name' | 'httpAddress' | 'site' | 'capacity'>>): void {
    this.node.membership.announce(change);
  }

  /** Measured RTT to `key` (the overlay's probes), in ms. */
  measuredRtt(key: string): number | undefined {
    return this.node.measuredRtt(key);
  }

  /** Looks the topic up and joins through the members it names; looks again on the refresh schedule. */
  async join(): Promise<void> {
    const contacts = await this.o.discovery.contacts(CONTACTS, LOOKUP_TIMEOUT_MS);
    if (this.closed) return;
    this.o.log.debug({ contacts: contacts.length }, 'overlay joining');
    // Alone (no member announced yet), the node still joins: the first link it gets brings it the mesh.
    this.node.join(contacts);
    for (const at of this.o.refreshScheduleMs) {
      const t = this.o.timers.setTimer(at, () => {
        this.lookups.delete(t);
        void this.lookAgain();
      });
      this.lookups.add(t);
    }
    // Past the schedule, a node that still knows no member (every lookup found nobody: the others'
    // announcements not yet on the DHT) looks again, or it would stay alone for good.
    const alone = this.o.timers.setRepeating(ALONE_LOOKUP_MS, () => {
      if (this.node.table.size === 0) void this.lookAgain();
    });
    this.lookups.add(alone);
  }

  /**
   * A link to `key` for a call: at once when linked, else dialled on demand (within the bound)
   * and awaited for at most `timeoutMs`. Rejects with UNREACHABLE when none can be had.
   */
  async reach(key: string, timeoutMs: number): Promise<void> {
    const { transport } = this.o;
    if (this.closed) throw MeshError.CLOSED('mesh closed', undefined, key);
    if (this.o.isRevoked(key)) throw MeshError.UNAUTHORIZED('revoked', key);
    if (transport.isLinked(key)) return this.node.views.touch(key);
    const deadline = this.o.timers.now() + timeoutMs;
    for (let attempt = 1; ; attempt++) {
      this.node.views.connect(key);
      if (!transport.isDialling(key) && !transport.isLinked(key)) throw MeshError.UNREACHABLE(key, undefined, 'no room for one more link (at the bound)');
      const outcome = await transport.whenLinked(key, deadline - this.o.timers.now());
      if (outcome === 'up') return;
      // A dial that found no connection is tried once more while the deadline allows: when both
      // ends dial each other at once, Hyperswarm keeps one connection and closes the other, and
      // the closed attempt can end the dial before the kept connection is up.
      if (outcome !== 'failed' || attempt >= DIALS_PER_CALL || deadline - this.o.timers.now() < MIN_REDIAL_MS) {
        throw MeshError.UNREACHABLE(key, undefined, OUTCOMES[outcome].replace('%', String(timeoutMs)));
      }
    }
  }

  /** Runs `call` on `key` within `timeoutMs`, the dial on demand included (the call gets what is left). */
  async callVia<T>(key: string, timeoutMs: number, call: (timeoutMs: number) => Promise<T>): Promise<T> {
    const t0 = this.o.timers.now();
    await this.reach(key, timeoutMs);
    try {
      return await call(Math.max(1, timeoutMs - (this.o.timers.now() - t0)));
    } finally {
      this.touch(key);
    }
  }

  /** Says goodbye: the neighbours gossip that this node left; resolves a moment later, when the links may close. */
  async leave(): Promise<void> {
    if (this.closed) return;
    this.node.leave();
    await sleep(this.o.timers, LEAVE_GRACE_MS);
  }

  stop(): void {
    for (const t of this.lookups) this.o.timers.clearTimer(t);
    this.lookups.clear();
    this.node.stop();
    this.o.transport.stop();
  }

  /** Forgets every member without reporting them (the mesh closed). */
  clear(): void {
    this.closed = true;
  }

  private shown(key: string): boolean {
    return !this.closed && !this.o.isRevoked(key);
  }

  private async lookAgain(): Promise<void> {
    const found = await this.o.discovery.contacts(4 * CONTACTS, LOOKUP_TIMEOUT_MS);
    if (this.closed) return;
    const unknown = found.filter((k) => !this.node.table.has(k) && !this.o.transport.isLinked(k) && !this.o.isRevoked(k));
    for (const key of unknown.slice(0, CONTACTS)) this.node.views.connect(key);
  }
}
