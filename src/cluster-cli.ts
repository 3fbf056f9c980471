/**
 * Local cluster on loopback:
 *   npm run cluster -- --nodes <n> [--base-port 8081] [--rtt <matrix.csv> --sites a,b,c] [--data <dir>]
 * Starts a DHT testnet bound to 127.0.0.1 (nothing reaches public bootstrap
 * nodes) and n node processes, each with its own data directory and HTTP
 * port; with --rtt/--sites, node i sits at site i (round-robin) and every
 * mesh message is delayed by half the RTT between the two sites. Prints a
 * table of the nodes (refreshed as coordinates settle) on stdout; Ctrl-C or
 * SIGTERM stops them all.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import createTestnet from 'hyperdht/testnet.js';
import { loadRttMatrix, parseSites } from './mesh/rtt-matrix.js';

const DEFAULT_BASE_PORT = 8081;
const STOP_GRACE_MS = 5000;
const NODE_CLI = join(dirname(fileURLToPath(import.meta.url)), 'cli.ts');

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

const opts = new Command()
  .name('cluster')
  .requiredOption('--nodes <n>', 'number of nodes', positiveInt)
  .option('--base-port <p>', 'HTTP port of the first node (then consecutive)', positiveInt, DEFAULT_BASE_PORT)
  .option('--rtt <csv>', 'RTT matrix for delay injection')
  .option('--sites <ids>', 'comma-separated site ids of the matrix, assigned to nodes in order')
  .option('--data <dir>', 'root of the nodes\' data directories')
  .option('--secret <s>', 'cluster secret (default: random)')
  .option('--hypervisor <uri>', 'hypervisor of every node: a libvirt URI or sim (default: each node its own libvirt test:///default host)')
  .parse()
  .opts<{ nodes: number; basePort: number; rtt?: string; sites?: string; data?: string; secret?: string; hypervisor?: string }>();

if ((opts.rtt === undefined) !== (opts.sites === undefined)) {
  process.stderr.write('cluster: --rtt and --sites go together\n');
  process.exit(2);
}
const sites = opts.rtt && opts.sites ? parseSites(loadRttMatrix(opts.rtt), opts.sites) : [];
const dataRoot = resolve(opts.data ?? join(tmpdir(), `discovery-cluster-${process.pid}`));
const secret = opts.secret ?? randomBytes(16).toString('hex');

const testnet = await createTestnet(3, { host: '127.0.0.1' });
process.stderr.write(`cluster: testnet on 127.0.0.1:${testnet.bootstrap[0]!.port}, data in ${dataRoot}\n`);

interface Row {
  name: string;
  site: string;
  url: string;
  key: string;
  members: number;
  coordinate: string;
  proc: ChildProcess;
}
const rows: Row[] = [];
for (let i = 0; i < opts.nodes; i++) {
  const name = `node-${i + 1}`;
  const dataDir = join(dataRoot, name);
  mkdirSync(dataDir, { recursive: true });
  const site = sites.length > 0 ? sites[i % sites.length]! : '';
  const url = `http://127.0.0.1:${opts.basePort + i}`;
  const bootstrap = testnet.bootstrap.map((b) => `${b.host}:${b.port}`).join(',');
  const args = ['--port', String(opts.basePort + i), '--data-dir', dataDir, '--name', name, '--cluster-secret', secret, '--bootstrap', bootstrap];
  if (site) args.push('--site', site);
  if (opts.rtt && site) args.push('--rtt', resolve(opts.rtt));
  if (opts.hypervisor) args.push('--hypervisor', opts.hypervisor);
  // Each node is its own process: with libvirt's test driver, each manages its own host.
  const proc = spawn(process.execPath, ['--import', 'tsx', NODE_CLI, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const row: Row = { name, site: site || '-', url, key: '', members: 0, coordinate: '-', proc };
  rows.push(row);
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    // The node's own JSON log lines: 'OCCI node listening' carries its mesh key, 'mesh status' the rest.
    let msg: { msg?: string; mesh?: string; members?: number; coordinate?: number[] | null; level?: number };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      return;
    }
    if ((msg.level ?? 0) >= 50) process.stderr.write(`cluster: ${name}: ${line}\n`);
    if (msg.mesh) row.key = msg.mesh;
    if (typeof msg.members === 'number') row.members = msg.members;
    if (msg.coordinate) row.coordinate = msg.coordinate.map((x) => x.toFixed(1)).join(', ');
    scheduleTable();
  });
  proc.on('exit', (code, signal) => {
    process.stderr.write(`cluster: ${name} exited (${signal ?? code})\n`);
  });
}

let tableTimer: NodeJS.Timeout | null = null;
function scheduleTable(): void {
  tableTimer ??= setTimeout(() => {
    tableTimer = null;
    printTable();
  }, 500);
}
function printTable(): void {
  const head = ['name', 'site', 'url', 'key', 'members', 'coordinate (components…, height) ms'];
  const body = rows.map((r) => [r.name, r.site, r.url, r.key.slice(0, 16), String(r.members), r.coordinate]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const fmt = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  process.stdout.write(`\n${fmt(head)}\n${body.map(fmt).join('\n')}\n`);
}

let stopping = false;
async function stopAll(): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stderr.write('cluster: stopping\n');
  await Promise.all(
    rows.map(
      (r) =>
        new Promise<void>((resolveStop) => {
          if (r.proc.exitCode !== null || r.proc.signalCode !== null) return resolveStop();
          const t = setTimeout(() => r.proc.kill('SIGKILL'), STOP_GRACE_MS);
          r.proc.once('exit', () => {
            clearTimeout(t);
            resolveStop();
          });
          r.proc.kill('SIGTERM');
        }),
    ),
  );
  if (tableTimer) clearTimeout(tableTimer);
  await testnet.destroy();
  process.exit(0);
}
process.on('SIGINT', () => void stopAll());
process.on('SIGTERM', () => void stopAll());
