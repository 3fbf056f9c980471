import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MigrationProgress } from '../../src/hypervisor/hypervisor.js';
import { LibvirtHypervisor } from '../../src/hypervisor/libvirt/libvirt-hypervisor.js';
import { PrivateDaemon } from '../../src/hypervisor/libvirt/private-daemon.js';
import { occiClient } from '../helpers/client.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { libvirtOf } from '../hypervisor-wiring/wiring-helpers.js';
import {
  BOOT_TIMEOUT_MS,
  bootCount,
  createGuest,
  ensureGuestImage,
  GUEST_IMAGE,
  GUEST_TEST_TIMEOUT_MS,
  lastHeartbeat,
  marker,
  QEMU_URI,
  type QemuSuite,
  stateOf,
  waitForConsole,
} from './qemu-helpers.js';

/** The second host: a libvirt daemon of its own, with the guest image in its catalogue. */
let other: PrivateDaemon;
let otherHv: LibvirtHypervisor;
const dataDir = mkdtempSync(join(tmpdir(), 'occi-node-migration-'));
const suite = { computes: [] } as unknown as QemuSuite;
let second: TestNode | undefined;

beforeAll(async () => {
  await PrivateDaemon.stopOrphans();
  other = await PrivateDaemon.start();
  otherHv = await LibvirtHypervisor.open(other.uri);
  suite.node = await startTestNode({ hypervisor: QEMU_URI, dataDir });
  suite.occi = occiClient(suite.node.url);
  suite.hv = libvirtOf(suite.node);
  await ensureGuestImage(suite.hv);
  const image = (await suite.hv.images()).find((i) => i.name === GUEST_IMAGE)!;
  await otherHv.addImage({ name: image.name, title: image.title, disk: image.path, boot: image.boot });
}, BOOT_TIMEOUT_MS);

afterAll(async () => {
  if (second) {
    await occiClient(second.url).delete('/compute/');
    for (const id of suite.computes) expect((await otherHv.domainInfo(id)).state).toBe('absent');
    await second.dispose();
  } else {
    await suite.node?.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  for (const id of suite.computes) await suite.hv?.undefineDomain(id).catch(() => undefined);
  await otherHv?.close();
  await other?.stop();
}, BOOT_TIMEOUT_MS);

describe('live migration between two libvirt daemons', () => {
  it('is cancelled on timeout with the guest left where it was; then keeps the guest running (heartbeat and marker), its OCCI id and location, and leaves nothing on the old host', async () => {
    const { location, id } = await createGuest(suite);
    const before = await waitForConsole(suite.occi, location, (c) => lastHeartbeat(c) >= 5 && marker(c) !== undefined);
    const mark = marker(before)!;
    // Cancelled on timeout: the guest stays where it was, and the target keeps nothing of it.
    await expect(suite.hv.migrate(id, { uri: other.uri }, { timeoutMs: 200 })).rejects.toMatchObject({ code: 'UNREACHABLE', message: expect.stringMatching(/cancelled after 200 ms/) });
    expect((await suite.hv.domainInfo(id)).state).toBe('running');
    expect((await otherHv.domainInfo(id)).state).toBe('absent');
    expect(readdirSync(other.hostDir + '/volumes').filter((f) => f.startsWith(id))).toEqual([]);
    const progress: MigrationProgress[] = [];
    // The target described by data, as another node's daemon would be: its URI only.
    const moved = await suite.hv.migrate(id, { uri: other.uri }, { maxDowntimeMs: 500, timeoutMs: 120_000, progressIntervalMs: 250, onProgress: (p) => progress.push(p) });
    const beatBefore = lastHeartbeat(before);
    expect(moved).toMatchObject({ id, state: 'running', migration: { mode: 'live' } });
    expect(moved.migration.downtimeMs).toBeLessThan(2000);
    expect(progress.some((p) => p.processedBytes > 0)).toBe(true);

    // Nothing left on the old host: no domain, no overlay, no config drive.
    expect((await suite.hv.domainInfo(id)).state).toBe('absent');
    expect(readdirSync(suite.hv.layout!.volumesDir).filter((f) => f.startsWith(id))).toEqual([]);
    expect((await otherHv.domainInfo(id)).state).toBe('running');
    expect(await otherHv.domainXml(id)).toContain(`${other.hostDir}/volumes/${id}-root.qcow2`);

    // The node's records go with the host: the same data directory, now on the other daemon.
    await suite.node.close();
    second = await startTestNode({ hypervisor: other.uri, dataDir });
    const occi = occiClient(second.url);
    expect(await stateOf(occi, location)).toBe('active');
    const after = await waitForConsole(occi, location, (c) => lastHeartbeat(c) >= beatBefore + 6 && marker(c) !== undefined);
    // The log on the new host starts where the guest was: no boot, the counter goes on, the disk has the marker.
    expect(bootCount(after)).toBe(0);
    const firstBeat = Number(/discovery: heartbeat (\d+)/.exec(after)![1]);
    expect(firstBeat).toBeGreaterThan(beatBefore);
    expect(firstBeat).toBeLessThanOrEqual(beatBefore + 30);
    expect(marker(after)).toBe(mark);
  }, GUEST_TEST_TIMEOUT_MS);
});
