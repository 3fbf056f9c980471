/** The mesh: membership and RPC over Hyperswarm, one facade over the modules beside it. */
/*
 * Identity: a persistent Ed25519 key pair (`dataDir`) or an injected one. The parts:
 * discovery.ts (the swarm and the cluster topic), links.ts (admission by the cluster-secret
 * handshake and the protocol version, duplicate connections), membership.ts (members, liveness,
 * loss detection), rpc.ts (calls, retries of idempotent ones on a replaced connection) with
 * call-policy.ts (backoff, a breaker per member), rpc-server.ts (one protomux-rpc method per mesh
 * method), rpc-codecs.ts (payloads), forwarding.ts (HTTP requests, bodies in chunks), gather.ts
 * (scatter-gather), probing.ts (RTTs, Vivaldi), latency.ts (delays), config.ts (settings).
 * Membership is `full` (membership.ts) or `overlay` (overlay-membership.ts: bounded views, SWIM,
 * links on demand, the ring directory), chosen by the `membership` option (membership-mode.ts).
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import DHT, { type KeyPair } from 'hyperdht';
import type Hyperswarm from 'hyperswarm';
import { pino, type Logger } from 'pino';
import { authKeyFor, topicFor } from './auth.js';
import { realTimers, type Clock, type MeshTimers } from './clock.js';
import { meshConfig, type MeshConfig } from './config.js';
import { Discovery, type DiscoveryOptions } from './discovery.js';
import { MeshError, short } from './errors.js';
import { gather, type GatherOptions, type GatherResult, type GatherScope } from './gather.js';
import { Forwarding, type ForwardOptions } from './forwarding.js';
import { DEFAULT_FORWARD_TIMEOUT_MS, type ForwardedRequest as Req, type ForwardedResponse as Res, type ForwardHandler } from './http-forwarding.js';
import { loadOrCreateIdentity } from './identity.js';
import { LatencyEmulator, type DelayFunction } from './latency.js';
import { LinkTable, type LinkListener } from './links.js';
import { waitForMembers } from './membership-events.js';
import { membershipMode, overlayConfigOf, swarmOptionsOf, type MembershipMode } from './membership-mode.js';
import type { Member, MemberInfo, MembershipEvents } from './membership.js';
import { chooseNearest, type RankedCandidate } from './nearest.js';
import type { OverlayConfig } from './overlay/config.js';
import type { OverlayDirectory } from './records/record-directory.js';
import { PING, Prober, type PingMessage } from './probing.js';
import { RpcClient, type RequestOptions } from './rpc.js';
import { RpcServer, type Handler } from './rpc-server.js';
import { VivaldiClient } from './vivaldi/client.js';
import type { VivaldiConfig } from './vivaldi/config.js';
import type { Coordinate, RandomSource } from './vivaldi/coordinate.js';
import type { JsonValue } from './wire.js';

export * from './config.js';
export type { Clock } from './clock.js';
export type { GatherOptions, GatherResult } from './gather.js';
export type { Member, MemberInfo } from './membership.js';
export type { OverlayDirectory } from './records/record-directory.js';
export type { RequestOptions } from './rpc.js';
export type { Handler } from './rpc-server.js';
export { coordToJson, type JsonValue } from './wire.js';

export interface MeshOptions extends Partial<MeshConfig>, Pick<DiscoveryOptions, 'bootstrap' | 'host' | 'createDht' | 'swarm'> {
  /** Cluster secret: the topic is derived from it and peers must prove it. */
  secret: string | Buffer;
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
  /** Protocol versions offered in the handshake, ascending (default: every version this build speaks). */
  protocolVersions?: readonly number[];
  /** Override the topic (default: topicFor(secret)). */
  topic?: Buffer;
  /** Delay (ms) applied to every message written to a peer: half the RTT to emulate. */
  delayMs?: DelayFunction;
  vivaldi?: Partial<VivaldiConfig>;
  /** The overlay's settings in `membership: 'overlay'` (default LAN_OVERLAY). */
  overlay?: Partial<OverlayConfig>;
  logger?: Logger;
  clock?: Clock;
  random?: RandomSource;
}

export interface MeshStats {
  refused: number;
  connections: number;
  members: number;
  requestsSent: number;
  requestsServed: number;
  probes: number;
  vivaldiResets: number;
  /** Overlay mode: links admitted by the overlay (its bound), the overlay's messages sent and received, and the bytes sent (`messageBytes`). */
  overlay?: { links: number; sent: number; received: number; bytesSent: number };
}

export interface MeshEvents extends MembershipEvents {
  refused: [{ key: string; reason: string }];
}

export class Mesh extends EventEmitter<MeshEvents> {
  readonly keyPair: KeyPair;
  /** Hex public key of this node. */
  readonly key: string;
  readonly topic: Buffer;
  readonly vivaldi: VivaldiClient;
  private readonly opts: MeshConfig;
  private readonly discovery: Discovery;
  /** The discovery's swarm (tests reach into its connections). */
  private readonly swarm: Hyperswarm;
  private readonly log: Logger;
  private readonly timers: MeshTimers;
  private readonly links: LinkTable;
  private readonly mode: MembershipMode;
  private readonly membership: MembershipMode['members'];
  private readonly client: RpcClient;
  private readonly server: RpcServer;
  private readonly prober: Prober;
  private readonly forwarding: Forwarding;
  private started: Promise<void> | null = null;
  private closing: Promise<void> | null = null;

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
    const opts = meshConfig(options);
    const log = (options.logger ?? pino({ level: 'warn' })).child({ mesh: short(this.key), name: options.name });
    const timers = realTimers(options.clock ?? { now: () => performance.now() });
    this.opts = opts;
    this.log = log;
    this.timers = timers;
    const random = options.random ?? Math.random;
    const latency = new LatencyEmulator(options.delayMs, timers);
    this.vivaldi = new VivaldiClient({ config: options.vivaldi ?? {}, random });
    const overlay = overlayConfigOf(options.overlay);
    this.discovery = new Discovery({ ...options, ...opts, ...swarmOptionsOf(opts.membership, overlay), keyPair: this.keyPair, topic: this.topic, timers, log });
    this.swarm = this.discovery.swarm;
    this.links = new LinkTable({
      ...opts,
      keyPair: this.keyPair,
      authKey: authKeyFor(options.secret),
      revoked: [...(options.revoked ?? [])].map((k) => k.toLowerCase()),
      versions: options.protocolVersions,
      latency,
      timers,
      log,
      listener: this.linkListener(),
    });
    this.server = new RpcServer({ ...opts, membership: { touch: (k) => this.membership.touch(k) }, latency });
    const info = { name: options.name, httpAddress: options.httpAddress ?? null, site: options.site ?? null, capacity: options.capacity ?? null, seq: 1 };
    const { links, discovery, server, vivaldi } = this;
    this.mode = membershipMode({ opts, overlay, selfKey: this.key, info, links, discovery, server, vivaldi, timers, random, log });
    this.membership = this.mode.members;
    this.client = new RpcClient({ ...opts, selfKey: this.key, links: this.links, membership: this.membership, latency, timers, log });
    const call = (peerKey: string, ping: PingMessage, o: RequestOptions): Promise<PingMessage> => this.client.call(peerKey, PING, ping, o);
    this.prober = new Prober({ ...opts, vivaldi: this.vivaldi, membership: this.membership, call, timers, random, log });
    this.server.serve(PING, (ping, fromKey) => this.prober.answer(ping, fromKey));
    this.forwarding = new Forwarding({ ...opts, selfKey: this.key, client: this.client, server: this.server, timers });
    this.relayMembership();
    this.swarm.on('connection', (conn, info) => this.links.accept(conn, info));
  }

  // ---------------------------------------------------------------- lifecycle

  /** Join the topic, announce and wait for the first discovery round. Idempotent. */
  start(): Promise<void> {
    if (this.closing) return Promise.reject(MeshError.CLOSED('mesh closed'));
    this.started ??= this.doStart();
    return this.started;
  }

  private async doStart(): Promise<void> {
    await this.discovery.join();
    if (this.closing) return;
    // In overlay mode the overlay's probes measure the RTTs and move the coordinate.
    if (this.mode.overlay) return this.mode.overlay.join();
    this.mode.full?.start();
    this.prober.start();
    this.log.info({ topic: this.topic.toString('hex').slice(0, 16) }, 'mesh started');
  }

  /** Resolves when the swarm has processed pending discovery and connections. */
  async flushed(): Promise<void> {
    await this.discovery.flushed();
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
    // Gracefully, overlay neighbours hear that this node leaves (written out before the channels end).
    if (!err) await this.mode.overlay?.leave();
    this.stopParts();
    const reason = err instanceof MeshError ? err : MeshError.CLOSED('mesh closed', err ?? undefined);
    if (err) this.client.rejectPending(reason);
    await this.started?.catch(() => undefined);
    // Again: calls made while the start was awaited may wait for links.
    this.stopParts();
    if (!err) await this.links.drain();
    this.client.rejectPending(reason);
    this.links.destroyAll(reason);
    await this.discovery.close();
    this.links.clear();
    this.membership.clear();
    this.forwarding.stop();
    this.log.info('mesh closed');
  }

  /** Stops every timer and refuses new connections and calls. */
  private stopParts(): void {
    this.discovery.stop();
    this.links.stop();
    this.membership.stop();
    this.prober.stop();
    this.client.stop();
  }

  /** The links report to membership (handshakes, closes, events) and to the RPC server (calls). */
  private linkListener(): LinkListener {
    return {
      linkUp: (key) => {
        this.client.forgetFailures(key);
        this.mode.linkUp(key);
      },
      linkDown: (key, revoked) => this.mode.linkDown(key, revoked),
      refused: (key, reason) => this.emit('refused', { key, reason }),
      serve: (key, rpc) => this.server.attach(rpc, key),
    };
  }

  /** Membership events are the mesh's; a lost member's link, coordinate, samples and failures are forgotten first. */
  private relayMembership(): void {
    // Rediscovery of lost members is the full mode's (the overlay dials whom it needs).
    const full = this.mode.full !== null;
    this.membership.on('member-joined', (m) => (full && this.discovery.found(m.key), this.emit('member-joined', m)));
    this.membership.on('member-updated', (m) => this.emit('member-updated', m));
    this.membership.on('member-left', (m, reason) => {
      this.links.dropUnverified(m.key);
      this.vivaldi.forgetNode(m.key);
      this.prober.forget(m.key);
      this.client.forgetFailures(m.key);
      if (reason !== 'revoked' && full) this.discovery.lost(m.key);
      this.emit('member-left', m, reason);
    });
  }

  // ---------------------------------------------------------------- view

  /** This node's own description (a copy). */
  self(): Member {
    const now = this.timers.now();
    return { key: this.key, ...this.membership.info, coordinate: this.vivaldi.getCoordinate(), joinedAt: now, lastSeen: now };
  }

  /** Current members, this node excluded (copies). */
  members(): Member[] {
    return this.membership.list();
  }

  member(key: string): Member | undefined {
    return this.membership.get(key);
  }

  /** Resolve when at least `count` other members are known; rejects with TIMEOUT after `timeoutMs`. */
  waitForMembers(count: number, timeoutMs = 10_000): Promise<Member[]> {
    return this.waitFor(() => this.membership.size >= count, timeoutMs);
  }

  /** Resolve when `predicate` over the member list holds (checked on each membership event). */
  waitFor(predicate: (members: Member[]) => boolean, timeoutMs = 10_000): Promise<Member[]> {
    return waitForMembers(this, () => this.members(), predicate, timeoutMs);
  }

  /** Update what this node announces; members get it at once. */
  update(change: Partial<Pick<MemberInfo, 'name' | 'httpAddress' | 'site' | 'capacity'>>): void {
    this.membership.update(change);
  }

  setCapacity(capacity: JsonValue): void {
    this.update({ capacity });
  }

  /** Refuse `key` from now on; an existing connection is dropped. */
  revoke(key: string): void {
    const k = key.toLowerCase();
    if (!this.links.revoke(k) && this.mode.full?.has(k)) this.mode.full.lose(k, 'revoked');
    this.mode.overlay?.revoke(k);
  }

  isRevoked(key: string): boolean {
    return this.links.isRevoked(key.toLowerCase());
  }

  stats(): MeshStats {
    return {
      refused: this.links.refusedCount,
      requestsSent: this.client.requestsSent,
      requestsServed: this.server.requestsServed,
      probes: this.prober.probes,
      connections: this.links.size,
      members: this.membership.size,
      vivaldiResets: this.vivaldi.getStats().resets,
      ...(this.mode.transport ? { overlay: { links: this.mode.transport.linkCount(), sent: this.mode.transport.sent, received: this.mode.transport.received, bytesSent: this.mode.transport.bytesSent } } : {}),
    };
  }

  /** Median of the last RTT samples (ms) this node measured to `key`, if any. */
  measuredRtt(key: string): number | undefined {
    return this.mode.overlay ? this.mode.overlay.measuredRtt(key) : this.prober.measuredRtt(key);
  }

  /**
   * Members (and this node, unless `includeSelf` is false) ranked nearest first from `coordinate`;
   * from this node's own, its measured RTTs refine the shortlist, pinging first with `measure`.
   */
  async nearest(
    options: { coordinate?: Coordinate; includeSelf?: boolean; shortlist?: number; measure?: boolean; timeoutMs?: number } = {},
  ): Promise<RankedCandidate<Member>[]> {
    const candidates = this.members();
    if (options.includeSelf !== false) candidates.push(this.self());
    const shortlist = options.shortlist !== undefined ? { shortlist: options.shortlist } : {};
    if (options.coordinate !== undefined) return chooseNearest(options.coordinate, candidates, undefined, shortlist);
    // Overlay mode: the table's coordinates, refined by the RTTs the overlay's probes measured.
    if (this.mode.overlay) return chooseNearest(this.vivaldi.getCoordinate(), candidates, (k) => (k === this.key ? 0 : this.measuredRtt(k)), shortlist);
    return this.prober.rankFromHere(this.key, candidates, options);
  }

  // ---------------------------------------------------------------- RPC

  /** Serve the JSON method `method` (a later call replaces it), requests checked against `schema` if given; `mesh/…` methods are the mesh's. */
  handle(method: string, handler: Handler, schema?: object): this {
    this.server.handle(method, handler, schema);
    return this;
  }

  unhandle(method: string): this {
    this.server.unhandle(method);
    return this;
  }

  /** Call `method` on member `peerKey`. Rejects with MeshError. */
  request<T = JsonValue>(peerKey: string, method: string, payload: JsonValue, options: RequestOptions = {}): Promise<T> {
    return this.reaching(peerKey, options.timeoutMs, (timeoutMs) => this.client.request<T>(peerKey, method, payload, { ...options, timeoutMs }));
  }

  /** The ring directory (overlay mode): records put by members, found from any node in a bounded number of hops. */
  directory(): OverlayDirectory {
    if (!this.mode.overlay) throw new TypeError("Mesh: the directory needs `membership: 'overlay'`");
    return this.mode.overlay.directory;
  }

  /** Runs `call` within `timeoutMs`; in overlay mode a member not linked is dialled first, within the same deadline. */
  private reaching<T>(peerKey: string, timeoutMs = this.opts.requestTimeoutMs, call: (timeoutMs: number) => Promise<T>): Promise<T> {
    return this.mode.overlay && peerKey !== this.key ? this.mode.overlay.callVia(peerKey, timeoutMs, call) : call(timeoutMs);
  }

  /** Forward an HTTP request to member `peerKey`; its response comes back unchanged. Rejects with MeshError (see forwardErrorStatus). */
  forward(peerKey: string, req: Req, options: ForwardOptions = {}): Promise<Res> {
    return this.reaching(peerKey, options.timeoutMs ?? DEFAULT_FORWARD_TIMEOUT_MS, (timeoutMs) => this.forwarding.forward(peerKey, req, { ...options, timeoutMs }));
  }

  /** Serve requests forwarded by other members (one handler; a later call replaces it). */
  serveForwarded(handler: ForwardHandler): this {
    this.forwarding.serve(handler);
    return this;
  }

  /** The protocol version chosen with member `key` in the handshake of its connection. */
  protocolVersion(key: string): number | undefined {
    return this.links.versionOf(key);
  }

  /** Ping a member: measures the RTT (ms), feeds Vivaldi and the RTT filter. */
  ping(peerKey: string, options: { timeoutMs?: number } = {}): Promise<number> {
    return this.reaching(peerKey, options.timeoutMs ?? this.opts.probeTimeoutMs, (timeoutMs) => this.prober.ping(peerKey, timeoutMs));
  }

  /** Call `method` on every member (and locally unless includeSelf is false); never rejects, lists who missed the deadline. */
  gather<T = JsonValue>(method: string, payload: JsonValue, options: GatherOptions = {}): Promise<GatherResult<T>> {
    const scope: GatherScope = {
      self: { key: this.key, name: this.membership.info.name },
      members: options.only ? [...new Set(options.only)].filter((k) => k !== this.key).map((key) => ({ key, name: this.member(key)?.name ?? key.slice(0, 8) })) : this.members(),
      handler: (m) => this.server.handler(m),
      request: (peerKey, m, p, o) => this.request(peerKey, m, p, o),
    };
    return gather<T>(scope, method, payload, options.deadlineMs ?? this.opts.requestTimeoutMs, options.includeSelf !== false);
  }
}
