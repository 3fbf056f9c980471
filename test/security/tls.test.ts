import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import createTestnet, { type Testnet } from 'hyperdht/testnet.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HSTS } from '../../src/http/security-headers.js';
import { COMPUTE, OCCI_JSON, SMALL } from '../helpers/node.js';
import { call, type LimitedNode, SECURITY_HEADER_VALUES, selfSignedCertificate, startLimitedNode } from './limit-helpers.js';
import { entityPath } from '../helpers/occi-json.js';

const tls = selfSignedCertificate();
afterAll(() => tls.dispose());

describe('a node with --tls-cert and --tls-key', () => {
  let node: LimitedNode;
  beforeAll(async () => {
    node = await startLimitedNode({ tlsCert: tls.cert, tlsKey: tls.key });
  });
  afterAll(() => node.dispose());

  it('serves HTTPS with HSTS and the security headers, and nothing in plain HTTP', async () => {
    expect(node.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const res = await call(node.url, '/-/', { ca: tls.ca });
    expect(res.status).toBe(200);
    expect(res.headers['strict-transport-security']).toBe(HSTS);
    for (const [k, v] of Object.entries(SECURITY_HEADER_VALUES)) expect(res.headers[k], k).toBe(v);
    const created = await call(node.url, '/compute/', { ca: tls.ca, method: 'POST', headers: { 'Content-Type': OCCI_JSON }, body: JSON.stringify({ kind: COMPUTE, mixins: [SMALL] }) });
    expect(created.status).toBe(201);
    // Absolute URIs of text renderings name the https origin.
    const uris = await call(node.url, '/compute/', { ca: tls.ca, headers: { Accept: 'text/uri-list' } });
    expect(uris.body.trim()).toBe(`${node.url}${created.headers.location}`);
    // Plain HTTP on the TLS port gets no answer in clear.
    await expect(call(node.url.replace('https:', 'http:'), '/-/')).rejects.toThrow();
    // A client that does not trust the certificate is refused by its own TLS stack.
    await expect(call(node.url, '/-/')).rejects.toThrow(/self.signed|certificate/i);
  });

  it('refuses to start with a certificate and no key', async () => {
    await expect(startLimitedNode({ tlsCert: tls.cert })).rejects.toThrow(/--tls-key/);
  });
});

describe('a mesh of TLS nodes', () => {
  let testnet: Testnet;
  const nodes: LimitedNode[] = [];
  const dirs: string[] = [];
  beforeAll(async () => {
    testnet = await createTestnet(3, { host: '127.0.0.1' });
    for (const name of ['tls-a', 'tls-b']) {
      const dataDir = mkdtempSync(join(tmpdir(), `occi-tls-mesh-`));
      dirs.push(dataDir);
      nodes.push(
        await startLimitedNode({
          dataDir,
          name,
          tlsCert: tls.cert,
          tlsKey: tls.key,
          mesh: { secret: 'tls-mesh-test', bootstrap: testnet.bootstrap, forwardTimeoutMs: 5000, tuning: { connectionTimeoutMs: 1500, heartbeatTimeoutMs: 1500, requestTimeoutMs: 1500 } },
        }),
      );
    }
    await Promise.all(nodes.map((n) => n.mesh!.waitForMembers(1, 20_000)));
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled(nodes.map((n) => n.dispose()));
    await testnet.destroy();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it('a request for an entity held by the other node is forwarded and answered over HTTPS, with HSTS', async () => {
    const [a, b] = nodes as [LimitedNode, LimitedNode];
    const created = await call(b.url, '/compute/', { ca: tls.ca, method: 'POST', headers: { 'Content-Type': OCCI_JSON }, body: JSON.stringify({ kind: COMPUTE, mixins: [SMALL], attributes: { 'occi.core.title': 'held-by-b' } }) });
    expect(created.status).toBe(201);
    const location = created.headers.location!;
    expect(a.service.holds(location.split('/').pop()!)).toBe(false);

    const read = await call(a.url, location, { ca: tls.ca });
    expect(read.status).toBe(200);
    expect(JSON.parse(read.body).title).toBe('held-by-b');
    expect(read.headers['x-discovery-served-by']).toBe('tls-b');
    expect(read.headers['strict-transport-security']).toBe(HSTS);
    for (const [k, v] of Object.entries(SECURITY_HEADER_VALUES)) expect(read.headers[k], k).toBe(v);

    const refused = await call(a.url, `${location}?action=nosuchaction`, { ca: tls.ca, method: 'POST', headers: { 'Content-Type': OCCI_JSON }, body: '{}' });
    expect(refused.status).toBe(400);
    expect(refused.headers['x-discovery-served-by']).toBe('tls-b');
    for (const [k, v] of Object.entries({ ...SECURITY_HEADER_VALUES, 'strict-transport-security': HSTS })) expect(refused.headers[k], `${k} on a relayed 400`).toBe(v);
    const list = await call(a.url, '/compute/', { ca: tls.ca });
    expect(JSON.parse(list.body).resources.map(entityPath)).toContain(location);
    for (const [k, v] of Object.entries({ ...SECURITY_HEADER_VALUES, 'strict-transport-security': HSTS })) expect(list.headers[k], `${k} on a mesh-wide collection`).toBe(v);

    const updated = await call(a.url, location, { ca: tls.ca, method: 'POST', headers: { 'Content-Type': OCCI_JSON }, body: JSON.stringify({ attributes: { 'occi.core.title': 'renamed' } }) });
    expect(updated.status).toBe(200);
    expect(JSON.parse((await call(b.url, location, { ca: tls.ca })).body).title).toBe('renamed');
    expect((await call(a.url, location, { ca: tls.ca, method: 'DELETE' })).status).toBe(200);
    expect((await call(b.url, location, { ca: tls.ca })).status).toBe(404);
  });
});
