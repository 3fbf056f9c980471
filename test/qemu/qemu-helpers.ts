/**
 * Real guests through the OCCI surface: a node on qemu:///system (the host's libvirtd, which must
 * answer: `virtlogd -d; libvirtd -d`, as .ci/run does), the small guest image in its catalogue
 * (built when missing), and guests small enough for TCG on two cores. Every suite deletes what it
 * created and checks that no domain of its computes is left.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { buildGuestImage } from '../../src/hypervisor/images/build.js';
import { LibvirtHypervisor } from '../../src/hypervisor/libvirt/libvirt-hypervisor.js';
import { occiClient, type OcciClient } from '../helpers/client.js';
import { COMPUTE, startTestNode, type TestNode } from '../helpers/node.js';
import { libvirtOf } from '../hypervisor-wiring/wiring-helpers.js';

export const QEMU_URI = 'qemu:///system';
export const GUEST_IMAGE = 'busybox';
export const OS_TPL = `http://schemas.discovery-cloud.org/occi/os_tpl#${GUEST_IMAGE}`;
export const USER_DATA = 'http://schemas.ogf.org/occi/infrastructure/compute#user_data';
export const SSH_KEY = 'http://schemas.ogf.org/occi/infrastructure/credentials#ssh_key';
export const IPNETWORK = 'http://schemas.ogf.org/occi/infrastructure/network#ipnetwork';
export const IPNETWORKINTERFACE = 'http://schemas.ogf.org/occi/infrastructure/networkinterface#ipnetworkinterface';
/** 128 MiB, the smallest memory the guest boots in comfortably. */
export const GUEST_MEMORY_GIB = 0.125;
/** A boot under TCG on a busy two-core machine: ~5 s alone, up to a minute with other guests booting. */
export const BOOT_TIMEOUT_MS = 120_000;
/** vitest's limit for one test with guests. */
export const GUEST_TEST_TIMEOUT_MS = 300_000;

/** The guest image in the catalogue of `uri` (built from this machine's packages when it is missing). */
export async function ensureGuestImage(hv: LibvirtHypervisor): Promise<void> {
  if ((await hv.images()).some((i) => i.name === GUEST_IMAGE)) return;
  const dir = mkdtempSync(join(tmpdir(), 'discovery-test-image-'));
  try {
    const built = await buildGuestImage(dir);
    // Two suites may build at once: the second finds it there.
    await hv.addImage({ name: GUEST_IMAGE, disk: built.disk, boot: built }).catch(async (err: unknown) => {
      if (!(await hv.images()).some((i) => i.name === GUEST_IMAGE)) throw err;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface QemuSuite {
  node: TestNode;
  occi: OcciClient;
  hv: LibvirtHypervisor;
  /** Computes this suite created (their domains must be gone at the end). */
  computes: string[];
}

/** A node on qemu:///system for the suite; at the end every entity it holds is deleted and its domains checked gone. */
export function useQemuNode(): QemuSuite {
  const suite = { computes: [] } as unknown as QemuSuite;
  beforeAll(async () => {
    const hv = await LibvirtHypervisor.open(QEMU_URI).catch((err: unknown) => {
      throw new Error(`${QEMU_URI} does not answer (${(err as Error).message}): start the daemons (virtlogd -d; libvirtd -d), or run ./scripts/up.sh --qemu once`);
    });
    try {
      await ensureGuestImage(hv);
    } finally {
      await hv.close();
    }
    suite.node = await startTestNode({ hypervisor: QEMU_URI });
    suite.occi = occiClient(suite.node.url);
    suite.hv = libvirtOf(suite.node);
  }, BOOT_TIMEOUT_MS);
  afterAll(async () => {
    if (suite.node === undefined) return;
    for (const collection of ['/compute/', '/storage/', '/network/']) await suite.occi.delete(collection);
    for (const id of suite.computes) expect((await suite.hv.domainInfo(id)).state).toBe('absent');
    await suite.node.dispose();
  }, BOOT_TIMEOUT_MS);
  return suite;
}

export interface GuestOptions {
  hostname?: string;
  userData?: string;
  sshKey?: string;
  links?: unknown[];
}

/** Creates a running guest through OCCI; answers its location and id. */
export async function createGuest(suite: QemuSuite, opts: GuestOptions = {}): Promise<{ location: string; id: string }> {
  const mixins = [OS_TPL];
  const attributes: Record<string, unknown> = { 'occi.compute.cores': 1, 'occi.compute.memory': GUEST_MEMORY_GIB };
  if (opts.hostname !== undefined) attributes['occi.compute.hostname'] = opts.hostname;
  if (opts.userData !== undefined) {
    mixins.push(USER_DATA);
    attributes['occi.compute.userdata'] = Buffer.from(opts.userData).toString('base64');
  }
  if (opts.sshKey !== undefined) {
    mixins.push(SSH_KEY);
    attributes['occi.credentials.ssh.publickey'] = opts.sshKey;
  }
  const res = await suite.occi.post('/compute/', { kind: COMPUTE, mixins, attributes, ...(opts.links ? { links: opts.links } : {}) });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const location = res.headers.location as string;
  const id = location.slice(location.lastIndexOf('/') + 1);
  suite.computes.push(id);
  return { location, id };
}

/** The compute's console through the API (text/plain). */
export async function consoleOf(occi: OcciClient, location: string, lines = 1000): Promise<string> {
  const res = await occi.get(`${location}/console?lines=${lines}`, { Accept: 'text/plain' });
  expect(res.status, res.text).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain/);
  return res.text;
}

/** Polls the console until `done` holds (bounded by `timeoutMs`); answers the console then. */
export async function waitForConsole(occi: OcciClient, location: string, done: (console: string) => boolean, timeoutMs = BOOT_TIMEOUT_MS): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await consoleOf(occi, location);
    if (done(text)) return text;
    if (Date.now() > deadline) throw new Error(`console of ${location} after ${timeoutMs} ms:\n${text.slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** The last heartbeat the guest printed (0 before the first). */
export function lastHeartbeat(console: string): number {
  const beats = [...console.matchAll(/discovery: heartbeat (\d+)/g)];
  return beats.length === 0 ? 0 : Number(beats[beats.length - 1]![1]);
}

/** How many times the guest booted, as it counts on its disk (0 before it said). */
export function bootCount(console: string): number {
  const boots = [...console.matchAll(/discovery: boot (\d+)/g)];
  return boots.length === 0 ? 0 : Number(boots[boots.length - 1]![1]);
}

/** The marker the guest keeps on its disk, as it last printed it. */
export function marker(console: string): string | undefined {
  return [...console.matchAll(/discovery: marker ([0-9a-f]+)/g)].pop()?.[1];
}

/** Triggers a compute action and expects 200; answers the compute's attributes. */
export async function computeAction(occi: OcciClient, location: string, term: string, attributes: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const res = await occi.post(`${location}?action=${term}`, { action: `http://schemas.ogf.org/occi/infrastructure/compute/action#${term}`, attributes });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.attributes as Record<string, unknown>;
}

export async function stateOf(occi: OcciClient, location: string): Promise<unknown> {
  const res = await occi.get(location);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return (res.body.attributes as Record<string, unknown>)['occi.compute.state'];
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
