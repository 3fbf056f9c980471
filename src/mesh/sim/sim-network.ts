/**
 * The simulated network under the overlay: nodes at the countries of an RTT matrix, one-way
 * delays of half the RTT with jitter, messages lost with a probability, links bounded per node,
 * a dial costing a DHT lookup and a handshake, a crashed node's links closing only when the
 * connection timeout notices it. Counts every message and its encoded bytes.
 */
/*
 * Model of a dial (Hyperswarm's connect: a DHT lookup of the peer's key, then the Noise handshake
 * through the DHT): ⌈log10 N⌉ + 1 round trips of the matrix's median RTT, then 1.5 RTT between
 * the two nodes. A link to a node at its bound is refused after the same delay.
 */
import type { MeshTimers } from '../clock.js';
import { messageBytes } from '../overlay/codecs.js';
import type { OverlayHandler, OverlayMessage, OverlayTransport } from '../overlay/types.js';
import { gaussian } from '../vivaldi/random.js';
import type { RandomSource } from '../vivaldi/coordinate.js';

export interface SimNetworkOptions {
  clock: MeshTimers;
  random: RandomSource;
  /** RTT in ms between two sites. */
  rtt: (a: number, b: number) => number;
  /** Median RTT of the matrix (ms), for the DHT part of a dial. */
  medianRttMs: number;
  /** Relative jitter of a one-way delay: × (1 + jitter·|N(0,1)|). */
  jitter: number;
  /** Probability that a message is lost. */
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
  links: Set<string>;
  sentMessages: number;
  sentBytes: number;
}

export class SimNetwork {
  private readonly peers = new Map<string, SimPeer>();
  /** When the last message on each directed link arrives: a link is a stream, delivered in order. */
  private readonly lastArrival = new Map<string, number>();
  /** Largest link count any node reached. */
  maxLinksSeen = 0;

  constructor(private readonly o: SimNetworkOptions) {}

  /** Adds a node at `site`; its overlay attaches with `attach`. */
  add(key: string, site: number): OverlayTransport {
    const peer: SimPeer = { key, site, alive: true, handler: null, links: new Set(), sentMessages: 0, sentBytes: 0 };
    this.peers.set(key, peer);
    return {
      linked: () => peer.links,
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

  /** A crash: nothing more is sent or delivered; peers notice when their links time out. */
  crash(key: string): void {
    const peer = this.peers.get(key);
    if (!peer) return;
    peer.alive = false;
    for (const other of peer.links) {
      this.o.clock.setTimer(this.o.linkTimeoutMs, () => this.drop(other, key));
    }
    peer.links.clear();
  }

  remove(key: string): void {
    this.peers.delete(key);
  }

  stats(key: string): { messages: number; bytes: number } {
    const p = this.peers.get(key);
    return { messages: p?.sentMessages ?? 0, bytes: p?.sentBytes ?? 0 };
  }

  links(key: string): number {
    return this.peers.get(key)?.links.size ?? 0;
  }

  /** Delay until a message from `a` to `b` sent now arrives: half the RTT with jitter, after the ones sent before it. */
  private oneWay(a: SimPeer, b: SimPeer): number {
    const now = this.o.clock.now();
    const link = `${a.key}>${b.key}`;
    const at = Math.max(now + (this.o.rtt(a.site, b.site) / 2) * (1 + this.o.jitter * Math.abs(gaussian(this.o.random))), this.lastArrival.get(link) ?? 0);
    this.lastArrival.set(link, at);
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
      if (from.links.size >= this.o.maxLinks || (to.links.size >= this.o.maxLinks && !to.handler?.admit(from.key))) return from.handler?.dialFailed(key, true);
      from.links.add(key);
      to.links.add(from.key);
      this.maxLinksSeen = Math.max(this.maxLinksSeen, from.links.size, to.links.size);
      to.handler?.linkUp(from.key);
      from.handler?.linkUp(key);
    });
  }

  private hangUp(from: SimPeer, key: string): void {
    if (!from.links.delete(key)) return;
    const to = this.peers.get(key);
    if (!to) return;
    from.handler?.linkDown(key);
    this.o.clock.setTimer(this.oneWay(from, to), () => {
      this.drop(key, from.key);
      this.lastArrival.delete(`${from.key}>${key}`);
      this.lastArrival.delete(`${key}>${from.key}`);
    });
  }

  /** `key` loses its link to `other` (closed by the other end, or timed out). */
  private drop(key: string, other: string): void {
    const peer = this.peers.get(key);
    if (!peer?.alive || !peer.links.delete(other)) return;
    peer.handler?.linkDown(other);
  }

  private send(from: SimPeer, key: string, m: OverlayMessage): void {
    if (!from.alive || !from.links.has(key)) return;
    const to = this.peers.get(key);
    if (!to) return;
    from.sentMessages++;
    from.sentBytes += messageBytes(m);
    if (this.o.random() < this.o.loss) return;
    this.o.clock.setTimer(this.oneWay(from, to), () => {
      if (to.alive && to.links.has(from.key)) to.handler?.message(from.key, m);
    });
  }
}
