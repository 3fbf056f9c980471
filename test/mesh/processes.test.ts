import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeshError } from '../../src/mesh/errors.js';
import { forwardErrorStatus } from '../../src/mesh/http-forwarding.js';
import type { Member, Mesh } from '../../src/mesh/mesh.js';
import { MeshFixture, once, SECRET } from './mesh-helpers.js';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'mesh-node.ts');
/** Loss-detection bound with the default options: connection timeout 3 s + reconnect grace 0.5 s (+ 1 s margin for a loaded machine). */
const DETECTION_BOUND_MS = 4500;

interface Child {
  name: string;
  dataDir: string;
  proc: ChildProcess;
  key: string;
  lines: Array<Record<string, unknown>>;
  waitLine(match: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

function startChild(fx: MeshFixture, name: string, dataDir: string): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    env: { ...process.env, MESH_FIXTURE: JSON.stringify({ bootstrap: fx.testnet.bootstrap, secret: SECRET, name, dataDir }) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Array<Record<string, unknown>> = [];
  const waiters = new Set<() => void>();
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      return;
    }
    for (const w of [...waiters]) w();
  });
  const waitLine = (match: (l: Record<string, unknown>) => boolean, timeoutMs = 15_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const check = (): void => {
        const found = lines.find(match);
        if (found) {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`${name}: no matching line within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return waitLine((l) => l.event === 'ready').then((l) => ({ name, dataDir, proc, key: String(l.key), lines, waitLine }));
}

function stopChild(c: Child): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => c.proc.kill('SIGKILL'), 3000);
    c.proc.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    c.proc.kill('SIGTERM');
  });
}

describe('mesh across processes (loopback testnet)', () => {
  let fx: MeshFixture;
  let obs: Mesh;
  const children: Child[] = [];

  beforeAll(async () => {
    fx = await MeshFixture.create();
    obs = fx.node('observer');
    await obs.start();
    children.push(
      ...(await Promise.all(['n1', 'n2', 'n3'].map((n) => startChild(fx, n, join(fx.tmpDir(), n))))),
    );
    await obs.waitForMembers(3, 20_000);
    // Every child sees the observer and the two other children.
    await Promise.all(children.map((c) => c.waitLine((l) => l.event === 'joined' && l.members === 3)));
  });

  afterAll(async () => {
    await Promise.allSettled(children.map(stopChild));
    await fx?.dispose();
  });

  it('converges and serves RPCs between processes', async () => {
    expect(obs.members().map((m) => m.name).sort()).toEqual(['n1', 'n2', 'n3']);
    const [n1] = children;
    await expect(obs.request(n1!.key, 'echo', 7)).resolves.toEqual({ echo: 7, from: obs.key, by: 'n1' });
    const res = await obs.forward(n1!.key, { method: 'GET', path: '/compute/1', headers: {}, body: Buffer.alloc(0) });
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('GET /compute/1');
  });

  it('detects a SIGKILLed member within the bound, fails forwards to it quickly, and rejoins it with the same identity', async () => {
    const victim = children[2]!;
    const left = once<Member>(obs, 'member-left', (m) => m.key === victim.key, 15_000);
    const t0 = performance.now();
    victim.proc.kill('SIGKILL');

    // A forward to the stopped member gets a clear error within its timeout, not a hang.
    const err = await obs
      .forward(victim.key, { method: 'GET', path: '/compute/9', headers: {}, body: Buffer.alloc(0) }, { timeoutMs: 1500 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshError);
    expect([503, 504]).toContain(forwardErrorStatus(err));
    expect(performance.now() - t0).toBeLessThan(2500);

    await left;
    const detectedMs = performance.now() - t0;
    process.stderr.write(`mesh: SIGKILLed member detected after ${detectedMs.toFixed(0)} ms\n`);
    expect(detectedMs).toBeLessThan(DETECTION_BOUND_MS);
    // The other processes saw it too.
    await Promise.all(children.slice(0, 2).map((c) => c.waitLine((l) => l.event === 'left' && l.key === victim.key)));
    // After detection the error is immediate.
    const gone = await obs.request(victim.key, 'echo', null).catch((e: unknown) => e);
    expect((gone as MeshError).code).toBe('NOT_MEMBER');

    const rejoined = once<Member>(obs, 'member-joined', (m) => m.key === victim.key, 20_000);
    const restarted = await startChild(fx, victim.name, victim.dataDir);
    children[2] = restarted;
    expect(restarted.key).toBe(victim.key);
    expect((await rejoined).name).toBe('n3');
    await expect(obs.request(victim.key, 'echo', 1)).resolves.toMatchObject({ by: 'n3' });
  });
});
