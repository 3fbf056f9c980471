/**
 * The members a node knows of, on the directory's ring: alive and suspected ones, tombstones of
 * the dead, and which part of the ring this node knows completely (its window).
 */
/*
 * Bounded: beyond `maxKnownMembers` a random member is forgotten, never one of the ring window
 * (the √N members on each side of this node's position, which the directory needs complete), the
 * ring contacts (two per arc of the ring, so that any key is one hop from a member whose window
 * covers it), nor those the caller protects (neighbours, nearest members). Until a member was
 * forgotten, the table believes it knows everyone, unless it was filled by joining (a join learns
 * the node's window and a sample, not the whole mesh).
 */
import type { Coordinate, RandomSource } from '../vivaldi/coordinate.js';
import { memberPosition, RING_SIZE, type MemberInfo } from './types.js';

export interface MemberRecord {
  readonly key: string;
  readonly pos: number;
  info: MemberInfo;
  coordinate: Coordinate | null;
  status: 'alive' | 'suspect';
  inc: number;
  joinedAt: number;
  lastSeen: number;
}

/** Contacts kept per arc of the ring. */
const CONTACTS_PER_ARC = 2;
/**
 * The window kept is wider than the one relied on (`covers`) by this factor: the mesh size, hence
 * the window, is an estimate that varies from node to node, and a node must never rely on a part
 * of the ring it keeps only partly.
 */
const KEPT_MARGIN = 1.25;

/** Members on each side of a node's ring position that a directory lookup relies on it knowing, for a mesh of `n`. */
export function windowHalfFor(n: number, ringWindowMin: number): number {
  return Math.max(ringWindowMin, Math.ceil(Math.sqrt(n)));
}

/**
 * Arcs the ring is cut in for the contacts, for a window of `w` on each side: a power of two in
 * [w, 2w), so that an arc holds fewer members than a window covers, and the arcs, hence the
 * contacts, stay put while the estimated mesh size wanders (they would all move with every
 * change of w).
 */
export function arcsFor(w: number): number {
  return 2 ** Math.floor(Math.log2(2 * w));
}

/** Members on each side that a node keeps (never forgets), for a mesh of `n`. */
export function keptHalfFor(n: number, ringWindowMin: number): number {
  return Math.ceil(KEPT_MARGIN * windowHalfFor(n, ringWindowMin));
}

export class MemberTable {
  private readonly byKey = new Map<string, MemberRecord>();
  /** Keys of the members and of this node, by ring position (ascending), and those positions. */
  private readonly ringKeys: string[];
  private readonly ringPos: number[];
  private readonly tombstones = new Map<string, { inc: number; at: number }>();
  private readonly selfPos: number;
  /** Members forgotten to stay within the bound: from the first one on, the window is what is known for sure. */
  forgotten = 0;
  /** Filled by joining: what is known for sure is the window, whatever was forgotten. */
  private joined = false;
  /** Bumped on every change of the ring, for the cached estimate. */
  private ringVersion = 0;
  private estimated: { version: number; value: number } | null = null;

  constructor(
    readonly selfKey: string,
    private readonly opts: { maxKnownMembers: number; ringWindowMin: number; random: RandomSource },
  ) {
    this.selfPos = memberPosition(selfKey);
    this.ringKeys = [selfKey];
    this.ringPos = [this.selfPos];
  }

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): MemberRecord | undefined {
    return this.byKey.get(key);
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  values(): IterableIterator<MemberRecord> {
    return this.byKey.values();
  }

  keys(): IterableIterator<string> {
    return this.byKey.keys();
  }

  /** Adds or replaces a record; then forgets one unprotected member when over the bound. */
  put(record: MemberRecord, protect: (key: string) => boolean): void {
    if (!this.byKey.has(record.key)) this.insertRing(record.key, record.pos);
    this.byKey.set(record.key, record);
    this.tombstones.delete(record.key);
    if (this.byKey.size > this.opts.maxKnownMembers) this.forgetOne(protect);
  }

  /** A member picked at random (undefined when the table is empty). */
  randomKey(): string | undefined {
    const n = this.ringKeys.length;
    if (n <= 1) return undefined;
    // Every index but this node's own, evenly.
    const i = Math.floor(this.opts.random() * (n - 1));
    return this.ringKeys[i >= this.selfIndex() ? i + 1 : i];
  }

  /** Removes a member, leaving a tombstone at `inc`. */
  remove(key: string, inc: number, now: number): MemberRecord | undefined {
    const record = this.byKey.get(key);
    this.tombstones.set(key, { inc, at: now });
    if (!record) return undefined;
    this.byKey.delete(key);
    this.removeRing(key, record.pos);
    return record;
  }

  /** The incarnation at which `key` was declared dead or left, while its tombstone lasts. */
  tombstone(key: string): number | undefined {
    return this.tombstones.get(key)?.inc;
  }

  /** Drops tombstones older than `maxAgeMs`. */
  sweepTombstones(now: number, maxAgeMs: number): void {
    for (const [key, t] of this.tombstones) if (now - t.at > maxAgeMs) this.tombstones.delete(key);
  }

  /** Whether this table holds every member (none forgotten, not filled by a join). */
  knowsAll(): boolean {
    return this.forgotten === 0 && !this.joined;
  }

  /** This node is joining: its table will hold its window and a sample of the mesh. */
  joining(): void {
    this.joined = true;
  }

  /** Estimated mesh size: the members known when none was forgotten, else the density of the ring near this node (2 × `ringWindowMin` members each side). */
  estimate(): number {
    const n = this.ringKeys.length;
    if (this.knowsAll()) return n;
    // Asked for every member a sync or a gossip brings: computed again only when the ring changed.
    if (this.estimated?.version === this.ringVersion) return this.estimated.value;
    const value = this.densityEstimate(n);
    this.estimated = { version: this.ringVersion, value };
    return value;
  }

  private densityEstimate(n: number): number {
    const w = Math.min(2 * this.opts.ringWindowMin, Math.floor((n - 1) / 2));
    if (w < 1) return n;
    const i = this.selfIndex();
    const from = this.ringPos[(i - w + n) % n]!;
    const to = this.ringPos[(i + w) % n]!;
    const arc = to >= from ? to - from : to + RING_SIZE - from;
    return Math.max(n, Math.round((2 * w * RING_SIZE) / Math.max(arc, 1)));
  }

  /** Members on each side of this node that lookups rely on it knowing: at least `ringWindowMin`, √N beyond. */
  windowHalf(): number {
    return windowHalfFor(this.estimate(), this.opts.ringWindowMin);
  }

  /** Members on each side of this node that it keeps: the window and a margin. */
  keptHalf(): number {
    return keptHalfFor(this.estimate(), this.opts.ringWindowMin);
  }

  /** Whether this node surely knows the `replicas` members that follow `pos` on the ring. */
  covers(pos: number, replicas: number): boolean {
    const n = this.ringKeys.length;
    if (this.knowsAll()) return true;
    const w = this.windowHalf();
    const i = this.selfIndex();
    const j = this.lowerBound(pos) % n;
    const ahead = (j - i + n) % n;
    const behind = (i - j + n) % n;
    return ahead + replicas - 1 <= w || behind <= w - replicas;
  }

  /** The `count` members (this node included) at or after `pos` on the ring. */
  successors(pos: number, count: number): string[] {
    const n = this.ringKeys.length;
    const start = this.lowerBound(pos);
    const out: string[] = [];
    for (let k = 0; k < Math.min(count, n); k++) out.push(this.ringKeys[(start + k) % n]!);
    return out;
  }

  /** The `half` members on each side of `pos` (this node included): a window centred there. */
  around(pos: number, half: number): string[] {
    const n = this.ringKeys.length;
    const start = this.lowerBound(pos);
    const out = new Set<string>();
    for (let k = -half; k < half && out.size < n; k++) out.add(this.ringKeys[(((start + k) % n) + n) % n]!);
    return [...out];
  }

  /** The known member (this node included) just before `pos`: the one whose window is most likely to cover it. */
  closestPreceding(pos: number): string {
    return this.preceding(pos, 1)[0]!;
  }

  /** The `count` known members (this node included) before `pos`, closest first. */
  preceding(pos: number, count: number): string[] {
    const n = this.ringKeys.length;
    const start = this.lowerBound(pos);
    const out: string[] = [];
    for (let k = 1; k <= Math.min(count, n); k++) out.push(this.ringKeys[(((start - k) % n) + n) % n]!);
    return out;
  }

  /** Whether `key` lies in this node's window or is a ring contact: forgetting it would cost the directory. */
  isStructural(key: string): boolean {
    const record = this.byKey.get(key);
    return !!record && this.structural(record.pos, this.indexOfKey(key, record.pos));
  }

  /** Whether a member this table does not keep would lie in its window or be a ring contact. */
  wouldBeStructural(key: string): boolean {
    const pos = memberPosition(key);
    return this.structural(pos, this.lowerBound(pos));
  }

  /** At the bound: a new member now costs a forgotten one. */
  get full(): boolean {
    return this.byKey.size >= this.opts.maxKnownMembers;
  }

  /** Whether ring index `j` (position `pos`) is within the window, or among the first members of its arc. */
  private structural(pos: number, j: number): boolean {
    const n = this.ringKeys.length;
    const kept = this.keptHalf();
    const i = this.selfIndex();
    if ((j - i + n) % n <= kept || (i - j + n) % n <= kept) return true;
    // Contact: among the first of its arc.
    const arcs = arcsFor(this.windowHalf());
    const arcStart = Math.floor((Math.floor((pos * arcs) / RING_SIZE) * RING_SIZE) / arcs);
    const first = this.lowerBound(arcStart);
    return j >= first && j - first < CONTACTS_PER_ARC;
  }

  private forgetOne(protect: (key: string) => boolean): void {
    const n = this.ringKeys.length;
    const start = Math.floor(this.opts.random() * n);
    for (let k = 0; k < n; k++) {
      const key = this.ringKeys[(start + k) % n]!;
      if (key === this.selfKey || protect(key) || this.isStructural(key)) continue;
      const record = this.byKey.get(key)!;
      this.byKey.delete(key);
      this.removeRing(key, record.pos);
      this.forgotten++;
      return;
    }
  }

  private selfIndex(): number {
    return this.indexOfKey(this.selfKey, this.selfPos);
  }

  /** First ring index whose position is ≥ pos (may equal the length). */
  private lowerBound(pos: number): number {
    let lo = 0;
    let hi = this.ringPos.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ringPos[mid]! < pos) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private indexOfKey(key: string, pos: number): number {
    let i = this.lowerBound(pos);
    while (i < this.ringKeys.length && this.ringKeys[i] !== key) i++;
    return i;
  }

  private insertRing(key: string, pos: number): void {
    this.ringVersion++;
    const i = this.lowerBound(pos);
    this.ringKeys.splice(i, 0, key);
    this.ringPos.splice(i, 0, pos);
  }

  private removeRing(key: string, pos: number): void {
    const i = this.indexOfKey(key, pos);
    if (i >= this.ringKeys.length) return;
    this.ringVersion++;
    this.ringKeys.splice(i, 1);
    this.ringPos.splice(i, 1);
  }
}
