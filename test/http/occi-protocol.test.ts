import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../helpers/occi-json.js';
import { COMPUTE, OCCI_JSON, startTestNode, type TestNode } from '../helpers/node.js';

let node: TestNode;
let http: ReturnType<typeof supertest>;
beforeAll(async () => {
  node = await startTestNode();
  http = supertest(node.url);
});
afterAll(() => node.dispose());

const ROCCI = 'rOCCI-core/4.3.6 rOCCI-api/4.3.14 OCCI/1.1 ruby-x86_64-linux/3.1.2p20';

describe('versioning (GFD.223 §3.3)', () => {
  it('every answer names OCCI/1.2 in Server: successes, errors and unknown paths', async () => {
    for (const res of [await http.get('/-/'), await http.get('/nowhere/'), await http.post('/compute/').set('Content-Type', OCCI_JSON).send('{')]) {
      expect(res.headers['server']).toMatch(/^discovery-occi-gateway\/\S+ OCCI\/1\.2$/);
    }
  });

  it('a client announcing a version the node does not speak gets 501, as an OCCI error in the negotiated rendering', async () => {
    const json = await http.get('/-/').set('User-Agent', 'future-client/3.0 OCCI/2.0').set('Accept', OCCI_JSON);
    expect(json.status).toBe(501);
    expect(json.body.error).toMatchObject({ status: 501, code: 'NOT_IMPLEMENTED' });
    expect(json.body.error.message).toContain('OCCI/2.0');
    expect(json.headers['server']).toMatch(/OCCI\/1\.2$/);
    const text = await http.get('/compute/').set('User-Agent', 'x OCCI/1.3').set('Accept', 'text/plain');
    expect(text.status).toBe(501);
    expect(text.text).toMatch(/^501 NOT_IMPLEMENTED: /);
  });

  it('OCCI/1.1 clients (rOCCI-cli, pOCCI) and OCCI/1.2 clients keep working; no version is fine too', async () => {
    for (const agent of [ROCCI, 'occi-client/1.1 (linux) libcurl/7.19.4 OCCI/1.2', 'PycURL/7.45.2 libcurl/7.88.1']) {
      const res = await http.get('/-/').set('User-Agent', agent).set('Accept', 'text/plain');
      expect(res.status, agent).toBe(200);
    }
  });
});

describe('header names', () => {
  it('an X-OCCI-Category header is a 400 naming Category, not silently ignored', async () => {
    const res = await http.post('/compute/').set('Content-Type', 'text/occi').set('Accept', 'text/plain').set('X-OCCI-Category', `compute;scheme="http://schemas.ogf.org/occi/infrastructure#";class="kind"`);
    expect(res.status).toBe(400);
    expect(res.text).toContain('send categories in Category');
    const json = await http.get('/compute/').set('Accept', OCCI_JSON).set('X-OCCI-Category', COMPUTE);
    expect(json.status).toBe(400);
  });
});
