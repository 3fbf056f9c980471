/**
 * Smaller holes of the HTTP surface: what goes into Location and absolute URIs (the configured
 * public URL, or a checked Host), text/occi collections too big for one header line, and a 405 for
 * a method the document does not declare on the query interface.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_LOCATIONS_HEADER_BYTES } from '../../src/occi/text/text-rendering.js';
import { COMPUTE, OCCI_JSON, SMALL } from '../helpers/node.js';
import { call } from './limit-helpers.js';
import { type SecureNode, startSecureNode } from './security-helpers.js';

const TEXT_COMPUTE = { Category: 'compute;scheme="http://schemas.ogf.org/occi/infrastructure#";class="kind"', 'Content-Type': 'text/occi', Accept: 'text/plain' };

describe('regression: Location and absolute URIs never copy the Host header unchecked', () => {
  let pinned: SecureNode;
  let open: SecureNode;
  beforeAll(async () => {
    pinned = await startSecureNode({ publicUrl: 'https://cloud.example:8443' });
    open = await startSecureNode();
  });
  afterAll(async () => {
    await pinned?.dispose();
    await open?.dispose();
  });

  it('with --public-url, whatever Host the client sends, Location and the text renderings name the public URL', async () => {
    const res = await call(pinned.url, '/compute/', { method: 'POST', headers: { ...TEXT_COMPUTE, 'X-Auth-Token': pinned.adminToken, Host: 'evil.example' } });
    expect(res.status, res.body).toBe(201);
    expect(res.headers.location).toMatch(/^https:\/\/cloud\.example:8443\/compute\/[0-9a-f-]{36}$/);
    expect(res.body).not.toContain('evil.example');
    const list = await call(pinned.url, '/compute/', { headers: { Accept: 'text/uri-list', 'X-Auth-Token': pinned.adminToken, Host: 'evil.example', 'X-Forwarded-Proto': 'http' } });
    expect(list.body.trim().split('\n').every((l) => l.startsWith('https://cloud.example:8443/compute/'))).toBe(true);
  });

  it('without it, a Host that is not a host name or address is refused with 400; a valid one is used', async () => {
    for (const bad of ['evil.example/x', 'a b', 'evil.example:99999999', '@evil.example', 'evil.example#', '[not-v6]']) {
      const res = await call(open.url, '/compute/', { method: 'POST', headers: { ...TEXT_COMPUTE, 'X-Auth-Token': open.adminToken, Host: bad } });
      expect(res.status, `Host: ${bad}`).toBe(400);
      expect(res.headers.location).toBeUndefined();
    }
    const good = await call(open.url, '/compute/', { method: 'POST', headers: { ...TEXT_COMPUTE, 'X-Auth-Token': open.adminToken, Host: 'node-7.example:8080' } });
    expect(good.status).toBe(201);
    expect(good.headers.location).toMatch(/^http:\/\/node-7\.example:8080\/compute\//);
  });
});

describe('regression: a text/occi collection too big for one header line', () => {
  let node: SecureNode;
  beforeAll(async () => {
    node = await startSecureNode();
    // Enough computes for more than MAX_LOCATIONS_HEADER_BYTES of absolute locations.
    const count = Math.ceil(MAX_LOCATIONS_HEADER_BYTES / 50) + 10;
    for (let i = 0; i < count; i++) {
      const res = await fetch(`${node.url}/compute/`, { method: 'POST', headers: { 'X-Auth-Token': node.adminToken, 'Content-Type': OCCI_JSON, Accept: OCCI_JSON }, body: JSON.stringify({ kind: COMPUTE, mixins: [SMALL], attributes: {} }) });
      expect(res.status).toBe(201);
    }
  }, 120_000);
  afterAll(() => node?.dispose());

  it('is answered 413 pointing to text/plain and text/uri-list, which list it in the body', async () => {
    const res = await call(node.url, '/compute/', { headers: { Accept: 'text/occi', 'X-Auth-Token': node.adminToken } });
    expect(res.status).toBe(413);
    expect(res.headers['x-occi-location']).toBeUndefined();
    expect(res.body).toMatch(/PAYLOAD_TOO_LARGE: .*ask for text\/plain or text\/uri-list/);
    const plain = await call(node.url, '/compute/', { headers: { Accept: 'text/plain', 'X-Auth-Token': node.adminToken } });
    expect(plain.status).toBe(200);
    expect(plain.body.split('\n').filter((l) => l.startsWith('X-OCCI-Location:')).length).toBeGreaterThan(MAX_LOCATIONS_HEADER_BYTES / 60);
    // A filtered, smaller collection still goes in the header line.
    const one = await call(node.url, '/compute/?attribute=occi.core.title=none', { headers: { Accept: 'text/occi', 'X-Auth-Token': node.adminToken } });
    expect(one.status).toBe(200);
  });
});

describe('regression: a method the document does not declare', () => {
  let node: SecureNode;
  beforeAll(async () => {
    node = await startSecureNode();
  });
  afterAll(() => node?.dispose());

  it('PUT on the query interface answers 405 with the allowed methods', async () => {
    for (const path of ['/-/', '/.well-known/org/ogf/occi/-/']) {
      const res = await fetch(`${node.url}${path}`, { method: 'PUT', headers: { 'X-Auth-Token': node.adminToken, Accept: OCCI_JSON, 'Content-Type': OCCI_JSON }, body: '{}' });
      expect(res.status, path).toBe(405);
      expect(res.headers.get('allow')?.split(/,\s*/).sort()).toEqual(['DELETE', 'GET', 'POST']);
    }
  });
});
