import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signingKeyFromSecret, verifyToken } from '../../src/http/auth/token.js';
import { type SecureNode, startSecureNode } from './security-helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
const run = promisify(execFile);
const token = (...args: string[]) => run(TSX, ['src/cli/token.ts', ...args], { cwd: ROOT, timeout: 30_000 });

let node: SecureNode;
beforeAll(async () => {
  node = await startSecureNode();
});
afterAll(() => node.dispose());

const status = async (t: string) => (await fetch(`${node.url}/compute/`, { headers: { 'X-Auth-Token': t, Accept: 'application/json' } })).status;

describe('npm run token', () => {
  let offline: string;
  let tid: string;

  it('create --data-dir signs offline with the node\'s key and records the token there', async () => {
    const { stdout, stderr } = await token('create', '--tenant', 'acme', '--expires', '30d', '--data-dir', node.dataDir);
    offline = stdout.trim();
    tid = /tid (\S+),/.exec(stderr)![1]!;
    expect(offline).toMatch(/^dsc1\.[\w-]+\.[\w-]+$/);
    expect(stderr).toMatch(/tenant acme, expires 20\d\d-/);
    expect(await status(offline)).toBe(200);
    expect(node.auth.store.tokens().some((t) => t.tid === tid && t.tenant === 'acme' && t.expires !== null)).toBe(true);
  }, 40_000);

  it('create --cluster-secret signs a token every member of that mesh accepts', async () => {
    const { stdout } = await token('create', '--tenant', 'globex', '--admin', '--cluster-secret', 's3cret');
    const checked = verifyToken(signingKeyFromSecret('s3cret'), stdout.trim());
    expect(checked).toMatchObject({ ok: true, claims: { tenant: 'globex', admin: true } });
    expect(await status(stdout.trim())).toBe(401); // this node is not in that mesh
  }, 40_000);

  it('list, quota and revoke through the admin endpoints of a running node', async () => {
    const list = await token('list', '--node', node.url, '--token', node.adminToken);
    expect(list.stdout).toContain(`${tid}\tacme\t-`);
    await node.auth.setQuota('acme', { storageGiB: 100 });
    const quota = await token('quota', 'acme', '--cores', '8', '--instances', '4', '--node', node.url, '--token', node.adminToken);
    // The limits not given are kept.
    expect(JSON.parse(quota.stdout)).toMatchObject({ tenant: 'acme', quota: { cores: 8, instances: 4, storageGiB: 100 } });
    await token('revoke', tid, '--node', node.url, '--token', node.adminToken);
    expect(await status(offline)).toBe(401);
    expect(node.auth.store.isRevoked(tid)).toBe(true);
  }, 60_000);
});
