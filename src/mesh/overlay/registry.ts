/**
 * The directory: records (who holds an entity, a tenant's usage on a node, …) kept by the
 * `directoryReplicas` successors of their key on the ring (consistent hashing), found in a
 * bounded number of hops whatever N, replicated and handed over on churn.
 */
/*
 * Why this design: a lookup by scatter-gather costs N messages; Hyperswarm's DHT costs O(log N)
 * iterative hops per lookup and holds announcements, not values. Here a node knows its ring window
 * completely (member-table.ts) and two contacts per arc of the ring, so it either knows the
 * keepers of a key (one hop: ask them in turn) or knows a member just before the key whose window
 * does (two hops). Records are soft state: publishers republish them every
 * `directoryRefreshMs`, keepers drop what is not republished within three periods, drop at once
 * the records of a member that died or left, and hand their records to a member that joins
 * among a key's keepers. Every operation is asynchronous with callbacks (no promises), so the
 * simulator runs it on its own clock.
 */
import type { MeshTimers, TimerHandle } from '../clock.js';
import type { RandomSource } from '../vivaldi/coordinate.js';
import type { OverlayConfig } from './config.js';
import type { MemberTable } from './member-table.js';
import { keyPosition, memberPosition, ringDistance, RING_SIZE, type DirectoryRecord, type OverlayMessage } from './types.js';

/** A lookup forwarded more often than this is abandoned (a loop, or a view still converging). */
export const MAX_LOOKUP_HOPS = 6;
/** Members before a key a lookup may be passed to, one after the other. */
const FORWARD_CHOICES = 2;
/** Known members before a key considered for forwarding. */
const FORWARD_SCAN = 8;

export interface FindResult {
  /** Whether a keeper answered (an empty answer from a keeper means: no record). */
  ok: boolean;
  records: DirectoryRecord[];
  /** Nodes asked one after another to get the answer. */
  hops: number;
  /** More records follow the last one (paging by publisher key). */
  more: boolean;
}

export interface RegistryDeps {
  selfKey: string;
  config: OverlayConfig;
  timers: MeshTimers;
  table: MemberTable;
  sendTo(key: string, message: OverlayMessage): void;
  isLinked(key: string): boolean;
  random: RandomSource;
  /** While joining, this node's table is not its window yet: lookups go to the members it knows. */
  joining(): boolean;
}

interface Kept {
  value: string;
  expires: number;
}

/**
 * What is left of a live record's time, in whole milliseconds at least 1: it travels as an
 * unsigned integer, and the clock of real timers has fractions (a fraction, or a negative time,
 * failed to encode).
 */
function ttlLeft(r: Kept, now: number): number {
  return Math.max(1, Math.ceil(r.expires - now));
}

export class Registry {
  private readonly kept = new Map<string, Map<string, Kept>>();
  /** Last keepers computed for each kept key: a change means a handover. */
  private readonly keepersOf = new Map<string, string[]>();
  private readonly own = new Map<string, string>();
  private readonly asks = new Map<number, { to: string; hops: number; done: (r: FindResult) => void; timer: TimerHandle }>();
  private readonly verifying = new Set<TimerHandle>();
  private qid = 0;
  private refresher: TimerHandle | null = null;
  private rebalance: TimerHandle | null = null;

  constructor(private readonly deps: RegistryDeps) {}

  start(): void {
    const every = this.deps.config.directoryRefreshMs;
    // The first refresh at a random point of the period: nodes started together do not republish together.
    this.refresher ??= this.deps.timers.setTimer(every * this.deps.random(), () => {
      this.refresh();
      this.refresher = this.deps.timers.setRepeating(every, () => this.refresh());
    });
  }

  stop(): void {
    if (this.refresher) this.deps.timers.clearTimer(this.refresher);
    if (this.rebalance) this.deps.timers.clearTimer(this.rebalance);
    this.refresher = this.rebalance = null;
    for (const a of this.asks.values()) this.deps.timers.clearTimer(a.timer);
    this.asks.clear();
    for (const t of this.verifying) this.deps.timers.clearTimer(t);
    this.verifying.clear();
  }

  /** Records kept here (all keys). */
  get size(): number {
    let n = 0;
    for (const m of this.kept.values()) n += m.size;
    return n;
  }

  /** Publishes this node's record under `key` (replacing its previous one). */
  publish(key: string, value = ''): void {
    this.own.set(key, value);
    this.route({ key, by: this.deps.selfKey, value, ttl: 3 * this.deps.config.directoryRefreshMs }, 0);
    this.verify(key, value, 1);
  }

  /**
   * A put is not answered (a member on its way may be at its link bound, or gone): the publisher
   * looks its record up a moment later and puts it again while the keepers do not have it, at
   * growing intervals, until the periodic republication takes over.
   */
  private verify(key: string, value: string, attempt: number): void {
    const timer = this.deps.timers.setTimer(attempt * this.deps.config.lookupTimeoutMs, () => {
      this.verifying.delete(timer);
      if (this.own.get(key) !== value) return;
      this.find(key, (r) => {
        if (this.own.get(key) !== value || r.records.some((x) => x.by === this.deps.selfKey)) return;
        this.route({ key, by: this.deps.selfKey, value, ttl: 3 * this.deps.config.directoryRefreshMs }, 0);
        const next = attempt + 1;
        if (((next * (next + 1)) / 2) * this.deps.config.lookupTimeoutMs <= this.deps.config.directoryRefreshMs) this.verify(key, value, next);
      });
    });
    this.verifying.add(timer);
  }

  /** Withdraws this node's record under `key`. */
  withdraw(key: string): void {
    if (!this.own.delete(key)) return;
    this.route({ key, by: this.deps.selfKey, value: '', ttl: 0 }, 0);
  }

  /** Whether this node keeps a live record of `by` under `key`. */
  holds(key: string, by: string): boolean {
    const r = this.kept.get(key)?.get(by);
    return !!r && r.expires > this.deps.timers.now();
  }

  published(key: string): boolean {
    return this.own.has(key);
  }

  /** The records under `key` (publishers after `after`, at most `limit`). */
  find(key: string, done: (r: FindResult) => void, after = '', limit = 1000): void {
    this.resolve(key, after, limit, 0, done);
  }

  /** Drops the records of a member that died or left. */
  forgetPublisher(by: string): void {
    for (const [key, records] of this.kept) if (records.delete(by) && records.size === 0) this.kept.delete(key);
  }

  /** The members near this node on the ring changed: keys may have new keepers (debounced). */
  membersChanged(): void {
    this.rebalance ??= this.deps.timers.setTimer(1000, () => {
      this.rebalance = null;
      this.handOver();
    });
  }

  receive(from: string, m: OverlayMessage): void {
    if (m.t === 'put') {
      for (const r of m.records) this.route(r, m.hops);
    } else if (m.t === 'find') {
      this.resolve(m.key, m.after, m.limit, m.hops, (r) => this.deps.sendTo(from, { t: 'found', qid: m.qid, hops: r.hops, ok: r.ok, more: r.more, records: r.records }));
    } else if (m.t === 'found') {
      const ask = this.asks.get(m.qid);
      if (!ask) return;
      this.asks.delete(m.qid);
      this.deps.timers.clearTimer(ask.timer);
      ask.done({ ok: m.ok, records: m.records, hops: m.hops, more: m.more });
    }
  }

  /** Stores a record when this node keeps its key, and sends it towards (or on to) its other keepers. */
  private route(record: DirectoryRecord, hops: number): void {
    const pos = keyPosition(record.key);
    const { table, config, selfKey } = this.deps;
    const keepers = table.successors(pos, config.directoryReplicas);
    const settled = !this.deps.joining();
    // A copy from a keeper (the hop budget spent) is kept even while joining: that keeper saw this node among the keepers.
    if (keepers.includes(selfKey) && (settled || hops >= MAX_LOOKUP_HOPS)) this.store(record);
    // Copies between keepers travel with the hop budget spent: they are never sent on.
    if (hops >= MAX_LOOKUP_HOPS) return;
    if (!settled || !table.covers(pos, config.directoryReplicas)) {
      // Sent to each of the members before the key (a put is not answered: one may be at its link bound).
      const before = this.forwardTo(pos);
      for (const next of before) this.deps.sendTo(next, { t: 'put', qid: 0, hops: hops + 1, records: [record] });
      if (before.length > 0) return;
    }
    for (const keeper of keepers) if (keeper !== selfKey) this.deps.sendTo(keeper, { t: 'put', qid: 0, hops: MAX_LOOKUP_HOPS, records: [record] });
  }

  private store(record: DirectoryRecord): void {
    let records = this.kept.get(record.key);
    if (record.ttl <= 0) {
      if (records?.delete(record.by) && records.size === 0) this.kept.delete(record.key);
      return;
    }
    if (!records) {
      records = new Map();
      this.kept.set(record.key, records);
      this.keepersOf.set(record.key, this.deps.table.successors(keyPosition(record.key), this.deps.config.directoryReplicas));
    }
    records.set(record.by, { value: record.value, expires: this.deps.timers.now() + record.ttl });
  }

  private local(key: string, after: string, limit: number): { records: DirectoryRecord[]; more: boolean } {
    const now = this.deps.timers.now();
    const records = this.kept.get(key);
    if (!records) return { records: [], more: false };
    const live = [...records].filter(([by, r]) => r.expires > now && by > after).sort(([a], [b]) => (a < b ? -1 : 1));
    const page = live.slice(0, limit).map(([by, r]) => ({ key, by, value: r.value, ttl: ttlLeft(r, now) }));
    return { records: page, more: live.length > limit };
  }

  /**
   * Answers a lookup. A keeper asked by another node answers its own part; the node that asks
   * (the origin, or a member whose window covers the key) goes through the keepers in turn until
   * one has records; a node that does not know the keepers passes the lookup to the member
   * before the key.
   */
  private resolve(key: string, after: string, limit: number, hops: number, done: (r: FindResult) => void): void {
    const pos = keyPosition(key);
    const { table, config, selfKey } = this.deps;
    const keepers = table.successors(pos, config.directoryReplicas);
    // While joining, this node answers as a keeper only when asked as one.
    const settled = !this.deps.joining();
    const isKeeper = keepers.includes(selfKey) && (settled || hops > 0);
    if (isKeeper) {
      const own = this.local(key, after, limit);
      if (hops > 0 || own.records.length > 0) return done({ ok: true, ...own, hops });
    } else if ((!settled || !table.covers(pos, config.directoryReplicas)) && hops < MAX_LOOKUP_HOPS) {
      // Members just before the key know its keepers; a linked one first, the next one when the
      // first cannot be reached (at its link bound) or does not answer. The member asked asks the
      // keepers: it gets twice a lookup's time, for its dial and theirs.
      const before = this.forwardTo(pos);
      if (before.length > 0) {
        const forward = (i: number): void =>
          this.ask(before[i]!, key, after, limit, hops + i + 1, 2 * config.lookupTimeoutMs, (r) => (r.ok || i + 1 >= before.length ? done(r) : forward(i + 1)));
        return forward(0);
      }
    }
    // One keeper first, a linked one when there is one (no dial); the others together when it has
    // nothing or cannot be reached: two hops at most from here.
    const others = keepers.filter((k) => k !== selfKey).sort((a, b) => Number(this.deps.isLinked(b)) - Number(this.deps.isLinked(a)));
    let answered = isKeeper;
    let reached = hops;
    let finished = false;
    const heard = (r: FindResult): boolean => {
      reached = Math.max(reached, r.hops);
      answered ||= r.ok;
      if (finished || !r.ok || r.records.length === 0) return false;
      finished = true;
      done({ ...r, hops: reached });
      return true;
    };
    const miss = (): void => {
      if (finished) return;
      finished = true;
      done({ ok: answered, records: [], more: false, hops: reached });
    };
    const [first, ...rest] = others;
    if (first === undefined) return miss();
    this.ask(first, key, after, limit, hops + 1, this.askTimeout(first), (r) => {
      if (heard(r)) return;
      let waiting = rest.length;
      if (waiting === 0) return miss();
      for (const k of rest) this.ask(k, key, after, limit, hops + 2, this.askTimeout(k), (r2) => {
          if (!heard(r2) && --waiting === 0) miss();
        });
    });
  }

  /**
   * The members to pass a lookup or a put for `pos` to: known members before it near enough that
   * their windows surely cover it (within half a window, by the estimated density), linked ones
   * first, the others in random order; the closest ones when none is that near. Not always the
   * closest: with bounded tables those are most often the ring contacts of the key's arc, which
   * every node knows, and all the lookups of the arc would go to them, beyond their link bound.
   */
  private forwardTo(pos: number): string[] {
    const { table, selfKey, random } = this.deps;
    const before = table.preceding(pos, FORWARD_SCAN).filter((k) => k !== selfKey);
    const reach = ((table.windowHalf() / 2) * RING_SIZE) / table.estimate();
    const near = before.filter((k) => ringDistance(memberPosition(k), pos) <= reach);
    if (near.length === 0) return before.slice(0, FORWARD_CHOICES).sort((a, b) => Number(this.deps.isLinked(b)) - Number(this.deps.isLinked(a)));
    const ranked = near.map((k) => ({ k, r: (this.deps.isLinked(k) ? 0 : 1) + random() }));
    ranked.sort((a, b) => a.r - b.r);
    return ranked.slice(0, FORWARD_CHOICES).map((x) => x.k);
  }

  /** How long a keeper has to answer: half a lookup's time, the whole of it when a link must be dialled first. */
  private askTimeout(keeper: string): number {
    const { lookupTimeoutMs } = this.deps.config;
    return this.deps.isLinked(keeper) ? lookupTimeoutMs / 2 : lookupTimeoutMs;
  }

  /** Whether an answer from `key` is awaited. */
  awaits(key: string): boolean {
    for (const a of this.asks.values()) if (a.to === key) return true;
    return false;
  }

  /** A member could not be dialled: what was asked of it fails now rather than at its timeout. */
  unreachable(key: string): void {
    for (const [qid, a] of this.asks) {
      if (a.to !== key) continue;
      this.asks.delete(qid);
      this.deps.timers.clearTimer(a.timer);
      a.done({ ok: false, records: [], hops: a.hops, more: false });
    }
  }

  private ask(to: string, key: string, after: string, limit: number, hops: number, timeoutMs: number, done: (r: FindResult) => void): void {
    const qid = ++this.qid;
    const timer = this.deps.timers.setTimer(timeoutMs, () => {
      this.asks.delete(qid);
      done({ ok: false, records: [], hops, more: false });
    });
    this.asks.set(qid, { to, hops, done, timer });
    this.deps.sendTo(to, { t: 'find', qid, hops, key, after, limit });
  }

  private refresh(): void {
    const now = this.deps.timers.now();
    for (const [key, records] of this.kept) {
      for (const [by, r] of records) if (r.expires <= now) records.delete(by);
      if (records.size === 0) this.kept.delete(key);
    }
    for (const [key, value] of this.own) this.route({ key, by: this.deps.selfKey, value, ttl: 3 * this.deps.config.directoryRefreshMs }, 0);
  }

  /** Sends each kept key's records to its new keepers; forgets keys this node no longer keeps. */
  private handOver(): void {
    const now = this.deps.timers.now();
    for (const [key, records] of this.kept) {
      const keepers = this.deps.table.successors(keyPosition(key), this.deps.config.directoryReplicas);
      const before = this.keepersOf.get(key) ?? [];
      const fresh = keepers.filter((k) => !before.includes(k) && k !== this.deps.selfKey);
      this.keepersOf.set(key, keepers);
      if (fresh.length > 0) {
        // Live records only: an expired one still here (the refresh sweeps them) is not handed on.
        const out = [...records].filter(([, r]) => r.expires > now).map(([by, r]) => ({ key, by, value: r.value, ttl: ttlLeft(r, now) }));
        for (const k of fresh) this.deps.sendTo(k, { t: 'put', qid: 0, hops: MAX_LOOKUP_HOPS, records: out });
      }
      if (!keepers.includes(this.deps.selfKey)) {
        this.kept.delete(key);
        this.keepersOf.delete(key);
      }
    }
  }

  /**
   * The records under `key` asked of every keeper at once, answered once each has answered or
   * timed out: a read that costs the same whether the key has records or not, where `find`
   * stops at the first keeper with records and so tells by its time that there are some. A node
   * whose table does not cover the key (bounded, or joining) makes an ordinary lookup.
   */
  findAtEveryKeeper(key: string, done: (r: FindResult) => void, limit = 1000): void {
    const pos = keyPosition(key);
    const { table, config, selfKey } = this.deps;
    if (this.deps.joining() || !table.covers(pos, config.directoryReplicas)) return this.find(key, done, '', limit);
    const keepers = table.successors(pos, config.directoryReplicas);
    const found = new Map<string, DirectoryRecord>();
    let answered = false;
    let more = false;
    let waiting = keepers.length;
    const heard = (r: FindResult): void => {
      answered ||= r.ok;
      more ||= r.more;
      for (const record of r.records) if (!found.has(record.by)) found.set(record.by, record);
      if (--waiting > 0) return;
      const records = [...found.values()].sort((a, b) => (a.by < b.by ? -1 : 1));
      done({ ok: answered, records: records.slice(0, limit), hops: 1, more: more || records.length > limit });
    };
    for (const keeper of keepers) {
      if (keeper === selfKey) heard({ ok: true, ...this.local(key, '', limit), hops: 0 });
      else this.ask(keeper, key, '', limit, 1, this.askTimeout(keeper), heard);
    }
  }
}
