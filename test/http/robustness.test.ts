import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPUTE, DEBIAN, NETWORK, SMALL, STORAGE, startTestNode, type TestNode } from '../helpers/node.js';
import { entityPath } from '../helpers/occi-json.js';
import { pick, seededRandom } from '../helpers/random.js';

let node: TestNode;
beforeAll(async () => {
  node = await startTestNode();
});
afterAll(() => node.dispose());

const REQUESTS = 2_000;
const rnd = seededRandom(20261125);

const VALID_BODIES: unknown[] = [
  { kind: COMPUTE, mixins: [SMALL, DEBIAN], attributes: { 'occi.core.title': 'fuzz' } },
  { kind: NETWORK, attributes: { 'occi.network.vlan': 3 } },
  { kind: STORAGE, attributes: { 'occi.storage.size': 2 } },
  { action: 'http://schemas.ogf.org/occi/infrastructure/compute/action#stop', attributes: { method: 'poweroff' } },
  { mixins: [{ term: 'tag', scheme: 'http://example.org/fuzz#', location: '/fuzz/' }] },
  { locations: ['/compute/'] },
];

const WEIRD_VALUES: unknown[] = [null, true, 0, -1, 1e308, 'x'.repeat(70_000), '', '\u0000\uffff', [], {}, [[[]]], { a: { b: {} } }, '../../etc/passwd', '%00', NaN];

/** Mutates a JSON value: drop, retype or replace members, nest, or truncate. */
function mutate(value: unknown, depth = 0): unknown {
  const r = rnd();
  if (depth > 3 || r < 0.15) return pick(rnd, WEIRD_VALUES);
  if (Array.isArray(value)) return r < 0.5 ? value.map((v) => mutate(v, depth + 1)) : [...value, pick(rnd, WEIRD_VALUES)];
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const q = rnd();
      if (q < 0.15) continue;
      out[q < 0.25 ? `${k}x` : k] = q < 0.6 ? v : mutate(v, depth + 1);
    }
    if (rnd() < 0.2) out['occi.core.id'] = pick(rnd, WEIRD_VALUES);
    return out;
  }
  return pick(rnd, WEIRD_VALUES);
}

function body(): string {
  const base = pick(rnd, VALID_BODIES);
  const r = rnd();
  if (r < 0.3) return JSON.stringify(base);
  const text = JSON.stringify(mutate(base)) ?? '';
  if (r < 0.85) return text;
  if (r < 0.95) return text.slice(0, Math.floor(rnd() * text.length));
  return Buffer.from(Array.from({ length: 64 }, () => Math.floor(rnd() * 256))).toString('latin1');
}

describe('robustness under mutated requests', () => {
  it(`answers ${REQUESTS} mutated requests with 2xx/4xx only; the store holds exactly what was acknowledged`, async () => {
    const agent = supertest(node.url);
    const live = new Set<string>();
    const paths = () => [
      '/-/', '/compute/', '/network/', '/storage/', '/networkinterface/', '/fuzz/', '/os_tpl/', '/compute', '/',
      `/compute/${pick(rnd, ['', 'x', '00000000-0000-0000-0000-000000000000', '%2e%2e', 'a/b'])}`,
      ...(live.size ? [pick(rnd, [...live]), `${pick(rnd, [...live])}?action=${pick(rnd, ['stop', 'start', 'x', '', '%00', 'up'])}`] : []),
    ];
    const statuses = new Map<number, number>();
    for (let i = 0; i < REQUESTS; i++) {
      // A quarter of the requests are well-formed creations, so that there is state to damage.
      const clean = rnd() < 0.25;
      const method = clean ? 'post' : pick(rnd, ['get', 'post', 'put', 'delete', 'patch', 'head', 'options'] as const);
      const path = clean ? pick(rnd, ['/compute/', '/network/', '/storage/']) : pick(rnd, paths());
      if (clean) {
        const kind = { '/compute/': COMPUTE, '/network/': NETWORK, '/storage/': STORAGE }[path]!;
        const res = await agent.post(path).set('Content-Type', 'application/occi+json').send(JSON.stringify(VALID_BODIES.find((b) => (b as { kind?: string }).kind === kind)));
        expect(res.status).toBe(201);
        live.add(res.headers.location);
        continue;
      }
      let req = agent[method](path);
      if (rnd() < 0.8) req = req.set('Accept', pick(rnd, ['application/occi+json', 'application/json', '*/*', 'text/html', 'application/occi+json;q=0', '', 'a/b/c']));
      if (rnd() < 0.8) req = req.set('Content-Type', pick(rnd, ['application/occi+json', 'application/json', 'application/json; charset=latin1', 'application/json; charset=bogus', 'image/png', 'text/plain', '']));
      if (rnd() < 0.1) req = req.set(`X-Junk-${i}`, 'y'.repeat(Math.floor(rnd() * 4000)));
      const res = method === 'get' || method === 'head' ? await req : await req.send(body());
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect(res.status, `${method.toUpperCase()} ${path} → ${res.status} ${res.text?.slice(0, 200)}`).toBeLessThan(500);
      if (method === 'post' && res.status === 201) live.add(res.headers.location);
      if (method === 'put' && res.status === 201) live.add(res.headers.location);
      if (method === 'delete' && res.status === 200) {
        if (live.has(path)) live.delete(path);
        else for (const l of [...live]) if (l.startsWith(path.endsWith('/') ? path : `${path}/`)) live.delete(l);
      }
    }
    expect(live.size).toBeGreaterThan(20);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(100);

    // Exactly the acknowledged resources are there (links die with their resources).
    const stored = new Set<string>();
    for (const kind of ['/compute/', '/network/', '/storage/']) {
      const res = await agent.get(kind).set('Accept', 'application/occi+json');
      for (const r of JSON.parse(res.text).resources) stored.add(entityPath(r));
    }
    const expected = [...live].filter((l) => /^\/(compute|network|storage)\//.test(l));
    expect([...stored].sort()).toEqual(expected.sort());
  }, 120_000);
});
