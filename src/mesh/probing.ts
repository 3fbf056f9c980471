/** Probing: RTT measurement by ping, the per-peer sample windows, and the probe rounds that feed Vivaldi. */
/*
 * Each node pings `probesPerRound` random members every `probeIntervalMs`;
 * a ping carries the caller's coordinate and its reply the callee's, so both
 * ends learn a coordinate and the caller an RTT sample.
 */
import type { Logger } from 'pino';
import type { MeshTimers, TimerHandle } from './clock.js';
import type { MeshConfig } from './config.js';
import { short, type MeshError } from './errors.js';
import type { Membership } from './membership.js';
import { chooseNearest, type NearestCandidate, type RankedCandidate } from './nearest.js';
import { median, type VivaldiClient } from './vivaldi/client.js';
import { compactCodec, coordinate, nullable, struct, type MethodSpec } from './rpc-codecs.js';
import type { Coordinate, RandomSource } from './vivaldi/coordinate.js';

/** A ping and its answer: the sender's coordinate. */
export interface PingMessage {
  c: Coordinate | null;
}

const pingMessage = compactCodec(struct<PingMessage>({ c: nullable(coordinate) }), 'ping');
export const PING: MethodSpec<PingMessage, PingMessage> = { name: 'mesh/ping', request: pingMessage, reply: pingMessage };

/** How a ping reaches a member: the mesh's RPC client. */
export type PingCall = (peerKey: string, ping: PingMessage, options: { timeoutMs: number }) => Promise<PingMessage>;

export interface ProberOptions extends Pick<MeshConfig, 'probeIntervalMs' | 'probesPerRound' | 'probeTimeoutMs' | 'rttWindow'> {
  vivaldi: VivaldiClient;
  membership: Pick<Membership, 'keys' | 'setCoordinate'>;
  call: PingCall;
  timers: MeshTimers;
  random: RandomSource;
  log: Logger;
}

export class Prober {
  /** Pings answered so far. */
  probes = 0;
  private readonly rtts = new Map<string, number[]>();
  private timer: TimerHandle | null = null;
  private stopped = false;

  constructor(private readonly opts: ProberOptions) {}

  /** Starts the probe rounds (unless probing is disabled). */
  start(): void {
    if (this.stopped || this.timer || this.opts.rttWindow <= 0 || this.opts.probesPerRound <= 0) return;
    this.timer = this.opts.timers.setRepeating(this.opts.probeIntervalMs, () => this.round());
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) this.opts.timers.clearTimer(this.timer);
    this.timer = null;
  }

  /** Pings a member: measures the RTT (ms), feeds Vivaldi and the RTT window. */
  async ping(peerKey: string, timeoutMs = this.opts.probeTimeoutMs): Promise<number> {
    const { timers, vivaldi } = this.opts;
    const t0 = timers.now();
    const reply = await this.opts.call(peerKey, { c: vivaldi.getCoordinate() }, { timeoutMs });
    const rtt = Math.max(timers.now() - t0, 0.001);
    this.probes++;
    const coord = reply.c;
    if (coord) this.opts.membership.setCoordinate(peerKey, coord);
    this.record(peerKey, rtt);
    if (coord) {
      try {
        vivaldi.update(peerKey, coord, rtt);
      } catch (err) {
        this.opts.log.debug({ err, peer: short(peerKey) }, 'vivaldi sample rejected');
      }
    }
    return rtt;
  }

  /** The answer to a ping from `fromKey`: notes its coordinate, returns this node's. */
  answer(ping: PingMessage, fromKey: string): PingMessage {
    if (ping.c) this.opts.membership.setCoordinate(fromKey, ping.c);
    return { c: this.opts.vivaldi.getCoordinate() };
  }

  /**
   * `candidates` ranked nearest first from this node's coordinate, the RTTs it measured refining
   * the shortlist (see nearest.ts). With `measure`, shortlisted candidates without samples are
   * pinged first.
   */
  async rankFromHere<C extends NearestCandidate>(
    selfKey: string,
    candidates: C[],
    options: { shortlist?: number; measure?: boolean; timeoutMs?: number },
  ): Promise<RankedCandidate<C>[]> {
    const from = this.opts.vivaldi.getCoordinate();
    const rank = (): RankedCandidate<C>[] =>
      chooseNearest(
        from,
        candidates,
        (k) => (k === selfKey ? 0 : this.measuredRtt(k)),
        options.shortlist !== undefined ? { shortlist: options.shortlist } : {},
      );
    const ranked = rank();
    if (!options.measure) return ranked;
    const toMeasure = ranked
      .slice(0, options.shortlist ?? ranked.length)
      .filter((r) => r.candidate.key !== selfKey && r.measuredMs === undefined)
      .map((r) => r.candidate.key);
    await Promise.allSettled(toMeasure.map((key) => this.ping(key, options.timeoutMs ?? this.opts.probeTimeoutMs)));
    return rank();
  }

  /** Median of the last RTT samples (ms) measured to `key`, if any. */
  measuredRtt(key: string): number | undefined {
    const s = this.rtts.get(key);
    return s && s.length > 0 ? median(s) : undefined;
  }

  /** Drops the samples of a member that left. */
  forget(key: string): void {
    this.rtts.delete(key);
  }

  private round(): void {
    if (this.stopped) return;
    const keys = this.opts.membership.keys();
    for (let i = 0; i < this.opts.probesPerRound && keys.length > 0; i++) {
      const j = Math.floor(this.opts.random() * keys.length);
      const [key] = keys.splice(j, 1);
      this.ping(key!).catch((err: unknown) => this.opts.log.debug({ peer: short(key!), code: (err as MeshError).code }, 'probe failed'));
    }
  }

  private record(key: string, rtt: number): void {
    let s = this.rtts.get(key);
    if (!s) {
      s = [];
      this.rtts.set(key, s);
    }
    s.push(rtt);
    if (s.length > this.opts.rttWindow) s.splice(0, s.length - this.opts.rttWindow);
  }
}
