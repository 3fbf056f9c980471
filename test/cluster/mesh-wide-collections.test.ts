import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import createTestnet, { type Testnet } from 'hyperdht/testnet.js';
import { pino } from 'pino';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StateOnlyBackend } from '../../src/occi/backend.js';
import { startNode, type RunningNode } from '../../src/node.js';
import { entityPath } from '../helpers/occi-json.js';
import { NETWORK, OCCI_JSON } from '../helpers/node.js';

const NAMES = ['wide-fr', 'wide-de', 'wide-jp'];

let testnet: Testnet;
const nodes: RunningNode[] = [];
const dirs: string[] = [];
/** Locations of the networks created, by the node that holds them. */
const held: string[][] = [[], [], []];

const get = (node: RunningNode, path: string, accept = OCCI_JSON) => supertest(node.url).get(path).set('Accept', accept);

beforeAll(async () => {
  testnet = await createTestnet(3, { host: '127.0.0.1' });
  for (const [i, name] of NAMES.entries()) {
    const dataDir = mkdtempSync(join(tmpdir(), `mesh-wide-${i}-`));
    dirs.push(dataDir);
    nodes.push(
      await startNode({
        port: 0,
        dataDir,
        name,
        backend: new StateOnlyBackend(),
        logger: pino({ level: 'silent' }),
        auth: 'none',
        mesh: { secret: 'mesh-wide-test', bootstrap: testnet.bootstrap, site: ['FR', 'DE', 'JP'][i], tuning: { connectionTimeoutMs: 1500, heartbeatTimeoutMs: 1500, requestTimeoutMs: 1500 } },
      }),
    );
  }
  await Promise.all(nodes.map((n) => n.mesh!.waitForMembers(NAMES.length - 1, 20_000)));
  // Seven networks: a creation without locality is held by the node it was sent to.
  for (let k = 0; k < 7; k++) {
    const i = k % 3;
    const res = await supertest(nodes[i]!.url).post('/network/').set('Content-Type', OCCI_JSON).set('Accept', OCCI_JSON).send({ kind: NETWORK, attributes: { 'occi.core.title': `wide-${k}` } });
    expect(res.status, res.text).toBe(201);
    held[i]!.push(res.headers.location as string);
  }
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(nodes.map((n) => n.close()));
  await testnet.destroy();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

const all = () => held.flat().sort();
const idOf = (location: string) => location.split('/').pop()!;

describe('a mesh-wide collection by pages', () => {
  it('without limit nor cursor is the whole collection, unpaged, as rOCCI and pOCCI read it', async () => {
    const json = await get(nodes[0]!, '/network/');
    expect(json.status).toBe(200);
    expect(json.headers['link']).toBeUndefined();
    expect(json.headers['x-discovery-partial']).toBeUndefined();
    expect(JSON.parse(json.text).resources.map(entityPath).sort()).toEqual(all());
    const uris = await get(nodes[1]!, '/network/', 'text/uri-list');
    expect(uris.status).toBe(200);
    expect(uris.text.trim().split(/\r?\n/).map((u) => new URL(u).pathname).sort()).toEqual(all());
  });

  it('walks every member\'s entities in id order, a page at a time, through any node, each once', async () => {
    for (const node of nodes) {
      const seen: string[] = [];
      let next: string | undefined = '/network/?limit=3';
      let pages = 0;
      while (next) {
        const res = await get(node, next);
        expect(res.status, res.text).toBe(200);
        expect(res.headers['x-discovery-partial']).toBeUndefined();
        const page = JSON.parse(res.text).resources.map(entityPath) as string[];
        expect(page.length).toBeLessThanOrEqual(3);
        seen.push(...page);
        pages++;
        const link = res.headers['link'] as string | undefined;
        next = link ? /^<([^>]+)>; rel="next"$/.exec(link)?.[1] : undefined;
        if (link) expect(next, link).toBeDefined();
      }
      expect(pages).toBe(3);
      expect(seen).toEqual([...all()].sort((a, b) => (idOf(a) < idOf(b) ? -1 : 1)));
    }
  });

  it('keeps the other query parameters on the next page, and refuses a bad limit', async () => {
    const title = 'wide-4';
    const res = await get(nodes[2]!, `/network/?limit=1&attribute=${encodeURIComponent(`occi.core.title=${title}`)}`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text).resources.map((r: { title: string }) => r.title)).toEqual([title]);
    expect(res.headers['link']).toBeUndefined();
    const first = await get(nodes[2]!, '/network/?limit=2&category=' + encodeURIComponent(NETWORK));
    expect(first.headers['link']).toContain(`category=${encodeURIComponent(NETWORK)}`);
    expect((await get(nodes[0]!, '/network/?limit=0')).status).toBe(400);
    expect((await get(nodes[0]!, '/network/?cursor=not%20an%20id')).status).toBe(400);
  });
});

describe('a mesh-wide answer that misses a member says so', () => {
  it('names the member this node has no connection to, which another member reaches', async () => {
    const [fr, de, jp] = nodes as [RunningNode, RunningNode, RunningNode];
    fr.mesh!.revoke(jp.mesh!.key);
    await fr.mesh!.waitFor((members) => !members.some((m) => m.key === jp.mesh!.key), 10_000);
    expect(de.mesh!.members().map((m) => m.name)).toContain('wide-jp');

    const list = await get(fr, '/network/');
    expect(list.status).toBe(200);
    expect(list.headers['x-discovery-partial']).toBe('wide-jp');
    expect(JSON.parse(list.text).resources.map(entityPath).sort()).toEqual([...held[0]!, ...held[1]!].sort());
    const paged = await get(fr, '/network/?limit=100');
    expect(paged.headers['x-discovery-partial']).toBe('wide-jp');
    const query = await get(fr, '/-/');
    expect(query.status).toBe(200);
    expect(query.headers['x-discovery-partial']).toBe('wide-jp');
    // The member that reaches everyone answers in full.
    const full = await get(de, '/network/');
    expect(full.headers['x-discovery-partial']).toBeUndefined();
    expect(JSON.parse(full.text).resources.map(entityPath).sort()).toEqual(all());
  }, 20_000);
});
