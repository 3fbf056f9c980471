import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entityPath } from '../helpers/occi-json.js';
import { occiClient, type OcciClient } from '../helpers/client.js';
import { COMPUTE, NETWORK, NETWORKINTERFACE, STORAGE, STORAGELINK, startTestNode, type TestNode } from '../helpers/node.js';

let node: TestNode;
let occi: OcciClient;
beforeAll(async () => {
  node = await startTestNode();
  occi = occiClient(node.url);
});
afterAll(() => node.dispose());

const A = 'http://schemas.ogf.org/occi/infrastructure/';

/** The action that takes a new (operating) entity of a kind to a state; the server alone sets states. */
const REACH: Record<string, Record<string, string>> = {
  [COMPUTE]: { inactive: 'stop', suspended: 'suspend' },
  [NETWORK]: { inactive: 'down' },
  [STORAGE]: { offline: 'offline' },
};

/** Creates an entity and brings it to the given state. */
async function create(path: string, kind: string, stateAttr: string, state: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await occi.post(path, { kind, attributes: extra });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const location = res.headers.location as string;
  const action = REACH[kind]?.[state];
  if (action) expect((await occi.post(`${location}?action=${action}`)).status).toBe(200);
  expect((await occi.get(location)).body.attributes[stateAttr]).toBe(state);
  return location;
}

interface Case {
  kind: string;
  path: string;
  attr: string;
  action: string;
  from: string;
  to: string;
  attributes?: Record<string, unknown>;
  extra?: Record<string, unknown>;
}

const compute = (action: string, from: string, to: string, attributes?: Record<string, unknown>): Case => ({ kind: COMPUTE, path: '/compute/', attr: 'occi.compute.state', action, from, to, attributes });
const network = (action: string, from: string, to: string): Case => ({ kind: NETWORK, path: '/network/', attr: 'occi.network.state', action, from, to });
const storage = (action: string, from: string, to: string, attributes?: Record<string, unknown>): Case => ({ kind: STORAGE, path: '/storage/', attr: 'occi.storage.state', action, from, to, attributes, extra: { 'occi.storage.size': 10 } });

const valid: Case[] = [
  compute('start', 'inactive', 'active'),
  compute('start', 'suspended', 'active'),
  compute('stop', 'active', 'inactive', { method: 'acpioff' }),
  compute('restart', 'active', 'active', { method: 'warm' }),
  compute('suspend', 'active', 'suspended', { method: 'hibernate' }),
  compute('save', 'active', 'active', { method: 'hot', name: 'before-upgrade' }),
  network('up', 'inactive', 'active'),
  network('down', 'active', 'inactive'),
  storage('online', 'offline', 'online'),
  storage('offline', 'online', 'offline'),
  storage('backup', 'online', 'online'),
  storage('snapshot', 'online', 'online'),
  storage('resize', 'online', 'online', { size: 20 }),
];

const invalid: Case[] = [
  compute('start', 'active', ''),
  compute('stop', 'inactive', ''),
  compute('restart', 'inactive', ''),
  compute('suspend', 'suspended', ''),
  compute('save', 'suspended', ''),
  network('up', 'active', ''),
  network('down', 'inactive', ''),
  storage('online', 'online', ''),
  storage('offline', 'offline', ''),
  storage('backup', 'offline', ''),
  storage('snapshot', 'offline', ''),
];

describe('actions follow the GFD.224 state diagrams', () => {
  it.each(valid)('$kind $action: $from → $to', async (c) => {
    const location = await create(c.path, c.kind, c.attr, c.from, c.extra);
    const body = c.attributes ? { action: `${A}${c.path.slice(1, -1)}/action#${c.action}`, attributes: c.attributes } : undefined;
    const res = await occi.post(`${location}?action=${c.action}`, body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.attributes[c.attr]).toBe(c.to);
    expect((await occi.get(location)).body.attributes[c.attr]).toBe(c.to);
    if (c.action === 'resize') expect(res.body.attributes['occi.storage.size']).toBe(20);
  });

  it.each(invalid)('$kind $action from $from is a 409 and changes nothing', async (c) => {
    const location = await create(c.path, c.kind, c.attr, c.from, c.extra);
    const before = (await occi.get(location)).body;
    const res = await occi.post(`${location}?action=${c.action}`);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('STATE_CONFLICT');
    expect(res.body.error.message).toContain(c.from);
    expect((await occi.get(location)).body).toEqual(before);
  });

  it('renders only the actions the current state allows', async () => {
    const location = await create('/compute/', COMPUTE, 'occi.compute.state', 'inactive');
    const res = await occi.get(location);
    expect(res.body.actions).toEqual([`${A}compute/action#start`, `${A}compute/action#save`]);
  });

  it('checks action attributes: bad method is a 400, unknown action a 400', async () => {
    const location = await create('/compute/', COMPUTE, 'occi.compute.state', 'active');
    const bad = await occi.post(`${location}?action=stop`, { action: `${A}compute/action#stop`, attributes: { method: 'yank' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('method');
    const unknown = await occi.post(`${location}?action=explode`);
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toContain('explode');
    const mismatch = await occi.post(`${location}?action=stop`, { action: `${A}compute/action#start` });
    expect(mismatch.status).toBe(400);
    expect((await occi.get(location)).body.attributes['occi.compute.state']).toBe('active');
  });

  it('resize requires its size attribute', async () => {
    const location = await create('/storage/', STORAGE, 'occi.storage.state', 'online', { 'occi.storage.size': 5 });
    const res = await occi.post(`${location}?action=resize`, { action: `${A}storage/action#resize`, attributes: {} });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('MISSING_ATTRIBUTE');
  });

  it('triggers an action on every entity of a kind collection whose state allows it', async () => {
    const up = [await create('/network/', NETWORK, 'occi.network.state', 'active'), await create('/network/', NETWORK, 'occi.network.state', 'active')];
    await create('/network/', NETWORK, 'occi.network.state', 'inactive');
    const res = await occi.post('/network/?action=down');
    expect(res.status).toBe(200);
    expect(res.body.resources.map(entityPath)).toEqual(expect.arrayContaining(up));
    const all = (await occi.get('/network/')).body.resources;
    expect(all.every((r: { attributes: Record<string, unknown> }) => r.attributes['occi.network.state'] === 'inactive')).toBe(true);
  });

  it('link actions: networkinterface down/up and storagelink offline/online', async () => {
    const c = await create('/compute/', COMPUTE, 'occi.compute.state', 'active');
    const n = await create('/network/', NETWORK, 'occi.network.state', 'active');
    const s = await create('/storage/', STORAGE, 'occi.storage.state', 'online', { 'occi.storage.size': 1 });
    const nic = await occi.post('/networkinterface/', { kind: NETWORKINTERFACE, source: { location: c }, target: { location: n }, attributes: {} });
    const disk = await occi.post('/storagelink/', { kind: STORAGELINK, source: { location: c }, target: { location: s }, attributes: {} });
    expect((await occi.post(`${nic.headers.location}?action=down`)).body.attributes['occi.networkinterface.state']).toBe('inactive');
    expect((await occi.post(`${nic.headers.location}?action=down`)).status).toBe(409);
    expect((await occi.post(`${nic.headers.location}?action=up`)).body.attributes['occi.networkinterface.state']).toBe('active');
    expect((await occi.post(`${disk.headers.location}?action=offline`)).body.attributes['occi.storagelink.state']).toBe('inactive');
    expect((await occi.post(`${disk.headers.location}?action=online`)).body.attributes['occi.storagelink.state']).toBe('active');
  });
});
