/**
 * A cluster of node processes on loopback, as a library (`npm run cluster`, the process tests and
 * bench:cluster use it). It starts a DHT testnet bound to 127.0.0.1 (nothing reaches public
 * bootstrap nodes) and n node processes, each with its own data directory, HTTP port and
 * hypervisor host; with an RTT matrix and sites, node i sits at site i (round-robin) and every
 * mesh message is delayed by half the RTT between the two sites. With a simulated hypervisor each
 * node reads its domains' loads from `<data dir>/<node>/loads.json` (src/hypervisor/README.md).
 * With `hypervisor: 'qemu'` each node drives real guests on a libvirt daemon of its own, in its
 * own namespaces (src/hypervisor/libvirt/private-daemon.ts), with the small guest image built once
 * for all of them; `close()` stops the daemons and their guests with the nodes.
 *
 * @example
 *   const cluster = await LocalCluster.start({ nodes: 5, sites: ['FR', 'DE'], rtt, hypervisor: 'sim:///?cores=2' });
 *   await cluster.waitForMembership();
 *   await cluster.kill(2, 'SIGKILL'); await cluster.restart(2);
 *   await cluster.close();
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SIM_EVENT_LOG_ENV } from '../hypervisor/simulated/event-log.js';
import { FAULT_FILE_ENV } from './fault-hooks.js';
import { ClusterNode, type LogLine } from './cluster-node.js';
import createTestnet, { type Testnet } from 'hyperdht/testnet.js';
import { publicJwk } from '../http/auth/token.js';
import { readIssuerKey, writeIssuerKey } from '../http/auth/token-keys.js';
import { buildGuestImage } from '../hypervisor/images/build.js';
import { PrivateDaemon } from '../hypervisor/libvirt/private-daemon.js';

export const DEFAULT_BASE_PORT = 8081;
/** `--hypervisor qemu`: every node its own libvirt daemon, real guests. */
export const QEMU_HOSTS = 'qemu';
/** The name of the guest image in every node's catalogue (its os_tpl term). */
export const CLUSTER_IMAGE = 'busybox';
const STOP_GRACE_MS = 5000;
const DEFAULT_START_TIMEOUT_MS = 120_000;
const DEFAULT_MEMBERSHIP_TIMEOUT_MS = 60_000;
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NODE_CLI = join(ROOT, 'src', 'cli', 'node.ts');

/** A domain's load in the simulated driver's load file: cpu in % of one core, mem in MiB. */
export type DomainLoads = Record<string, { cpu: number; mem?: number }>;

export interface LocalClusterOptions {
  nodes: number;
  /** Site of node i: sites[i % sites.length] (ids of the RTT matrix when `rtt` is given). */
  sites?: readonly string[];
  /** RTT matrix (CSV) for delay injection between the nodes' sites. */
  rtt?: string;
  /** HTTP port of the first node, then consecutive; 0 (default): ephemeral, kept across restarts. */
  basePort?: number;
  /** Root of the nodes' data directories (default: a fresh temporary directory, removed by close). */
  dataRoot?: string;
  /** The cluster secret: handed to the nodes in a file of mode 0600 (`--cluster-secret-file`), never on their command lines. */
  secret?: string;
  /**
   * Hypervisor of every node: a libvirt URI, `qemu` (each node its own libvirt daemon), or `sim` /
   * `sim:///?cores=N&memoryMiB=M&…` (each node then reads its domains' loads from its load file).
   * Default: each node its own libvirt test:///default.
   */
  hypervisor?: string;
  /** Simulated hosts: one load file per node (default), or one shared by all (a load follows its domain). */
  loads?: 'per-node' | 'shared';
  /** Host capacity the scheduler may fill (`--capacity`). */
  capacity?: { cores: number; memoryMiB: number };
  /** `--auth` of every node (default: the node's own default, token). */
  auth?: 'none' | 'token';
  /** More arguments for every node's CLI. */
  nodeArgs?: readonly string[];
  logLevel?: string;
  /** Every JSON log line of every node (the node's own stdout). */
  onLine?: (node: ClusterNode, line: LogLine) => void;
  /** Anything else a node writes (stderr, non-JSON stdout). */
  onOutput?: (node: ClusterNode, text: string) => void;
  startTimeoutMs?: number;
  /**
   * Fault injection (src/cli/fault-hooks.ts): every node reads its faults from `<data>/faults.json`
   * (`setFaults`) and, on simulated hosts, logs its domains' state changes to `<data>/sim-events.jsonl`.
   */
  faults?: boolean;
}

export class LocalCluster {
  readonly nodes: ClusterNode[] = [];
  readonly secret: string;
  readonly dataRoot: string;
  /** The load file every node reads, with `loads: 'shared'`. */
  readonly sharedLoadFile: string | undefined;
  private readonly ownsDataRoot: boolean;
  private readonly sharedLoads: DomainLoads = {};
  private closing: Promise<void> | undefined;

  private constructor(
    readonly testnet: Testnet,
    private readonly opts: LocalClusterOptions,
  ) {
    this.secret = opts.secret ?? randomBytes(16).toString('hex');
    this.ownsDataRoot = opts.dataRoot === undefined;
    this.dataRoot = resolve(opts.dataRoot ?? mkdtempSync(join(tmpdir(), 'discovery-cluster-')));
    mkdirSync(this.dataRoot, { recursive: true, mode: 0o700 });
    writeFileSync(this.secretFile, this.secret, { mode: 0o600 });
    // node-1 issues tokens with the cluster's issuer key; every node trusts its public key.
    const issuer = existsSync(this.issuerKeyFile) ? readIssuerKey(this.issuerKeyFile) : writeIssuerKey(this.issuerKeyFile);
    writeFileSync(this.tokenKeysFile, JSON.stringify({ keys: [publicJwk(issuer.publicKey)] }), { mode: 0o600 });
    const simulated = isSimulated(opts.hypervisor);
    this.sharedLoadFile = simulated && opts.loads === 'shared' ? join(this.dataRoot, 'loads.json') : undefined;
    if (this.sharedLoadFile) writeLoadFile(this.sharedLoadFile, {});
    const basePort = opts.basePort ?? 0;
    for (let i = 0; i < opts.nodes; i++) {
      const name = `node-${i + 1}`;
      const dataDir = join(this.dataRoot, name);
      mkdirSync(dataDir, { recursive: true });
      const site = opts.sites && opts.sites.length > 0 ? opts.sites[i % opts.sites.length] : undefined;
      const loadFile = simulated ? (this.sharedLoadFile ?? join(dataDir, 'loads.json')) : undefined;
      if (loadFile && !this.sharedLoadFile) writeLoadFile(loadFile, {});
      this.nodes.push(new ClusterNode(i, name, site, dataDir, loadFile, basePort === 0 ? 0 : basePort + i));
    }
  }

  /** Starts the testnet and every node; resolves once each node listens (see `waitForMembership`). */
  static async start(opts: LocalClusterOptions): Promise<LocalCluster> {
    const testnet = await createTestnet(3, { host: '127.0.0.1' });
    const cluster = new LocalCluster(testnet, opts);
    try {
      if (opts.hypervisor === QEMU_HOSTS) await cluster.startDaemons();
      await Promise.all(cluster.nodes.map((n) => cluster.spawnNode(n)));
    } catch (err) {
      await cluster.close();
      throw err;
    }
    return cluster;
  }

  /** The cluster secret's file (0600), which every node reads. */
  get secretFile(): string {
    return join(this.dataRoot, 'cluster-secret');
  }

  /** The private key node-1 signs tokens with (`--issuer-key`), and the JWKS every node trusts (`--token-keys`). */
  get issuerKeyFile(): string {
    return join(this.dataRoot, 'issuer.jwk');
  }

  get tokenKeysFile(): string {
    return join(this.dataRoot, 'token-keys.json');
  }

  get bootstrap(): string {
    return this.testnet.bootstrap.map((b) => `${b.host}:${b.port}`).join(',');
  }

  node(nameOrSite: string): ClusterNode {
    const n = this.nodes.find((x) => x.name === nameOrSite || x.site === nameOrSite);
    if (!n) throw new Error(`no node named or at site ${nameOrSite}`);
    return n;
  }

  /** Resolves once every live node sees every other live node as a member. */
  async waitForMembership(timeoutMs = DEFAULT_MEMBERSHIP_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const live = this.nodes.filter((n) => n.alive);
      const complete = live.every((n) => live.every((m) => m === n || n.members.has(m.name)) && n.members.size === live.length - 1);
      if (complete) return;
      if (Date.now() > deadline) {
        const views = live.map((n) => `${n.name}: ${[...n.members].sort().join(',')}`).join('; ');
        throw new Error(`membership incomplete after ${timeoutMs} ms (${views})`);
      }
      await sleep(100);
    }
  }

  /** Sends a signal to node i and resolves once its process exited. */
  async kill(i: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const node = this.nodes[i]!;
    const proc = node.proc;
    if (!proc || !node.alive) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    const hard = signal === 'SIGKILL' ? undefined : setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
    proc.kill(signal);
    await exited;
    clearTimeout(hard);
  }

  /** Freezes node i's process (SIGSTOP) or lets it run again (SIGCONT). */
  freeze(i: number, frozen: boolean): void {
    const node = this.nodes[i]!;
    if (node.alive) node.proc!.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
  }

  /** Sets the faults node i reads (with the cluster's `faults` option): members split from it, its wall clock's skew. */
  setFaults(i: number, faults: { unreachable?: string[]; clockSkewMs?: number }): void {
    const file = this.nodes[i]!.faultFile;
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ unreachable: faults.unreachable ?? [], clockSkewMs: faults.clockSkewMs ?? 0 }));
    renameSync(tmp, file);
  }

  /** Starts node i again with its data directory and HTTP port; resolves once it listens. */
  async restart(i: number): Promise<ClusterNode> {
    const node = this.nodes[i]!;
    if (node.alive) throw new Error(`${node.name} is running`);
    node.members.clear();
    await this.spawnNode(node);
    return node;
  }

  /**
   * Sets the loads of simulated domains: in node i's load file (per-node loads), or in the shared
   * file (i ignored), merged with the loads set before. `null` removes a domain's entry.
   */
  setLoads(i: number, loads: Record<string, { cpu: number; mem?: number } | null>): void {
    const file = this.sharedLoadFile ?? this.nodes[i]?.loadFile;
    if (!file) throw new Error('the nodes do not run simulated hosts');
    const current = this.sharedLoadFile ? this.sharedLoads : (this.perNodeLoads[i] ??= {});
    for (const [id, load] of Object.entries(loads)) {
      if (load === null) delete current[id];
      else current[id] = load;
    }
    writeLoadFile(file, current);
  }

  private readonly perNodeLoads: DomainLoads[] = [];

  /** Stops every node (SIGTERM, then SIGKILL after a grace period) and the testnet. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled(this.nodes.map((_, i) => this.kill(i, 'SIGTERM')));
      await Promise.allSettled(this.nodes.map((n) => n.daemon?.stop()));
      await this.testnet.destroy();
      if (this.ownsDataRoot) rmSync(this.dataRoot, { recursive: true, force: true });
    })();
    return this.closing;
  }

  /** One libvirt daemon per node, each with the guest image (built once) in its catalogue. */
  private async startDaemons(): Promise<void> {
    const buildDir = mkdtempSync(join(tmpdir(), 'discovery-cluster-image-'));
    try {
      const built = await buildGuestImage(buildDir);
      const images = [{ name: CLUSTER_IMAGE, disk: built.disk, boot: built }];
      await Promise.all(this.nodes.map(async (n) => (n.daemon = await PrivateDaemon.start({ images }))));
    } finally {
      rmSync(buildDir, { recursive: true, force: true });
    }
  }

  private args(node: ClusterNode): string[] {
    const o = this.opts;
    const args = ['--port', String(node.port), '--data-dir', node.dataDir, '--name', node.name, '--cluster-secret-file', this.secretFile, '--bootstrap', this.bootstrap];
    args.push('--token-keys', this.tokenKeysFile, ...(node.index === 0 ? ['--issuer-key', this.issuerKeyFile] : []));
    args.push('--log-level', o.logLevel ?? 'info');
    if (node.site) args.push('--site', node.site);
    if (o.rtt && node.site) args.push('--rtt', resolve(o.rtt));
    if (node.daemon) args.push('--hypervisor', node.daemon.uri);
    else if (o.hypervisor) args.push('--hypervisor', node.loadFile ? withLoadFile(o.hypervisor, node.loadFile) : o.hypervisor);
    if (o.capacity) args.push('--capacity', `${o.capacity.cores},${o.capacity.memoryMiB}`);
    if (o.auth) args.push('--auth', o.auth);
    args.push(...(o.nodeArgs ?? []));
    return args;
  }

  private spawnNode(node: ClusterNode): Promise<void> {
    // Each node is its own process: with libvirt's test driver, each manages its own host.
    const env = this.opts.faults ? { ...process.env, [FAULT_FILE_ENV]: node.faultFile, ...(node.loadFile ? { [SIM_EVENT_LOG_ENV]: node.eventLog } : {}) } : process.env;
    const proc = spawn(process.execPath, ['--import', 'tsx', NODE_CLI, ...this.args(node)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
    node.proc = proc;
    node.url = '';
    createInterface({ input: proc.stdout! }).on('line', (raw) => {
      let line: LogLine;
      try {
        line = JSON.parse(raw) as LogLine;
      } catch {
        const token = /^Admin token[^:]*: (\S+)/.exec(raw);
        if (token) node.adminToken = token[1];
        this.opts.onOutput?.(node, `${raw}\n`);
        return;
      }
      node.receive(line);
      this.opts.onLine?.(node, line);
    });
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
      this.opts.onOutput?.(node, d.toString());
    });
    const timeoutMs = this.opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    return new Promise<void>((resolveStart, reject) => {
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        clearTimeout(timer);
        reject(new Error(`${node.name} exited (${signal ?? code}) before listening: ${stderr}`));
      };
      const timer = setTimeout(() => {
        proc.off('exit', onExit);
        proc.kill('SIGKILL');
        reject(new Error(`${node.name} did not listen within ${timeoutMs} ms: ${stderr}`));
      }, timeoutMs);
      proc.once('exit', onExit);
      node.waitForLine((l) => l.msg === 'OCCI node listening', timeoutMs, node.mark()).then(
        () => {
          clearTimeout(timer);
          proc.off('exit', onExit);
          resolveStart();
        },
        () => undefined,
      );
    });
  }
}

export function isSimulated(hypervisor: string | undefined): boolean {
  return hypervisor === 'sim' || (hypervisor?.startsWith('sim:') ?? false);
}

/** The simulated host URI with `loadFile` set (unless it names one already). */
export function withLoadFile(uri: string, loadFile: string): string {
  const url = new URL(uri === 'sim' ? 'sim:///' : uri);
  if (!url.searchParams.has('loadFile')) url.searchParams.set('loadFile', loadFile);
  return url.toString();
}

/** Written atomically (temporary file, then rename), as the driver's README asks. */
export function writeLoadFile(path: string, loads: DomainLoads): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(loads), { mode: 0o600 });
  renameSync(tmp, path);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
