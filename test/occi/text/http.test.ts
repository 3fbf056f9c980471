import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPUTE, DEBIAN, PLACEMENT, SMALL, startTestNode, STORAGE, type TestNode } from '../../helpers/node.js';
import '../../helpers/occi-json.js';

const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const kindLine = (term: string) => `${term};scheme="${INFRA}";class="kind"`;
const mixinLine = (id: string) => `${id.slice(id.indexOf('#') + 1)};scheme="${id.slice(0, id.indexOf('#') + 1)}";class="mixin"`;
const STOP = 'http://schemas.ogf.org/occi/infrastructure/compute/action#stop';
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

let node: TestNode;
let http: ReturnType<typeof supertest>;
beforeAll(async () => {
  node = await startTestNode();
  http = supertest(node.url);
});
afterAll(() => node.dispose());

/** Header values of a text/occi answer, one per rendered line whether joined or repeated. */
function headerValues(res: supertest.Response, name: string): string[] {
  const v = res.headers[name.toLowerCase()] as string | string[] | undefined;
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).flatMap((x) => x.split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/)).map((x) => x.trim());
}

const bodyLines = (res: supertest.Response, name: string) =>
  res.text.split('\n').filter((l) => l.startsWith(`${name}: `)).map((l) => l.slice(name.length + 2));

/** rOCCI-cli's own request: text/plain body under the literal `Content-Type: text/plain,text/occi`. */
async function createPlain(lines: string[], path = '/compute/') {
  return http.post(path).set('Accept', 'text/plain,text/occi;q=0.2').set('Content-Type', 'text/plain,text/occi').send(lines.join('\n'));
}

async function newCompute(title = 'vm'): Promise<string> {
  const res = await createPlain([`Category: ${kindLine('compute')}`, `Category: ${mixinLine(SMALL)}`, `X-OCCI-Attribute: occi.core.title="${title}"`]);
  expect(res.status).toBe(201);
  return new URL(res.headers['location']!).pathname;
}

describe('query interface in text', () => {
  it('text/plain: one Category line per category in the body', async () => {
    const res = await http.get('/-/').set('Accept', 'text/plain');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const compute = bodyLines(res, 'Category').find((l) => l.startsWith('compute;'))!;
    expect(compute).toMatch(/^compute;scheme="[^"]+";class="kind";title="[^"]+";rel="http:\/\/schemas\.ogf\.org\/occi\/core#resource";location="\/compute\/";attributes="[^"]+";actions="[^"]+"$/);
  });

  it('text/occi: the same in Category headers, empty body', async () => {
    const res = await http.get('/.well-known/org/ogf/occi/-/').set('Accept', 'text/occi');
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    expect(headerValues(res, 'Category').some((v) => v.startsWith('storagelink;'))).toBe(true);
  });

  it('Accept: text/plain,text/occi answers text/plain', async () => {
    const res = await http.get('/-/').set('Accept', 'text/plain,text/occi');
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
  });

  it('a Category filter in text/occi returns just that category', async () => {
    const res = await http.get('/-/').set('Accept', 'text/plain').set('Content-Type', 'text/occi').set('Category', `${kindLine('storage')}`);
    expect(res.status).toBe(200);
    expect(bodyLines(res, 'Category')).toHaveLength(1);
    expect(bodyLines(res, 'Category')[0]).toMatch(/^storage;/);
  });

  it('the filter tolerates class=kind unquoted and any header case', async () => {
    const res = await http.get('/-/').set('Accept', 'text/occi').set('CATEGORY', `compute; scheme="${INFRA}"; class=kind`);
    expect(headerValues(res, 'Category')).toHaveLength(1);
  });

  it('an unknown category in the filter is a 400 naming it', async () => {
    const res = await http.get('/-/').set('Accept', 'text/plain').set('Category', `nothing;scheme="${INFRA}";class="kind"`);
    expect(res.status).toBe(400);
    expect(res.text).toContain(`${INFRA}nothing`);
  });

  it('text/uri-list lists the locations of kinds and mixins', async () => {
    const res = await http.get('/-/').set('Accept', 'text/uri-list');
    expect(res.status).toBe(200);
    expect(res.text.split('\n')).toContain('/compute/');
  });
});

describe('entities in text', () => {
  it('creation answers 201 with an absolute Location and an X-OCCI-Location line', async () => {
    const res = await createPlain([`Category: ${kindLine('compute')}`, `Category: ${mixinLine(DEBIAN)}`, `Category: ${mixinLine(SMALL)}`, 'X-OCCI-Attribute: occi.core.title="web"']);
    expect(res.status).toBe(201);
    expect(res.headers['location']).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/compute/${UUID}$`));
    expect(res.text).toBe(`X-OCCI-Location: ${res.headers['location']}\n`);
  });

  it('text/occi creation: everything in headers, several attributes comma-joined', async () => {
    const res = await http
      .post('/compute')
      .set('Accept', 'text/occi')
      .set('Content-Type', 'text/occi')
      .set('Category', `${kindLine('compute')}, ${mixinLine(SMALL)}`)
      .set('X-OCCI-Attribute', 'occi.core.title="a, b", occi.compute.hostname="h1"');
    expect(res.status).toBe(201);
    expect(res.text).toBe('');
    expect(headerValues(res, 'X-OCCI-Location')[0]).toBe(res.headers['location']);
    const get = await http.get(new URL(res.headers['location']!).pathname).set('Accept', 'text/plain');
    expect(bodyLines(get, 'X-OCCI-Attribute')).toEqual(expect.arrayContaining(['occi.core.title="a, b"', 'occi.compute.hostname="h1"']));
  });

  it('GET renders kind, mixins, typed attributes and action links', async () => {
    const path = await newCompute('one');
    const res = await http.get(path).set('Accept', 'text/plain');
    expect(res.status).toBe(200);
    expect(bodyLines(res, 'Category')).toEqual([kindLine('compute'), mixinLine(SMALL), mixinLine(PLACEMENT)]);
    const attrs = bodyLines(res, 'X-OCCI-Attribute');
    expect(attrs).toEqual(expect.arrayContaining([`occi.core.id="${path.slice(9)}"`, 'occi.core.title="one"', 'occi.compute.cores=1', 'occi.compute.memory=1', 'occi.compute.state="active"']));
    expect(bodyLines(res, 'Link')).toContain(`<${path}?action=stop>;rel="${STOP}"`);
  });

  it('text/occi GET: the same lines in headers, empty body', async () => {
    const path = await newCompute();
    const res = await http.get(path).set('Accept', 'text/occi');
    expect(res.text).toBe('');
    expect(headerValues(res, 'Category')[0]).toBe(kindLine('compute'));
    expect(headerValues(res, 'X-OCCI-Attribute')).toContain('occi.compute.cores=1');
    expect(headerValues(res, 'Link')).toContain(`<${path}?action=stop>;rel="${STOP}"`);
  });

  it('collections: X-OCCI-Location lines, headers, or a bare uri-list', async () => {
    const path = await newCompute();
    const plain = await http.get('/compute/').set('Accept', 'text/plain');
    expect(bodyLines(plain, 'X-OCCI-Location')).toContain(`${node.url}${path}`);
    const occi = await http.get('/compute').set('Accept', 'text/occi');
    expect(headerValues(occi, 'X-OCCI-Location')).toContain(`${node.url}${path}`);
    const list = await http.get('/compute/').set('Accept', 'text/uri-list');
    expect(list.headers['content-type']).toMatch(/^text\/uri-list/);
    expect(list.text.split('\n')).toContain(`${node.url}${path}`);
  });

  it('collections filter by Category and X-OCCI-Attribute headers', async () => {
    const path = await newCompute('filtered-one');
    const res = await http.get('/compute/').set('Accept', 'text/uri-list').set('X-OCCI-Attribute', 'occi.core.title="filtered-one"').set('Category', kindLine('compute'));
    expect(res.text).toBe(`${node.url}${path}\n`);
  });

  it('POST updates (adds a mixin, sets an attribute given as a bare number)', async () => {
    const path = await newCompute();
    const res = await http.post(path).set('Accept', 'text/plain').set('Content-Type', 'text/plain').send(`Category: ${mixinLine(DEBIAN)}\nX-OCCI-Attribute: occi.compute.cores=3\n`);
    expect(res.status).toBe(200);
    expect(bodyLines(res, 'Category')).toContain(mixinLine(DEBIAN));
    expect(bodyLines(res, 'X-OCCI-Attribute')).toContain('occi.compute.cores=3');
  });

  it('PUT replaces, sending back what GET rendered (action links included)', async () => {
    const path = await newCompute('before');
    const got = await http.get(path).set('Accept', 'text/plain');
    const res = await http.put(path).set('Accept', 'text/plain').set('Content-Type', 'text/plain').send(got.text.replace('occi.core.title="before"', 'occi.core.title="after"'));
    expect(res.status).toBe(200);
    expect(bodyLines(res, 'X-OCCI-Attribute')).toContain('occi.core.title="after"');
  });

  it('PUT creates at a chosen id (201) in text/occi', async () => {
    const id = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
    const res = await http.put(`/storage/${id}`).set('Accept', 'text/occi').set('Content-Type', 'text/occi').set('Category', kindLine('storage')).set('X-OCCI-Attribute', 'occi.storage.size=5');
    expect(res.status).toBe(201);
    expect(res.headers['location']).toBe(`${node.url}/storage/${id}`);
  });

  it('actions: POST ?action=stop with the action category; 409 when the state forbids it', async () => {
    const path = await newCompute();
    const stop = `Category: stop;scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#";class="action"\nX-OCCI-Attribute: method="graceful"\n`;
    const res = await http.post(`${path}?action=stop`).set('Accept', 'text/plain').set('Content-Type', 'text/plain,text/occi').send(stop);
    expect(res.status).toBe(200);
    expect(bodyLines(res, 'X-OCCI-Attribute')).toContain('occi.compute.state="inactive"');
    const again = await http.post(`${path}?action=stop`).set('Accept', 'text/plain').set('Content-Type', 'text/occi').set('Category', `stop;scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#";class="action"`);
    expect(again.status).toBe(409);
    expect(again.text).toContain('STATE_CONFLICT');
  });

  it('links: a storagelink created in text shows as a Link with self, category and attributes', async () => {
    const compute = await newCompute();
    const storage = await createPlain([`Category: ${kindLine('storage')}`, 'X-OCCI-Attribute: occi.storage.size=10'], '/storage/');
    expect(storage.status).toBe(201);
    const link = await createPlain(
      [`Category: ${kindLine('storagelink')}`, `X-OCCI-Attribute: occi.core.source="${node.url}${compute}"`, `X-OCCI-Attribute: occi.core.target="${storage.headers['location']}"`, 'X-OCCI-Attribute: occi.storagelink.deviceid="/dev/vdb"'],
      '/storagelink/',
    );
    expect(link.status).toBe(201);
    const linkPath = new URL(link.headers['location']!).pathname;
    const res = await http.get(compute).set('Accept', 'text/plain');
    const line = bodyLines(res, 'Link').find((l) => l.includes('self='))!;
    const target = new URL(storage.headers['location']!).pathname;
    expect(line.startsWith(`<${target}>;rel="${STORAGE}";self="${linkPath}";category="${INFRA}storagelink";`)).toBe(true);
    expect(line.split(';').slice(4).sort()).toEqual([`occi.core.id="${linkPath.slice(13)}"`, 'occi.storagelink.deviceid="/dev/vdb"', 'occi.storagelink.state="active"']);
    const asEntity = await http.get(linkPath).set('Accept', 'text/plain');
    expect(bodyLines(asEntity, 'X-OCCI-Attribute')).toContain(`occi.core.source="${compute}"`);
  });

  it('inline links at creation (rOCCI-cli -l / pOCCI INFRA/CREATE/005)', async () => {
    const storage = await createPlain([`Category: ${kindLine('storage')}`, 'X-OCCI-Attribute: occi.storage.size=1'], '/storage/');
    const target = new URL(storage.headers['location']!).pathname;
    const res = await createPlain([`Category: ${kindLine('compute')}`, `Link: <${target}>;rel="${STORAGE}";category="${INFRA}storagelink"`]);
    expect(res.status).toBe(201);
    const got = await http.get(new URL(res.headers['location']!).pathname).set('Accept', 'text/plain');
    expect(bodyLines(got, 'Link').some((l) => l.startsWith(`<${target}>;rel="${STORAGE}";self="/storagelink/`))).toBe(true);
  });

  it('DELETE an entity, then a whole collection', async () => {
    const path = await newCompute();
    expect((await http.delete(path).set('Accept', 'text/plain')).status).toBe(200);
    expect((await http.get(path).set('Accept', 'text/plain')).status).toBe(404);
    await newCompute();
    expect((await http.delete('/compute/').set('Accept', 'text/plain')).status).toBe(200);
    expect((await http.get('/compute/').set('Accept', 'text/uri-list')).text).toBe('');
  });
});

describe('user mixins and mixin collections in text', () => {
  const TAG = 'http://example.com/occi/tags#';
  it('define, tag with X-OCCI-Location, list as uri-list, untag, delete', async () => {
    const def = await http.post('/-/').set('Accept', 'text/plain').set('Content-Type', 'text/plain').send(`Category: prod;scheme="${TAG}";class="mixin";title="Production";location="/prod/"\n`);
    expect(def.status).toBe(200);
    expect(bodyLines(def, 'Category')[0]).toBe(`prod;scheme="${TAG}";class="mixin";title="Production";location="/prod/"`);
    const a = await newCompute();
    const tag = await http.post('/prod/').set('Accept', 'text/plain').set('Content-Type', 'text/occi').set('X-OCCI-Location', `${node.url}${a}`);
    expect(tag.status).toBe(200);
    expect(bodyLines(tag, 'X-OCCI-Location')).toEqual([`${node.url}${a}`]);
    expect((await http.get('/prod/').set('Accept', 'text/uri-list')).text).toBe(`${node.url}${a}\n`);
    const b = await newCompute();
    const replaced = await http.put('/prod/').set('Accept', 'text/plain').set('Content-Type', 'text/uri-list').send(`# members\n${b}\n`);
    expect(replaced.text).toBe(`X-OCCI-Location: ${node.url}${b}\n`);
    const untag = await http.delete('/prod/').set('Accept', 'text/plain').set('Content-Type', 'text/plain').send(`X-OCCI-Location: ${b}\n`);
    expect(untag.status).toBe(200);
    expect((await http.get('/prod/').set('Accept', 'text/uri-list')).text).toBe('');
    const del = await http.delete('/-/').set('Accept', 'text/plain').set('Content-Type', 'text/occi').set('Category', `prod;scheme="${TAG}";class="mixin"`);
    expect(del.status).toBe(200);
    expect((await http.get('/-/').set('Accept', 'text/plain').set('Category', `prod;scheme="${TAG}";class="mixin"`)).status).toBe(400);
  });
});

describe('malformed text: 400 naming the fault', () => {
  const cases: Array<[string, string[], string]> = [
    ['missing class', [`Category: compute;scheme="${INFRA}"`], 'has no class'],
    ['bad quoting', [`Category: ${kindLine('compute')}`, 'X-OCCI-Attribute: occi.core.title="open'], 'unterminated quoted string'],
    ['unknown scheme', [`Category: compute;scheme="http://example.com/nothing#";class="kind"`], 'http://example.com/nothing#compute'],
    ['an unquoted string', [`Category: ${kindLine('compute')}`, 'X-OCCI-Attribute: occi.core.title=bare'], 'occi.core.title'],
    ['a number for a string attribute', [`Category: ${kindLine('compute')}`, 'X-OCCI-Attribute: occi.core.title=12'], 'occi.core.title'],
    ['an out-of-range number', [`Category: ${kindLine('compute')}`, 'X-OCCI-Attribute: occi.compute.cores=0'], 'occi.compute.cores'],
    ['a line that is not OCCI', ['hello'], 'not an OCCI line'],
    ['an empty body', [], 'no OCCI lines'],
  ];
  it.each(cases)('text/plain: %s', async (_name, lines, cause) => {
    const res = await createPlain(lines);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toContain(cause);
  });

  it('text/occi: the cause is in the body', async () => {
    const res = await http.post('/compute/').set('Accept', 'text/occi').set('Content-Type', 'text/occi').set('Category', `compute;scheme="${INFRA}";class="kind`);
    expect(res.status).toBe(400);
    expect(res.text).toContain('unterminated quoted string');
  });

  it('a malformed %-escape in the path is a 400, not a 500 (found by the robustness test)', async () => {
    const res = await http.post('/sto%age/').set('Accept', 'text/plain').set('Content-Type', 'text/plain').send(`Category: ${kindLine('storage')}\n`);
    expect(res.status).toBe(400);
    expect(res.text).toContain('percent-encoded');
  });

  it('text/uri-list cannot carry an entity', async () => {
    const res = await http.post('/compute/').set('Accept', 'text/plain').set('Content-Type', 'text/uri-list').send('/compute/x\n');
    expect(res.status).toBe(400);
    expect(res.text).toContain('text/uri-list carries locations only');
  });

  it('text/uri-list cannot render an entity: 406', async () => {
    const path = await newCompute();
    expect((await http.get(path).set('Accept', 'text/uri-list')).status).toBe(406);
  });

  it('an action link or an action category in an entity body', async () => {
    const res = await createPlain([`Category: stop;scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#";class="action"`]);
    expect(res.status).toBe(400);
    expect(res.text).toContain('?action=stop');
  });
});

describe('OCCI 1.1 client habits', () => {
  it('a non-UUID occi.core.id (pOCCI) names the entity with a stable UUID; reuse is a conflict', async () => {
    const lines = [`Category: ${kindLine('network')}`, 'X-OCCI-Attribute: occi.core.id="Network_1700000000"'];
    const first = await createPlain(lines, '/network/');
    expect(first.status).toBe(201);
    expect((await createPlain(lines, '/network/')).status).toBe(409);
  });

  it('JSON clients see the same compute the text clients made', async () => {
    const path = await newCompute('shared');
    const res = await http.get(path).set('Accept', 'application/occi+json');
    expect(res.body).toMatchObject({ kind: COMPUTE, title: 'shared', mixins: [SMALL, PLACEMENT] });
  });
});
