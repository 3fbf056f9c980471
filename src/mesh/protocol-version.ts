/** The RPC channel's handshake: the cluster proof and the protocol versions a node speaks, the highest common one chosen. */
/*
 * Each end opens the channel `discovery-mesh/rpc` with `{ proof, versions }` (compact-encoding):
 * the proof of auth.ts and the versions it speaks, ascending. Both ends choose the highest
 * version in both lists, so they agree without another round trip; a node that adds a version
 * keeps the previous one in its list while its peers are upgraded, and drops it afterwards. A
 * peer with no version in common is refused (`no common protocol version`).
 *
 * Version 1 was the single JSON `call` method on the channel `discovery-mesh/rpc/v1`; it is no
 * longer spoken, and a peer that opens that channel is refused by name.
 */
import c from 'compact-encoding';
import { MeshError } from './errors.js';
import { struct, toBuffer } from './rpc-codecs.js';

export const RPC_PROTOCOL = 'discovery-mesh/rpc';
/** The channel of protocol version 1, which only a peer of an earlier build opens. */
export const LEGACY_RPC_PROTOCOL = 'discovery-mesh/rpc/v1';
/** Version 2: one protomux-rpc method per mesh method, compact-encoded; forwarded bodies as bytes, in chunks. */
export const PROTOCOL_VERSIONS: readonly number[] = [2];
const MAX_VERSIONS = 16;

export interface Handshake {
  proof: Buffer;
  versions: number[];
}

const handshake = struct<Handshake>({
  proof: { preencode: (s, v) => c.fixed32.preencode(s, v), encode: (s, v) => c.fixed32.encode(s, v), decode: (s) => toBuffer(c.fixed32.decode(s)) },
  versions: c.array(c.uint),
});

export function encodeHandshake(h: Handshake): Buffer {
  return toBuffer(c.encode(handshake, h));
}

/**
 * The handshake a peer sent; throws BAD_MESSAGE when malformed. Bytes after the versions are
 * ignored: a later version may append fields, and must still be read to be refused or chosen.
 */
export function decodeHandshake(raw: Buffer | null): Handshake {
  const bytes = raw ?? Buffer.alloc(0);
  let h: Handshake;
  try {
    h = handshake.decode(c.state(0, bytes.length, bytes));
  } catch (err) {
    throw MeshError.BAD_MESSAGE(`malformed handshake: ${(err as Error).message}`, err);
  }
  if (h.versions.length > MAX_VERSIONS) throw MeshError.BAD_MESSAGE(`malformed handshake: more than ${MAX_VERSIONS} versions`);
  return h;
}

/** The highest version both lists hold, or null. */
export function chooseVersion(ours: readonly number[], theirs: readonly number[]): number | null {
  const common = ours.filter((v) => theirs.includes(v));
  return common.length > 0 ? Math.max(...common) : null;
}
