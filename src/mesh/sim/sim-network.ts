/**
 * The simulated network under the overlay: nodes at the countries of an RTT matrix, one-way
 * delays of half the RTT with jitter, packets lost with a probability, links bounded per node,
 * a dial costing a DHT lookup and a handshake, a crashed node's links closing only when the
 * connection timeout notices it. Counts every message and its encoded bytes.
 */
/*
 * A link is a Hyperswarm connection: a UDX stream, reliable and ordered, and datagrams beside it.
 * Probes go as datagrams (DATAGRAM_TYPES): each is lost with the loss probability. A packet lost
 * on the stream is sent again after the retransmission timeout (RFC 6298's 1 s at least, 2 × the
 * RTT on longer paths, doubling at each new loss), so a loss delays its message and every one
 * behind it on the stream; nothing sent on the stream of a link that stays up is lost.
 *
 * Model of a dial (Hyperswarm's connect: a DHT lookup of the peer's key, then the Noise handshake
 * through the DHT): ⌈log10 N⌉ + 1 round trips of the matrix's median RTT, then 1.5 RTT between
 * the two nodes. A link to a node at its bound is refused after the same delay.
 */
import type { MeshTimers } from '../clock.js';
import { messageBytes } from '../overlay/codecs.js';
import { DATAGRAM_TYPES, type OverlayHandler, type OverlayMessage, type OverlayTransport } from '../overlay/types.js';
import { gaussian } from '../vivaldi/random.js';
import type { RandomSource } from '../vivaldi/coordinate.js';

/** The retransmission timeout of a stream at least (RFC 6298). */
const MIN_RTO_MS = 1000;

export interface SimNetworkOptions {
  clock: MeshTimers;
  random: RandomSource;
  /** RTT in ms between two sites. */
  rtt: (a: number, b: number) => number;
  /** Median RTT of the matrix (ms), for the DHT part of a dial. */
  medianRttMs: number;
  /** Relative jitter of a one-way delay: × (1 + jitter·|N(0,1)|). */
  jitter: number;
  /** Probability that a message's packet is lost (and sent again after the retransmission timeout). */
  loss: number;
  /** Links per node at most (the overlay's own bound, enforced here as Hyperswarm would). */
  maxLinks: number;
  /** A crashed peer's link closes after this silence (ms): the connection timeout. */
  linkTimeoutMs: number;
  /** Mesh size, for the dial model. */
  nodes: () => number;
}

interface SimPeer {
  key: string;
  site: number;
  alive: boolean;
  handler: OverlayHandler | null;
  /** Linked peers, each with the id of its link: a closing reaches only the link it closes, not one opened since. */
  links: Map<string, number>;
  /** When the last message sent to each peer arrives: a link is a stream, delivered in order. */
  lastArrival: Map<string, number>;
}

export class SimNetwork {
  private readonly peers = new Map<string, SimPeer>();
  /** Largest link count any node reached. */
  maxLinksSeen = 0;
  /** Messages sent so far by every node, and their encoded bytes. */
  messages = 0;
  bytes = 0;
  private linkIds = 0;

  constructor(private readonly o: SimNetworkOptions) {}

  /** Adds a node at `site`; its overlay attaches with `attach`. */
  add(key: string, site: number): OverlayTransport {
    const peer: SimPeer = { key, site, alive: true, handler: null, links: new Map(), lastArrival: new Map() };
    this.peers.set(key, peer);
    return {
      linked: () => peer.links.keys(),
      isLinked: (k) => peer.links.has(k),
      linkCount: () => peer.links.size,
      dial: (k) => this.dial(peer, k),
      hangUp: (k) => this.hangUp(peer, k),
      send: (k, m) => this.send(peer, k, m),
    };
  }

  attach(key: string, handler: OverlayHandler): void {
    this.peers.get(key)!.handler = handler;
  }

  /**
   * A crash: nothing more is sent or delivered; peers notice when their links time out. The node
   * is forgotten then (a dial to it fails as to any absent key), its overlay released.
   */
  crash(key: string): void {
    const peer = this.peers.get(key);
    if (!peer) return;
    peer.alive = false;
    peer.handler = null;
    peer.lastArrival.clear();
    for (const [other, id] of peer.links) this.o.clock.setTimer(this.o.linkTimeoutMs, () => this.drop(other, key, id));
    peer.links.clear();
    this.o.clock.setTimer(this.o.linkTimeoutMs, () => this.peers.delete(key));
  }

  links(key: string): number {
    return this.peers.get(key)?.links.size ?? 0;
  }

  /**
   * Delay until a message from `a` to `b` sent now arrives: half the RTT with jitter, a
   * retransmission timeout per loss, after the ones sent before it.
   */
  private oneWay(a: SimPeer, b: SimPeer): number {
    const now = this.o.clock.now();
    const rtt = this.o.rtt(a.site, b.site);
    let resent = 0;
    for (let rto = Math.max(MIN_RTO_MS, 2 * rtt); this.o.random() < this.o.loss; rto *= 2) resent += rto;
    const at = Math.max(now + resent + (rtt / 2) * (1 + this.o.jitter * Math.abs(gaussian(this.o.random))), a.lastArrival.get(b.key) ?? 0);
    a.lastArrival.set(b.key, at);
    return at - now;
  }

  private dial(from: SimPeer, key: string): void {
    const to = this.peers.get(key);
    const { clock, medianRttMs } = this.o;
    const rounds = Math.ceil(Math.log10(Math.max(10, this.o.nodes()))) + 1;
    const rtt = to ? this.o.rtt(from.site, to.site) : medianRttMs;
    clock.setTimer(rounds * medianRttMs + 1.5 * rtt, () => {
      if (!from.alive) return;
      if (!to || !to.alive || from.links.has(key)) {
        if (!from.links.has(key)) from.handler?.dialFailed(key, false);
        return;
      }
      // Hyperswarm's maxPeers on both ends, and the overlay's own admission (its dials under way count against its bound).
      if (from.links.size >= this.o.maxLinks || !to.handler?.admit(from.key) || to.links.size >= this.o.maxLinks) return from.handler?.dialFailed(key, true);
      // A new link, even where the other end still holds one it has not yet seen closed: that closing no longer concerns it.
      const id = ++this.linkIds;
      from.links.set(key, id);
      to.links.set(from.key, id);
      this.maxLinksSeen = Math.max(this.maxLinksSeen, from.links.size, to.links.size);
      to.handler?.linkUp(from.key);
      from.handler?.linkUp(key);
    });
  }

  private hangUp(from: SimPeer, key: string): void {
    const id = from.links.get(key);
    if (id === undefined) return;
    from.links.delete(key);
    const to = this.peers.get(key);
    if (!to) return;
    from.handler?.linkDown(key);
    this.o.clock.setTimer(this.oneWay(from, to), () => {
      if (!this.drop(key, from.key, id)) return;
      from.lastArrival.delete(key);
      to.lastArrival.delete(from.key);
    });
  }

  /** `key` loses its link `id` to `other` (closed by the other end, or timed out); false when that link is no longer there. */
  private drop(key: string, other: string, id: number): boolean {
    const peer = this.peers.get(key);
    if (!peer?.alive || peer.links.get(other) !== id) return false;
    peer.links.delete(other);
    peer.lastArrival.delete(other);
    peer.handler?.linkDown(other);
    return true;
  }

  private send(from: SimPeer, key: string, m: OverlayMessage): void {
    const link = from.links.get(key);
    if (!from.alive || link === undefined) return;
    const to = this.peers.get(key);
    if (!to) return;
    this.messages++;
    this.bytes += messageBytes(m);
    const datagram = DATAGRAM_TYPES.has(m.t);
    if (datagram && this.o.random() < this.o.loss) return;
    const delay = datagram ? (this.o.rtt(from.site, to.site) / 2) * (1 + this.o.jitter * Math.abs(gaussian(this.o.random))) : this.oneWay(from, to);
    this.o.clock.setTimer(delay, () => {
      // Only on the link it was sent on: a link opened since does not carry what the closed one did.
      if (to.alive && to.links.get(from.key) === link) to.handler?.message(from.key, m);
    });
  }
}
