import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newClaims, signToken } from '../../src/http/auth/token.js';
import { COMPUTE, NETWORK, SMALL, STORAGE } from '../helpers/node.js';
import { pick, seededRandom } from '../helpers/random.js';
import { type SecureNode, startSecureCluster } from './security-helpers.js';

/** ≥ 5,000 mutated requests with random, truncated, forged, expired, revoked and other tenants' credentials. */
const REQUESTS = 5_000;
const CONCURRENCY = 8;
const SEED = 20261125;
const rnd = seededRandom(SEED);
const TENANTS = ['acme', 'globex', 'initech'] as const;
type Tenant = (typeof TENANTS)[number];

let cluster: Awaited<ReturnType<typeof startSecureCluster>>;
let nodes: SecureNode[];
const tokens = {} as Record<Tenant | 'admin' | 'expired' | 'revoked', string>;
/** Entity ids by owner, as the cluster acknowledged them. */
const owned = new Map<string, Tenant>();
const mixinOf = new Map<Tenant, string>();

beforeAll(async () => {
  cluster = await startSecureCluster(['r1', 'r2', 'r3']);
  nodes = cluster.nodes;
  for (const t of TENANTS) tokens[t] = nodes[0]!.auth.issue({ tenant: t, admin: false }).token;
  tokens.admin = nodes[0]!.adminToken;
  tokens.expired = signToken(nodes[0]!.auth.keys!.signer!, newClaims({ tenant: 'acme', admin: true, expiresInSec: 1, now: Date.now() - 10_000 }));
  const revoked = nodes[0]!.auth.issue({ tenant: 'globex', admin: true });
  await nodes[0]!.auth.revoke(revoked.meta.tid);
  tokens.revoked = revoked.token;
  await nodes[0]!.auth.setQuota('acme', { instances: 10_000, cores: 100_000 });
  // Every tenant owns entities on every node, and a tag.
  for (const t of TENANTS) {
    for (const n of nodes) {
      for (const [kind, attributes] of [[COMPUTE, {}], [NETWORK, {}], [STORAGE, { 'occi.storage.size': 1 }]] as const) {
        const res = await fetch(`${n.url}${kind === COMPUTE ? '/compute/' : kind === NETWORK ? '/network/' : '/storage/'}`, {
          method: 'POST',
          headers: { 'X-Auth-Token': tokens[t], 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify({ kind, mixins: kind === COMPUTE ? [SMALL] : [], attributes: { 'occi.core.title': `${t}-secret`, ...attributes } }),
        });
        expect(res.status).toBe(201);
        owned.set(res.headers.get('location')!.split('/').pop()!, t);
      }
    }
    const term = `${t}tag`;
    const res = await fetch(`${nodes[0]!.url}/-/`, {
      method: 'POST',
      headers: { 'X-Auth-Token': tokens[t], 'Content-Type': 'application/json' },
      body: JSON.stringify({ mixins: [{ term, scheme: `http://${t}.example/tags#`, location: `/${t}tags/` }] }),
    });
    expect(res.status).toBe(200);
    mixinOf.set(t, term);
  }
}, 120_000);
afterAll(() => cluster?.dispose());

const METHODS = ['GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS'];
const MEDIA = ['application/json', 'application/occi+json', 'text/plain', 'text/occi', 'text/uri-list', '*/*', 'text/html', 'application/xml', ''];

function ids(): string[] {
  return [...owned.keys()];
}

function path(): string {
  const id = ids().length ? pick(rnd, ids()) : randomUUID();
  return pick(rnd, [
    '/-/', '/.well-known/org/ogf/occi/-/', '/compute/', '/network/', '/storage/', '/networkinterface/', '/storagelink/',
    `/compute/${id}`, `/network/${id}`, `/storage/${id}`, `/compute/${id}?action=stop`, `/storage/${id}?action=resize`,
    `/compute/${randomUUIDFrom()}`, '/acmetags/', '/globextags/', '/initechtags/', '/openapi.json',
    '/.well-known/discovery/tokens/', `/.well-known/discovery/tokens/${'x'.repeat(12)}`, '/.well-known/discovery/tenants/acme',
    '/compute/?attribute=occi.core.title=acme-secret', '/%zz/', `/${'a'.repeat(300)}/`, '/compute/..%2f..%2f', '/', '/nothing',
  ]);
}

function randomUUIDFrom(): string {
  const h = Array.from({ length: 32 }, () => Math.floor(rnd() * 16).toString(16)).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20)}`;
}

/** A credential: valid (any tenant or admin), absent, truncated, with a flipped character, forged, expired, revoked, garbage. */
function credential(): { headers: Record<string, string>; as: Tenant | 'admin' | null } {
  const r = rnd();
  const who = pick(rnd, [...TENANTS, ...TENANTS, 'admin'] as const);
  const valid = tokens[who];
  const put = (t: string): Record<string, string> => (rnd() < 0.5 ? { 'X-Auth-Token': t } : { Authorization: `${pick(rnd, ['Bearer', 'Bearer', 'bearer', 'BEARER', 'Basic', 'Token'])} ${t}` });
  if (r < 0.5) {
    const h = put(valid);
    const ok = 'X-Auth-Token' in h || /^bearer /i.test(h['Authorization'] ?? '');
    return { headers: h, as: ok ? who : null };
  }
  if (r < 0.56) return { headers: {}, as: null };
  if (r < 0.63) return { headers: put(valid.slice(0, Math.floor(rnd() * valid.length))), as: null };
  if (r < 0.7) {
    const i = Math.floor(rnd() * valid.length);
    const c = valid[i] === 'A' ? 'B' : 'A';
    return { headers: put(`${valid.slice(0, i)}${c}${valid.slice(i + 1)}`), as: null };
  }
  if (r < 0.76) {
    // Claims of one tenant with the signature of another's token.
    const [p, , sig] = valid.split('.');
    const other = tokens[pick(rnd, TENANTS.filter((t) => t !== who))].split('.')[1];
    return { headers: put(`${p}.${other}.${sig}`), as: null };
  }
  if (r < 0.82) return { headers: put(tokens.expired), as: null };
  if (r < 0.88) return { headers: put(tokens.revoked), as: null };
  if (r < 0.93) return { headers: { 'X-Auth-Token': tokens.acme, Authorization: `Bearer ${tokens.globex}` }, as: null };
  return { headers: put(Array.from({ length: Math.floor(rnd() * 80) }, () => String.fromCharCode(33 + Math.floor(rnd() * 94))).join('')), as: null };
}

function body(target: string): string {
  const id = ids().length ? pick(rnd, ids()) : randomUUID();
  const bodies = [
    JSON.stringify({ kind: COMPUTE, mixins: [SMALL], attributes: { 'occi.core.title': 'fuzz' } }),
    JSON.stringify({ kind: NETWORK, attributes: {} }),
    JSON.stringify({ attributes: { 'occi.compute.cores': Math.floor(rnd() * 5) } }),
    JSON.stringify({ action: 'http://schemas.ogf.org/occi/infrastructure/compute/action#stop' }),
    JSON.stringify({ locations: [`/compute/${id}`, `/network/${id}`] }),
    JSON.stringify({ mixins: [{ term: `f${Math.floor(rnd() * 1e6)}`, scheme: 'http://fuzz.example/t#', location: `/f${Math.floor(rnd() * 1e6)}/` }] }),
    JSON.stringify({ kind: 'http://schemas.ogf.org/occi/infrastructure#networkinterface', attributes: {}, source: `/compute/${id}`, target: `/network/${pick(rnd, ids())}` }),
    `Category: compute;scheme="http://schemas.ogf.org/occi/infrastructure#";class="kind"\nX-OCCI-Attribute: occi.core.title="t"\n`,
    `X-OCCI-Location: /compute/${id}\n`,
    '',
    // Squatting: a creation at an id, or a mixin with the identity or location, of whoever owns them.
    JSON.stringify({ kind: COMPUTE, id, mixins: [SMALL], attributes: { 'occi.core.title': 'squat' } }),
    JSON.stringify({ mixins: [{ term: `${pick(rnd, TENANTS)}tag`, scheme: `http://${pick(rnd, TENANTS)}.example/tags#`, location: `/${pick(rnd, TENANTS)}tags/` }] }),
  ];
  let b = pick(rnd, bodies);
  const r = rnd();
  if (r < 0.2) b = b.slice(0, Math.floor(rnd() * b.length));
  else if (r < 0.3) b = b.replace(/[a-z]/, '\u0000');
  void target;
  return b;
}

/** An id of another tenant than `as` that the path names, if any. */
function hiddenIdIn(p: string, as: Tenant): string | undefined {
  for (const [id, owner] of owned) if (owner !== as && p.includes(id)) return id;
  return undefined;
}

/** What a caller sees of an answer, with the id it named blanked: status, header names, the node that served it, body. */
function shape(res: Response, text: string, id: string): string {
  const names = [...res.headers.keys()].filter((h) => h !== 'date').sort();
  return `${res.status} [${names.join(' ')}] ${res.headers.get('x-discovery-served-by')} ${text.replaceAll(id, '<id>')}`;
}

/** A well-formed JSON body for the path: a creation on a kind collection, an action, or an update. */
function coherent(p: string): string {
  if (p.includes('?action=stop')) return JSON.stringify({ action: 'http://schemas.ogf.org/occi/infrastructure/compute/action#stop' });
  if (p.includes('?action=resize')) return JSON.stringify({ action: 'http://schemas.ogf.org/occi/infrastructure/storage/action#resize', attributes: { size: 2 } });
  if (p === '/compute/') return JSON.stringify({ kind: COMPUTE, mixins: [SMALL], attributes: { 'occi.core.title': 'made' } });
  if (p === '/network/') return JSON.stringify({ kind: NETWORK, attributes: {} });
  if (p === '/storage/') return JSON.stringify({ kind: STORAGE, attributes: { 'occi.storage.size': 1 } });
  return JSON.stringify({ attributes: { 'occi.core.title': 'changed' } });
}

describe('robustness of a secure 3-node cluster', () => {
  it(`${REQUESTS} mutated requests with random and forged credentials, squatting attempts and existence probes: 2xx/4xx only, every node answers, no entity of another tenant is ever returned, taken or shadowed, and none answers otherwise than an absent id`, async () => {
    const statuses = new Map<number, number>();
    const started = Date.now();
    let leaks: string[] = [];
    const told: string[] = [];
    let probes = 0;
    let sent = 0;
    const worker = async () => {
      while (sent < REQUESTS) {
        sent++;
        const node = pick(rnd, nodes);
        const method = pick(rnd, METHODS);
        const p = path();
        const { headers: auth, as } = credential();
        const headers: Record<string, string> = { ...auth };
        const accept = pick(rnd, MEDIA);
        if (accept) headers['Accept'] = accept;
        const hasBody = ['POST', 'PUT', 'DELETE', 'PATCH'].includes(method);
        let b = hasBody ? body(p) : '';
        if (hasBody) {
          const ct = pick(rnd, MEDIA);
          if (ct) headers['Content-Type'] = ct;
          // A quarter are coherent, so that creations, updates and actions of every tenant also succeed.
          if (rnd() < 0.25) {
            headers['Content-Type'] = headers['Accept'] = 'application/json';
            b = coherent(p);
          }
        }
        const res = await fetch(`${node.url}${p}`, { method, headers, body: hasBody ? b : undefined });
        const text = await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const what = `${method} ${p} at ${node.url} as ${as ?? "nobody"} (${JSON.stringify(auth)}): ${res.status} ${text.slice(0, 120)}`;
        expect(res.status, what).toBeLessThan(500);
        if (res.status === 201 && as && as !== 'admin') {
          const loc = res.headers.get('location');
          if (loc) owned.set(loc.split('/').pop()!, as);
        }
        // No creation may take or link another's entity.
        if (res.status === 201 && as && as !== 'admin') {
          for (const [id, owner] of owned) if (owner !== as && b.includes(id)) leaks.push(`${id} of ${owner} taken or linked: ${what}`);
        }
        if (as === 'admin') continue;
        // An existence probe: a request naming another tenant's id in its path gets what the same
        // request naming an absent id gets (a PUT at a free id creates it: not a probe).
        const hidden = as && method !== 'PUT' ? hiddenIdIn(p, as) : undefined;
        if (hidden) {
          const free = randomUUID();
          const twin = await fetch(`${node.url}${p.replace(hidden, free)}`, { method, headers, body: hasBody ? b : undefined });
          const twinText = await twin.text();
          if (res.status !== 429 && twin.status !== 429) {
            probes++;
            const [a, z] = [shape(res, text, hidden), shape(twin, twinText, free)];
            if (a !== z) told.push(`${what}\n  hidden: ${a.slice(0, 200)}\n  absent: ${z.slice(0, 200)}`);
          }
        }
        // Nothing of any tenant but the caller's, except what the request itself named.
        const seen = `${text}\n${JSON.stringify([...res.headers])}`;
        for (const [id, owner] of owned) {
          if (owner !== as && seen.includes(id) && !p.includes(id) && !b.includes(id)) leaks.push(`${id} of ${owner} in: ${what}`);
        }
        for (const [t, term] of mixinOf) if (t !== as && seen.includes(term) && !p.includes(term) && !b.includes(term)) leaks.push(`mixin ${term} of ${t} in: ${what}`);
        if (seen.includes('-secret') && as === null) leaks.push(`a title to an unauthenticated client: ${what}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const duration = Date.now() - started;
    leaks = [...new Set(leaks)];
    expect(leaks.slice(0, 5), `${leaks.length} leaks`).toEqual([]);
    expect(told.slice(0, 5), `${told.length} of ${probes} existence probes told a hidden id from an absent one`).toEqual([]);
    expect(probes).toBeGreaterThan(100);
    for (const n of nodes) {
      const res = await fetch(`${n.url}/-/`, { headers: { 'X-Auth-Token': tokens.admin, Accept: 'application/json' } });
      expect(res.status).toBe(200);
    }
    // Nothing shadowed: each entity and tag answers its owner alike through every node.
    const shadowed: string[] = [];
    const probe = async (t: Tenant, p: string) => {
      const answers = await Promise.all(nodes.map(async (n) => (await fetch(`${n.url}${p}`, { headers: { 'X-Auth-Token': tokens[t], Accept: 'application/json' } })).status));
      if (new Set(answers).size > 1) shadowed.push(`${p} of ${t}: ${answers.join(', ')}`);
    };
    for (const [id, owner] of [...owned].slice(0, 300)) await probe(owner, `/compute/${id}`);
    for (const t of TENANTS) await probe(t, `/${t}tags/`);
    expect(shadowed.slice(0, 5), `${shadowed.length} answered differently by different nodes`).toEqual([]);
    const dist = Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0]));
    console.log(`robustness: ${sent} requests in ${duration} ms (seed ${SEED}), ${probes} existence probes; statuses ${JSON.stringify(dist)}`);
    expect(sent).toBeGreaterThanOrEqual(REQUESTS);
  }, 120_000);
});
