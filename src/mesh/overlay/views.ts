/**
 * The links a node keeps, within a hard bound: its active view (the nearest members by Vivaldi
 * coordinates refined by measured RTTs, and a few random long links, after HyParView) and links
 * opened on demand to reach a member that is not a neighbour, closed when idle.
 */
/*
 * A link is kept while either end wants it as a view link, or while it carries traffic. Each end
 * says so in a `view` message when the link opens and when it changes its mind, with the list of
 * its view links (the helpers of indirect probes come from those lists). A node that already has
 * `maxViewIn` view links from others answers `busy`: the other picks its next nearest member.
 * The member table is the passive view: replacements come from it.
 */
import type { MeshTimers, TimerHandle } from '../clock.js';
import { distance, type Coordinate, type RandomSource } from '../vivaldi/coordinate.js';
import type { OverlayConfig } from './config.js';
import type { MemberTable } from './member-table.js';
import type { OverlayMessage, OverlayTransport } from './types.js';

/** Messages kept for a member while a link to it is being dialled. */
const MAX_QUEUED = 32;
/** A member that refused a view link or could not be dialled is not asked again for this long (ms). */
const REFUSAL_MEMORY_MS = 60_000;

interface LinkState {
  mine: 'nearest' | 'random' | null;
  theirs: boolean;
  lastUsed: number;
  neighbours: ReadonlySet<string>;
}

export interface ViewsDeps {
  selfKey: string;
  config: OverlayConfig;
  timers: MeshTimers;
  random: RandomSource;
  table: MemberTable;
  transport: OverlayTransport;
  coordinate(): Coordinate;
  rttOf(key: string): number | undefined;
  /** A member that may not be chosen now (suspected). */
  avoid(key: string): boolean;
  /** A dial failed while messages waited for it: they are dropped, and whoever waits on them is told. */
  unreachable(key: string): void;
  /** Whether an answer from `key` is awaited (a lookup asked it): its link is closed for room last. */
  awaited(key: string): boolean;
}

export class Views {
  private readonly links = new Map<string, LinkState>();
  private readonly queued = new Map<string, { messages: OverlayMessage[]; timer: TimerHandle }>();
  private readonly refused = new Map<string, number>();
  /** Links this node closed itself, whose closing it will see next. */
  private readonly closedHere = new Set<string>();
  /** Roles of the links being dialled for the view. */
  private readonly pendingRoles = new Map<string, 'nearest' | 'random'>();
  private nearestSet = new Set<string>();
  private announced = '';
  private announcedAt = Number.NEGATIVE_INFINITY;
  private timer: TimerHandle | null = null;

  constructor(private readonly deps: ViewsDeps) {}

  start(): void {
    this.timer ??= this.deps.timers.setRepeating(this.deps.config.viewIntervalMs, () => this.maintain());
  }

  stop(): void {
    if (this.timer) this.deps.timers.clearTimer(this.timer);
    this.timer = null;
    for (const q of this.queued.values()) this.deps.timers.clearTimer(q.timer);
    this.queued.clear();
  }

  /** Linked members. */
  neighbours(): string[] {
    return [...this.links.keys()];
  }

  isViewLink(key: string): boolean {
    const l = this.links.get(key);
    return !!l && (l.mine !== null || l.theirs);
  }

  /** Linked members that said they are linked to `target`. */
  helpers(target: string): string[] {
    const out: string[] = [];
    for (const [key, l] of this.links) if (key !== target && l.neighbours.has(target)) out.push(key);
    return out;
  }

  /** Whether the table must keep `key`: a neighbour or one of the nearest. */
  protects(key: string): boolean {
    return this.links.has(key) || this.nearestSet.has(key);
  }

  /** Traffic of the layers above went over the link to `key`: it is not idle. */
  touch(key: string): void {
    const l = this.links.get(key);
    if (l) l.lastUsed = this.deps.timers.now();
  }

  /** Sends `message` to `key`, dialling a link on demand (within the bound) when there is none. */
  sendTo(key: string, message: OverlayMessage): void {
    const { transport, timers } = this.deps;
    const l = this.links.get(key);
    if (l) {
      l.lastUsed = timers.now();
      transport.send(key, message);
      return;
    }
    const q = this.queued.get(key);
    if (q) {
      if (q.messages.length < MAX_QUEUED) q.messages.push(message);
      return;
    }
    this.connect(key);
    const queued = this.queued.get(key);
    if (queued) queued.messages.push(message);
    // No room for one more link: whoever waits on the message is told now.
    else this.deps.unreachable(key);
  }

  /** Opens a link to `key` (a member found by the topic lookup), unless there is one. */
  connect(key: string): void {
    if (this.links.has(key) || this.queued.has(key) || !this.makeRoom()) return;
    const timer = this.deps.timers.setTimer(this.deps.config.dialTimeoutMs, () => this.dialFailed(key));
    this.queued.set(key, { messages: [], timer });
    this.deps.transport.dial(key);
  }

  /** A link opened (dialled by either end). */
  linkUp(key: string): void {
    const now = this.deps.timers.now();
    const mine = this.pendingRoles.get(key) ?? this.links.get(key)?.mine ?? null;
    this.pendingRoles.delete(key);
    this.links.set(key, { mine, theirs: false, lastUsed: now, neighbours: new Set() });
    // Only a view link is announced: a link on demand carries its traffic and nothing else.
    if (mine) this.sayView(key);
    const q = this.queued.get(key);
    if (!q) return;
    this.deps.timers.clearTimer(q.timer);
    this.queued.delete(key);
    for (const m of q.messages) this.deps.transport.send(key, m);
  }

  /** A link closed; true when this node closed it itself (nothing to suspect). */
  linkDown(key: string): boolean {
    this.links.delete(key);
    this.nearestSet.delete(key);
    return this.closedHere.delete(key);
  }

  /** An incoming link: true within the bound (dials under way counted), once an idle on-demand link was closed for it if need be. */
  admit(): boolean {
    return this.makeRoom();
  }

  dialFailed(key: string): void {
    const q = this.queued.get(key);
    if (q) this.deps.timers.clearTimer(q.timer);
    this.queued.delete(key);
    if (q && q.messages.length > 0) this.deps.unreachable(key);
    this.pendingRoles.delete(key);
    this.refused.set(key, this.deps.timers.now());
  }

  /** A `view` message: the other end's wish for this link and its own view links. */
  receive(from: string, m: Extract<OverlayMessage, { t: 'view' }>): void {
    const l = this.links.get(from);
    if (!l) return;
    l.neighbours = new Set(m.neighbours);
    if (m.busy) {
      this.refused.set(from, this.deps.timers.now());
      l.mine = null;
      return;
    }
    const wasTheirs = l.theirs;
    l.theirs = m.want;
    if (!m.want || wasTheirs) return;
    if (l.mine === null && this.viewLinksIn() > this.deps.config.maxViewIn) {
      l.theirs = false;
      this.deps.transport.send(from, { t: 'view', want: false, busy: true, bye: false, neighbours: [] });
      return;
    }
    // A new view link: the other end learns this node's view links in return.
    if (l.mine === null) this.sayView(from);
  }

  /** Re-chooses the active view, dials what is missing, releases what is no longer wanted, closes idle links. */
  maintain(): void {
    const { config, timers } = this.deps;
    const now = timers.now();
    for (const [key, at] of this.refused) if (now - at > REFUSAL_MEMORY_MS) this.refused.delete(key);
    const nearest = this.rankNearest();
    this.nearestSet = new Set(nearest);
    const wanted = new Map<string, 'nearest' | 'random'>(nearest.map((k) => [k, 'nearest']));
    // Random links kept while alive, those being dialled counted: new ones only to fill the gap.
    const randoms = [...this.links].filter(([k, l]) => l.mine === 'random' && !wanted.has(k) && this.deps.table.has(k)).map(([k]) => k);
    for (const k of randoms.slice(0, config.viewRandom)) wanted.set(k, 'random');
    const dialling = [...this.pendingRoles.values()].filter((r) => r === 'random').length;
    this.pickRandom(config.viewRandom - Math.min(randoms.length + dialling, config.viewRandom), wanted);
    for (const [key, l] of this.links) {
      const role = wanted.get(key) ?? null;
      if (role !== l.mine) {
        l.mine = role;
        this.sayView(key);
      }
      if (!l.mine && !l.theirs && now - l.lastUsed > config.linkIdleMs) this.close(key);
    }
    for (const [key, role] of wanted) {
      if (this.links.has(key) || this.queued.has(key)) continue;
      this.pendingRoles.set(key, role);
      this.connect(key);
    }
    // The view list changed: its links hear of it, at most every sixth period.
    const list = this.viewList().join();
    if (list !== this.announced && now - this.announcedAt >= 6 * config.viewIntervalMs) {
      this.announced = list;
      this.announcedAt = now;
      for (const key of this.links.keys()) if (this.isViewLink(key)) this.sayView(key);
    }
  }

  /** Closes a link this node no longer needs, saying so first (the other end then suspects nothing). */
  private close(key: string): void {
    this.deps.transport.send(key, { t: 'view', want: false, busy: false, bye: true, neighbours: [] });
    this.closedHere.add(key);
    this.deps.transport.hangUp(key);
    this.links.delete(key);
  }

  private sayView(key: string): void {
    const l = this.links.get(key);
    if (!l) return;
    this.deps.transport.send(key, { t: 'view', want: l.mine !== null, busy: false, bye: false, neighbours: this.viewList() });
  }

  private viewList(): string[] {
    return [...this.links].filter(([, l]) => l.mine !== null || l.theirs).map(([k]) => k);
  }

  private viewLinksIn(): number {
    let n = 0;
    for (const l of this.links.values()) if (l.theirs && l.mine === null) n++;
    return n;
  }

  /**
   * Room for one more link: below the bound, or after closing the least recently used link on
   * demand, else one of this node's random links (the next period picks another), else a link on
   * demand an answer is awaited on (closing it loses the answer in flight).
   */
  private makeRoom(): boolean {
    const { config, transport } = this.deps;
    if (transport.linkCount() + this.queued.size < config.maxConnections) return true;
    const lru = (fits: (l: LinkState, key: string) => boolean): string | undefined => {
      let oldest: [string, number] | undefined;
      for (const [key, l] of this.links) if (fits(l, key) && (!oldest || l.lastUsed < oldest[1])) oldest = [key, l.lastUsed];
      return oldest?.[0];
    };
    const victim = lru((l, key) => !l.mine && !l.theirs && !this.deps.awaited(key)) ?? lru((l) => l.mine === 'random' && !l.theirs) ?? lru((l) => !l.mine && !l.theirs);
    if (!victim) return false;
    this.close(victim);
    return true;
  }

  /** The `viewNearest` nearest members: measured RTT when known, else predicted; a current link kept unless beaten by the hysteresis. */
  private rankNearest(): string[] {
    const { table, config } = this.deps;
    const k = config.viewNearest;
    const from = this.deps.coordinate();
    // The k best, ascending, selected in one pass over the table (it is ranked every period).
    const top: Array<{ key: string; d: number }> = [];
    const currentD = new Map<string, number>();
    for (const r of table.values()) {
      if (r.status !== 'alive' || this.refused.has(r.key) || this.deps.avoid(r.key)) continue;
      const measured = this.deps.rttOf(r.key);
      const raw = measured ?? (r.coordinate && r.coordinate.vec.length === from.vec.length ? distance(from, r.coordinate) : Number.POSITIVE_INFINITY);
      const isCurrent = this.links.get(r.key)?.mine === 'nearest';
      const d = isCurrent ? raw / config.viewHysteresis : raw;
      if (isCurrent) currentD.set(r.key, d);
      if (top.length >= k && d >= top[top.length - 1]!.d) continue;
      let i = top.length;
      while (i > 0 && top[i - 1]!.d > d) i--;
      top.splice(i, 0, { key: r.key, d });
      if (top.length > k) top.pop();
    }
    const chosen = top.map((t) => t.key);
    // One replacement per period at most: the view changes gradually, as coordinates converge.
    const current = [...this.links].filter(([, l]) => l.mine === 'nearest').map(([key]) => key);
    const added = chosen.filter((key) => !currentD.has(key));
    if (current.length < k || added.length <= 1) return chosen;
    const kept = current.filter((key) => currentD.has(key));
    let worst: string | undefined;
    for (const key of kept) if (worst === undefined || currentD.get(key)! > currentD.get(worst)!) worst = key;
    return [...kept.filter((key) => key !== worst).slice(0, k - 1), added[0]!];
  }

  private pickRandom(count: number, into: Map<string, 'nearest' | 'random'>): void {
    for (let tries = 0; count > 0 && tries < 4 * count; tries++) {
      const key = this.deps.table.randomKey();
      if (key === undefined) return;
      if (into.has(key) || this.refused.has(key) || this.deps.avoid(key)) continue;
      into.set(key, 'random');
      count--;
    }
  }
}
