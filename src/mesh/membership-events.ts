/** Membership's hello and heartbeat on the links: one protomux-rpc event each, compact-encoded. */
import c, { type Encoder } from 'compact-encoding';
import { MeshError } from './errors.js';
import type { LinkTable } from './links.js';
import { EVENT_HEARTBEAT, EVENT_HELLO, type MemberInfo, type Membership, type MembershipEvent, type MembershipEvents, type MembershipMessage, type MembershipTransport } from './membership.js';
import { compactCodec, coordinate, nullable, struct, type Codec } from './rpc-codecs.js';
import type { RpcServer } from './rpc-server.js';
import type { JsonValue } from './wire.js';

const MAX_NAME = 256;

const info: Encoder<MemberInfo> = struct<MemberInfo>({
  name: c.string,
  httpAddress: nullable(c.string),
  site: nullable(c.string),
  capacity: c.json as Encoder<JsonValue>,
  seq: c.uint,
});

const CODECS: Record<MembershipEvent, Codec<MembershipMessage>> = {
  [EVENT_HELLO]: compactCodec(struct<Required<MembershipMessage>>({ info, c: nullable(coordinate) }), 'hello', (m) =>
    m.info.name.length > MAX_NAME ? 'name too long' : null,
  ) as Codec<MembershipMessage>,
  [EVENT_HEARTBEAT]: compactCodec(struct<MembershipMessage>({ c: nullable(coordinate) }), 'heartbeat'),
};

/** Membership's transport over the links. */
export function membershipTransport(links: LinkTable): MembershipTransport {
  return {
    connectedPeers: () => links.connectedPeers(),
    isConnected: (key) => links.isConnected(key),
    disconnect: (key, reason) => links.disconnect(key, reason),
    send: (key, event, message) => links.send(key, event, CODECS[event], message),
  };
}

/** Hands the hellos and heartbeats the server receives to `membership`. */
export function listenForMembership(server: RpcServer, membership: Pick<Membership, 'receive'>): void {
  for (const event of [EVENT_HELLO, EVENT_HEARTBEAT] as const) {
    server.listen(event, CODECS[event], (message, fromKey) => membership.receive(fromKey, event, message));
  }
}

/** Resolves with `list()` when `predicate` over it holds (checked on each membership event of `source`); rejects with TIMEOUT after `timeoutMs`. */
export function waitForMembers<M>(
  source: { on(event: keyof MembershipEvents, listener: () => void): unknown; off(event: keyof MembershipEvents, listener: () => void): unknown },
  list: () => M[],
  predicate: (members: M[]) => boolean,
  timeoutMs: number,
): Promise<M[]> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const members = list();
      if (!predicate(members)) return;
      cleanup();
      resolve(members);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(MeshError.TIMEOUT(timeoutMs));
    }, timeoutMs);
    const events = ['member-joined', 'member-left', 'member-updated'] as const;
    const cleanup = (): void => {
      clearTimeout(timer);
      for (const e of events) source.off(e, check);
    };
    for (const e of events) source.on(e, check);
    check();
  });
}
