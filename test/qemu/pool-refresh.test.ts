import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibvirtConnection } from '../../src/hypervisor/libvirt/connection.js';
import { refreshPool } from '../../src/hypervisor/libvirt/host-layout.js';
import { QEMU_URI } from './qemu-helpers.js';

/**
 * libvirt refuses to rescan a pool while a volume is being built in it ("has asynchronous jobs
 * running"): two creations on one host at once (two computes, or two clients of the daemon) met
 * it as a 500. A refresh now waits for the build.
 */
const run = promisify(execFile);
const POOL = `refresh-test-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'pool-refresh-'));
let connection: LibvirtConnection;

beforeAll(async () => {
  await run('virsh', ['-c', QEMU_URI, 'pool-create-as', POOL, 'dir', '--target', dir]);
  connection = await LibvirtConnection.open(QEMU_URI);
});

afterAll(async () => {
  await connection?.close();
  await run('virsh', ['-c', QEMU_URI, 'pool-destroy', POOL]).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('a pool refresh on a real host', () => {
  it('succeeds while volumes are being built in the pool', async () => {
    let refreshes = 0;
    for (let i = 0; i < 4; i++) {
      // A qcow2 volume with preallocated metadata takes a while to build: the pool has a job meanwhile.
      let built = false;
      const build = run('virsh', ['-c', QEMU_URI, 'vol-create-as', POOL, `v${i}.qcow2`, '8G', '--format', 'qcow2', '--prealloc-metadata']).finally(() => (built = true));
      // Refreshes one after the other for as long as the build runs (bounded by it).
      const during = (async () => {
        while (!built) {
          await refreshPool(connection, POOL);
          refreshes++;
        }
      })();
      await Promise.all([build, during]);
    }
    expect(refreshes).toBeGreaterThan(4);
    const { stdout } = await run('virsh', ['-c', QEMU_URI, 'vol-list', POOL]);
    expect([...new Set(stdout.match(/v\d\.qcow2/g))].sort()).toEqual(['v0.qcow2', 'v1.qcow2', 'v2.qcow2', 'v3.qcow2']);
  }, 120_000);
});
