import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGuestImage } from '../../src/hypervisor/images/build.js';
import { LibvirtHypervisor } from '../../src/hypervisor/libvirt/libvirt-hypervisor.js';
import { PrivateDaemon } from '../../src/hypervisor/libvirt/private-daemon.js';
import { occiClient } from '../helpers/client.js';
import { startTestNode } from '../helpers/node.js';

const OS_TPL = 'http://schemas.discovery-cloud.org/occi/os_tpl#';
let daemon: PrivateDaemon;
let hv: LibvirtHypervisor;
const work = mkdtempSync(join(tmpdir(), 'catalogue-test-'));

beforeAll(async () => {
  daemon = await PrivateDaemon.start();
  hv = await LibvirtHypervisor.open(daemon.uri);
}, 60_000);

afterAll(async () => {
  await hv?.close();
  await daemon?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('the image catalogue of a host', () => {
  it('takes a built image and a cloud-style disk; the os_tpl mixins of a node on that host list them; images are removed', async () => {
    const built = await buildGuestImage(join(work, 'built'));
    expect(built.cmdline).toContain('console=ttyS0');
    const guest = await hv.addImage({ name: 'busybox', disk: built.disk, boot: built });
    expect(guest).toMatchObject({ name: 'busybox', format: 'qcow2', path: join(daemon.hostDir, 'images', 'busybox.qcow2') });
    expect(guest.boot?.kernel).toBe(join(daemon.hostDir, 'images', 'busybox.kernel'));
    // A disk with its own boot loader (a cloud image): no kernel of its own; a raw one keeps its format.
    const raw = join(work, 'cloud.img');
    execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', built.disk, raw]);
    expect(await hv.addImage({ name: 'cloud-like', title: 'A cloud image', disk: raw })).toMatchObject({ name: 'cloud-like', format: 'raw', title: 'A cloud image' });
    expect((await hv.images()).find((i) => i.name === 'cloud-like')?.boot).toBeUndefined();
    await expect(hv.addImage({ name: 'busybox', disk: built.disk })).rejects.toThrow(/already has an image named busybox/);
    await expect(hv.addImage({ name: 'bad.name', disk: built.disk })).rejects.toThrow(/letters, digits/);
    const overlay = join(work, 'overlay.qcow2');
    copyFileSync(built.disk, join(work, 'base.qcow2'));
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', join(work, 'base.qcow2'), '-F', 'qcow2', overlay]);
    await expect(hv.addImage({ name: 'overlay', disk: overlay })).rejects.toThrow(/backing file/);

    const node = await startTestNode({ hypervisor: daemon.uri });
    try {
      const res = await occiClient(node.url).get('/-/');
      const terms = (res.body.mixins as Array<{ scheme: string; term: string; title: string }>).filter((m) => m.scheme === OS_TPL);
      expect(terms.map((m) => m.term).sort()).toEqual(['busybox', 'cloud-like']);
    } finally {
      await node.dispose();
    }
    expect(await hv.removeImage('cloud-like')).toBe(true);
    expect(await hv.removeImage('cloud-like')).toBe(false);
    expect((await hv.images()).map((i) => i.name)).toEqual(['busybox']);
  }, 120_000);
});
