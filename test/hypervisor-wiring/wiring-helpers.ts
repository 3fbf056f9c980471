import { afterAll, beforeAll, expect } from 'vitest';
import { LibvirtHypervisor } from '../../src/hypervisor/libvirt/libvirt-hypervisor.js';
import { occiClient, type OcciClient } from '../helpers/client.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { fixtureUri } from '../hypervisor/libvirt-helpers.js';
import { entityPath } from '../helpers/occi-json.js';

/** A suite's node on libvirt's test driver (fixture host `a`), started before and disposed after it. */
export function useLibvirtNode(): { node: TestNode; occi: OcciClient; hv: LibvirtHypervisor } {
  const suite = {} as { node: TestNode; occi: OcciClient; hv: LibvirtHypervisor };
  beforeAll(async () => {
    suite.node = await startTestNode({ hypervisor: fixtureUri('a') });
    suite.occi = occiClient(suite.node.url);
    suite.hv = libvirtOf(suite.node);
  });
  afterAll(() => suite.node.dispose());
  return suite;
}

/** The libvirt driver behind a node started with a libvirt URI. */
export function libvirtOf(node: TestNode): LibvirtHypervisor {
  const hv = node.hypervisor;
  if (!(hv instanceof LibvirtHypervisor)) throw new Error(`node drives ${hv?.uri ?? 'no hypervisor'}, not libvirt`);
  return hv;
}

/** POSTs an entity on a kind collection and answers its location and id (expects 201). */
export async function create(occi: OcciClient, path: string, body: Record<string, unknown>): Promise<{ location: string; id: string }> {
  const res = await occi.post(path, body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const location = res.headers.location as string;
  return { location, id: location.slice(location.lastIndexOf('/') + 1) };
}

/** Triggers an action (of the infrastructure kind at `location`) and answers the response. */
export function trigger(occi: OcciClient, location: string, term: string, attributes: Record<string, unknown> = {}) {
  const kind = location.split('/')[1];
  const action = `http://schemas.ogf.org/occi/infrastructure/${kind}/action#${term}`;
  return occi.post(`${location}?action=${term}`, { action, attributes });
}

/** Triggers an action and expects it to succeed. */
export async function act(occi: OcciClient, location: string, term: string, attributes: Record<string, unknown> = {}): Promise<void> {
  const res = await trigger(occi, location, term, attributes);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

/** Attributes of one entity (GET: reconciled with the hypervisor). */
export async function attributesOf(occi: OcciClient, location: string): Promise<Record<string, unknown>> {
  const res = await occi.get(location);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.attributes as Record<string, unknown>;
}

/** Attributes of one entity as stored, read from its collection (a listing does not reconcile). */
export async function storedAttributesOf(occi: OcciClient, location: string): Promise<Record<string, unknown> | undefined> {
  const collection = location.slice(0, location.lastIndexOf('/') + 1);
  const res = await occi.get(collection);
  const found = (res.body.resources as Array<{ kind: string; id: string; attributes: Record<string, unknown> }>).find((r) => entityPath(r) === location);
  return found?.attributes;
}
