import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LibvirtHypervisor } from '../../src/hypervisor/libvirt/libvirt-hypervisor.js';
import { PrivateDaemon } from '../../src/hypervisor/libvirt/private-daemon.js';

/** The processes whose mount namespace is `ns`. */
function inNamespace(ns: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readlinkSync(`/proc/${p}/ns/mnt`) === ns;
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
});
