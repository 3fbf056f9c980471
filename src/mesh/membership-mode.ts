/**
 * The mesh's membership in either mode, behind one surface: `full` (membership.ts, every member
 * linked and heartbeated) or `overlay` (overlay-membership.ts over overlay-transport.ts).
 */
import type { Logger } from 'pino';
import type { MeshTimers } from './clock.js';
import type { MeshConfig } from './config.js';
import type { Discovery } from './discovery.js';
import type { LinkTable } from './links.js';
import { listenForMembership, membershipTransport } from './membership-events.js';
import { Membership, type MemberInfo } from './membership.js';
import { LAN_OVERLAY, type OverlayConfig } from './overlay/config.js';
import { OverlayMembership } from './overlay-membership.js';
import { SwarmOverlayTransport } from './overlay-transport.js';
import type { RpcServer } from './rpc-server.js';
import type { VivaldiClient } from './vivaldi/client.js';
import type { RandomSource } from './vivaldi/coordinate.js';

/**
 * Connections Hyperswarm may hold beyond the overlay's bound: incoming ones still in their
 * handshake, or refused at the bound and closing. (Hyperswarm's `maxPeers` gates only the dials
 * of topic peers; the bound itself is the overlay's admission.)
 */
export const SWARM_SLACK = 8;

/** The overlay's settings in a mesh: LAN defaults, overridden by the mesh's options. */
export function overlayConfigOf(overrides: Partial<OverlayConfig> = {}): OverlayConfig {
  return { ...LAN_OVERLAY, ...overrides };
}

/** What the swarm is told in each mode: in overlay mode it does not dial the topic's members, and holds at most the bound and the slack. */
export function swarmOptionsOf(mode: MeshConfig['membership'], overlay: OverlayConfig): { client?: boolean; maxPeers?: number } {
  return mode === 'overlay' ? { client: false, maxPeers: overlay.maxConnections + SWARM_SLACK } : {};
}

export interface MembershipModeDeps {
  opts: MeshConfig;
  overlay: OverlayConfig;
  selfKey: string;
  info: MemberInfo;
  links: LinkTable;
  discovery: Discovery;
  server: RpcServer;
  vivaldi: VivaldiClient;
  timers: MeshTimers;
  random: RandomSource;
  log: Logger;
}

export interface MembershipMode {
  members: Membership | OverlayMembership;
  /** Set in full mode. */
  full: Membership | null;
  /** Set in overlay mode, with its transport. */
  overlay: OverlayMembership | null;
  transport: SwarmOverlayTransport | null;
  /** A link passed the handshake, or closed. */
  linkUp(key: string): void;
  linkDown(key: string, revoked: boolean): void;
}

export function membershipMode(d: MembershipModeDeps): MembershipMode {
  if (d.opts.membership === 'overlay') {
    const transport = new SwarmOverlayTransport({ links: d.links, swarm: d.discovery.swarm, server: d.server, timers: d.timers, dialTimeoutMs: d.overlay.dialTimeoutMs, log: d.log });
    const overlay = new OverlayMembership({
      selfKey: d.selfKey,
      info: d.info,
      config: d.overlay,
      transport,
      discovery: d.discovery,
      vivaldi: d.vivaldi,
      rttWindow: d.opts.rttWindow,
      refreshScheduleMs: d.opts.refreshScheduleMs,
      timers: d.timers,
      random: d.random,
      log: d.log,
      isRevoked: (key) => d.links.isRevoked(key),
    });
    return { members: overlay, full: null, overlay, transport, linkUp: (k) => transport.verified(k), linkDown: (k) => transport.closed(k) };
  }
  const full = new Membership({
    ...d.opts,
    info: d.info,
    transport: membershipTransport(d.links),
    timers: d.timers,
    log: d.log,
    coordinate: () => d.vivaldi.getCoordinate(),
  });
  listenForMembership(d.server, full);
  return { members: full, full, overlay: null, transport: null, linkUp: (k) => full.linkUp(k), linkDown: (k, revoked) => full.linkDown(k, revoked) };
}
