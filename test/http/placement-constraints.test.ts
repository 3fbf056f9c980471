import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { placementOf } from '../../src/cloud/placement.js';
import { LOCAL_ADMIN } from '../../src/occi/request.js';
import { occiClient, type OcciClient } from '../helpers/client.js';
import { COMPUTE, NETWORK, SMALL, startTestNode, type TestNode } from '../helpers/node.js';

const SCHEME = 'http://schemas.discovery-cloud.org/occi/placement#';
const SPREAD = `${SCHEME}spread`;
const GATHER = `${SCHEME}gather`;
const LATENCY = `${SCHEME}latency`;
const BAN = `${SCHEME}ban`;
const FENCE = `${SCHEME}fence`;
const GROUPS = 'http://example.org/groups#';
/** The test node is named `node`; its scheduler id stands for its mesh key. */
const NODE_KEY = 'ab'.repeat(32);
const resolve = (name: string) => (name === 'node' ? NODE_KEY : undefined);

const kindLine = `compute;scheme="http://schemas.ogf.org/occi/infrastructure#";class="kind"`;
const mixinLine = (id: string) => `${id.slice(id.indexOf('#') + 1)};scheme="${id.slice(0, id.indexOf('#') + 1)}";class="mixin"`;

let node: TestNode;
let occi: OcciClient;
let http: ReturnType<typeof supertest>;
beforeAll(async () => {
  node = await startTestNode();
  occi = occiClient(node.url);
  http = supertest(node.url);
});
afterAll(() => node.dispose());

/** The placement rules the scheduler gets for the compute at `location`. */
function rulesAt(location: string) {
  const { service } = node;
  const entity = service.get(LOCAL_ADMIN, service.registry.kind(COMPUTE)!, location.slice(location.lastIndexOf('/') + 1));
  return placementOf(entity, service.registry, resolve);
}

async function computeCount(): Promise<number> {
  return ((await occi.get('/compute/')).body.resources ?? []).length;
}

async function create(mixins: string[], attributes: Record<string, unknown>) {
  return occi.post('/compute/', { kind: COMPUTE, mixins: [SMALL, ...mixins], attributes });
}

describe('placement constraint mixins', () => {
  it('are in the query interface with a title and described attributes, applicable to computes', async () => {
    const { mixins } = (await occi.get('/-/')).body as { mixins: Array<{ scheme: string; term: string; title?: string; applies?: string[]; location?: string; attributes?: Record<string, { description?: string }> }> };
    const byTerm = new Map(mixins.filter((m) => m.scheme === SCHEME).map((m) => [m.term, m]));
    const expected: Record<string, string[]> = {
      spread: ['discovery.placement.group'],
      gather: ['discovery.placement.group'],
      latency: ['discovery.placement.group', 'discovery.placement.max_rtt'],
      ban: ['discovery.placement.nodes'],
      fence: ['discovery.placement.nodes'],
    };
    for (const [term, attrs] of Object.entries(expected)) {
      const m = byTerm.get(term);
      expect(m, term).toBeDefined();
      expect(m!.title).toMatch(/\w/);
      expect(m!.title).not.toContain(','); // rOCCI splits text/occi header values at commas
      expect(m!.applies).toEqual([COMPUTE]);
      expect(m!.location).toBe(`/placement/${term}/`);
      expect(Object.keys(m!.attributes ?? {}).sort()).toEqual(attrs);
      for (const a of attrs) expect(m!.attributes![a]!.description).toMatch(/\w/);
    }
    const text = await http.get('/-/').set('Accept', 'text/plain');
    expect(text.text).toContain(`Category: spread;scheme="${SCHEME}";class="mixin";title="Spread: computes of one group never share a host";location="/placement/spread/";attributes="discovery.placement.group"`);
  });

  it('no category title in the query interface holds a comma (rOCCI-cli splits text/occi header values at every comma)', async () => {
    const { kinds, mixins, actions } = (await occi.get('/-/')).body as Record<string, Array<{ scheme: string; term: string; title?: string }>>;
    const withComma = [...kinds!, ...mixins!, ...actions!].filter((c) => c.title?.includes(',')).map((c) => `${c.scheme}${c.term}: ${c.title}`);
    expect(withComma).toEqual([]);
  });

  it('JSON: spread and gather by group name, latency with a bound, fence by node name', async () => {
    const a = await create([SPREAD], { 'discovery.placement.group': 'web' });
    expect(a.status, JSON.stringify(a.body)).toBe(201);
    expect(a.body.mixins).toContain(SPREAD);
    expect(a.body.attributes['discovery.placement.group']).toBe('web');
    expect(rulesAt(a.headers.location!)).toEqual({ spread: ['default/web'] });

    const b = await create([GATHER, LATENCY], { 'discovery.placement.group': 'db', 'discovery.placement.max_rtt': 12.5 });
    expect(b.status, JSON.stringify(b.body)).toBe(201);
    expect(rulesAt(b.headers.location!)).toEqual({ gather: ['default/db'], latency: [{ group: 'default/db', maxRttMs: 12.5 }] });

    const c = await create([FENCE], { 'discovery.placement.nodes': 'node' });
    expect(c.status).toBe(201);
    expect(rulesAt(c.headers.location!)).toEqual({ fence: [NODE_KEY] });
    // Members of the mixin collection.
    const members = (await occi.get('/placement/fence/')).body.resources.map((r: { id: string }) => r.id);
    expect(members).toContain(c.body.id);

    const plain = await create([], {});
    expect(rulesAt(plain.headers.location!)).toBeUndefined();
  });

  it('text/plain and text/occi creations carry the same constraints', async () => {
    const res = await http
      .post('/compute/')
      .set('Accept', 'text/plain')
      .set('Content-Type', 'text/plain')
      .send([`Category: ${kindLine}`, `Category: ${mixinLine(BAN)}`, 'X-OCCI-Attribute: discovery.placement.nodes="node"'].join('\n'));
    expect(res.status, res.text).toBe(201);
    expect(rulesAt(new URL(res.headers.location!).pathname)).toEqual({ ban: [NODE_KEY] });

    const occiRes = await http
      .post('/compute/')
      .set('Accept', 'text/occi')
      .set('Content-Type', 'text/occi')
      .set('Category', `${kindLine}, ${mixinLine(SPREAD)}, ${mixinLine(LATENCY)}`)
      // Numbers may come as strings (rOCCI sends every -t value quoted).
      .set('X-OCCI-Attribute', 'discovery.placement.group="front", discovery.placement.max_rtt="30"');
    expect(occiRes.status, occiRes.text).toBe(201);
    expect(rulesAt(new URL(occiRes.headers.location!).pathname)).toEqual({ spread: ['default/front'], latency: [{ group: 'default/front', maxRttMs: 30 }] });
  });

  const refused: Array<[string, string[], Record<string, unknown>, string]> = [
    ['an unknown node name', [BAN], { 'discovery.placement.nodes': 'node, ghost' }, 'ghost'],
    ['no node name', [FENCE], { 'discovery.placement.nodes': ' , ' }, 'discovery.placement.nodes'],
    ['a missing node list', [FENCE], {}, 'discovery.placement.nodes'],
    ['ban and fence together', [BAN, FENCE], { 'discovery.placement.nodes': 'node' }, 'only one'],
    ['a missing group', [SPREAD], {}, 'discovery.placement.group'],
    ['a group name with a space', [GATHER], { 'discovery.placement.group': 'a b' }, 'discovery.placement.group'],
    ['one group both spread and gathered', [SPREAD, GATHER], { 'discovery.placement.group': 'x' }, 'both spread and gathered'],
    ['a zero bound', [LATENCY], { 'discovery.placement.group': 'x', 'discovery.placement.max_rtt': 0 }, 'discovery.placement.max_rtt'],
    ['a bound that is no number', [LATENCY], { 'discovery.placement.group': 'x', 'discovery.placement.max_rtt': 'fast' }, 'discovery.placement.max_rtt'],
    ['a missing bound', [LATENCY], { 'discovery.placement.group': 'x' }, 'discovery.placement.max_rtt'],
  ];
  it.each(refused)('refuses %s with a 400 and creates nothing', async (_name, mixins, attributes, cause) => {
    const before = await computeCount();
    const res = await create(mixins, attributes);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain(cause);
    expect(await computeCount()).toBe(before);
  });

  it('text/plain: an unknown node name is a 400 naming it', async () => {
    const res = await http
      .post('/compute/')
      .set('Accept', 'text/plain')
      .set('Content-Type', 'text/plain')
      .send([`Category: ${kindLine}`, `Category: ${mixinLine(FENCE)}`, 'X-OCCI-Attribute: discovery.placement.nodes="elsewhere"'].join('\n'));
    expect(res.status).toBe(400);
    expect(res.text).toContain('elsewhere');
  });

  it('adding a constraint to an existing compute is checked the same way and leaves it unchanged when refused', async () => {
    const a = await create([], {});
    const path = a.headers.location!;
    const bad = await occi.post(path, { mixins: [FENCE], attributes: { 'discovery.placement.nodes': 'ghost' } });
    expect(bad.status).toBe(400);
    expect((await occi.get(path)).body.mixins).not.toContain(FENCE);
    const good = await occi.post(path, { mixins: [FENCE], attributes: { 'discovery.placement.nodes': 'node' } });
    expect(good.status, JSON.stringify(good.body)).toBe(200);
    expect(rulesAt(path)).toEqual({ fence: [NODE_KEY] });
  });
});

describe('groups as user mixins depending on a placement mixin', () => {
  it('JSON: a user mixin depending on placement#spread makes its members one spread group', async () => {
    const def = await occi.post('/-/', { mixins: [{ term: 'frontends', scheme: GROUPS, title: 'Front ends', location: '/groups/frontends/', depends: [SPREAD], applies: [COMPUTE] }] });
    expect(def.status, JSON.stringify(def.body)).toBe(200);
    expect(def.body.mixins[0].depends).toEqual([SPREAD]);

    // Tagged at creation, without any placement attribute.
    const a = await create([`${GROUPS}frontends`], { 'occi.core.title': 'fe-a' });
    expect(a.status, JSON.stringify(a.body)).toBe(201);
    expect(rulesAt(a.headers.location!)).toEqual({ spread: [`${GROUPS}frontends`] });

    // Tagged afterwards through the mixin collection.
    const b = await create([], { 'occi.core.title': 'fe-b' });
    expect((await occi.post('/groups/frontends/', { locations: [b.headers.location] })).status).toBe(200);
    expect(rulesAt(b.headers.location!)).toEqual({ spread: [`${GROUPS}frontends`] });
    const members = (await occi.get('/groups/frontends/')).body.resources.map((r: { id: string }) => r.id).sort();
    expect(members).toEqual([a.body.id, b.body.id].sort());

    // The same compute may also be in a group by attribute.
    const c = await create([`${GROUPS}frontends`, SPREAD], { 'discovery.placement.group': 'all' });
    expect(rulesAt(c.headers.location!)).toEqual({ spread: [`${GROUPS}frontends`, 'default/all'] });
  });

  it('text/plain: a user mixin with rel= placement#gather', async () => {
    const def = await http
      .post('/-/')
      .set('Accept', 'text/plain')
      .set('Content-Type', 'text/plain')
      .send(`Category: pair;scheme="${GROUPS}";class="mixin";title="Pair";rel="${GATHER}";location="/groups/pair/"\n`);
    expect(def.status, def.text).toBe(200);
    const res = await http
      .post('/compute/')
      .set('Accept', 'text/plain')
      .set('Content-Type', 'text/plain')
      .send([`Category: ${kindLine}`, `Category: ${mixinLine(`${GROUPS}pair`)}`].join('\n'));
    expect(res.status, res.text).toBe(201);
    expect(rulesAt(new URL(res.headers.location!).pathname)).toEqual({ gather: [`${GROUPS}pair`] });
  });

  it('a group depending on placement#fence needs the node list on each member; tagging without it is refused', async () => {
    const def = await occi.post('/-/', { mixins: [{ term: 'pinned', scheme: GROUPS, location: '/groups/pinned/', depends: [FENCE] }] });
    expect(def.status).toBe(200);
    const bare = await create([], {});
    const tag = await occi.post('/groups/pinned/', { locations: [bare.headers.location] });
    expect(tag.status).toBe(400);
    expect(tag.body.error.message).toContain('discovery.placement.nodes');
    expect((await occi.get(bare.headers.location!)).body.mixins ?? []).not.toContain(`${GROUPS}pinned`);
    const ok = await create([`${GROUPS}pinned`], { 'discovery.placement.nodes': 'node' });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    expect(rulesAt(ok.headers.location!)).toEqual({ fence: [NODE_KEY] });
  });

  it('a group with placement rules cannot tag what is not a compute', async () => {
    // No `applies`: the registry alone would let it tag anything.
    expect((await occi.post('/-/', { mixins: [{ term: 'anything', scheme: GROUPS, location: '/groups/anything/', depends: [SPREAD] }] })).status).toBe(200);
    const net = await occi.post('/network/', { kind: NETWORK, attributes: {} });
    expect(net.status).toBe(201);
    const tag = await occi.post('/groups/anything/', { locations: [net.headers.location] });
    expect(tag.status).toBe(400);
    expect(tag.body.error.message).toContain('computes only');
  });
});
