import DHT from 'hyperdht';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicFor } from '../../src/mesh/auth.js';
import { MeshError } from '../../src/mesh/errors.js';
import { forwardErrorStatus } from '../../src/mesh/http-forwarding.js';
import type { Member, Mesh } from '../../src/mesh/mesh.js';
import { MeshFixture, once, SECRET } from './mesh-helpers.js';

describe('mesh in one process (loopback testnet)', () => {
  let fx: MeshFixture;
  let a: Mesh, b: Mesh, c: Mesh, d: Mesh;
  let releaseHang: () => void = () => undefined;
  const hang = new Promise<void>((resolve) => {
    releaseHang = resolve;
  });

  beforeAll(async () => {
    fx = await MeshFixture.create();
    a = fx.node('a', { site: 'FR', httpAddress: 'http://127.0.0.1:8081', capacity: { cpus: 4 } });
    b = fx.node('b', { site: 'DE' });
    c = fx.node('c', { site: 'US' });
    d = fx.node('d', { site: 'JP' });
    for (const m of [a, b, c, d]) {
      m.handle('echo', (p, from) => ({ echo: p, from }));
      m.handle('fail', () => {
        throw Object.assign(new Error('boom'), { code: 'E_BOOM' });
      });
      m.handle('hang', async () => {
        await hang;
        return null;
      });
      m.handle('whoami', () => m.self().name);
    }
    // All four join at the same moment: discovery refresh must make them meet.
    await Promise.all([a, b, c, d].map((m) => m.start()));
    await Promise.all([a, b, c, d].map((m) => m.waitForMembers(3, 15_000)));
  });

  afterAll(async () => {
    releaseHang();
    await fx?.dispose();
  });

  it('converges to a full membership with names, sites and capacity', () => {
    for (const m of [a, b, c, d]) {
      const names = m.members().map((x) => x.name).sort();
      expect(names).toEqual(['a', 'b', 'c', 'd'].filter((n) => n !== m.self().name));
    }
    const seenA = b.member(a.key)!;
    expect(seenA.site).toBe('FR');
    expect(seenA.httpAddress).toBe('http://127.0.0.1:8081');
    expect(seenA.capacity).toEqual({ cpus: 4 });
  });

  it('propagates updates with member-updated', async () => {
    const updated = once<Member>(c, 'member-updated', (m) => m.key === a.key);
    a.setCapacity({ cpus: 2 });
    expect((await updated).capacity).toEqual({ cpus: 2 });
  });

  it('serves requests with the caller key', async () => {
    await expect(a.request(b.key, 'echo', { x: 1 })).resolves.toEqual({ echo: { x: 1 }, from: a.key });
  });

  it('reports remote errors with their code', async () => {
    const err = await a.request(b.key, 'fail', null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshError);
    expect((err as MeshError).code).toBe('REMOTE_ERROR');
    expect((err as MeshError).remoteCode).toBe('E_BOOM');
    expect((err as MeshError).message).toBe('boom');
    const none = await a.request(b.key, 'nope', null).catch((e: unknown) => e);
    expect((none as MeshError).code).toBe('NO_HANDLER');
  });

  it('times out a call that gets no answer, within the deadline', async () => {
    const t0 = performance.now();
    const err = await a.request(b.key, 'hang', null, { timeoutMs: 300 }).catch((e: unknown) => e);
    const elapsed = performance.now() - t0;
    expect((err as MeshError).code).toBe('TIMEOUT');
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1000);
  });

  it('bounds message sizes', async () => {
    const big = 'x'.repeat(1024 * 1024 + 10);
    const err = await a.request(b.key, 'echo', big).catch((e: unknown) => e);
    expect((err as MeshError).code).toBe('TOO_LARGE');
  });

  it('rejects calls to non-members clearly', async () => {
    const err = await a.request('00'.repeat(32), 'echo', null).catch((e: unknown) => e);
    expect((err as MeshError).code).toBe('NOT_MEMBER');
  });

  it('forwards HTTP requests and returns the answer unchanged', async () => {
    c.serveForwarded((req, from) => ({
      status: 201,
      headers: { 'content-type': 'text/plain', 'x-from': from },
      body: Buffer.concat([Buffer.from(`${req.method} ${req.path} `), req.body]),
    }));
    const res = await a.forward(c.key, {
      method: 'POST',
      path: '/compute/?x=1',
      headers: { 'content-type': 'text/plain', connection: 'keep-alive' },
      body: Buffer.from([0, 1, 2, 255]),
    });
    expect(res.status).toBe(201);
    expect(res.headers['x-from']).toBe(a.key);
    expect(res.body).toEqual(Buffer.concat([Buffer.from('POST /compute/?x=1 '), Buffer.from([0, 1, 2, 255])]));
  });

  it('gathers from every member and lists those that missed the deadline', async () => {
    d.handle('slow', async () => {
      await hang;
      return 'late';
    });
    for (const m of [a, b, c]) m.handle('slow', () => m.self().name);
    const t0 = performance.now();
    const r = await a.gather<string>('slow', null, { deadlineMs: 400 });
    expect(performance.now() - t0).toBeLessThan(1500);
    expect(r.replies.map((x) => x.value).sort()).toEqual(['a', 'b', 'c']);
    expect(r.missing).toHaveLength(1);
    expect(r.missing[0]).toMatchObject({ key: d.key, code: 'TIMEOUT' });
    expect(forwardErrorStatus(MeshError.TIMEOUT(1))).toBe(504);
  });

  it('refuses a peer that knows the topic but not the secret', async () => {
    const refused = once<{ key: string; reason: string }>(a, 'refused', (r) => r.reason === 'bad cluster proof');
    const intruder = fx.node('intruder', { secret: 'not-the-secret', topic: topicFor(SECRET) });
    intruder.handle('echo', () => 'leak');
    await intruder.start();
    const r = await refused;
    expect(r.key).toBe(intruder.key);
    expect(a.member(intruder.key)).toBeUndefined();
    expect(intruder.members()).toHaveLength(0);
    expect(a.stats().refused).toBeGreaterThan(0);
    const err = await a.request(intruder.key, 'echo', null).catch((e: unknown) => e);
    expect((err as MeshError).code).toBe('NOT_MEMBER');
    await intruder.destroy();
  });

  it('refuses revoked keys at handshake', async () => {
    const revokedNode = fx.node('revoked', { revoked: [] });
    for (const m of [a, b, c, d]) m.revoke(revokedNode.key);
    const refused = once<{ key: string }>(b, 'refused', (r) => r.key === revokedNode.key);
    await revokedNode.start();
    await refused;
    expect(b.member(revokedNode.key)).toBeUndefined();
    await revokedNode.destroy();
  });

  it('detects a member that leaves', async () => {
    const left = Promise.all([a, b, c].map((m) => once<Member>(m, 'member-left', (x) => x.key === d.key)));
    await d.close();
    await left;
    expect(a.members().map((m) => m.name).sort()).toEqual(['b', 'c']);
    await d.close(); // idempotent
  });
});

describe('delay injection and identity', () => {
  let fx: MeshFixture;
  beforeAll(async () => {
    fx = await MeshFixture.create();
  });
  afterAll(async () => {
    await fx?.dispose();
  });

  it('delays each written message by delayMs(peer): RTT grows by twice the delay', async () => {
    const kp1 = DHT.keyPair();
    const kp2 = DHT.keyPair();
    const k1 = kp1.publicKey.toString('hex');
    const k2 = kp2.publicKey.toString('hex');
    const x = fx.node('x', { keyPair: kp1, delayMs: (k) => (k === k2 ? 20 : 0), probesPerRound: 0 });
    const y = fx.node('y', { keyPair: kp2, delayMs: (k) => (k === k1 ? 20 : 0), probesPerRound: 0 });
    await Promise.all([x.start(), y.start()]);
    await Promise.all([x.waitForMembers(1), y.waitForMembers(1)]);
    const rtts: number[] = [];
    for (let i = 0; i < 5; i++) rtts.push(await x.ping(k2));
    const med = [...rtts].sort((p, q) => p - q)[2]!;
    expect(med).toBeGreaterThanOrEqual(40);
    expect(med).toBeLessThan(60);
    expect(x.measuredRtt(k2)).toBe(med);
    // The coordinate moved towards the injected distance.
    expect(x.vivaldi.distanceTo(y.vivaldi.getCoordinate())).toBeGreaterThan(5);
    const ranked = await x.nearest({ measure: true });
    expect(ranked[0]!.candidate.key).toBe(x.key);
    expect(ranked[1]!.measuredMs).toBeGreaterThanOrEqual(40);
  });

  it('keeps its identity across restarts (same data directory)', async () => {
    const dir = fx.tmpDir();
    const first = fx.node('p', { dataDir: dir });
    const key = first.key;
    await first.close();
    const second = fx.node('p', { dataDir: dir });
    expect(second.key).toBe(key);
    expect(() => fx.node('q', { bootstrap: [] })).toThrow(/bootstrap/);
  });
});

describe('connection replacement', () => {
  let fx: MeshFixture;
  beforeAll(async () => {
    fx = await MeshFixture.create();
  });
  afterAll(async () => {
    await fx?.dispose();
  });

  it('keeps the member and retries an idempotent call on the new connection', async () => {
    const opts = { reconnectGraceMs: 5000, probesPerRound: 0 };
    const p = fx.node('p', opts);
    const q = fx.node('q', opts);
    let calls = 0;
    q.handle('slow-read', async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 200));
      return 'value';
    });
    await Promise.all([p.start(), q.start()]);
    await Promise.all([p.waitForMembers(1), q.waitForMembers(1)]);
    const lost: string[] = [];
    p.on('member-left', (m) => lost.push(m.key));

    const idempotent = p.request(q.key, 'slow-read', null, { idempotent: true, timeoutMs: 8000 });
    const once1 = p.request(q.key, 'slow-read', null, { timeoutMs: 8000 }).catch((e: unknown) => e);
    // Drop the connection under the calls; Hyperswarm dials again and the new link takes over.
    await new Promise((r) => setTimeout(r, 50));
    const conn = [...(p as unknown as { swarm: { connections: Set<{ destroy(): void }> } }).swarm.connections][0]!;
    conn.destroy();
    const nonIdempotent = await once1;
    expect((nonIdempotent as MeshError).code).toBe('CLOSED');
    await expect(idempotent).resolves.toBe('value');
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(lost).toEqual([]);
    expect(p.member(q.key)).toBeDefined();
  });
});
