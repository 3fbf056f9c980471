/**
 * SWIM membership: the states of the members this node knows of, the rules that order updates
 * (incarnations; suspect over alive, dead over suspect), refutation of suspicions about itself,
 * Lifeguard suspicions, piggybacked gossip and push-pull anti-entropy.
 */
/*
 * Gossip that changes what this node knows is gossiped on: piggybacked on the probes and acks it
 * sends, `gossipRetransmitMult` × ⌈log10(N+1)⌉ times. News about a member the table does not keep
 * (the bound) is passed on too, remembered in a small cache of recent news, so the epidemic
 * reaches every node. What a sync tells is state, not news: a member learnt from it is not
 * gossiped (with bounded tables every sync would otherwise start an epidemic about members
 * already known elsewhere), so a joining node announces itself (`join`, and its syncs say so).
 * At the bound, a member the ring does not need enters the table only now and then (the passive
 * view's slow turnover). Push-pull sends the requester the members of its ring window as this
 * node knows them and a random sample; a joining node syncs with the member before its own ring
 * position, whose window covers its own. A suspicion is decided by the suspect's neighbours
 * (Lifeguard's timeout); a node not linked to the suspect waits `suspicionFarMultiplier` times
 * longer, for their verdict or the refutation, so that the refutation outruns its timer.
 */
import { LRUCache } from 'lru-cache';
import type { MeshTimers } from '../clock.js';
import type { Coordinate, RandomSource } from '../vivaldi/coordinate.js';
import type { OverlayConfig } from './config.js';
import { GossipQueue } from './gossip-queue.js';
import type { MemberRecord, MemberTable } from './member-table.js';
import { Awareness, Suspicion } from './suspicion.js';
import { memberPosition, type Liveness, type MemberInfo, type OverlayMessage, type Update } from './types.js';

/** What membership tells the layers above it. */
export interface MembershipListener {
  joined(record: MemberRecord): void;
  updated(record: MemberRecord): void;
  left(record: MemberRecord, reason: string): void;
  /** A member this node did not keep died or left: its directory records are void. */
  gone(key: string): void;
  /** This node started suspecting `key` (a local probe failed, or another node's suspicion was relayed). */
  suspected(key: string, by: string): void;
}

export interface MembershipDeps {
  selfKey: string;
  config: OverlayConfig;
  timers: MeshTimers;
  random: RandomSource;
  table: MemberTable;
  awareness: Awareness;
  coordinate(): Coordinate;
  /** Whether this node watches `key` itself (a view link: they probe each other). */
  watches(key: string): boolean;
  /** Sends on a link only; `sendTo` dials one when needed. */
  send(key: string, message: OverlayMessage): void;
  sendTo(key: string, message: OverlayMessage): void;
  /** Members the table must not forget (neighbours, nearest). */
  protect(key: string): boolean;
  /** Sends `update` at once to the linked members (a suspicion or confirmation of this node's own). */
  tellNeighbours(update: Update): void;
  listener: MembershipListener;
}

const RANK: Record<Liveness, number> = { alive: 0, suspect: 1, dead: 2, left: 2 };
/** Recent news about members the table does not keep. */
const NEWS_CACHE = 256;
/**
 * At the bound, the share of members the ring does not need that a sync or gossip still brings
 * into the table (forgetting a random one): the slow turnover of HyParView's passive view, where
 * taking every one would churn the table with each sync.
 */
const PASSIVE_TURNOVER = 0.02;
/** Reporters of one refuted suspicion told the refutation directly, at most. */
const REFUTATION_REPLIES = 4;

export class Membership {
  /** This node's incarnation: seconds of the clock at start, so that a restarted node outranks its tombstone. */
  private inc: number;
  private ownInfo: MemberInfo;
  private readonly gossip: GossipQueue;
  private readonly news = new LRUCache<string, { inc: number; rank: number; seq: number }>({ max: NEWS_CACHE });
  /**
   * Suspicions standing: whether this node has evidence of its own (it raised or confirmed the
   * suspicion), whether it watched the suspect when the suspicion started, and who reported it first.
   */
  private readonly suspicions = new Map<string, { inc: number; suspicion: Suspicion; mine: boolean; watched: boolean; by: string }>();
  /** The last suspicion of this node it refuted, and the reporters told of the refutation. */
  private refuted: { inc: number; told: Set<string> } | null = null;
  private leaving = false;
  private joining = false;
  private lastInfoGossip = Number.NEGATIVE_INFINITY;
  private pendingInfo = false;

  constructor(
    private readonly deps: MembershipDeps,
    info: MemberInfo,
    startInc: number,
  ) {
    this.inc = startInc;
    this.ownInfo = { ...info };
    this.gossip = new GossipQueue(() => deps.config.gossipRetransmitMult * Math.ceil(Math.log10(deps.table.estimate() + 1)));
  }

  get info(): MemberInfo {
    return { ...this.ownInfo };
  }

  get incarnation(): number {
    return this.inc;
  }

  /** This node's alive update, as gossiped. */
  self(): Update {
    return { key: this.deps.selfKey, s: this.leaving ? 'left' : 'alive', inc: this.inc, info: this.ownInfo, c: this.deps.coordinate() };
  }

  /** Updates to piggyback on one message. */
  piggyback(): Update[] {
    return this.gossip.take(this.deps.config.gossipMaxItems);
  }

  /** Changes what this node announces: gossiped at once, then at most every `infoGossipIntervalMs`. */
  announce(change: Partial<Omit<MemberInfo, 'seq'>>): void {
    this.ownInfo = { ...this.ownInfo, ...change, seq: this.ownInfo.seq + 1 };
    const now = this.deps.timers.now();
    const wait = this.lastInfoGossip + this.deps.config.infoGossipIntervalMs - now;
    if (wait <= 0) return this.spreadInfo();
    if (this.pendingInfo) return;
    this.pendingInfo = true;
    this.deps.timers.setTimer(wait, () => this.spreadInfo());
  }

  /** Joining: this node's alive update rides on its next messages, news to every member, and its syncs say so until `joined`. */
  join(): void {
    this.joining = true;
    this.spreadInfo();
  }

  /** Whether this node is still joining (its window is not synced yet). */
  get isJoining(): boolean {
    return this.joining;
  }

  /** The join is over: this node's window is synced. */
  joined(): void {
    this.joining = false;
  }

  /** Says goodbye: the next messages carry this node's `left`. */
  leave(): Update {
    this.leaving = true;
    const update = this.self();
    this.gossip.push(update);
    return update;
  }

  /** Applies updates received as gossip. */
  receive(updates: readonly Update[]): void {
    for (const u of updates) this.apply(u, 'gossip');
  }

  /**
   * Applies a sync from `from`: what it tells about members this node did not know is state, not
   * news, and is not gossiped on (gossiping it would spread every member a table does not keep
   * across the mesh again, with nothing to tell that it is old); only the entry of a sender that
   * says it is joining is news.
   */
  receiveSync(from: string, m: Extract<OverlayMessage, { t: 'sync' }>): void {
    for (const u of m.members) this.apply(u, m.join && u.key === from ? 'gossip' : 'state');
  }

  /** A linked member answered: it is alive at least at `inc`. */
  heard(key: string, inc: number, coordinate: Coordinate | null): void {
    const r = this.deps.table.get(key);
    if (!r) return;
    r.lastSeen = this.deps.timers.now();
    if (coordinate) r.coordinate = coordinate;
    if (inc > r.inc) this.apply({ key, s: 'alive', inc, info: r.info, c: coordinate }, 'gossip');
  }

  /** This node's own probes failed: it suspects `key`. */
  suspect(key: string): void {
    const r = this.deps.table.get(key);
    if (r) this.apply({ key, s: 'suspect', inc: r.inc, by: this.deps.selfKey }, 'local');
  }

  /** A neighbour of suspect `key` could not reach it either: a confirmation, while the suspicion lasts. */
  confirm(key: string, by: string): void {
    const r = this.deps.table.get(key);
    const current = this.suspicions.get(key);
    if (r && current && current.inc === r.inc) this.apply({ key, s: 'suspect', inc: r.inc, by }, by === this.deps.selfKey ? 'local' : 'gossip');
  }

  /** When a message from member `key` last arrived (mesh clock, ms). */
  lastSeen(key: string): number | undefined {
    return this.deps.table.get(key)?.lastSeen;
  }

  /**
   * `key` closed its link to this node with a goodbye: it was alive when it closed, and the pings
   * this node sent over the closing link went unanswered for that reason. A suspicion resting on
   * them is no longer this node's own evidence: it waits for the suspect's neighbours, or the
   * refutation, as a node without a link does.
   */
  closedByPeer(key: string): void {
    const current = this.suspicions.get(key);
    if (current) current.mine = false;
  }

  isSuspected(key: string): boolean {
    return this.suspicions.has(key);
  }

  /** The suspicion standing of `key`, as first reported here (told to the suspect, Lifeguard's buddy system). */
  suspicionUpdate(key: string): Update | undefined {
    const current = this.suspicions.get(key);
    return current && { key, s: 'suspect', inc: current.inc, by: current.by };
  }

  /** Push-pull: what to send `to`: this node, the members of `to`'s ring window as known here, a random sample. */
  syncFor(to: string, reply: boolean): OverlayMessage {
    const { table, config } = this.deps;
    const pos = memberPosition(to);
    const whole = table.size <= config.syncWholeUpTo;
    const chosen = new Set<string>(whole ? table.keys() : table.around(pos, table.keptHalf()));
    for (let i = 0; !whole && i < config.syncSample && i < table.size; i++) {
      const key = table.randomKey();
      if (key) chosen.add(key);
    }
    chosen.delete(to);
    chosen.delete(this.deps.selfKey);
    const members: Update[] = [this.self()];
    for (const k of chosen) {
      const r = table.get(k);
      if (r) members.push({ key: r.key, s: r.status, inc: r.inc, info: r.info, c: r.coordinate });
    }
    return { t: 'sync', reply, join: this.joining, members };
  }

  /** Forgets every suspicion timer (the node stops). */
  stop(): void {
    for (const { suspicion } of this.suspicions.values()) suspicion.cancel();
    this.suspicions.clear();
  }

  private spreadInfo(): void {
    this.pendingInfo = false;
    this.lastInfoGossip = this.deps.timers.now();
    this.gossip.push(this.self());
  }

  /** `local`: this node's own suspicion or confirmation; `gossip`: news from another node (one of this node's own, echoed back, is not new evidence); `state`: a sync. */
  private apply(u: Update, how: 'gossip' | 'state' | 'local'): void {
    if (u.key === this.deps.selfKey) return this.aboutSelf(u);
    const { table, timers } = this.deps;
    const r = table.get(u.key);
    if (!r) return this.aboutUnknown(u, how === 'state' ? 'state' : 'gossip');
    if (u.s === 'alive') {
      const newer = u.inc > r.inc || (u.inc === r.inc && r.status === 'alive' && (u.info?.seq ?? -1) > r.info.seq);
      if (!newer) return;
      r.inc = u.inc;
      r.status = 'alive';
      r.lastSeen = timers.now();
      if (u.c) r.coordinate = u.c;
      const changed = u.info !== undefined && u.info.seq !== r.info.seq;
      if (u.info) r.info = u.info;
      this.endSuspicion(u.key);
      this.gossip.push(u);
      if (changed) this.deps.listener.updated(r);
      return;
    }
    if (u.inc < r.inc || (u.inc === r.inc && RANK[u.s] < RANK[r.status])) return;
    if (u.s === 'suspect') return this.suspicionOf(r, u, how === 'local');
    table.remove(u.key, u.inc, timers.now());
    this.endSuspicion(u.key);
    this.gossip.push(u);
    this.deps.listener.left(r, u.s === 'left' ? 'left' : 'dead');
  }

  private suspicionOf(r: MemberRecord, u: Update, local: boolean): void {
    const by = u.by ?? '';
    const current = this.suspicions.get(r.key);
    // This node's own suspicions and confirmations go to its neighbours at once, rather than on its
    // next probes: the suspect's other neighbours are most likely among them, and confirm sooner.
    // Its own suspicion echoed back by the gossip is not evidence again (a goodbye may have voided it).
    const own = local && by === this.deps.selfKey;
    if (current && current.inc === u.inc) {
      if (own) current.mine = true;
      if (!current.suspicion.confirm(by)) return;
      this.gossip.push(u);
      if (own) this.deps.tellNeighbours(u);
      return;
    }
    current?.suspicion.cancel();
    r.status = 'suspect';
    r.inc = u.inc;
    const { config, timers } = this.deps;
    // Decided by the suspect's own neighbours (Lifeguard's timeout): they exchange probes with it,
    // so its refutation reaches them at once. Elsewhere (a link on demand carries no probes) the
    // suspicion waits for their verdict, or the refutation, which crosses the mesh later than they
    // do. A neighbour whose link to the suspect closed meanwhile no longer hears the refutation
    // first: it waits as the others do, unless it has evidence of its own (its probe or its dial
    // of the suspect failed: a confirmation by this node), which makes it one of the deciders. A
    // view link that opens during the suspicion does not make a decider either: its probes
    // have not failed, and the suspect, alive enough to link, is told of the suspicion then.
    const far = config.suspicionMaxMs * config.suspicionFarMultiplier;
    const watched = this.deps.watches(r.key);
    const entry = { inc: u.inc, suspicion: null as unknown as Suspicion, mine: own, watched, by };
    const declare = (): void => {
      const decides = entry.mine || (entry.watched && this.deps.watches(r.key));
      // Within a millisecond of `far` is `far`: the timer set for it may fire a rounding error early, and deferring by that no longer moves the clock.
      if (!decides && far - entry.suspicion.elapsed() >= 1 && this.suspicions.get(r.key) === entry) {
        entry.suspicion.deferTo(far);
        return;
      }
      this.apply({ key: r.key, s: 'dead', inc: u.inc, by: this.deps.selfKey }, 'gossip');
    };
    entry.suspicion = new Suspicion(timers, config.suspicionMinMs, config.suspicionMaxMs, config.suspicionConfirmations, by, declare);
    if (!own && !watched) entry.suspicion.deferTo(far);
    this.suspicions.set(r.key, entry);
    this.gossip.push(u);
    if (own) this.deps.tellNeighbours(u);
    this.deps.listener.suspected(r.key, by);
  }

  private endSuspicion(key: string): void {
    this.suspicions.get(key)?.suspicion.cancel();
    this.suspicions.delete(key);
  }

  private aboutSelf(u: Update): void {
    if (u.s === 'alive' || this.leaving) return;
    if (u.inc >= this.inc) {
      // Refute: a higher incarnation outranks the suspicion; being suspected says this node may be the slow one.
      this.inc = u.inc + 1;
      this.refuted = { inc: u.inc, told: new Set() };
      this.deps.awareness.change(1);
      this.gossip.push(this.self());
    }
    // The reporters decide the suspicion on their own timers, and the gossip may reach them too
    // late (this node may have closed its link to them at its bound): each is told directly.
    const by = u.by;
    const refuted = this.refuted;
    if (!by || by === this.deps.selfKey || refuted?.inc !== u.inc || refuted.told.has(by) || refuted.told.size >= REFUTATION_REPLIES) return;
    refuted.told.add(by);
    this.deps.sendTo(by, { t: 'ping', seq: 0, inc: this.inc, c: null, g: [this.self()] });
  }

  private aboutUnknown(u: Update, how: 'gossip' | 'state'): void {
    const { table, timers } = this.deps;
    const news = how === 'gossip';
    if (news) {
      const rank = RANK[u.s];
      const seq = u.info?.seq ?? -1;
      const seen = this.news.get(u.key);
      if (seen && (u.inc < seen.inc || (u.inc === seen.inc && (rank < seen.rank || (rank === seen.rank && seq <= seen.seq))))) return;
      this.news.set(u.key, { inc: u.inc, rank, seq });
    }
    if (u.s !== 'alive' && u.s !== 'suspect') {
      if (news) this.gossip.push(u);
      this.deps.listener.gone(u.key);
      return;
    }
    const tomb = table.tombstone(u.key);
    if (u.s !== 'alive' || !u.info || (tomb !== undefined && u.inc <= tomb)) return;
    if (news) this.gossip.push(u);
    if (table.full && !table.wouldBeStructural(u.key) && this.deps.random() >= PASSIVE_TURNOVER) return;
    const now = timers.now();
    const record: MemberRecord = { key: u.key, pos: memberPosition(u.key), info: u.info, coordinate: u.c ?? null, status: 'alive', inc: u.inc, joinedAt: now, lastSeen: now };
    table.put(record, (k) => this.deps.protect(k) || k === u.key);
    if (table.has(u.key)) this.deps.listener.joined(record);
  }
}
