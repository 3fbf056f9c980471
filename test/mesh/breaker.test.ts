import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeshError } from '../../src/mesh/errors.js';
import { forwardErrorStatus } from '../../src/mesh/http-forwarding.js';
import type { Mesh } from '../../src/mesh/mesh.js';
import { MeshFixture } from './mesh-helpers.js';

const FAILURES = 3;
const HALF_OPEN_AFTER_MS = 600;
/** A call refused by an open breaker is not sent: it fails at once, far below any timeout used here. */
const REFUSED_WITHIN_MS = 50;

describe('circuit breaker of a member whose calls get no answer (loopback testnet)', () => {
  let fx: MeshFixture;
  let p: Mesh, q: Mesh;
  let echoes = 0;
  /** When the breaker opened (the last of the timeouts that opened it). */
  let openedAt = 0;
  let releaseHang: () => void = () => undefined;
  const hang = new Promise<void>((resolve) => {
    releaseHang = resolve;
  });

  beforeAll(async () => {
    fx = await MeshFixture.create();
    // No probes: their answers would close the breaker between the calls under test.
    p = fx.node('p', { probesPerRound: 0, breakerConsecutiveFailures: FAILURES, breakerHalfOpenAfterMs: HALF_OPEN_AFTER_MS });
    q = fx.node('q', { probesPerRound: 0 });
    q.handle('echo', (v) => {
      echoes++;
      return v;
    });
    q.handle('hang', async () => {
      await hang;
      return null;
    });
    q.handle('fail', () => {
      throw Object.assign(new Error('boom'), { code: 'E_BOOM' });
    });
    await Promise.all([p.start(), q.start()]);
    await Promise.all([p.waitForMembers(1), q.waitForMembers(1)]);
  });

  afterAll(async () => {
    releaseHang();
    await fx?.dispose();
  });

  it('stays closed while the member answers, even with errors', async () => {
    for (let i = 0; i < FAILURES + 2; i++) {
      await expect(p.request(q.key, 'fail', null)).rejects.toMatchObject({ code: 'REMOTE_ERROR', remoteCode: 'E_BOOM' });
    }
    await expect(p.request(q.key, 'echo', 1)).resolves.toBe(1);
  });

  it('opens after consecutive timeouts: calls fail at once with UNREACHABLE (503) and are not sent, idempotent ones too', async () => {
    for (let i = 0; i < FAILURES; i++) {
      await expect(p.request(q.key, 'hang', null, { timeoutMs: 100 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    }
    openedAt = performance.now();
    const sent = p.stats().requestsSent;
    const before = echoes;
    for (const idempotent of [false, true]) {
      const t0 = performance.now();
      const err = await p.request(q.key, 'echo', 2, { idempotent, timeoutMs: 5000 }).catch((e: unknown) => e);
      expect(performance.now() - t0).toBeLessThan(REFUSED_WITHIN_MS);
      expect(err).toBeInstanceOf(MeshError);
      expect((err as MeshError).code).toBe('UNREACHABLE');
      expect((err as MeshError).message).toContain('circuit open');
      expect(forwardErrorStatus(err)).toBe(503);
    }
    expect(p.stats().requestsSent).toBe(sent);
    expect(echoes).toBe(before);
    // The member itself stays: its heartbeats still arrive.
    expect(p.member(q.key)).toBeDefined();
  });

  it('half-opens after a while: the first call through closes it again', async () => {
    let answeredAt: number | undefined;
    // Bounded: the breaker must let a call through within its half-open delay plus a margin.
    while (answeredAt === undefined && performance.now() - openedAt < HALF_OPEN_AFTER_MS + 2000) {
      const ok = await p.request(q.key, 'echo', 3).then(
        () => true,
        () => false,
      );
      if (ok) answeredAt = performance.now();
      else await new Promise((r) => setTimeout(r, 25));
    }
    expect(answeredAt).toBeDefined();
    // 20 ms for the clocks' granularity (the breaker reads Date.now()).
    expect(answeredAt! - openedAt).toBeGreaterThanOrEqual(HALF_OPEN_AFTER_MS - 20);
    await expect(p.request(q.key, 'echo', 4)).resolves.toBe(4);
  });
});
