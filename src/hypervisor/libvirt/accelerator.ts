/**
 * KVM or TCG: a host may offer KVM (a /dev/kvm, `<domain type='kvm'>` in its capabilities) on
 * which guests still hang early in boot (nested virtualisation without VMX). So KVM is used only
 * when a short probe boots a kernel under it: a transient domain must print the kernel's banner
 * on its serial console within PROBE_TIMEOUT_MS. Otherwise guests run under TCG
 * (`<domain type='qemu'>`). The verdict is cached for the machine's boot.
 */
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newestKernel } from '../images/build.js';
import type { DomPtr } from './binding.js';
import type { LibvirtConnection } from './connection.js';
import { VIR_DOMAIN_START_AUTODESTROY } from './constants.js';
import { el, textEl } from './xml.js';

const PROBE_TIMEOUT_MS = 5000;
const PROBE_POLL_MS = 100;
/** The kernel's first line, printed at once with earlyprintk. */
const BANNER = 'Linux version';

export interface Accelerator {
  domainType: 'kvm' | 'qemu';
  /** Why, for the node's first log line. */
  reason: string;
}

export interface AcceleratorOptions {
  /** Where the probe may put its console log and kernel copy (the host's console directory). */
  workDir: string;
  /** A kernel to probe with (one of the catalogue's); default: a copy of the newest in /boot. */
  kernel?: string;
}

export async function chooseAccelerator(connection: LibvirtConnection, opts: AcceleratorOptions): Promise<Accelerator> {
  const caps = await connection.string('virConnectGetCapabilities', [connection.ptr], 'capabilities');
  if (!/<domain type=['"]kvm['"]/.test(caps)) return { domainType: 'qemu', reason: 'TCG: the host offers no KVM' };
  const cache = cacheFile();
  if (cache !== undefined && existsSync(cache)) return JSON.parse(readFileSync(cache, 'utf8')) as Accelerator;
  const verdict = await probe(connection, opts);
  if (cache !== undefined) writeFileSync(cache, JSON.stringify(verdict));
  return verdict;
}

/** One verdict per boot of the machine (its boot id), shared by every daemon on it. */
function cacheFile(): string | undefined {
  try {
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return join(tmpdir(), `discovery-kvm-probe-${bootId}.json`);
  } catch {
    return undefined;
  }
}

async function probe(connection: LibvirtConnection, opts: AcceleratorOptions): Promise<Accelerator> {
  const name = `discovery-kvm-probe-${randomUUID().slice(0, 8)}`;
  const log = join(opts.workDir, `${name}.log`);
  let kernel = opts.kernel;
  const copied = kernel === undefined ? join(opts.workDir, `${name}.kernel`) : undefined;
  if (copied !== undefined) {
    try {
      // A copy: libvirt relabels the files a guest boots, and /boot is not its to relabel.
      copyFileSync(join('/boot', `vmlinuz-${newestKernel()}`), copied);
    } catch {
      return { domainType: 'qemu', reason: 'TCG: no kernel to probe KVM with' };
    }
    kernel = copied;
  }
  const xml = el(
    'domain',
    { type: 'kvm' },
    textEl('name', name),
    textEl('memory', 128, { unit: 'MiB' }),
    textEl('vcpu', 1),
    el('os', {}, textEl('type', 'hvm'), textEl('kernel', kernel!), textEl('cmdline', 'console=ttyS0 earlyprintk=serial,ttyS0,115200')),
    el('devices', {}, el('serial', { type: 'pty' }, el('log', { file: log, append: 'off' })), el('memballoon', { model: 'none' })),
  );
  const fn = connection.binding.fn;
  let dom: DomPtr | undefined;
  try {
    dom = await connection.handle<DomPtr>('virDomainCreateXML', [connection.ptr, xml, VIR_DOMAIN_START_AUTODESTROY], 'KVM probe');
    const deadline = Date.now() + PROBE_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (existsSync(log) && readFileSync(log, 'utf8').includes(BANNER)) return { domainType: 'kvm', reason: 'KVM: a probe guest booted under it' };
      await new Promise((r) => setTimeout(r, PROBE_POLL_MS));
    }
    return { domainType: 'qemu', reason: `TCG: a KVM guest printed nothing within ${PROBE_TIMEOUT_MS} ms (KVM hangs here)` };
  } catch (err) {
    return { domainType: 'qemu', reason: `TCG: a KVM guest did not start (${(err as Error).message})` };
  } finally {
    if (dom !== undefined) {
      await connection.int('virDomainDestroy', [dom], 'end the KVM probe').catch(() => undefined);
      fn.virDomainFree(dom);
    }
    rmSync(log, { force: true });
    if (copied !== undefined) rmSync(copied, { force: true });
  }
}
