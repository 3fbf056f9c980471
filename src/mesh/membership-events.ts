/** Membership's hello and heartbeat on the links: one protomux-rpc event each, compact-encoded. */
import c, { type Encoder } from 'compact-encoding';
import type { LinkTable } from './links.js';
import { EVENT_HEARTBEAT, EVENT_HELLO, type MemberInfo, type Membership, type MembershipEvent, type MembershipMessage, type MembershipTransport } from './membership.js';
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
