/** Typed RPC over real Hyperswarm: protomux-rpc's routing by method, payload validation, the protocol version of the handshake. */
import c from 'compact-encoding';
import DHT from 'hyperdht';
import Hyperswarm from 'hyperswarm';
import ProtomuxRPC from 'protomux-rpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicFor } from '../../src/mesh/auth.js';
import { MeshError } from '../../src/mesh/errors.js';
import type { Mesh } from '../../src/mesh/mesh.js';
import { chooseVersion, decodeHandshake, encodeHandshake, LEGACY_RPC_PROTOCOL } from '../../src/mesh/protocol-version.js';
import { MeshFixture, once, SECRET } from './mesh-helpers.js';

type Refusal = { key: string; reason: string };

/** The protomux-rpc channel of `from`'s link to `to`. */
function channel(from: Mesh, to: Mesh): ProtomuxRPC {
  return (from as unknown as { links: { get(k: string): { rpc: ProtomuxRPC } } }).links.get(to.key).rpc;
}

/** A raw request on the channel: the error protomux-rpc reports, with the code of the answer. */
async function rawRequest(rpc: ProtomuxRPC, method: string, body: Buffer): Promise<{ value?: Buffer; code?: string; answerCode?: string; message?: string }> {
  try {
    return { value: await rpc.request(method, body, { valueEncoding: c.raw, timeout: 5000 }) };
  } catch (err) {
    const e = err as { code?: string; cause?: { code?: string; message?: string } };
    return { code: e.code, answerCode: e.cause?.code, message: e.cause?.message };
  }
}

describe('typed RPC (loopback testnet)', () => {
  let fx: MeshFixture;
  let a: Mesh, b: Mesh;

  beforeAll(async () => {
    fx = await MeshFixture.create();
    a = fx.node('a');
    b = fx.node('b');
    b.handle('sum', (p) => (p as { xs: number[] }).xs.reduce((x, y) => x + y, 0), {
      type: 'object',
      required: ['xs'],
      properties: { xs: { type: 'array', items: { type: 'number' }, maxItems: 100 } },
      additionalProperties: false,
    });
    b.handle('upper', (p) => String(p).toUpperCase());
    b.handle('buggy', () => (null as unknown as { x: number }).x);
    await Promise.all([a.start(), b.start()]);
    await Promise.all([a.waitForMembers(1), b.waitForMembers(1)]);
  });

  afterAll(() => fx?.dispose());

  it('routes each method by its own name, methods added and removed on live links included', async () => {
    await expect(a.request(b.key, 'sum', { xs: [1, 2, 3] })).resolves.toBe(6);
    await expect(a.request(b.key, 'upper', 'abc')).resolves.toBe('ABC');
    // A protomux-rpc request named after the method, its payload JSON.
    const raw = await rawRequest(channel(a, b), 'upper', Buffer.from('"xyz"'));
    expect(raw.value?.toString()).toBe('"XYZ"');
    b.handle('late', () => 'here');
    await expect(a.request(b.key, 'late', null)).resolves.toBe('here');
    b.unhandle('late');
    expect(((await a.request(b.key, 'late', null).catch((e: unknown) => e)) as MeshError).code).toBe('NO_HANDLER');
    expect((await rawRequest(channel(a, b), 'call', Buffer.from('{}'))).code).toBe('UNKNOWN_METHOD');
  });

  it('answers a payload against the method schema with BAD_MESSAGE and the reason', async () => {
    const err = (await a.request(b.key, 'sum', { xs: [1, 'two'] }).catch((e: unknown) => e)) as MeshError;
    expect(err).toBeInstanceOf(MeshError);
    expect(err.code).toBe('REMOTE_ERROR');
    expect(err.remoteCode).toBe('BAD_MESSAGE');
    expect(err.message).toMatch(/sum request.*payload\/xs\/1 must be number/);
    const extra = (await a.request(b.key, 'sum', { xs: [], more: 1 }).catch((e: unknown) => e)) as MeshError;
    expect(extra.remoteCode).toBe('BAD_MESSAGE');
  });

  it('answers malformed bytes with BAD_MESSAGE, for JSON and compact-encoded methods, and keeps serving', async () => {
    const rpc = channel(a, b);
    const json = await rawRequest(rpc, 'upper', Buffer.from('{not json'));
    expect(json).toMatchObject({ code: 'REQUEST_ERROR', answerCode: 'BAD_MESSAGE' });
    expect(json.message).toMatch(/not JSON/);
    const ping = await rawRequest(rpc, 'mesh/ping', Buffer.from([7, 7, 7]));
    expect(ping).toMatchObject({ code: 'REQUEST_ERROR', answerCode: 'BAD_MESSAGE' });
    expect(ping.message).toMatch(/malformed ping/);
    const forward = await rawRequest(rpc, 'mesh/http-forward', Buffer.from([3, 0x47, 0x45]));
    // b serves no forwarded requests: protomux-rpc knows no such method there.
    expect(forward.code).toBe('UNKNOWN_METHOD');
    b.serveForwarded(() => ({ status: 200, headers: {}, body: Buffer.alloc(0) }));
    const forward2 = await rawRequest(rpc, 'mesh/http-forward', Buffer.from([3, 0x47, 0x45]));
    expect(forward2).toMatchObject({ code: 'REQUEST_ERROR', answerCode: 'BAD_MESSAGE' });
    expect(forward2.message).toMatch(/malformed forwarded request/);
    // A handler's programmer error is an error answer, not a crash.
    const buggy = (await a.request(b.key, 'buggy', null).catch((e: unknown) => e)) as MeshError;
    expect(buggy.code).toBe('REMOTE_ERROR');
    expect(buggy.message).toMatch(/Cannot read properties of null/);
    await expect(a.ping(b.key)).resolves.toBeGreaterThan(0);
    await expect(a.request(b.key, 'upper', 'still')).resolves.toBe('STILL');
  });

  it('refuses the mesh methods as names of JSON handlers', () => {
    expect(() => b.handle('mesh/ping', () => null)).toThrow(TypeError);
  });
});

describe('the handshake', () => {
  it('chooses the highest common version, or none', () => {
    expect(chooseVersion([2, 3], [1, 2, 3, 4])).toBe(3);
    expect(chooseVersion([2], [2, 3])).toBe(2);
    expect(chooseVersion([2], [1])).toBeNull();
  });

  it('reads a later version\'s handshake that appends fields, and refuses a truncated one', () => {
    const proof = Buffer.alloc(32, 9);
    const later = Buffer.concat([encodeHandshake({ proof, versions: [2, 3] }), Buffer.from('future fields')]);
    expect(decodeHandshake(later)).toEqual({ proof, versions: [2, 3] });
    expect(() => decodeHandshake(proof.subarray(0, 20))).toThrow(/malformed handshake/);
    expect(() => decodeHandshake(null)).toThrow(MeshError);
  });
});

describe('protocol version in the handshake (loopback testnet)', () => {
  let fx: MeshFixture;
  beforeAll(async () => {
    fx = await MeshFixture.create();
  });
  afterAll(() => fx?.dispose());

  it('chooses the highest version both ends speak', async () => {
    const newer1 = fx.node('newer1', { protocolVersions: [2, 3] });
    const newer2 = fx.node('newer2', { protocolVersions: [2, 3] });
    const older = fx.node('older', { protocolVersions: [2] });
    for (const m of [newer1, newer2, older]) m.handle('v', () => 'ok');
    await Promise.all([newer1, newer2, older].map((m) => m.start()));
    await Promise.all([newer1, newer2, older].map((m) => m.waitForMembers(2, 15_000)));
    expect(newer1.protocolVersion(newer2.key)).toBe(3);
    expect(newer2.protocolVersion(newer1.key)).toBe(3);
    expect(newer1.protocolVersion(older.key)).toBe(2);
    expect(older.protocolVersion(newer2.key)).toBe(2);
    await expect(older.request(newer1.key, 'v', null)).resolves.toBe('ok');
    await expect(newer1.request(older.key, 'v', null)).resolves.toBe('ok');
  });

  it('refuses a peer with no common version, with the versions in the reason, and never admits it', async () => {
    const here = fx.node('here');
    await here.start();
    const refused = once<Refusal>(here, 'refused', (r) => /no common protocol version/.test(r.reason), 15_000);
    const future = fx.node('future', { protocolVersions: [7, 8] });
    const refusedThere = once<Refusal>(future, 'refused', (r) => /no common protocol version/.test(r.reason), 15_000);
    await future.start();
    const r = await refused;
    expect(r.key).toBe(future.key);
    expect(r.reason).toBe('no common protocol version (this node speaks 2; the peer 7, 8)');
    expect((await refusedThere).reason).toMatch(/^no common protocol version \(this node speaks 7, 8; the peer 2(, 3)?\)$/);
    expect(here.member(future.key)).toBeUndefined();
    expect(future.member(here.key)).toBeUndefined();
  });

  it('refuses by name a peer that opens only the channel of version 1', async () => {
    const here = fx.node('here-legacy');
    await here.start();
    const keyPair = DHT.keyPair();
    const swarm = new Hyperswarm({ keyPair, dht: new DHT({ bootstrap: fx.testnet.bootstrap, host: '127.0.0.1', keyPair }) });
    const legacyKey = swarm.keyPair.publicKey.toString('hex');
    const refused = once<Refusal>(here, 'refused', (r) => r.key === legacyKey, 15_000);
    try {
      swarm.on('connection', (conn) => {
        conn.on('error', () => undefined);
        // What an earlier build opens: the JSON `call` channel with a bare 32-byte proof.
        new ProtomuxRPC(conn, { protocol: LEGACY_RPC_PROTOCOL, handshake: Buffer.alloc(32) });
      });
      swarm.join(topicFor(SECRET), { client: true, server: true });
      const r = await refused;
      expect(r.reason).toBe('no common protocol version (this node speaks 2; the peer 1)');
      expect(here.member(legacyKey)).toBeUndefined();
    } finally {
      await swarm.destroy();
    }
  });
});
