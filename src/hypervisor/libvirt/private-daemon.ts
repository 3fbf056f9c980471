/**
 * A libvirt daemon of its own on this machine, as if it were another host: libvirtd and virtlogd
 * in their own mount and network namespaces (`unshare --mount --net`), with private directories
 * mounted over /run, /var/lib/libvirt, /var/log/libvirt, /var/cache/libvirt and /etc/libvirt (a
 * copy of the host's configuration without its domains, networks and pools). It answers at
 * `qemu+unix:///system?socket=<root>/run/libvirt/libvirt-sock`; its host directory (images,
 * volumes, consoles, migration sockets) is `<root>/host`, a path that means the same inside and
 * out, so two such daemons migrate guests between them over UNIX sockets. Its guests' networks
 * live in its network namespace: their traffic never leaves it.
 *
 * `stop()` ends every process in its namespaces (the daemons, dnsmasq, the guests' qemu), which
 * takes its mounts with them, then removes its directory: nothing is left behind.
 *
 * @example
 *   const b = await PrivateDaemon.start();
 *   const hv = await LibvirtHypervisor.open(b.uri);
 *   …
 *   await hv.close(); await b.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addToCatalogue, type NewImage } from '../images/catalogue.js';
import { LibvirtConnection } from './connection.js';
import { IMAGES_POOL, openHostLayout, refreshPool } from './host-layout.js';

const ROOT_PREFIX = 'discovery-libvirt-';
const DEFAULT_START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5000;
const POLL_MS = 100;
/** Directories of the host's libvirt the daemon gets its own copy of, mounted over them. */
const PRIVATE_DIRS: ReadonlyArray<[string, string]> = [
  ['run', '/run'],
  ['lib', '/var/lib/libvirt'],
  ['log', '/var/log/libvirt'],
  ['cache', '/var/cache/libvirt'],
  ['etc', '/etc/libvirt'],
];
/** The parts of /etc/libvirt that define the host's own domains, networks and pools. */
const HOST_DEFINITIONS = ['qemu', 'storage', 'nwfilter-bindings'];

export interface PrivateDaemonOptions {
  /** Parent of the daemon's directory (default: the system's temporary directory). */
  parentDir?: string;
  startTimeoutMs?: number;
  /** Images its catalogue starts with (copied in). */
  images?: NewImage[];
}

export class PrivateDaemon {
  readonly root: string;
  readonly uri: string;
  /** The host directory (host-layout.ts) of the daemon. */
  readonly hostDir: string;
  readonly #unshare: ChildProcess;
  #stopping: Promise<void> | undefined;

  private constructor(root: string, unshare: ChildProcess) {
    this.root = root;
    this.hostDir = join(root, 'host');
    this.uri = `qemu+unix:///system?socket=${join(root, 'run', 'libvirt', 'libvirt-sock')}`;
    this.#unshare = unshare;
  }

  /** Starts the daemon and gives it its host directory (and images); resolves once it answers. */
  static async start(opts: PrivateDaemonOptions = {}): Promise<PrivateDaemon> {
    const root = mkdtempSync(join(opts.parentDir ?? tmpdir(), ROOT_PREFIX));
    prepareRoot(root);
    const unshare = spawn('unshare', ['--mount', '--net', '--fork', '--kill-child', '--', 'sh', join(root, 'start.sh')], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    writeFileSync(join(root, 'owner.pid'), String(process.pid));
    if (unshare.pid !== undefined) writeFileSync(join(root, 'daemon.pid'), String(unshare.pid));
    const daemon = new PrivateDaemon(root, unshare);
    try {
      await daemon.#waitUntilAnswering(opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
      const connection = await LibvirtConnection.open(daemon.uri, { callMode: 'async' });
      try {
        const layout = await openHostLayout(connection, daemon.hostDir);
        for (const image of opts.images ?? []) await addToCatalogue(layout.imagesDir, image);
        await refreshPool(connection, IMAGES_POOL);
      } finally {
        await connection.close();
      }
    } catch (err) {
      await daemon.stop();
      throw err;
    }
    return daemon;
  }

  /**
   * Stops the daemons started by processes that are gone (a test run that was killed): every
   * `discovery-libvirt-*` directory of `parentDir` whose owner process no longer runs.
   */
  static async stopOrphans(parentDir: string = tmpdir()): Promise<number> {
    let stopped = 0;
    for (const name of readdirSync(parentDir).filter((n) => n.startsWith(ROOT_PREFIX))) {
      const root = join(parentDir, name);
      const owner = readPid(join(root, 'owner.pid'));
      if (owner !== undefined && alive(owner)) continue;
      const pid = readPid(join(root, 'daemon.pid'));
      if (pid !== undefined) await endNamespace(pid);
      rmSync(root, { recursive: true, force: true });
      stopped += 1;
    }
    return stopped;
  }

  /** Ends every process of the daemon's namespaces and removes its directory. Safe to call twice. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      if (this.#unshare.pid !== undefined) await endNamespace(this.#unshare.pid);
      rmSync(this.root, { recursive: true, force: true });
    })();
    return this.#stopping;
  }

  async #waitUntilAnswering(timeoutMs: number): Promise<void> {
    const socket = join(this.root, 'run', 'libvirt', 'libvirt-sock');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.#unshare.exitCode !== null) throw new Error(`the private libvirt daemon exited (${this.#unshare.exitCode}): ${readLog(this.root)}`);
      if (existsSync(socket)) {
        const answered = await LibvirtConnection.open(this.uri, { callMode: 'async' }).then((c) => c.close().then(() => true), () => false);
        if (answered) return;
      }
      if (Date.now() > deadline) throw new Error(`the private libvirt daemon did not answer within ${timeoutMs} ms: ${readLog(this.root)}`);
      await sleep(POLL_MS);
    }
  }
}

/** The daemon's directories, its configuration (the host's, less what the host defines) and its start script. */
function prepareRoot(root: string): void {
  // qemu runs as its own user: it must reach the volumes, consoles and sockets under the root.
  chmodSync(root, 0o755);
  for (const [dir] of PRIVATE_DIRS) mkdirSync(join(root, dir), { recursive: true });
  mkdirSync(join(root, 'host'));
  cpSync('/etc/libvirt', join(root, 'etc'), { recursive: true });
  for (const dir of HOST_DEFINITIONS) rmSync(join(root, 'etc', dir), { recursive: true, force: true });
  mkdirSync(join(root, 'etc', 'qemu', 'networks'), { recursive: true });
  mkdirSync(join(root, 'etc', 'storage'));
  // Guests of two daemons may share a name and a number for a while (during a migration): no cgroups of their own, so no clash there.
  appendFileSync(join(root, 'etc', 'qemu.conf'), '\ncgroup_controllers = [ ]\n');
  const mounts = PRIVATE_DIRS.map(([dir, over]) => `mount --bind ${join(root, dir)} ${over}`).join('\n');
  writeFileSync(
    join(root, 'start.sh'),
    `set -e\nmount --make-rprivate /\n${mounts}\nip link set lo up\nvirtlogd -d\nexec libvirtd > ${join(root, 'libvirtd.log')} 2>&1\n`,
  );
}

/** Ends the processes in the mount or network namespace of `pid` (itself included): TERM, then KILL after a grace period. */
async function endNamespace(pid: number): Promise<void> {
  let mnt: string;
  let net: string;
  try {
    mnt = readlinkSync(`/proc/${pid}/ns/mnt`);
    net = readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return; // already gone
  }
  // A pid reused by a process of this host's namespaces is not the daemon's: end nothing.
  if (mnt === readlinkSync('/proc/self/ns/mnt') || net === readlinkSync('/proc/self/ns/net')) return;
  // libvirt runs each QEMU in a mount namespace of its own, inside the daemon's network namespace.
  const members = (): number[] =>
    readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .map(Number)
      .filter((p) => {
        try {
          return readlinkSync(`/proc/${p}/ns/mnt`) === mnt || readlinkSync(`/proc/${p}/ns/net`) === net;
        } catch {
          return false;
        }
      });
  for (const p of members()) signal(p, 'SIGTERM');
  let deadline = Date.now() + STOP_GRACE_MS;
  while (members().length > 0 && Date.now() < deadline) await sleep(POLL_MS);
  for (const p of members()) signal(p, 'SIGKILL');
  deadline = Date.now() + STOP_GRACE_MS;
  while (members().length > 0) {
    if (Date.now() > deadline) throw new Error(`processes ${members().join(', ')} of a private libvirt daemon survived SIGKILL`);
    await sleep(POLL_MS);
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone meanwhile
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readPid(file: string): number | undefined {
  try {
    return Number(readFileSync(file, 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

function readLog(root: string): string {
  try {
    return readFileSync(join(root, 'libvirtd.log'), 'utf8').slice(-2000);
  } catch {
    return '(no log)';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
