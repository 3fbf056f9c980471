/**
 * Builds the small guest image from what Debian packages put on this machine, with nothing
 * downloaded: the cloud kernel from /boot, its modules, busybox-static. The image is three files:
 * a qcow2 root disk (ext4 made by `mke2fs -d`, with busybox and the init of guest/init.sh), the
 * kernel, and an uncompressed initramfs that loads the modules and hands over to the disk's init
 * (uncompressed: under TCG the kernel unpacks gzip about a second slower).
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, openSync, closeSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './command.js';
import { GUEST_MODULES, modulesInLoadOrder } from './kernel-modules.js';

/** The label the initramfs finds the root filesystem by. */
export const ROOT_LABEL = 'discovery-root';
/** Size of the root filesystem (the qcow2 holds only what is written). */
const ROOT_FS_SIZE = '32M';
const BUSYBOX = '/bin/busybox';
const GUEST_DIR = fileURLToPath(new URL('./guest/', import.meta.url));
/** The applets the initramfs's /init uses. */
const INITRAMFS_APPLETS = ['sh', 'mount', 'umount', 'insmod', 'sed', 'findfs', 'usleep', 'mkdir', 'switch_root', 'poweroff', 'echo'];

export interface BuildOptions {
  /** Kernel release (`uname -r` style); default: the newest in /boot with its modules, a cloud one first. */
  kernelRelease?: string;
  bootDir?: string;
  modulesRoot?: string;
  busybox?: string;
}

export interface BuiltImage {
  disk: string;
  kernel: string;
  initrd: string;
  /** Kernel command line: serial console, quiet boot, the root filesystem's label. */
  cmdline: string;
  kernelRelease: string;
}

/** Builds the image into `outDir` (created; any previous build there is replaced). */
export async function buildGuestImage(outDir: string, opts: BuildOptions = {}): Promise<BuiltImage> {
  const bootDir = opts.bootDir ?? '/boot';
  const modulesRoot = opts.modulesRoot ?? '/lib/modules';
  const busybox = opts.busybox ?? BUSYBOX;
  if (!existsSync(busybox)) throw new Error(`${busybox} not found: install busybox-static`);
  const release = opts.kernelRelease ?? newestKernel(bootDir, modulesRoot);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const kernel = join(outDir, 'kernel');
  copyFileSync(join(bootDir, `vmlinuz-${release}`), kernel);

  const initramfs = join(outDir, 'stage-initramfs');
  for (const dir of ['bin', 'etc', 'proc', 'sys', 'dev', 'newroot', 'lib/modules']) mkdirSync(join(initramfs, dir), { recursive: true });
  installBusybox(busybox, join(initramfs, 'bin'), INITRAMFS_APPLETS);
  installScript('initramfs-init.sh', join(initramfs, 'init'));
  const modules = modulesInLoadOrder(join(modulesRoot, release), GUEST_MODULES);
  for (const m of modules) copyFileSync(m.path, join(initramfs, 'lib/modules', `${m.name}.ko`));
  writeFileSync(join(initramfs, 'etc/modules'), modules.map((m) => `${m.name}\n`).join(''));
  const initrd = join(outDir, 'initrd');
  await cpio(busybox, initramfs, initrd);

  const root = join(outDir, 'stage-root');
  for (const dir of ['bin', 'sbin', 'etc/discovery', 'etc/acpi/PWRF', 'proc', 'sys', 'dev', 'run', 'tmp', 'root', 'var/lib/discovery']) {
    mkdirSync(join(root, dir), { recursive: true });
  }
  installBusybox(busybox, join(root, 'bin'), (await run(busybox, ['--list'])).split('\n').filter((a) => a !== '' && a !== 'busybox'));
  installScript('init.sh', join(root, 'sbin/init'));
  installScript('udhcpc.sh', join(root, 'etc/discovery/udhcpc.sh'));
  // busybox acpid runs <confdir>/<action>/<event> for the power button's event.
  installScript('power-button.sh', join(root, 'etc/acpi/PWRF/00000080'));
  writeFileSync(join(root, 'etc/hostname'), 'discovery\n');
  const rawDisk = join(outDir, 'root.ext4');
  await run('mke2fs', ['-q', '-F', '-t', 'ext4', '-L', ROOT_LABEL, '-N', '2048', '-d', root, rawDisk, ROOT_FS_SIZE]);
  const disk = join(outDir, 'disk.qcow2');
  await run('qemu-img', ['convert', '-c', '-f', 'raw', '-O', 'qcow2', rawDisk, disk]);
  for (const stage of [initramfs, root, rawDisk]) rmSync(stage, { recursive: true, force: true });
  return { disk, kernel, initrd, cmdline: `console=ttyS0 quiet discovery.root=${ROOT_LABEL}`, kernelRelease: release };
}

/** The newest kernel in /boot that has its modules, preferring Debian's cloud flavour (virtio and nothing more). */
export function newestKernel(bootDir = '/boot', modulesRoot = '/lib/modules'): string {
  const releases = readdirSync(bootDir)
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .filter((r) => existsSync(join(modulesRoot, r, 'modules.dep')))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const cloud = releases.filter((r) => r.includes('cloud'));
  const release = (cloud.length > 0 ? cloud : releases).at(-1);
  if (release === undefined) throw new Error(`no kernel with modules in ${bootDir} (install linux-image-cloud-amd64)`);
  return release;
}

function installBusybox(busybox: string, binDir: string, applets: readonly string[]): void {
  copyFileSync(busybox, join(binDir, 'busybox'));
  chmodSync(join(binDir, 'busybox'), 0o755);
  for (const applet of applets) symlinkSync('busybox', join(binDir, applet));
}

function installScript(name: string, to: string): void {
  copyFileSync(join(GUEST_DIR, name), to);
  chmodSync(to, 0o755);
}

/** A newc archive of `dir` (busybox cpio: no other package needed). */
async function cpio(busybox: string, dir: string, to: string): Promise<void> {
  const list = (await run(busybox, ['find', '.'], { cwd: dir })).split('\n').filter((l) => l !== '' && l !== '.');
  const fd = openSync(to, 'w');
  try {
    await run(busybox, ['cpio', '-o', '-H', 'newc'], { cwd: dir, input: `${list.join('\n')}\n`, stdoutFd: fd });
  } finally {
    closeSync(fd);
  }
}
