/** What the text renderings do for the OCCI clients named in docs/interop.md (rOCCI-cli 4.3, pOCCI), through the HTTP surface. */
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AttributePatch, StateOnlyBackend } from '../../../src/occi/backend.js';
import type { Entity } from '../../../src/occi/entity.js';
import '../../helpers/occi-json.js';
import { COMPUTE, OCCI_JSON, startTestNode, type TestNode } from '../../helpers/node.js';

const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const ROCCI = 'rOCCI-core/4.3.6 rOCCI-api/4.3.14 OCCI/1.1 ruby-x86_64-linux/3.1.2p20';
const kindLine = (term: string) => `Category: ${term};scheme="${INFRA}";class="kind"`;

/** Computes whose title says "broken" are in error, as a hypervisor reports a domain gone behind the node. */
class BrokenDomains extends StateOnlyBackend {
  async observe(e: Entity): Promise<AttributePatch | undefined> {
    return e.attributes['occi.core.title'] === 'broken' ? { 'occi.compute.state': 'error', 'occi.compute.state.message': 'the domain is gone' } : undefined;
  }
}

let node: TestNode;
let http: ReturnType<typeof supertest>;
beforeAll(async () => {
  node = await startTestNode({ backend: new BrokenDomains() });
  http = supertest(node.url);
});
afterAll(() => node.dispose());

const bodyLines = (res: supertest.Response, name: string) => res.text.split('\n').filter((l) => l.startsWith(`${name}: `)).map((l) => l.slice(name.length + 2));
const plain = (path: string, lines: string[], agent = ROCCI) =>
  http.post(path).set('User-Agent', agent).set('Accept', 'text/plain,text/occi;q=0.2').set('Content-Type', 'text/plain,text/occi').send(lines.join('\n'));
const pathOf = (res: supertest.Response) => new URL(res.headers['location']!).pathname;

describe('ids and absolute URIs in text', () => {
  it('occi.core.id="urn:uuid:X" creates /compute/X (the same UUID)', async () => {
    const id = '0d9f3a52-1c7e-4b1a-9e0f-6a1b2c3d4e5f';
    const res = await plain('/compute/', [kindLine('compute'), `X-OCCI-Attribute: occi.core.id="urn:uuid:${id}"`]);
    expect(res.status).toBe(201);
    expect(pathOf(res)).toBe(`/compute/${id}`);
  });

  it('absolute URIs of this service are taken back; of another host, a 400', async () => {
    const vm = pathOf(await plain('/compute/', [kindLine('compute')]));
    const disk = pathOf(await plain('/storage/', [kindLine('storage'), 'X-OCCI-Attribute: occi.storage.size=1']));
    const ok = await plain('/storagelink/', [kindLine('storagelink'), `X-OCCI-Attribute: occi.core.source="${node.url}${vm}"`, `X-OCCI-Attribute: occi.core.target="${node.url}${disk}"`]);
    expect(ok.status).toBe(201);
    const other = await plain('/storagelink/', [kindLine('storagelink'), `X-OCCI-Attribute: occi.core.source="http://elsewhere.example${vm}"`, `X-OCCI-Attribute: occi.core.target="${disk}"`]);
    expect(other.status).toBe(400);
    expect(other.text).toContain('does not point at this service');
  });
});

describe('terms with a dot (GFD.229)', () => {
  const TAGS = 'http://example.org/tags#';
  it('are accepted in text and JSON alike, rendered to 1.2 clients, and left out for OCCI/1.1 clients, which cannot read them', async () => {
    const text = await http.post('/-/').set('Content-Type', 'text/plain').set('Accept', 'text/plain').send(`Category: web.v1;scheme="${TAGS}";class="mixin";location="/web.v1/"\n`);
    expect(text.status).toBe(200);
    const json = await http.post('/-/').set('Content-Type', OCCI_JSON).set('Accept', OCCI_JSON).send(JSON.stringify({ mixins: [{ term: '2.db', scheme: TAGS, location: '/db2/' }] }));
    expect(json.status).toBe(200);
    const vm = pathOf(await plain('/compute/', [kindLine('compute'), `Category: web.v1;scheme="${TAGS}";class="mixin"`]));

    const forPocci = await http.get('/-/').set('Accept', 'text/plain');
    expect(bodyLines(forPocci, 'Category').filter((l) => l.startsWith('web.v1;') || l.startsWith('2.db;'))).toHaveLength(2);
    const forRocci = await http.get('/-/').set('Accept', 'text/plain').set('User-Agent', ROCCI);
    expect(bodyLines(forRocci, 'Category').every((l) => /^[A-Za-z0-9][A-Za-z0-9_-]*;/.test(l))).toBe(true);
    expect(bodyLines(forRocci, 'Category').some((l) => l.startsWith('compute;'))).toBe(true);
    const entity = await http.get(vm).set('Accept', 'text/occi').set('User-Agent', ROCCI);
    expect(String(entity.headers['category'])).not.toContain('web.v1');
    expect(String((await http.get(vm).set('Accept', 'text/occi')).headers['category'])).toContain(`web.v1;scheme="${TAGS}"`);
    expect((await http.get(vm).set('Accept', OCCI_JSON)).body.mixins).toContain(`${TAGS}web.v1`);
  });
});

describe('rOCCI-cli habits', () => {
  it('a 200 text/occi answer to a partial update carries Location (rOCCI-cli otherwise reports "Failed to update")', async () => {
    const vm = pathOf(await plain('/compute/', [kindLine('compute')]));
    const res = await http.post(vm).set('User-Agent', ROCCI).set('Accept', 'text/occi').set('Content-Type', 'text/occi').set('X-OCCI-Attribute', 'occi.core.title="renamed"');
    expect(res.status).toBe(200);
    expect(res.headers['location']).toBe(`${node.url}${vm}`);
    const json = await http.post(vm).set('Accept', OCCI_JSON).set('Content-Type', OCCI_JSON).send(JSON.stringify({ attributes: { 'occi.core.title': 'again' } }));
    expect(json.headers['location']).toBe(vm);
  });

  it('the error state renders its message before the state, so that rOCCI\'s nested attribute model keeps the state', async () => {
    const vm = pathOf(await plain('/compute/', [kindLine('compute'), 'X-OCCI-Attribute: occi.core.title="broken"']));
    const res = await http.get(vm).set('Accept', 'text/plain').set('User-Agent', ROCCI);
    const attrs = bodyLines(res, 'X-OCCI-Attribute');
    const message = attrs.indexOf('occi.compute.state.message="the domain is gone"');
    expect(message).toBeGreaterThanOrEqual(0);
    expect(attrs.indexOf('occi.compute.state="error"')).toBe(message + 1);
  });

  it('-T public_key=… -T user_data=… (OpenStack context mixins) are the GFD.224 ssh_key and user_data mixins', async () => {
    const res = await plain('/compute/', [
      kindLine('compute'),
      'Category: public_key;scheme="http://schemas.openstack.org/instance/credentials#";class="mixin";title="OS contextualization mixin";attributes="org.openstack.credentials.publickey.name org.openstack.credentials.publickey.data"',
      'Category: user_data;scheme="http://schemas.openstack.org/compute/instance#";class="mixin";title="OS contextualization mixin";attributes="org.openstack.compute.user_data"',
      'X-OCCI-Attribute: org.openstack.credentials.publickey.data="ssh-ed25519 AAAAC3Nza test@example"',
      'X-OCCI-Attribute: org.openstack.compute.user_data="I2Nsb3VkLWNvbmZpZw=="',
    ]);
    expect(res.status, res.text).toBe(201);
    const json = (await http.get(pathOf(res)).set('Accept', OCCI_JSON)).body;
    expect(json.mixins).toEqual(expect.arrayContaining([`${INFRA.replace('#', '/credentials#')}ssh_key`, `${INFRA.replace('#', '/compute#')}user_data`]));
    expect(json.attributes).toMatchObject({ 'occi.credentials.ssh.publickey': 'ssh-ed25519 AAAAC3Nza test@example', 'occi.compute.userdata': 'I2Nsb3VkLWNvbmZpZw==' });
    expect(json.kind).toBe(COMPUTE);
  });
});
