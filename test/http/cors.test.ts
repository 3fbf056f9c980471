import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseOrigins } from '../../src/http/cors.js';
import { type SecureNode, startSecureNode } from '../security/security-helpers.js';
import { COMPUTE } from '../helpers/node.js';

const PORTAL = 'https://portal.example.org';
const J = 'application/occi+json';

describe('CORS for portals on other origins (--cors-origin)', () => {
  let node: SecureNode;
  let closed: SecureNode;
  let token: string;

  beforeAll(async () => {
    [node, closed] = await Promise.all([startSecureNode({ corsOrigins: [PORTAL, 'http://127.0.0.1:5173'] }), startSecureNode()]);
    token = node.auth.issue({ tenant: 'acme', admin: false }).token;
  });
  afterAll(async () => {
    await node?.dispose();
    await closed?.dispose();
  });

  /**
   * A browser's preflight, sent with node:http: it is answered by the CORS layer before any routing,
   * so it is no operation of openapi/occi.yaml (which the suites' fetch hook checks answers against).
   */
  const preflight = (url: string, origin: string, method = 'POST') =>
    new Promise<{ status: number; headers: Headers }>((resolve, reject) => {
      const req = request(`${url}/compute/`, { method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': method, 'Access-Control-Request-Headers': 'x-auth-token, content-type' } }, (res) => {
        res.resume();
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, String(v));
        res.on('end', () => resolve({ status: res.statusCode!, headers }));
      });
      req.on('error', reject);
      req.end();
    });

  it('answers a preflight of an allowed origin before authentication: methods, headers, credentials, max-age', async () => {
    const res = await preflight(node.url, PORTAL);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(PORTAL);
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(res.headers.get('access-control-allow-methods')!.split(',')).toEqual(expect.arrayContaining(['GET', 'POST', 'PUT', 'DELETE']));
    expect(res.headers.get('access-control-allow-headers')!.toLowerCase().split(',')).toEqual(expect.arrayContaining(['x-auth-token', 'content-type', 'authorization', 'last-event-id']));
    expect(Number(res.headers.get('access-control-max-age'))).toBeGreaterThan(0);
    expect(res.headers.get('vary')).toMatch(/Origin/);
  });

  it("lets the portal read an actual answer's Location, X-OCCI-Location and X-Discovery-Partial, and its errors", async () => {
    const made = await fetch(`${node.url}/compute/`, {
      method: 'POST',
      headers: { Origin: PORTAL, 'X-Auth-Token': token, 'Content-Type': J, Accept: J },
      body: JSON.stringify({ kind: COMPUTE }),
    });
    expect(made.status).toBe(201);
    expect(made.headers.get('access-control-allow-origin')).toBe(PORTAL);
    expect(made.headers.get('access-control-allow-credentials')).toBe('true');
    const exposed = made.headers.get('access-control-expose-headers')!.split(',');
    expect(exposed).toEqual(expect.arrayContaining(['Location', 'X-OCCI-Location', 'X-Discovery-Partial']));
    // A refusal is readable by the portal too (it learns why).
    const refused = await fetch(`${node.url}/compute/`, { headers: { Origin: PORTAL } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe(PORTAL);
  });

  it('gives no CORS header to another origin, nor to anyone when no origin is configured', async () => {
    for (const res of [await preflight(node.url, 'https://evil.example'), await preflight(closed.url, PORTAL)]) {
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    }
    const plain = await fetch(`${closed.url}/compute/`, { headers: { Origin: PORTAL, 'X-Auth-Token': closed.adminToken, Accept: J } });
    expect(plain.status).toBe(200);
    expect([...plain.headers.keys()].filter((k) => k.startsWith('access-control-'))).toEqual([]);
  });

  it('takes origins as scheme://host[:port] only', () => {
    expect(parseOrigins('https://a.example, http://127.0.0.1:8080/')).toEqual(['https://a.example', 'http://127.0.0.1:8080']);
    for (const bad of ['a.example', 'https://a.example/path', 'ftp://a.example', '*']) expect(() => parseOrigins(bad), bad).toThrow(/not an origin/);
  });
});
