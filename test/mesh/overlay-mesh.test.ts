/**
 * The overlay as the mesh's membership, over real Hyperswarm on a loopback testnet: a dozen
 * nodes in one process, each within a bound of 6 links.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mesh, MeshOptions } from '../../src/mesh/mesh.js';
import { SWARM_SLACK } from '../../src/mesh/membership-mode.js';
import { MeshFixture } from './mesh-helpers.js';

const N = 12;
const BOUND = 6;
/** Two nearest and one random link of its own, at most two from others: room is left for links on demand. */
const OVERLAY: MeshOptions['overlay'] = { maxConnections: BOUND, viewNearest: 2, viewRandom: 1, maxViewIn: 2, dialTimeoutMs: 3000 };
/** Stated bound on the detection of a destroyed node by every other (ms). */
const DETECTION_BOUND_MS = 15_000;

/** A call, tried again a few times: a link on demand may be refused by a member at its bound. */
async function requestWithRetry(from: Mesh, to: string): Promise<{ attempts: number; reply: unknown }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return { attempts: attempt, reply: await from.request(to, 'test/echo', { from: from.key }, { timeoutMs: 5000 }) };
    } catch (err) {
      if (attempt >= 8) throw err;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

describe(`overlay membership over Hyperswarm (${N} nodes, bound ${BOUND})`, () => {
  let fx: MeshFixture;
  let meshes: Mesh[];
  const maxSeen = { links: 0, connections: 0 };
  let sampler: NodeJS.Timeout;

  beforeAll(async () => {
    fx = await MeshFixture.create();
    meshes = Array.from({ length: N }, (_, i) => fx.node(`o${i}`, { membership: 'overlay', overlay: OVERLAY }));
    for (const m of meshes) m.handle('test/echo', (payload) => ({ echo: payload, at: m.key }));
    sampler = setInterval(() => {
      for (const m of fx.meshes) {
        const s = m.stats();
        maxSeen.links = Math.max(maxSeen.links, s.overlay?.links ?? 0);
        maxSeen.connections = Math.max(maxSeen.connections, s.connections);
      }
    }, 50);
    await Promise.all(meshes.map((m) => m.start()));
  }, 60_000);

  afterAll(async () => {
    clearInterval(sampler);
    await fx?.dispose();
  }, 60_000);

  it('gives every node all the others as members, within its link bound', async () => {
    const t0 = Date.now();
    await Promise.all(meshes.map((m) => m.waitForMembers(N - 1, 90_000)));
    const elapsed = Date.now() - t0;
    console.log(`overlay-mesh: full membership of ${N} nodes ${elapsed} ms after start`);
    for (const m of meshes) {
      expect(m.members().map((x) => x.key).sort()).toEqual(meshes.filter((o) => o !== m).map((o) => o.key).sort());
      expect(m.member(meshes[0] === m ? meshes[1]!.key : meshes[0]!.key)?.name).toMatch(/^o\d+$/);
    }
    expect(maxSeen.links).toBeLessThanOrEqual(BOUND);
  }, 120_000);

  it('makes every request from every node to every other succeed, dialling links on demand', async () => {
    const attempts: number[] = [];
    await Promise.all(
      meshes.map(async (from) => {
        for (const to of meshes) {
          if (to === from) continue;
          const r = await requestWithRetry(from, to.key);
          expect(r.reply).toEqual({ echo: { from: from.key }, at: to.key });
          attempts.push(r.attempts);
        }
      }),
    );
    expect(attempts).toHaveLength(N * (N - 1));
    const first = attempts.filter((a) => a === 1).length;
    console.log(`overlay-mesh: ${attempts.length} requests, ${first} at the first attempt, at most ${Math.max(...attempts)} attempts; max links ${maxSeen.links}, max connections ${maxSeen.connections}`);
    expect(maxSeen.links).toBeLessThanOrEqual(BOUND);
    expect(maxSeen.connections).toBeLessThanOrEqual(BOUND + SWARM_SLACK);
    for (const m of meshes) expect(m.stats().overlay!.links).toBeLessThanOrEqual(BOUND);
  }, 180_000);

  it('finds a record put on one node from every other', async () => {
    const holder = meshes[3]!;
    holder.directory().put('vm:42', JSON.stringify({ site: 'FR' }));
    const t0 = Date.now();
    await Promise.all(
      meshes.map(async (m) => {
        for (;;) {
          const r = await m.directory().find('vm:42');
          if (r.records.some((x) => x.by === holder.key)) return expect(r.records.find((x) => x.by === holder.key)!.value).toBe('{"site":"FR"}');
          if (Date.now() - t0 > 30_000) throw new Error(`record not found from ${m.key.slice(0, 8)}`);
          await new Promise((res) => setTimeout(res, 500));
        }
      }),
    );
    console.log(`overlay-mesh: record found from all ${N} nodes ${Date.now() - t0} ms after the put`);
  }, 60_000);

  it('reports a node closed gracefully as left on every other, from its goodbye', async () => {
    const leaving = meshes[9]!;
    const others = meshes.filter((m) => m !== leaving && m !== meshes[7]);
    const reasons = others.map(
      (m) =>
        new Promise<string>((resolve) => {
          const onLeft = (member: { key: string }, reason: string): void => {
            if (member.key !== leaving.key) return;
            m.off('member-left', onLeft);
            resolve(reason);
          };
          m.on('member-left', onLeft);
        }),
    );
    const t0 = Date.now();
    await leaving.close();
    expect(new Set(await Promise.all(reasons))).toEqual(new Set(['left']));
    console.log(`overlay-mesh: a goodbye reported by all ${others.length} others within ${Date.now() - t0} ms of close()`);
  }, 30_000);

  it(`reports a destroyed node as left (lost) on every other within ${DETECTION_BOUND_MS} ms`, async () => {
    const victim = meshes[7]!;
    const others = meshes.filter((m) => m !== victim && m !== meshes[9]);
    const detected = others.map(
      (m) =>
        new Promise<{ ms: number; reason: string }>((resolve) => {
          const onLeft = (member: { key: string }, reason: string): void => {
            if (member.key !== victim.key) return;
            m.off('member-left', onLeft);
            resolve({ ms: Date.now() - t0, reason });
          };
          m.on('member-left', onLeft);
        }),
    );
    const t0 = Date.now();
    await victim.destroy();
    const results = await Promise.race([
      Promise.all(detected),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('not every node detected the destroyed node')), DETECTION_BOUND_MS)),
    ]);
    const times = results.map((r) => r.ms).sort((a, b) => a - b);
    console.log(`overlay-mesh: destroyed node reported left by all ${others.length} others: first ${times[0]} ms, median ${times[Math.floor(times.length / 2)]} ms, last ${times[times.length - 1]} ms`);
    for (const r of results) expect(r.reason).toBe('lost');
    for (const m of others) expect(m.member(victim.key)).toBeUndefined();
  }, 60_000);

  it('hides a revoked member from the nodes that revoked it, and only from them', async () => {
    const revoked = meshes[5]!;
    const revokers = [meshes[0]!, meshes[1]!, meshes[2]!];
    const others = meshes.filter((m) => !revokers.includes(m) && m !== revoked && m !== meshes[7] && m !== meshes[9]);
    const reports: Array<{ by: string; reason: string }> = [];
    for (const m of meshes) m.on('member-left', (member, reason) => member.key === revoked.key && reports.push({ by: m.key, reason }));
    for (const m of revokers) m.revoke(revoked.key);
    // Long enough for a link's grace, a dial and a whole suspicion, had the refusal read as a death.
    await new Promise((r) => setTimeout(r, 6000));
    expect(reports.map((r) => r.reason)).toEqual(['revoked', 'revoked', 'revoked']);
    expect(new Set(reports.map((r) => r.by))).toEqual(new Set(revokers.map((m) => m.key)));
    for (const m of revokers) {
      expect(m.member(revoked.key)).toBeUndefined();
      expect(m.members().map((x) => x.key)).not.toContain(revoked.key);
      const err = await m.request(revoked.key, 'test/echo', null, { timeoutMs: 2000 }).catch((e: unknown) => e as { code?: string });
      expect(err).toMatchObject({ code: expect.stringMatching(/^(NOT_MEMBER|UNAUTHORIZED)$/) });
    }
    for (const m of others) {
      expect(m.member(revoked.key)?.name).toBe('o5');
      expect((await requestWithRetry(m, revoked.key)).reply).toEqual({ echo: { from: m.key }, at: revoked.key });
    }
    // The revokers refuse the revoked node's calls at the handshake.
    for (const m of revokers) await expect(revoked.request(m.key, 'test/echo', null, { timeoutMs: 3000 })).rejects.toBeInstanceOf(Error);
  }, 60_000);
});
