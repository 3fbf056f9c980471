import { Agent, request } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestNode, type TestNode } from '../../helpers/node.js';
import { seededRandom } from '../../helpers/random.js';

/** Mutated text requests (bodies, headers, paths, methods, huge and empty values): only 2xx/4xx. */

const REQUESTS = 2400;
const CONCURRENCY = 8;
const SEED = 0x0cc1;

interface Req {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
const kind = (t: string) => `${t};scheme="${INFRA}";class="kind"`;
const SMALL = 'small;scheme="http://schemas.discovery-cloud.org/occi/resource_tpl#";class="mixin"';
const STOP = 'stop;scheme="http://schemas.ogf.org/occi/infrastructure/compute/action#";class="action"';

function seeds(compute: string, storage: string): Req[] {
  const plain = (method: string, path: string, body: string, accept = 'text/plain'): Req => ({ method, path, headers: { Accept: accept, 'Content-Type': 'text/plain,text/occi' }, body });
  const occi = (method: string, path: string, headers: Record<string, string>): Req => ({ method, path, headers: { Accept: 'text/occi', 'Content-Type': 'text/occi', ...headers }, body: '' });
  return [
    plain('POST', '/compute/', `Category: ${kind('compute')}\nCategory: ${SMALL}\nX-OCCI-Attribute: occi.core.title="fuzz, one"\nX-OCCI-Attribute: occi.compute.cores=2\n`),
    plain('POST', '/storage/', `Category: ${kind('storage')}\nX-OCCI-Attribute: occi.storage.size=1.5\n`),
    plain('POST', '/storagelink/', `Category: ${kind('storagelink')}\nX-OCCI-Attribute: occi.core.source="${compute}"\nX-OCCI-Attribute: occi.core.target="${storage}"\n`),
    plain('POST', '/compute/', `Category: ${kind('compute')}\nLink: <${storage}>;rel="${INFRA}storage";category="${INFRA}storagelink";occi.storagelink.deviceid="/dev/vdc"\n`),
    plain('POST', `${compute}?action=stop`, `Category: ${STOP}\nX-OCCI-Attribute: method="graceful"\n`),
    plain('POST', compute, `X-OCCI-Attribute: occi.core.title="renamed"\n`),
    plain('PUT', compute, `Category: ${kind('compute')}\nX-OCCI-Attribute: occi.core.title="replaced"\n`),
    plain('POST', '/-/', `Category: tag1;scheme="http://example.com/t#";class="mixin";location="/tag1/"\n`),
    plain('POST', '/tag1/', `X-OCCI-Location: ${compute}\n`),
    plain('GET', '/-/', ''),
    plain('GET', '/compute/', '', 'text/uri-list'),
    occi('GET', '/-/', { Category: kind('compute') }),
    occi('GET', '/compute/', { 'X-OCCI-Attribute': 'occi.compute.state="active"' }),
    occi('POST', '/network/', { Category: kind('network'), 'X-OCCI-Attribute': 'occi.core.title="n", occi.network.vlan=7' }),
    occi('GET', compute, {}),
    occi('DELETE', '/-/', { Category: 'tag1;scheme="http://example.com/t#";class="mixin"' }),
  ];
}

const NOISE = ['"', '\\', ',', ';', '=', '<', '>', '{', '}', '#', ':', ' ', '\n', '\r\n', '\t', 'é', '✓', '\u0000', '0', '-1', '1e400', 'true', 'class=kind', '?action=', '%', '/'];

function mutate(r: Req, rnd: () => number): Req {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const edit = (s: string): string => {
    const i = Math.floor(rnd() * (s.length + 1));
    switch (Math.floor(rnd() * 6)) {
      case 0:
        return s.slice(0, i) + s.slice(i + 1 + Math.floor(rnd() * 8));
      case 1:
        return s.slice(0, i) + pick(NOISE) + s.slice(i);
      case 2:
        return s.slice(0, i) + pick(NOISE).repeat(1 + Math.floor(rnd() * 3)) + s.slice(i + 1);
      case 3:
        return s + s.slice(0, i);
      case 4:
        return rnd() < 0.5 ? '' : s.slice(0, i);
      default:
        return s.slice(0, i) + 'x'.repeat(1000 + Math.floor(rnd() * 20000)) + s.slice(i);
    }
  };
  const out: Req = { ...r, headers: { ...r.headers } };
  for (let n = 1 + Math.floor(rnd() * 3); n > 0; n--) {
    const what = rnd();
    if (what < 0.45) out.body = edit(out.body);
    else if (what < 0.75) {
      const names = [...Object.keys(out.headers), 'Category', 'X-OCCI-Attribute', 'Link', 'X-OCCI-Location'];
      const name = pick(names);
      const value = edit(out.headers[name] ?? '');
      // Only what an HTTP client can send: no line breaks, no characters outside Latin-1.
      out.headers[rnd() < 0.3 ? name.toUpperCase() : name] = value.replace(/[\r\n\0]/g, ' ').replace(/[^\t\x20-\x7e\xa0-\xff]/g, '?');
    } else if (what < 0.9) out.path = edit(out.path).replace(/[^\x21-\x7e]/g, encodeURIComponent);
    else out.method = pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS']);
  }
  if (!out.path.startsWith('/')) out.path = `/${out.path}`;
  return out;
}

/** A failing request, cut to a readable size for the report. */
function shortened(r: Req): Req {
  const cut = (s: string) => (s.length > 200 ? `${s.slice(0, 200)}…(${s.length})` : s);
  return { method: r.method, path: cut(r.path), body: cut(r.body), headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, cut(v)])) };
}

let node: TestNode;
const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
beforeAll(async () => {
  node = await startTestNode();
});
afterAll(async () => {
  agent.destroy();
  await node.dispose();
});

function send(r: Req): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = Buffer.from(r.body, 'utf8');
    const req = request(`${node.url}${r.path}`, { method: r.method, agent, headers: { ...r.headers, 'Content-Length': String(body.length) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to ${r.method} ${r.path}`)));
    req.on('error', reject);
    req.end(body);
  });
}

function locationOf(r: Req): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(`${node.url}${r.path}`, { method: 'POST', agent, headers: r.headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(new URL(res.headers.location!).pathname));
    });
    req.on('error', reject);
    req.end(r.body);
  });
}

it(`${REQUESTS} mutated text requests get only 2xx/4xx answers and the node stays up`, { timeout: 60_000 }, async () => {
  const headers = { Accept: 'text/plain', 'Content-Type': 'text/plain' };
  const compute = await locationOf({ method: 'POST', path: '/compute/', headers, body: `Category: ${kind('compute')}\n` });
  const storage = await locationOf({ method: 'POST', path: '/storage/', headers, body: `Category: ${kind('storage')}\nX-OCCI-Attribute: occi.storage.size=2\n` });
  const base = seeds(compute, storage);
  const rnd = seededRandom(SEED);
  const reqs = Array.from({ length: REQUESTS }, () => mutate(base[Math.floor(rnd() * base.length)]!, rnd));

  const bad: Array<{ status: number; req: Req }> = [];
  let next = 0;
  const worker = async () => {
    while (next < reqs.length) {
      const r = reqs[next++]!;
      const status = await send(r);
      if (status < 200 || status >= 500 || (status >= 300 && status < 400)) bad.push({ status, req: shortened(r) });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  expect(bad.slice(0, 3)).toEqual([]);

  // Still up, and every listed compute renders.
  expect(await send({ method: 'GET', path: '/-/', headers, body: '' })).toBe(200);
  const list = await fetch(`${node.url}/compute/`, { headers: { Accept: 'text/uri-list' } }).then((r) => r.text());
  for (const uri of list.split('\n').filter(Boolean)) expect(await send({ method: 'GET', path: new URL(uri).pathname, headers, body: '' })).toBe(200);
});
