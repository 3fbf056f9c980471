/**
 * One node of the overlay: the member table, SWIM membership and failure detection, the bounded
 * views, the directory and the greedy nearest-member search, over any `OverlayTransport` and
 * `MeshTimers` (Hyperswarm and Node timers in the mesh, a simulated network in the simulator).
 */
import type { MeshTimers, TimerHandle } from '../clock.js';
import { median, type VivaldiClient } from '../vivaldi/client.js';
import { distance, type Coordinate, type RandomSource } from '../vivaldi/coordinate.js';
import type { OverlayConfig } from './config.js';
import { Detector } from './detector.js';
import { MemberTable, type MemberRecord } from './member-table.js';
import { Membership, type MembershipListener } from './membership.js';
import { Registry } from './registry.js';
import { Awareness } from './suspicion.js';
import { DATAGRAM_TYPES, memberPosition, type MemberInfo, type OverlayHandler, type OverlayMessage, type OverlayTransport, type Update } from './types.js';
import { Views } from './views.js';

export interface OverlayNodeOptions {
  selfKey: string;
  info: MemberInfo;
  config: OverlayConfig;
  timers: MeshTimers;
  random: RandomSource;
  transport: OverlayTransport;
  vivaldi: VivaldiClient;
  /** RTT samples kept per neighbour (median: the measured RTT). */
  rttWindow: number;
  /** First incarnation (seconds of the clock at start: a restart outranks the old tombstone). */
  incarnation: number;
  listener: Partial<MembershipListener>;
}

/** Steps of a greedy search for the members nearest a coordinate. */
const NEAR_STEPS = 4;

export class OverlayNode implements OverlayHandler {
  readonly table: MemberTable;
  readonly membership: Membership;
  readonly detector: Detector;
  readonly views: Views;
  readonly registry: Registry;
  readonly awareness: Awareness;
  /** The last RTTs measured to each neighbour, and their median (ranked often, measured seldom). */
  private readonly rtts = new Map<string, { samples: number[]; median: number }>();
  /** This node's coordinate, copied once per change: every message carries it. */
  private ownCoordinate: Coordinate | null = null;
  private readonly graces = new Map<string, TimerHandle>();
  private readonly byes = new Set<string>();
  /** Members whose link closed unexpectedly, dialled again: a failed dial makes them suspects. */
  private readonly verifying = new Set<string>();
  private readonly nearAsks = new Map<number, (members: Update[]) => void>();
  private nearQid = 0;
  private syncTimer: TimerHandle | null = null;
  /** When the next periodic sync is due (clock ms), and the interval before jitter after it (ms). */
  private syncDue = 0;
  private syncDelayMs = 0;
  private windowSynced = false;
  private stopped = false;

  constructor(private readonly o: OverlayNodeOptions) {
    const { selfKey, config, timers, random, transport } = o;
    this.awareness = new Awareness(config.awarenessMax);
    this.table = new MemberTable(selfKey, { maxKnownMembers: config.maxKnownMembers, ringWindowMin: config.ringWindowMin, random });
    const coordinate = (): Coordinate => (this.ownCoordinate ??= o.vivaldi.getCoordinate());
    this.views = new Views({ selfKey, config, timers, random, table: this.table, transport, coordinate, rttOf: (k) => this.measuredRtt(k), avoid: (k) => this.membership.isSuspected(k), unreachable: (k) => this.registry.unreachable(k), awaited: (k) => this.registry.awaits(k) });
    const sendTo = (key: string, m: OverlayMessage): void => this.views.sendTo(key, m);
    this.registry = new Registry({ selfKey, config, timers, random, table: this.table, sendTo, isLinked: (k) => transport.isLinked(k), joining: () => this.membership.isJoining });
    this.membership = new Membership(
      { selfKey, config, timers, random, table: this.table, awareness: this.awareness, coordinate, watches: (k) => transport.isLinked(k) && this.views.isViewLink(k), send: (k, m) => transport.send(k, m), sendTo, protect: (k) => this.views.protects(k), tellNeighbours: (u) => this.tellNeighbours(u), listener: this.listener() },
      o.info,
      o.incarnation,
    );
    this.detector = new Detector({
      selfKey,
      config,
      timers,
      random,
      membership: this.membership,
      awareness: this.awareness,
      coordinate,
      // The view links are watched (both ends probe them); a link on demand carries requests, whose timeouts say when it fails.
      neighbours: () => this.views.neighbours().filter((k) => this.table.has(k) && this.views.isViewLink(k)),
      isLinked: (k) => transport.isLinked(k),
      helpers: (t) => this.views.helpers(t),
      send: (k, m) => transport.send(k, m),
      sampled: (k, rtt, c) => this.sampled(k, rtt, c),
      rttOf: (k) => this.measuredRtt(k) ?? this.predictedRtt(k),
    });
  }

  start(): void {
    this.detector.start();
    this.views.start();
    this.registry.start();
    this.syncDelayMs = this.o.config.syncIntervalMs;
    this.scheduleSync(this.syncDelayMs);
  }

  /** Joins through `contacts` (members the topic lookup found): links to them; its alive update is gossiped as news. */
  join(contacts: readonly string[]): void {
    this.table.joining();
    this.start();
    this.membership.join();
    for (const key of contacts) this.views.connect(key);
  }

  /** Gossips `left` to every neighbour; the caller closes the links after a moment. */
  leave(): void {
    const left = this.membership.leave();
    for (const key of this.views.neighbours()) this.o.transport.send(key, { t: 'ping', seq: 0, inc: left.inc, c: null, g: [left, ...this.membership.piggyback()] });
  }

  stop(): void {
    this.stopped = true;
    this.detector.stop();
    this.views.stop();
    this.registry.stop();
    this.membership.stop();
    if (this.syncTimer) this.o.timers.clearTimer(this.syncTimer);
    for (const t of this.graces.values()) this.o.timers.clearTimer(t);
  }

  /** Alive and suspected members this node knows of. */
  members(): MemberRecord[] {
    return [...this.table.values()];
  }

  /** Median of the last RTTs measured to `key` (ms). */
  measuredRtt(key: string): number | undefined {
    return this.rtts.get(key)?.median;
  }

  /** RTT to `key` predicted by the coordinates (ms), when both are known. */
  predictedRtt(key: string): number | undefined {
    const c = this.table.get(key)?.coordinate;
    const own = this.o.vivaldi.getCoordinate();
    return c && c.vec.length === own.vec.length && own.error < 1 ? distance(own, c) : undefined;
  }

  /** Records an RTT measured outside probes (a ping of the mesh). */
  sampled(key: string, rttMs: number, coordinate: Coordinate | null): void {
    let s = this.rtts.get(key);
    if (!s) this.rtts.set(key, (s = { samples: [], median: rttMs }));
    s.samples.push(rttMs);
    if (s.samples.length > this.o.rttWindow) s.samples.splice(0, s.samples.length - this.o.rttWindow);
    s.median = median(s.samples);
    if (coordinate) {
      const r = this.table.get(key);
      if (r) r.coordinate = coordinate;
      try {
        this.o.vivaldi.update(key, coordinate, Math.max(rttMs, 0.001));
        this.ownCoordinate = null;
      } catch {
        // A rejected sample (out of range, incompatible) leaves the coordinate as it was.
      }
    }
  }

  /**
   * The members nearest `coordinate`, greedily: ask the nearest known one for its nearest, move to
   * any nearer one it names, stop when none is nearer (bounded steps). Full knowledge needs no step.
   */
  nearestTo(coordinate: Coordinate, count: number, done: (keys: string[]) => void): void {
    const known = new Map<string, Coordinate>();
    for (const r of this.table.values()) if (r.coordinate && r.status === 'alive') known.set(r.key, r.coordinate);
    known.set(this.o.selfKey, this.o.vivaldi.getCoordinate());
    const ranked = (): string[] => [...known].sort((a, b) => distance(coordinate, a[1]) - distance(coordinate, b[1])).map(([k]) => k);
    const step = (n: number, best: string): void => {
      if (n >= NEAR_STEPS || best === this.o.selfKey || this.table.knowsAll()) return done(ranked().slice(0, count));
      const qid = ++this.nearQid;
      const timer = this.o.timers.setTimer(this.o.config.lookupTimeoutMs / 2, () => {
        this.nearAsks.delete(qid);
        done(ranked().slice(0, count));
      });
      this.nearAsks.set(qid, (members) => {
        this.o.timers.clearTimer(timer);
        for (const m of members) if (m.c && m.s === 'alive') known.set(m.key, m.c);
        const next = ranked()[0]!;
        if (next === best) return done(ranked().slice(0, count));
        step(n + 1, next);
      });
      this.views.sendTo(best, { t: 'near', qid, c: coordinate, n: count });
    };
    step(0, ranked()[0]!);
  }

  // ---------------------------------------------------------------- transport events

  linkUp(key: string): void {
    if (this.stopped) return;
    const grace = this.graces.get(key);
    if (grace) this.o.timers.clearTimer(grace);
    this.graces.delete(key);
    this.byes.delete(key);
    this.verifying.delete(key);
    this.views.linkUp(key);
    // Lifeguard's buddy system on a new link: a suspect learns of its suspicion, and refutes.
    const suspicion = this.membership.suspicionUpdate(key);
    if (suspicion) this.o.transport.send(key, { t: 'ping', seq: 0, inc: this.membership.incarnation, c: null, g: [suspicion] });
    // A member this node does not know: a sync, when this node is joining or keeps it (an on-demand
    // link to a member the table has no room for carries its own traffic and nothing else).
    const keeps = !this.table.full || this.table.wouldBeStructural(key);
    if (!this.table.has(key) && (this.membership.isJoining || keeps)) this.o.transport.send(key, this.membership.syncFor(key, false));
  }

  /**
   * A link closed without a goodbye: unless a new link replaces it within the grace, this node
   * dials the member again, and suspects it only when that dial fails.
   */
  linkDown(key: string): void {
    const closedHere = this.views.linkDown(key);
    if (this.byes.delete(key) || closedHere || this.stopped || !this.table.has(key) || this.graces.has(key)) return;
    // Closed while this node's probe of it went unanswered: suspected now (the grace then finds it suspected).
    this.detector.linkLost(key);
    this.graces.set(
      key,
      this.o.timers.setTimer(this.o.config.reconnectGraceMs, () => {
        this.graces.delete(key);
        // A member already suspected is dialled too: a failed dial is this node's own confirmation.
        if (this.o.transport.isLinked(key) || !this.table.has(key) || this.o.config.probesPerRound <= 0) return;
        this.verifying.add(key);
        this.views.connect(key);
      }),
    );
  }

  /** Whether `key`'s link closed and a replacement is awaited. */
  isReconnecting(key: string): boolean {
    return this.graces.has(key);
  }

  dialFailed(key: string, busy: boolean): void {
    this.views.dialFailed(key);
    if (this.verifying.delete(key) && !busy && this.table.has(key)) this.membership.suspect(key);
  }

  admit(): boolean {
    return this.views.admit();
  }

  message(from: string, m: OverlayMessage): void {
    if (this.stopped) return;
    const r = this.table.get(from);
    if (r) r.lastSeen = this.o.timers.now();
    else if (m.t === 'ping' || m.t === 'sync') this.tellIfDead(from, m.t === 'ping' ? m.inc : m.members.find((u) => u.key === from)?.inc);
    // A request or an answer uses the link as much as one sent: the link it came on is not the idle one to close for room.
    if (!DATAGRAM_TYPES.has(m.t)) this.views.touch(from);
    switch (m.t) {
      case 'ping':
      case 'ack':
      case 'nack':
      case 'ping-req':
        return this.detector.receive(from, m);
      case 'sync':
        return this.synced(from, m);
      case 'view':
        if (m.bye) {
          this.byes.add(from);
          this.membership.closedByPeer(from);
        }
        return this.views.receive(from, m);
      case 'put':
      case 'find':
      case 'found':
        return this.registry.receive(from, m);
      case 'near':
        return this.views.sendTo(from, { t: 'near-found', qid: m.qid, members: this.nearestKnown(m.c, m.n) });
      case 'near-found':
        this.nearAsks.get(m.qid)?.(m.members);
        this.nearAsks.delete(m.qid);
        return;
    }
  }

  // ---------------------------------------------------------------- internals

  /** A suspicion or confirmation of this node's own, to every linked member but the suspect (as a gossip push: a ping of seq 0). */
  private tellNeighbours(u: Update): void {
    for (const key of this.o.transport.linked()) if (key !== u.key) this.o.transport.send(key, { t: 'ping', seq: 0, inc: this.membership.incarnation, c: null, g: [u] });
  }

  /**
   * A member this node holds dead speaks at an incarnation the tombstone outranks: it never heard
   * (its links were closed on it as it was declared dead), so it is told, and refutes.
   */
  private tellIfDead(from: string, inc: number | undefined): void {
    const tomb = this.table.tombstone(from);
    if (inc === undefined || tomb === undefined || inc > tomb) return;
    this.o.transport.send(from, { t: 'ping', seq: 0, inc: this.membership.incarnation, c: null, g: [{ key: from, s: 'dead', inc: tomb }] });
  }

  private synced(from: string, m: Extract<OverlayMessage, { t: 'sync' }>): void {
    const unknown = m.members.filter((u) => u.key !== from && u.key !== this.o.selfKey && !this.table.has(u.key));
    this.membership.receiveSync(from, m);
    // Missed: now kept, and, in a table at its bound (it cannot know every member), in its window or a ring contact.
    if (unknown.some((u) => this.table.has(u.key) && (!this.table.full || this.table.isStructural(u.key)))) this.syncSoon();
    if (!m.reply) this.views.sendTo(from, this.membership.syncFor(from, true));
    if (m.reply && !this.windowSynced) {
      // Joining: the member just before this node's position knows this node's window.
      this.windowSynced = true;
      const before = this.table.closestPreceding(memberPosition(this.o.selfKey));
      if (before !== from && before !== this.o.selfKey) this.views.sendTo(before, this.membership.syncFor(before, false));
      this.membership.joined();
    }
  }

  private periodicSync(): void {
    if (this.stopped) return;
    this.table.sweepTombstones(this.o.timers.now(), this.o.config.tombstoneMs);
    const around = this.table.around(memberPosition(this.o.selfKey), this.table.windowHalf()).filter((k) => k !== this.o.selfKey);
    const pick = around[Math.floor(this.o.random() * around.length)];
    if (pick) this.views.sendTo(pick, this.membership.syncFor(pick, false));
    this.syncDelayMs = Math.min(this.o.config.syncIntervalMs, 2 * this.syncDelayMs);
    this.scheduleSync(this.syncDelayMs);
  }

  /** A sync brought members this node had missed: others may know more it missed, so it syncs again soon. */
  private syncSoon(): void {
    const { syncFastMs } = this.o.config;
    this.syncDelayMs = syncFastMs;
    if (this.stopped || this.syncDue <= this.o.timers.now() + syncFastMs) return;
    if (this.syncTimer) this.o.timers.clearTimer(this.syncTimer);
    this.scheduleSync(syncFastMs);
  }

  private scheduleSync(delayMs: number): void {
    const jittered = delayMs * (0.5 + this.o.random());
    this.syncDue = this.o.timers.now() + jittered;
    this.syncTimer = this.o.timers.setTimer(jittered, () => this.periodicSync());
  }

  private nearestKnown(c: Coordinate, n: number): Update[] {
    const scored: Array<[number, MemberRecord]> = [];
    for (const r of this.table.values()) if (r.coordinate && r.status === 'alive') scored.push([distance(c, r.coordinate), r]);
    scored.sort((a, b) => a[0] - b[0]);
    const self = this.membership.self();
    return [self, ...scored.slice(0, n).map(([, r]) => ({ key: r.key, s: r.status, inc: r.inc, info: r.info, c: r.coordinate }))];
  }

  private listener(): MembershipListener {
    const l = this.o.listener;
    const near = (key: string): boolean => this.table.has(key) && this.table.isStructural(key);
    return {
      joined: (r) => {
        if (near(r.key)) this.registry.membersChanged();
        l.joined?.(r);
      },
      updated: (r) => l.updated?.(r),
      left: (r, reason) => {
        this.registry.forgetPublisher(r.key);
        this.registry.membersChanged();
        this.rtts.delete(r.key);
        // Told before the link closes: the listener sees whether this node was linked to the member.
        l.left?.(r, reason);
        if (this.o.transport.isLinked(r.key)) this.o.transport.hangUp(r.key);
      },
      gone: (key) => {
        this.registry.forgetPublisher(key);
        l.gone?.(key);
      },
      suspected: (key, by) => {
        // Lifeguard's buddy system: tell the suspect at once, so that it refutes; check it ourselves.
        if (this.o.transport.isLinked(key)) {
          if (by !== this.o.selfKey) this.detector.confirmNow(key);
          const r = this.table.get(key);
          if (r) this.o.transport.send(key, { t: 'ping', seq: 0, inc: this.membership.incarnation, c: null, g: [{ key, s: 'suspect', inc: r.inc, by }] });
        }
        l.suspected?.(key, by);
      },
    };
  }
}
