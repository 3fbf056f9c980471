import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { modulesInLoadOrder } from '../../src/hypervisor/images/kernel-modules.js';
import { nocloudMetaData, nocloudUserData } from '../../src/hypervisor/images/seed.js';
import { tailLines } from '../../src/hypervisor/libvirt/console-log.js';
import { networkXml } from '../../src/hypervisor/libvirt/resource-xml.js';

const dirs: string[] = [];
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'guest-images-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('the NoCloud config drive', () => {
  const ctx = { instanceId: '0b7c1f3e-5a8d-4c2e-9f10-6d2a4b8c9e01', hostname: 'web-1', sshKeys: ['ssh-ed25519 AAAA key "quoted"'] };

  it('meta-data carries the instance id, the hostname and the keys as public-keys, quoted', () => {
    expect(nocloudMetaData(ctx)).toBe(
      'instance-id: "0b7c1f3e-5a8d-4c2e-9f10-6d2a4b8c9e01"\nlocal-hostname: "web-1"\npublic-keys:\n  - "ssh-ed25519 AAAA key \\"quoted\\""\n',
    );
  });

  it('user-data: the keys as ssh_authorized_keys of a cloud-config, made or appended; other formats untouched', () => {
    expect(nocloudUserData(ctx)).toBe('#cloud-config\nssh_authorized_keys:\n  - "ssh-ed25519 AAAA key \\"quoted\\""\n');
    expect(nocloudUserData({ ...ctx, userData: '#cloud-config\npackages: [nginx]' })).toBe(
      '#cloud-config\npackages: [nginx]\nssh_authorized_keys:\n  - "ssh-ed25519 AAAA key \\"quoted\\""\n',
    );
    expect(nocloudUserData({ ...ctx, userData: '#cloud-config\nssh_authorized_keys: [mine]\n' })).toBe('#cloud-config\nssh_authorized_keys: [mine]\n');
    expect(nocloudUserData({ ...ctx, userData: '#!/bin/sh\necho hi\n' })).toBe('#!/bin/sh\necho hi\n');
    expect(nocloudUserData({ instanceId: 'x', hostname: 'h' })).toBe('#cloud-config\n');
  });
});

describe('kernel modules for the guest', () => {
  it('come with what they depend on, each after its dependencies', () => {
    const dir = scratch();
    writeFileSync(
      join(dir, 'modules.dep'),
      [
        'kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
        'kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko',
        'kernel/drivers/virtio/virtio_ring.ko:',
        'kernel/fs/isofs/isofs.ko: kernel/drivers/cdrom/cdrom.ko',
        'kernel/drivers/cdrom/cdrom.ko:',
        'kernel/fs/zst/packed.ko.zst:',
      ].join('\n'),
    );
    expect(modulesInLoadOrder(dir, ['virtio_blk', 'isofs']).map((m) => m.name)).toEqual(['virtio_ring', 'virtio', 'virtio_blk', 'cdrom', 'isofs']);
    expect(modulesInLoadOrder(dir, ['isofs'])[1]!.path).toBe(join(dir, 'kernel/fs/isofs/isofs.ko'));
    expect(() => modulesInLoadOrder(dir, ['nope'])).toThrow(/not in/);
    expect(() => modulesInLoadOrder(dir, ['packed'])).toThrow(/compressed/);
  });
});

describe('guest networks', () => {
  it('are isolated (no forward) and lease by DHCP every host address but the host\'s', () => {
    const xml = networkXml({ name: 'n', cidr: '10.0.0.0/24', address: '10.0.0.1' });
    expect(xml).not.toContain('<forward');
    expect(xml).toContain("<ip address='10.0.0.1' prefix='24'><dhcp><range start='10.0.0.2' end='10.0.0.254'/></dhcp></ip>".replace(/'/g, '"'));
    expect(networkXml({ name: 'n', cidr: '10.0.0.0/24', gateway: '10.0.0.254' })).toContain('<range start="10.0.0.1" end="10.0.0.253"/>');
    expect(networkXml({ name: 'n', cidr: '10.9.0.0/31', address: '10.9.0.1' })).not.toContain('<dhcp');
    expect(networkXml({ name: 'n' })).not.toContain('<ip');
  });
});

describe('the console log', () => {
  it('answers the last lines, without carriage returns and terminal control sequences', () => {
    const file = join(scratch(), 'console.log');
    expect(tailLines(file, 5)).toBe('');
    const lines = Array.from({ length: 30_000 }, (_, i) => `\x1b[2Jdiscovery: heartbeat ${i + 1}\r`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    expect(tailLines(file, 2)).toBe('discovery: heartbeat 29999\ndiscovery: heartbeat 30000\n');
    expect(tailLines(file, 20_000).split('\n')).toHaveLength(10_001);
    writeFileSync(file, 'no newline at the end');
    expect(tailLines(file, 3)).toBe('no newline at the end\n');
  });
});
