import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventFeed, Ring } from '../../src/http/events-feed.js';
import { EVENTS_METHOD, EventRelay } from '../../src/http/events-relay.js';
import type { Mesh } from '../../src/mesh/mesh.js';
import { type SecureNode, startSecureCluster } from '../security/security-helpers.js';
import { COMPUTE, SMALL } from '../helpers/node.js';
import { openEvents, typesOf } from './events-helpers.js';

const J = 'application/occi+json';
const STOP = 'http://schemas.ogf.org/occi/infrastructure/compute/action#stop';

let cluster: Awaited<ReturnType<typeof startSecureCluster>>;
let nodes: SecureNode[];
let admin: string;
let acme: string;
let globex: string;

beforeAll(async () => {
  cluster = await startSecureCluster(['n1', 'n2']);
  nodes = cluster.nodes;
  admin = nodes[0]!.adminToken;
  acme = nodes[0]!.auth.issue({ tenant: 'acme', admin: false }).token;
  globex = nodes[0]!.auth.issue({ tenant: 'globex', admin: false }).token;
}, 90_000);
afterAll(() => cluster?.dispose());

async function call(node: SecureNode, method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(`${node.url}${path}`, { method, headers: { 'X-Auth-Token': token, Accept: J, ...(body ? { 'Content-Type': J } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as { id: string }) : undefined };
}

const create = async (node: SecureNode, token: string, title: string) => {
  const res = await call(node, 'POST', '/compute/', token, { kind: COMPUTE, mixins: [SMALL], attributes: { 'occi.core.title': title } });
  expect(res.status).toBe(201);
  return res.body!.id;
};

describe('GET /.well-known/discovery/events', () => {
  it('needs a token and answers text/event-stream', async () => {
    expect((await fetch(`${nodes[0]!.url}/.well-known/discovery/events`)).status).toBe(401);
    const stream = await openEvents(nodes[0]!.url, admin);
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    stream.close();
  });

  it("streams a compute's life in order: admitted, stopped, deleted, with increasing ids", async () => {
    const stream = await openEvents(nodes[0]!.url, admin);
    const id = await create(nodes[0]!, acme, 'life');
    expect((await call(nodes[0]!, 'POST', `/compute/${id}?action=stop`, acme, { action: STOP, attributes: {} })).status).toBe(200);
    expect((await call(nodes[0]!, 'DELETE', `/compute/${id}`, acme)).status).toBe(200);
    await stream.next((e) => e.event === 'compute.deleted' && e.data.data?.['id'] === id);
    expect(typesOf(stream, id)).toEqual(['compute.admitted', 'compute.state', 'compute.deleted']);
    const [admitted, stopped] = stream.events.filter((e) => e.data.data?.['id'] === id);
    expect(admitted!.data).toMatchObject({ type: 'compute.admitted', node: 'n1', tenant: 'acme', data: { id, title: 'life', generation: 1 } });
    expect(stopped!.data.data).toMatchObject({ from: 'active', to: 'inactive' });
    const seqs = stream.events.map((e) => Number(e.id!.split('-')[1]));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    stream.close();
  });

  it("shows a tenant its own computes' events and never another tenant's; admins see every tenant, named", async () => {
    const [a, g, all] = await Promise.all([openEvents(nodes[0]!.url, acme), openEvents(nodes[0]!.url, globex), openEvents(nodes[0]!.url, admin)]);
    const mine = await create(nodes[0]!, acme, 'acme-1');
    const theirs = await create(nodes[0]!, globex, 'globex-1');
    await all.next((e) => e.data.data?.['id'] === theirs);
    await a.next((e) => e.data.data?.['id'] === mine);
    await g.next((e) => e.data.data?.['id'] === theirs);
    // A tenant's stream carries no event of another tenant's compute, and no tenant names.
    expect(a.events.some((e) => e.data.data?.['id'] === theirs)).toBe(false);
    expect(g.events.some((e) => e.data.data?.['id'] === mine)).toBe(false);
    expect(a.events.every((e) => e.data.tenant === undefined)).toBe(true);
    expect(all.events.find((e) => e.data.data?.['id'] === theirs)!.data.tenant).toBe('globex');
    for (const s of [a, g, all]) s.close();
  });

  it('relays what happens on the other members to whoever watches this node', async () => {
    const stream = await openEvents(nodes[0]!.url, admin, { query: '?types=compute.' });
    const id = await create(nodes[1]!, acme, 'on-n2');
    const seen = await stream.next((e) => e.data.data?.['id'] === id, 15_000);
    expect(seen.data).toMatchObject({ type: 'compute.admitted', node: 'n2' });
    expect(stream.events.every((e) => e.event.startsWith('compute.'))).toBe(true);
    stream.close();
  });

  it('replays what a client missed after its Last-Event-ID, and starts with a gap for an id of another run', async () => {
    const first = await openEvents(nodes[0]!.url, acme);
    const before = await create(nodes[0]!, acme, 'before');
    const last = (await first.next((e) => e.data.data?.['id'] === before)).id!;
    first.close();
    const missed = [await create(nodes[0]!, acme, 'missed-1'), await create(nodes[0]!, acme, 'missed-2')];
    const again = await openEvents(nodes[0]!.url, acme, { lastEventId: last });
    await again.next((e) => e.data.data?.['id'] === missed[1]);
    expect(again.events.map((e) => e.data.data?.['id'])).toEqual(missed);
    expect(Number(again.events[0]!.id!.split('-')[1])).toBeGreaterThan(Number(last.split('-')[1]));
    again.close();

    const stale = await openEvents(nodes[0]!.url, acme, { lastEventId: 'oldrun-5' });
    const gap = await stale.next((e) => e.event === 'gap');
    expect(stale.events[0]).toBe(gap);
    // After the gap: what the ring holds of this tenant, the missed ones included.
    await stale.next((e) => e.data.data?.['id'] === missed[1]);
    stale.close();
  });
});

describe('the event ring', () => {
  it('keeps the newest events and says when a reconnecting client lost some', () => {
    const feed = new EventFeed({ node: 'n', ringSize: 4 });
    for (let i = 1; i <= 6; i++) feed.publish('compute.admitted', { id: `c${i}` });
    const all = feed.since(`${feed.epoch}-0`);
    expect(all.gap).toBe(true);
    expect(all.events.map((e) => e.data['id'])).toEqual(['c3', 'c4', 'c5', 'c6']);
    const recent = feed.since(`${feed.epoch}-4`);
    expect(recent).toMatchObject({ gap: false });
    expect(recent.events.map((e) => e.data['id'])).toEqual(['c5', 'c6']);
    expect(feed.since(`${feed.epoch}-6`)).toEqual({ events: [], gap: false });
  });

  it("gives a member's first call the events of the last seconds: what happened between the start of a watch and the first answer", () => {
    let now = 100_000;
    const feed = new EventFeed({ node: 'm', now: () => now });
    const handlers = new Map<string, (payload: unknown) => unknown>();
    const mesh = { handle: (method: string, h: (payload: unknown) => unknown) => handlers.set(method, h), unhandle: () => undefined } as unknown as Mesh;
    const relay = new EventRelay({ mesh, feed });
    feed.publish('compute.admitted', { id: 'old' });
    now += 6_000;
    feed.publish('compute.admitted', { id: 'just-now' });
    const first = handlers.get(EVENTS_METHOD)!({}) as { last: number; events: Array<{ data: { id: string } }> };
    expect(first.events.map((e) => e.data.id)).toEqual(['just-now']);
    expect(first.last).toBe(2);
    // Later calls carry a cursor: what came after it, nothing twice.
    const next = handlers.get(EVENTS_METHOD)!({ epoch: feed.epoch, since: first.last }) as { events: unknown[] };
    expect(next.events).toEqual([]);
    relay.close();
  });

  it('numbers items 1, 2, … and overwrites the oldest', () => {
    const ring = new Ring<string>(3);
    for (const x of ['a', 'b', 'c', 'd']) ring.push(x);
    expect(ring.first).toBe(2);
    expect(ring.after(1)).toEqual({ items: ['b', 'c', 'd'], gap: false });
    expect(ring.after(0)).toEqual({ items: ['b', 'c', 'd'], gap: true });
  });
});
