/** Links: the authenticated connections to peers, admitted by the cluster-secret handshake. */
/*
 * - Admission: on each connection both ends prove knowledge of the secret
 *   (see auth.ts) in the handshake of the RPC channel, beside the protocol
 *   versions they speak (protocol-version.ts). Nothing is served before the
 *   proof checks and a version is chosen; a wrong proof, a revoked key or no
 *   common version destroys the connection and is counted (`refused`) and logged.
 * - Duplicate connections: links are keyed by the remote public key; a new
 *   connection replaces the old link, and callers waiting for a link to that
 *   key are woken when the new one is verified.
 * - Calls and events travel as protomux-rpc messages, one method name each;
 *   the RPC server serves them on a verified link (`LinkListener.serve`).
 */
import type { KeyPair } from 'hyperdht';
import type { PeerInfo, SecretStream } from 'hyperswarm';
import type { Logger } from 'pino';
import c from 'compact-encoding';
import ProtomuxRPC from 'protomux-rpc';
import { createProof, verifyProof } from './auth.js';
import { sleep, type MeshTimers, type TimerHandle } from './clock.js';
import type { MeshConfig } from './config.js';
import { MeshError, short } from './errors.js';
import type { LatencyEmulator } from './latency.js';
import { chooseVersion, decodeHandshake, encodeHandshake, LEGACY_RPC_PROTOCOL, PROTOCOL_VERSIONS, RPC_PROTOCOL } from './protocol-version.js';
import type { Codec } from './rpc-codecs.js';

const RAW = { valueEncoding: c.raw };
/** How long `drain()` lets open channels finish their calls before they are destroyed. */
export const CHANNEL_DRAIN_GRACE_MS = 1000;

/** One authenticated (or authenticating) connection to a peer. */
export class Link {
  verified = false;
  /** The protocol version chosen with the peer (set when verified). */
  version = 0;
  closed = false;
  revoked = false;
  readonly ready: Promise<boolean>;
  resolveReady!: (ok: boolean) => void;
  authTimer: TimerHandle | null = null;

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

/** What the links report to the layers above them (membership, the RPC server). */
export interface LinkListener {
  /** A connection passed the handshake: the peer proved the cluster secret. */
  linkUp(key: string): void;
  /** The current connection to `key` closed; `revoked` when it was closed because the key was revoked. */
  linkDown(key: string, revoked: boolean): void;
  /** A peer was refused (bad proof, revoked key, handshake timeout). */
  refused(key: string, reason: string): void;
  /** A link was verified: serve the mesh's methods on its channel. */
  serve(key: string, rpc: ProtomuxRPC): void;
}

export interface LinkTableOptions extends Pick<MeshConfig, 'keepAliveMs' | 'connectionTimeoutMs' | 'authTimeoutMs'> {
  keyPair: KeyPair;
  /** HMAC key derived from the cluster secret (auth.ts). */
  authKey: Buffer;
  /** Keys (hex, lower case) refused at handshake. */
  revoked: Iterable<string>;
  /** The protocol versions this node offers, ascending (default: all this build speaks). */
  versions?: readonly number[] | undefined;
  latency: LatencyEmulator;
  timers: MeshTimers;
  log: Logger;
  listener: LinkListener;
}

/** The links by remote key (hex, lower case). Serves membership as its transport. */
export class LinkTable {
  /** Connections refused so far. */
  refusedCount = 0;
  private readonly links = new Map<string, Link>();
  /** Callers waiting for a verified link to a key. */
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly revoked: Set<string>;
  private readonly versions: readonly number[];
  private closing = false;

  constructor(private readonly opts: LinkTableOptions) {
    this.revoked = new Set(opts.revoked);
    this.versions = opts.versions ?? PROTOCOL_VERSIONS;
  }

  get size(): number {
    return this.links.size;
  }

  get(key: string): Link | undefined {
    return this.links.get(key);
  }

  /** Keys of the peers whose current link is verified. */
  *connectedPeers(): Iterable<string> {
    for (const link of this.links.values()) if (link.verified) yield link.key;
  }

  isConnected(key: string): boolean {
    return this.links.get(key)?.verified === true;
  }

  /** The protocol version chosen with `key`, if its link is verified. */
  versionOf(key: string): number | undefined {
    const link = this.links.get(key);
    return link?.verified ? link.version : undefined;
  }

  /** Sends the event `method` to `key` (after the emulated delay); lost if the link closes meanwhile. */
  send<T>(key: string, method: string, codec: Codec<T>, payload: T): void {
    const link = this.links.get(key);
    if (!link) return;
    const body = codec.encode(payload);
    this.opts.latency.defer(key, () => {
      if (link.closed || link.rpc.closed) return;
      try {
        link.rpc.event(method, body, RAW);
      } catch (err) {
        this.opts.log.debug({ err, peer: short(key) }, 'event not sent');
      }
    });
  }

  /** Sends `frame` to `key` as a datagram, after the emulated delay (as every message is): unreliable, lost on the way or if the link closes meanwhile. */
  sendDatagram(key: string, frame: Buffer): void {
    const link = this.links.get(key);
    if (!link) return;
    this.opts.latency.defer(key, () => {
      if (!link.closed) link.conn.trySend(frame);
    });
  }

  /** Drops the connection to `key`. */
  disconnect(key: string, reason: Error): void {
    this.links.get(key)?.conn.destroy(reason);
  }

  isRevoked(key: string): boolean {
    return this.revoked.has(key);
  }

  /** Refuses `key` from now on and drops its connection; false when it had none. */
  revoke(key: string): boolean {
    this.revoked.add(key);
    const link = this.links.get(key);
    if (!link) return false;
    link.revoked = true;
    this.refuse(key, 'revoked');
    link.conn.destroy(MeshError.UNAUTHORIZED('revoked', key));
    return true;
  }

  /** Forgets a link to `key` still in its handshake (the member it would have served is gone). */
  dropUnverified(key: string): void {
    const link = this.links.get(key);
    if (!link || link.verified) return;
    link.conn.destroy();
    this.links.delete(key);
  }

  /** Resolves when a link to `key` is verified or closed, or after `ms`. */
  waitFor(key: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(key);
      if (!set) {
        set = new Set();
        this.waiters.set(key, set);
      }
      const waiters = set;
      const done = (): void => {
        this.opts.timers.clearTimer(timer);
        waiters.delete(done);
        resolve();
      };
      const timer = this.opts.timers.setTimer(ms, done);
      waiters.add(done);
    });
  }

  /** A new connection from the swarm: refused at once when revoked, admitted once its proof checks. */
  accept(conn: SecretStream, info?: PeerInfo): void {
    const key = conn.remotePublicKey.toString('hex');
    conn.on('error', (err: Error) => this.opts.log.debug({ err: err.message, peer: short(key) }, 'connection error'));
    if (this.closing) {
      conn.destroy();
      return;
    }
    if (this.revoked.has(key)) {
      this.refuse(key, 'revoked');
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

  /** Accepts no more connections and wakes every waiting caller. Safe to call twice. */
  stop(): void {
    this.closing = true;
    for (const waiters of this.waiters.values()) for (const w of waiters) w();
    this.waiters.clear();
  }

  /** Ends every channel, letting the calls in flight finish, for at most `CHANNEL_DRAIN_GRACE_MS`. */
  async drain(): Promise<void> {
    await Promise.race([
      Promise.allSettled([...this.links.values()].map((l) => l.rpc.end())),
      sleep(this.opts.timers, CHANNEL_DRAIN_GRACE_MS),
    ]);
  }

  /** Destroys every channel (pending calls fail with `reason`) and connection. */
  destroyAll(reason: Error): void {
    for (const link of [...this.links.values()]) {
      link.rpc.destroy(reason);
      link.conn.destroy();
    }
  }

  clear(): void {
    this.links.clear();
  }

  private attach(key: string, conn: SecretStream, info?: PeerInfo): void {
    const hash = conn.handshakeHash;
    if (!hash) {
      conn.destroy();
      return;
    }
    const proof = createProof(this.opts.authKey, hash, this.opts.keyPair.publicKey, conn.remotePublicKey);
    const handshake = encodeHandshake({ proof, versions: [...this.versions] });
    const rpc = new ProtomuxRPC(conn, { protocol: RPC_PROTOCOL, handshake, handshakeEncoding: c.raw });
    // A peer of an earlier build opens only the channel of version 1: refused by name, not left to time out.
    rpc.mux.pair({ protocol: LEGACY_RPC_PROTOCOL }, () => this.refuseVersion(key, conn, [1]));
    const link = new Link(key, conn, rpc, info);
    const previous = this.links.get(key);
    this.links.set(key, link);
    if (previous && previous !== link) {
      this.opts.log.debug({ peer: short(key) }, 'connection replaced');
      previous.closed = true;
      previous.resolveReady(false);
    }
    link.authTimer = this.opts.timers.setTimer(this.opts.authTimeoutMs, () => {
      if (!link.verified) {
        this.refuse(key, 'handshake timeout');
        conn.destroy(MeshError.UNAUTHORIZED('handshake timeout', key));
      }
    });
    rpc.on('open', (remoteProof: Buffer | null) => this.onOpen(link, remoteProof));
    rpc.on('close', () => this.onClosed(link));
    conn.once('close', () => this.onClosed(link));
  }

  private onOpen(link: Link, raw: Buffer | null): void {
    if (link.closed) return;
    const { conn, key } = link;
    const hash = conn.handshakeHash;
    let remote: { proof: Buffer | null; versions: number[] } = { proof: null, versions: [] };
    try {
      remote = decodeHandshake(raw);
    } catch {
      // A malformed handshake proves nothing.
    }
    if (!hash || !verifyProof(this.opts.authKey, hash, conn.remotePublicKey, this.opts.keyPair.publicKey, remote.proof)) {
      this.refuse(key, 'bad cluster proof');
      // Do not let Hyperswarm retry a peer that cannot prove the secret.
      link.peerInfo?.ban(true);
      conn.destroy(MeshError.UNAUTHORIZED('bad cluster proof', key));
      return;
    }
    if (this.revoked.has(key)) {
      this.refuse(key, 'revoked');
      conn.destroy(MeshError.UNAUTHORIZED('revoked', key));
      return;
    }
    const version = chooseVersion(this.versions, remote.versions);
    if (version === null) return this.refuseVersion(key, conn, remote.versions);
    link.verified = true;
    link.version = version;
    if (link.authTimer) this.opts.timers.clearTimer(link.authTimer);
    this.opts.listener.serve(key, link.rpc);
    link.resolveReady(true);
    this.wake(key);
    this.opts.listener.linkUp(key);
  }

  private onClosed(link: Link): void {
    if (link.authTimer) this.opts.timers.clearTimer(link.authTimer);
    const wasCurrent = this.links.get(link.key) === link;
    if (link.closed && !wasCurrent) return;
    link.closed = true;
    link.resolveReady(false);
    if (!link.rpc.closed) link.rpc.destroy(MeshError.CLOSED('connection closed', undefined, link.key));
    if (!link.conn.destroyed) link.conn.destroy();
    if (!wasCurrent) return;
    this.links.delete(link.key);
    this.wake(link.key);
    this.opts.listener.linkDown(link.key, link.revoked);
  }

  private wake(key: string): void {
    const waiters = this.waiters.get(key);
    if (!waiters) return;
    this.waiters.delete(key);
    for (const w of waiters) w();
  }

  /** Refuses a peer that speaks none of this node's protocol versions (not banned: it may be upgraded). */
  private refuseVersion(key: string, conn: SecretStream, theirs: readonly number[]): void {
    this.refuse(key, `no common protocol version (this node speaks ${this.versions.join(', ')}; the peer ${theirs.join(', ') || 'none'})`);
    conn.destroy(MeshError.UNAUTHORIZED('no common protocol version', key));
  }

  private refuse(key: string, reason: string): void {
    this.refusedCount++;
    this.opts.log.warn({ peer: short(key), reason }, 'peer refused');
    this.opts.listener.refused(key, reason);
  }
}
