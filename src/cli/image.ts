/**
 * The image catalogue of a libvirt host (src/hypervisor/images/):
 *   npm run image -- build [--name busybox] [--replace] [--uri qemu:///system]   the small guest image, from this machine's packages
 *   npm run image -- add <name> <file.qcow2> [--title <t>] [--replace]          a cloud image (cloud-init reads the same config drive)
 *   npm run image -- list | remove <name>
 * The os_tpl mixins of a node on that host list the catalogue (read when the node starts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { buildGuestImage } from '../hypervisor/images/build.js';
import { LibvirtHypervisor } from '../hypervisor/libvirt/libvirt-hypervisor.js';
import { SYSTEM_LIBVIRT_URI } from '../hypervisor/select-driver.js';

const DEFAULT_IMAGE_NAME = 'busybox';
const BUILT_TITLE = 'busybox guest (Debian cloud kernel; NoCloud contextualization, heartbeat on the serial console)';

async function withHost<T>(uri: string, work: (hv: LibvirtHypervisor) => Promise<T>): Promise<T> {
  const hv = await LibvirtHypervisor.open(uri);
  try {
    return await work(hv);
  } finally {
    await hv.close();
  }
}

const uriOption = ['--uri <uri>', 'libvirt URI of the host', process.env['HYPERVISOR'] ?? SYSTEM_LIBVIRT_URI] as const;
const program = new Command().name('image').description('the image catalogue of a libvirt host');

program
  .command('build')
  .description("build the small guest image from this machine's packages and add it to the catalogue")
  .option('--name <name>', 'name in the catalogue (the os_tpl term)', DEFAULT_IMAGE_NAME)
  .option('--kernel <release>', 'kernel release in /boot (default: the newest cloud one)')
  .option('--replace', 'replace an image of that name (never one computes boot from)')
  .option(...uriOption)
  .action(async (opts: { name: string; kernel?: string; replace?: boolean; uri: string }) => {
    await withHost(opts.uri, async (hv) => {
      if (!opts.replace && (await hv.images()).some((i) => i.name === opts.name)) {
        process.stdout.write(`image ${opts.name} is already in the catalogue of ${opts.uri} (--replace to build it again)\n`);
        return;
      }
      const started = performance.now();
      const dir = mkdtempSync(join(tmpdir(), 'discovery-image-'));
      try {
        const built = await buildGuestImage(dir, { kernelRelease: opts.kernel });
        const image = await hv.addImage({ name: opts.name, title: BUILT_TITLE, disk: built.disk, boot: built, replace: opts.replace });
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        process.stdout.write(`built ${image.name} (kernel ${built.kernelRelease}) in ${seconds} s: ${image.path}\n`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

program
  .command('add <name> <file>')
  .description('add a disk image (e.g. a Debian or Ubuntu genericcloud qcow2 with cloud-init)')
  .option('--title <title>', 'title of its os_tpl mixin')
  .option('--replace', 'replace an image of that name (never one computes boot from)')
  .option(...uriOption)
  .action(async (name: string, file: string, opts: { title?: string; replace?: boolean; uri: string }) => {
    await withHost(opts.uri, async (hv) => {
      const image = await hv.addImage({ name, title: opts.title, disk: file, replace: opts.replace });
      process.stdout.write(`added ${image.name} (${image.format}): ${image.path}\n`);
    });
  });

program
  .command('list')
  .description('list the catalogue')
  .option(...uriOption)
  .action(async (opts: { uri: string }) => {
    await withHost(opts.uri, async (hv) => {
      for (const i of await hv.images()) process.stdout.write(`${i.name}\t${i.format}\t${i.boot ? 'kernel' : 'boot loader'}\t${i.title}\n`);
    });
  });

program
  .command('remove <name>')
  .description('remove an image (computes still booting from it would lose their base)')
  .option(...uriOption)
  .action(async (name: string, opts: { uri: string }) => {
    await withHost(opts.uri, async (hv) => {
      if (!(await hv.removeImage(name))) throw new Error(`no image ${name} in the catalogue of ${opts.uri}`);
      process.stdout.write(`removed ${name}\n`);
    });
  });

await program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`image: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
