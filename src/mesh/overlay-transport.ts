/**
 * The overlay's transport over Hyperswarm: its messages travel on the mesh's authenticated links
 * (links.ts), one protomux-rpc event per message type, encoded with the overlay's codecs; a link
 * is dialled on demand with `joinPeer` (left again once it is up or the dial gave up).
 */
/*
 * Admission: when a link passes the cluster-secret handshake, each end sends its verdict (an
 * `overlay/admit` event): the end that dialled says yes (its dial was counted against its bound
 * when it was made), the other end asks the overlay (`admit`: within the bound, or after closing
 * an idle link). The link is up for the overlay when both said yes; a no makes the dialler's dial
 * fail as `busy` (the member is alive, at its bound) and the link is closed. A link that replaces
 * one already up (Hyperswarm's duplicate-connection swaps) is the same link for the overlay.
 *
 * A dial fails when its timeout passes, or soon after Hyperswarm's attempt to connect closed
 * without a connection to that member (the peer's `attempts` grew: it is not reachable now). Soon
 * after, not at once: when both ends dial each other Hyperswarm closes one of the two connections,
 * and the one it keeps may not be open yet when the other closes.
 *
 * Probes (DATAGRAM_TYPES, but for the pings of sequence 0, which are gossip pushes) go as
 * datagrams on the link (secret-stream's `trySend`: encrypted, may be lost, not delayed by the
 * latency emulation) when their frame fits one packet; a larger one, and every other message, on
 * the stream.
 */
import c from 'compact-encoding';
import type Hyperswarm from 'hyperswarm';
import type { Logger } from 'pino';
import type { MeshTimers, TimerHandle } from './clock.js';
import { short } from './errors.js';
import type { LinkTable } from './links.js';
import { decodeMessage, encodeMessage, MESSAGE_TYPES, messageBytes } from './overlay/codecs.js';
import { DATAGRAM_TYPES, type MessageType, type OverlayHandler, type OverlayMessage, type OverlayTransport } from './overlay/types.js';
import { compactCodec, type Codec } from './rpc-codecs.js';
import type { RpcServer } from './rpc-server.js';

const EVENT_ADMIT = 'overlay/admit';
/** How long a refused link stays open for its verdict to arrive before it is destroyed (ms). */
const REFUSED_CLOSE_MS = 1000;
/** A link closed by this end is ended gracefully (what was written still arrives), destroyed after this (ms). */
const HANG_UP_GRACE_MS = 1000;
/** How long after a closed attempt a dial without a connection is given up (ms). */
const CLOSED_ATTEMPT_CHECK_MS = 300;
/** Largest datagram frame (bytes): within one UDP packet of a 1,280-byte path MTU, after encryption's overhead. */
const MAX_DATAGRAM = 1100;

const admitCodec = compactCodec(c.bool, 'admit');

/** How a wait for a link ended: up, refused by the member at its bound, the dial failed, or none by the deadline. */
export type LinkOutcome = 'up' | 'busy' | 'failed' | 'timeout';

function messageCodec(t: MessageType): Codec<OverlayMessage> {
  return { encode: (m) => Buffer.from(encodeMessage(m)), decode: (raw) => decodeMessage(t, raw) };
}

export interface SwarmOverlayTransportOptions {
  links: LinkTable;
  swarm: Hyperswarm;
  server: RpcServer;
  timers: MeshTimers;
  /** A dial not up by then failed (ms). */
  dialTimeoutMs: number;
  log: Logger;
}

interface Admission {
  own: boolean | null;
  remote: boolean | null;
}

export class SwarmOverlayTransport implements OverlayTransport {
  /** Messages sent and received by this node (stream and datagrams), and the bytes sent as the codecs count them. */
  sent = 0;
  received = 0;
  bytesSent = 0;
  private handler: OverlayHandler | null = null;
  private readonly up = new Set<string>();
  /** Dials under way: their timeout, and Hyperswarm's count of closed attempts when they started. */
  private readonly dials = new Map<string, { timer: TimerHandle; attempts: number; check: TimerHandle | null }>();
  private readonly admissions = new Map<string, Admission>();
  private readonly waiters = new Map<string, Set<(outcome: LinkOutcome) => void>>();
  private readonly codecs = new Map<MessageType, Codec<OverlayMessage>>(MESSAGE_TYPES.map((t) => [t, messageCodec(t)]));

  constructor(private readonly o: SwarmOverlayTransportOptions) {
    for (const [t, codec] of this.codecs) o.server.listen(`overlay/${t}`, codec, (m, from) => this.deliver(from, m));
    o.server.listen(EVENT_ADMIT, admitCodec, (ok, from) => this.verdict(from, ok));
    o.swarm.on('update', () => this.attemptsClosed());
  }

  attach(handler: OverlayHandler): void {
    this.handler = handler;
  }

  linked(): Iterable<string> {
    return this.up;
  }

  isLinked(key: string): boolean {
    return this.up.has(key);
  }

  /** Links up, and links admitted here whose other end has not answered yet (they count against the bound). */
  linkCount(): number {
    let pending = 0;
    for (const [key, a] of this.admissions) if (a.own === true && !this.dials.has(key)) pending++;
    return this.up.size + pending;
  }

  isDialling(key: string): boolean {
    return this.dials.has(key);
  }

  dial(key: string): void {
    if (this.up.has(key) || this.dials.has(key)) return;
    if (this.o.links.isRevoked(key)) {
      // A revoked member is not dialled: its dial fails as if it were at its bound (no link to be
      // had, and no evidence that it is dead: members that did not revoke it still reach it).
      this.dials.set(key, { timer: this.o.timers.setTimer(0, () => this.dialDone(key, false, true)), attempts: 0, check: null });
      return;
    }
    const timer = this.o.timers.setTimer(this.o.dialTimeoutMs, () => this.dialDone(key, false, false));
    this.o.swarm.joinPeer(Buffer.from(key, 'hex'));
    // A connection still closing (this end or the other hung up) will count one closed attempt: not this dial's.
    const closing = this.connectedKeys().has(key) ? 1 : 0;
    this.dials.set(key, { timer, attempts: (this.o.swarm.peers.get(key)?.attempts ?? 0) + closing, check: null });
  }

  hangUp(key: string): void {
    const wasUp = this.up.delete(key);
    this.admissions.delete(key);
    const link = this.o.links.get(key);
    if (link) {
      link.conn.end();
      this.o.timers.setTimer(HANG_UP_GRACE_MS, () => link.conn.destroy());
    }
    if (wasUp) this.handler?.linkDown(key);
  }

  send(key: string, m: OverlayMessage): void {
    if (!this.up.has(key)) return;
    try {
      this.write(key, m);
    } catch (err) {
      // A message that does not encode (a value out of its field's range) is dropped, never thrown
      // out of the overlay's timers (which would end the process).
      this.o.log.error({ err, type: m.t }, 'overlay message not encoded: dropped');
    }
  }

  private write(key: string, m: OverlayMessage): void {
    this.sent++;
    this.bytesSent += messageBytes(m);
    const codec = this.codecs.get(m.t)!;
    // A ping of sequence 0 is no probe but a gossip push (a goodbye, a suspicion told at once): on the stream.
    if (DATAGRAM_TYPES.has(m.t) && !(m.t === 'ping' && m.seq === 0)) {
      const body = codec.encode(m);
      if (this.o.links.get(key) && body.length + 1 <= MAX_DATAGRAM) {
        const frame = Buffer.allocUnsafe(body.length + 1);
        frame[0] = MESSAGE_TYPES.indexOf(m.t);
        body.copy(frame, 1);
        this.o.links.sendDatagram(key, frame);
        return;
      }
    }
    this.o.links.send(key, `overlay/${m.t}`, codec, m);
  }

  /** Resolves when `key` is linked, its dial failed, or after `ms`. */
  whenLinked(key: string, ms: number): Promise<LinkOutcome> {
    if (this.up.has(key)) return Promise.resolve('up');
    return new Promise((resolve) => {
      let set = this.waiters.get(key);
      if (!set) this.waiters.set(key, (set = new Set()));
      const waiters = set;
      const done = (outcome: LinkOutcome): void => {
        this.o.timers.clearTimer(timer);
        waiters.delete(done);
        resolve(outcome);
      };
      const timer = this.o.timers.setTimer(ms, () => done(this.up.has(key) ? 'up' : 'timeout'));
      waiters.add(done);
    });
  }

  /** A link to `key` passed the handshake (LinkListener.linkUp). */
  verified(key: string): void {
    const link = this.o.links.get(key);
    link?.conn.on('message', (frame: Buffer) => this.datagram(key, frame));
    if (this.up.has(key)) return;
    let a = this.admissions.get(key);
    if (!a) this.admissions.set(key, (a = { own: null, remote: null }));
    if (a.own !== null) return this.o.links.send(key, EVENT_ADMIT, admitCodec, a.own);
    this.decide(key, a, this.dials.has(key) || (this.handler?.admit(key) ?? false));
  }

  /** The current link to `key` closed (LinkListener.linkDown). */
  closed(key: string): void {
    this.admissions.delete(key);
    if (this.up.delete(key)) this.handler?.linkDown(key);
  }

  /** Forgets every dial and waiter (the mesh closes). */
  stop(): void {
    for (const [key, { timer, check }] of this.dials) {
      this.o.timers.clearTimer(timer);
      if (check) this.o.timers.clearTimer(check);
      this.o.swarm.leavePeer(Buffer.from(key, 'hex'));
    }
    this.dials.clear();
    for (const set of this.waiters.values()) for (const w of [...set]) w('failed');
    this.handler = null;
  }

  private decide(key: string, a: Admission, ok: boolean): void {
    a.own = ok;
    this.o.links.send(key, EVENT_ADMIT, admitCodec, ok);
    if (!ok) {
      this.o.log.debug({ peer: short(key) }, 'overlay link refused (at the bound)');
      this.o.timers.setTimer(REFUSED_CLOSE_MS, () => {
        if (!this.up.has(key) && this.admissions.get(key)?.own === false) this.o.links.get(key)?.conn.destroy();
      });
      return;
    }
    if (a.remote === true) this.becomeUp(key);
  }

  private verdict(key: string, ok: boolean): void {
    if (this.up.has(key)) return;
    let a = this.admissions.get(key);
    if (!a) this.admissions.set(key, (a = { own: null, remote: null }));
    a.remote = ok;
    if (!ok) {
      this.admissions.delete(key);
      this.dialDone(key, false, true);
      this.o.links.get(key)?.conn.destroy();
      return;
    }
    if (a.own === true) this.becomeUp(key);
  }

  private becomeUp(key: string): void {
    this.admissions.delete(key);
    this.up.add(key);
    this.dialDone(key, true, false);
    this.handler?.linkUp(key);
  }

  /** Ends the dial of `key` if one is under way (joinPeer left); a failed one is reported to the overlay. */
  private dialDone(key: string, ok: boolean, busy: boolean): void {
    const dial = this.dials.get(key);
    if (dial !== undefined) {
      this.o.timers.clearTimer(dial.timer);
      if (dial.check) this.o.timers.clearTimer(dial.check);
      this.dials.delete(key);
      this.o.swarm.leavePeer(Buffer.from(key, 'hex'));
      if (!ok) {
        // A link in its handshake or admission when the dial gave up is not wanted any more.
        if (!this.up.has(key)) this.admissions.delete(key);
        this.handler?.dialFailed(key, busy);
      }
    }
    const waiters = this.waiters.get(key);
    if (!waiters || (!ok && dial === undefined)) return;
    this.waiters.delete(key);
    for (const w of [...waiters]) w(ok ? 'up' : busy ? 'busy' : 'failed');
  }

  /** Hyperswarm's state changed: a dial whose attempt closed is checked a moment later. */
  private attemptsClosed(): void {
    for (const [key, dial] of this.dials) {
      if (dial.check || (this.o.swarm.peers.get(key)?.attempts ?? 0) <= dial.attempts) continue;
      dial.check = this.o.timers.setTimer(CLOSED_ATTEMPT_CHECK_MS, () => {
        dial.check = null;
        if (this.dials.get(key) !== dial) return;
        // Still no connection to the member: it failed; else the next closed attempt is counted from here.
        if (!this.connectedKeys().has(key) && !this.o.links.get(key)) return this.dialDone(key, false, false);
        dial.attempts = this.o.swarm.peers.get(key)?.attempts ?? dial.attempts;
      });
    }
  }

  private connectedKeys(): Set<string> {
    const keys = new Set<string>();
    for (const conn of this.o.swarm.connections) keys.add(conn.remotePublicKey.toString('hex'));
    return keys;
  }

  private deliver(from: string, m: OverlayMessage): void {
    if (!this.up.has(from)) return;
    this.received++;
    this.handler?.message(from, m);
  }

  private datagram(from: string, frame: Buffer): void {
    const t = MESSAGE_TYPES[frame[0] ?? -1];
    if (!t || !DATAGRAM_TYPES.has(t)) return;
    let m: OverlayMessage;
    try {
      m = decodeMessage(t, frame.subarray(1));
    } catch {
      return;
    }
    this.deliver(from, m);
  }
}
