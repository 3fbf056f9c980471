/**
 * Discovery: the Hyperswarm swarm, the cluster's topic joined with a bounded refresh schedule,
 * rediscovery of lost members, and the swarm's shutdown.
 */
/*
 * Why rediscovery: Hyperswarm stops dialling a peer after a few failed attempts (a frozen or
 * unreachable process fails them all) until a topic lookup finds it again. Without a lookup a
 * member frozen for 15 s stayed unconnected from some nodes for 15–60 s after it ran again.
 */
import DHT, { type DHTNode, type KeyPair } from 'hyperdht';
import Hyperswarm, { type PeerDiscoverySession } from 'hyperswarm';
import type { Logger } from 'pino';
import { sleep, type MeshTimers, type TimerHandle } from './clock.js';
import { DEFAULT_HOST, DEFAULT_SWARM_DESTROY_GRACE_MS } from './config.js';

export interface DiscoveryOptions {
  keyPair: KeyPair;
  topic: Buffer;
  /** DHT bootstrap nodes. Required: without it Hyperswarm would use the public network. */
  bootstrap: Array<DHTNode | string>;
  /** Address the DHT binds to (default 127.0.0.1). */
  host?: string;
  /** Injected collaborators (tests, embedding). */
  createDht?: (options: { bootstrap: Array<DHTNode | string>; host: string; keyPair: KeyPair }) => DHT;
  /** A swarm to use instead of a new one: it is not destroyed by close(). */
  swarm?: Hyperswarm;
  /**
   * Whether the swarm dials the members found on the topic (full membership). Without it the
   * topic is only announced, and `contacts` looks up a few members for the overlay to join by.
   */
  client?: boolean;
  /** Hyperswarm's bound on its connections (default: Hyperswarm's, 64). */
  maxPeers?: number;
  /** Discovery refreshes after joining, in ms from the join. */
  refreshScheduleMs: readonly number[];
  timers: MeshTimers;
  log: Logger;
}

/** Delays between the topic lookups made while a lost member is not back (the last one repeats). */
const REDISCOVERY_MS: readonly number[] = [1_000, 2_000, 4_000, 5_000];
/** A member not back after this long is no longer looked for (it left, or died). */
const REDISCOVERY_MAX_MS = 10 * 60_000;

export class Discovery {
  readonly swarm: Hyperswarm;
  private readonly ownsSwarm: boolean;
  private readonly refreshTimers = new Set<TimerHandle>();
  private session: PeerDiscoverySession | null = null;
  /** Members lost and not back (key → when lost). */
  private readonly missing = new Map<string, number>();
  private rediscovery: TimerHandle | null = null;
  private rediscoveryStep = 0;
  private stopped = false;

  constructor(private readonly opts: DiscoveryOptions) {
    if (opts.swarm) {
      this.swarm = opts.swarm;
      this.ownsSwarm = false;
    } else {
      const host = opts.host ?? DEFAULT_HOST;
      const dht = opts.createDht
        ? opts.createDht({ bootstrap: opts.bootstrap, host, keyPair: opts.keyPair })
        : new DHT({ bootstrap: opts.bootstrap, host, keyPair: opts.keyPair });
      this.swarm = new Hyperswarm({ keyPair: opts.keyPair, dht, ...(opts.maxPeers !== undefined ? { maxPeers: opts.maxPeers } : {}) });
      this.ownsSwarm = true;
    }
  }

  private get roles(): { client: boolean; server: boolean } {
    return { client: this.opts.client !== false, server: true };
  }

  /** Joins the topic (as client and server, or as server only), waits for the first round, then schedules the refreshes. */
  async join(): Promise<void> {
    const session: PeerDiscoverySession = this.swarm.join(this.opts.topic, this.roles);
    this.session = session;
    await session.flushed();
    if (this.stopped) return;
    for (const at of this.opts.refreshScheduleMs) {
      const t = this.opts.timers.setTimer(at, () => {
        this.refreshTimers.delete(t);
        if (this.stopped) return;
        session.refresh(this.roles).catch((err: unknown) => this.opts.log.debug({ err }, 'refresh failed'));
      });
      this.refreshTimers.add(t);
    }
  }

  /** Up to `limit` members announced on the topic (not this node), looked up within `timeoutMs`; nothing is dialled. */
  async contacts(limit: number, timeoutMs: number): Promise<string[]> {
    const self = this.opts.keyPair.publicKey.toString('hex');
    const found = new Set<string>();
    const query = this.swarm.dht.lookup(this.opts.topic);
    const timer = this.opts.timers.setTimer(timeoutMs, () => query.destroy());
    try {
      for await (const reply of query) {
        for (const peer of reply.peers) {
          const key = peer.publicKey.toString('hex');
          if (key !== self) found.add(key);
        }
        if (found.size >= limit || this.stopped) break;
      }
    } catch (err) {
      this.opts.log.debug({ err }, 'topic lookup failed');
    } finally {
      this.opts.timers.clearTimer(timer);
      query.destroy();
    }
    return [...found].slice(0, limit);
  }

  /** A member was lost: the topic is looked up again, on a backoff, until it is back (`found`) or the bound passed. */
  lost(key: string): void {
    if (this.stopped) return;
    this.missing.set(key, this.opts.timers.now());
    if (this.rediscovery) return;
    this.rediscoveryStep = 0;
    this.scheduleRediscovery();
  }

  found(key: string): void {
    this.missing.delete(key);
    if (this.missing.size > 0 || !this.rediscovery) return;
    this.opts.timers.clearTimer(this.rediscovery);
    this.rediscovery = null;
  }

  private scheduleRediscovery(): void {
    const delay = REDISCOVERY_MS[Math.min(this.rediscoveryStep++, REDISCOVERY_MS.length - 1)]!;
    this.rediscovery = this.opts.timers.setTimer(delay, () => {
      this.rediscovery = null;
      const now = this.opts.timers.now();
      for (const [key, at] of this.missing) if (now - at > REDISCOVERY_MAX_MS) this.missing.delete(key);
      if (this.stopped || this.missing.size === 0 || !this.session) return;
      this.session.refresh(this.roles).catch((err: unknown) => this.opts.log.debug({ err }, 'rediscovery failed'));
      this.scheduleRediscovery();
    });
  }

  /** Resolves when the swarm has processed pending discovery and connections. */
  async flushed(): Promise<void> {
    await this.swarm.flush();
  }

  /** Cancels the refreshes to come. Safe to call twice. */
  stop(): void {
    this.stopped = true;
    for (const t of this.refreshTimers) this.opts.timers.clearTimer(t);
    this.refreshTimers.clear();
    if (this.rediscovery) this.opts.timers.clearTimer(this.rediscovery);
    this.rediscovery = null;
    this.missing.clear();
  }

  /** Destroys the swarm this owns (gracefully within a bound, then forced), or leaves the topic of one passed in. */
  async close(): Promise<void> {
    this.stop();
    if (!this.ownsSwarm) {
      await this.swarm.leave(this.opts.topic).catch(() => undefined);
      return;
    }
    // Graceful (unannounce) within a bound, then forced: a forced destroy alone can leave native handles open.
    const graceful = this.swarm.destroy().then(
      () => true,
      () => true,
    );
    const done = await Promise.race([graceful, sleep(this.opts.timers, DEFAULT_SWARM_DESTROY_GRACE_MS).then(() => false)]);
    if (!done) await this.swarm.destroy({ force: true }).catch(() => undefined);
  }
}
