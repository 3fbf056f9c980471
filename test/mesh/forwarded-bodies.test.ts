/** Forwarded HTTP bodies as bytes, in chunks beyond one message, over real Hyperswarm: large requests and answers, and retries after lost replies. */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeshError } from '../../src/mesh/errors.js';
import { forwardErrorStatus, type ForwardedRequest } from '../../src/mesh/http-forwarding.js';
import type { Mesh } from '../../src/mesh/mesh.js';
import { MeshFixture } from './mesh-helpers.js';

const MiB = 1024 * 1024;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Destroys every connection of `mesh` (Hyperswarm dials again; the new link replaces the old). */
function dropConnections(mesh: Mesh): void {
  for (const conn of (mesh as unknown as { swarm: { connections: Set<{ destroy(): void }> } }).swarm.connections) conn.destroy();
}

describe('forwarded bodies (loopback testnet)', () => {
  let fx: MeshFixture;
  let p: Mesh, q: Mesh;
  /** What q's handler does with the next request; by default answers the digest of the body. */
  let serve: (req: ForwardedRequest) => Promise<{ status: number; headers: Record<string, string>; body: Buffer }>;
  const received: ForwardedRequest[] = [];
  const digest = async (req: ForwardedRequest) => ({ status: 200, headers: { 'x-sha': sha(req.body) }, body: Buffer.from(String(req.body.length)) });

  beforeAll(async () => {
    fx = await MeshFixture.create();
    // The members stay members while a connection is replaced; no probes on the links.
    const opts = { reconnectGraceMs: 5000, probesPerRound: 0 };
    p = fx.node('p', opts);
    q = fx.node('q', opts);
    serve = digest;
    q.serveForwarded(async (req) => {
      received.push(req);
      return serve(req);
    });
    await Promise.all([p.start(), q.start()]);
    await Promise.all([p.waitForMembers(1), q.waitForMembers(1)]);
  });

  afterAll(() => fx?.dispose());

  it('carries a 5 MiB PUT body through a forward, byte for byte, with its headers', async () => {
    received.length = 0;
    const body = randomBytes(5 * MiB + 17);
    const res = await p.forward(q.key, { method: 'PUT', path: '/storage/1', headers: { 'content-type': 'application/octet-stream', 'x-multi': ['a', 'b'] }, body });
    expect(res.status).toBe(200);
    expect(res.headers['x-sha']).toBe(sha(body));
    expect(received).toHaveLength(1);
    expect(received[0]!.headers).toMatchObject({ 'content-type': 'application/octet-stream', 'x-multi': ['a', 'b'] });
    expect(received[0]!.via).toEqual([p.key]);
  });

  it('brings a multi-MiB answer back, byte for byte', async () => {
    const answer = randomBytes(3 * MiB + 5);
    serve = async () => ({ status: 203, headers: { 'content-type': 'application/json' }, body: answer });
    try {
      const res = await p.forward(q.key, { method: 'GET', path: '/compute/', headers: {}, body: Buffer.alloc(0) });
      expect(res.status).toBe(203);
      expect(res.headers['content-type']).toBe('application/json');
      expect(res.body.length).toBe(answer.length);
      expect(sha(res.body)).toBe(sha(answer));
    } finally {
      serve = digest;
    }
  });

  it('repeats a chunked PUT whose reply was lost: the retry uploads the body again and is served', async () => {
    received.length = 0;
    const body = randomBytes(5 * MiB);
    let calls = 0;
    serve = async (req) => {
      calls++;
      // The first attempt is served, but its reply is lost with the connection.
      if (calls === 1) {
        dropConnections(q);
        await new Promise((r) => setTimeout(r, 50));
      }
      return digest(req);
    };
    try {
      const res = await p.forward(q.key, { method: 'PUT', path: '/storage/2', headers: {}, body }, { timeoutMs: 15_000 });
      expect(res.status).toBe(200);
      expect(res.headers['x-sha']).toBe(sha(body));
      expect(calls).toBe(2);
      expect(received.map((r) => sha(r.body))).toEqual([sha(body), sha(body)]);
      expect(p.member(q.key)).toBeDefined();
    } finally {
      serve = digest;
    }
  });

  it('repeats a GET whose multi-MiB answer was cut while being pulled', async () => {
    const answer = randomBytes(4 * MiB);
    let calls = 0;
    serve = async () => ({ status: 200, headers: {}, body: answer });
    // The first pull of the first answer loses its connection.
    const buffers = (q as unknown as { forwarding: { buffers: { pull: (...args: unknown[]) => Buffer } } }).forwarding.buffers;
    const pull = buffers.pull.bind(buffers);
    let cut = false;
    buffers.pull = (...args: unknown[]) => {
      calls++;
      if (!cut) {
        cut = true;
        dropConnections(q);
        throw Object.assign(new Error('cut'), { code: 'CUT' });
      }
      return pull(...args);
    };
    try {
      const res = await p.forward(q.key, { method: 'GET', path: '/compute/big', headers: {}, body: Buffer.alloc(0) }, { timeoutMs: 15_000 });
      expect(sha(res.body)).toBe(sha(answer));
      expect(calls).toBeGreaterThan(1);
    } finally {
      buffers.pull = pull;
      serve = digest;
    }
  });

  it('does not repeat a chunked POST whose reply was lost (CLOSED, 503)', async () => {
    let calls = 0;
    serve = async (req) => {
      calls++;
      dropConnections(q);
      await new Promise((r) => setTimeout(r, 50));
      return digest(req);
    };
    try {
      const err = await p.forward(q.key, { method: 'POST', path: '/compute/', headers: {}, body: randomBytes(2 * MiB) }, { timeoutMs: 15_000 }).catch((e: unknown) => e);
      expect((err as MeshError).code).toBe('CLOSED');
      expect(forwardErrorStatus(err)).toBe(503);
      expect(calls).toBe(1);
    } finally {
      serve = digest;
    }
    // The connection comes back for the next test.
    for (let i = 0; i < 100 && p.protocolVersion(q.key) === undefined; i++) await new Promise((r) => setTimeout(r, 100));
  });

  it('refuses a body beyond maxBodyBytes before sending it (413)', async () => {
    const small = fx.node('small', { maxBodyBytes: 2 * MiB });
    await small.start();
    await small.waitFor((ms) => ms.some((m) => m.key === q.key), 15_000);
    const err = await small.forward(q.key, { method: 'PUT', path: '/x', headers: {}, body: Buffer.alloc(2 * MiB + 1) }).catch((e: unknown) => e);
    expect((err as MeshError).code).toBe('TOO_LARGE');
    expect(forwardErrorStatus(err)).toBe(413);
  });
});
