/**
 * A host's image catalogue: the files of its images pool. Each image is a disk (`<name>.qcow2`),
 * the kernel and initramfs it boots with when it has no boot loader of its own
 * (`<name>.kernel`, `<name>.initrd`), and a manifest (`<name>.json`) saying what they are. The
 * os_tpl mixins list it (src/occi/templates.ts). Callers refresh the pool after a change.
 */
import { copyFileSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CatalogueImage, DirectBoot } from '../hypervisor.js';
import { run } from './command.js';

const MANIFEST_SUFFIX = '.json';
/** An os_tpl term (GFD.229 terms: letters, digits, `-` and `_`). */
export const IMAGE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/i;

interface Manifest {
  name: string;
  title: string;
  format: string;
  disk: string;
  kernel?: string;
  initrd?: string;
  cmdline?: string;
}

export interface NewImage {
  name: string;
  title?: string;
  /** The disk image to copy in (qcow2 or raw; its format is read with qemu-img). */
  disk: string;
  /** Kernel and initramfs files for images without a boot loader. */
  boot?: DirectBoot;
  /** Replace an image of the same name (never one that computes still boot from: their overlays need it unchanged). */
  replace?: boolean;
}

/** The images in `imagesDir`, by name. */
export function listCatalogue(imagesDir: string): CatalogueImage[] {
  if (!existsSync(imagesDir)) return [];
  return readdirSync(imagesDir)
    .filter((f) => f.endsWith(MANIFEST_SUFFIX))
    .sort()
    .flatMap((f) => {
      const m = JSON.parse(readFileSync(join(imagesDir, f), 'utf8')) as Manifest;
      if (!IMAGE_NAME.test(m.name) || !existsSync(join(imagesDir, m.disk))) return [];
      const image: CatalogueImage = { name: m.name, title: m.title, path: join(imagesDir, m.disk), format: m.format };
      if (m.kernel !== undefined) {
        image.boot = { kernel: join(imagesDir, m.kernel) };
        if (m.initrd !== undefined) image.boot.initrd = join(imagesDir, m.initrd);
        if (m.cmdline !== undefined) image.boot.cmdline = m.cmdline;
      }
      return [image];
    });
}

/** Copies an image into the catalogue; one of the same name is an error unless `replace`. */
export async function addToCatalogue(imagesDir: string, image: NewImage): Promise<CatalogueImage> {
  if (!IMAGE_NAME.test(image.name)) throw new Error(`image name ${JSON.stringify(image.name)}: letters, digits, - and _ only`);
  if (existsSync(join(imagesDir, `${image.name}${MANIFEST_SUFFIX}`))) {
    if (image.replace !== true) throw new Error(`the catalogue already has an image named ${image.name}`);
    removeFromCatalogue(imagesDir, image.name);
  }
  const info = JSON.parse(await run('qemu-img', ['info', '--output=json', image.disk])) as { format: string; 'backing-filename'?: string };
  if (info['backing-filename'] !== undefined) throw new Error(`${image.disk} has a backing file: convert it to a standalone image first`);
  const manifest: Manifest = { name: image.name, title: image.title ?? image.name, format: info.format, disk: `${image.name}.${info.format === 'raw' ? 'img' : info.format}` };
  copyFileSync(image.disk, join(imagesDir, manifest.disk));
  if (image.boot !== undefined) {
    manifest.kernel = `${image.name}.kernel`;
    copyFileSync(image.boot.kernel, join(imagesDir, manifest.kernel));
    if (image.boot.initrd !== undefined) {
      manifest.initrd = `${image.name}.initrd`;
      copyFileSync(image.boot.initrd, join(imagesDir, manifest.initrd));
    }
    if (image.boot.cmdline !== undefined) manifest.cmdline = image.boot.cmdline;
  }
  writeFileSync(join(imagesDir, `${image.name}${MANIFEST_SUFFIX}`), `${JSON.stringify(manifest, null, 2)}\n`);
  return listCatalogue(imagesDir).find((i) => i.name === image.name)!;
}

/** Removes an image's files; false when there is no such image. */
export function removeFromCatalogue(imagesDir: string, name: string): boolean {
  const manifestFile = join(imagesDir, `${name}${MANIFEST_SUFFIX}`);
  if (!IMAGE_NAME.test(name) || !existsSync(manifestFile)) return false;
  const m = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
  for (const file of [m.disk, m.kernel, m.initrd]) if (file !== undefined) rmSync(join(imagesDir, file), { force: true });
  rmSync(manifestFile);
  return true;
}
