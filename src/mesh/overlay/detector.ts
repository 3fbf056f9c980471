/**
 * SWIM failure detection over the links: every protocol period one neighbour is pinged; a missed
 * ack is retried and checked through other neighbours linked to it (indirect probes) before it
 * is suspected. Timeouts follow the neighbour's RTT and Lifeguard's local health.
 */
/*
 * Only linked members are probed: each node watches its own neighbours, so the work per node is
 * bounded whatever N. A neighbour's other neighbours (they say which in their view messages) are
 * the helpers of indirect probes. A missed round without a single nack from the helpers raises
 * this node's own health score (it may be the slow one), an answered probe lowers it. A helper
 * that pinged the target in vain says so in its nack: an independent suspicion, which shortens
 * the suspicion's timeout as Lifeguard's confirmations do. Acks and pings carry coordinates:
 * every answered probe is also a Vivaldi sample.
 */
import type { MeshTimers, TimerHandle } from '../clock.js';
import type { Coordinate, RandomSource } from '../vivaldi/coordinate.js';
import type { OverlayConfig } from './config.js';
import type { Membership } from './membership.js';
import type { Awareness } from './suspicion.js';
import type { OverlayMessage } from './types.js';

export interface DetectorDeps {
  selfKey: string;
  config: OverlayConfig;
  timers: MeshTimers;
  random: RandomSource;
  membership: Membership;
  awareness: Awareness;
  coordinate(): Coordinate;
  /** Linked members, and whether one is linked. */
  neighbours(): string[];
  isLinked(key: string): boolean;
  /** Neighbours that said they are linked to `target`. */
  helpers(target: string): string[];
  send(key: string, message: OverlayMessage): void;
  /** An answered probe: its RTT (ms) and the neighbour's coordinate. */
  sampled(key: string, rttMs: number, coordinate: Coordinate | null): void;
  /** Smoothed RTT to a neighbour (ms), if measured. */
  rttOf(key: string): number | undefined;
}

interface Round {
  target: string;
  acked: boolean;
  /** Helpers asked, and whether any of them answered (ack or nack). */
  asked: number;
  heardFromHelper: boolean;
  /** Helpers that pinged the target in vain (nacked after trying): Lifeguard's independent confirmations. */
  nackers: string[];
  failed: boolean;
  /** Every ping and ping-req of the round: a late ack to any of them still counts until the round ends. */
  seqs: number[];
  /** A confirmation round: one ping, no helpers. */
  confirming: boolean;
  /** A ping of the round timed out. */
  missed: boolean;
}

type Pending = { kind: 'own'; round: Round; sentAt: number; timer: TimerHandle; helper: string | null } | { kind: 'relay'; requester: string; seq: number; timer: TimerHandle };

export class Detector {
  probes = 0;
  /** Rounds whose first ping went unanswered, and those of them with no helper to check through. */
  missedFirst = 0;
  noHelper = 0;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private order: string[] = [];
  private cursor = 0;
  private timer: TimerHandle | null = null;
  private sweeper: TimerHandle | null = null;
  private stopped = false;

  constructor(private readonly deps: DetectorDeps) {}

  start(): void {
    if (this.deps.config.probesPerRound <= 0 || this.timer || this.stopped) return;
    this.schedule();
    this.sweeper = this.deps.timers.setRepeating(this.deps.config.heartbeatMs, () => this.sweep());
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) this.deps.timers.clearTimer(this.timer);
    if (this.sweeper) this.deps.timers.clearTimer(this.sweeper);
    for (const p of this.pending.values()) this.deps.timers.clearTimer(p.timer);
    this.pending.clear();
  }

  /** Probes `key` now, out of turn (it was suspected elsewhere, or went silent). */
  probeNow(key: string): void {
    if (this.stopped || this.deps.config.probesPerRound <= 0 || !this.deps.isLinked(key)) return;
    for (const p of this.pending.values()) if (p.kind === 'own' && p.round.target === key) return;
    this.probe(key, false);
  }

  /**
   * Another node suspects linked member `key`: one direct ping, whose missed ack is this node's
   * own confirmation (the suspicion is there already; the suspect, told of it, refutes at once).
   */
  confirmNow(key: string): void {
    if (this.stopped || this.deps.config.probesPerRound <= 0 || !this.deps.isLinked(key)) return;
    for (const p of this.pending.values()) if (p.kind === 'own' && p.round.target === key) return;
    this.probe(key, true);
  }

  /**
   * The link to `key` closed without a goodbye (its own timeout: a silence of seconds) while a ping
   * of a round probing it went unanswered: two signs of the same silence, the round fails now
   * rather than waiting the grace and a new dial. True when a round failed.
   */
  linkLost(key: string): boolean {
    for (const p of this.pending.values()) {
      if (p.kind !== 'own' || p.helper !== null || p.round.target !== key || p.round.acked || !p.round.missed) continue;
      this.failed(p.round, true);
      return true;
    }
    return false;
  }

  /** A probe message from `from`. */
  receive(from: string, m: OverlayMessage): void {
    const { membership } = this.deps;
    switch (m.t) {
      case 'ping':
        membership.receive(m.g);
        membership.heard(from, m.inc, m.c);
        this.deps.send(from, { t: 'ack', seq: m.seq, inc: membership.incarnation, c: this.deps.coordinate(), g: membership.piggyback() });
        return;
      case 'ack':
        membership.receive(m.g);
        return this.acked(from, m.seq, m.inc, m.c);
      case 'nack':
        membership.receive(m.g);
        return this.nacked(from, m.seq, m.tried);
      case 'ping-req':
        membership.receive(m.g);
        return this.relay(from, m.seq, m.target);
      default:
        return;
    }
  }

  private schedule(): void {
    const { config, awareness, timers } = this.deps;
    this.timer = timers.setTimer(config.probeIntervalMs * awareness.multiplier, () => {
      this.timer = null;
      if (this.stopped) return;
      for (let i = 0; i < config.probesPerRound; i++) {
        const target = this.nextTarget();
        if (target) this.probe(target, false);
      }
      this.schedule();
    });
  }

  /** Round-robin over the neighbours, reshuffled after each pass (SWIM's probe order). */
  private nextTarget(): string | undefined {
    for (let tries = 0; tries < 2; tries++) {
      while (this.cursor < this.order.length) {
        const key = this.order[this.cursor++]!;
        if (this.deps.isLinked(key)) return key;
      }
      this.order = this.deps.neighbours();
      for (let i = this.order.length - 1; i > 0; i--) {
        const j = Math.floor(this.deps.random() * (i + 1));
        [this.order[i], this.order[j]] = [this.order[j]!, this.order[i]!];
      }
      this.cursor = 0;
    }
    return undefined;
  }

  private timeoutFor(key: string): number {
    const { config, awareness } = this.deps;
    const rtt = this.deps.rttOf(key);
    const base = rtt === undefined ? config.probeTimeoutMaxMs : Math.min(config.probeTimeoutMaxMs, Math.max(config.probeTimeoutMinMs, rtt * config.probeRttMultiplier));
    return base * awareness.multiplier;
  }

  private probe(target: string, confirming: boolean): void {
    this.probes++;
    this.attempt({ target, acked: false, asked: 0, heardFromHelper: false, nackers: [], failed: false, seqs: [], confirming, missed: false }, 1);
  }

  private attempt(round: Round, attemptNo: number): void {
    const { membership, timers, config } = this.deps;
    const seq = ++this.seq;
    const timeout = this.timeoutFor(round.target);
    const timer = timers.setTimer(timeout, () => {
      if (round.acked || this.stopped) return;
      round.missed = true;
      if (attemptNo === 1 && !round.confirming) {
        this.askHelpers(round);
        this.missedFirst++;
        if (round.asked === 0) this.noHelper++;
      }
      // No helper to check through: one more direct ping instead.
      const attempts = round.confirming ? 1 : config.probeAttempts + (round.asked === 0 ? 1 : 0);
      if (attemptNo < attempts && this.deps.isLinked(round.target)) return this.attempt(round, attemptNo + 1);
      this.failed(round);
    });
    this.pending.set(seq, { kind: 'own', round, sentAt: timers.now(), timer, helper: null });
    round.seqs.push(seq);
    this.deps.send(round.target, { t: 'ping', seq, inc: membership.incarnation, c: this.deps.coordinate(), g: membership.piggyback() });
  }

  private askHelpers(round: Round): void {
    const helpers = this.deps.helpers(round.target).filter((h) => h !== round.target).slice(0, this.deps.config.indirectChecks);
    for (const helper of helpers) {
      const seq = ++this.seq;
      // Waited for beyond the round's end: a helper's nack after the suspicion still confirms it.
      const timer = this.deps.timers.setTimer(2 * (this.timeoutFor(helper) + this.timeoutFor(round.target)), () => this.pending.delete(seq));
      this.pending.set(seq, { kind: 'own', round, sentAt: this.deps.timers.now(), timer, helper });
      round.seqs.push(seq);
      this.deps.send(helper, { t: 'ping-req', seq, target: round.target, g: this.deps.membership.piggyback() });
      round.asked++;
    }
  }

  /** The round is over: its pings (and, once acked, its ping-reqs) are no longer waited for. */
  private end(round: Round, helpersToo: boolean): void {
    for (const seq of round.seqs) {
      const p = this.pending.get(seq);
      if (p?.kind !== 'own' || (p.helper !== null && !helpersToo)) continue;
      this.deps.timers.clearTimer(p.timer);
      this.pending.delete(seq);
    }
  }

  private failed(round: Round, linkLost = false): void {
    this.end(round, false);
    // A link closed under the probe: its closing is handled where links are (a goodbye, `linkLost`, or a suspicion after the grace).
    if (round.acked || (!linkLost && !this.deps.isLinked(round.target))) return;
    round.failed = true;
    // Helpers were asked and none answered at all: this node is likely the one in trouble.
    if (!linkLost && round.asked > 0 && !round.heardFromHelper) this.deps.awareness.change(1);
    // A confirmation round confirms a suspicion still standing, and never starts one.
    if (round.confirming) return this.deps.membership.confirm(round.target, this.deps.selfKey);
    this.deps.membership.suspect(round.target);
    for (const helper of round.nackers) this.deps.membership.confirm(round.target, helper);
  }

  private acked(from: string, seq: number, inc: number, coordinate: Coordinate | null): void {
    const p = this.pending.get(seq);
    if (!p) return;
    if (p.kind === 'relay') {
      this.pending.delete(seq);
      this.deps.timers.clearTimer(p.timer);
      this.deps.send(p.requester, { t: 'ack', seq: p.seq, inc, c: null, g: this.deps.membership.piggyback() });
      return;
    }
    const round = p.round;
    if (from !== round.target) round.heardFromHelper = true;
    if (round.acked) return;
    round.acked = true;
    this.end(round, true);
    this.deps.awareness.change(-1);
    this.deps.membership.heard(round.target, inc, coordinate);
    if (from === round.target) this.deps.sampled(from, this.deps.timers.now() - p.sentAt, coordinate);
  }

  /** A helper's nack: it is alive (this node is not cut off); `tried`: it could not reach the target either. */
  private nacked(from: string, seq: number, tried: boolean): void {
    const p = this.pending.get(seq);
    if (p?.kind !== 'own' || p.helper !== from) return;
    this.pending.delete(seq);
    this.deps.timers.clearTimer(p.timer);
    const { round } = p;
    round.heardFromHelper = true;
    if (!tried || round.acked) return;
    if (round.failed) this.deps.membership.confirm(round.target, from);
    else round.nackers.push(from);
  }

  /** A ping-req: ping the target for the requester, answer its ack or a nack. */
  private relay(requester: string, seq: number, target: string): void {
    const { membership, timers } = this.deps;
    if (!this.deps.isLinked(target)) {
      this.deps.send(requester, { t: 'nack', seq, tried: false, g: membership.piggyback() });
      return;
    }
    const own = ++this.seq;
    const timer = timers.setTimer(this.timeoutFor(target), () => {
      this.pending.delete(own);
      this.deps.send(requester, { t: 'nack', seq, tried: true, g: membership.piggyback() });
    });
    this.pending.set(own, { kind: 'relay', requester, seq, timer });
    this.deps.send(target, { t: 'ping', seq: own, inc: membership.incarnation, c: this.deps.coordinate(), g: membership.piggyback() });
  }

  /**
   * A linked member silent for longer than `heartbeatTimeoutMs`, and longer than two turns of the
   * probe order (its own probes may come that rarely), is probed out of turn.
   */
  private sweep(): void {
    const { membership, config, timers, awareness } = this.deps;
    const now = timers.now();
    const neighbours = this.deps.neighbours();
    const silence = Math.max(config.heartbeatTimeoutMs, 2 * neighbours.length * config.probeIntervalMs * awareness.multiplier);
    for (const key of neighbours) {
      const last = membership.lastSeen(key);
      if (last !== undefined && now - last > silence) this.probeNow(key);
    }
  }

}
