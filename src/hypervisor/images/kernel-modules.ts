/** The kernel modules a guest needs, with what they depend on, in the order they load (from the kernel's modules.dep). */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

/** What the guest image loads: virtio disks and NIC, the ACPI power button (through evdev), the config drive's iso9660. */
export const GUEST_MODULES = ['virtio_pci', 'virtio_blk', 'virtio_net', 'evdev', 'button', 'isofs'] as const;

export interface KernelModule {
  name: string;
  /** Absolute path of the `.ko` file. */
  path: string;
}

/** modules.dep names `-` and `_` alike. */
function moduleName(file: string): string {
  return basename(file).replace(/\.ko(\.\w+)?$/, '').replace(/-/g, '_');
}

/**
 * The modules `wanted` and their dependencies, each after what it depends on. Throws when one is
 * missing or compressed (busybox's insmod loads plain `.ko` files only).
 */
export function modulesInLoadOrder(modulesDir: string, wanted: readonly string[]): KernelModule[] {
  const deps = new Map<string, { file: string; needs: string[] }>();
  for (const line of readFileSync(join(modulesDir, 'modules.dep'), 'utf8').split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const file = line.slice(0, colon);
    const needs = line.slice(colon + 1).trim().split(/\s+/).filter((d) => d !== '').map(moduleName);
    deps.set(moduleName(file), { file, needs });
  }
  const ordered: KernelModule[] = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    const entry = deps.get(name);
    if (entry === undefined) throw new Error(`kernel module ${name} is not in ${modulesDir}/modules.dep`);
    if (!entry.file.endsWith('.ko')) throw new Error(`kernel module ${entry.file} is compressed; busybox insmod needs a plain .ko`);
    // modules.dep lists the direct and indirect dependencies; visiting each first puts every one before its users.
    for (const dep of entry.needs) visit(dep);
    ordered.push({ name, path: join(modulesDir, entry.file) });
  };
  for (const name of wanted) visit(name.replace(/-/g, '_'));
  return ordered;
}
