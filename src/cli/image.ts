/**
 * The image catalogue of a libvirt host (src/hypervisor/images/):
 *   npm run image -- build [--name busybox] [--replace] [--uri qemu:///system]   the small guest image, from this machine's packages
 *   npm run image -- add <name> <file.qcow2> [--title <t>] [--replace]          a cloud image (cloud-init reads the same config drive)
 *   npm run image -- list | remove <name>
 * The os_tpl mixins of a node on that host list the catalogue (read when the node starts).
 * On a terminal, `build` and `add` draw their progress on stderr (progress.ts); elsewhere they print
 * only their result.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { buildGuestImage } from '../hypervisor/images/build.js';
import { LibvirtHypervisor } from '../hypervisor/libvirt/libvirt-hypervisor.js';
import { SYSTEM_LIBVIRT_URI } from '../hypervisor/select-driver.js';
import { type ProgressBar, terminalProgress } from './progress.js';

const DEFAULT_IMAGE_NAME = 'busybox';
const BUILT_TITLE = 'busybox guest (Debian cloud kernel; NoCloud contextualization, heartbeat on the serial console)';
/**
 * The files buildGuestImage writes into its directory, in order, and the stage each one starts:
 * the build reports no progress of its own, so its directory is looked at (it replaces the
 * directory when it starts, which a watch would not survive).
 */
const BUILD_STAGES: ReadonlyArray<readonly [file: string, stage: string]> = [
  ['initrd', 'packing the initramfs'],
  ['root.ext4', 'making the root filesystem'],
  ['disk.qcow2', 'compressing the qcow2 disk'],
];
const BUILD_POLL_MS = 100;

/** Advances `bar` as the build's files appear in `dir`, never backwards (it removes its staging files at the end). Returns the function that stops. */
function followBuild(dir: string, bar: ProgressBar): () => void {
  let reached = 0;
  const timer = setInterval(() => {
    let at = BUILD_STAGES.length - 1;
    while (at >= 0 && !existsSync(join(dir, BUILD_STAGES[at]![0]))) at--;
    if (at < reached) return;
    reached = at + 1;
    bar.set(reached, BUILD_STAGES[at]![1]);
  }, BUILD_POLL_MS);
  return () => clearInterval(timer);
}

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
      const progress = terminalProgress('image');
      const bar = progress.bar(`build ${opts.name}`, BUILD_STAGES.length + 1);
      bar.set(0, 'copying the kernel and its modules');
      const stopFollowing = followBuild(dir, bar);
      try {
        const built = await buildGuestImage(dir, { kernelRelease: opts.kernel });
        stopFollowing();
        bar.set(BUILD_STAGES.length, 'adding to the catalogue');
        const image = await hv.addImage({ name: opts.name, title: BUILT_TITLE, disk: built.disk, boot: built, replace: opts.replace });
        bar.set(BUILD_STAGES.length + 1, 'done');
        progress.stop();
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        process.stdout.write(`built ${image.name} (kernel ${built.kernelRelease}) in ${seconds} s: ${image.path}\n`);
      } finally {
        stopFollowing();
        progress.stop();
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
      const progress = terminalProgress('image');
      const mib = Math.ceil(statSync(file).size / 2 ** 20);
      const bar = progress.bar(`add ${name}`, 1);
      bar.set(0, `copying ${mib} MiB into the catalogue`);
      try {
        const image = await hv.addImage({ name, title: opts.title, disk: file, replace: opts.replace });
        bar.set(1, 'done');
        progress.stop();
        process.stdout.write(`added ${image.name} (${image.format}): ${image.path}\n`);
      } finally {
        progress.stop();
      }
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
