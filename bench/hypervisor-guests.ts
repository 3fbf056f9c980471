/**
 * Real guests (part of `npm run bench:hypervisor`): two private libvirt daemons on this machine
 * (src/hypervisor/libvirt/private-daemon.ts), the small guest image, TCG or KVM as the probe
 * decides. Each operation through the product beside the same operation done by hand with raw
 * libvirt calls (koffi, or virsh for migration), as a ratio raw time / product time (1.0: the
 * product adds nothing; goal >= 0.9):
 *   - boot to the guest's first console line (start call → "discovery: boot");
 *   - create to running through OCCI (POST /compute/ → 201, running) vs overlay + config drive + define + start;
 *   - live migration (time, and the downtime libvirt measured) of 128 MiB and 512 MiB guests, the
 *     target given by its URI; both sides timed from the target's preparation to the guest's arrival.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import supertest from 'supertest';
import type { DomainSpec } from '../src/hypervisor/hypervisor.js';
import { buildGuestImage } from '../src/hypervisor/images/build.js';
import { writeSeedIso } from '../src/hypervisor/images/seed.js';
import type { DomPtr } from '../src/hypervisor/libvirt/binding.js';
import { consoleLogPath, domainXml, rootVolumeName, seedVolumeName } from '../src/hypervisor/libvirt/domain-xml.js';
import { refreshPool, VOLUMES_POOL } from '../src/hypervisor/libvirt/host-layout.js';
import { LibvirtHypervisor } from '../src/hypervisor/libvirt/libvirt-hypervisor.js';
import { PrivateDaemon } from '../src/hypervisor/libvirt/private-daemon.js';
import { startNode } from '../src/node.js';

const run = promisify(execFile);
const IMAGE = 'busybox';
const FIRST_LINE = 'discovery: boot';
const BOOT_TIMEOUT_MS = 180_000;
const POLL_MS = 20;

export interface GuestRow {
  operation: string;
  productMs: number;
  rawMs: number;
  productDowntimeMs?: number;
  rawDowntimeMs?: number;
}

export interface Host {
  daemon: PrivateDaemon;
  hv: LibvirtHypervisor;
}

let serial = 0;
export function guestSpec(host: Host, memoryMiB: number): DomainSpec {
  serial += 1;
  const image = host.hv.layout!.imagesDir;
  return {
    id: `b1000000-0000-4000-8000-${String(process.pid % 1e6).padStart(6, '0')}${String(serial).padStart(6, '0')}`,
    name: `bench-guest-${serial}`,
    cores: 1,
    memoryMiB,
    image: { path: join(image, `${IMAGE}.qcow2`), format: 'qcow2', boot: { kernel: join(image, `${IMAGE}.kernel`), initrd: join(image, `${IMAGE}.initrd`), cmdline: bootCmdline(host) } },
    nics: [],
    disks: [],
  };
}

function bootCmdline(host: Host): string {
  return JSON.parse(readFileSync(join(host.hv.layout!.imagesDir, `${IMAGE}.json`), 'utf8')).cmdline as string;
}

export async function waitForLine(file: string, text: string, timeoutMs = BOOT_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(existsSync(file) && readFileSync(file, 'utf8').includes(text))) {
    if (Date.now() > deadline) throw new Error(`no "${text}" in ${file} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** What a hand-written script does for one guest: overlay, config drive, define (koffi), all before the timed start. */
async function rawDefine(host: Host, spec: DomainSpec): Promise<DomPtr> {
  const layout = host.hv.layout!;
  const conn = host.hv.connection;
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', spec.image!.path, '-F', 'qcow2', join(layout.volumesDir, rootVolumeName(spec)), '20G']);
  await writeSeedIso(join(layout.volumesDir, seedVolumeName(spec)), { instanceId: spec.id, hostname: spec.name });
  await refreshPool(conn, VOLUMES_POOL);
  const xml = domainXml(spec, { domainType: host.hv.domainType, pool: VOLUMES_POOL, guest: layout });
  const dom = (await asyncCall(conn, 'virDomainDefineXML', [conn.ptr, xml])) as DomPtr | null;
  if (dom === null) throw new Error('raw define failed');
  return dom;
}

function asyncCall(conn: LibvirtHypervisor['connection'], name: 'virDomainDefineXML' | 'virDomainCreate' | 'virDomainDestroy' | 'virDomainUndefineFlags', args: unknown[]): Promise<unknown> {
  return new Promise((resolve, reject) => conn.binding.fn[name].async(...args, (err: unknown, r: unknown) => (err ? reject(err) : resolve(r))));
}

async function rawRemove(host: Host, spec: DomainSpec, dom: DomPtr): Promise<void> {
  const conn = host.hv.connection;
  await asyncCall(conn, 'virDomainDestroy', [dom]).catch(() => undefined);
  await asyncCall(conn, 'virDomainUndefineFlags', [dom, 1 | 2]);
  conn.binding.fn.virDomainFree(dom);
  for (const f of [rootVolumeName(spec), seedVolumeName(spec)]) rmSync(join(host.hv.layout!.volumesDir, f), { force: true });
  rmSync(consoleLogPath(host.hv.layout!, spec.name), { force: true });
  await refreshPool(conn, VOLUMES_POOL);
}

async function bootToFirstLine(host: Host, rounds: number): Promise<GuestRow> {
  const product: number[] = [];
  const raw: number[] = [];
  const viaProduct = async (): Promise<void> => {
    const spec = guestSpec(host, 128);
    await host.hv.defineDomain(spec);
    const t = performance.now();
    await host.hv.startDomain(spec.id);
    await waitForLine(consoleLogPath(host.hv.layout!, spec.name), FIRST_LINE);
    product.push(performance.now() - t);
    await host.hv.undefineDomain(spec.id);
  };
  const viaRaw = async (): Promise<void> => {
    const spec = guestSpec(host, 128);
    const dom = await rawDefine(host, spec);
    const t = performance.now();
    if ((await asyncCall(host.hv.connection, 'virDomainCreate', [dom])) !== 0) throw new Error('raw start failed');
    await waitForLine(consoleLogPath(host.hv.layout!, spec.name), FIRST_LINE);
    raw.push(performance.now() - t);
    await rawRemove(host, spec, dom);
  };
  // In turns, each side first every other round: load from elsewhere falls on both alike.
  for (let i = 0; i < rounds; i++) {
    for (const measure of i % 2 === 0 ? [viaProduct, viaRaw] : [viaRaw, viaProduct]) await measure();
  }
  return { operation: 'boot to first console line', productMs: median(product), rawMs: median(raw) };
}

async function createToRunning(host: Host, rounds: number): Promise<GuestRow> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-guests-node-'));
  const node = await startNode({ port: 0, dataDir, hypervisor: host.daemon.uri, logger: pino({ level: 'silent' }), auth: 'none' });
  const product: number[] = [];
  const raw: number[] = [];
  try {
    const http = supertest(node.url);
    for (let i = 0; i < rounds; i++) {
      let t = performance.now();
      const res = await http
        .post('/compute/')
        .set('Content-Type', 'application/occi+json')
        .set('Accept', 'application/occi+json')
        .send(JSON.stringify({ kind: 'http://schemas.ogf.org/occi/infrastructure#compute', mixins: [`http://schemas.discovery-cloud.org/occi/os_tpl#${IMAGE}`], attributes: { 'occi.compute.cores': 1, 'occi.compute.memory': 0.125 } }));
      if (res.status !== 201) throw new Error(`POST /compute/: ${res.status} ${res.text}`);
      product.push(performance.now() - t);
      await http.delete(res.headers.location as string);
      const spec = guestSpec(host, 128);
      t = performance.now();
      const dom = await rawDefine(host, spec);
      if ((await asyncCall(host.hv.connection, 'virDomainCreate', [dom])) !== 0) throw new Error('raw start failed');
      raw.push(performance.now() - t);
      await rawRemove(host, spec, dom);
    }
  } finally {
    await node.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return { operation: 'create to running (OCCI POST)', productMs: median(product), rawMs: median(raw) };
}

/** Live migration A→B through the driver, then B→A with virsh, the target prepared by hand the same way. */
async function migration(a: Host, b: Host, memoryMiB: number, rounds: number): Promise<GuestRow> {
  const product: number[] = [];
  const raw: number[] = [];
  const productDown: number[] = [];
  const rawDown: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const spec = guestSpec(a, memoryMiB);
    await a.hv.defineDomain(spec);
    await a.hv.startDomain(spec.id);
    await waitForLine(consoleLogPath(a.hv.layout!, spec.name), 'discovery: heartbeat 2');
    const t = performance.now();
    const moved = await a.hv.migrate(spec.id, { uri: b.daemon.uri }, { maxDowntimeMs: 300, timeoutMs: 300_000 });
    product.push(performance.now() - t);
    productDown.push(moved.migration.downtimeMs ?? Number.NaN);
    const { ms, downtimeMs } = await virshMigrate(b, a, spec);
    raw.push(ms);
    rawDown.push(downtimeMs);
    await a.hv.undefineDomain(spec.id);
    await b.hv.undefineDomain(spec.id).catch(() => undefined);
    for (const f of [rootVolumeName(spec), seedVolumeName(spec)]) rmSync(join(b.hv.layout!.volumesDir, f), { force: true });
    rmSync(consoleLogPath(b.hv.layout!, spec.name), { force: true });
    await refreshPool(b.hv.connection, VOLUMES_POOL);
  }
  return { operation: `live migration, ${memoryMiB} MiB guest`, productMs: median(product), rawMs: median(raw), productDowntimeMs: median(productDown), rawDowntimeMs: median(rawDown) };
}

export async function virshMigrate(from: Host, to: Host, spec: DomainSpec): Promise<{ ms: number; downtimeMs: number }> {
  const src = from.hv.layout!;
  const dst = to.hv.layout!;
  const work = mkdtempSync(join(tmpdir(), 'bench-virsh-'));
  try {
    // Timed as the product is: the target prepared (XML at its paths, overlay, config drive), then the move.
    const t = performance.now();
    const { stdout } = await run('virsh', ['-c', from.daemon.uri, 'dumpxml', '--migratable', spec.name]);
    const xmlFile = join(work, 'dest.xml');
    writeFileSync(xmlFile, stdout.split(`${src.dir}/`).join(`${dst.dir}/`));
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', join(dst.imagesDir, `${IMAGE}.qcow2`), '-F', 'qcow2', join(dst.volumesDir, rootVolumeName(spec)), '20G']);
    await writeSeedIso(join(dst.volumesDir, seedVolumeName(spec)), { instanceId: spec.id, hostname: spec.name });
    const sock = (s: string) => `unix://${join(dst.migrationDir, `${spec.id}.${s}.sock`)}`;
    await run('virsh', [
      '-c', from.daemon.uri, 'migrate', '--live', '--p2p', '--persistent', '--undefinesource', '--auto-converge', '--copy-storage-inc',
      '--migrate-disks', 'vda', '--disks-uri', sock('disks'), '--migrateuri', sock('mig'), '--xml', xmlFile, spec.name, to.daemon.uri,
    ]);
    const ms = performance.now() - t;
    const info = (await run('virsh', ['-c', to.daemon.uri, 'domjobinfo', '--completed', spec.name])).stdout;
    const downtimeMs = Number(/Total downtime:\s+(\d+)/.exec(info)?.[1] ?? Number.NaN);
    for (const s of ['disks', 'mig']) rmSync(sock(s).slice('unix://'.length), { force: true });
    await refreshPool(to.hv.connection, VOLUMES_POOL);
    return { ms, downtimeMs };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The whole real-guest part; `progress` gets one line per step. */
export async function benchGuests(opts: { rounds: number; migrationRounds: number; progress: (line: string) => void }): Promise<{ rows: GuestRow[]; accelerator: string }> {
  await PrivateDaemon.stopOrphans();
  const buildDir = mkdtempSync(join(tmpdir(), 'bench-guests-image-'));
  const hosts: Host[] = [];
  try {
    const built = await buildGuestImage(buildDir);
    const images = [{ name: IMAGE, disk: built.disk, boot: built }];
    for (let i = 0; i < 2; i++) {
      const daemon = await PrivateDaemon.start({ images });
      hosts.push({ daemon, hv: await LibvirtHypervisor.open(daemon.uri) });
    }
    const [a, b] = hosts as [Host, Host];
    const rows: GuestRow[] = [];
    opts.progress('boot to first console line');
    rows.push(await bootToFirstLine(a, opts.rounds));
    opts.progress('create to running through OCCI');
    rows.push(await createToRunning(a, opts.rounds));
    for (const memoryMiB of [128, 512]) {
      opts.progress(`live migration, ${memoryMiB} MiB`);
      rows.push(await migration(a, b, memoryMiB, opts.migrationRounds));
    }
    return { rows, accelerator: a.hv.accelerator?.reason ?? a.hv.domainType };
  } finally {
    for (const h of hosts) {
      await h.hv.close();
      await h.daemon.stop();
    }
    rmSync(buildDir, { recursive: true, force: true });
  }
}
