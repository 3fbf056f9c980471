import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildGuestImage } from '../../src/hypervisor/images/build.js';
import { LibvirtHypervisor } from '../../src/hypervisor/libvirt/libvirt-hypervisor.js';
import { PrivateDaemon } from '../../src/hypervisor/libvirt/private-daemon.js';

/** The processes whose namespace of that kind is `ns`. */
function inNamespace(ns: string, kind: 'mnt' | 'net' = 'mnt'): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readlinkSync(`/proc/${p}/ns/${kind}`) === ns;
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('a private libvirt daemon', () => {
  it('is a host of its own (pools, networks, no domain of the host), and stopping it leaves no process, mount or file', async () => {
    const daemon = await PrivateDaemon.start();
    const pid = Number(readFileSync(`${daemon.root}/daemon.pid`, 'utf8'));
    const ns = readlinkSync(`/proc/${pid}/ns/mnt`);
    expect(ns).not.toBe(readlinkSync('/proc/self/ns/mnt'));
    const hv = await LibvirtHypervisor.open(daemon.uri);
    try {
      expect(hv.layout?.dir).toBe(daemon.hostDir);
      expect(await hv.listDomains()).toEqual([]);
      // Its network namespace holds the guests' networks: defining one here never touches the host's.
      await hv.defineNetwork({ name: 'private-net', cidr: '10.252.1.0/24', address: '10.252.1.1' });
      await hv.networkUp('private-net');
      expect(await hv.networkActive('private-net')).toBe(true);
      // A network up means a dnsmasq in the namespace too.
      expect(inNamespace(ns).length).toBeGreaterThanOrEqual(4);
    } finally {
      await hv.close();
    }
    await daemon.stop();
    expect(inNamespace(ns)).toEqual([]);
    expect(existsSync(daemon.root)).toBe(false);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(daemon.root);
    await daemon.stop();
  }, 60_000);

  it('stopped with a guest running, leaves no QEMU behind (libvirt runs it in a mount namespace of its own)', async () => {
    const work = mkdtempSync(join(tmpdir(), 'private-daemon-guest-'));
    const built = await buildGuestImage(work);
    const daemon = await PrivateDaemon.start({ images: [{ name: 'busybox', disk: built.disk, boot: built }] });
    const net = readlinkSync(`/proc/${Number(readFileSync(`${daemon.root}/daemon.pid`, 'utf8'))}/ns/net`);
    const hv = await LibvirtHypervisor.open(daemon.uri);
    try {
      const image = (await hv.images()).find((i) => i.name === 'busybox')!;
      const id = '5e1f0000-0000-4000-8000-000000000001';
      await hv.defineDomain({ id, name: 'left-running', cores: 1, memoryMiB: 128, image, nics: [], disks: [] });
      await hv.startDomain(id);
      expect((await hv.domainInfo(id)).state).toBe('running');
      const qemu = inNamespace(net, 'net').filter((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('guest=left-running'));
      expect(qemu).toHaveLength(1);
    } finally {
      await hv.close();
      await daemon.stop();
      rmSync(work, { recursive: true, force: true });
    }
    expect(inNamespace(net, 'net')).toEqual([]);
  }, 120_000);
});
