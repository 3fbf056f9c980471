import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyToken } from '../../src/http/auth/token.js';
import { readJwks } from '../../src/http/auth/token-keys.js';
import { type SecureNode, startSecureNode } from './security-helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
const run = promisify(execFile);
const token = (args: string[], env: Record<string, string> = {}) => run(TSX, ['src/cli/token.ts', ...args], { cwd: ROOT, timeout: 30_000, env: { ...process.env, ...env } });

let node: SecureNode;
const keysDir = mkdtempSync(join(tmpdir(), 'token-cli-keys-'));
beforeAll(async () => {
  node = await startSecureNode();
});
afterAll(async () => {
  await node.dispose();
  rmSync(keysDir, { recursive: true, force: true });
});

const status = async (t: string) => (await fetch(`${node.url}/compute/`, { headers: { 'X-Auth-Token': t, Accept: 'application/json' } })).status;

describe('npm run token', () => {
  let offline: string;
  let tid: string;

  it('create --data-dir signs offline with the node\'s key and records the token there', async () => {
    const { stdout, stderr } = await token(['create', '--tenant', 'acme', '--expires', '30d', '--data-dir', node.dataDir]);
    offline = stdout.trim();
    tid = /tid (\S+),/.exec(stderr)![1]!;
    expect(offline).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(stderr).toMatch(/tenant acme, kid [\w-]+, expires 20\d\d-/);
    expect(await status(offline)).toBe(200);
    expect(node.auth.store.tokens().some((t) => t.tid === tid && t.tenant === 'acme' && t.expires !== null)).toBe(true);
  }, 40_000);

  it('keygen writes a private issuer key (0600) and its public key into a JWKS; create --issuer-key signs offline with it', async () => {
    const keyFile = join(keysDir, 'issuer.jwk');
    const jwks = join(keysDir, 'jwks.json');
    const kid = (await token(['keygen', '--out', keyFile, '--jwks', jwks])).stdout.trim();
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readJwks(jwks).map((k) => k.kid)).toEqual([kid]);
    expect(readFileSync(jwks, 'utf8')).not.toContain('"d"');
    await expect(token(['keygen', '--out', keyFile])).rejects.toThrow(/never overwritten/);
    const { stdout } = await token(['create', '--tenant', 'globex', '--admin', '--issuer-key', keyFile]);
    const [trusted] = readJwks(jwks);
    expect(verifyToken((k) => (k === trusted!.kid ? trusted!.publicKey : undefined), stdout.trim())).toMatchObject({ ok: true, kid, claims: { tenant: 'globex', admin: true, iss: 'offline' } });
    expect(await status(stdout.trim())).toBe(401); // this node does not trust that key
  }, 40_000);

  it('the admin token never goes on the command line: --token is refused, DISCOVERY_TOKEN and --token-file are read', async () => {
    await expect(token(['list', '--node', node.url, '--token', node.adminToken])).rejects.toThrow(/ps shows it/);
    const file = join(keysDir, 'admin-token');
    writeFileSync(file, `${node.adminToken}\n`, { mode: 0o600 });
    expect((await token(['list', '--node', node.url, '--token-file', file])).stdout).toContain('tid\ttenant');
    expect((await token(['list', '--node', node.url], { DISCOVERY_TOKEN: node.adminToken })).stdout).toContain('tid\ttenant');
  }, 40_000);

  it('list, quota and revoke through the admin endpoints of a running node', async () => {
    const admin = { DISCOVERY_TOKEN: node.adminToken };
    const list = await token(['list', '--node', node.url], admin);
    expect(list.stdout).toContain(`${tid}\tacme\t-`);
    await node.auth.setQuota('acme', { storageGiB: 100 });
    const quota = await token(['quota', 'acme', '--cores', '8', '--instances', '4', '--node', node.url], admin);
    // The limits not given are kept.
    expect(JSON.parse(quota.stdout)).toMatchObject({ tenant: 'acme', quota: { cores: 8, instances: 4, storageGiB: 100 } });
    await token(['revoke', tid, '--node', node.url], admin);
    expect(await status(offline)).toBe(401);
    expect(node.auth.store.isRevoked(tid)).toBe(true);
  }, 60_000);
});
