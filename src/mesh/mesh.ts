/**
 * Membership and RPC over Hyperswarm.
 *
 * - Identity: a persistent Ed25519 key pair (`dataDir`) or an injected one.
 * - Discovery: the topic is a hash of the cluster secret. Discovery is
 *   refreshed a bounded number of times after joining so that nodes joining
 *   at the same moment find each other.
 * - Admission: on each connection both ends prove knowledge of the secret
 *   (see auth.ts) in the handshake of the RPC channel. Nothing is served
 *   before the proof checks; a wrong proof or a revoked key destroys the
 *   connection and is counted (`stats().refused`) and logged.
 * - Liveness: the connection sends keep-alives every `keepAliveMs` and is
 *   destroyed after `connectionTimeoutMs` of silence; every member also gets
 *   a heartbeat every `heartbeatMs`, and a member silent for
 *   `heartbeatTimeoutMs` is dropped. A closed connection is reported as
 *   `member-left` after `reconnectGraceMs` unless a new one replaced it.
 *   Bound on loss detection: min(connectionTimeoutMs, heartbeatTimeoutMs +
 *   heartbeatMs) + reconnectGraceMs = 3.5 s with the defaults for a dead
 *   process (measured ≈ 3.5 s after a SIGKILL on loopback), 4.5 s at most
 *   for a process that keeps its connection open but stops answering.
 * - Duplicate connections: links are keyed by the remote public key; a new
 *   connection replaces the old link (the member stays), and idempotent
 *   calls that failed on the old link are retried on the new one.
 * - Vivaldi: each node pings `probesPerRound` random members every
 *   `probeIntervalMs`; the coordinate travels in pings and heartbeats.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import DHT, { type DHTNode, type KeyPair } from 'hyperdht';
import Hyperswarm, { type PeerDiscoverySession, type PeerInfo, type SecretStream } from 'hyperswarm';
import ProtomuxRPC from 'protomux-rpc';
import { pino, type Logger } from 'pino';
import { authKeyFor, createProof, topicFor, verifyProof } from './auth.js';
import { MeshError, short } from './errors.js';
import {
  decodeRequest,
  decodeResponse,
  DEFAULT_FORWARD_TIMEOUT_MS,
  encodeRequest,
  encodeResponse,
  FORWARD_METHOD,
  isIdempotentMethod,
  MAX_FORWARD_HOPS,
  type ForwardedRequest,
  type ForwardedResponse,
  type ForwardHandler,
} from './http-forwarding.js';
import { loadOrCreateIdentity } from './identity.js';
import { chooseNearest, type RankedCandidate } from './nearest.js';
import { VivaldiClient } from './vivaldi/client.js';
import type { VivaldiConfig } from './vivaldi/config.js';
import type { Coordinate, RandomSource } from './vivaldi/coordinate.js';
import { realTimers, sleep, type Clock, type MeshTimers, type TimerHandle } from './clock.js';
import { DEFAULT_HOST, DEFAULT_MAX_IN_FLIGHT, DEFAULT_SWARM_DESTROY_GRACE_MS, meshConfig, type MeshConfig } from './config.js';
import { gather, type GatherOptions, type GatherResult, type GatherScope } from './gather.js';
import { LatencyEmulator, type DelayFunction } from './latency.js';
import { METHOD_PING, Prober } from './probing.js';
import { coordFromJson, coordToJson, decode, encode, type Envelope, type JsonValue, type Reply } from './wire.js';

export * from './config.js';
export type { Clock } from './clock.js';
export type { GatherOptions, GatherResult } from './gather.js';
export { coordFromJson, coordToJson, type JsonValue } from './wire.js';

const RPC_PROTOCOL = 'discovery-mesh/rpc/v1';
const EVENT_HELLO = 'mesh/hello';
const EVENT_HEARTBEAT = 'mesh/heartbeat';

/** What a node says about itself. */
export interface MemberInfo {
  name: string;
  httpAddress: string | null;
  site: string | null;
  capacity: JsonValue;
  /** Increases on every change of the fields above. */
  seq: number;
}

export interface Member extends MemberInfo {
  /** Hex public key: the identity. */
  readonly key: string;
  coordinate: Coordinate | null;
  /** Mesh clock (ms) of the join and of the last message. */
  joinedAt: number;
  lastSeen: number;
}

export interface MeshOptions extends Partial<MeshConfig> {
  /** Cluster secret: the topic is derived from it and peers must prove it. */
  secret: string | Buffer;
  /** DHT bootstrap nodes. Required: without it Hyperswarm would use the public network. */
  bootstrap: Array<DHTNode | string>;
  /** Human name of this node. */
  name: string;
  /** Directory holding the identity (mesh-identity.json); or pass `keyPair`. */
  dataDir?: string;
  keyPair?: KeyPair;
  httpAddress?: string | null;
  site?: string | null;
  capacity?: JsonValue;
  /** Keys (hex) refused at handshake. */
  revoked?: Iterable<string>;
  /** Address the DHT binds to (default 127.0.0.1). */
  host?: string;
  /** Override the topic (default: topicFor(secret)). */
  topic?: Buffer;
  /** Delay (ms) applied to every message written to a peer: half the RTT to emulate. */
  delayMs?: DelayFunction;
  vivaldi?: Partial<VivaldiConfig>;
  logger?: Logger;
  clock?: Clock;
  random?: RandomSource;
  /** Injected collaborators (tests, embedding). A swarm passed in is not destroyed by close(). */
  createDht?: (options: { bootstrap: Array<DHTNode | string>; host: string; keyPair: KeyPair }) => DHT;
  swarm?: Hyperswarm;
}

export interface RequestOptions {
  timeoutMs?: number;
  /** Safe to repeat: retried on CLOSED / UNREACHABLE within the deadline. */
  idempotent?: boolean;
  retries?: number;
}

export type Handler = (payload: JsonValue, fromKey: string) => Promise<JsonValue> | JsonValue;

export interface MeshStats {
  refused: number;
  connections: number;
  members: number;
  requestsSent: number;
  requestsServed: number;
  probes: number;
  vivaldiResets: number;
}

export interface MeshEvents {
  'member-joined': [Member];
  'member-updated': [Member];
  'member-left': [Member, string];
  refused: [{ key: string; reason: string }];
}

/** One authenticated (or authenticating) connection to a peer. */
class Link {
  verified = false;
  closed = false;
  revoked = false;
  readonly ready: Promise<boolean>;
  resolveReady!: (ok: boolean) => void;
  authTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly key: string,
    readonly conn: SecretStream,
    readonly rpc: ProtomuxRPC,
    readonly peerInfo?: PeerInfo,
  ) {
    this.ready = new Promise((resolve) => {
      this.resolveReady = resolve;
    });
  }
}

export class Mesh extends EventEmitter<MeshEvents> {
  readonly keyPair: KeyPair;
  /** Hex public key of this node. */
  readonly key: string;
  readonly topic: Buffer;
  readonly vivaldi: VivaldiClient;
  private readonly opts: MeshConfig;
  private readonly authKey: Buffer;
  private readonly swarm: Hyperswarm;
  private readonly ownsSwarm: boolean;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly random: RandomSource;
  private readonly timers: MeshTimers;
  private readonly latency: LatencyEmulator;
  private readonly revoked: Set<string>;
  private readonly links = new Map<string, Link>();
  private readonly memberMap = new Map<string, Member>();
  private readonly handlers = new Map<string, Handler>();
  /** Discovery refreshes still to come. */
  private readonly refreshTimers = new Set<TimerHandle>();
  /** Members whose connection closed, awaiting a replacement (key → leave timer). */
  private readonly leaving = new Map<string, NodeJS.Timeout>();
  /** Callers waiting for a verified link to a key. */
  private readonly linkWaiters = new Map<string, Set<() => void>>();
  private readonly pending = new Set<(err: MeshError) => void>();
  private info: MemberInfo;
  private discovery: PeerDiscoverySession | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private started: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  private readonly prober: Prober;
  private readonly counters = { refused: 0, requestsSent: 0, requestsServed: 0 };

  constructor(options: MeshOptions) {
    super();
    if (!options || !Array.isArray(options.bootstrap) || options.bootstrap.length === 0) {
      throw new TypeError('Mesh: `bootstrap` is required (non-empty); public bootstrap nodes are never used');
    }
    if (options.secret === undefined || options.secret.length === 0) throw new TypeError('Mesh: `secret` is required');
    if (!options.name) throw new TypeError('Mesh: `name` is required');
    this.keyPair =
      options.keyPair ??
      (options.dataDir !== undefined ? loadOrCreateIdentity(options.dataDir) : DHT.keyPair());
    this.key = this.keyPair.publicKey.toString('hex');
    this.topic = options.topic ?? topicFor(options.secret);
    this.authKey = authKeyFor(options.secret);
    this.opts = meshConfig(options);
    this.log = (options.logger ?? pino({ level: 'warn' })).child({ mesh: short(this.key), name: options.name });
    this.clock = options.clock ?? { now: () => performance.now() };
    this.random = options.random ?? Math.random;
    this.timers = realTimers(this.clock);
    this.latency = new LatencyEmulator(options.delayMs, this.timers);
    this.revoked = new Set([...(options.revoked ?? [])].map((k) => k.toLowerCase()));
    this.vivaldi = new VivaldiClient({ config: options.vivaldi ?? {}, random: this.random });
    this.info = {
      name: options.name,
      httpAddress: options.httpAddress ?? null,
      site: options.site ?? null,
      capacity: options.capacity ?? null,
      seq: 1,
    };
    this.prober = new Prober({
      vivaldi: this.vivaldi,
      membership: {
        keys: () => [...this.memberMap.keys()],
        setCoordinate: (key, coordinate) => {
          const m = this.memberMap.get(key);
          if (m) m.coordinate = coordinate;
        },
      },
      call: (peerKey, method, payload, options) => this.request(peerKey, method, payload, options),
      timers: this.timers,
      random: this.random,
      log: this.log,
      probeIntervalMs: this.opts.probeIntervalMs,
      probesPerRound: this.opts.probesPerRound,
      probeTimeoutMs: this.opts.probeTimeoutMs,
      rttWindow: this.opts.rttWindow,
    });
    if (options.swarm) {
      this.swarm = options.swarm;
      this.ownsSwarm = false;
    } else {
      const host = options.host ?? DEFAULT_HOST;
      const dht = options.createDht
        ? options.createDht({ bootstrap: options.bootstrap, host, keyPair: this.keyPair })
        : new DHT({ bootstrap: options.bootstrap, host, keyPair: this.keyPair });
      this.swarm = new Hyperswarm({ keyPair: this.keyPair, dht });
      this.ownsSwarm = true;
    }
    this.swarm.on('connection', (conn, info) => this.onConnection(conn, info));
  }

  // ---------------------------------------------------------------- lifecycle

  /** Join the topic, announce and wait for the first discovery round. Idempotent. */
  start(): Promise<void> {
    if (this.closing) return Promise.reject(MeshError.CLOSED('mesh closed'));
    this.started ??= this.doStart();
    return this.started;
  }

  private async doStart(): Promise<void> {
    this.discovery = this.swarm.join(this.topic, { client: true, server: true });
    await this.discovery.flushed();
    if (this.closing) return;
    for (const at of this.opts.refreshScheduleMs) {
      this.later(at, () => {
        if (this.closing || !this.discovery) return;
        this.discovery.refresh({ client: true, server: true }).catch((err: unknown) => this.log.debug({ err }, 'refresh failed'));
      });
    }
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.opts.heartbeatMs);
    this.heartbeatTimer.unref();
    this.prober.start();
    this.log.info({ topic: this.topic.toString('hex').slice(0, 16) }, 'mesh started');
  }

  /** Resolves when the swarm has processed pending discovery and connections. */
  async flushed(): Promise<void> {
    await this.swarm.flush();
  }

  /** Graceful: stop timers, leave the topic, end channels (draining calls), destroy the swarm. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= this.shutdown(null);
    return this.closing;
  }

  /** Forceful: reject pending calls with `err` (or CLOSED), clear timers, destroy connections. */
  destroy(err?: Error): Promise<void> {
    this.closing ??= this.shutdown(err ?? MeshError.CLOSED('mesh destroyed'));
    return this.closing;
  }

  private async shutdown(err: Error | null): Promise<void> {
    this.clearTimers();
    const reason = err instanceof MeshError ? err : MeshError.CLOSED('mesh closed', err ?? undefined);
    if (err) for (const reject of [...this.pending]) reject(reason);
    await this.started?.catch(() => undefined);
    this.clearTimers();
    const links = [...this.links.values()];
    if (!err) {
      await Promise.race([
        Promise.allSettled(links.map((l) => l.rpc.end())),
        new Promise((resolve) => setTimeout(resolve, 1000).unref()),
      ]);
    }
    for (const reject of [...this.pending]) reject(reason);
    for (const l of links) {
      l.rpc.destroy(reason);
      l.conn.destroy();
    }
    if (this.ownsSwarm) {
      // Graceful (unannounce) within a bound, then forced: a forced destroy alone can leave native handles open.
      const graceful = this.swarm.destroy().then(
        () => true,
        () => true,
      );
      const done = await Promise.race([graceful, sleep(this.timers, DEFAULT_SWARM_DESTROY_GRACE_MS).then(() => false)]);
      if (!done) await this.swarm.destroy({ force: true }).catch(() => undefined);
    }
    else await this.swarm.leave(this.topic).catch(() => undefined);
    this.links.clear();
    this.memberMap.clear();
    this.log.info('mesh closed');
  }

  private clearTimers(): void {
    for (const t of this.refreshTimers) this.timers.clearTimer(t);
    this.refreshTimers.clear();
    for (const t of this.leaving.values()) clearTimeout(t);
    this.leaving.clear();
    for (const waiters of this.linkWaiters.values()) for (const w of waiters) w();
    this.linkWaiters.clear();
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    this.prober.stop();
  }

  private later(ms: number, fn: () => void): void {
    const t = this.timers.setTimer(ms, () => {
      this.refreshTimers.delete(t);
      fn();
    });
    this.refreshTimers.add(t);
  }

  // ---------------------------------------------------------------- view

  /** This node's own description (a copy). */
  self(): Member {
    const now = this.clock.now();
    return { key: this.key, ...this.info, coordinate: this.vivaldi.getCoordinate(), joinedAt: now, lastSeen: now };
  }

  /** Current members, this node excluded (copies). */
  members(): Member[] {
    return [...this.memberMap.values()].map(copyMember);
  }

  member(key: string): Member | undefined {
    const m = this.memberMap.get(key);
    return m ? copyMember(m) : undefined;
  }

  /** Resolve when at least `count` other members are known; rejects with TIMEOUT after `timeoutMs`. */
  waitForMembers(count: number, timeoutMs = 10_000): Promise<Member[]> {
    return this.waitFor(() => this.memberMap.size >= count, timeoutMs);
  }

  /** Resolve when `predicate` over the member list holds (checked on each membership event). */
  waitFor(predicate: (members: Member[]) => boolean, timeoutMs = 10_000): Promise<Member[]> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const list = this.members();
        if (predicate(list)) {
          cleanup();
          resolve(list);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(MeshError.TIMEOUT(timeoutMs));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('member-joined', check);
        this.off('member-left', check);
        this.off('member-updated', check);
      };
      this.on('member-joined', check);
      this.on('member-left', check);
      this.on('member-updated', check);
      check();
    });
  }

  /** Update what this node announces; members get it at once. */
  update(change: Partial<Pick<MemberInfo, 'name' | 'httpAddress' | 'site' | 'capacity'>>): void {
    this.info = { ...this.info, ...change, seq: this.info.seq + 1 };
    for (const link of this.links.values()) if (link.verified) this.sendEvent(link, EVENT_HELLO, this.helloPayload());
  }

  setCapacity(capacity: JsonValue): void {
    this.update({ capacity });
  }

  /** Refuse `key` from now on; an existing connection is dropped. */
  revoke(key: string): void {
    const k = key.toLowerCase();
    this.revoked.add(k);
    const link = this.links.get(k);
    if (link) {
      link.revoked = true;
      this.countRefused(k, 'revoked');
      link.conn.destroy(MeshError.UNAUTHORIZED('revoked', k));
    }
    if (!link && this.memberMap.has(k)) this.memberLost(k, 'revoked');
  }

  isRevoked(key: string): boolean {
    return this.revoked.has(key.toLowerCase());
  }

  stats(): MeshStats {
    return {
      ...this.counters,
      probes: this.prober.probes,
      connections: this.links.size,
      members: this.memberMap.size,
      vivaldiResets: this.vivaldi.getStats().resets,
    };
  }

  /** Median of the last RTT samples (ms) this node measured to `key`, if any. */
  measuredRtt(key: string): number | undefined {
    return this.prober.measuredRtt(key);
  }

  /**
   * Members (and this node, unless `includeSelf` is false) ranked nearest
   * first from `coordinate` (default: this node's, in which case this node's
   * own measured RTTs refine the shortlist — see nearest.ts). With
   * `measure`, shortlisted members without samples are pinged first.
   */
  async nearest(
    options: { coordinate?: Coordinate; includeSelf?: boolean; shortlist?: number; measure?: boolean; timeoutMs?: number } = {},
  ): Promise<RankedCandidate<Member>[]> {
    const own = options.coordinate === undefined;
    const from = options.coordinate ?? this.vivaldi.getCoordinate();
    const candidates = this.members();
    if (options.includeSelf !== false) candidates.push(this.self());
    const rank = (): RankedCandidate<Member>[] =>
      chooseNearest(
        from,
        candidates,
        own ? (k) => (k === this.key ? 0 : this.measuredRtt(k)) : undefined,
        options.shortlist !== undefined ? { shortlist: options.shortlist } : {},
      );
    let ranked = rank();
    if (own && options.measure) {
      const k = options.shortlist ?? ranked.length;
      const toMeasure = ranked
        .slice(0, k)
        .filter((r) => r.candidate.key !== this.key && r.measuredMs === undefined)
        .map((r) => r.candidate.key);
      await Promise.allSettled(toMeasure.map((key) => this.ping(key, { timeoutMs: options.timeoutMs ?? this.opts.probeTimeoutMs })));
      ranked = rank();
    }
    return ranked;
  }

  // ---------------------------------------------------------------- RPC

  /** Serve `method` (one handler per method; later calls replace it). Names starting with `mesh/` are reserved. */
  handle(method: string, handler: Handler): this {
    this.handlers.set(method, handler);
    return this;
  }

  unhandle(method: string): this {
    this.handlers.delete(method);
    return this;
  }

  /** Call `method` on member `peerKey`. Rejects with MeshError. */
  async request<T = JsonValue>(peerKey: string, method: string, payload: JsonValue, options: RequestOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.opts.requestTimeoutMs;
    const deadline = this.clock.now() + timeoutMs;
    const retries = options.idempotent ? (options.retries ?? this.opts.retries) : 0;
    for (let attempt = 0; ; attempt++) {
      try {
        return (await this.attempt(peerKey, method, payload, deadline, timeoutMs)) as T;
      } catch (err) {
        const e = err instanceof MeshError ? err : MeshError.CLOSED('call failed', err, peerKey);
        const left = deadline - this.clock.now();
        if (attempt >= retries || !e.retryable || left <= this.opts.retryDelayMs || this.closing) throw e;
        this.log.debug({ peer: short(peerKey), method, attempt, code: e.code }, 'retrying idempotent call');
        await sleep(this.timers, this.opts.retryDelayMs);
      }
    }
  }

  /**
   * Forward an HTTP request to member `peerKey` and return its response
   * unchanged. Idempotent methods are retried on a replaced connection.
   * Rejects with MeshError (map it with forwardErrorStatus).
   */
  async forward(peerKey: string, req: ForwardedRequest, options: { timeoutMs?: number } = {}): Promise<ForwardedResponse> {
    const via = [...(req.via ?? []), this.key];
    const reply = await this.request(peerKey, FORWARD_METHOD, encodeRequest({ ...req, via }), {
      timeoutMs: options.timeoutMs ?? DEFAULT_FORWARD_TIMEOUT_MS,
      idempotent: isIdempotentMethod(req.method),
    });
    return decodeResponse(reply);
  }

  /** Serve requests forwarded by other members (one handler; a later call replaces it). */
  serveForwarded(handler: ForwardHandler): this {
    return this.handle(FORWARD_METHOD, async (payload, fromKey) => {
      const req = decodeRequest(payload);
      if ((req.via?.length ?? 0) > MAX_FORWARD_HOPS) {
        throw Object.assign(new Error(`forwarded more than ${MAX_FORWARD_HOPS} times`), { code: 'LOOP' });
      }
      return encodeResponse(await handler(req, fromKey));
    });
  }

  /** Ping a member: measures the RTT (ms), feeds Vivaldi and the RTT filter. */
  async ping(peerKey: string, options: { timeoutMs?: number } = {}): Promise<number> {
    return this.prober.ping(peerKey, options.timeoutMs);
  }

  /**
   * Call `method` on every member (and locally unless includeSelf is false)
   * and collect what arrived by the deadline. Never rejects; members that
   * missed it are listed in `missing`.
   */
  gather<T = JsonValue>(method: string, payload: JsonValue, options: GatherOptions = {}): Promise<GatherResult<T>> {
    const scope: GatherScope = {
      self: { key: this.key, name: this.info.name },
      members: this.members(),
      handler: (m) => this.handlers.get(m),
      request: (peerKey, m, p, o) => this.request(peerKey, m, p, o),
    };
    return gather<T>(scope, method, payload, options.deadlineMs ?? this.opts.requestTimeoutMs, options.includeSelf !== false);
  }

  private async attempt(peerKey: string, method: string, payload: JsonValue, deadline: number, timeoutMs: number): Promise<JsonValue> {
    if (this.closing) throw MeshError.CLOSED('mesh closed', undefined, peerKey);
    if (peerKey === this.key) throw MeshError.UNREACHABLE(peerKey, new Error('request to self'));
    const body = encode({ m: method, v: payload });
    if (body.length > this.opts.maxMessageBytes) throw MeshError.TOO_LARGE(body.length, this.opts.maxMessageBytes, peerKey);
    if (this.pending.size >= DEFAULT_MAX_IN_FLIGHT) throw MeshError.UNREACHABLE(peerKey, new Error('too many calls in flight'));
    return new Promise<JsonValue>((resolve, reject) => {
      let done = false;
      const finish = (err: MeshError | null, value?: JsonValue): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.pending.delete(fail);
        if (err) reject(err);
        else resolve(value as JsonValue);
      };
      const fail = (err: MeshError): void => finish(err);
      const remaining = Math.max(0, deadline - this.clock.now());
      const timer = setTimeout(() => finish(MeshError.TIMEOUT(timeoutMs, peerKey)), remaining);
      this.pending.add(fail);
      void (async () => {
        const link = await this.readyLink(peerKey, deadline);
        if (done) return;
        await this.latency.wait(peerKey);
        if (done) return;
        if (link.closed || link.rpc.closed) return finish(MeshError.CLOSED('connection closed', undefined, peerKey));
        this.counters.requestsSent++;
        const raw = await link.rpc.request('call', body, { timeout: Math.max(1, deadline - this.clock.now()) });
        const reply = decode(raw) as Reply;
        if (reply.ok) return finish(null, reply.v);
        if (reply.code === 'NO_HANDLER') return finish(MeshError.NO_HANDLER(method, peerKey));
        if (reply.code === 'TOO_LARGE') return finish(new MeshError('TOO_LARGE', reply.message, { peer: peerKey, remoteCode: 'TOO_LARGE' }));
        finish(MeshError.REMOTE_ERROR(reply.message, reply.code, peerKey));
      })().catch((err: unknown) => {
        if (err instanceof MeshError) return finish(err);
        const code = (err as { code?: string })?.code;
        if (code === 'TIMEOUT_EXCEEDED') return finish(MeshError.TIMEOUT(timeoutMs, peerKey, err));
        finish(MeshError.CLOSED('connection closed during the call', err, peerKey));
      });
    });
  }

  /** The verified link to `peerKey`, waiting (bounded by `deadline`) while a replacement connection authenticates. */
  private async readyLink(peerKey: string, deadline: number): Promise<Link> {
    for (let i = 0; i < 10; i++) {
      const link = this.links.get(peerKey);
      if (!link) {
        if (!this.memberMap.has(peerKey)) throw MeshError.NOT_MEMBER(peerKey);
        if (!this.leaving.has(peerKey)) throw MeshError.UNREACHABLE(peerKey);
        // The connection is being replaced: wait for the new one (bounded by the deadline and the grace).
        const left = deadline - this.clock.now();
        if (left <= 0) throw MeshError.TIMEOUT(0, peerKey);
        await this.waitForLink(peerKey, left);
        continue;
      }
      if (link.verified && !link.closed) return link;
      const left = deadline - this.clock.now();
      if (left <= 0) throw MeshError.TIMEOUT(0, peerKey);
      const ok = await Promise.race([link.ready, sleep(this.timers, left).then(() => false)]);
      if (ok && !link.closed) return link;
      if (this.links.get(peerKey) === link) throw MeshError.UNREACHABLE(peerKey);
    }
    throw MeshError.UNREACHABLE(peerKey);
  }

  private waitForLink(key: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.linkWaiters.get(key);
      if (!set) {
        set = new Set();
        this.linkWaiters.set(key, set);
      }
      const waiters = set;
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      waiters.add(done);
    });
  }

  // ---------------------------------------------------------------- connections

  private onConnection(conn: SecretStream, info?: PeerInfo): void {
    const key = conn.remotePublicKey.toString('hex');
    conn.on('error', (err: Error) => this.log.debug({ err: err.message, peer: short(key) }, 'connection error'));
    if (this.closing) {
      conn.destroy();
      return;
    }
    if (this.revoked.has(key)) {
      this.countRefused(key, 'revoked');
      info?.ban(true);
      conn.destroy(MeshError.UNAUTHORIZED('revoked', key));
      return;
    }
    conn.setKeepAlive(this.opts.keepAliveMs);
    conn.setTimeout(this.opts.connectionTimeoutMs);
    void conn.opened.then((opened) => {
      if (!opened || conn.destroyed || this.closing) return;
      this.attach(key, conn, info);
    });
  }

  private attach(key: string, conn: SecretStream, info?: PeerInfo): void {
    const hash = conn.handshakeHash;
    if (!hash) {
      conn.destroy();
      return;
    }
    const proof = createProof(this.authKey, hash, this.keyPair.publicKey, conn.remotePublicKey);
    const rpc = new ProtomuxRPC(conn, { protocol: RPC_PROTOCOL, handshake: proof });
    const link = new Link(key, conn, rpc, info);
    const previous = this.links.get(key);
    this.links.set(key, link);
    if (previous && previous !== link) {
      this.log.debug({ peer: short(key) }, 'connection replaced');
      previous.closed = true;
      previous.resolveReady(false);
    }
    link.authTimer = setTimeout(() => {
      if (!link.verified) {
        this.countRefused(key, 'handshake timeout');
        conn.destroy(MeshError.UNAUTHORIZED('handshake timeout', key));
      }
    }, this.opts.authTimeoutMs);
    link.authTimer.unref();
    rpc.on('open', (remoteProof: Buffer | null) => this.onOpen(link, remoteProof));
    rpc.on('close', () => this.onLinkClosed(link));
    conn.once('close', () => this.onLinkClosed(link));
  }

  private onOpen(link: Link, remoteProof: Buffer | null): void {
    if (link.closed) return;
    const { conn, key } = link;
    const hash = conn.handshakeHash;
    if (!hash || !verifyProof(this.authKey, hash, conn.remotePublicKey, this.keyPair.publicKey, remoteProof)) {
      this.countRefused(key, 'bad cluster proof');
      // Do not let Hyperswarm retry a peer that cannot prove the secret.
      link.peerInfo?.ban(true);
      conn.destroy(MeshError.UNAUTHORIZED('bad cluster proof', key));
      return;
    }
    if (this.revoked.has(key)) {
      this.countRefused(key, 'revoked');
      conn.destroy(MeshError.UNAUTHORIZED('revoked', key));
      return;
    }
    link.verified = true;
    if (link.authTimer) clearTimeout(link.authTimer);
    link.rpc.respond('call', (raw) => this.onCall(link, raw));
    link.rpc.respond('event', (raw) => {
      this.onEvent(link, raw);
      return null;
    });
    link.resolveReady(true);
    const leave = this.leaving.get(key);
    if (leave) {
      clearTimeout(leave);
      this.leaving.delete(key);
      this.log.debug({ peer: short(key) }, 'connection replaced within the grace period');
    }
    const waiters = this.linkWaiters.get(key);
    if (waiters) {
      this.linkWaiters.delete(key);
      for (const w of waiters) w();
    }
    this.sendEvent(link, EVENT_HELLO, this.helloPayload());
  }

  private onLinkClosed(link: Link): void {
    if (link.authTimer) clearTimeout(link.authTimer);
    const wasCurrent = this.links.get(link.key) === link;
    if (link.closed && !wasCurrent) return;
    link.closed = true;
    link.resolveReady(false);
    if (!link.rpc.closed) link.rpc.destroy(MeshError.CLOSED('connection closed', undefined, link.key));
    if (!link.conn.destroyed) link.conn.destroy();
    if (!wasCurrent) return;
    this.links.delete(link.key);
    const waiters = this.linkWaiters.get(link.key);
    if (waiters) {
      this.linkWaiters.delete(link.key);
      for (const w of waiters) w();
    }
    if (!this.memberMap.has(link.key) || this.leaving.has(link.key)) return;
    if (this.closing || link.revoked || this.opts.reconnectGraceMs <= 0) {
      this.memberLost(link.key, link.revoked ? 'revoked' : 'connection closed');
      return;
    }
    const timer = setTimeout(() => {
      this.leaving.delete(link.key);
      const current = this.links.get(link.key);
      if (!current || !current.verified) this.memberLost(link.key, 'connection closed');
    }, this.opts.reconnectGraceMs);
    timer.unref();
    this.leaving.set(link.key, timer);
  }

  private memberLost(key: string, reason: string): void {
    const member = this.memberMap.get(key);
    if (!member) return;
    const link = this.links.get(key);
    if (link && !link.verified) {
      link.conn.destroy();
      this.links.delete(key);
    }
    this.memberMap.delete(key);
    this.vivaldi.forgetNode(key);
    this.prober.forget(key);
    this.log.info({ peer: short(key), name: member.name, reason }, 'member left');
    this.emit('member-left', copyMember(member), reason);
  }

  private countRefused(key: string, reason: string): void {
    this.counters.refused++;
    this.log.warn({ peer: short(key), reason }, 'peer refused');
    this.emit('refused', { key, reason });
  }

  private helloPayload(): JsonValue {
    return { info: this.info as unknown as JsonValue, c: coordToJson(this.vivaldi.getCoordinate()) };
  }

  private sendEvent(link: Link, method: string, payload: JsonValue): void {
    const body = encode({ m: method, v: payload });
    const send = (): void => {
      if (link.closed || link.rpc.closed) return;
      try {
        link.rpc.event('event', body);
      } catch (err) {
        this.log.debug({ err, peer: short(link.key) }, 'event not sent');
      }
    };
    this.latency.defer(link.key, send);
  }

  private onEvent(link: Link, raw: Buffer | null): void {
    if (!link.verified || link.closed || !raw || raw.length > this.opts.maxMessageBytes) return;
    let env: Envelope;
    try {
      env = decode(raw) as unknown as Envelope;
    } catch {
      return;
    }
    const now = this.clock.now();
    const v = (env.v ?? {}) as { info?: MemberInfo; c?: JsonValue };
    const coord = coordFromJson(v.c);
    if (env.m === EVENT_HELLO && v.info && typeof v.info.name === 'string') {
      const existing = this.memberMap.get(link.key);
      const info = sanitizeInfo(v.info);
      if (!existing) {
        const member: Member = { key: link.key, ...info, coordinate: coord, joinedAt: now, lastSeen: now };
        this.memberMap.set(link.key, member);
        this.log.info({ peer: short(link.key), name: info.name }, 'member joined');
        this.emit('member-joined', copyMember(member));
      } else {
        existing.lastSeen = now;
        if (coord) existing.coordinate = coord;
        if (info.seq !== existing.seq || info.name !== existing.name) {
          Object.assign(existing, info);
          this.emit('member-updated', copyMember(existing));
        }
      }
    } else if (env.m === EVENT_HEARTBEAT) {
      const existing = this.memberMap.get(link.key);
      if (existing) {
        existing.lastSeen = now;
        if (coord) existing.coordinate = coord;
      }
    }
  }

  private async onCall(link: Link, raw: Buffer | null): Promise<Buffer> {
    const reply = await this.serve(link, raw);
    let out = encode(reply);
    if (out.length > this.opts.maxMessageBytes) {
      out = encode({ ok: false, code: 'TOO_LARGE', message: `reply of ${out.length} bytes exceeds ${this.opts.maxMessageBytes}` });
    }
    await this.latency.wait(link.key);
    return out;
  }

  private async serve(link: Link, raw: Buffer | null): Promise<Reply> {
    if (!link.verified) return { ok: false, code: 'UNAUTHORIZED', message: 'not authenticated' };
    if (!raw) return { ok: false, code: 'BAD_MESSAGE', message: 'empty request' };
    if (raw.length > this.opts.maxMessageBytes) {
      return { ok: false, code: 'TOO_LARGE', message: `request of ${raw.length} bytes exceeds ${this.opts.maxMessageBytes}` };
    }
    let env: Envelope;
    try {
      env = decode(raw) as unknown as Envelope;
    } catch (err) {
      return { ok: false, code: 'BAD_MESSAGE', message: (err as Error).message };
    }
    this.counters.requestsServed++;
    const member = this.memberMap.get(link.key);
    if (member) member.lastSeen = this.clock.now();
    if (env.m === METHOD_PING) return { ok: true, v: this.prober.answer(env.v, link.key) };
    const handler = this.handlers.get(env.m);
    if (!handler) return { ok: false, code: 'NO_HANDLER', message: `no handler for ${env.m}` };
    try {
      const v = await handler(env.v, link.key);
      return { ok: true, v: v === undefined ? null : v };
    } catch (err) {
      const e = err as { message?: string; code?: unknown };
      return { ok: false, code: typeof e?.code === 'string' ? e.code : 'ERROR', message: String(e?.message ?? err) };
    }
  }

  // ---------------------------------------------------------------- liveness

  private heartbeat(): void {
    if (this.closing) return;
    const now = this.clock.now();
    const payload: JsonValue = { c: coordToJson(this.vivaldi.getCoordinate()) };
    for (const link of this.links.values()) {
      if (!link.verified) continue;
      const member = this.memberMap.get(link.key);
      if (member && now - member.lastSeen > this.opts.heartbeatTimeoutMs) {
        this.log.info({ peer: short(link.key) }, 'heartbeat timeout');
        link.conn.destroy(MeshError.TIMEOUT(this.opts.heartbeatTimeoutMs, link.key));
        continue;
      }
      this.sendEvent(link, EVENT_HEARTBEAT, payload);
    }
  }
}

// ---------------------------------------------------------------- helpers

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
