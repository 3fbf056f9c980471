import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import createTestnet, { type Testnet } from 'hyperdht/testnet.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_FILE, type AuditEntry } from '../../src/http/audit-log.js';
import { COMPUTE, OCCI_JSON, SMALL } from '../helpers/node.js';
import { call, type LimitedNode, startLimitedNode } from './limit-helpers.js';

const lines = (dataDir: string): AuditEntry[] =>
  readFileSync(join(dataDir, AUDIT_FILE), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as AuditEntry);

const SECRET_TITLE = 'title-that-must-not-be-logged';
const create = (url: string, headers: Record<string, string> = {}) =>
  call(url, '/compute/', { method: 'POST', headers: { 'Content-Type': OCCI_JSON, ...headers }, body: JSON.stringify({ kind: COMPUTE, mixins: [SMALL], attributes: { 'occi.core.title': SECRET_TITLE } }) });

describe('the audit log of a node', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'occi-audit-'));
  let node: LimitedNode;
  let token: string;
  let tid: string;
  beforeAll(async () => {
    node = await startLimitedNode({ dataDir, name: 'audit-node', auth: 'token' });
    const issued = node.auth.issue({ tenant: 'acme', admin: false });
    token = issued.token;
    tid = issued.meta.tid;
  });
  afterAll(async () => {
    await node.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('one durable line per mutation, served or refused, written before the answer; none for reads', async () => {
    const as = { 'X-Auth-Token': token };
    const t0 = Date.now();
    const created = await create(node.url, as);
    expect(created.status).toBe(201);
    // The answer left after the line was synced: it is there without waiting.
    const first = lines(dataDir).at(-1)!;
    expect(first).toMatchObject({ tenant: 'acme', tokenId: tid, node: 'audit-node', method: 'POST', path: '/compute/', status: 201, location: created.headers.location });
    expect(first.ms).toBeGreaterThanOrEqual(0);
    expect(Date.parse(first.time)).toBeGreaterThanOrEqual(t0 - 1000);
    expect(first.forwardedFrom).toBeUndefined();
    expect(first.forwardedTo).toBeUndefined();

    const vm = created.headers.location!;
    const outcomes: Array<[() => Promise<{ status: number }>, Partial<AuditEntry>]> = [
      [() => call(node.url, `${vm}?action=stop`, { method: 'POST', headers: as }), { method: 'POST', path: `${vm}?action=stop`, status: 200, tenant: 'acme' }],
      [() => call(node.url, '/compute/', { method: 'POST', headers: { ...as, 'Content-Type': OCCI_JSON }, body: '{' }), { method: 'POST', status: 400, tenant: 'acme' }],
      [() => create(node.url), { method: 'POST', status: 401, tenant: null, tokenId: null }],
      [() => create(node.url, { 'X-Auth-Token': `${token}x` }), { method: 'POST', status: 401, tenant: null, tokenId: null }],
      [() => call(node.url, '/compute/00000000-0000-0000-0000-000000000000', { method: 'DELETE', headers: as }), { method: 'DELETE', status: 404, tenant: 'acme' }],
      [() => call(node.url, '/-/', { method: 'PATCH', headers: as }), { method: 'PATCH', status: 405 }],
      [() => call(node.url, vm, { method: 'DELETE', headers: as }), { method: 'DELETE', path: vm, status: 200, tenant: 'acme', tokenId: tid }],
    ];
    for (const [request, expected] of outcomes) {
      const before = lines(dataDir).length;
      const res = await request();
      expect(res.status).toBe(expected.status);
      const written = lines(dataDir);
      expect(written.length).toBe(before + 1);
      expect(written.at(-1)).toMatchObject(expected);
    }

    const count = lines(dataDir).length;
    for (const path of ['/-/', '/compute/', vm, '/openapi.json']) await call(node.url, path, { headers: as });
    await call(node.url, '/compute/', { method: 'HEAD', headers: as });
    expect(lines(dataDir).length).toBe(count);

    const text = readFileSync(join(dataDir, AUDIT_FILE), 'utf8');
    expect(text).not.toContain(token.slice(-20));
    expect(text).not.toContain(SECRET_TITLE);
    expect(statSync(join(dataDir, AUDIT_FILE)).mode & 0o777).toBe(0o600);
  });

  it('concurrent mutations each get their line', async () => {
    const before = lines(dataDir).length;
    const answers = await Promise.all(Array.from({ length: 20 }, () => create(node.url, { 'X-Auth-Token': token })));
    expect(answers.every((a) => a.status === 201)).toBe(true);
    const added = lines(dataDir).slice(before);
    expect(added).toHaveLength(20);
    expect(new Set(added.map((l) => l.location))).toEqual(new Set(answers.map((a) => a.headers.location)));
  });

  it('survives a close and a restart on the same data directory: appended, nothing lost', async () => {
    const before = lines(dataDir);
    await node.close();
    node = await startLimitedNode({ dataDir, name: 'audit-node', auth: 'token' });
    const created = await create(node.url, { 'X-Auth-Token': token });
    expect(created.status).toBe(201);
    const after = lines(dataDir);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.slice(before.length)).toEqual([expect.objectContaining({ status: 201, location: created.headers.location, tokenId: tid })]);
  });
});

describe('a request forwarded between members is audited where it entered and where it was served', () => {
  let testnet: Testnet;
  const nodes: LimitedNode[] = [];
  beforeAll(async () => {
    testnet = await createTestnet(3, { host: '127.0.0.1' });
    for (const name of ['aud-a', 'aud-b']) {
      nodes.push(
        await startLimitedNode({ name, mesh: { secret: 'audit-test', bootstrap: testnet.bootstrap, forwardTimeoutMs: 5000, tuning: { connectionTimeoutMs: 1500, heartbeatTimeoutMs: 1500, requestTimeoutMs: 1500 } } }),
      );
    }
    await Promise.all(nodes.map((n) => n.mesh!.waitForMembers(1, 20_000)));
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled(nodes.map((n) => n.dispose()));
    await testnet.destroy();
  });

  it('forwardedTo at the entry node, forwardedFrom at the member that served it; a client cannot forge either', async () => {
    const [a, b] = nodes as [LimitedNode, LimitedNode];
    const created = await create(b.url);
    const vm = created.headers.location!;
    const res = await call(a.url, vm, { method: 'POST', headers: { 'Content-Type': OCCI_JSON, 'X-Discovery-Forwarded-From': 'forged' }, body: JSON.stringify({ attributes: { 'occi.core.title': 'renamed' } }) });
    expect(res.status).toBe(200);
    const atEntry = lines(a.dataDir).at(-1)!;
    const atHolder = lines(b.dataDir).at(-1)!;
    expect(atEntry).toMatchObject({ node: 'aud-a', method: 'POST', path: vm, status: 200, forwardedTo: 'aud-b' });
    expect(atEntry.forwardedFrom).toBeUndefined();
    expect(atHolder).toMatchObject({ node: 'aud-b', method: 'POST', path: vm, status: 200, forwardedFrom: 'aud-a' });
    expect(atHolder.forwardedTo).toBeUndefined();

    // Sent straight to the holder, the header is not trusted.
    await call(b.url, vm, { method: 'POST', headers: { 'Content-Type': OCCI_JSON, 'X-Discovery-Forwarded-From': 'forged', 'X-Discovery-Local': 'guess' }, body: '{"attributes":{}}' });
    expect(lines(b.dataDir).at(-1)!.forwardedFrom).toBeUndefined();
  });
});
