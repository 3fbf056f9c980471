import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { StateOnlyBackend } from '../../src/occi/backend.js';
import { startNode } from '../../src/node.js';
// Every answer checked against openapi/occi.yaml, as in the other suites.
import '../helpers/openapi-conformance.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'first-start-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Starts the CLI and answers everything it printed up to its listening line (printed after the token line). */
async function start(args: string[]): Promise<{ out: string; url: string; child: ChildProcess }> {
  const child = spawn(TSX, ['src/cli/node.ts', '--port', '0', '--data-dir', dataDir, '--rate-limit', '0', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line in 30 s: ${out}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"url":"(http:\/\/[^"]+)".*"msg":"OCCI node listening"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${out}`)));
  });
  return { out, url, child };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

describe('secure by default', () => {
  it('the first start of the CLI prints an admin token once, on stdout only (never in a log line); it works; the next start prints none; the data directory is private', async () => {
    const first = await start([]);
    let token: string;
    try {
      token = /^Admin token \(shown once; keep it safe\): (\S+)$/m.exec(first.out)![1]!;
      const lines = first.out.split('\n').filter((l) => l.includes(token));
      expect(lines).toHaveLength(1); // the stdout line, and no log line
      expect(lines[0]!.startsWith('{')).toBe(false);
      expect(first.out).toMatch(/"msg":"first start with this issuer key: issued an admin token, printed once on stdout"/);
      expect((await fetch(`${first.url}/-/`)).status).toBe(401);
      expect((await fetch(`${first.url}/-/`, { headers: { 'X-Auth-Token': token } })).status).toBe(200);
      // Everything the node wrote is its user's alone: the directory 0700, every file 0600.
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
      const files = readdirSync(dataDir, { recursive: true, withFileTypes: true });
      expect(files.map((f) => f.name)).toEqual(expect.arrayContaining(['issuer-key.jwk', 'auth.db', 'entities.db', 'audit.log']));
      for (const f of files) {
        const mode = statSync(join(f.parentPath, f.name)).mode & 0o777;
        expect(`${f.name} ${mode.toString(8)}`).toBe(`${f.name} ${f.isDirectory() ? '700' : '600'}`);
      }
    } finally {
      await stop(first.child);
    }
    // A later start on the same data directory issues none (in-process: same code path, no second process).
    const again = await startNode({ port: 0, dataDir, backend: new StateOnlyBackend(), logger: pino({ level: 'silent' }), printAdminToken: false });
    try {
      expect(again.auth.initialAdminToken).toBeUndefined();
      expect((await fetch(`${again.url}/-/`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
    } finally {
      await again.close();
    }
  }, 90_000);

  it('--auth none says so loudly at every start, and serves without a token', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const dir = mkdtempSync(join(tmpdir(), 'auth-none-'));
    const node = await startNode({ port: 0, dataDir: dir, backend: new StateOnlyBackend(), logger, auth: 'none' });
    try {
      expect(lines.some((l) => /"level":40.*AUTHENTICATION IS DISABLED \(--auth none\)/.test(l))).toBe(true);
      expect(lines.join('')).not.toMatch(/"token":|Admin token/);
      expect((await fetch(`${node.url}/-/`)).status).toBe(200);
    } finally {
      await node.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
