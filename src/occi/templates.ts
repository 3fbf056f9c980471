import { readFileSync } from 'node:fs';
import type { CatalogueImage, DirectBoot } from '../hypervisor/hypervisor.js';
import type { Mixin } from './category.js';
import { COMPUTE, OS_TPL, RESOURCE_TPL } from './infrastructure-model.js';
import { OS_TPL_SCHEME, RESOURCE_TPL_SCHEME } from './project-scheme.js';

/** One entry of the image catalogue: an os_tpl mixin and the disk image behind it. */
export interface ImageEntry {
  term: string;
  title: string;
  /** Path of the base image; a compute gets a disk with this image as its backing file. */
  image: string;
  format?: string;
  /** The kernel it boots with, for images without a boot loader. */
  boot?: DirectBoot;
}

export const DEFAULT_IMAGE_CATALOGUE: ImageEntry[] = [
  { term: 'debian-12', title: 'Debian 12 (bookworm)', image: '/var/lib/discovery/images/debian-12.qcow2', format: 'qcow2' },
  { term: 'ubuntu-24-04', title: 'Ubuntu 24.04 LTS', image: '/var/lib/discovery/images/ubuntu-24.04.qcow2', format: 'qcow2' },
  { term: 'alpine-3-20', title: 'Alpine Linux 3.20', image: '/var/lib/discovery/images/alpine-3.20.qcow2', format: 'qcow2' },
];

/** The os_tpl entries of a host's image catalogue (src/hypervisor/images/catalogue.ts): one per image, named by it. */
export function catalogueEntries(images: readonly CatalogueImage[]): ImageEntry[] {
  return images.filter((i) => TERM.test(i.name)).map((i) => ({ term: i.name, title: i.title, image: i.path, format: i.format, ...(i.boot ? { boot: i.boot } : {}) }));
}

/** GFD.229 terms: letters, digits, `-` and `_` (no dots: text clients such as rOCCI reject them). */
const TERM = /^[a-z0-9][a-z0-9_-]*$/i;

/** Reads a catalogue file: a JSON array of {term, title, image, format?}. */
export function loadImageCatalogue(path: string): ImageEntry[] {
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (!Array.isArray(parsed)) throw new Error(`${path}: the image catalogue must be a JSON array`);
  return parsed.map((e, i) => {
    const entry = e as Partial<ImageEntry>;
    if (typeof entry.term !== 'string' || !TERM.test(entry.term) || typeof entry.image !== 'string') {
      throw new Error(`${path}: entry ${i} needs a term (letters, digits, _ -) and an image path`);
    }
    return { term: entry.term, title: entry.title ?? entry.term, image: entry.image, format: entry.format };
  });
}

export function osTemplates(catalogue: ImageEntry[]): Mixin[] {
  return catalogue.map((e) => ({
    class: 'mixin',
    term: e.term,
    scheme: OS_TPL_SCHEME,
    title: e.title,
    depends: [OS_TPL],
    applies: [COMPUTE],
    location: `/os_tpl/${e.term}/`,
    actions: [],
    attributes: [],
  }));
}

/** Provider resource templates: each sets cores and memory (GiB) on the compute. */
const SIZES: Array<{ term: string; cores: number; memory: number }> = [
  { term: 'small', cores: 1, memory: 1 },
  { term: 'medium', cores: 2, memory: 4 },
  { term: 'large', cores: 4, memory: 8 },
];

export function resourceTemplates(): Mixin[] {
  return SIZES.map((s) => ({
    class: 'mixin',
    term: s.term,
    scheme: RESOURCE_TPL_SCHEME,
    // No commas: clients split text/occi header values at every comma, even inside quotes.
    title: `${s.term[0]!.toUpperCase()}${s.term.slice(1)}: ${s.cores} core${s.cores > 1 ? 's' : ''} and ${s.memory} GiB memory`,
    depends: [RESOURCE_TPL],
    applies: [COMPUTE],
    location: `/resource_tpl/${s.term}/`,
    actions: [],
    attributes: [],
    defaults: { 'occi.compute.cores': s.cores, 'occi.compute.memory': s.memory },
  }));
}

export function imageOf(catalogue: ImageEntry[], mixinIds: readonly string[]): ImageEntry | undefined {
  return catalogue.find((e) => mixinIds.includes(OS_TPL_SCHEME + e.term));
}
